"""skvae train, report and sample, and what they share."""

import contextlib
import os
import sys
import time
from pathlib import Path

from .. import __version__
from .console import EXIT_OK, UsageError


def _check_out(out):
    """The --out folder, which must be a folder or creatable, and writable."""
    out = Path(out).expanduser()
    if out.exists() and not out.is_dir():
        raise UsageError(f"--out '{out}' is a file, not a folder")
    existing = out
    while not existing.exists() and existing.parent != existing:
        existing = existing.parent
    if not existing.is_dir():
        raise UsageError(f"--out '{out}' cannot be created: '{existing}' is a file")
    if not os.access(existing, os.W_OK | os.X_OK):
        raise UsageError(f"--out '{out}' cannot be written: '{existing}' is read-only")
    return out


def _check_machine(device, threads):
    """--device and --threads, which this machine must have."""
    from ..recipes import check_device

    try:
        check_device(device)
    except ValueError as exc:
        raise UsageError(f"--device {device}: {exc}") from exc
    try:
        cpus = len(os.sched_getaffinity(0))  # the CPUs this process may use
    except AttributeError:  # not on Linux
        cpus = os.cpu_count() or 1
    if threads is not None and threads > cpus:
        raise UsageError(
            f"--threads {threads} is more than the {cpus} CPUs of this machine"
        )


def _check_report(hint=""):
    from ..report import check_available

    try:
        check_available()
    except ImportError as exc:
        raise ImportError(f"{exc}{hint}") from exc


def _load_corpus(args, console, spec=None):
    """The corpus DATA (or ``spec``) names; a missing folder is a usage error."""
    from ..datasets import load_corpus, resolve_corpus

    if spec is None:
        try:
            spec = resolve_corpus(
                args.data,
                data_home=args.data_home,
                label_from=args.label_from,
                n_speakers=args.synth_speakers,
                n_repeats=args.synth_repeats,
                random_state=args.seed,
            )
        except (FileNotFoundError, NotADirectoryError) as exc:
            raise UsageError(str(exc)) from exc
    if spec.get("kind") == "generated":
        n = spec["n_speakers"] * spec["n_repeats"] * 10
        console.info(f"generating {n:,} spoken digits with eSpeak NG (offline) ...")
    corpus = load_corpus(spec, download_if_missing=not args.offline)
    if corpus.note:
        console.info(f"note: {corpus.note}")
    console.result(f"data: {corpus.description}")
    return corpus


def _rows(features, X, *, n_jobs=1, verbose=0):
    """``features.transform(X)`` in chunks, with a progress bar on a terminal."""
    import numpy as np
    from tqdm.auto import tqdm

    from ..recipes import as_utterances, is_sequence

    features = features.set_params(n_jobs=n_jobs)
    step = 64 * max(1, n_jobs if n_jobs > 0 else (os.cpu_count() or 1))
    rows = []
    off = None if verbose else True  # None: on a terminal only
    with tqdm(total=len(X), desc="features", unit="utt", disable=off) as bar:
        for start in range(0, len(X), step):
            rows.append(features.transform(X[start : start + step]))
            bar.update(min(step, len(X) - start))
    features.set_params(n_jobs=None)
    if is_sequence(features):  # each utterance's frames, indexable by F[train]
        return as_utterances([frames for part in rows for frames in part])
    return np.vstack(rows)


def _split_and_extract(
    args, console, corpus, features, *, how, test_size, seed, refit=True
):
    """The split and every utterance's rows (``refit``: fit the front end first)."""
    from ..datasets import split_corpus

    try:
        train, test, split = split_corpus(
            corpus, how, test_size=test_size, random_state=seed
        )
    except ValueError as exc:
        if how == "auto":
            raise
        raise UsageError(str(exc)) from exc  # not a split this corpus allows
    console.result(f"split: {split['text']}")
    console.detail(f"front end: {features}")
    t = time.perf_counter()
    if refit:
        features.fit(corpus.data[train])
    F = _rows(features, corpus.data, n_jobs=args.n_jobs, verbose=console.bars)
    console.detail(f"features: {F.shape} in {time.perf_counter() - t:.1f} s")
    return train, test, split, F


