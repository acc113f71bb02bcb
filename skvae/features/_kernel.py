"""Numpy kernel of the speech front end.

Everything here runs inside joblib workers, one chunk of utterances per task,
so the module imports only numpy (WAV files are decoded with numpy; soundfile,
scipy and soxr are imported on demand, librosa never: silence trimming and
resampling are written out as librosa computes them): a fresh worker starts
in a fraction of a second. The mel filterbank (the same as librosa's) and DCT
matrices of a configuration are built once per process in a ``_Plan``, which
travels to the workers as its parameters only.

The STFT is computed for a whole chunk at once: the zero-padded utterances
are laid out in one buffer and their frames are gathered, windowed, FFT-ed
and projected on the mel filterbank in cache-sized blocks of frames, which
removes most of the per-file overhead of calling ``librosa.stft`` once per
utterance (and bounds the memory used by long recordings). It matches
``librosa.stft(center=True, pad_mode="constant", window="hann")`` followed by
``librosa.feature.melspectrogram`` and ``librosa.power_to_db(top_db=None)``.
Everything is computed in float64 and the result is cast to float32. A row
does not depend, bit for bit, on the other utterances it is batched with:
the FFT of a frame does not depend on the other frames, and the matrix
products (mel filterbank, DCT), whose rounding can depend on a row's place
in the product with some BLAS kernels (OpenBLAS on AVX2 CPUs), are computed
utterance by utterance, each cut into blocks from its own first frame. The
chunks themselves are fixed by the estimator, not by ``n_jobs``, and every
chunk runs with one BLAS thread (whatever ``n_jobs`` and the worker's
environment), so the output does not depend on ``n_jobs`` either.
"""

import math
import threading
import warnings
from dataclasses import dataclass
from functools import lru_cache

import numpy as np

from ._audio import _read_mono

AMIN = 1e-10  # power floor of the log: silence is 10 * log10(AMIN) = -100 dB
_STD_FLOOR = 1e-8  # CMVN: features of smaller std (dB) are constant: exactly 0
_BLOCK_ELEMENTS = 1 << 17  # samples per FFT block: 1 MiB of frames, cache-sized
_BATCH_SAMPLES = 1 << 21  # samples per STFT batch: a 16 MiB float64 buffer
_WORKSPACE_MAX_BYTES = 32 << 20  # larger scratch arrays are not kept


_local = threading.local()


def _workspace(name, shape, dtype):
    """A scratch array of this shape, reused from call to call in this thread.

    Large temporaries that are allocated and freed for every chunk are
    returned to the operating system by malloc and page-faulted back in the
    next time, which cost about 40 % of the extraction time; reusing
    per-thread buffers avoids it. A workspace array must never leave the
    function that asked for it.
    """
    size = math.prod(shape)
    if size * np.dtype(dtype).itemsize > _WORKSPACE_MAX_BYTES:
        return np.empty(shape, dtype=dtype)  # e.g. a very long file: not kept
    arr = getattr(_local, name, None)
    if arr is None or arr.size < size or arr.dtype != dtype:
        arr = np.empty(max(size, 1), dtype=dtype)
        setattr(_local, name, arr)
    return arr[:size].reshape(shape)


@dataclass(frozen=True, eq=False)
class _Plan:
    """Resolved parameters and precomputed matrices of one feature config.

    It pickles as its parameters only (a few hundred bytes per joblib task)
    and is rebuilt, once per process, by :func:`make_plan`.
    """

    params: tuple  # the arguments of make_plan
    sr: int
    n_fft: int
    hop_length: int
    window: np.ndarray  # (n_fft,) float64
    mel_basis_t: np.ndarray  # (1 + n_fft // 2, n_mels) float64
    dct_t: np.ndarray | None  # (n_mels, n_mfcc) float64, None for log-mel
    preemphasis: float | None
    top_db: float | None
    delta_order: int
    delta_width: int
    cmvn: str | None
    context: int
    output: str
    n_frames: int
    stats: tuple
    band_sr: int | None  # band-limit input above this rate to band_sr / 2
    level: float | None  # active RMS level (dBFS) utterances are scaled to
    pad_row: np.ndarray | None = None  # (n_frame_features,) for output="pad"

    def __reduce__(self):
        return make_plan, self.params


# --------------------------------------------------------------------------
# filterbanks (numpy versions of librosa's, so that workers need no librosa)
# --------------------------------------------------------------------------
_F_SP = 200.0 / 3  # Slaney mel scale: linear below 1 kHz, logarithmic above
_MIN_LOG_HZ = 1000.0
_MIN_LOG_MEL = _MIN_LOG_HZ / _F_SP
_LOGSTEP = math.log(6.4) / 27.0


