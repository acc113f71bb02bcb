"""skvae.augment.FillerWords: other words said by generated voices, as the
filler class of the reject option (issue 24)."""

import numpy as np
import pytest
from conftest import assert_same_utterances

from skvae.augment import FILLER_WORDS, FillerWords
from skvae.datasets._synth import WORDS

SR = 8000


def _sampler(**params):
    return FillerWords(**{"n_samples": 6, "voices": 2, "sr": SR, **params})


def test_originals_first_then_filler_words_with_one_label():
    X = ["a.wav", np.zeros(400, np.float32)]
    sampler = _sampler(n_samples=8, voices=3, noise=0, random_state=0)
    X_new, y_new = sampler.fit_resample(X, [1, 4])
    assert len(X_new) == len(y_new) == 2 + 8
    assert X_new[0] == "a.wav"
    np.testing.assert_array_equal(y_new, [1, 4] + [-2] * 8)
    assert sampler.label_ == -2 and y_new.dtype.kind == "i"
    assert sampler.perturbations_[:2] == [("original", 1.0)] * 2
    assert {kind for kind, _ in sampler.perturbations_[2:]} == {"filler"}
    names = {name for _, name in sampler.perturbations_[2:]}
    assert names <= {v["name"] for v in sampler.voices_} and len(sampler.voices_) == 3
    for wave in X_new[2:]:
        assert wave.dtype == np.float32 and wave.ndim == 1
        assert 0.15 * SR < len(wave) < 2.5 * SR  # a word, at sr
        assert np.isfinite(wave).all() and np.abs(wave).max() > 0.01


def test_a_fraction_of_the_filler_is_noise_tones_and_chirps():
    sampler = _sampler(n_samples=40, noise=0.25, keep_original=False, random_state=0)
    X_new, y_new = sampler.fit_resample([np.zeros(400, np.float32)], [3])
    assert len(X_new) == 40 and set(y_new) == {-2}
    kinds = [kind for kind, _ in sampler.perturbations_]
    assert kinds.count("noise") == 10 and kinds.count("filler") == 30
    clips = [
        x for x, (kind, _) in zip(X_new, sampler.perturbations_) if kind == "noise"
    ]
    what = {name for kind, name in sampler.perturbations_ if kind == "noise"}
    assert what <= {"white noise", "pink noise", "tone", "chirp"} and len(what) >= 3
    words = [
        x for x, (kind, _) in zip(X_new, sampler.perturbations_) if kind != "noise"
    ]
    for clip in clips:  # as long as a word and as loud (within 10 dB)
        assert clip.dtype == np.float32 and np.isfinite(clip).all()
        assert min(map(len, words)) <= len(clip) <= max(map(len, words))
    rms = [np.sqrt(np.mean(np.square(x, dtype=np.float64))) for x in (*clips, *words)]
    assert max(rms) / min(rms) < 10 ** (10 / 20) * 3


def test_string_labels_get_the_string_filler_label_and_words_can_be_given():
    sampler = _sampler(words=["tiger", "lemon"], keep_original=False, random_state=0)
    X_new, y_new = sampler.fit_resample([np.zeros(400, np.float32)] * 2, ["yes", "no"])
    assert len(X_new) == 6 and set(y_new) == {"<filler>"}
    sampler = _sampler(label="other", voices=["en-us+m1"], random_state=0)
    _, y_new = sampler.fit_resample([np.zeros(400, np.float32)], ["yes"])
    assert y_new.tolist() == ["yes"] + ["other"] * 6
    assert [v["name"] for v in sampler.voices_] == ["en-us+m1"]


def test_the_default_words_leave_out_digits_and_the_test_words():
    digits = {"zero", "one", "two", "three", "four", "five", "six", "seven"}
    digits |= {"eight", "nine", "oh", "won", "to", "too", "for", "ate"}
    speech_commands = {"yes", "no", "up", "down", "bed", "bird", "cat", "tree"}
    speech_commands |= {"wow", "backward", "forward", "follow", "learn", "visual"}
    words = set(FILLER_WORDS)
    assert len(words) == len(FILLER_WORDS) >= 400
    assert not words & (digits | speech_commands | set(WORDS))


def test_same_seed_same_utterances():
    X = [np.zeros(400, np.float32)]
    a, _ = _sampler(random_state=3).fit_resample(X, [2])
    b, _ = _sampler(random_state=3).fit_resample(X, [2])
    assert_same_utterances(a[1:], b[1:])
    c, _ = _sampler(random_state=4).fit_resample(X, [2])
    assert any(len(u) != len(v) or not np.allclose(u, v) for u, v in zip(a, c))


@pytest.mark.parametrize(
    ("params", "y", "match"),
    [
        ({}, [-2, 3], "filler label -2 is a label of y"),
        ({"label": "x"}, ["x"], "filler label 'x' is a label of y"),
        ({"words": ["tiger", "yes"]}, ["yes"], r"words \['yes'\] are labels of y"),
        ({"words": []}, [1], "non-empty"),
        ({"words": ["ok", ""]}, [1], "non-empty"),
        ({"voices": ["robot"]}, [1], r"unknown voices \['robot'\]"),
        ({"n_samples": 0}, [1], "n_samples"),
        ({"sr": 100}, [1], "sr"),
    ],
)
def test_bad_parameters_and_labels_are_named(params, y, match):
    X = [np.zeros(400, np.float32)] * len(y)
    with pytest.raises(ValueError, match=match):
        _sampler(**params).fit_resample(X, y)


def test_bad_input_is_named():
    with pytest.raises(ValueError, match="y is required"):
        _sampler().fit_resample([np.zeros(400, np.float32)], None)
    with pytest.raises(ValueError, match="NaN|finite"):
        _sampler().fit_resample([np.full(400, np.nan, np.float32)], [1])


def test_is_an_estimator_and_imports_no_torch():
    import pickle
    import subprocess
    import sys

    from sklearn.base import clone

    sampler = _sampler(random_state=1)
    assert clone(sampler).get_params() == sampler.get_params()
    assert sampler.__sklearn_tags__().estimator_type == "sampler"
    a, _ = sampler.fit_resample([np.zeros(400, np.float32)], [5])
    b, _ = pickle.loads(pickle.dumps(sampler)).fit_resample(
        [np.zeros(400, np.float32)], [5]
    )
    assert_same_utterances(a[1:], b[1:])
    code = (
        "import sys, numpy as np\n"
        "from skvae.augment import FillerWords\n"
        "FillerWords(n_samples=1, voices=1, sr=8000).fit_resample("
        "[np.zeros(400, np.float32)], [0])\n"
        "assert 'torch' not in sys.modules, 'torch was imported'\n"
    )
    res = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert res.returncode == 0, res.stderr[-2000:]