@contextlib.contextmanager
def _first_generation(console):
    """Note that librosa compiles its numba kernels the first time audio is
    generated, until a marker file in the prediction cache says it was done."""
    import hashlib
    from importlib.metadata import PackageNotFoundError, version

    from ..recipes import PredictionCache

    try:
        tag = f"{version('librosa')} {sys.prefix}"
    except PackageNotFoundError:
        tag = sys.prefix
    marker = f".librosa-compiled-{hashlib.sha256(tag.encode()).hexdigest()[:16]}"
    cache = PredictionCache.default()
    if cache is None or not cache.has(marker):
        console.info(
            "note: the first audio generated with this installation makes "
            "librosa compile its numba kernels (about 20-30 s, only once)"
        )
    yield
    if cache is not None:  # not reached if generating failed: the note stays
        cache.touch(marker)


def _evaluate(args, console, bundle, corpus, F, train, test, seed):
    from ..evaluation import evaluate_recognizer

    with _first_generation(console):
        return evaluate_recognizer(
            bundle,
            F,
            corpus.target,
            train,
            test,
            speaker=corpus.speaker,
            audio=corpus.data,
            random_state=seed,
            n_check=args.n_check,
            verbose=console.bars,
        )


def _speakers(corpus, rows):
    """The speakers of ``rows``, or None when the corpus does not name at
    least 2 of them."""
    import numpy as np

    if corpus.speaker is None:
        return None
    speakers = np.asarray(corpus.speaker, dtype=object)[rows]
    return speakers if len(set(speakers.tolist())) >= 2 else None


def _print_summary(console, evaluation, split, speaker_eval):
    from ..evaluation import format_summary

    console.result("\n".join(format_summary(evaluation, split, speaker_eval)))


def _write_report(args, folder, bundle, corpus, evaluation, split):
    from ..report import write_recognizer_report

    n, command = args.report_samples, args.command_line
    write_recognizer_report(
        folder, bundle, corpus, evaluation, split, n_wavs=n, command=command
    )


def load_model(load, model, **kwargs):
    """``load(model, **kwargs)``; a MODEL that names nothing is a usage error."""
    try:
        return load(model, **kwargs)
    except FileNotFoundError as exc:
        raise UsageError(str(exc)) from exc


def _load_generator(args):
    from ..recipes import load_recognizer

    return load_model(load_recognizer, args.model, require_generator=True)


def _recognizer_default(name):
    """The default of a parameter of make_recognizer (what the CLI's default is)."""
    import inspect

    from ..recipes import make_recognizer

    return inspect.signature(make_recognizer).parameters[name].default


