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
write, is ignored, as is an entry that is a symbolic link or not a regular
file (the checks are made on the folder and the file actually opened, so
that nothing can be swapped in between). A model file that changes gets a
new key, and the entry stored under a key is made from the bytes hashed
(a model file replaced while it is being loaded cannot be stored under the
key of its former content). At most :data:`CACHE_MAX_ENTRIES` entries are
kept (the least recently used go). On systems without POSIX ownership
(``os.getuid``), or without a home folder to put the cache in, there is no
cache.
"""

import contextlib
import hashlib
import os
import pickle
import secrets
import stat
import sys
import tempfile
import time
from pathlib import Path

from ._model_file import _existing_model, _load_bundle

#: part of every cache key: bump it when a class that cache entries hold
#: (NumpyEncoder, SpeechFeatures, RecognizerPipeline...) changes its
#: attributes, so that older entries are never unpickled into the new code
#: (development versions of skvae all carry the same version number)
_CACHE_FORMAT = 1
#: predict-only recognisers kept in the cache; the least recently used go
CACHE_MAX_ENTRIES = 16
_SUFFIX = ".predictor.pickle"
_TMP_PREFIX = ".tmp-"
#: a temporary file older than this (seconds) was left by a writer that died
_STALE_TMP_S = 3600
_NOFOLLOW = getattr(os, "O_NOFOLLOW", 0)
_NONBLOCK = getattr(os, "O_NONBLOCK", 0)


def cache_dir():
    """The folder of the prediction cache (it may not exist yet).

    ``$SKVAE_CACHE_DIR`` if set, else ``$XDG_CACHE_HOME/skvae/predictors``
    (if it is an absolute path: the XDG specification says to ignore a
    relative one), else ``~/.cache/skvae/predictors``.

    Returns
    -------
    path : pathlib.Path

    Raises
    ------
    RuntimeError
        If the home folder is needed and cannot be determined
        (:meth:`pathlib.Path.home`); :func:`load_predictor` then loads
        without the cache.
    """
    if os.environ.get("SKVAE_CACHE_DIR"):
        return Path(os.environ["SKVAE_CACHE_DIR"])
    base = os.environ.get("XDG_CACHE_HOME")
    if not base or not os.path.isabs(base):
        base = Path.home() / ".cache"
    return Path(base) / "skvae" / "predictors"


def _private(st):
    """Whether ``st`` (an ``os.stat_result``) belongs to this user and nobody
    else can write it."""
    return st.st_uid == os.getuid() and not st.st_mode & 0o022


def _open_folder(folder):
    """A descriptor of ``folder`` if it is a private folder, else None.

    Every later access goes through the descriptor (``dir_fd``), so the
    folder checked is the folder used, even if a path component is renamed
    meanwhile.
    """
    try:
        fd = os.open(folder, os.O_RDONLY | getattr(os, "O_DIRECTORY", 0))
    except OSError:
        return None
    try:
        st = os.fstat(fd)
        if stat.S_ISDIR(st.st_mode) and _private(st):
            return fd
    except OSError:
        pass
    os.close(fd)
    return None


def _key(data):
    """The cache key of a model file's content, in this environment."""
    import numpy
    import sklearn

    from .. import __version__

    h = hashlib.sha256(data)
    versions = (
        f"cache format {_CACHE_FORMAT}; skvae {__version__}; "
        f"sklearn {sklearn.__version__}; numpy {numpy.__version__}; "
        f"python {sys.version_info[:2]}; {sys.platform}"
    )
    h.update(versions.encode())
    return h.hexdigest()


def _read_cache(folder, key):
    dfd = _open_folder(folder)
    if dfd is None:
        return None
    try:
        # never a symbolic link; a FIFO must not block the open
        flags = os.O_RDONLY | _NOFOLLOW | _NONBLOCK
        fd = os.open(f"{key}{_SUFFIX}", flags, dir_fd=dfd)
    except OSError:
        return None
    finally:
        os.close(dfd)
    with os.fdopen(fd, "rb") as fh:
        try:
            st = os.fstat(fd)
            if not (stat.S_ISREG(st.st_mode) and _private(st)):
                return None
            bundle = pickle.load(fh)
        except Exception:  # damaged or written by an incompatible library
            return None
        with contextlib.suppress(OSError):  # read-only cache: still a hit
            os.utime(fd)  # recently used
    ok = isinstance(bundle, dict) and hasattr(bundle.get("pipeline"), "predict")
    return bundle if ok else None


