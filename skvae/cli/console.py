"""What the command line prints, its exit codes, and how Ctrl-C stops it."""

import signal
import sys
import threading
from contextlib import contextmanager

EXIT_OK, EXIT_FAILURE, EXIT_USAGE = 0, 1, 2


class UsageError(Exception):
    """A bad command line: reported with the usage text, exit code 2."""


class Interrupted(BaseException):
    """Ctrl-C (SIGINT) or SIGTERM during a command: exit 128 + signal.

    Not a ``KeyboardInterrupt``, which the training loop catches to keep the
    model trained so far: the command stops at once, discarding its output.
    """

    def __init__(self, signum):
        super().__init__(signum)
        self.signum = int(signum)


def _stop(signum, frame):
    raise Interrupted(signum)


@contextmanager
def stop_on_signals():
    """SIGINT and SIGTERM raise :class:`Interrupted` within the block."""
    old = {}
    if threading.current_thread() is threading.main_thread():
        for signum in (signal.SIGINT, signal.SIGTERM):
            old[signum] = signal.signal(signum, _stop)
    try:
        yield
    finally:
        for signum, handler in old.items():
            signal.signal(signum, handler)


class Console:
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
