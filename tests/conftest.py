"""Shared fixtures.

Tests that need the Free Spoken Digit Dataset use the ``fsdd_home`` fixture.
It looks in ``$SKVAE_DATA`` and then in ``../shared/data`` (relative to the
repository root). When the data is missing, the test *fails* in CI (``CI`` is
set) and is skipped on a user's machine.
"""

import os
from pathlib import Path

import pytest

REPO_ROOT = Path(__file__).resolve().parents[1]


def _fsdd_candidates():
    env = os.environ.get("SKVAE_DATA")
    if env:
        yield Path(env)
    yield REPO_ROOT.parent / "shared" / "data"


def find_fsdd_home():
    """Return the data home holding ``fsdd/recordings/*.wav``, or None."""
    for home in _fsdd_candidates():
        rec = home / "fsdd" / "recordings"
        if rec.is_dir() and any(rec.glob("*.wav")):
            return home
    return None


@pytest.fixture(scope="session")
def fsdd_home():
    home = find_fsdd_home()
    if home is None:
        msg = (
            "FSDD not found: set SKVAE_DATA to a folder holding fsdd/recordings/*.wav "
            "or place it at ../shared/data/fsdd"
        )
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
