"""The ``skvae`` command line: train, use and inspect a speech recogniser.

Built on skvae's public API; importing it is cheap (torch, librosa,
scikit-learn and matplotlib are imported by the commands that need them).
Every error is one line (with -v, also its traceback).
"""

import os
import signal
import sys

from .. import __version__
from . import commands, parser, predict, transcribe
from .console import (
    EXIT_FAILURE,
    EXIT_USAGE,
    Console,
    Interrupted,
    UsageError,
    stop_on_signals,
)

__all__ = ["__version__", "build_parser", "main"]


def _train(args, console):
    """skvae train: a recogniser, or with --task transcribe a transcriber."""
    if getattr(args, "task", "recognize") == "transcribe":
        return transcribe.cmd_train_transcribe(args, console)
    return commands.cmd_train(args, console)


def build_parser(prog="skvae"):
    """The argparse parser of the ``skvae`` command, bound to the commands."""
    return parser.build_parser(
        prog,
        commands={
            "train": _train,
            "predict": predict.cmd_predict,
            "transcribe": transcribe.cmd_transcribe,
            "sample": commands.cmd_sample,
            "report": commands.cmd_report,
        },
    )


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
    if getattr(args, "max_iter", 0) is None:
        args.max_iter = 10 if args.quick else 300
    args.command_line = " ".join([prog, *argv])
    console = Console(args.quiet, args.verbose)
    try:
        with stop_on_signals():
            return args.func(args, console)
    except UsageError as exc:
        args.parser.print_usage(sys.stderr)
        print(f"{args.parser.prog}: error: {exc}", file=sys.stderr)
        return EXIT_USAGE
    except BrokenPipeError:  # e.g. '| head -1': quietly, and no failing flush at exit
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
        return 128 + int(signum)
    except Exception as exc:
        if console.verbose:
            import traceback

            traceback.print_exc()
        console.error(_one_line(exc, console.verbose))
        return EXIT_FAILURE


_EXPECTED = (OSError, ValueError, ImportError, MemoryError, RuntimeError)


def _one_line(exc, verbose):
    """One line for an error: 'path: reason' for an AudioReadError, else the message."""
    path, reason = getattr(exc, "path", None), getattr(exc, "reason", None)
    if path and reason:
        return f"{path}: {reason}"
    text = " ".join(str(exc).split()) or type(exc).__name__
    if isinstance(exc, _EXPECTED):
        return text
    hint = "" if verbose else "; run with -v for the traceback"
    return f"unexpected {type(exc).__name__}: {text}{hint}"
