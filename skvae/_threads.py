"""Torch's CPU thread count inside the estimators' methods: fixed by the problem
size and the CPUs (:func:`training_threads`), or timed (:class:`ThreadTuner`)."""

import contextlib
import os
import threading
import time
import warnings

import torch

__all__ = [
    "ThreadTuner",
    "available_cpus",
    "capped_threads",
    "default_n_threads",
    "torch_threads",
    "training_threads",
]

#: multiply-adds of one training step (batch rows x network weights) that
#: make one more thread worth its synchronisation cost
WORK_PER_THREAD = 2**25


def available_cpus():
    """Number of CPUs this process may run on (affinity-aware)."""
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # pragma: no cover - not Linux
        return os.cpu_count() or 1


def default_n_threads():
    """The most threads ``n_threads=None`` uses: torch's setting (which
    honours ``OMP_NUM_THREADS``, set by joblib workers) capped by the CPUs."""
    return max(1, min(torch.get_num_threads(), available_cpus()))


def training_threads(step_work):
    """Threads of a fit with ``n_threads=None``: one per :data:`WORK_PER_THREAD`
    multiply-adds of a training step, at least 1, at most
    :func:`default_n_threads`. Deterministic: it never looks at the clock.

    Examples
    --------
    >>> from skvae._threads import training_threads
    >>> training_threads(1000)
    1
    """
    return max(1, min(default_n_threads(), int(step_work) // WORK_PER_THREAD))


def capped_threads(n_threads):
    """``n_threads`` capped at :func:`available_cpus`, with a warning (a
    huge count makes the OpenMP runtime crash)."""
    n = int(n_threads)
    cpus = available_cpus()
    if n > cpus:
        warnings.warn(
            f"n_threads={n} is more than the {cpus} CPU(s) this process may use; "
            f"using {cpus}.",
            UserWarning,
            stacklevel=4,
        )
        return cpus
    return n


_THREADS_LOCK = threading.RLock()


@contextlib.contextmanager
def torch_threads(n_threads, *, keep_default=False):
    """Run the block with ``n_threads`` torch intra-op threads, then restore.

    None (or ``"tune"``) means :func:`default_n_threads`, or with
    ``keep_default`` torch's setting untouched (concurrent inference). Blocks
    that change the (process-global) count are serialised by a lock.
    """
    auto = n_threads is None or n_threads == "tune"
    if auto and keep_default:
        yield torch.get_num_threads()
        return
    n = default_n_threads() if auto else capped_threads(n_threads)
    with _THREADS_LOCK:
        before = torch.get_num_threads()
        if n != before:
            torch.set_num_threads(n)
        try:
            yield n
        finally:
            # the block may have changed it too (ThreadTuner)
            if torch.get_num_threads() != before:
                torch.set_num_threads(before)


class ThreadTuner:
    """Chooses torch's thread count from measured step times (``n_threads="tune"``).

    Times a few training steps with 1, half and all threads, keeps the
    fastest, and re-checks after an interval that doubles while the choice
    holds (on a busy machine, threads waiting for each other can make
    training several times slower).

    Parameters
    ----------
    max_threads : int
        The most threads to use.
    probe_steps : int
        Timed steps per candidate (after one untimed step to settle).
    interval : float
        Seconds before the first re-check; doubles up to ``max_interval``.
    """

    def __init__(self, max_threads, probe_steps=5, interval=2.0, max_interval=32.0):
        self.options = sorted({1, max(1, max_threads // 2), max_threads})
        self.threads = max_threads
        self.probe_steps = probe_steps
        self.base_interval = interval
        self.interval = interval
        self.max_interval = max_interval
        self.choices = []  # (time, threads) after each probe, for inspection
        self._plan = []  # thread counts of the coming probe steps (None: untimed)
        self._times = {}
        self._running = None  # (threads, timed) of the step in progress
        self._last = None
        self._next_probe = 0.0

    def epoch_start(self):
        """Forget the clock: time across epoch boundaries is not a step."""
        self._last = None
        self._running = None

    def _start_probe(self):
        self._plan = []
        for n in self.options:
            self._plan.append((n, False))
            self._plan.extend([(n, True)] * self.probe_steps)
        self._times = {n: [] for n in self.options}

    def tick(self):
        """Call before each training step."""
        now = time.perf_counter()
        if self._running is not None and self._last is not None:
            n, timed = self._running
            if timed:
                self._times[n].append(now - self._last)
        self._running = None
        if not self._plan and self._times:
            self._decide(now)
        if not self._plan and now >= self._next_probe:
            self._start_probe()
        if self._plan:
            n, timed = self._plan.pop(0)
            self._running = (n, timed)
            if torch.get_num_threads() != n:
                torch.set_num_threads(n)
        self._last = time.perf_counter()

    def _decide(self, now):
        medians = {n: sorted(t)[len(t) // 2] for n, t in self._times.items() if t}
        self._times = {}
        if not medians:
            return
        best = min(medians, key=medians.get)
        self.interval = (
            min(self.interval * 2, self.max_interval)
            if best == self.threads
            else self.base_interval
        )
        self.threads = best
        self.choices.append((now, best))
        torch.set_num_threads(best)
        self._next_probe = now + self.interval
