"""Shared fixtures.

Tests that need the Free Spoken Digit Dataset use the ``fsdd_home`` fixture.
It looks where :func:`skvae.datasets.find_fsdd_home` does: ``$SKVAE_DATA``,
scikit-learn's data home, then ``../shared/data``. When the data is missing,
the test *fails* in CI (``CI`` is set) and is skipped on a user's machine.
"""

import os

import pytest

from skvae.datasets import find_fsdd_home


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
