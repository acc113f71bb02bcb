"""The ``skvae`` command line: train, use and inspect a speech recogniser.

Argument parsing, help, printing and exit codes only, on skvae's public API:
the corpus comes from :func:`skvae.datasets.load_corpus`, the recogniser,
the generator and the saved model from :mod:`skvae.recipes`, the figures
from :mod:`skvae.evaluation` and the page from :mod:`skvae.report`.
Importing this module is cheap: torch, librosa, scikit-learn and
matplotlib are imported by the commands that need them.

Exit codes: 0 success; 1 a failure while running (unreadable audio, data
that cannot be found or downloaded, a missing optional dependency, a model
file that cannot be loaded); 2 a bad command line, including a DATA folder
or MODEL that does not exist, an --out that cannot be written and a --device
this machine does not have; 130 interrupted by Ctrl-C (143 by SIGTERM).
Every error is reported in one line (with -v, also its traceback). Outputs
are written aside and swapped in when complete, so an interrupted or failed
command leaves its output folder as it was.
"""

import os
import signal
import sys
import threading
import time
from pathlib import Path

from .. import __version__
from . import parser

__all__ = ["__version__", "build_parser", "main"]

EXIT_OK, EXIT_FAILURE, EXIT_USAGE = 0, 1, 2
_STOP_SIGNALS = ("SIGINT", "SIGTERM")
# the generated corpus used when no DATA is given and FSDD is not available


class UsageError(Exception):
    """A bad command line: reported with the usage text, exit code 2."""


class Interrupted(BaseException):
    """Ctrl-C (SIGINT) or SIGTERM during a command: it stops, exit 128 + signal.

    Raised by the command line's signal handler. Not a ``KeyboardInterrupt``,
    which the training loop catches to keep the model trained so far (right
    for a Python session): the command stops at once instead, and what it
    was writing is discarded.
    """

    def __init__(self, signum):
        super().__init__(signum)
        self.signum = int(signum)


def _stop(signum, frame):
    raise Interrupted(signum)


def _install_stop_handlers():
    """Make SIGINT and SIGTERM raise Interrupted; return the old handlers."""
    if threading.current_thread() is not threading.main_thread():
        return {}
    old = {}
    for name in _STOP_SIGNALS:
        signum = getattr(signal, name, None)
        if signum is not None:
            old[signum] = signal.signal(signum, _stop)
    return old


def _restore_handlers(old):
    for signum, handler in old.items():
        signal.signal(signum, handler)


class _Console:
    """Results to stdout, information to stderr (``-q``: none), ``-v``: detail."""

    def __init__(self, quiet=False, verbose=0):
        self.quiet = bool(quiet)
        self.verbose = 0 if quiet else int(verbose)
        self.bars = int(not self.quiet)  # the library's ``verbose``

    def result(self, msg=""):
        print(msg, file=sys.stdout, flush=True)

    def info(self, msg):
        if not self.quiet:
            print(msg, file=sys.stderr, flush=True)

    def detail(self, msg):
        if self.verbose:
            print(msg, file=sys.stderr, flush=True)

    def error(self, msg):
        print(f"skvae: error: {msg}", file=sys.stderr, flush=True)


# --------------------------------------------------------------------------
# checks made before any work: a bad option fails in a second, not after
# minutes of training
# --------------------------------------------------------------------------
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


def _check_device(device):
    from ..recipes import check_device

    try:
        check_device(device)
    except ValueError as exc:
        raise UsageError(f"--device {device}: {exc}") from exc


def _check_threads(threads):
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


# --------------------------------------------------------------------------
# what train and report share: load -> split -> extract -> evaluate -> report
# --------------------------------------------------------------------------
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


def _bar(verbose, **kwargs):
    """A tqdm progress bar on stderr when ``verbose`` and stderr is a terminal
    (in a log file a bar would write a line per redraw)."""
    from tqdm.auto import tqdm

    return tqdm(disable=None if verbose else True, file=sys.stderr, **kwargs)