def _hz_to_mel(hz):
    hz = np.asarray(hz, dtype=np.float64)
    mel = hz / _F_SP
    log = hz >= _MIN_LOG_HZ
    mel[log] = _MIN_LOG_MEL + np.log(hz[log] / _MIN_LOG_HZ) / _LOGSTEP
    return mel


def _mel_to_hz(mel):
    mel = np.asarray(mel, dtype=np.float64)
    hz = _F_SP * mel
    log = mel >= _MIN_LOG_MEL
    hz[log] = _MIN_LOG_HZ * np.exp(_LOGSTEP * (mel[log] - _MIN_LOG_MEL))
    return hz


def mel_filterbank(sr, n_fft, n_mels, fmin, fmax):
    """Mel filterbank (n_mels, 1 + n_fft // 2), as ``librosa.filters.mel``.

    Slaney mel scale and Slaney (area) normalisation, float64.
    """
    fftfreqs = np.fft.rfftfreq(n_fft, d=1.0 / sr)
    mel_f = _mel_to_hz(
        np.linspace(_hz_to_mel([fmin])[0], _hz_to_mel([fmax])[0], n_mels + 2)
    )
    fdiff = np.diff(mel_f)
    ramps = np.subtract.outer(mel_f, fftfreqs)
    lower = -ramps[:-2] / fdiff[:-1, None]
    upper = ramps[2:] / fdiff[1:, None]
    weights = np.maximum(0.0, np.minimum(lower, upper))
    weights *= (2.0 / (mel_f[2:] - mel_f[:-2]))[:, None]
    if not np.all((mel_f[:-2] == 0) | (weights.max(axis=1) > 0)):
        warnings.warn(
            "Empty filters detected in mel frequency basis. Some channels will "
            "produce empty responses. Try increasing your sampling rate (and "
            "fmax) or reducing n_mels.",
            UserWarning,
            stacklevel=3,
        )
    return weights


def dct_matrix(n_out, n_in):
    """Orthonormal DCT-II matrix (n_out, n_in), as ``scipy.fft.dct(norm="ortho")``."""
    k = np.arange(n_out)[:, None]
    n = np.arange(n_in)[None, :]
    D = np.sqrt(2.0 / n_in) * np.cos(np.pi * k * (2 * n + 1) / (2 * n_in))
    D[0] /= np.sqrt(2.0)
    return D


@lru_cache(maxsize=16)
def make_plan(
    kind,
    sr,
    n_fft,
    hop_length,
    n_mels,
    n_mfcc,
    fmin,
    fmax,
    preemphasis,
    top_db,
    delta_order,
    delta_width,
    cmvn,
    context,
    output,
    n_frames,
    stats,
    band_sr=None,
    level=None,
):
    """Build (and cache, per process) the plan of one feature configuration."""
    params = (kind, sr, n_fft, hop_length, n_mels, n_mfcc, fmin, fmax)
    params += (preemphasis, top_db, delta_order, delta_width, cmvn, context)
    params += (output, n_frames, stats, band_sr, level)
    window = 0.5 - 0.5 * np.cos(2.0 * np.pi * np.arange(n_fft) / n_fft)  # periodic
    mel = mel_filterbank(sr, n_fft, n_mels, fmin, fmax)
    dct_t = dct_matrix(n_mfcc, n_mels).T.copy() if kind == "mfcc" else None
    plan = _Plan(
        params=params,
        sr=sr,
        n_fft=n_fft,
        hop_length=hop_length,
        window=window,
        mel_basis_t=np.ascontiguousarray(mel.T),
        dct_t=dct_t,
        preemphasis=preemphasis,
        top_db=top_db,
        delta_order=delta_order,
        delta_width=delta_width,
        cmvn=cmvn,
        context=context,
        output=output,
        n_frames=n_frames,
        stats=stats,
        band_sr=band_sr if band_sr is not None and band_sr < sr else None,
        level=level,
    )
    # the features of digital silence, used to pad short utterances
    silence = np.full((1, n_mels), 10.0 * np.log10(AMIN))
    if dct_t is not None:
        silence = silence @ dct_t
    silence = np.repeat(silence, 3, axis=0)  # three bitwise identical frames
    object.__setattr__(plan, "pad_row", _postprocess(silence, plan)[1])
    return plan


