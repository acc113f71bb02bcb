"""Log-mel and MFCC frames of a chunk of utterances, in NumPy (one joblib task).

Imports only numpy and :mod:`skvae.audio`. Computes ``librosa.stft`` (centred,
zero-padded), ``melspectrogram`` and ``power_to_db`` in float64 over the arrays
of a :class:`Plan`; matrix products run per utterance on one BLAS thread, so
an utterance's features never depend on its batch or on ``n_jobs``.
"""

import math
import threading
from dataclasses import dataclass

import numpy as np

from ..audio import AudioReadError, load_audio, resample

AMIN = 1e-10  # power floor of the log: silence is 10 * log10(AMIN) = -100 dB
_STD_FLOOR = 1e-8  # CMVN: features of smaller std (dB) are constant: exactly 0
_BLOCK_ELEMENTS = 1 << 17  # samples per FFT block: 1 MiB of frames, cache-sized
_BATCH_SAMPLES = 1 << 21  # samples per STFT batch: a 16 MiB float64 buffer
_WORKSPACE_MAX_BYTES = 32 << 20  # larger scratch arrays are not kept
_ACTIVE_DB = 30.0  # level: blocks this far below the loudest are not "active"

_local = threading.local()


def _workspace(name, shape, dtype):
    """A scratch array reused by this thread; it must never leave its caller."""
    size = math.prod(shape)
    if size * np.dtype(dtype).itemsize > _WORKSPACE_MAX_BYTES:
        return np.empty(shape, dtype=dtype)  # e.g. a very long file: not kept
    arr = getattr(_local, name, None)
    if arr is None or arr.size < size or arr.dtype != dtype:
        arr = np.empty(max(size, 1), dtype=dtype)
        setattr(_local, name, arr)
    return arr[:size].reshape(shape)


@dataclass(frozen=True, eq=False)
class Plan:
    """The analysis matrices and parameters of one feature setting."""

    window: np.ndarray  # (n_fft,) float64
    mel_basis: np.ndarray  # (n_mels, 1 + n_fft // 2) float64
    dct: np.ndarray | None  # (n_mfcc, n_mels) float64; None for log-mel
    hop_length: int
    stats: tuple
    band_sr: int | None  # band-limit input above this rate to band_sr / 2
    # the parameters of SpeechFeatures of the same names (PARAMS)
    sr: int
    preemphasis: float | None
    top_db: float | None
    level: float | None
    delta_order: int
    delta_width: int
    cmvn: str | None
    context: int
    output: str
    n_frames: int

    PARAMS = ("sr", "preemphasis", "top_db", "level", "delta_order")
    PARAMS += ("delta_width", "cmvn", "context", "output", "n_frames")

    def __post_init__(self):
        set_ = object.__setattr__
        set_(self, "n_fft", self.window.shape[0])
        set_(self, "mel_basis_t", np.ascontiguousarray(self.mel_basis.T))
        set_(self, "dct_t", None if self.dct is None else self.dct.T.copy())
        # the features of digital silence, which pad short utterances
        silence = np.full((3, self.mel_basis.shape[0]), 10.0 * np.log10(AMIN))
        if self.dct_t is not None:
            silence = silence @ self.dct_t
        set_(self, "pad_row", _postprocess(silence, self)[1])


