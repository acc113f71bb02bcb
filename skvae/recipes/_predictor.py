"""load_predictor: a recogniser loaded for prediction only, quickly.

Two things make loading a model slow, and neither is needed to predict:

- torch (2-5 s to import): a VAE step of a recogniser is replaced by a
  :class:`~skvae._numpy_encoder.NumpyEncoder`, which computes the same
  posterior means (to float32 rounding) with NumPy;
- :mod:`skops.io` (5-8 s to import): it lists every scikit-learn estimator
  when it is imported, which imports all of scikit-learn and, through it,
  torch, pandas and dask. The predict-only recogniser is therefore kept in
  a cache, keyed by the SHA-256 of the model file and the versions that
  could change its meaning, so that later loads read it with :mod:`pickle`
  and import only the modules it is made of.

The cache holds pickles, which can run code when loaded, so it is guarded
like an SSH key: it lives in a folder only its owner can write
(``$SKVAE_CACHE_DIR``, else ``$XDG_CACHE_HOME/skvae``, else
``~/.cache/skvae``; created with mode 0700), every entry is written by
skvae itself from a model it loaded safely (skops, trusted types only), and
an entry or folder that is not owned by the current user, or that others can
write, is ignored. A model file that changes gets a new key. At most
:data:`CACHE_MAX_ENTRIES` entries are kept (the least recently used go).
On systems without POSIX ownership (``os.getuid``), there is no cache.
"""

import hashlib
import os
import pickle
import sys
import tempfile
from pathlib import Path

from ._model_file import _existing_model, _load_bundle

#: predict-only recognisers kept in the cache; the least recently used go
CACHE_MAX_ENTRIES = 16
_SUFFIX = ".predictor.pickle"


def cache_dir():
    """The folder of the prediction cache (it may not exist yet).

    ``$SKVAE_CACHE_DIR`` if set, else ``$XDG_CACHE_HOME/skvae/predictors``,
    else ``~/.cache/skvae/predictors``.

    Returns
    -------
    path : pathlib.Path
    """
    if os.environ.get("SKVAE_CACHE_DIR"):
        return Path(os.environ["SKVAE_CACHE_DIR"])
    base = os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache"
    return Path(base) / "skvae" / "predictors"


def _private(path):
    """Whether ``path`` belongs to this user and nobody else can write it."""
    try:
        st = os.stat(path)
    except OSError:
        return False
    return st.st_uid == os.getuid() and not st.st_mode & 0o022


def _key(data):
    """The cache key of a model file's content, in this environment."""
    import numpy
    import sklearn

    from .. import __version__

    h = hashlib.sha256(data)
    versions = (
        f"skvae {__version__}; sklearn {sklearn.__version__}; numpy "
        f"{numpy.__version__}; python {sys.version_info[:2]}; {sys.platform}"
    )
    h.update(versions.encode())
    return h.hexdigest()


def _read_cache(folder, key):
    file = folder / f"{key}{_SUFFIX}"
    if not (_private(folder) and _private(file)):
        return None
    try:
        with open(file, "rb") as fh:
            bundle = pickle.load(fh)
        os.utime(file)  # recently used
    except Exception:  # damaged or written by an incompatible library
        return None
    return bundle if isinstance(bundle, dict) and "pipeline" in bundle else None


def _write_cache(folder, key, bundle):
    """Store ``bundle``; any failure leaves the cache as it was (best effort)."""
    try:
        folder.mkdir(mode=0o700, parents=True, exist_ok=True)
        if not _private(folder):
            return False
        fd, tmp = tempfile.mkstemp(prefix=".tmp", dir=folder)  # mode 0600
        try:
            with os.fdopen(fd, "wb") as fh:
                pickle.dump(bundle, fh, protocol=pickle.HIGHEST_PROTOCOL)
            os.replace(tmp, folder / f"{key}{_SUFFIX}")
        except BaseException:
            Path(tmp).unlink(missing_ok=True)
            raise
        entries = sorted(folder.glob(f"*{_SUFFIX}"), key=lambda p: p.stat().st_mtime)
        for old in entries[:-CACHE_MAX_ENTRIES]:
            old.unlink(missing_ok=True)
    except Exception:
        return False
    return True


def load_predictor(path, *, cache=True, trust_pickle=False):
    """Load a recogniser for prediction only, without torch where possible.

    The bundle of :func:`load_recognizer`, except that its VAE steps are
    :class:`~skvae._numpy_encoder.NumpyEncoder` steps (the same posterior
    means, computed by NumPy; predictions equal to 1e-6) and it has no
    generator. A VAE whose encoder NumPy cannot run (convolutional or
    group-conditioned), and a recogniser with a reject option (which needs
    the VAE's likelihood), keep their torch VAEs. With ``cache``, the result
    is kept in a private cache (see the module documentation), so that the
    next load of the same file takes a fraction of a second instead of the
    seconds :mod:`skops.io` and torch take to import. ``skvae predict`` loads
    models this way; ``skvae train`` fills the cache for the model it writes.

    Parameters
    ----------
    path : str or os.PathLike
        The ``model.skops`` file, or the folder holding it.
    cache : bool, default=True
        Read and fill the prediction cache (:func:`cache_dir`).
    trust_pickle : bool, default=False
        As for :func:`load_recognizer` (a pickle model file is never cached).

    Returns
    -------
    bundle : dict
        ``pipeline``, ``classes``, ``metadata``, ``path`` (the file) and the
        other entries of the model file, without ``generator``.

    Raises
    ------
    FileNotFoundError, ValueError
        As :func:`load_recognizer`.

    See Also
    --------
    load_recognizer : The whole model, able to generate and to be refitted.

    Examples
    --------
    >>> from skvae.recipes import load_predictor
    >>> load_predictor("no-such-run")
    Traceback (most recent call last):
    ...
    FileNotFoundError: model 'no-such-run' does not exist (...)
    """
    path = _existing_model(path)
    cache = cache and hasattr(os, "getuid")
    if cache:
        data = path.read_bytes()
        folder, key = cache_dir(), _key(data)
        bundle = _read_cache(folder, key)
        if bundle is not None:
            bundle["path"] = str(path)
            return bundle
    bundle = _load_bundle(path, trust_pickle=trust_pickle, predict_only=True)
    bundle.pop("generator", None)
    if cache and data[:2] == b"PK":  # skops files only: never a pickle model
        _write_cache(folder, key, bundle)
    return bundle