def cmd_train(args, console):
    from .. import recipes, save
    from ..evaluation import generated_rate, speaker_held_out
    from .staging import staged_folder

    start = time.perf_counter()
    out = _check_out(args.out)
    _check_machine(args.device, args.threads)
    if args.report:
        _check_report(" (or pass --no-report)")
    corpus = _load_corpus(args, console)
    params = {
        "n_components": args.n_components,
        "n_mels": args.n_mels,
        "n_frames": args.n_frames,
        "max_iter": args.max_iter,
        "random_state": args.seed,
        "device": args.device,
        "n_threads": args.threads,
    }
    # given: passed on; not given: make_recognizer's defaults
    given = {"vae": args.vae, "cmvn": args.cmvn, "head": args.head}
    params.update(
        {k: None if v == "none" else v for k, v in given.items() if v is not None}
    )
    # "auto" resolved once, so every fit of this run (the speaker-held-out
    # check too, which has no reject option) gets the same front end and VAE
    params["vae"], params["cmvn"] = recipes.resolve_auto(
        params.get("vae", _recognizer_default("vae")),
        params.get("cmvn", _recognizer_default("cmvn")),
        args.reject,
    )
    # --quick and a generated corpus: no generated voices saying the labels
    # (the generated corpus's test voices are eSpeak NG voices too); the
    # reject option still gets its filler class (other words)
    plain = "filler" if args.reject else "none"
    augment = args.augment or (plain if args.quick else None)
    if augment is None and corpus.spec.get("kind") == "generated":
        augment = plain
        console.detail("no generated training voices: the corpus is generated")
    if augment is not None:
        params["augment"] = None if augment == "none" else augment
    params["augment"] = recipes.resolve_augment(
        params.get("augment", _recognizer_default("augment")), args.reject
    )
    if args.reject and "perturb" in (params["augment"] or ""):
        raise UsageError(
            "--reject cannot be combined with --augment perturb (its threshold "
            "would be set on perturbed copies of training utterances)"
        )
    if not args.reject and "filler" in (params["augment"] or ""):
        raise UsageError(
            "--augment filler is the filler class of --reject: add --reject"
        )
    vae = params["vae"]
    if args.reject and vae is None:
        raise UsageError("--reject needs a VAE step: leave out --vae none")
    if args.weights and vae is None:
        raise UsageError(
            "--weights saves the VAE step, and --vae none has none: leave out "
            "--weights (or --vae none)"
        )
    weights = vae is not None if args.weights is None else args.weights
    reject = {}
    if args.reject:
        reject = {"reject": True, "target_false_rejection": args.false_rejection}
    features = recipes.make_recognizer(**params, **reject)["features"]
    train, test, split, F = _split_and_extract(
        args,
        console,
        corpus,
        features,
        how=args.split,
        test_size=args.test_size,
        seed=args.seed,
    )
    y = corpus.target
    bundle = recipes.train_recognizer(
        F[train],
        y[train],
        features=features,
        durations=corpus.duration[train],
        # augmentation, and the generator's plain log-mel rows with cmvn
        audio=corpus.data[train],
        # the reject option's threshold is set on held-out speakers
        groups=_speakers(corpus, train) if args.reject else None,
        verbose=console.bars,
        **params,
        **reject,
    )
    console.detail(f"generator: {bundle['generator'].n_iter_} epochs")
    speaker_eval = None
    if args.speaker_eval or (args.speaker_eval is None and split["kind"] != "speaker"):
        # no reject option there: no filler class either
        speaker_eval = speaker_held_out(
            F,
            y,
            corpus.speaker,
            features=features,
            audio=corpus.data,
            verbose=console.bars,
            **{**params, "augment": recipes.without_filler(params["augment"])},
        )
    evaluation = _evaluate(args, console, bundle, corpus, F, train, test, args.seed)

    import sklearn
    import torch

    model_path = out / recipes.MODEL_FILE
    open_set = evaluation.get("open_set") or {}
    kept = ("target", "threshold", "known_kept", "accuracy_kept", "rejected")
    bundle["metadata"].update(
        data=corpus.spec,
        data_name=corpus.name,
        data_description=corpus.description,
        split=split,
        accuracy=evaluation["accuracy"],
        speaker_eval=speaker_eval,
        generated_recognised=list(generated_rate(evaluation["generated"])),
        open_set={k: open_set[k] for k in kept} if open_set else None,
        n_train=int(len(train)),
        n_test=int(len(test)),
        command=args.command_line,
        created=time.strftime("%Y-%m-%d %H:%M:%S"),
        model_file=str(model_path),
        skvae_version=__version__,
        sklearn_version=sklearn.__version__,
        torch_version=torch.__version__,
        python_version=sys.version.split()[0],
    )
    _print_summary(console, evaluation, split, speaker_eval)
    console.info("writing the model" + (" and the report ..." if args.report else ""))
    with staged_folder(out) as tmp:
        recipes.save_recognizer(bundle, tmp)
        if weights:
            model = bundle["recognizer"]["model"]
            save(getattr(model, "estimator_", model)["vae"], tmp / recipes.WEIGHTS_FILE)
        if args.report:
            _write_report(args, tmp / "report", bundle, corpus, evaluation, split)
    console.result(f"model: {model_path}")
    if not args.no_cache:
        # the first 'skvae predict' then reads neither skops nor torch
        try:
            recipes.load_predictor(model_path)
        except (OSError, ValueError) as exc:
            console.detail(f"the prediction cache was not filled: {exc}")
    if weights:
        console.result(
            f"weights: {out / recipes.WEIGHTS_FILE} (VAE only, weights-only format; "
            "load with skvae.load)"
        )
    if args.report:
        console.result(f"report: {out / 'report' / 'index.html'}")
    # an earlier run's outputs this one did not replace (kept: OUT may be anyone's)
    stale = [recipes.WEIGHTS_FILE] * (not weights) + ["report"] * (not args.report)
    for name in stale:
        if (out / name).exists():
            console.info(f"note: {out / name} is from an earlier run, not this one")
    console.result(f"done in {time.perf_counter() - start:.0f} s")
    return EXIT_OK


