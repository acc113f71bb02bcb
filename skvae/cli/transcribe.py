"""skvae train --task transcribe, and skvae transcribe: digit strings."""

import sys
import time

from .. import __version__
from . import commands, predict
from .commands import load_model
from .console import EXIT_FAILURE, EXIT_OK, UsageError

#: strings of each test set of ``skvae train --task transcribe``
N_TEST = 200
#: --quick: training strings of each kind, and epochs
QUICK_SIZES = {"fsdd": 150, "perturbed": 0, "noisy": 50, "espeak": 100}
QUICK_EPOCHS = 3

#: the options of 'skvae train' that only the recogniser has
_RECOGNIZER_ONLY = ("vae", "cmvn", "head", "augment", "weights", "speaker_eval")


def _check_options(args):
    given = [o for o in _RECOGNIZER_ONLY if getattr(args, o, None) is not None]
    if args.reject:
        given.insert(0, "reject")
    if given:
        flags = ", ".join("--" + o.replace("_", "-") for o in given)
        raise UsageError(f"{flags}: not an option of --task transcribe")
    if args.data not in (None, "fsdd", "generated"):
        raise UsageError(
            "--task transcribe trains on strings it makes from FSDD's digits "
            "or from eSpeak NG voices: DATA must be 'fsdd', 'generated' or "
            "nothing (a folder of recorded strings is not supported yet)"
        )


def _data_home(args, console):
    """FSDD's data home, or None for the generated corpus."""
    from ..datasets import fetch_fsdd, find_fsdd_home

    if args.data == "generated":
        return None
    home = find_fsdd_home(args.data_home)
    if home is None and args.data == "fsdd":
        fetch_fsdd(args.data_home, download_if_missing=not args.offline)
        home = find_fsdd_home(args.data_home)
    if home is None:
        console.info("FSDD is not on this machine: training on generated strings")
    return home


def _results(name, y_true, y_pred):
    from ..evaluation import transcription_scores

    return {"set": name, **transcription_scores(y_true, y_pred)}


def _test_sets(home, test_voices, seed, n):
    """(name, strings) of the held-out test sets."""
    from ..datasets import make_digit_strings

    sets = []
    common = {"lengths": (3, 10), "sr": 8000}
    if home is not None:
        fsdd = {**common, "source": "fsdd", "subset": "test", "data_home": home}
        sets.append(
            (
                "FSDD test recordings",
                make_digit_strings(n, **fsdd, random_state=seed + 1),
            )
        )
        sets.append(
            (
                "FSDD test recordings, 10 dB SNR",
                make_digit_strings(n, **fsdd, snr_db=10.0, random_state=seed + 2),
            )
        )
    espeak = {**common, "source": "espeak", "speakers": test_voices}
    sets.append(
        (
            "held-out eSpeak voices",
            make_digit_strings(n, **espeak, random_state=seed + 3),
        )
    )
    return sets


def cmd_train_transcribe(args, console):
    from .. import recipes
    from .staging import staged_folder

    start = time.perf_counter()
    _check_options(args)
    out = commands._check_out(args.out)
    commands._check_machine(args.device, args.threads)
    if args.report:
        commands._check_report(" (or pass --no-report)")
    home = _data_home(args, console)
    train_voices, test_voices = recipes.split_voices()
    sizes = QUICK_SIZES if args.quick else None
    console.info("making training strings ...")
    X, y, source, used_fsdd = recipes.training_strings(
        home,
        speakers=None if home else [],
        espeak_voices=train_voices,
        sizes=sizes,
        random_state=args.seed,
    )
    what = (
        "FSDD digits joined into strings (official training recordings) and "
        f"{len(train_voices)} eSpeak NG voices reading numbers"
        if used_fsdd
        else f"{len(train_voices)} eSpeak NG voices reading numbers (generated)"
    )
    console.result(f"data: {len(X):,} strings of 1-12 digits: {what}")
    params = {
        "random_state": args.seed,
        "device": args.device,
        "n_threads": args.threads,
        "n_mels": args.n_mels,
    }
    if args.quick or args.max_iter:
        params["max_iter"] = args.max_iter or QUICK_EPOCHS
    console.info(f"training the transcriber on {len(X):,} strings ...")
    bundle = recipes.train_transcriber(X, y, verbose=console.bars, **params)
    meta = bundle["metadata"]
    console.detail(
        f"trained in {meta['train_seconds']:.0f} s ({meta['epochs']} epochs)"
    )
    model = bundle["recognizer"]
    n_test = 20 if args.quick else N_TEST
    results, example, confusion = [], None, None
    for name, strings in _test_sets(home, test_voices, args.seed, n_test):
        pred = model.predict(list(strings.data))
        truth = [str(t) for t in strings.target]
        results.append(_results(name, truth, list(pred)))
        if confusion is None:
            confusion = {"set": name, "y_true": truth, "y_pred": list(pred)}
            example = (name, strings, pred)
    for r in results:
        console.result(
            f"{r['set']}: digit accuracy {r['digit_accuracy']:.3f}, whole strings "
            f"{r['string_accuracy']:.3f} ({r['n']} strings of 3-10 digits)"
        )
    import sklearn
    import torch

    model_path = out / recipes.MODEL_FILE
    meta.update(
        data="fsdd" if used_fsdd else "generated",
        data_description=what,
        n_train=len(X),
        test=results,
        train_voices=list(train_voices),
        test_voices=list(test_voices),
        command=args.command_line,
        created=time.strftime("%Y-%m-%d %H:%M:%S"),
        model_file=str(model_path),
        skvae_version=__version__,
        sklearn_version=sklearn.__version__,
        torch_version=torch.__version__,
        python_version=sys.version.split()[0],
    )
    console.info("writing the model" + (" and the report ..." if args.report else ""))
    with staged_folder(out) as tmp:
        recipes.save_recognizer(bundle, tmp)
        if args.report:
            _write_report(tmp / "report", bundle, results, confusion, example)
    console.result(f"model: {model_path}")
    if not args.no_cache:
        try:
            recipes.load_predictor(model_path)
        except (OSError, ValueError) as exc:
            console.detail(f"the prediction cache was not filled: {exc}")
    if args.report:
        console.result(f"report: {out / 'report' / 'index.html'}")
    console.result(f"done in {time.perf_counter() - start:.0f} s")
    return EXIT_OK


