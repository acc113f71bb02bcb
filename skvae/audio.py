"""Audio I/O: read files or waveforms as mono float32, resample, write WAV.

WAV is decoded by numpy; soundfile (other formats) and soxr (resampling) are
imported on use. Never imports librosa or torch.
"""

import io
import os
import stat
from numbers import Integral, Real

import numpy as np

__all__ = [
    "AudioReadError",
    "MAX_BYTES",
    "check_utterances",
    "get_samplerate",
    "load_audio",
    "resample",
    "write_wav",
]

#: Default most bytes of a file, its float32 samples or a resampled waveform.
MAX_BYTES = 1 << 30
#: The sample rates a file header may declare, in Hz: others are corrupt.
MIN_SR, MAX_SR = 1000, 768_000

_PCM, _FLOAT, _EXTENSIBLE = 0x0001, 0x0003, 0xFFFE  # WAVE format tags
_WAV_SIZE_UNKNOWN = 0xFFFFFFFF  # data chunk size: read to the end of file
_WAV_ENCODINGS = {(_PCM, 8), (_PCM, 16), (_PCM, 24), (_PCM, 32), (_FLOAT, 32)}
_WAV_ENCODINGS.add((_FLOAT, 64))
_FILE_KINDS = (
    (stat.S_ISFIFO, "a FIFO (named pipe)"),
    (stat.S_ISCHR, "a character device"),
    (stat.S_ISBLK, "a block device"),
    (stat.S_ISSOCK, "a socket"),
)


class AudioReadError(ValueError, OSError):
    """An audio file could not be read (see :func:`load_audio`); both a
    :class:`ValueError` and an :class:`OSError`.

    Parameters
    ----------
    path : str
        The file that could not be read.
    reason : str
        Why it could not be read.
    index : int or None, default=None
        Position of the file in the ``X`` given to a transformer, if any.

    Examples
    --------
    >>> from skvae.audio import AudioReadError, load_audio
    >>> try:
    ...     load_audio("no/such/file.wav")
    ... except AudioReadError as exc:
    ...     print(exc.reason)
    file does not exist
    """

    def __init__(self, path, reason, index=None):
        self.path = str(path)
        self.reason = reason
        self.index = index
        prefix = "" if index is None else f"X[{index}]: "
        super().__init__(f"{prefix}cannot read audio file {self.path!r}: {reason}")

    def __reduce__(self):  # keep the attributes across joblib workers
        return type(self), (self.path, self.reason, self.index)

    def with_index(self, index):
        """The same error, for the file at ``X[index]`` (a new error)."""
        return type(self)(self.path, self.reason, index)


def _is_path(source):
    return isinstance(source, str | os.PathLike)


def _check_sr(sr, path):
    if not MIN_SR <= sr <= MAX_SR:
        raise AudioReadError(
            path,
            f"implausible sample rate {sr} Hz in the file header (audio files "
            f"are read at {MIN_SR} to {MAX_SR} Hz): corrupt header?",
        )


def _check_decoded_size(n, path, max_bytes):
    if 4 * n > max_bytes:
        reason = f"its {n} samples would take {4 * n} bytes as float32, more"
        raise AudioReadError(path, f"{reason} than max_bytes={max_bytes}")


def _wav_chunks(buf):
    """``(fmt chunk bytes or None, (data start, size) or None)``; None if not WAV."""
    if len(buf) < 12 or buf[:4] != b"RIFF" or buf[8:12] != b"WAVE":
        return None
    pos, fmt, n = 12, None, len(buf)
    while pos + 8 <= n:
        cid, size = buf[pos : pos + 4], int.from_bytes(buf[pos + 4 : pos + 8], "little")
        if cid == b"data":
            return fmt, (pos + 8, size)
        if cid == b"fmt ":
            fmt = buf[pos + 8 : pos + 8 + min(size, 40)]
        pos += 8 + size + (size & 1)
    return fmt, None


