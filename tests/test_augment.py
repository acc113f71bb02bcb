"""skvae.augment: voice perturbation and voice conversion samplers, and the
pipeline that resamples groups with the rows."""

import numpy as np
import pytest
from conftest import require_optional
from scipy.signal import lfilter

require_optional("imblearn")
require_optional("parselmouth")

from skvae.augment import VoicePerturbation, perturb_voice  # noqa: E402

SR = 8000


# ---------------------------------------------------------------- signals
def _tone(freq, seconds=0.5, pad=0.25, sr=SR):
    """A tone burst between two silences."""
    t = np.arange(int(seconds * sr)) / sr
    burst = 0.5 * np.sin(2 * np.pi * freq * t) * np.hanning(len(t)) ** 0.1
    gap = np.zeros(int(pad * sr))
    return np.concatenate([gap, burst, gap]).astype(np.float32)


def _vowel(f0=120.0, formant=1000.0, seconds=0.5, sr=SR):
    """A pulse train at f0 through one resonance at ``formant``: a vowel."""
    n = int(seconds * sr)
    pulses = np.zeros(n)
    pulses[:: int(round(sr / f0))] = 1.0
    r, theta = np.exp(-np.pi * 80.0 / sr), 2 * np.pi * formant / sr
    y = lfilter([1.0], [1.0, -2 * r * np.cos(theta), r * r], pulses)
    y = 0.5 * y / np.abs(y).max()
    gap = np.zeros(int(0.1 * sr))
    return np.concatenate([gap, y, gap]).astype(np.float32)


def _active_length(y, rel=0.1):
    """Samples between the first and last above ``rel`` of the peak."""
    idx = np.flatnonzero(np.abs(y) > rel * np.abs(y).max())
    return idx[-1] - idx[0]


def _peak_frequency(y, smooth=1, sr=SR):
    """Frequency of the spectral maximum (of the envelope, if smoothed)."""
    from scipy.ndimage import uniform_filter1d

    spec = np.abs(np.fft.rfft(y * np.hanning(len(y))))
    freqs = np.fft.rfftfreq(len(y), 1 / sr)
    return freqs[np.argmax(uniform_filter1d(spec, smooth))]


def _f0(y, sr=SR):
    import parselmouth
    from parselmouth.praat import call

    pitch = parselmouth.Sound(y.astype(np.float64), sampling_frequency=sr).to_pitch()
    return call(pitch, "Get quantile", 0, 0, 0.5, "Hertz")


# ---------------------------------------------------------------- waveform
@pytest.mark.parametrize("factor", [0.9, 1.1])
def test_speed_changes_duration_and_frequency_together(factor):
    y = _tone(400.0)
    z = perturb_voice(y, SR, "speed", factor)
    assert z.dtype == np.float32
    assert len(z) == pytest.approx(len(y) / factor, abs=2)
    assert _active_length(z) / _active_length(y) == pytest.approx(1 / factor, rel=0.02)
    assert _peak_frequency(z) / _peak_frequency(y) == pytest.approx(factor, rel=0.02)


@pytest.mark.parametrize("factor", [0.9, 1.1])
def test_vtlp_moves_the_formant_and_keeps_pitch_and_duration(factor):
    y = _vowel()
    z = perturb_voice(y, SR, "vtlp", factor)
    assert len(z) == len(y)
    assert _active_length(z) == pytest.approx(_active_length(y), rel=0.03)
    # the formant (spectral envelope peak) moves by about the factor
    ratio = _peak_frequency(z, smooth=200) / _peak_frequency(y, smooth=200)
    assert ratio == pytest.approx(factor, rel=0.05)
    assert (ratio > 1) == (factor > 1)
    # the pitch stays
    assert _f0(z) == pytest.approx(_f0(y), rel=0.02)


@pytest.mark.parametrize("steps", [-2.0, 2.0])
def test_pitch_moves_f0_and_keeps_formant_and_duration(steps):
    y = _vowel()
    z = perturb_voice(y, SR, "pitch", steps)
    assert len(z) == len(y)
    assert _active_length(z) == pytest.approx(_active_length(y), rel=0.03)
    assert _f0(z) / _f0(y) == pytest.approx(2 ** (steps / 12), rel=0.02)
    formant = _peak_frequency(z, smooth=200) / _peak_frequency(y, smooth=200)
    assert formant == pytest.approx(1.0, abs=0.05)


@pytest.mark.parametrize("kind, value", [("vtlp", 1.1), ("pitch", 2.0)])
def test_praat_copies_are_reproducible_with_the_seed(kind, value):
    y = _vowel()
    a = perturb_voice(y, SR, kind, value, seed=1)
    np.testing.assert_array_equal(a, perturb_voice(y, SR, kind, value, seed=1))
    # Praat's random numbers jitter the unvoiced stretches: the seed matters
    assert np.abs(a - perturb_voice(y, SR, kind, value, seed=2)).max() > 0


def test_pitch_leaves_unvoiced_audio_alone():
    noise = np.random.RandomState(0).normal(scale=0.1, size=4000).astype(np.float32)
    np.testing.assert_array_equal(perturb_voice(noise, SR, "pitch", 2.0), noise)


