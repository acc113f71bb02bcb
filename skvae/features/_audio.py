"""Reading and writing audio: file paths or waveforms in, mono float32 out.

This module is imported by the parallel workers of the feature extractors, so
it imports only numpy at module level: PCM and float WAV files are decoded by
numpy alone, soundfile (libsndfile) is imported for the other formats and
soxr (the resampler librosa uses) only when a file has to be resampled;
librosa is never imported here.
"""

import io
import os
import stat
from numbers import Integral, Real

import numpy as np

__all__ = ["AudioReadError", "load_audio", "write_wav"]

# WAVE format tags handled by the fast reader (others go through libsndfile)
_WAVE_FORMAT_PCM = 0x0001
_WAVE_FORMAT_IEEE_FLOAT = 0x0003
_WAVE_FORMAT_EXTENSIBLE = 0xFFFE
# a data chunk size of 0xFFFFFFFF means "unknown, read to the end of file"
_WAV_SIZE_UNKNOWN = 0xFFFFFFFF

#: The most bytes an audio file, its decoded float32 samples or a resampled
#: float64 waveform may take (1 GiB, 4.5 hours of 16 kHz audio in float32):
#: a bound on the memory one utterance can claim; see ``load_audio``.
MAX_BYTES = 1 << 30
#: The sample rates a file header may declare, in Hz: others are corrupt.
MIN_SR, MAX_SR = 1000, 768_000

_FILE_KINDS = (
    (stat.S_ISFIFO, "a FIFO (named pipe)"),
    (stat.S_ISCHR, "a character device"),
    (stat.S_ISBLK, "a block device"),
    (stat.S_ISSOCK, "a socket"),
)