# --------------------------------------------------------------------------
# waveform level
# --------------------------------------------------------------------------
def _preemphasis(y, coef):
    """y[n] - coef * y[n - 1], with y[-1] = 0 (inverted by ``_deemphasis``)."""
    out = y.astype(np.float64)
    out[1:] -= coef * y[:-1]
    return out


def _deemphasis(y, coef):
    from scipy.signal import lfilter

    return lfilter([1.0], [1.0, -coef], y, axis=-1)


def _frame_rms(y, frame_length, hop_length):
    """RMS of each frame of ``y`` (zero-padded by half a frame at both ends).

    The same values as ``librosa.feature.rms(y=y, frame_length=...,
    hop_length=..., center=True, pad_mode="constant")[0]``, bit for bit: the
    same NumPy operations on arrays of the same shape, strides and dtype
    (float32 squares, as librosa's default ``dtype``), written out here so
    that feature extraction does not import librosa (whose first import
    costs seconds, and on a fresh install compiles numba kernels).
    """
    half = int(frame_length // 2)
    y = np.pad(y, [(half, half)], mode="constant")
    # librosa.util.frame: (frame_length, n_frames) view, one column per frame
    n_frames = y.shape[0] - frame_length + 1
    frames = np.lib.stride_tricks.as_strided(
        y,
        shape=(n_frames, frame_length),
        strides=(y.strides[0], y.strides[0]),
        writeable=False,
    )
    frames = np.moveaxis(frames, -1, 0)[:, ::hop_length]
    power = np.mean(np.square(frames, dtype=np.float32), axis=-2, keepdims=True)
    return np.sqrt(power)[0]


def _trim(y, plan):
    """Drop leading/trailing silence quieter than ``top_db`` below the peak.

    The same cut as ``librosa.effects.trim(y, top_db=plan.top_db,
    frame_length=plan.n_fft, hop_length=plan.hop_length)`` (frame RMS in dB
    relative to the loudest frame, by ``librosa.amplitude_to_db``'s
    arithmetic; ``tests/test_features.py`` checks the two agree), without
    importing librosa. A waveform that is silent throughout is kept whole:
    trimming never produces an empty utterance.
    """
    rms = np.abs(_frame_rms(y, plan.n_fft, plan.hop_length))
    ref = np.max(rms)
    amin = 1e-5**2  # amplitude_to_db's default amin (1e-5), squared
    db = 10.0 * np.log10(np.maximum(amin, np.square(rms)))
    db -= 10.0 * np.log10(np.maximum(amin, ref**2))
    loud = np.flatnonzero(db > -plan.top_db)
    if loud.size == 0:
        return y
    start = int(loud[0] * plan.hop_length)
    end = min(y.shape[-1], int((loud[-1] + 1) * plan.hop_length))
    yt = y[start:end]
    return yt if yt.size else y


_ACTIVE_DB = 30.0  # blocks this far below the loudest are not "active"


def active_rms(y, block):
    """RMS of the active part of a waveform: its blocks of ``block`` samples
    (the last one longer) within ``_ACTIVE_DB`` dB of the loudest block.

    Scaling ``y`` scales the result by the same factor: which blocks are
    active does not depend on the level. 0 for digital silence.
    """
    y = np.asarray(y, dtype=np.float64)
    n_blocks = max(1, y.shape[0] // block)
    starts = np.arange(n_blocks) * block
    sizes = np.diff(np.append(starts, y.shape[0]))
    power = np.add.reduceat(np.square(y), starts) / sizes
    peak = power.max()
    if not peak > 0:
        return 0.0
    active = power >= peak * 10.0 ** (-_ACTIVE_DB / 10.0)
    return math.sqrt(np.dot(power[active], sizes[active]) / sizes[active].sum())


def _set_level(y, level_db, block):
    """Scale ``y`` so that its active RMS is ``level_db`` dBFS (float64)."""
    rms = active_rms(y, block)
    y = np.asarray(y, dtype=np.float64)
    if rms == 0.0:
        return y  # digital silence stays silent
    return y * (10.0 ** (level_db / 20.0) / rms)


def _band_limit(y, rate, index, path, plan):
    """Bring ``y`` (at ``rate``) to ``plan.sr``, through ``plan.band_sr`` when
    ``rate`` is higher, so that it has no more bandwidth than the training
    audio. Returns the waveform and whether it was band-limited."""
    from ._audio import _resample

    limited = plan.band_sr is not None and rate > plan.band_sr
    if limited:
        y = _resample(y, rate, plan.band_sr, path, index)
        rate = plan.band_sr
    if rate != plan.sr:
        y = _resample(y, rate, plan.sr, path, index)
    return y, limited


def _waveforms(items, start, plan):
    """Load, band-limit, level, trim and pre-emphasise a chunk's utterances.

    Returns the waveforms at ``plan.sr`` and how many were band-limited.
    """
    ys, n_limited = [], 0
    for k, item in enumerate(items):
        if isinstance(item, str):
            y, rate = _read_mono(item, start + k)
            y, limited = _band_limit(y, rate, start + k, item, plan)
        else:
            y, limited = _band_limit(item, plan.sr, start + k, None, plan)
        n_limited += limited
        if plan.level is not None:  # first: trimming has a log floor too
            y = _set_level(y, plan.level, plan.hop_length)
        if plan.top_db is not None:
            y = _trim(y, plan)
        if plan.preemphasis:
            y = _preemphasis(y, plan.preemphasis)
        ys.append(y)
    return ys, n_limited


# --------------------------------------------------------------------------
# frame level
# --------------------------------------------------------------------------
def _blocks(n_frames, block):
    """Split a batch's frames into STFT blocks that never cut an utterance
    at a batch-dependent place.

    Yields ``(lo, hi, cuts)``: the frames ``lo:hi`` of the batch, and the
    bounds of the utterance pieces in them (relative to ``lo``). Consecutive
    whole utterances are grouped up to ``block`` frames; a longer utterance
    is cut every ``block`` frames from its own first frame. So every matrix
    product (one per piece) sees the same rows whatever the utterance is
    batched with.
    """
    lo, cuts = 0, [0]
    start = 0
    for n in n_frames:
        if n > block:  # a long utterance: blocks of its own
            if len(cuts) > 1:
                yield lo, start, cuts
            for a in range(0, n, block):
                b = min(n, a + block)
                yield start + a, start + b, [0, b - a]
            lo, cuts = start + n, [0]
        else:
            if cuts[-1] + n > block:
                yield lo, start, cuts
                lo, cuts = start, [0]
            cuts.append(cuts[-1] + n)
        start += n
    if len(cuts) > 1:
        yield lo, start, cuts


def _static_features(ys, plan):
    """Log-mel (dB) or MFCC frames of each waveform: list of (n_t, d) float64.

    The FFTs of a block of frames are computed together (the FFT of a frame
    does not depend on the other rows), but the mel and DCT projections, as
    matrix products whose rounding may depend on a row's position in the
    product with some BLAS kernels, are computed utterance by utterance.
    """
    n_fft, hop = plan.n_fft, plan.hop_length
    half = n_fft // 2
    lengths = np.array([y.shape[0] for y in ys])
    padded = lengths + 2 * half
    n_frames = 1 + (padded - n_fft) // hop
    offsets = np.zeros(len(ys) + 1, dtype=np.intp)
    np.cumsum(padded, out=offsets[1:])
    buf = _workspace("buf", (offsets[-1],), np.float64)
    buf[:] = 0.0
    for y, off in zip(ys, offsets[:-1]):
        buf[off + half : off + half + y.shape[0]] = y
    starts = np.repeat(offsets[:-1], n_frames) + hop * (
        np.arange(n_frames.sum()) - np.repeat(np.cumsum(n_frames) - n_frames, n_frames)
    )
    view = np.lib.stride_tricks.sliding_window_view(buf, n_fft)
    n_bins, n_mels = plan.mel_basis_t.shape
    mel = _workspace("mel", (starts.size, n_mels), np.float64)
    block = max(1, _BLOCK_ELEMENTS // n_fft)  # bounds memory for long audio
    for lo, hi, cuts in _blocks(n_frames.tolist(), block):
        idx = starts[lo:hi]
        frames = view[idx]  # gather (np.take into a workspace is slower)
        frames *= plan.window
        spec = _workspace("spec", (idx.size, n_bins), np.complex128)
        np.fft.rfft(frames, axis=-1, out=spec)
        power = _workspace("power", (idx.size, n_bins), np.float64)
        imag2 = _workspace("imag2", (idx.size, n_bins), np.float64)
        np.square(spec.real, out=power)
        np.square(spec.imag, out=imag2)
        power += imag2
        for a, b in zip(cuts[:-1], cuts[1:]):
            np.matmul(power[a:b], plan.mel_basis_t, out=mel[lo + a : lo + b])
    np.maximum(mel, AMIN, out=mel)
    np.log10(mel, out=mel)
    mel *= 10.0
    bounds = np.cumsum(n_frames)[:-1]
    # the only arrays that leave this function: fresh ones
    if plan.dct_t is None:
        return np.split(mel.copy(), bounds)
    return [F @ plan.dct_t for F in np.split(mel, bounds)]


def _postprocess(F, plan):
    """Deltas, then CMVN, then context stacking, on one utterance's frames."""
    if plan.delta_order:
        from scipy.signal import savgol_filter

        parts = [F]
        for order in range(1, plan.delta_order + 1):
            parts.append(
                savgol_filter(
                    F,
                    plan.delta_width,
                    deriv=order,
                    polyorder=order,
                    axis=0,
                    mode="nearest",
                )
            )
        F = np.hstack(parts)
    if plan.cmvn is not None:
        F = F - F.mean(axis=0)
        std = F.std(axis=0)
        # a feature constant over the utterance (digital silence, padding)
        # becomes exactly 0, not the rounding error of its mean, which
        # differs with the CPU's SIMD and BLAS kernels
        constant = std < _STD_FLOOR
        F[:, constant] = 0.0
        if plan.cmvn == "meanvar":
            std[constant] = 1.0
            F /= std
    if plan.context:
        c, n = plan.context, F.shape[0]
        Fp = np.pad(F, ((c, c), (0, 0)), mode="edge")
        F = np.hstack([Fp[k : k + n] for k in range(2 * c + 1)])
    return F


def _resample_time(F, n_out):
    """Linearly interpolate frames (n_t, d) to (n_out, d), ends kept."""
    n_t = F.shape[0]
    if n_t == n_out:
        return F
    if n_t == 1:
        return np.repeat(F, n_out, axis=0)
    pos = np.linspace(0.0, n_t - 1, n_out)
    i0 = np.minimum(pos.astype(np.intp), n_t - 2)
    w = (pos - i0)[:, None]
    return F[i0] * (1.0 - w) + F[i0 + 1] * w


def _pad_crop(F, n_out, pad_row):
    n_t = F.shape[0]
    if n_t >= n_out:
        return F[:n_out]
    return np.vstack([F, np.broadcast_to(pad_row, (n_out - n_t, F.shape[1]))])


_STATS = {
    "mean": lambda F: F.mean(axis=0),
    "std": lambda F: F.std(axis=0),
    "min": lambda F: F.min(axis=0),
    "max": lambda F: F.max(axis=0),
    "median": lambda F: np.median(F, axis=0),
}


def _to_row(F, plan):
    if plan.output == "resample":
        return _resample_time(F, plan.n_frames).ravel()
    if plan.output == "pad":
        return _pad_crop(F, plan.n_frames, plan.pad_row).ravel()
    return np.concatenate([_STATS[s](F) for s in plan.stats])


# --------------------------------------------------------------------------
# entry points (one joblib task each)
# --------------------------------------------------------------------------
def _frames_chunk(items, start, plan):
    """Frame features of a chunk of utterances: list of (n_t, d) float64,
    and the number of utterances that were band-limited."""
    ys, n_limited = _waveforms(items, start, plan)
    statics, batch, size = [], [], 0
    for y in ys:  # STFT batches of at most _BATCH_SAMPLES (or one utterance)
        if batch and size + y.shape[0] > _BATCH_SAMPLES:
            statics += _static_features(batch, plan)
            batch, size = [], 0
        batch.append(y)
        size += y.shape[0]
    statics += _static_features(batch, plan)
    return [_postprocess(F, plan) for F in statics], n_limited


_controller = None


def _one_blas_thread():
    """A context in which BLAS runs on one thread (threadpoolctl).

    joblib's process workers get ``cpu_count() // n_jobs`` BLAS threads; the
    split of a matrix product between threads can change its rounding, and
    each job is meant to use one core.
    """
    global _controller
    if _controller is None:
        from threadpoolctl import ThreadpoolController

        _controller = ThreadpoolController()
    return _controller.limit(limits=1, user_api="blas")


def rows_chunk(items, start, plan):
    """Fixed-size rows (n_items, n_features_out) float32 of a chunk, and the
    number of utterances that were band-limited."""
    with _one_blas_thread():
        frames, n_limited = _frames_chunk(items, start, plan)
    rows = np.vstack([_to_row(F, plan) for F in frames]).astype(np.float32)
    return rows, n_limited


def frames_chunk(items, start, plan):
    """All frames (sum n_t, d) float32, each utterance's frame count, and the
    number of utterances that were band-limited."""
    with _one_blas_thread():
        frames, n_limited = _frames_chunk(items, start, plan)
    counts = np.array([F.shape[0] for F in frames], dtype=np.intp)
    return np.vstack(frames).astype(np.float32), counts, n_limited
