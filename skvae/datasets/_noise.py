"""Clips that are not speech (noise, tones, chirps, reversed speech), as
long and loud as given utterances: unknown inputs for open-set tests and the
reject option's filler. NumPy only."""

import numpy as np
from sklearn.utils import check_random_state

__all__ = ["OUTLIER_KINDS", "make_outlier_clips"]


def _rng(random_state):
    if isinstance(random_state, np.random.Generator):
        return random_state
    return check_random_state(random_state)


#: The kinds of :func:`make_outlier_clips`, in the order they are made.
OUTLIER_KINDS = ("white noise", "pink noise", "tone", "chirp", "reversed speech")


def _pink(n, rng):
    """Pink (1/f power) noise of length n, of arbitrary scale."""
    spec = np.fft.rfft(rng.standard_normal(n))
    f = np.arange(spec.shape[0], dtype=np.float64)
    f[0] = 1.0
    return np.fft.irfft(spec / np.sqrt(f), n)


def _noisy(wave, snr_db, rng, kind, exact_snr):
    wave = np.asarray(wave)
    if wave.ndim != 1 or wave.size == 0:
        raise ValueError(
            f"each signal must be a non-empty 1-D array, got shape {wave.shape}"
        )
    power = np.mean(np.square(wave, dtype=np.float64)) / 10 ** (snr_db / 10)
    if not exact_snr:
        noise = rng.normal(0.0, np.sqrt(power), wave.shape)
    else:
        noise = rng.standard_normal(wave.shape[0])
        if kind == "pink":  # drawn after the white draw
            noise = _pink(wave.shape[0], rng)
        noise *= np.sqrt(power / np.mean(noise**2))
    return (wave + noise).astype(np.float32)


def make_outlier_clips(
    waveforms,
    *,
    kinds=OUTLIER_KINDS,
    n_per_kind=60,
    sr=8000,
    snr_db=-5.0,
    random_state=None,
):
    """Clips that are not clean speech, each as long and loud as an utterance
    drawn from ``waveforms``.

    Parameters
    ----------
    waveforms : sequence of 1-D arrays
        Utterances (e.g. the test waveforms).
    kinds : sequence of str, default=OUTLIER_KINDS
        Among ``OUTLIER_KINDS`` (tones and chirps within 100-3500 Hz) and
        ``"speech in noise"`` (white noise at ``snr_db``).
    n_per_kind : int, default=60
        Clips of each kind.
    sr : int, default=8000
        Sample rate of the waveforms.
    snr_db : float, default=-5.0
        SNR of ``"speech in noise"``.
    random_state : int, RandomState, Generator or None, default=None
        Seeds the draws.

    Returns
    -------
    clips : list of float32 ndarrays
        Kind by kind, in the order of ``kinds``.
    clip_kinds : ndarray of str

    Examples
    --------
    >>> import numpy as np
    >>> from skvae.evaluation import make_outlier_clips
    >>> speech = [np.sin(np.arange(n) / 7.0).astype(np.float32) for n in (800, 1200)]
    >>> clips, kinds = make_outlier_clips(speech, n_per_kind=2, random_state=0)
    >>> len(clips), kinds[::2].tolist()
    (10, ['white noise', 'pink noise', 'tone', 'chirp', 'reversed speech'])
    """
    known = (*OUTLIER_KINDS, "speech in noise")
    unknown = [k for k in kinds if k not in known]
    if unknown:
        raise ValueError(f"unknown outlier kinds {unknown}; choose from {known}")
    waveforms = list(waveforms)
    if not waveforms:
        raise ValueError("waveforms is empty: no utterance to take lengths from")
    rng = _rng(random_state)
    draw = rng.integers if isinstance(rng, np.random.Generator) else rng.randint
    clips = []
    for kind in kinds:
        for _ in range(n_per_kind):
            ref = np.asarray(waveforms[draw(len(waveforms))])
            n = ref.shape[0]
            t = np.arange(n) / sr
            rms_ref = np.sqrt(np.mean(ref.astype(np.float64) ** 2))
            if kind == "white noise":
                x = rng.standard_normal(n)
            elif kind == "pink noise":
                x = _pink(n, rng)
            elif kind == "tone":
                x = np.sin(2 * np.pi * rng.uniform(100, 3500) * t)
            elif kind == "chirp":
                f0, f1 = rng.uniform(100, 3500, size=2)
                x = np.sin(2 * np.pi * (f0 * t + (f1 - f0) * t**2 / (2 * t[-1])))
            elif kind == "reversed speech":
                x = ref[::-1].copy()
            else:
                noise = rng.standard_normal(n) * rms_ref * 10 ** (-snr_db / 20)
                x = ref.astype(np.float64) + noise
            x = x * rms_ref / np.sqrt(np.mean(x**2))
            clips.append(x.astype(np.float32))
    return clips, np.repeat(np.asarray(kinds, dtype=str), n_per_kind)