def _rows(features, X, *, n_jobs=1, verbose=0):
    """``features.transform(X)`` in chunks, with a progress bar."""
    import numpy as np

    features = features.set_params(n_jobs=n_jobs)
    step = 64 * max(1, n_jobs if n_jobs > 0 else (os.cpu_count() or 1))
    rows = []
    with _bar(verbose, total=len(X), desc="features", unit="utt") as bar:
        for start in range(0, len(X), step):
            rows.append(features.transform(X[start : start + step]))
            bar.update(min(step, len(X) - start))
    features.set_params(n_jobs=None)
    return np.vstack(rows)


def _split_and_extract(
    args, console, corpus, features, *, how, test_size, seed, refit=True
):
    """The split, and the rows of every utterance; ``refit``: the front end is
    fitted on the training utterances first (once)."""
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


class _FirstGeneration:
    """Say, the first time audio is generated with this installation of
    librosa, that librosa compiles its numba kernels (20-30 s, once);
    remember that it was done with a marker file in the prediction cache's
    folder (:class:`~skvae.recipes.PredictionCache`: private, never through
    a symbolic link)."""

    def __init__(self, console):
        import hashlib
        from importlib.metadata import PackageNotFoundError, version

        from ..recipes import PredictionCache

        try:
            tag = f"{version('librosa')} {sys.prefix}"
        except PackageNotFoundError:
            tag = sys.prefix
        self.marker = (
            f".librosa-compiled-{hashlib.sha256(tag.encode()).hexdigest()[:16]}"
        )
        try:
            self.cache = PredictionCache() if hasattr(os, "getuid") else None
        except RuntimeError:  # no home folder: no memory of it
            self.cache = None
        if self.cache is None or not self.cache.has(self.marker):
            console.info(
                "note: the first audio generated with this installation makes "
                "librosa compile its numba kernels (about 20-30 s, only once)"
            )

    def __enter__(self):
        return self

    def __exit__(self, kind, value, tb):
        if kind is None and self.cache is not None:
            self.cache.touch(self.marker)  # if not: the note comes again
        return False


def _evaluate(args, console, bundle, corpus, F, train, test, seed):
    from ..evaluation import evaluate_recognizer

    with _FirstGeneration(console):
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


def _print_summary(console, evaluation, split, speaker_eval):
    from ..evaluation import format_summary

    for line in format_summary(evaluation, split, speaker_eval):
        console.result(line)


def _write_report(args, folder, bundle, corpus, evaluation, split):
    from ..report import write_recognizer_report

    write_recognizer_report(
        folder,
        bundle,
        corpus,
        evaluation,
        split,
        n_wavs=args.report_samples,
        command=args.command_line,
    )


def _load_model(args, *, generate=False):
    from ..recipes import load_recognizer

    try:
        return load_recognizer(args.model, require_generator=generate)
    except FileNotFoundError as exc:  # MODEL names nothing: a usage error
        raise UsageError(str(exc)) from exc


# --------------------------------------------------------------------------
# commands
# --------------------------------------------------------------------------
def _versions():
    """Versions of skvae, scikit-learn, torch and Python, for the metadata."""
    import sklearn
    import torch

    return {
        "skvae_version": __version__,
        "sklearn_version": sklearn.__version__,
        "torch_version": torch.__version__,
        "python_version": sys.version.split()[0],
    }