def _parse_wav(buf, path, max_bytes=MAX_BYTES):
    """``(data (n, channels) float32, sr)`` of WAV bytes; None for libsndfile."""
    chunks = _wav_chunks(buf)
    if chunks is None:
        return None
    fmt, data_chunk = chunks
    if fmt is not None and len(fmt) < 16:
        raise AudioReadError(path, "truncated: incomplete 'fmt ' chunk")
    if data_chunk is None:
        what = "no 'fmt ' and no 'data' chunk" if fmt is None else "no 'data' chunk"
        raise AudioReadError(path, f"truncated or corrupt WAV: {what}")
    if fmt is None:
        return None  # 'fmt ' after 'data': unusual, let libsndfile decide
    tag, channels = (int.from_bytes(fmt[i : i + 2], "little") for i in (0, 2))
    sr = int.from_bytes(fmt[4:8], "little")
    block_align, bits = (int.from_bytes(fmt[i : i + 2], "little") for i in (12, 14))
    if tag == _EXTENSIBLE and len(fmt) >= 26:
        tag = int.from_bytes(fmt[24:26], "little")  # sub-format GUID
    if channels == 0 or sr == 0:
        raise AudioReadError(
            path, f"corrupt WAV header ({channels} channels, sample rate {sr})"
        )
    _check_sr(sr, path)
    width = bits // 8
    if bits % 8 or block_align != channels * width or (tag, bits) not in _WAV_ENCODINGS:
        return None
    start, declared = data_chunk
    available = len(buf) - start
    if declared == _WAV_SIZE_UNKNOWN:
        declared = available - available % block_align
    if declared > available:
        raise AudioReadError(
            path,
            f"truncated: the header declares {declared} bytes of audio data "
            f"but only {available} are present",
        )
    n_frames = declared // block_align
    if n_frames == 0:
        raise AudioReadError(path, "the file holds no audio samples (zero length)")
    count = n_frames * channels
    _check_decoded_size(count, path, max_bytes)
    if tag == _FLOAT:
        dtype = "<f4" if bits == 32 else "<f8"
        data = np.frombuffer(buf, dtype, count, start).astype(np.float32)
    elif bits == 8:  # unsigned
        data = np.frombuffer(buf, np.uint8, count, start).astype(np.float32)
        data = (data - 128.0) * np.float32(1 / 128)
    elif bits == 24:
        raw = np.frombuffer(buf, np.uint8, count * 3, start).reshape(-1, 3)
        word = np.zeros((count, 4), np.uint8)
        word[:, 1:] = raw  # little endian: low byte zero, sample in top 3
        data = word.view("<i4").ravel().astype(np.float32) * np.float32(2.0**-31)
    else:
        dtype = "<i2" if bits == 16 else "<i4"
        data = np.frombuffer(buf, dtype, count, start).astype(np.float32)
        data *= np.float32(2.0 ** -(bits - 1))
    return data.reshape(n_frames, channels), sr


def _read_soundfile(buf, path, max_bytes=MAX_BYTES):
    import soundfile as sf

    try:
        with sf.SoundFile(io.BytesIO(buf)) as f:
            sr, expected = f.samplerate, f.frames
            _check_sr(sr, path)
            _check_decoded_size(expected * f.channels, path, max_bytes)
            data = f.read(dtype="float32", always_2d=True)
    except AudioReadError:
        raise
    except (sf.LibsndfileError, RuntimeError, TypeError, ValueError) as exc:
        detail = getattr(exc, "error_string", None) or str(exc)
        detail = detail.strip().removeprefix("Error :").strip() or type(exc).__name__
        if "format not recognised" in detail.lower():
            reason = f"not a recognised audio format ({detail})"
        else:
            reason = f"cannot decode the audio, truncated or corrupt? ({detail})"
        raise AudioReadError(path, reason) from exc
    if data.shape[0] == 0:
        raise AudioReadError(path, "the file holds no audio samples (zero length)")
    if data.shape[0] < expected:
        raise AudioReadError(
            path,
            f"truncated: the header declares {expected} samples but only "
            f"{data.shape[0]} could be decoded",
        )
    return data, sr


def _open_regular(path):
    """Open a regular file for reading, never blocking (FIFO, device)."""
    try:
        # O_NONBLOCK: opening a FIFO that has no writer returns at once
        fd = os.open(path, os.O_RDONLY | getattr(os, "O_NONBLOCK", 0))
    except FileNotFoundError:
        raise AudioReadError(path, "file does not exist") from None
    except IsADirectoryError:
        raise AudioReadError(path, "is a directory, not an audio file") from None
    except OSError as exc:
        raise AudioReadError(path, f"cannot open file ({exc.strerror})") from exc
    mode = os.fstat(fd).st_mode
    if not stat.S_ISREG(mode):
        os.close(fd)
        if stat.S_ISDIR(mode):
            raise AudioReadError(path, "is a directory, not an audio file")
        kind = next((what for test, what in _FILE_KINDS if test(mode)), "special")
        raise AudioReadError(
            path, f"not a regular file but {kind}: only audio files are read"
        )
    return os.fdopen(fd, "rb")