def _evict(dfd):
    """Remove the least recently used entries beyond :data:`CACHE_MAX_ENTRIES`,
    and temporary files left by writers that died."""
    entries, now = [], time.time()
    with os.scandir(dfd) as it:
        for entry in it:
            try:
                mtime = entry.stat(follow_symlinks=False).st_mtime
            except OSError:  # removed by another process meanwhile
                continue
            if entry.name.endswith(_SUFFIX):
                entries.append((mtime, entry.name))
            elif entry.name.startswith(_TMP_PREFIX) and now - mtime > _STALE_TMP_S:
                entries.append((-1.0, entry.name))  # always removed
    entries.sort()
    stale = [name for mtime, name in entries if mtime < 0]
    kept = [name for mtime, name in entries if mtime >= 0]
    for name in stale + kept[: max(0, len(kept) - CACHE_MAX_ENTRIES)]:
        with contextlib.suppress(OSError):
            os.unlink(name, dir_fd=dfd)


def _write_cache(folder, key, bundle):
    """Store ``bundle``; any failure leaves the cache as it was (best effort)."""
    try:
        folder.mkdir(mode=0o700, parents=True, exist_ok=True)
    except OSError:
        return False
    dfd = _open_folder(folder)
    if dfd is None:
        return False
    try:
        tmp = f"{_TMP_PREFIX}{secrets.token_hex(8)}"
        flags = os.O_WRONLY | os.O_CREAT | os.O_EXCL | _NOFOLLOW
        fd = os.open(tmp, flags, 0o600, dir_fd=dfd)
        try:
            with os.fdopen(fd, "wb") as fh:
                pickle.dump(bundle, fh, protocol=pickle.HIGHEST_PROTOCOL)
            os.replace(tmp, f"{key}{_SUFFIX}", src_dir_fd=dfd, dst_dir_fd=dfd)
        except BaseException:
            with contextlib.suppress(OSError):
                os.unlink(tmp, dir_fd=dfd)
            raise
        _evict(dfd)
    except Exception:
        return False
    finally:
        os.close(dfd)
    return True


def _load_content(data, path):
    """The predict-only bundle of ``data``, the bytes hashed for the key.

    Loaded from a private copy of those bytes, not from ``path`` again: a
    model file replaced between the hashing and the loading would otherwise
    be stored under the key of its former content. None if no copy can be
    written (then the caller loads ``path`` and caches nothing).
    """
    try:
        tmp = tempfile.TemporaryDirectory(prefix="skvae-")
    except OSError:
        return None
    with tmp:
        copy = Path(tmp.name) / path.name
        try:
            copy.write_bytes(data)
        except OSError:
            return None
        try:
            return _load_bundle(copy, predict_only=True)
        except ValueError as exc:  # name the file the user gave, not the copy
            raise ValueError(str(exc).replace(str(copy), str(path))) from exc


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
        try:
            folder = cache_dir()
        except RuntimeError:  # no home folder to keep a cache in
            cache = False
    bundle = None
    if cache:
        data = path.read_bytes()
        key = _key(data)
        bundle = _read_cache(folder, key)
        if bundle is not None:
            bundle["path"] = str(path)
            return bundle
        if data[:2] == b"PK":  # skops files only: never a pickle model
            bundle = _load_content(data, path)
            if bundle is not None:
                bundle.pop("generator", None)
                bundle["path"] = str(path)
                _write_cache(folder, key, bundle)
    if bundle is None:
        bundle = _load_bundle(path, trust_pickle=trust_pickle, predict_only=True)
        bundle.pop("generator", None)
    bundle["path"] = str(path)
    return bundle