class AudioReadError(ValueError, OSError):
    """An audio file could not be read.

    Raised for files that do not exist, are not regular files (FIFOs,
    devices, sockets, directories), are empty, too large, truncated, hold no
    audio samples, declare an implausible sample rate, hold NaN or infinite
    samples, or are not in an audio format that libsndfile can decode. It
    subclasses both :class:`ValueError` and :class:`OSError`.

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
    >>> from skvae.features import AudioReadError, load_audio
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


def _is_path(source):
    return isinstance(source, str | os.PathLike)


# --------------------------------------------------------------------------
# file reading
# --------------------------------------------------------------------------
def _check_sr(sr, path):
    if not MIN_SR <= sr <= MAX_SR:
        raise AudioReadError(
            path,
            f"implausible sample rate {sr} Hz in the file header (audio files "
            f"are read at {MIN_SR} to {MAX_SR} Hz): corrupt header?",
        )


def _check_decoded_size(n_values, path, max_bytes):
    if 4 * n_values > max_bytes:
        raise AudioReadError(
            path,
            f"its {n_values} samples would take {4 * n_values} bytes as float32, "
            f"more than max_bytes={max_bytes}",
        )


def _parse_wav(buf, path, max_bytes=MAX_BYTES):
    """Decode a RIFF/WAVE byte string with numpy.

    Returns ``(data, sr)`` with ``data`` of shape (n_samples, n_channels)
    float32, or None when the file is a WAVE encoding this reader does not
    handle (ADPCM, mu-law, ...), which is then left to libsndfile. Raises
    AudioReadError for WAV files that are truncated or hold no samples:
    libsndfile would silently read what is there.
    """
    if len(buf) < 12 or buf[:4] != b"RIFF" or buf[8:12] != b"WAVE":
        return None
    pos, fmt, data_start, declared = 12, None, None, None
    n = len(buf)
    while pos + 8 <= n:
        cid = buf[pos : pos + 4]
        size = int.from_bytes(buf[pos + 4 : pos + 8], "little")
        body = pos + 8
        if cid == b"fmt ":
            if size < 16 or body + 16 > n:
                raise AudioReadError(path, "truncated: incomplete 'fmt ' chunk")
            fmt = buf[body : body + min(size, 40, n - body)]
        elif cid == b"data":
            data_start, declared = body, size
            break
        pos = body + size + (size & 1)
    if fmt is None:
        if data_start is None:
            raise AudioReadError(
                path, "truncated or corrupt WAV: no 'fmt ' and no 'data' chunk"
            )
        return None  # 'fmt ' after 'data': unusual, let libsndfile decide
    if data_start is None:
        raise AudioReadError(path, "truncated or corrupt WAV: no 'data' chunk")

    tag = int.from_bytes(fmt[0:2], "little")
    channels = int.from_bytes(fmt[2:4], "little")
    sr = int.from_bytes(fmt[4:8], "little")
    block_align = int.from_bytes(fmt[12:14], "little")
    bits = int.from_bytes(fmt[14:16], "little")
    if tag == _WAVE_FORMAT_EXTENSIBLE and len(fmt) >= 26:
        tag = int.from_bytes(fmt[24:26], "little")  # sub-format GUID
    if channels == 0 or sr == 0:
        raise AudioReadError(
            path, f"corrupt WAV header ({channels} channels, sample rate {sr})"
        )
    _check_sr(sr, path)
    width = bits // 8
    if (
        bits % 8
        or block_align != channels * width
        or (tag, bits)
        not in {
            (_WAVE_FORMAT_PCM, 8),
            (_WAVE_FORMAT_PCM, 16),
            (_WAVE_FORMAT_PCM, 24),
            (_WAVE_FORMAT_PCM, 32),
            (_WAVE_FORMAT_IEEE_FLOAT, 32),
            (_WAVE_FORMAT_IEEE_FLOAT, 64),
        }
    ):
        return None

    available = n - data_start
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
    if tag == _WAVE_FORMAT_IEEE_FLOAT:
        dtype = "<f4" if bits == 32 else "<f8"
        data = np.frombuffer(buf, dtype, count, data_start).astype(np.float32)
    elif bits == 8:  # unsigned
        data = np.frombuffer(buf, np.uint8, count, data_start).astype(np.float32)
        data = (data - 128.0) * np.float32(1 / 128)
    elif bits == 24:
        raw = np.frombuffer(buf, np.uint8, count * 3, data_start).reshape(-1, 3)
        word = np.zeros((count, 4), np.uint8)
        word[:, 1:] = raw  # little endian: low byte zero, sample in top 3
        data = word.view("<i4").ravel().astype(np.float32) * np.float32(2.0**-31)
    else:
        dtype = "<i2" if bits == 16 else "<i4"
        scale = np.float32(2.0 ** -(bits - 1))
        data = np.frombuffer(buf, dtype, count, data_start).astype(np.float32)
        data *= scale
    return data.reshape(n_frames, channels), sr


def _read_soundfile(buf, path, max_bytes=MAX_BYTES):
    import soundfile as sf

    try:
        with sf.SoundFile(io.BytesIO(buf)) as f:
            sr = f.samplerate
            expected = f.frames
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


def _wav_header_sr(head):
    """The sample rate in the 'fmt ' chunk of the start of a WAV file, or
    None (not a WAV file, or the chunk is not in ``head``)."""
    if len(head) < 12 or head[:4] != b"RIFF" or head[8:12] != b"WAVE":
        return None
    pos = 12
    while pos + 8 <= len(head):
        cid = head[pos : pos + 4]
        size = int.from_bytes(head[pos + 4 : pos + 8], "little")
        if cid == b"fmt ":
            body = head[pos + 8 : pos + 16]
            return int.from_bytes(body[4:8], "little") if len(body) == 8 else None
        if cid == b"data":
            return None
        pos += 8 + size + (size & 1)
    return None


def _file_sr(path, index=None):
    """A file's native sample rate, from its header only (checked)."""
    path = os.fspath(path)
    try:
        with _open_regular(path) as fh:
            sr = _wav_header_sr(fh.read(1 << 16))
            if sr is None:
                import soundfile as sf

                fh.seek(0)
                try:
                    with sf.SoundFile(fh) as f:
                        sr = f.samplerate
                except (sf.LibsndfileError, RuntimeError, TypeError, ValueError):
                    # not audio: let the full read say why, with its message
                    fh.seek(0)
                    _read_file(path)
                    raise
        _check_sr(sr, path)
    except AudioReadError as exc:
        if index is not None:
            raise AudioReadError(exc.path, exc.reason, index) from exc.__cause__
        raise
    return sr


def _read_file(path, max_bytes=MAX_BYTES):
    """Read a file into ((n_samples, n_channels) float32, native sr)."""
    path = os.fspath(path)
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
    if parsed is None:
        parsed = _read_soundfile(buf, path, max_bytes)
    return parsed