def _cmd_train(args, console):
    from .. import recipes, save
    from ..evaluation import generated_rate, speaker_held_out
    from .staging import staged_folder

    start = time.perf_counter()
    out = _check_out(args.out)
    _check_device(args.device)
    _check_threads(args.threads)
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
    reject = {}
    if args.reject:
        reject = {"reject": True, "target_false_rejection": args.false_rejection}
    features = recipes.make_recognizer(**params)["features"]
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
        verbose=console.bars,
        **params,
        **reject,
    )
    console.detail(f"generator: {bundle['generator'].n_iter_} epochs")
    speaker_eval = None
    if args.speaker_eval or (args.speaker_eval is None and split["kind"] != "speaker"):
        speaker_eval = speaker_held_out(
            F, y, corpus.speaker, features=features, verbose=console.bars, **params
        )
    evaluation = _evaluate(args, console, bundle, corpus, F, train, test, args.seed)

    model_path = out / recipes.MODEL_FILE
    open_set = evaluation.get("open_set")
    bundle["metadata"].update(
        data=corpus.spec,
        data_name=corpus.name,
        data_description=corpus.description,
        split=split,
        accuracy=evaluation["accuracy"],
        speaker_eval=speaker_eval,
        generated_recognised=list(generated_rate(evaluation["generated"])),
        open_set=None
        if open_set is None
        else {
            k: open_set[k]
            for k in ("target", "threshold", "known_kept", "accuracy_kept")
        }
        | {"rejected": open_set["rejected"]},
        n_train=int(len(train)),
        n_test=int(len(test)),
        command=args.command_line,
        created=time.strftime("%Y-%m-%d %H:%M:%S"),
        model_file=str(model_path),
        **_versions(),
    )
    _print_summary(console, evaluation, split, speaker_eval)
    console.info("writing the model" + (" and the report ..." if args.report else ""))
    with staged_folder(out) as tmp:
        recipes.save_recognizer(bundle, tmp)
        if args.weights:
            model = bundle["recognizer"]["model"]
            save(getattr(model, "estimator_", model)["vae"], tmp / recipes.WEIGHTS_FILE)
        if args.report:
            _write_report(args, tmp / "report", bundle, corpus, evaluation, split)
    console.result(f"model: {model_path}")
    if not args.no_cache:
        # fill the prediction cache, so that the first 'skvae predict' reads
        # neither skops nor torch
        try:
            recipes.load_predictor(model_path)
        except (OSError, ValueError) as exc:
            console.detail(f"the prediction cache was not filled: {exc}")
    if args.weights:
        console.result(
            f"weights: {out / recipes.WEIGHTS_FILE} (VAE only, weights-only format; "
            "load with skvae.load)"
        )
    if args.report:
        console.result(f"report: {out / 'report' / 'index.html'}")
    # an earlier run's outputs that this one did not replace (not deleted:
    # OUT may be any folder, and the files someone else's)
    stale = [] if args.weights else [recipes.WEIGHTS_FILE]
    stale += [] if args.report else ["report"]
    for name in stale:
        if (out / name).exists():
            console.info(f"note: {out / name} is from an earlier run, not this one")
    console.result(f"done in {time.perf_counter() - start:.0f} s")
    return EXIT_OK


def _cmd_report(args, console):
    from .staging import staged_folder

    start = time.perf_counter()
    _check_report()
    if args.out:
        _check_out(args.out)
    bundle = _load_model(args, generate=True)
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


def _load_predictor(args):
    from ..recipes import load_predictor

    try:
        return load_predictor(args.model, cache=not args.no_cache)
    except FileNotFoundError as exc:  # MODEL names nothing: a usage error
        raise UsageError(str(exc)) from exc


def _result_lines(res, top):
    """One line per file of a recognize_files result, in the files' order:
    (line, None) for a recognised file, (line, reason) for an unreadable one."""
    import numpy as np

    top = min(top, len(res.classes))
    for read, i in res.order:
        if not read:
            path, reason = res.errors[i]
            yield f"{path}\terror\t{reason}", f"{path}: {reason}"
            continue
        p = res.proba[i]
        order = np.argsort(p)[::-1][:top]
        # the label (the reject label for a word the model does not know),
        # then the probability of the likeliest known label
        line = f"{res.files[i]}\t{res.labels[i]}\t{p[order[0]]:.3f}"
        if res.scores is not None:
            line += f"\tscore {res.scores[i]:.2f}"
        if top > 1:
            line += "\t" + "  ".join(f"{res.classes[j]}:{p[j]:.3f}" for j in order)
        yield line, None


