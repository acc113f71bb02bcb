"""Data home and verified downloads for the dataset fetchers."""

import hashlib
import os
import shutil
import urllib.request
from pathlib import Path

from .._atomic import atomic_file

__all__ = ["get_data_home"]

ENV_DATA_HOME = "SKVAE_DATA"


def get_data_home(data_home=None):
    """Return the folder where skvae keeps datasets, creating it if needed.

    Parameters
    ----------
    data_home : str or os.PathLike, default=None
        The folder (``~`` expanded). None: ``$SKVAE_DATA`` if set, else
        scikit-learn's (``$SCIKIT_LEARN_DATA`` or ``~/scikit_learn_data``).

    Returns
    -------
    data_home : str
        The path of the folder.

    Examples
    --------
    >>> import tempfile
    >>> from skvae.datasets import get_data_home
    >>> with tempfile.TemporaryDirectory() as tmp:
    ...     get_data_home(tmp) == tmp
    True
    """
    data_home = _data_home_path(data_home)
    os.makedirs(data_home, exist_ok=True)
    return data_home


def _data_home_path(data_home=None):
    """The folder :func:`get_data_home` returns, without creating it."""
    if data_home is None:
        data_home = os.environ.get(ENV_DATA_HOME) or None
    if data_home is None:  # as sklearn.datasets.get_data_home
        data_home = os.environ.get("SCIKIT_LEARN_DATA") or os.path.join(
            "~", "scikit_learn_data"
        )
    return os.path.expanduser(os.fspath(data_home))


def _sha256(path):
    with open(path, "rb") as fh:
        return hashlib.file_digest(fh, "sha256").hexdigest()


def _download(url, dest, sha256, *, timeout=60):
    """Download ``url`` atomically to ``dest``, checked against ``sha256``.

    ``sha256=None`` skips the check (for callers that verify the content).
    A failed download or checksum leaves no file behind.
    """
    dest = Path(dest)
    dest.parent.mkdir(parents=True, exist_ok=True)
    with (
        atomic_file(dest) as out,
        urllib.request.urlopen(url, timeout=timeout) as response,
    ):
        shutil.copyfileobj(response, out, 1 << 20)
        out.flush()
        actual = _sha256(out.name)
        if sha256 is not None and actual != sha256:
            raise OSError(
                f"checksum mismatch for {url}: expected sha256 {sha256}, got "
                f"{actual}. The download was discarded."
            )
    return dest