def cmd_report(args, console):
    from .staging import staged_folder

    start = time.perf_counter()
    _check_report()
    if args.out:
        _check_out(args.out)
    bundle = _load_generator(args)
    out = _check_out(args.out or Path(bundle["path"]).parent / "report")
    meta = bundle["metadata"]
    if args.data is None and not meta.get("data"):
        raise UsageError("this model does not record its data: give DATA")
    corpus = _load_corpus(args, console, None if args.data else meta["data"])
    recorded = meta.get("split") or {}
    seed = recorded.get("seed", args.seed)
    train, test, split, F = _split_and_extract(
        args,
        console,
        corpus,
        bundle["recognizer"]["features"],
        how=args.split if args.split != "auto" else recorded.get("kind", "auto"),
        test_size=recorded.get("test_size", args.test_size),
        seed=seed,
        refit=False,  # the model's front end, as it was fitted
    )
    evaluation = _evaluate(args, console, bundle, corpus, F, train, test, seed)
    same_data = meta.get("data") == corpus.spec
    speaker_eval = meta.get("speaker_eval") if same_data else None
    _print_summary(console, evaluation, split, speaker_eval)
    with staged_folder(out) as tmp:
        _write_report(args, tmp, bundle, corpus, evaluation, split)
    console.result(f"report: {out / 'index.html'}")
    console.detail(f"done in {time.perf_counter() - start:.0f} s")
    return EXIT_OK


def _label_of(recognizer, text):
    for c in recognizer.classes_:
        if str(c) == text:
            return c
    known = ", ".join(str(c) for c in recognizer.classes_)
    raise UsageError(f"--digit {text!r} is not a label of this model (labels: {known})")


def cmd_sample(args, console):
    import numpy as np

    from ..recipes import (
        GENERATION_TEMPERATURE,
        generate_utterances,
        write_utterances,
    )
    from .staging import staged_folder

    out = _check_out(args.out)
    bundle = _load_generator(args)
    rec = bundle["recognizer"]  # with a reject option: a rejected file is a miss
    labels = [_label_of(rec, d) for d in args.digit or []] or list(rec.classes_)
    rng = np.random.default_rng(args.seed)
    sr = rec["features"].sr
    temperature = args.temperature or GENERATION_TEMPERATURE
    names, hit = [], 0
    with staged_folder(out) as tmp, _first_generation(console):
        for label in labels:
            _, waves = generate_utterances(
                bundle, label, args.n, random_state=rng, temperature=temperature
            )
            # recognised as written: the WAV files, read back
            paths = write_utterances(waves, tmp, label, sr)
            hit += int(np.sum(rec.predict(paths) == label))
            names += [Path(p).name for p in paths]
    for name in names:
        console.result(str(out / name))
    console.info(
        f"wrote {len(names)} WAV files ({sr} Hz) to {out}; the model recognises "
        f"{hit}/{len(names)} of these files as the requested label"
    )
    return EXIT_OK