class _LongLine(str):
    """A line of standard input too long to be a path (its start only)."""


def _max_path():
    try:
        return os.pathconf("/", "PC_PATH_MAX")
    except (AttributeError, OSError, ValueError):
        return 4096


def _stdin_paths(max_batch=256):
    """Batches of the paths on standard input, one per line, each batch as
    soon as its lines have arrived (at most ``max_batch``), so that a path is
    answered at once. Lines are read in bounded chunks; a line longer than a
    path can be (PC_PATH_MAX bytes) is not kept: it comes as a batch of its
    own, a :class:`_LongLine` holding its first bytes."""
    if sys.stdin is None:  # standard input closed: no paths
        return
    fd, limit = sys.stdin.fileno(), _max_path()
    partial, size, overlong = [], 0, False  # the line being read
    while True:
        chunk = os.read(fd, 1 << 16)
        pieces = chunk.split(b"\n") if chunk else [b""]
        lines = []
        for k, piece in enumerate(pieces):
            if not overlong:
                partial.append(piece[: limit + 1 - size])
                size += len(partial[-1])
                overlong = size > limit
            if k == len(pieces) - 1 and chunk:
                break  # the line goes on in the next chunk
            line = b"".join(partial)
            lines.append(_LongLine(os.fsdecode(line[:60])) if overlong else line)
            partial, size, overlong = [], 0, False
        batch = []
        for line in lines:
            if isinstance(line, _LongLine):
                yield from [batch, [line]] if batch else [[line]]
                batch = []
            elif line.strip():
                batch.append(os.fsdecode(line.rstrip(b"\r")))
                if len(batch) == max_batch:
                    yield batch
                    batch = []
        if batch:
            yield batch
        if not chunk:
            return


def _cmd_predict(args, console):
    from ..recipes import recognize_files

    streaming = "-" in args.files
    if streaming and args.files != ["-"]:
        raise UsageError("FILE '-' (paths from standard input) must come alone")
    if sys.stdout is None:  # started with stdout closed ('>&-')
        raise OSError("standard output is closed: the results have nowhere to go")
    rec = _load_predictor(args)["recognizer"]
    # a path that is not valid in the locale's encoding is written back as
    # the bytes it was given (as ls does), not refused mid-stream
    reconfigure = getattr(sys.stdout, "reconfigure", None)
    if reconfigure is not None:
        reconfigure(errors="surrogateescape")
    top = 3 if console.verbose else 1
    n_files = n_failed = 0
    res = None
    for batch in _stdin_paths() if streaming else [args.files]:
        if isinstance(batch[0], _LongLine):
            reason = f"a line longer than {_max_path()} bytes is not a path"
            console.error(f"{batch[0]}...: {reason}")
            console.result(f"{batch[0]}...\terror\t{reason}")
            n_files, n_failed = n_files + 1, n_failed + 1
            continue
        res = recognize_files(rec, batch, expand_folders=not streaming)
        for line, failure in _result_lines(res, top):
            if failure is not None:
                console.error(failure)
            if failure is None or streaming:
                console.result(line)
        n_files += len(res.order)
        n_failed += len(res.errors)
    if res is not None and res.threshold is not None:
        console.detail(
            f"threshold {res.threshold:.2f}: files scoring below it are answered "
            f"{res.reject_label} (not a word this model knows)"
        )
    if n_failed:
        console.error(f"{n_failed} of {n_files} files could not be read")
        return EXIT_FAILURE
    return EXIT_OK


def _label_of(recognizer, text):
    for c in recognizer.classes_:
        if str(c) == text:
            return c
    known = ", ".join(str(c) for c in recognizer.classes_)
    raise UsageError(f"--digit {text!r} is not a label of this model (labels: {known})")