def test_sampler_copies_labels_and_records_sources():
    X = [_tone(300.0), _vowel(), _tone(500.0, seconds=0.3)]
    y = np.array(["a", "b", "c"])
    sampler = VoicePerturbation(sr=SR, speed=(0.9, 1.1), vtlp=(1.1,), pitch=(2,))
    X_new, y_new = sampler.fit_resample(X, y)
    assert len(X_new) == len(y_new) == 3 + 3 * 4
    np.testing.assert_array_equal(
        sampler.sample_indices_, [0, 1, 2] + [0] * 4 + [1] * 4 + [2] * 4
    )
    np.testing.assert_array_equal(y_new, y[sampler.sample_indices_])
    # the originals come first, unchanged
    for a, b in zip(X_new[:3], X):
        np.testing.assert_array_equal(a, b)
    assert sampler.perturbations_[3:7] == [
        ("speed", 0.9),
        ("speed", 1.1),
        ("vtlp", 1.1),
        ("pitch", 2.0),
    ]
    for row, (kind, value), source, seed in zip(
        X_new[3:],
        sampler.perturbations_[3:],
        sampler.sample_indices_[3:],
        sampler.seeds_[3:],
    ):
        expected = perturb_voice(X[source], SR, kind, value, seed=seed)
        np.testing.assert_array_equal(row, expected)


def test_sampler_without_originals_and_with_random_copies():
    X = np.stack([_tone(300.0), _tone(450.0), _tone(600.0)])  # 2-D: equal lengths
    kwargs = dict(sr=SR, speed=(0.9, 1.1), pitch=(-1, 1), n_copies=2)
    a = VoicePerturbation(**kwargs, keep_original=False, random_state=0)
    X_a, y_a = a.fit_resample(X, [0, 1, 2])
    assert len(X_a) == 6
    np.testing.assert_array_equal(y_a, [0, 0, 1, 1, 2, 2])
    assert ("original", 1.0) not in a.perturbations_
    for i in range(3):  # two different perturbations per utterance
        assert a.perturbations_[2 * i] != a.perturbations_[2 * i + 1]
    # reproducible with random_state, for any n_jobs
    b = VoicePerturbation(**kwargs, keep_original=False, random_state=0, n_jobs=2)
    X_b, _ = b.fit_resample(X, [0, 1, 2])
    assert a.perturbations_ == b.perturbations_
    for u, v in zip(X_a, X_b):
        np.testing.assert_array_equal(u, v)
    # fit alone validates and returns the sampler
    assert a.fit(X, [0, 1, 2]) is a


def test_sampler_draws_differ_between_seeds():
    X = [_tone(300.0)] * 6
    seen = set()
    for seed in range(4):
        sampler = VoicePerturbation(
            sr=SR, speed=(0.9, 1.1), vtlp=(0.9, 1.1), n_copies=1, random_state=seed
        )
        sampler.fit_resample(X, np.zeros(6))
        seen.add(tuple(sampler.perturbations_))
    assert len(seen) > 1


def test_sampler_reads_files_at_its_rate(tmp_path):
    from skvae.features import write_wav

    path = write_wav(tmp_path / "a.wav", _tone(300.0, sr=16000), 16000)
    X_new, y_new = VoicePerturbation(sr=SR, speed=(1.1,)).fit_resample([path], [7])
    assert len(X_new[0]) == pytest.approx(len(_tone(300.0)), abs=2)  # read at 8 kHz
    assert len(X_new[1]) == pytest.approx(len(X_new[0]) / 1.1, abs=2)
    np.testing.assert_array_equal(y_new, [7, 7])


@pytest.mark.parametrize(
    "params, match",
    [
        ({"speed": (1.0,)}, "changes nothing"),
        ({"speed": (3.0,)}, r"in \[0.5, 2.0\]"),
        ({"vtlp": (0.0,)}, r"in \[0.5, 2.0\]"),
        ({"speed": (float("nan"),)}, "speed must be in"),
        ({"pitch": (0,)}, "changes nothing"),
        ({"pitch": (24,)}, r"in \[-12.0, 12.0\]"),
        ({"speed": (0.9, 0.9)}, "twice"),
        ({"speed": (0.9,), "n_copies": 2}, "n_copies=2 is more than"),
        ({"speed": (), "keep_original": False}, "nothing to return"),
        ({"sr": 0}, "sr"),
        ({"n_copies": 0}, "n_copies"),
    ],
)
def test_bad_parameters_are_named(params, match):
    X = [_tone(300.0)]
    with pytest.raises(ValueError, match=match):
        VoicePerturbation(**{"sr": SR, **params}).fit_resample(X, [0])


def test_bad_factor_types_are_named():
    with pytest.raises(TypeError, match="speed must hold numbers"):
        VoicePerturbation(sr=SR, speed=("fast",)).fit_resample([_tone(300.0)], [0])


def test_bad_input_is_named():
    good = _tone(300.0)
    sampler = VoicePerturbation(sr=SR)
    bad = good.copy()
    bad[10] = np.nan
    with pytest.raises(ValueError, match="NaN"):
        sampler.fit_resample([good, bad], [0, 1])
    with pytest.raises(ValueError, match="inconsistent numbers of samples"):
        sampler.fit_resample([good, good], [0, 1, 2])
    with pytest.raises(ValueError, match="y is required"):
        sampler.fit_resample([good], None)
    with pytest.raises(ValueError, match="empty"):
        sampler.fit_resample([np.zeros(0)], [0])
    with pytest.raises(ValueError, match="kind must be"):
        perturb_voice(good, SR, "reverb", 1.1)