def _resample(y, orig_sr, target_sr, path=None, index=None, max_bytes=MAX_BYTES):
    """Resample a waveform (soxr, high quality), refusing huge outputs."""
    n_in = y.shape[0]
    n_out = -(-n_in * target_sr // orig_sr)
    if 8 * n_out > max_bytes:  # soxr works in float64
        reason = (
            f"resampling its {y.shape[0]} samples from {orig_sr} Hz to "
            f"{target_sr} Hz would give {n_out} samples ({8 * n_out} bytes in "
            f"float64), more than max_bytes={max_bytes}"
        )
        if path is None:
            prefix = "" if index is None else f"X[{index}]: "
            raise ValueError(f"{prefix}waveform: {reason}")
        raise AudioReadError(path, reason, index)
    import soxr  # librosa's resampler; imported on first use

    # librosa.resample(y, res_type="soxr_hq") step by step (same output, bit
    # for bit), without importing librosa: soxr, then the length fixed to
    # ceil(n * ratio) samples (zero-padded or cut)
    y = soxr.resample(
        y.astype(np.float64), in_rate=orig_sr, out_rate=target_sr, quality="soxr_hq"
    )
    n_fixed = int(np.ceil(n_in * (float(target_sr) / orig_sr)))
    if y.shape[0] > n_fixed:
        y = y[:n_fixed]
    elif y.shape[0] < n_fixed:
        y = np.pad(y, (0, n_fixed - y.shape[0]))
    if y.size == 0:
        reason = f"too short to resample from {orig_sr} Hz to {target_sr} Hz"
        if path is None:
            prefix = "" if index is None else f"X[{index}]: "
            raise ValueError(f"{prefix}waveform is {reason}")
        raise AudioReadError(path, reason, index)
    return np.ascontiguousarray(y, dtype=np.float32)


def _finish(y, name, index=None):
    """Check a mono waveform holds samples and no NaN/inf."""
    if not np.isfinite(y).all():
        if name is None:
            prefix = "" if index is None else f"X[{index}]: "
            raise ValueError(f"{prefix}waveform contains NaN or infinite values")
        raise AudioReadError(name, "the audio contains NaN or infinite samples", index)
    return y


def _read_mono(path, index=None, max_bytes=MAX_BYTES):
    """Read a file as a mono float32 waveform at its own rate: (y, file_sr)."""
    try:
        data, file_sr = _read_file(path, max_bytes)
    except AudioReadError as exc:
        if index is not None:
            raise AudioReadError(exc.path, exc.reason, index) from exc.__cause__
        raise
    y = data[:, 0] if data.shape[1] == 1 else data.mean(axis=1, dtype=np.float32)
    _finish(y, os.fspath(path), index)
    return np.ascontiguousarray(y), file_sr


def _load_path(path, sr, index=None, max_bytes=MAX_BYTES):
    y, file_sr = _read_mono(path, index, max_bytes)
    if sr is not None and file_sr != sr:
        y = _resample(y, file_sr, sr, os.fspath(path), index, max_bytes)
    return y, (file_sr if sr is None else sr)


_INT_SCALE = {1: 2.0**-7, 2: 2.0**-15, 4: 2.0**-31, 8: 2.0**-63}


def _as_waveform(y, index=None):
    """Validate one in-memory waveform and return it as 1-D float32."""
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
    if kind == "b" or kind not in "iuf":
        raise TypeError(
            f"{prefix}a waveform must hold real numbers; got dtype {arr.dtype}"
        )
    if kind == "i":  # PCM convention: full scale is 1.0
        arr = arr.astype(np.float32) * np.float32(_INT_SCALE[arr.dtype.itemsize])
    elif kind == "u":
        mid = 2 ** (8 * arr.dtype.itemsize - 1)
        arr = (arr.astype(np.float64) - mid).astype(np.float32) / np.float32(mid)
    out = np.ascontiguousarray(arr, dtype=np.float32)
    return _finish(out, None, index)


def load_audio(source, *, sr=None, max_bytes=MAX_BYTES):
    """Load one utterance as a mono float32 waveform.

    Parameters
    ----------
    source : str, os.PathLike or array-like of shape (n_samples,)
        An audio file (WAV in 8/16/24/32-bit PCM or 32/64-bit float, FLAC,
        OGG/Vorbis and the other formats of libsndfile; the content decides,
        not the file extension) or a waveform. Multichannel files are mixed
        down to mono by averaging the channels. Integer waveforms are scaled
        as PCM (full scale becomes 1.0).
    sr : int or None, default=None
        Target sample rate. Files at another rate are resampled (soxr, high
        quality). None keeps a file's own rate. A waveform is taken to be at
        ``sr`` already, which must then be given.
    max_bytes : int, default=2**30
        The most bytes a file, its samples decoded to float32, or the
        resampled waveform (in float64, as soxr computes it) may take (1 GiB
        by default, 4.5 hours of 16 kHz audio in float32):
        larger ones raise :class:`AudioReadError` before the memory is
        taken.

    Returns
    -------
    y : np.ndarray [shape=(n_samples,), dtype=float32]
        The waveform, mono.
    sr : int
        Its sample rate.

    Raises
    ------
    AudioReadError
        A file does not exist, is not a regular file (a FIFO, a device such
        as ``/dev/zero``, a directory: never read, so never blocking), is
        empty, larger than ``max_bytes`` (or would be once decoded or
        resampled), truncated, holds no samples, declares a sample rate
        outside 1,000 to 768,000 Hz (a corrupt header), holds NaN or
        infinite samples, or is not audio; the message names the file and
        the reason.
    ValueError
        A waveform is empty, not 1-D or holds NaN or infinite values.

    See Also
    --------
    write_wav : Write a waveform to a WAV file.

    Examples
    --------
    >>> import numpy as np
    >>> from skvae.features import load_audio
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
        raise ValueError(f"max_bytes must be positive; got {max_bytes}")
    if _is_path(source):
        return _load_path(source, sr, max_bytes=max_bytes)
    if sr is None:
        raise ValueError("sr must be given for a waveform: its rate is unknown")
    return _as_waveform(source), int(sr)


def write_wav(path, y, sr, *, subtype="PCM_16", normalize=False):
    """Write a mono waveform to a WAV file.

    Parameters
    ----------
    path : str or os.PathLike
        Output file. Its folder must exist.
    y : array-like of shape (n_samples,)
        Waveform, nominally in [-1, 1].
    sr : int
        Sample rate in Hz.
    subtype : str, default="PCM_16"
        A soundfile WAV subtype: "PCM_16", "PCM_24", "PCM_32", "FLOAT", ...
        Samples outside [-1, 1] are clipped for the PCM subtypes (they would
        otherwise wrap around).
    normalize : bool, default=False
        Scale the waveform so that its peak is at 0.99 of full scale first
        (a silent waveform is left as it is). Useful for audio from a
        generative model, whose level is arbitrary.

    Returns
    -------
    path : str
        The path written.

    Examples
    --------
    >>> import os, tempfile
    >>> import numpy as np
    >>> from skvae.features import load_audio, write_wav
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
    if normalize:
        peak = np.abs(y).max()
        if peak > 0:
            y = y * (0.99 / peak)
    if not str(subtype).upper().startswith(("FLOAT", "DOUBLE")):
        y = np.clip(y, -1.0, 1.0)
    import soundfile as sf

    path = os.fspath(path)
    sf.write(path, y, int(sr), subtype=subtype, format="WAV")
    return path


def _check_sources(X):
    """Turn ``X`` into a list of utterances, one per row.

    Each utterance is a ``str`` file path (read later, in the workers) or a
    validated 1-D float32 waveform. Accepted ``X``: a list, tuple or 1-D
    object array of paths and/or waveforms (they may be mixed; each row is
    handled by its own type), a 2-D numeric array whose rows are waveforms of
    equal length, a 2-D array or DataFrame with a single column of paths, or
    a pandas/polars Series.
    """
    if _is_path(X):
        raise TypeError(
            "X must be a sequence of utterances (file paths or waveforms), one per "
            f"row; got the single path {os.fspath(X)!r}. Wrap it in a list: [path]."
        )
    if hasattr(X, "tocsr") or type(X).__module__.startswith("scipy.sparse"):
        raise TypeError(
            "Sparse input is not supported: X must hold utterances (file paths "
            "or waveforms), one per row."
        )
    if not isinstance(X, list | tuple | np.ndarray):
        if hasattr(X, "to_numpy"):  # pandas / polars Series and DataFrame
            X = X.to_numpy()
        elif hasattr(X, "__array__"):
            X = np.asarray(X)
    if isinstance(X, np.ndarray):
        if X.dtype.kind == "c":
            raise ValueError("Complex data not supported: waveforms must be real.")
        if X.ndim == 1:
            if X.dtype.kind in "biuf":
                raise ValueError(
                    "X is a 1-D numeric array, which is ambiguous: X must be a "
                    "sequence of utterances, one per row. Reshape your data: pass "
                    "one waveform y as [y], several as a list or as a 2-D array "
                    "(n_utterances, n_samples)."
                )
            items = list(X)
        elif X.ndim == 2:
            if X.dtype.kind in "OUS" and X.shape[1] == 1 and X.shape[0] > 0:
                # a single column of paths or waveforms (e.g. a DataFrame
                # column), unless it holds numbers: waveforms of one sample
                first = X[0, 0]
                items = list(X) if isinstance(first, Real) else list(X[:, 0])
            elif X.dtype.kind in "biufO":
                if X.shape[1] == 0 and X.shape[0] > 0:
                    raise ValueError(
                        f"Found array with 0 feature(s) (shape={X.shape}) while a "
                        "minimum of 1 is required: the waveforms are empty "
                        "(0 samples)."
                    )
                items = list(X)
            else:
                raise TypeError(
                    f"a 2-D X of dtype {X.dtype} must have a single column of "
                    "file paths"
                )
        else:
            raise ValueError(
                "X must be 1-D (a sequence of utterances) or 2-D (rows of "
                f"equal-length waveforms); got an array of shape {X.shape}"
            )
    elif isinstance(X, list | tuple):
        items = list(X)
    else:
        try:
            items = list(X)
        except TypeError:
            raise TypeError(
                "X must be a sequence of utterances (file paths or 1-D "
                f"waveforms); got {type(X).__name__}"
            ) from None
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