def _cmd_sample(args, console):
    import numpy as np

    from ..recipes import generate_utterances, write_utterances
    from .staging import staged_folder

    out = _check_out(args.out)
    bundle = _load_model(args, generate=True)
    rec = bundle["recognizer"]  # with a reject option: a rejected file is a miss
    labels = [_label_of(rec, d) for d in args.digit or []] or list(rec.classes_)
    rng = np.random.default_rng(args.seed)
    sr = rec["features"].sr
    names = []
    hit = 0
    with staged_folder(out) as tmp, _FirstGeneration(console):
        for label in labels:
            _, waves = generate_utterances(
                bundle, label, args.n, random_state=rng, temperature=args.temperature
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


def build_parser(prog="skvae"):
    """The argparse parser of the ``skvae`` command.

    Its options and help texts are in :mod:`skvae.cli.parser`; this binds
    each command to the function that runs it.
    """
    return parser.build_parser(
        prog,
        commands={
            "train": _cmd_train,
            "predict": _cmd_predict,
            "sample": _cmd_sample,
            "report": _cmd_report,
        },
    )


def _exit_code_of_signal(signum):
    return 128 + int(signum)


def main(argv=None, *, prog="skvae"):
    """Run the ``skvae`` command line.

    Parameters
    ----------
    argv : list of str or None, default=None
        The arguments (without the program name); None means ``sys.argv[1:]``.
    prog : str, default="skvae"
        Program name shown in messages.

    Returns
    -------
    code : int
        The exit code: 0 success, 1 failure while running, 2 bad command
        line, 130 interrupted by Ctrl-C (143 by SIGTERM).
    """
    argv = sys.argv[1:] if argv is None else [str(a) for a in argv]
    parser = build_parser(prog)
    try:
        args = parser.parse_args(argv)
    except SystemExit as exc:  # argparse: --help, --version or a usage error
        return exc.code if isinstance(exc.code, int) else EXIT_USAGE
    if args.func is None:
        parser.print_help(sys.stderr)
        return EXIT_USAGE
    if getattr(args, "quick", False) and args.max_iter is None:
        args.max_iter = 30
    if getattr(args, "max_iter", 0) is None:
        args.max_iter = 300
    args.command_line = " ".join([prog, *argv])
    console = _Console(args.quiet, args.verbose)
    old_handlers = _install_stop_handlers()
    try:
        return args.func(args, console)
    except UsageError as exc:
        args.parser.print_usage(sys.stderr)
        print(f"{args.parser.prog}: error: {exc}", file=sys.stderr)
        return EXIT_USAGE
    except BrokenPipeError:
        # the reader of the output went away (e.g. '| head -1'): stop quietly;
        # stdout goes to devnull so that flushing it at exit cannot fail again
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
        return EXIT_FAILURE
    except (Interrupted, KeyboardInterrupt) as exc:
        signum = getattr(exc, "signum", signal.SIGINT)
        print(
            f"{prog}: interrupted ({signal.Signals(signum).name}); nothing "
            "unfinished was written",
            file=sys.stderr,
        )
        return _exit_code_of_signal(signum)
    except Exception as exc:
        if console.verbose:
            import traceback

            traceback.print_exc()
        console.error(_one_line(exc, console.verbose))
        return EXIT_FAILURE
    finally:
        _restore_handlers(old_handlers)


_EXPECTED = (OSError, ValueError, ImportError, MemoryError, RuntimeError)


def _one_line(exc, verbose):
    """One line for an error: 'path: reason' for a file, else the message."""
    # an unreadable file (skvae.features.AudioReadError): "path: reason"
    path, reason = getattr(exc, "path", None), getattr(exc, "reason", None)
    if path and reason:
        return f"{path}: {reason}"
    text = " ".join(str(exc).split()) or type(exc).__name__
    if isinstance(exc, _EXPECTED):
        return text
    hint = "" if verbose else "; run with -v for the traceback"
    return f"unexpected {type(exc).__name__}: {text}{hint}"