def _frame_rms(y, frame_length, hop_length):
    """``librosa.feature.rms(center=True, pad_mode="constant")[0]``, same rounding."""
    half = int(frame_length // 2)
    y = np.pad(y, [(half, half)], mode="constant")
    frames = np.lib.stride_tricks.sliding_window_view(y, frame_length)[::hop_length]
    power = np.mean(np.square(frames.T, dtype=np.float32), axis=-2, keepdims=True)
    return np.sqrt(power)[0]


def _trim(y, plan):
    """``librosa.effects.trim`` with the plan's ``top_db``, ``n_fft`` and hop."""
    rms = np.abs(_frame_rms(y, plan.n_fft, plan.hop_length))
    amin = 1e-5**2  # amplitude_to_db's default amin (1e-5), squared
    db = 10.0 * np.log10(np.maximum(amin, np.square(rms)))
    db -= 10.0 * np.log10(np.maximum(amin, np.max(rms) ** 2))
    loud = np.flatnonzero(db > -plan.top_db)
    if loud.size == 0:
        return y
    start = int(loud[0] * plan.hop_length)
    end = min(y.shape[-1], int((loud[-1] + 1) * plan.hop_length))
    return y[start:end] if end > start else y


def active_rms(y, block):
    """RMS of the ``block``-sample blocks within 30 dB of the loudest (0: silence)."""
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


def set_level(y, level_db, block):
    """Scale ``y`` so that its active RMS is ``level_db`` dBFS (float64)."""
    rms = active_rms(y, block)
    y = np.asarray(y, dtype=np.float64)
    return y if rms == 0.0 else y * (10.0 ** (level_db / 20.0) / rms)


def _resampled(y, orig_sr, target_sr, path, index):
    try:
        return resample(y, orig_sr, target_sr)
    except ValueError as exc:
        if path is None:
            raise ValueError(f"X[{index}]: waveform: {exc}") from None
        raise AudioReadError(path, str(exc), index) from None


def _waveforms(items, start, plan):
    """Load, band-limit, level, trim, pre-emphasise; count the band-limited."""
    ys, n_limited = [], 0
    for index, item in enumerate(items, start):
        path, rate, y = None, plan.sr, item
        if isinstance(item, str):
            path = item
            try:
                y, rate = load_audio(item)
            except AudioReadError as exc:
                raise exc.with_index(index) from exc
        if plan.band_sr is not None and rate > plan.band_sr:
            y, rate = _resampled(y, rate, plan.band_sr, path, index), plan.band_sr
            n_limited += 1
        if rate != plan.sr:
            y = _resampled(y, rate, plan.sr, path, index)
        if plan.level is not None:  # first: trimming has a log floor too
            y = set_level(y, plan.level, plan.hop_length)
        if plan.top_db is not None:
            y = _trim(y, plan)
        if plan.preemphasis:  # y[n] - coef * y[n - 1], with y[-1] = 0
            out = y.astype(np.float64)
            out[1:] -= plan.preemphasis * y[:-1]
            y = out
        ys.append(y)
    return ys, n_limited


def _blocks(n_frames, block):
    """Yield ``(lo, hi, cuts)``: frames ``lo:hi`` and their utterance bounds.

    Whole utterances are grouped up to ``block`` frames; a longer one is cut
    every ``block`` frames from its own start, never at a batch-dependent place.
    """
    lo, cuts, start = 0, [0], 0
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
    """Log-mel (dB) or MFCC frames of each waveform: list of (n_t, d) float64."""
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
        frames = view[idx]  # a gathered copy
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

        parts = [F] + [
            savgol_filter(
                F, plan.delta_width, deriv=k, polyorder=k, axis=0, mode="nearest"
            )
            for k in range(1, plan.delta_order + 1)
        ]
        F = np.hstack(parts)
    if plan.cmvn is not None:
        F = F - F.mean(axis=0)
        std = F.std(axis=0)
        # a feature constant over the utterance (digital silence, padding)
        # becomes exactly 0, not the rounding error of its mean
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


STATS = ("mean", "std", "min", "max", "median")  # numpy functions, over time


def _to_row(F, plan):
    if plan.output == "resample":
        return _resample_time(F, plan.n_frames).ravel()
    if plan.output == "pad":
        n_pad = max(0, plan.n_frames - F.shape[0])
        pad = np.broadcast_to(plan.pad_row, (n_pad, F.shape[1]))
        return np.vstack([F[: plan.n_frames], pad]).ravel()
    return np.concatenate([getattr(np, s)(F, axis=0) for s in plan.stats])


def _frames_chunk(items, start, plan):
    """The (n_t, d) float64 frames of each utterance, and the band-limited count."""
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
    """Run BLAS on one thread: thread splits change rounding; a job is one core."""
    global _controller
    if _controller is None:
        from threadpoolctl import ThreadpoolController

        _controller = ThreadpoolController()
    return _controller.limit(limits=1, user_api="blas")


def rows_chunk(items, start, plan):
    """The chunk's (n_items, n_features_out) float32 rows, and the limited count."""
    with _one_blas_thread():
        frames, n_limited = _frames_chunk(items, start, plan)
    rows = np.vstack([_to_row(F, plan) for F in frames]).astype(np.float32)
    return rows, n_limited


def frames_chunk(items, start, plan):
    """All frames (sum n_t, d) float32, frame counts, and the band-limited count."""
    with _one_blas_thread():
        frames, n_limited = _frames_chunk(items, start, plan)
    counts = np.array([F.shape[0] for F in frames], dtype=np.intp)
    return np.vstack(frames).astype(np.float32), counts, n_limited
