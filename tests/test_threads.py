"""Torch's thread count (``skvae/_threads.py``): the deterministic default,
torch_threads, the cap at the CPUs, and the opt-in ThreadTuner."""

import threading

import pytest
import torch

import skvae._threads as threads


def test_training_threads_grow_with_the_work_up_to_the_cpus(monkeypatch):
    monkeypatch.setattr(threads, "default_n_threads", lambda: 4)
    step = threads.WORK_PER_THREAD
    assert threads.training_threads(0) == 1
    assert threads.training_threads(step - 1) == 1
    assert threads.training_threads(2 * step) == 2
    assert threads.training_threads(100 * step) == 4


def test_default_threads_capped_by_affinity(monkeypatch):
    monkeypatch.setattr(threads, "available_cpus", lambda: 1)
    assert threads.default_n_threads() == 1


def test_torch_threads_sets_and_restores():
    before = torch.get_num_threads()
    with threads.torch_threads(1) as n:
        assert n == 1 and torch.get_num_threads() == 1
    assert torch.get_num_threads() == before
    # keep_default with None leaves torch's setting alone (no lock taken)
    with threads.torch_threads(None, keep_default=True) as n:
        assert n == before
    with pytest.raises(RuntimeError), threads.torch_threads(1):
        raise RuntimeError
    assert torch.get_num_threads() == before


def test_more_threads_than_cpus_are_capped_with_a_warning(monkeypatch):
    """n_threads=10**6 made OpenMP crash (SIGSEGV) or run out of memory."""
    monkeypatch.setattr(threads, "available_cpus", lambda: 2)
    before = torch.get_num_threads()
    capped = pytest.warns(
        UserWarning, match=r"n_threads=1000000 is more than the 2 CPU"
    )
    with capped, threads.torch_threads(10**6) as n:
        assert n == 2 and torch.get_num_threads() == 2
    assert torch.get_num_threads() == before
    assert threads.capped_threads(2) == 2


def test_torch_threads_blocks_are_serialised():
    inside, overlap = [], []

    def work():
        with threads.torch_threads(1):
            inside.append(1)
            overlap.append(len(inside))
            inside.pop()

    workers = [threading.Thread(target=work) for _ in range(8)]
    for t in workers:
        t.start()
    for t in workers:
        t.join()
    assert overlap == [1] * 8


@pytest.mark.parametrize(
    "step_time, expected",
    [({1: 1.0, 2: 3.0, 4: 5.0}, 1), ({1: 1.0, 2: 0.6, 4: 0.4}, 4)],
    ids=["busy-machine-collapse", "idle-machine"],
)
def test_thread_tuner_picks_the_faster_count(monkeypatch, step_time, expected):
    """A fake clock makes each step last step_time[threads]: the tuner settles
    on the fastest count and re-checks later, less often while it holds."""
    clock = {"t": 0.0}
    monkeypatch.setattr(threads.time, "perf_counter", lambda: clock["t"])
    before = torch.get_num_threads()
    try:
        torch.set_num_threads(4)
        tuner = threads.ThreadTuner(4, probe_steps=3, interval=10.0)
        assert tuner.options == [1, 2, 4]
        for _ in range(60):
            tuner.tick()
            clock["t"] += step_time[torch.get_num_threads()]
        assert tuner.threads == expected
        assert [c for _, c in tuner.choices] == [expected] * len(tuner.choices)
        first = len(tuner.choices)
        for _ in range(300):
            tuner.tick()
            clock["t"] += step_time[torch.get_num_threads()]
        assert len(tuner.choices) > first  # it probed again
        assert tuner.interval > 10.0  # stable choice: re-checks less often
    finally:
        torch.set_num_threads(before)
