"""skvae predict: recognise files, or paths streamed on standard input."""

import os
import sys

from .commands import load_model
from .console import EXIT_FAILURE, EXIT_OK, UsageError


def _result_lines(res, top):
    """(line, None) per recognised file, (line, reason) per unreadable one, in order."""
    import numpy as np

    top = min(top, len(res.classes))
    for read, i in res.order:
        if not read:
            path, reason = res.errors[i]
            yield f"{path}\terror\t{reason}", f"{path}: {reason}"
            continue
        p = res.proba[i]
        order = np.argsort(p)[::-1][:top]
        # the label (maybe the reject label), the likeliest known label's probability
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
    """Batches of the lines of standard input that have arrived (at most
    ``max_batch``); a line longer than PC_PATH_MAX comes alone as a _LongLine."""
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


def cmd_predict(args, console):
    from ..recipes import load_predictor, recognize_files

    streaming = "-" in args.files
    if streaming and args.files != ["-"]:
        raise UsageError("FILE '-' (paths from standard input) must come alone")
    if sys.stdout is None:  # started with stdout closed ('>&-')
        raise OSError("standard output is closed: the results have nowhere to go")
    bundle = load_model(load_predictor, args.model, cache=not args.no_cache)
    if bundle.get("task") == "transcribe":
        raise UsageError(
            f"{bundle['path']} transcribes digit strings: use 'skvae transcribe'"
        )
    rec = bundle["recognizer"]
    # a path undecodable in the locale is written back as given (as ls does)
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
