"""skvae.augment.SyntheticVoices: every label's word said by generated voices,
and make_recognizer's fit-time augmentation built on it."""

import numpy as np
import pytest
from conftest import assert_same_utterances

from skvae.augment import ResamplingPipeline, SyntheticVoices, voice_names

SR = 8000


def _sampler(**params):
    return SyntheticVoices(**{"voices": 2, "n_repeats": 1, "sr": SR, **params})


def _mfcc(y):
    import librosa

    return librosa.feature.mfcc(y=y, sr=SR, n_mfcc=13, n_fft=256, hop_length=80)


def _dtw(a, b):
    import librosa

    cost, path = librosa.sequence.dtw(_mfcc(a), _mfcc(b), metric="euclidean")
    return cost[-1, -1] / len(path)


def test_originals_first_then_every_word_by_every_voice():
    X = ["a.wav", np.zeros(400, np.float32), np.ones(400, np.float32)]
    sampler = _sampler(voices=3, n_repeats=2, random_state=0)
    X_new, y_new = sampler.fit_resample(X, [1, 4, 1])
    # 3 inputs, then 3 voices x 2 words x 2 repeats
    assert len(X_new) == len(y_new) == 3 + 12
    assert X_new[0] == "a.wav"  # a path stays a path, not read
    np.testing.assert_array_equal(X_new[2], X[2])
    np.testing.assert_array_equal(y_new[:3], [1, 4, 1])
    assert sorted(y_new[3:].tolist()) == [1] * 6 + [4] * 6
    assert sampler.words_ == {1: "one", 4: "four"}
    assert sampler.perturbations_[:3] == [("original", 1.0)] * 3
    names = [name for kind, name in sampler.perturbations_[3:]]
    assert {kind for kind, _ in sampler.perturbations_[3:]} == {"voice"}
    assert sorted(set(names)) == sorted(v["name"] for v in sampler.voices_)
    assert len(set(names)) == 3
    for wave in X_new[3:]:
        assert wave.dtype == np.float32 and wave.ndim == 1
        assert 0.2 * SR < len(wave) < 1.5 * SR  # one word, at sr
        assert np.isfinite(wave).all() and np.abs(wave).max() > 0.01


def test_the_generated_words_are_the_labels_words():
    """The same word by two voices is closer (DTW over MFCC) than two words
    by one voice: the sampler says each label's word, not noise."""
    sampler = _sampler(voices=["en-us+m1", "en-gb-x-rp+f2"], random_state=0)
    X_new, y_new = sampler.fit_resample([np.zeros(400, np.float32)] * 2, [1, 6])
    tags = sampler.perturbations_[2:]
    by = {(v, int(y)): w for (_, v), y, w in zip(tags, y_new[2:], X_new[2:])}
    same_word = [_dtw(by["en-us+m1", w], by["en-gb-x-rp+f2", w]) for w in (1, 6)]
    same_voice = [_dtw(by[v, 1], by[v, 6]) for v in ("en-us+m1", "en-gb-x-rp+f2")]
    assert max(same_word) < min(same_voice), (same_word, same_voice)


def test_labels_words_and_voices_can_be_given():
    X = [np.zeros(400, np.float32)] * 3
    sampler = _sampler(voices=["en-us+f1"], words={"a": "yes", "b": "no"})
    _, y_new = sampler.fit_resample(X, ["a", "b", "a"])
    assert sampler.words_ == {"a": "yes", "b": "no"}
    assert [v["name"] for v in sampler.voices_] == ["en-us+f1"]
    assert sorted(y_new[3:].tolist()) == ["a", "b"]
    # word labels are said as written, one-digit strings by name
    sampler = _sampler(voices=1, keep_original=False)
    X_new, y_new = sampler.fit_resample(X, ["stop", "thank you", "7"])
    assert sampler.words_ == {"stop": "stop", "thank you": "thank you", "7": "seven"}
    assert len(X_new) == 3 and sorted(y_new.tolist()) == ["7", "stop", "thank you"]


