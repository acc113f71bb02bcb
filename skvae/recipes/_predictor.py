"""load_predictor: a recogniser for prediction only, and the cache that keeps it.

The predict-only recogniser is pickled into :class:`PredictionCache`, keyed
by the SHA-256 of the model file, of skvae's source files and of the versions
of scikit-learn, NumPy and Python. Without POSIX ownership or a home folder,
no cache.
"""

import contextlib
import hashlib
import os
import pickle
import secrets
import stat
import sys
import time
from pathlib import Path

#: predict-only recognisers kept in the cache; the least recently used go
CACHE_MAX_ENTRIES = 16
_NOFOLLOW = getattr(os, "O_NOFOLLOW", 0)
_NONBLOCK = getattr(os, "O_NONBLOCK", 0)
_NEW_FILE = os.O_WRONLY | os.O_CREAT | os.O_EXCL | _NOFOLLOW


def cache_dir():
    """The folder of the prediction cache (it may not exist yet).

    ``$SKVAE_CACHE_DIR``, else ``$XDG_CACHE_HOME/skvae/predictors`` (if
    absolute), else ``~/.cache/skvae/predictors`` (``RuntimeError`` if the
    home folder is unknown).

    Examples
    --------
    >>> from skvae.recipes import cache_dir
    >>> cache_dir().name
    'predictors'
    """
    if os.environ.get("SKVAE_CACHE_DIR"):
        return Path(os.environ["SKVAE_CACHE_DIR"])
    base = os.environ.get("XDG_CACHE_HOME")
    if not base or not os.path.isabs(base):
        base = Path.home() / ".cache"
    return Path(base) / "skvae" / "predictors"


def _code_key():
    """SHA-256 of skvae's source files and the versions pickles depend on."""
    import numpy
    import sklearn

    root = Path(__file__).resolve().parents[1]
    h = hashlib.sha256()
    for file in sorted(root.rglob("*.py")):
        h.update(str(file.relative_to(root)).encode() + b"\0" + file.read_bytes())
    versions = f"{sklearn.__version__} {numpy.__version__} {sys.version_info[:2]}"
    h.update(f"{versions} {sys.platform}".encode())
    return h.digest()


def _key(data):
    """The cache key of a model file's bytes, in this code and environment."""
    return hashlib.sha256(_code_key() + data).hexdigest()


class PredictionCache:
    """A folder of pickles only this user can write, guarded like an SSH key.

    Every access goes through a descriptor of the checked folder (owned by
    this user, not writable by others, created 0700); files are opened
    without following symbolic links and used only if private regular
    files. The least recently used entries beyond :data:`CACHE_MAX_ENTRIES` go.

    Parameters
    ----------
    path : str or os.PathLike or None, default=None
        The folder; None: :func:`cache_dir`.

    Examples
    --------
    >>> import tempfile
    >>> from skvae.recipes import PredictionCache
    >>> cache = PredictionCache(tempfile.mkdtemp() + "/cache")
    >>> cache.write("k", {"a": 1}), cache.read("k"), cache.read("other")
    (True, {'a': 1}, None)
    """

    suffix = ".predictor.pickle"
    tmp_prefix = ".tmp-"
    stale_tmp_s = 3600  # a temporary file older than this was left by a dead writer

    def __init__(self, path=None):
        self.path = cache_dir() if path is None else Path(path)

    @classmethod
    def default(cls):
        """The cache in :func:`cache_dir`; None without POSIX owners or a home."""
        try:
            return cls() if hasattr(os, "getuid") else None
        except RuntimeError:  # no home folder to keep a cache in
            return None

    @staticmethod
    def _private(st):
        return st.st_uid == os.getuid() and not st.st_mode & 0o022

    @contextlib.contextmanager
    def _opened(self, create=False):
        """A descriptor of the folder if it is private, else None."""
        if create:
            with contextlib.suppress(OSError):
                self.path.mkdir(mode=0o700, parents=True, exist_ok=True)
        try:
            fd = os.open(self.path, os.O_RDONLY | getattr(os, "O_DIRECTORY", 0))
        except OSError:
            yield None
            return
        try:
            st = os.fstat(fd)
            yield fd if stat.S_ISDIR(st.st_mode) and self._private(st) else None
        finally:
            os.close(fd)

    def _open_file(self, dfd, name):
        """A private regular file of the folder, opened for reading, or None."""
        try:  # never a symbolic link; a FIFO must not block the open
            fd = os.open(name, os.O_RDONLY | _NOFOLLOW | _NONBLOCK, dir_fd=dfd)
        except OSError:
            return None
        st = os.fstat(fd)
        if stat.S_ISREG(st.st_mode) and self._private(st):
            return os.fdopen(fd, "rb")
        os.close(fd)
        return None

    def read(self, key):
        """The object stored under ``key``, or None."""
        with self._opened() as dfd:
            fh = None if dfd is None else self._open_file(dfd, key + self.suffix)
        if fh is None:
            return None
        with fh:
            try:
                obj = pickle.load(fh)
            except Exception:  # damaged or written by other code
                return None
            with contextlib.suppress(OSError):  # read-only cache: still a hit
                os.utime(fh.fileno())  # recently used
        return obj

    def write(self, key, obj):
        """Store ``obj`` under ``key``; False where it cannot (best effort)."""
        with self._opened(create=True) as dfd:
            if dfd is None:
                return False
            tmp = f"{self.tmp_prefix}{secrets.token_hex(8)}"
            try:
                fd = os.open(tmp, _NEW_FILE, 0o600, dir_fd=dfd)
                with os.fdopen(fd, "wb") as fh:
                    pickle.dump(obj, fh, protocol=pickle.HIGHEST_PROTOCOL)
                os.replace(tmp, key + self.suffix, src_dir_fd=dfd, dst_dir_fd=dfd)
            except Exception:
                with contextlib.suppress(OSError):
                    os.unlink(tmp, dir_fd=dfd)
                return False
            self._evict(dfd)
        return True

    def has(self, name):
        """Whether the folder holds a private regular file ``name``."""
        with self._opened() as dfd:
            fh = None if dfd is None else self._open_file(dfd, name)
        if fh is not None:
            fh.close()
        return fh is not None

    def touch(self, name):
        """Create the empty file ``name`` (not through a link); whether it is there."""
        with self._opened(create=True) as dfd:
            if dfd is None:
                return False
            try:
                os.close(os.open(name, _NEW_FILE, 0o600, dir_fd=dfd))
            except FileExistsError:  # is it a file of ours, not a link?
                return self.has(name)
            except OSError:
                return False
        return True

    def _evict(self, dfd):
        """Remove the oldest entries beyond CACHE_MAX_ENTRIES, and stale temporaries."""
        entries, old, now = [], [], time.time()
        with os.scandir(dfd) as it:
            for entry in it:
                try:
                    mtime = entry.stat(follow_symlinks=False).st_mtime
                except OSError:  # removed by another process meanwhile
                    continue
                if entry.name.endswith(self.suffix):
                    entries.append((mtime, entry.name))
                elif entry.name.startswith(self.tmp_prefix):
                    if now - mtime > self.stale_tmp_s:
                        old.append(entry.name)
        entries.sort()
        old += [name for _, name in entries[: max(0, len(entries) - CACHE_MAX_ENTRIES)]]
        for name in old:
            with contextlib.suppress(OSError):
                os.unlink(name, dir_fd=dfd)