def _read_file(path, max_bytes=MAX_BYTES):
    """Read a file into ((n_samples, n_channels) float32, native sr)."""
    with _open_regular(path) as fh:
        size = os.fstat(fh.fileno()).st_size
        if size > max_bytes:
            raise AudioReadError(
                path, f"the file has {size} bytes, more than max_bytes={max_bytes}"
            )
        buf = fh.read(max_bytes + 1)  # the file may have grown since
    if len(buf) > max_bytes:
        raise AudioReadError(path, f"the file has more than max_bytes={max_bytes}")
    if not buf:
        raise AudioReadError(path, "empty file (0 bytes)")
    parsed = _parse_wav(buf, path, max_bytes)
    return _read_soundfile(buf, path, max_bytes) if parsed is None else parsed


def get_samplerate(path):
    """The sample rate of an audio file, read from its header only.

    Parameters
    ----------
    path : str or os.PathLike
        An audio file.

    Returns
    -------
    sr : int
        Its native sample rate in Hz.

    Examples
    --------
    >>> import os, tempfile
    >>> import numpy as np
    >>> from skvae.audio import get_samplerate, write_wav
    >>> with tempfile.TemporaryDirectory() as tmp:
    ...     get_samplerate(write_wav(os.path.join(tmp, "a.wav"), np.zeros(8), 8000))
    8000
    """
    path = os.fspath(path)
    with _open_regular(path) as fh:
        chunks = _wav_chunks(fh.read(1 << 16))
        fmt = None if chunks is None else chunks[0]
        if fmt is not None and len(fmt) >= 8:
            sr = int.from_bytes(fmt[4:8], "little")
        else:
            import soundfile as sf

            fh.seek(0)
            try:
                with sf.SoundFile(fh) as f:
                    sr = f.samplerate
            except (sf.LibsndfileError, RuntimeError, TypeError, ValueError):
                _read_file(path)  # not audio: the full read says why
                raise
    _check_sr(sr, path)
    return sr


def resample(y, orig_sr, target_sr, *, max_bytes=MAX_BYTES):
    """Resample a waveform as ``librosa.resample(..., res_type="soxr_hq")``.

    Parameters
    ----------
    y : np.ndarray [shape=(n_samples,)]
        A mono waveform.
    orig_sr, target_sr : float
        Its sample rate, and the rate wanted, in Hz.
    max_bytes : int, default=2**30
        The most bytes the float64 output may take.

    Returns
    -------
    y_new : np.ndarray [shape=(ceil(n_samples * target_sr / orig_sr),), dtype=float32]
        The resampled waveform.

    Raises
    ------
    ValueError
        The output would be larger than ``max_bytes``, or empty.

    Examples
    --------
    >>> import numpy as np
    >>> from skvae.audio import resample
    >>> resample(np.zeros(8000), 8000, 16000).shape
    (16000,)
    """
    n_in = y.shape[0]
    n_out = int(np.ceil(n_in * (float(target_sr) / orig_sr)))
    if 8 * n_out > max_bytes:
        raise ValueError(
            f"resampling its {n_in} samples from {orig_sr} Hz to {target_sr} Hz "
            f"would give {n_out} samples ({8 * n_out} bytes in float64), more "
            f"than max_bytes={max_bytes}"
        )
    if n_out == 0:
        raise ValueError(f"too short to resample from {orig_sr} Hz to {target_sr} Hz")
    import soxr

    y = soxr.resample(
        y.astype(np.float64), in_rate=orig_sr, out_rate=target_sr, quality="soxr_hq"
    )
    y = y[:n_out] if y.shape[0] >= n_out else np.pad(y, (0, n_out - y.shape[0]))
    return np.ascontiguousarray(y, dtype=np.float32)


