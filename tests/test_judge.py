"""The independent judge (PocketSphinx, one digit word per utterance)."""

import sys

import numpy as np
import pytest
from conftest import require_optional

from skvae.evaluation import judge_accuracy, judge_available, judge_digits
from skvae.evaluation._judge import digit_labels, is_digit_task


@pytest.fixture(scope="module")
def pocketsphinx():
    return require_optional("pocketsphinx")


@pytest.fixture(scope="module")
def espeak_digits():
    from skvae.datasets import make_spoken_digits

    return make_spoken_digits(2, 1, random_state=0)


def test_clear_synthetic_digits_are_heard(pocketsphinx, espeak_digits):
    heard = judge_digits(espeak_digits.data, sr=espeak_digits.sr)
    assert heard.shape == (20,)
    # chance is 0.1: 8 of 20 right is p < 1e-4 for a judge that hears nothing
    assert np.mean(heard == espeak_digits.target) >= 0.4


def test_real_recordings_are_heard(pocketsphinx, fsdd_home):
    from pathlib import Path

    files = sorted((Path(fsdd_home) / "fsdd" / "recordings").glob("*_jackson_0.wav"))
    files += sorted((Path(fsdd_home) / "fsdd" / "recordings").glob("*_theo_1.wav"))
    labels = [int(f.name[0]) for f in files]
    assert len(files) == 20
    # about two thirds of FSDD's test recordings are heard right (README)
    assert judge_accuracy(files, labels) >= 0.4


def test_tones_and_silence_are_not_digits(pocketsphinx):
    sr = 8000
    t = np.arange(int(0.6 * sr)) / sr
    tones = [0.5 * np.sin(2 * np.pi * f * t) for f in np.linspace(300, 2400, 10)]
    assert np.mean(judge_digits(tones, sr=sr) == np.arange(10)) <= 0.3
    assert judge_digits([np.zeros(sr)], sr=sr).tolist() == [-1]


def test_files_and_waveforms_agree(pocketsphinx, espeak_digits, tmp_path):
    from skvae.audio import write_wav

    waves = espeak_digits.data[:4]
    paths = [
        write_wav(tmp_path / f"{i}.wav", w, espeak_digits.sr)
        for i, w in enumerate(waves)
    ]
    from_files = judge_digits(paths)
    # 16-bit files hold the waveforms to within quantisation
    assert np.mean(from_files == judge_digits(waves, sr=espeak_digits.sr)) >= 0.75


def test_bad_input_is_named(pocketsphinx, tmp_path):
    from skvae.audio import AudioReadError

    bad = tmp_path / "broken.wav"
    bad.write_bytes(b"RIFF not audio")
    with pytest.raises(AudioReadError, match="broken.wav"):
        judge_digits([bad])
    with pytest.raises(ValueError, match="sample rate"):
        judge_digits([np.zeros(100)])
    with pytest.raises(ValueError, match="NaN"):
        judge_digits([np.full(800, np.nan)], sr=8000)
    with pytest.raises(ValueError, match="'yes' is not one of 0-9"):
        judge_accuracy([np.zeros(800)], ["yes"], sr=8000)
    with pytest.raises(ValueError, match="1 utterances but y has 2"):
        judge_accuracy([np.zeros(800)], [1, 2], sr=8000)


def test_labels():
    assert digit_labels(["3", 4, np.int64(0)]).tolist() == [3, 4, 0]
    assert is_digit_task(np.arange(10)) and not is_digit_task([1, 12])


def test_missing_pocketsphinx_says_how_to_install(monkeypatch):
    monkeypatch.setitem(sys.modules, "pocketsphinx", None)
    with pytest.raises(ImportError, match=r"skvae\[judge\]"):
        judge_digits([np.zeros(800)], sr=8000)
    assert isinstance(judge_available(), bool)


# --------------------------------------------------------------------------
# copy synthesis and the listening check
# --------------------------------------------------------------------------
def test_resynthesis_keeps_natural_length_and_what_is_heard(
    pocketsphinx, espeak_digits
):
    from skvae.recipes import make_recognizer, resynthesize

    rec = make_recognizer(augment=None)
    rec["features"].fit()
    waves, sr = espeak_digits.data, espeak_digits.sr
    copies = resynthesize({"recognizer": rec}, waves)
    # each at its own length (silence trimmed), not squeezed to n_frames
    lengths = np.array([len(c) for c in copies])
    assert np.corrcoef(lengths, [len(w) for w in waves])[0, 1] > 0.5
    assert lengths.max() > 1.5 * lengths.min()
    real = np.mean(judge_digits(waves, sr=sr) == espeak_digits.target)
    copy = np.mean(judge_digits(copies, sr=sr) == espeak_digits.target)
    assert copy >= 0.5 * real > 0


def test_listening_check_counts_and_refuses_words(pocketsphinx, espeak_digits):
    import warnings

    from sklearn.exceptions import ConvergenceWarning

    from skvae.evaluation import format_listening, listening_check
    from skvae.recipes import train_recognizer

    fast = dict(n_components=4, hidden_layer_sizes=(32,), max_iter=2, augment=None)
    from skvae.recipes import make_recognizer

    X, y = espeak_digits.data, espeak_digits.target
    fe = make_recognizer(**fast)["features"].fit(X)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        bundle = train_recognizer(fe.transform(X), y, features=fe, audio=X, **fast)
    check = listening_check(bundle, X[:6], y[:6], n_per_class=2, random_state=0)
    assert check["n_real"] == 6 and check["n_generated"] == 20
    assert check["real"] == np.mean(check["heard_real"] == y[:6])
    assert check["copy"] == np.mean(check["heard_copy"] == y[:6])
    gen_y = check["generated_labels"]
    assert gen_y.tolist() == np.repeat(np.arange(10), 2).tolist()
    assert check["generated"] == np.mean(check["heard_generated"] == gen_y)
    assert "0.2 of real" not in format_listening(check)  # ratios, two decimals
    with pytest.raises(ValueError, match="6 utterances but y has 5"):
        listening_check(bundle, X[:6], y[:5], n_per_class=1)
    with pytest.raises(ValueError, match="not one of 0-9"):
        listening_check(bundle, X[:1], ["yes"], n_per_class=1)