def _predict_only(bundle):
    """The bundle for prediction: no generator, a NumPy encoder for the VAE."""
    from .._format import encode
    from .._numpy_encoder import NumpyEncoder, NumpySequenceEncoder

    bundle.pop("generator", None)
    if bundle.get("task") == "transcribe":
        from .._numpy_ctc import NumpyCTC

        rec = bundle["recognizer"]
        if (
            type(rec["model"]).__name__ == "CTCTranscriber"
            and "vae" not in rec.named_steps
        ):
            rec.steps[-1] = ("model", NumpyCTC.from_transcriber(rec["model"]))
        return bundle
    model = bundle["recognizer"]["model"]
    vae = getattr(model, "named_steps", {}).get("vae")  # no reject option
    if vae is not None and hasattr(vae, "_to_weights"):
        # an encoder NumPy cannot run (ValueError): the VAE stays
        with contextlib.suppress(ValueError):
            sequence = type(vae).__name__ == "SequenceVAE"
            encoder = NumpySequenceEncoder if sequence else NumpyEncoder
            model.set_params(vae=encoder(encode(vae._to_weights())).fit())
    return bundle


def load_predictor(path, *, cache=True):
    """Load a recogniser for prediction only, without torch where possible.

    The bundle of :func:`load_recognizer` without its generator; a VAE step
    (without reject option) with a dense encoder becomes a NumPy
    ``NumpyEncoder``, a ``SequenceVAE`` a ``NumpySequenceEncoder``
    (predictions equal to 1e-6); a model without a VAE step is kept as is.
    With ``cache``, it is kept in :class:`PredictionCache`: the next load
    imports neither skops nor torch.

    Parameters
    ----------
    path : str or os.PathLike
        The ``model.skops`` file, or the folder holding it.
    cache : bool, default=True
        Read and fill the prediction cache (:func:`cache_dir`).

    Returns
    -------
    bundle : dict
        ``recognizer``, ``durations``, ``metadata``, ``path`` (the file);
        ``FileNotFoundError`` or ``ValueError`` as :func:`load_recognizer`.

    Examples
    --------
    >>> from skvae.recipes import load_predictor
    >>> load_predictor("no-such-run")
    Traceback (most recent call last):
    ...
    FileNotFoundError: model 'no-such-run' does not exist: ...
    """
    from ._model_file import _existing_model, _load_file

    path = _existing_model(path)
    data = path.read_bytes()  # the bytes hashed are the bytes loaded
    folder = PredictionCache.default() if cache else None
    key = None if folder is None else _key(data)
    bundle = None if folder is None else folder.read(key)
    if not (isinstance(bundle, dict) and hasattr(bundle.get("recognizer"), "predict")):
        bundle = _predict_only(_load_file(path, data))
        if folder is not None:
            folder.write(key, {k: v for k, v in bundle.items() if k != "path"})
    bundle["path"] = str(path)
    return bundle