def _as_waveform(y, index=None):
    """One checked waveform as 1-D float32 (integers scaled as PCM)."""
    prefix = "" if index is None else f"X[{index}]: "
    arr = np.asarray(y)
    if arr.dtype == object:
        try:
            arr = arr.astype(np.float64)
        except (TypeError, ValueError) as exc:
            raise TypeError(
                f"{prefix}a waveform must hold real numbers; got {exc}"
            ) from None
    if arr.ndim != 1:
        raise ValueError(
            f"{prefix}a waveform must be 1-D (n_samples,); got shape {arr.shape}. "
            "Mix multichannel audio down first, e.g. with librosa.to_mono."
        )
    if arr.size == 0:
        raise ValueError(f"{prefix}waveform is empty (0 samples)")
    kind = arr.dtype.kind
    if kind not in "iuf":
        raise TypeError(
            f"{prefix}a waveform must hold real numbers; got dtype {arr.dtype}"
        )
    if kind == "i":  # PCM convention: full scale is 1.0
        arr = arr.astype(np.float32) * np.float32(2.0 ** (1 - 8 * arr.dtype.itemsize))
    elif kind == "u":
        mid = 2 ** (8 * arr.dtype.itemsize - 1)
        arr = (arr.astype(np.float64) - mid).astype(np.float32) / np.float32(mid)
    out = np.ascontiguousarray(arr, dtype=np.float32)
    if not np.isfinite(out).all():
        raise ValueError(f"{prefix}waveform contains NaN or infinite values")
    return out


def load_audio(source, *, sr=None, max_bytes=MAX_BYTES):
    """Load one utterance as a mono float32 waveform.

    Parameters
    ----------
    source : str, os.PathLike or array-like of shape (n_samples,)
        An audio file (WAV PCM/float, FLAC, OGG or any libsndfile format,
        judged by content; channels averaged) or a waveform (integers scaled
        as PCM).
    sr : int or None, default=None
        Target sample rate (files are resampled); None keeps a file's own.
        Required for a waveform, which is taken to be at ``sr``.
    max_bytes : int, default=2**30
        The most bytes the file, its float32 samples or the resampled float64
        waveform may take, checked before allocating.

    Returns
    -------
    y : np.ndarray [shape=(n_samples,), dtype=float32]
        The waveform, mono.
    sr : int
        Its sample rate.

    Raises
    ------
    AudioReadError
        The file is missing, not a regular file (never read, never blocking),
        empty, over ``max_bytes``, truncated, not audio, has no or non-finite
        samples, or a sample rate outside 1,000 to 768,000 Hz.
    ValueError
        A waveform is empty, not 1-D or holds NaN or infinite values.

    Examples
    --------
    >>> import numpy as np
    >>> from skvae.audio import load_audio
    >>> y, sr = load_audio(np.zeros(8000), sr=8000)
    >>> y.dtype, y.shape, sr
    (dtype('float32'), (8000,), 8000)
    """
    if sr is not None and (
        not isinstance(sr, Integral) or isinstance(sr, bool) or sr <= 0
    ):
        raise ValueError(f"sr must be a positive int or None; got {sr!r}")
    if not isinstance(max_bytes, Integral) or isinstance(max_bytes, bool):
        raise TypeError(f"max_bytes must be an int; got {max_bytes!r}")
    if max_bytes < 1:
        raise ValueError(f"max_bytes must be at least 1; got {max_bytes}")
    if not _is_path(source):
        if sr is None:
            raise ValueError("sr must be given for a waveform: its rate is unknown")
        return _as_waveform(source), int(sr)
    path = os.fspath(source)
    data, file_sr = _read_file(path, max_bytes)
    y = data[:, 0] if data.shape[1] == 1 else data.mean(axis=1, dtype=np.float32)
    if not np.isfinite(y).all():
        raise AudioReadError(path, "the audio contains NaN or infinite samples")
    if sr is None or sr == file_sr:
        return np.ascontiguousarray(y), file_sr
    try:
        return resample(y, file_sr, sr, max_bytes=max_bytes), int(sr)
    except ValueError as exc:
        raise AudioReadError(path, str(exc)) from None


def write_wav(path, y, sr, *, subtype="PCM_16", normalize=False):
    """Write a mono waveform to a WAV file.

    Parameters
    ----------
    path : str or os.PathLike
        Output file; its folder must exist.
    y : array-like of shape (n_samples,)
        Waveform, nominally in [-1, 1].
    sr : int
        Sample rate in Hz.
    subtype : str, default="PCM_16"
        A soundfile WAV subtype ("PCM_16", "PCM_24", "FLOAT", ...); PCM clips.
    normalize : bool, default=False
        Scale a non-silent waveform to a peak of 0.99 first.

    Returns
    -------
    path : str
        The path written.

    Examples
    --------
    >>> import os, tempfile
    >>> import numpy as np
    >>> from skvae.audio import load_audio, write_wav
    >>> tone = 0.5 * np.sin(2 * np.pi * 440 * np.arange(8000) / 8000)
    >>> with tempfile.TemporaryDirectory() as tmp:
    ...     out = write_wav(os.path.join(tmp, "tone.wav"), tone, 8000)
    ...     y, sr = load_audio(out)
    >>> sr, round(float(abs(y).max()), 3)
    (8000, 0.5)
    """
    if not isinstance(sr, Integral) or isinstance(sr, bool) or sr <= 0:
        raise ValueError(f"sr must be a positive int; got {sr!r}")
    y = _as_waveform(y).astype(np.float64)
    peak = np.abs(y).max()
    if normalize and peak > 0:
        y = y * (0.99 / peak)
    if not str(subtype).upper().startswith(("FLOAT", "DOUBLE")):
        y = np.clip(y, -1.0, 1.0)
    import soundfile as sf

    path = os.fspath(path)
    sf.write(path, y, int(sr), subtype=subtype, format="WAV")
    return path


