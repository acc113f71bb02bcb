"""skvae.datasets.make_digit_strings / spoken_form: digit strings read aloud,
the training material of a transcriber (issue 25, part 2)."""

import numpy as np
import pytest
from conftest import assert_same_utterances

from skvae.datasets import make_digit_strings, spoken_form
from skvae.datasets._strings import _join

SR = 8000


@pytest.mark.parametrize(
    "digits, params, expected",
    [
        ("4105", {}, "four one zero five"),
        ("4105", {"oh": 1}, "four one oh five"),
        ("5577", {"double": 1}, "double five double seven"),
        ("7777", {"double": 1}, "triple seven seven"),
        ("8885112931", {"double": 1, "phone": True},
         "triple eight, five double one, two nine three one"),
        ("12", {"phone": True}, "one two"),
        ("555", {"double": 0}, "five five five"),
    ],
)  # fmt: skip
def test_spoken_form(digits, params, expected):
    assert spoken_form(digits, **params) == expected


@pytest.mark.parametrize("digits", ["", "12a", 123, "1 2"])
def test_spoken_form_refuses_what_is_not_digits(digits):
    with pytest.raises(ValueError, match="digits must be a non-empty string"):
        spoken_form(digits)


def test_espeak_strings_are_seeded_and_their_digits():
    a = make_digit_strings(6, lengths=(2, 5), speakers=3, random_state=1)
    b = make_digit_strings(6, lengths=(2, 5), speakers=3, random_state=1)
    assert list(a.target) == list(b.target) and list(a.text) == list(b.text)
    assert_same_utterances(a.data, b.data)  # eSpeak NG: not bit for bit
    assert all(t.isdigit() and 2 <= len(t) <= 5 for t in a.target)
    assert len(set(a.speaker)) <= 3 and a.sr == SR
    c = make_digit_strings(6, lengths=(2, 5), speakers=3, random_state=2)
    assert list(c.target) != list(a.target)
    for wave in a.data:
        assert wave.dtype == np.float32 and np.isfinite(wave).all()


def test_espeak_reads_runs_as_double_and_strings_grow_with_their_length():
    short = make_digit_strings(4, lengths=(1, 1), speakers=["en-us+m1"], random_state=0)
    long = make_digit_strings(
        4, lengths=(12, 12), speakers=["en-us+m1"], double=1.0, oh=1.0,
        style="phone", random_state=0,
    )  # fmt: skip
    assert set(short.speaker) == set(long.speaker) == {"en-us+m1"}
    assert min(map(len, long.data)) > 3 * max(map(len, short.data))
    for digits, text in zip(long.target, long.text):
        assert text == spoken_form(digits, oh=1, double=1, phone=True)
        assert text.count(",") == 2  # 4-4-4
        assert "zero" not in text


def test_fsdd_strings_keep_the_count_of_a_repeated_digit(fsdd_home):
    strings = make_digit_strings(
        8, source="fsdd", lengths=(3, 6), speakers=["theo"], data_home=fsdd_home,
        random_state=0,
    )  # fmt: skip
    assert set(strings.speaker) == {"theo"}
    for digits, files in zip(strings.target, strings.text):
        names = files.split()
        assert len(names) == len(digits)  # one recording per digit
        assert [n.split("_")[0] for n in names] == list(digits)
        assert all("_theo_" in n for n in names)
    repeated = make_digit_strings(
        30, source="fsdd", lengths=(2, 2), data_home=fsdd_home, random_state=3
    )
    doubles = [f for t, f in zip(repeated.target, repeated.text) if t[0] == t[1]]
    assert all(len(f.split()) == 2 for f in doubles)


def test_fsdd_subset_and_noise(fsdd_home):
    test = make_digit_strings(
        10, source="fsdd", subset="test", data_home=fsdd_home, random_state=0
    )
    for files in test.text:  # repetitions 0-4 only
        assert all(int(f.split("_")[2].split(".")[0]) < 5 for f in files.split())
    quiet = make_digit_strings(
        3, source="fsdd", lengths=(3, 3), gap=(0.3, 0.3), data_home=fsdd_home,
        random_state=0,
    )  # fmt: skip
    noisy = make_digit_strings(
        3, source="fsdd", lengths=(3, 3), gap=(0.3, 0.3), snr_db=10,
        data_home=fsdd_home, random_state=0,
    )  # fmt: skip
    assert list(quiet.target) == list(noisy.target)
    # the first string is drawn before any noise: the same digits and gaps
    q, n = quiet.data[0].astype(np.float64), noisy.data[0].astype(np.float64)
    noise = n - q
    assert abs(10 * np.log10(np.mean(q**2) / np.mean(noise**2)) - 10) < 0.5


def test_gaps_and_overlaps():
    a, b = np.ones(800, np.float32), np.full(400, 2.0, np.float32)
    apart = _join([a, b], [0.1], SR)
    assert len(apart) == 800 + 800 + 400 and np.all(apart[800:1600] == 0)
    overlap = _join([a, b], [-0.01], SR)
    assert len(overlap) == 800 + 400 - 80
    assert overlap[0] == 1 and overlap[-1] == 2
    assert np.all(np.diff(overlap[720:800]) >= 0)  # cross-faded


@pytest.mark.parametrize(
    "params, match",
    [
        (dict(n_strings=0), "n_strings"),
        (dict(source="radio"), "source must be one of"),
        (dict(style="sung"), "style must be one of"),
        (dict(lengths=(0, 3)), "lengths"),
        (dict(lengths=(5, 3)), "lengths"),
        (dict(oh=1.5), "oh must be a probability"),
        (dict(gap=(0.3, 0.1)), "gap must be"),
        (dict(level_db=-1), "level_db"),
        (dict(speakers=["robot"]), r"unknown voices \['robot'\]"),
    ],
)
def test_bad_parameters_are_named(params, match):
    with pytest.raises(ValueError, match=match):
        make_digit_strings(**{"n_strings": 2, **params})


def test_unknown_fsdd_speaker_is_named(fsdd_home):
    with pytest.raises(ValueError, match="are not FSDD speakers"):
        make_digit_strings(2, source="fsdd", speakers=["ann"], data_home=fsdd_home)


def test_voice_perturbation_of_each_string():
    plain = make_digit_strings(6, lengths=(3, 4), speakers=2, random_state=0)
    moved = make_digit_strings(
        6, lengths=(3, 4), speakers=2, perturb=True, random_state=0
    )
    assert plain.perturbation is None
    assert list(moved.target) == list(plain.target)  # the same strings
    assert set(moved.perturbation) <= {"speed=0.9", "speed=1.1", "vtlp=0.9", "vtlp=1.1"}
    for kind, a, b in zip(moved.perturbation, plain.data, moved.data):
        name, value = kind.split("=")
        expected = len(a) / float(value) if name == "speed" else len(a)
        assert abs(len(b) - expected) <= 0.02 * len(a) + 2
        assert b.dtype == np.float32 and np.isfinite(b).all()