def _write_report(folder, bundle, results, confusion, example):
    import numpy as np

    from ..report import write_transcription_report

    model = bundle["recognizer"]
    meta = bundle["metadata"]
    features = model["features"]
    name, strings, pred = example
    # the first string of 6+ digits transcribed right, else the first
    right = [i for i, (t, p) in enumerate(zip(strings.target, pred)) if t == p]
    long = [i for i in right if len(strings.target[i]) >= 6] or right or [0]
    i = long[0]
    frames = features.transform([strings.data[i]])[0]
    steps = model[:-1].transform([strings.data[i]])
    alignment = model["model"].align(steps)[0]
    mel_hz = None
    if hasattr(features, "mel_basis_"):
        import librosa

        mel_hz = librosa.mel_frequencies(features.n_mels + 2, fmax=features.sr / 2)[
            1:-1
        ]
    content = {
        "title": "skvae transcriber: connected digits",
        "command": meta.get("command", ""),
        "run": [
            ("data", meta.get("data_description", "")),
            ("training strings", f"{meta.get('n_train', 0):,}"),
            ("epochs", meta.get("epochs")),
            ("training time", f"{meta.get('train_seconds', 0):.0f} s"),
            ("held-out eSpeak voices", ", ".join(meta.get("test_voices", []))),
            ("skvae", meta.get("skvae_version", "")),
        ],
        "results": results,
        "confusion": {
            **confusion,
            "symbols": [str(c) for c in model["model"].classes_],
        },
        "example": {
            "frames": np.asarray(frames),
            "alignment": alignment,
            "hop_seconds": features.hop_length_ / features.sr,
            "mel_hz": mel_hz,
            "truth": strings.target[i],
            "predicted": pred[i],
            "name": f"{name}, string {i}",
        },
        "notes": [
            "Test strings are made as the training strings are, from recordings "
            "(FSDD's official test repetitions) and eSpeak NG voices the model "
            "never heard; lengths 3-10 digits."
        ],
    }
    write_transcription_report(folder, content)


def _lines(model, paths):
    """(line, error) per path: 'PATH<TAB>DIGITS' or 'PATH<TAB>error<TAB>REASON'."""
    from ..audio import AudioReadError, load_audio

    features = model["features"]
    waves, ok = [], []
    for path in paths:
        try:
            wave, _ = load_audio(path, sr=features.sr)
        except (AudioReadError, OSError, ValueError) as exc:
            reason = str(exc).replace("\n", " ")
            ok.append((path, reason))
            continue
        waves.append(wave)
        ok.append((path, None))
    pred = iter(model.predict(waves) if waves else [])
    for path, reason in ok:
        if reason is None:
            yield f"{path}\t{next(pred)}", None
        else:
            yield f"{path}\terror\t{reason}", f"{path}: {reason}"


def cmd_transcribe(args, console):
    from ..recipes import is_transcriber, load_predictor

    streaming = "-" in args.files
    if streaming and args.files != ["-"]:
        raise UsageError("FILE '-' (paths from standard input) must come alone")
    if sys.stdout is None:
        raise OSError("standard output is closed: the results have nowhere to go")
    bundle = load_model(load_predictor, args.model, cache=not args.no_cache)
    if not is_transcriber(bundle):
        raise UsageError(
            f"{bundle['path']} recognises one word per file: use 'skvae predict', "
            "or train a transcriber with 'skvae train --task transcribe'"
        )
    model = bundle["recognizer"]
    reconfigure = getattr(sys.stdout, "reconfigure", None)
    if reconfigure is not None:
        reconfigure(errors="surrogateescape")
    n_files = n_failed = 0
    for batch in predict._stdin_paths() if streaming else [args.files]:
        if isinstance(batch[0], predict._LongLine):
            reason = f"a line longer than {predict._max_path()} bytes is not a path"
            console.error(f"{batch[0]}...: {reason}")
            console.result(f"{batch[0]}...\terror\t{reason}")
            n_files, n_failed = n_files + 1, n_failed + 1
            continue
        for line, failure in _lines(model, batch):
            if failure is not None:
                console.error(failure)
                n_failed += 1
            if failure is None or streaming:
                console.result(line)
            n_files += 1
    if n_failed:
        console.error(f"{n_failed} of {n_files} files could not be read")
        return EXIT_FAILURE
    return EXIT_OK