def _as_items(X):
    """The rows of ``X`` as a list, refusing containers that are not rows."""
    wrap = "X must be a sequence of utterances (file paths or waveforms), one per row"
    if _is_path(X):
        raise TypeError(f"{wrap}; got the single path {os.fspath(X)!r}: use [path].")
    if hasattr(X, "tocsr") or type(X).__module__.startswith("scipy.sparse"):
        raise TypeError(f"Sparse input is not supported: {wrap}.")
    if not isinstance(X, list | tuple | np.ndarray):
        if hasattr(X, "to_numpy"):  # pandas / polars Series and DataFrame
            X = X.to_numpy()
        elif hasattr(X, "__array__"):
            X = np.asarray(X)
    if not isinstance(X, np.ndarray):
        try:
            return list(X)
        except TypeError:
            raise TypeError(f"{wrap}; got {type(X).__name__}") from None
    if X.dtype.kind == "c":
        raise ValueError("Complex data not supported: waveforms must be real.")
    if X.ndim == 1 and X.dtype.kind in "biuf":
        raise ValueError(
            "X is a 1-D numeric array, which is ambiguous: X must be a sequence "
            "of utterances, one per row. Reshape your data: pass one waveform y "
            "as [y], several as a list or as a 2-D array (n_utterances, n_samples)."
        )
    if X.ndim not in (1, 2):
        raise ValueError(
            "X must be 1-D (a sequence of utterances) or 2-D (rows of "
            f"equal-length waveforms); got an array of shape {X.shape}"
        )
    if X.ndim == 2 and X.dtype.kind in "OUS" and X.shape[1] == 1 and len(X):
        # one column of paths or waveforms, unless numbers (1-sample waveforms)
        return list(X) if isinstance(X[0, 0], Real) else list(X[:, 0])
    if X.ndim == 2 and X.dtype.kind not in "biufO":
        raise TypeError(
            f"a 2-D X of dtype {X.dtype} must have a single column of file paths"
        )
    if X.ndim == 2 and X.shape[1] == 0 and len(X):
        raise ValueError(
            f"Found array with 0 feature(s) (shape={X.shape}) while a minimum of "
            "1 is required: the waveforms are empty (0 samples)."
        )
    return list(X)


def check_utterances(X):
    """Check a sequence of utterances and return it as a list, one per row.

    Parameters
    ----------
    X : sequence or array-like
        Utterances, one per row: file paths and/or 1-D waveforms (list, tuple,
        object array, Series), a 2-D array of equal-length waveforms, or one
        column of paths (2-D array, DataFrame).

    Returns
    -------
    utterances : list of (str or np.ndarray [shape=(n_samples,), dtype=float32])
        Each row as a ``str`` path (not read here) or a checked waveform.

    Raises
    ------
    TypeError, ValueError
        ``X`` is not that, or a row is not a path or a 1-D finite waveform.

    Examples
    --------
    >>> import numpy as np
    >>> from skvae.audio import check_utterances
    >>> rows = check_utterances(["a.wav", np.zeros(3, dtype=np.int16)])
    >>> rows[0], rows[1].dtype
    ('a.wav', dtype('float32'))
    """
    items = _as_items(X)
    if len(items) == 0:
        raise ValueError("X holds no utterances (0 rows): at least one is required.")
    if all(isinstance(item, Real) for item in items):
        raise ValueError(
            "X is a flat sequence of numbers: X must be a sequence of utterances, "
            "one per row. Pass one waveform y as [y]."
        )
    out = []
    for i, item in enumerate(items):
        if _is_path(item):
            out.append(os.fspath(item))
        elif item is None or isinstance(item, bytes | dict):
            raise TypeError(
                f"X[{i}]: expected a file path or a 1-D waveform; "
                f"got {type(item).__name__}"
            )
        else:
            out.append(_as_waveform(item, i))
    return out
