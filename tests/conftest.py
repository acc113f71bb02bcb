"""Shared fixtures.

Tests that need the Free Spoken Digit Dataset use the ``fsdd_home`` fixture.
It looks where :func:`skvae.datasets.find_fsdd_home` does: ``$SKVAE_DATA``,
then scikit-learn's data home; pass the data with
``SKVAE_DATA=../shared/data python -m pytest``. When the data is missing,
the test *fails* in CI (``CI`` is set) and is skipped on a user's machine.
"""

import os
import tempfile

import pytest

from skvae.datasets import find_fsdd_home


def pytest_configure(config):
    """Make ``$SKVAE_DATA`` absolute, and keep the prediction cache of
    ``skvae train`` / ``skvae predict`` (``skvae.recipes.cache_dir``) out of
    the user's home: one private temporary folder for the session, inherited
    by subprocesses."""
    # a relative SKVAE_DATA (the quick start's ../shared/data) would name
    # another folder in the subprocesses that tests start elsewhere
    if os.environ.get("SKVAE_DATA"):
        os.environ["SKVAE_DATA"] = os.path.abspath(os.environ["SKVAE_DATA"])
    if "SKVAE_CACHE_DIR" not in os.environ:
        config._skvae_cache = tempfile.mkdtemp(prefix="skvae-test-cache-")
        os.environ["SKVAE_CACHE_DIR"] = os.path.join(config._skvae_cache, "predictors")


def pytest_unconfigure(config):
    import shutil

    folder = getattr(config, "_skvae_cache", None)
    if folder is not None:
        shutil.rmtree(folder, ignore_errors=True)
        os.environ.pop("SKVAE_CACHE_DIR", None)


@pytest.fixture(scope="session")
def fsdd_home():
    home = find_fsdd_home()
    if home is None:
        msg = "FSDD not found: set SKVAE_DATA to a folder holding fsdd/recordings/*.wav"
        if os.environ.get("CI"):
            pytest.fail(msg)
        pytest.skip(msg)
    return home


def require_optional(module):
    """Import an optional test dependency: fail in CI, skip elsewhere."""
    try:
        return pytest.importorskip(module)
    except pytest.skip.Exception:
        if os.environ.get("CI"):
            pytest.fail(f"{module} is not installed: pip install -e '.[all,test]'")
        raise


def assert_same_utterances(a, b):
    """Two renderings of the same generated utterances agree.

    eSpeak NG's output is not bitwise reproducible from run to run (rarely,
    a waveform differs in part of its samples, or by a sample in length;
    observed on fresh installs), so the waveforms are compared by length and
    correlation rather than bit for bit.
    """
    import numpy as np

    assert len(a) == len(b)
    for x, y in zip(a, b):
        assert abs(len(x) - len(y)) <= max(2, len(x) // 100)
        n = min(len(x), len(y))
        r = np.corrcoef(x[:n].astype(np.float64), y[:n].astype(np.float64))[0, 1]
        assert r > 0.9, r
