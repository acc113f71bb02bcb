"""make_spoken_words (skvae.datasets._synth): generated non-digit words."""

import numpy as np
import pytest
from conftest import assert_same_utterances
from numpy.testing import assert_array_equal
from sklearn.utils._param_validation import InvalidParameterError

from skvae.datasets import load_audio_folder, make_spoken_digits, make_spoken_words


@pytest.fixture(scope="module")
def words():
    return make_spoken_words(n_speakers=3, n_repeats=2, random_state=0)


def test_structure(words):
    n_words = len(words.target_names)
    assert n_words == 40
    assert len(words.data) == words.target.size == 3 * n_words * 2
    assert words.target.dtype == object and words.sr == 8000
    assert set(words.target) == set(words.target_names)
    digits = {"zero", "one", "two", "three", "four"}
    digits |= {"five", "six", "seven", "eight", "nine"}
    assert not digits & set(words.target_names)
    assert all(y.dtype == np.float32 and y.ndim == 1 for y in words.data)
    lengths = np.array([y.size for y in words.data]) / words.sr
    assert lengths.min() > 0.1 and lengths.max() < 2.0
    assert_array_equal(np.bincount(words.index), [3 * n_words] * 2)
    assert "eSpeak NG" in words.DESCR


def test_same_speakers_as_make_spoken_digits(words):
    digits = make_spoken_digits(n_speakers=3, n_repeats=1, random_state=0)
    assert words.speaker_info == digits.speaker_info
    # different words are different sounds
    yes = words.data[words.target == "yes"][0]
    no = words.data[words.target == "no"][0]
    assert yes.size != no.size or not np.array_equal(yes, no)


def test_deterministic_and_custom_words(tmp_path):
    a = make_spoken_words(["stop", "thank you"], n_speakers=2, random_state=4)
    b = make_spoken_words(
        ["stop", "thank you"], n_speakers=2, random_state=4, out_dir=tmp_path
    )
    assert_same_utterances(a.data, b.data)
    assert a.target.tolist() == ["stop", "thank you"] * 2
    folder = load_audio_folder(tmp_path)
    assert sorted(set(folder.target)) == ["stop", "thank-you"]
    X, y = make_spoken_words(["go"], n_speakers=1, random_state=0, return_X_y=True)
    assert len(X) == 1 and y.tolist() == ["go"]


@pytest.mark.parametrize(
    "words, match",
    [
        ("yes", "must be an array-like"),
        ([], "words is empty"),
        (["yes", ""], "non-empty strings"),
        (["yes", 3], "non-empty strings"),
        (["yes", "yes"], "duplicates"),
    ],
)
def test_bad_words(words, match):
    with pytest.raises(ValueError, match=match):
        make_spoken_words(words, n_speakers=1)


def test_bad_parameters():
    with pytest.raises(InvalidParameterError):
        make_spoken_words(n_speakers=0)
    with pytest.raises(InvalidParameterError):
        make_spoken_words(n_repeats=0)