def test_same_seed_same_utterances_other_seed_other_voices():
    X = [np.zeros(400, np.float32)]
    a, _ = _sampler(random_state=3).fit_resample(X, [2])
    b, _ = _sampler(random_state=3).fit_resample(X, [2])
    assert_same_utterances(a[1:], b[1:])
    drawn = []
    for seed in range(4):
        sampler = _sampler(random_state=seed)
        sampler.fit_resample(X, [2])
        drawn.append(tuple(v["name"] for v in sampler.voices_))
    assert len(set(drawn)) > 1


@pytest.mark.parametrize(
    ("params", "y", "match"),
    [
        ({}, [12], "cannot tell what the label 12 sounds like"),
        ({}, ["x_3"], "cannot tell what the label 'x_3'"),
        ({"words": {0: "zero"}}, [1], "words has no text for the label 1"),
        ({"voices": ["en-us+m1", "robot"]}, [1], r"unknown voices \['robot'\]"),
        ({"voices": ["en-us+m1", "en-us+m1"]}, [1], "distinct"),
        ({"voices": 97}, [1], "voices"),
        ({"n_repeats": 0}, [1], "n_repeats"),
        ({"sr": 100}, [1], "sr"),
    ],
)
def test_bad_parameters_and_labels_are_named(params, y, match):
    with pytest.raises(ValueError, match=match):
        _sampler(**params).fit_resample([np.zeros(400, np.float32)], y)


def test_bad_input_is_named():
    with pytest.raises(ValueError, match="y is required"):
        _sampler().fit_resample([np.zeros(400, np.float32)], None)
    with pytest.raises(ValueError, match="inconsistent numbers of samples"):
        _sampler().fit_resample([np.zeros(400, np.float32)], [1, 2])
    with pytest.raises(ValueError, match="NaN|finite"):
        _sampler().fit_resample([np.full(400, np.nan, np.float32)], [1])


def test_groups_cannot_follow_generated_rows():
    import sklearn
    from sklearn.dummy import DummyClassifier

    from skvae.features import GroupStandardScaler, SpeechFeatures

    with sklearn.config_context(enable_metadata_routing=True):
        cmvn = GroupStandardScaler().set_fit_request(groups=True)
        cmvn = cmvn.set_transform_request(groups=True)
    pipe = ResamplingPipeline(
        [
            ("voices", _sampler()),
            ("features", SpeechFeatures(sr=SR, n_mels=8, n_frames=4)),
            ("cmvn", cmvn),
            ("clf", DummyClassifier()),
        ]
    )
    X = [np.sin(np.arange(2000) / 3.0).astype(np.float32)] * 2
    with pytest.raises(ValueError, match="no sample_indices_"):
        pipe.fit(X, [1, 2], groups=["ann", "bob"])


def test_is_an_estimator():
    import pickle

    from sklearn.base import clone

    sampler = _sampler(random_state=1)
    assert clone(sampler).get_params() == sampler.get_params()
    assert sampler.__sklearn_tags__().estimator_type == "sampler"
    X = [np.zeros(400, np.float32)]
    a, _ = sampler.fit_resample(X, [5])
    b, _ = pickle.loads(pickle.dumps(sampler)).fit_resample(X, [5])
    assert_same_utterances(a[1:], b[1:])
    assert len(voice_names()) == 96 and "en-us+m1" in voice_names()


def test_imports_no_torch():
    import subprocess
    import sys

    code = (
        "import sys, numpy as np\n"
        "from skvae.augment import SyntheticVoices\n"
        "SyntheticVoices(voices=1, n_repeats=1, sr=8000).fit_resample("
        "[np.zeros(400, np.float32)], [3])\n"
        "assert 'torch' not in sys.modules, 'torch was imported'\n"
    )
    res = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert res.returncode == 0, res.stderr[-2000:]
