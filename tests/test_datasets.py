"""Datasets: FSDD (offline copy and verified download), folders, generated digits."""

import hashlib
import io
import os
import tarfile
import urllib.error

import numpy as np
import pytest
import soundfile as sf
from conftest import assert_same_utterances
from numpy.testing import assert_array_equal
from sklearn.linear_model import LogisticRegression
from sklearn.model_selection import GroupKFold, LeaveOneGroupOut, cross_val_score
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler
from sklearn.utils._param_validation import InvalidParameterError

from skvae.datasets import (
    _fsdd,
    fetch_fsdd,
    find_fsdd_home,
    get_data_home,
    load_audio_folder,
    make_spoken_digits,
    resolve_corpus,
)
from skvae.features import SpeechFeatures

SR = 8000
SPEAKERS = ("ann", "bob")


def wav_bytes(seed, n=400):
    buf = io.BytesIO()
    y = 0.1 * np.random.default_rng(seed).standard_normal(n)
    sf.write(buf, y, SR, format="WAV", subtype="PCM_16")
    return buf.getvalue()


def fake_recordings(folder, n_index=7):
    """A tiny FSDD look-alike: 10 digits x 2 speakers x n_index takes."""
    folder.mkdir(parents=True, exist_ok=True)
    for d in range(10):
        for s, spk in enumerate(SPEAKERS):
            for i in range(n_index):
                (folder / f"{d}_{spk}_{i}.wav").write_bytes(
                    wav_bytes(d * 100 + s * 10 + i)
                )


def fake_archive(path, *, evil=True):
    """A release-like tar.gz, plus members a safe extractor must not write."""
    root = "free-spoken-digit-dataset-1.0.10"
    with tarfile.open(path, "w:gz") as tar:

        def add(name, data, **kw):
            info = tarfile.TarInfo(name)
            info.size = len(data)
            for key, value in kw.items():
                setattr(info, key, value)
            tar.addfile(info, io.BytesIO(data))

        add(f"{root}/README.md", b"# FSDD\n")
        add(f"{root}/recordings/notes.txt", b"not a recording\n")
        for d in range(10):
            for spk in SPEAKERS:
                for i in range(6):
                    add(f"{root}/recordings/{d}_{spk}_{i}.wav", wav_bytes(d + i))
        if evil:
            add(f"{root}/recordings/../../../evil.wav", wav_bytes(0))
            add("/tmp/recordings/1_abs_0.wav", wav_bytes(0))
            link = tarfile.TarInfo(f"{root}/recordings/2_link_0.wav")
            link.type, link.linkname = tarfile.SYMTYPE, "/etc/passwd"
            tar.addfile(link)
    return hashlib.sha256(path.read_bytes()).hexdigest()


# --------------------------------------------------------------------------
# data home
# --------------------------------------------------------------------------
def test_get_data_home(tmp_path, monkeypatch):
    monkeypatch.setenv("SKVAE_DATA", str(tmp_path / "env"))
    assert get_data_home() == str(tmp_path / "env")
    assert os.path.isdir(tmp_path / "env")
    assert get_data_home(tmp_path / "given") == str(tmp_path / "given")
    monkeypatch.delenv("SKVAE_DATA")
    monkeypatch.setenv("SCIKIT_LEARN_DATA", str(tmp_path / "sk"))
    assert get_data_home() == str(tmp_path / "sk")


# --------------------------------------------------------------------------
# FSDD from a data home that holds it
# --------------------------------------------------------------------------
def test_fetch_fsdd_uses_existing_recordings(tmp_path, monkeypatch):
    fake_recordings(tmp_path / "fsdd" / "recordings")
    monkeypatch.setattr(_fsdd, "FSDD_ARCHIVE", None)  # any download would fail
    bunch = fetch_fsdd(tmp_path)
    n = 10 * 2 * 7
    assert bunch.data.shape == bunch.target.shape == bunch.speaker.shape == (n,)
    assert_array_equal(bunch.data, bunch.filenames)
    assert bunch.sr == SR and "Free Spoken Digit" in bunch.DESCR
    assert list(bunch.target_names[:2]) == ["zero", "one"]
    # sorted by speaker, digit, index (numerically: 2 before 10)
    assert (bunch.speaker[0], bunch.target[0], bunch.index[0]) == ("ann", 0, 0)
    assert os.path.basename(bunch.filenames[6]) == "0_ann_6.wav"
    assert_array_equal(bunch.is_test, bunch.index < 5)
    for fname, d, spk, i in zip(
        bunch.filenames, bunch.target, bunch.speaker, bunch.index
    ):
        assert os.path.basename(fname) == f"{d}_{spk}_{i}.wav"

    test = fetch_fsdd(tmp_path, subset="test")
    train = fetch_fsdd(tmp_path, subset="train")
    assert len(test.data) == 100 and len(train.data) == 40
    assert test.is_test.all() and not train.is_test.any()
    X, y = fetch_fsdd(tmp_path, return_X_y=True)
    assert_array_equal(y, bunch.target)

    waves = fetch_fsdd(tmp_path, subset="test", load_audio=True, sr=16000)
    assert waves.sr == 16000 and waves.data[0].dtype == np.float32
    assert waves.data[0].shape == (800,)
    with pytest.raises(ValueError, match="load_audio=True"):
        fetch_fsdd(tmp_path, sr=16000)


def test_fetch_fsdd_uses_env_data_home(tmp_path, monkeypatch):
    fake_recordings(tmp_path / "fsdd" / "recordings", n_index=1)
    monkeypatch.setenv("SKVAE_DATA", str(tmp_path))
    assert len(fetch_fsdd().data) == 20


def test_fetch_fsdd_rejects_unexpected_files(tmp_path):
    fake_recordings(tmp_path / "fsdd" / "recordings", n_index=1)
    (tmp_path / "fsdd" / "recordings" / "stray.wav").write_bytes(wav_bytes(0))
    with pytest.raises(ValueError, match="stray.wav"):
        fetch_fsdd(tmp_path)


# --------------------------------------------------------------------------
# FSDD download: against a local archive, never the network
# --------------------------------------------------------------------------
def _archive(tmp_path, sha=None, **kw):
    tar = tmp_path / "served" / "fsdd.tar.gz"
    tar.parent.mkdir()
    digest = fake_archive(tar, **kw)
    return _fsdd.RemoteArchive(tar.as_uri(), sha or digest, "fsdd-test.tar.gz"), tar


def test_fetch_fsdd_downloads_verifies_and_extracts(tmp_path, monkeypatch):
    archive, _ = _archive(tmp_path)
    monkeypatch.setattr(_fsdd, "FSDD_ARCHIVE", archive)
    home = tmp_path / "home"
    bunch = fetch_fsdd(home)
    assert len(bunch.data) == 10 * 2 * 6
    # only the recordings, under their bare names; archive and temp files gone
    fsdd_dir = home / "fsdd"
    assert sorted(os.listdir(fsdd_dir)) == ["recordings"]
    names = set(os.listdir(fsdd_dir / "recordings"))
    assert len(names) == 120 and all(n.endswith(".wav") for n in names)
    assert not (tmp_path / "evil.wav").exists() and not (home / "evil.wav").exists()
    assert "2_link_0.wav" not in names and "1_abs_0.wav" not in names
    # second call: no download
    monkeypatch.setattr(_fsdd, "FSDD_ARCHIVE", None)
    assert len(fetch_fsdd(home).data) == 120


def test_fetch_fsdd_checksum_mismatch_leaves_nothing(tmp_path, monkeypatch):
    archive, _ = _archive(tmp_path, sha="0" * 64)
    monkeypatch.setattr(_fsdd, "FSDD_ARCHIVE", archive)
    home = tmp_path / "home"
    with pytest.raises(OSError, match="checksum mismatch"):
        fetch_fsdd(home)
    assert not (home / "fsdd").exists()  # not even an empty folder


def test_fetch_fsdd_corrupt_archive_leaves_no_recordings(tmp_path, monkeypatch):
    bad = tmp_path / "served" / "fsdd.tar.gz"
    bad.parent.mkdir()
    bad.write_bytes(b"\x1f\x8b this is not a gzip stream")
    sha = hashlib.sha256(bad.read_bytes()).hexdigest()
    monkeypatch.setattr(
        _fsdd, "FSDD_ARCHIVE", _fsdd.RemoteArchive(bad.as_uri(), sha, "f.tar.gz")
    )
    with pytest.raises(tarfile.TarError):
        fetch_fsdd(tmp_path / "home")
    left = os.listdir(tmp_path / "home" / "fsdd")
    assert "recordings" not in left and not any(n.startswith(".") for n in left)


def test_fetch_fsdd_download_refusals(tmp_path, monkeypatch):
    with pytest.raises(OSError, match="download_if_missing=False"):
        fetch_fsdd(tmp_path, download_if_missing=False)
    archive = _fsdd.RemoteArchive("file:///nonexistent.tar.gz", None, "x.tar.gz")
    monkeypatch.setattr(_fsdd, "FSDD_ARCHIVE", archive)
    with pytest.raises(OSError, match="no pinned checksum"):
        fetch_fsdd(tmp_path)


def _offline(*args, **kwargs):
    raise urllib.error.URLError(OSError(101, "Network is unreachable"))


def _only_search(monkeypatch, *homes):
    """find_fsdd_home looks only in these folders (not the machine's)."""
    monkeypatch.setattr(_fsdd, "fsdd_search_paths", lambda data_home=None: list(homes))


def test_fetch_fsdd_without_data_home_uses_the_copy_on_the_machine(
    tmp_path, monkeypatch
):
    """Offline, with FSDD elsewhere on the machine: found where the CLI finds
    it, no download tried, no empty folder left in the default data home."""
    sk_home, shared = tmp_path / "scikit_learn_data", tmp_path / "shared" / "data"
    monkeypatch.delenv("SKVAE_DATA", raising=False)
    monkeypatch.setenv("SCIKIT_LEARN_DATA", str(sk_home))
    monkeypatch.setattr(_fsdd, "_download", _offline)
    fake_recordings(shared / "fsdd" / "recordings", n_index=1)
    _only_search(monkeypatch, sk_home, shared)
    bunch = fetch_fsdd()
    assert len(bunch.data) == 20
    assert bunch.filenames[0].startswith(str(shared))
    assert not sk_home.exists()


def test_fsdd_is_looked_for_in_skvae_data_then_scikit_learn_data_only(
    tmp_path, monkeypatch
):
    """No folder of the team's layout (../shared/data, beside the working
    folder or the checkout) is searched: $SKVAE_DATA says where FSDD is."""
    env, sk = tmp_path / "env", tmp_path / "sk"
    monkeypatch.setenv("SKVAE_DATA", str(env))
    monkeypatch.setenv("SCIKIT_LEARN_DATA", str(sk))
    assert _fsdd.fsdd_search_paths() == [env, sk]
    fake_recordings(tmp_path / "shared" / "data" / "fsdd" / "recordings", n_index=1)
    (tmp_path / "work").mkdir()
    monkeypatch.chdir(tmp_path / "work")
    assert find_fsdd_home() is None
    assert resolve_corpus()["kind"] == "generated"
    fake_recordings(sk / "fsdd" / "recordings", n_index=1)
    assert find_fsdd_home() == sk
    fake_recordings(env / "fsdd" / "recordings", n_index=1)
    assert find_fsdd_home() == env  # $SKVAE_DATA first
    assert resolve_corpus() == {"kind": "fsdd", "data_home": str(env)}
    assert fetch_fsdd().filenames[0].startswith(str(env))
    monkeypatch.delenv("SKVAE_DATA")
    assert find_fsdd_home() == sk


def test_fetch_fsdd_offline_without_fsdd_says_what_to_do(tmp_path, monkeypatch):
    sk_home = tmp_path / "scikit_learn_data"
    monkeypatch.delenv("SKVAE_DATA", raising=False)
    monkeypatch.setenv("SCIKIT_LEARN_DATA", str(sk_home))
    monkeypatch.setattr(_fsdd, "_download", _offline)
    _only_search(monkeypatch, sk_home)
    with pytest.raises(ConnectionError, match=r"data_home=.*\$SKVAE_DATA") as info:
        fetch_fsdd()
    message = str(info.value)
    assert "\n" not in message and "Network is unreachable" in message
    assert isinstance(info.value, OSError)
    assert isinstance(info.value.__cause__, urllib.error.URLError)
    assert not sk_home.exists()  # no empty folder left behind
    # with a data home given: it is named, and left as it was
    given = tmp_path / "given"
    given.mkdir()
    with pytest.raises(ConnectionError, match=r"not found in data_home=.*given"):
        fetch_fsdd(given)
    assert os.listdir(given) == []
    with pytest.raises(OSError, match=r"download_if_missing=False.*SKVAE_DATA"):
        fetch_fsdd(given, download_if_missing=False)


def test_fetch_fsdd_refuses_an_incomplete_copy(tmp_path, monkeypatch):
    rec = tmp_path / "fsdd" / "recordings"
    rec.mkdir(parents=True)
    for name in ("0_george_0.wav", "1_george_0.wav"):
        (rec / name).write_bytes(wav_bytes(0))
    monkeypatch.setattr(_fsdd, "_download", _offline)  # no download either
    with pytest.raises(OSError, match=r"incomplete: it has 2 recordings and lacks 8"):
        fetch_fsdd(tmp_path)
    # a copy that lost some takes of one speaker
    fake_recordings(tmp_path / "other" / "fsdd" / "recordings", n_index=3)
    (tmp_path / "other" / "fsdd" / "recordings" / "7_bob_1.wav").unlink()
    with pytest.raises(OSError, match=r"lacks 1 \(e\.g\. 7_bob_1\.wav\)"):
        fetch_fsdd(tmp_path / "other")
    # and the search passes over incomplete copies
    assert find_fsdd_home(tmp_path) is None
    assert find_fsdd_home(tmp_path / "other") is None
    fake_recordings(tmp_path / "other" / "fsdd" / "recordings", n_index=3)
    assert find_fsdd_home(tmp_path / "other") == tmp_path / "other"


def test_the_pinned_archive_is_a_tagged_release():
    assert "/archive/refs/tags/v1.0.10.tar.gz" in _fsdd.FSDD_ARCHIVE.url
    sha = _fsdd.FSDD_ARCHIVE.sha256
    assert sha is None or (len(sha) == 64 and int(sha, 16) >= 0)
    assert len(_fsdd.FSDD_ARCHIVE.recordings_sha256) == 64


@pytest.mark.fsdd
def test_pinned_content_digest_matches_the_real_recordings(fsdd_home):
    """The pinned content checksum is that of the real FSDD recordings."""
    digest = _fsdd._recordings_digest(fsdd_home / "fsdd" / "recordings")
    assert digest == _fsdd.FSDD_ARCHIVE.recordings_sha256


def _content_pinned(archive, digest):
    return _fsdd.RemoteArchive(archive.url, None, archive.filename, digest)


def test_fetch_fsdd_verifies_content_when_archive_bytes_are_not_pinned(
    tmp_path, monkeypatch
):
    archive, tar = _archive(tmp_path)
    unpacked = tmp_path / "unpacked"
    unpacked.mkdir()
    _fsdd._extract_recordings(tar, unpacked)
    good = _fsdd._recordings_digest(unpacked)
    monkeypatch.setattr(_fsdd, "FSDD_ARCHIVE", _content_pinned(archive, good))
    assert len(fetch_fsdd(tmp_path / "home").data) == 120


def test_fetch_fsdd_content_mismatch_leaves_nothing(tmp_path, monkeypatch):
    archive, _ = _archive(tmp_path)
    monkeypatch.setattr(_fsdd, "FSDD_ARCHIVE", _content_pinned(archive, "0" * 64))
    home = tmp_path / "home"
    with pytest.raises(OSError, match="checksum mismatch for the recordings"):
        fetch_fsdd(home)
    assert not (home / "fsdd").exists()  # not even an empty folder


# --------------------------------------------------------------------------
# a folder of recordings
# --------------------------------------------------------------------------
def test_load_audio_folder_labels(tmp_path):
    fake_recordings(tmp_path / "rec", n_index=2)
    bunch = load_audio_folder(tmp_path / "rec")
    assert len(bunch.data) == 40 and bunch.target.dtype.kind == "i"
    assert_array_equal(bunch.target_names, np.arange(10))
    assert set(bunch.speaker) == set(SPEAKERS)
    assert os.path.basename(bunch.filenames[0]) == "0_ann_0.wav"

    for label in ("dog", "cat"):
        (tmp_path / "animals" / label).mkdir(parents=True)
        for i in range(3):
            sf.write(tmp_path / "animals" / label / f"{i}.flac", np.zeros(100), SR)
    (tmp_path / "animals" / "dog" / "notes.txt").write_text("ignored")
    bunch = load_audio_folder(
        tmp_path / "animals", label_from="parent", load_audio=True
    )
    assert list(bunch.target) == ["cat"] * 3 + ["dog"] * 3
    assert bunch.sr == SR and bunch.data[0].shape == (100,)
    assert bunch.speaker is None

    X, y = load_audio_folder(
        tmp_path / "animals", label_from=lambda p: len(p), return_X_y=True
    )
    assert len(X) == 6 and y.dtype == object
    bunch = load_audio_folder(
        tmp_path / "animals", label_from=None, extensions=(".FLAC",)
    )
    assert bunch.target is None and len(bunch.data) == 6


def test_load_audio_folder_errors(tmp_path):
    with pytest.raises(FileNotFoundError, match="no such folder"):
        load_audio_folder(tmp_path / "missing")
    (tmp_path / "empty").mkdir()
    with pytest.raises(ValueError, match="no audio files"):
        load_audio_folder(tmp_path / "empty")
    sf.write(tmp_path / "top.wav", np.zeros(10), SR)
    with pytest.raises(ValueError, match="sub-folders"):
        load_audio_folder(tmp_path, label_from="parent")
    with pytest.raises(InvalidParameterError):
        load_audio_folder(tmp_path, label_from="speaker")


# --------------------------------------------------------------------------
# generated spoken digits
# --------------------------------------------------------------------------
@pytest.fixture(scope="module")
def digits():
    return make_spoken_digits(n_speakers=4, n_repeats=3, random_state=0)


def test_make_spoken_digits_structure(digits):
    n = 4 * 10 * 3
    assert len(digits.data) == digits.target.size == digits.speaker.size == n
    assert digits.sr == 8000 and digits.data.dtype == object
    assert all(y.dtype == np.float32 and y.ndim == 1 for y in digits.data)
    lengths = np.array([y.size for y in digits.data]) / digits.sr
    assert lengths.min() > 0.15 and lengths.max() < 1.5  # trimmed words
    assert all(0.01 < np.abs(y).max() <= 1.0 for y in digits.data)
    assert len(set(digits.speaker)) == 4 and len(digits.speaker_info) == 4
    assert_array_equal(np.bincount(digits.target), [12] * 10)
    assert_array_equal(digits.is_test, digits.index == 0)
    assert "eSpeak NG" in digits.DESCR


def test_make_spoken_digits_is_deterministic(digits):
    again = make_spoken_digits(n_speakers=4, n_repeats=3, random_state=0)
    assert_same_utterances(digits.data, again.data)
    assert_array_equal(digits.speaker, again.speaker)
    other = make_spoken_digits(n_speakers=4, n_repeats=3, random_state=1)
    assert list(other.speaker_info) != list(digits.speaker_info)


def test_make_spoken_digits_noise_and_files(tmp_path):
    clean = make_spoken_digits(n_speakers=1, n_repeats=1, random_state=3, sr=16000)
    noisy = make_spoken_digits(
        n_speakers=1,
        n_repeats=1,
        random_state=3,
        sr=16000,
        snr_db=10.0,
        out_dir=tmp_path,
    )
    assert clean.sr == 16000
    for c, n in zip(clean.data, noisy.data):
        snr = 10 * np.log10(np.mean(c**2) / np.mean((n - c) ** 2))
        assert abs(snr - 10.0) < 1.0
    # the written files follow FSDD's naming and read back as a folder
    folder = load_audio_folder(tmp_path, load_audio=True)
    assert len(folder.data) == 10 and folder.sr == 16000
    assert_array_equal(np.sort(folder.target), np.arange(10))
    assert set(folder.speaker) == set(noisy.speaker)


def test_make_spoken_digits_invalid():
    with pytest.raises(InvalidParameterError):
        make_spoken_digits(n_speakers=0)
    with pytest.raises(InvalidParameterError):
        make_spoken_digits(n_speakers=97)


def test_generated_digits_are_recognisable_across_speakers(digits):
    """The corpus is speech: digits are told apart for unseen speakers."""
    pipe = make_pipeline(
        SpeechFeatures(sr=8000, kind="mfcc", n_frames=16, cmvn="mean"),
        StandardScaler(),
        LogisticRegression(max_iter=2000),
    )
    scores = cross_val_score(
        pipe, digits.data, digits.target, groups=digits.speaker, cv=LeaveOneGroupOut()
    )
    assert scores.mean() > 0.5  # chance is 0.1


# --------------------------------------------------------------------------
# integration on the real FSDD ($SKVAE_DATA)
# --------------------------------------------------------------------------
@pytest.mark.fsdd
def test_fsdd_integration(fsdd_home):
    fsdd = fetch_fsdd(fsdd_home, download_if_missing=False)
    assert len(fsdd.data) == 3000 and fsdd.is_test.sum() == 300
    assert set(fsdd.speaker) == {
        "george",
        "jackson",
        "lucas",
        "nicolas",
        "theo",
        "yweweler",
    }
    assert_array_equal(np.bincount(fsdd.target), [300] * 10)
    # speaker-independent folds never share a speaker
    for train, test in GroupKFold(n_splits=3).split(fsdd.data, groups=fsdd.speaker):
        assert not set(fsdd.speaker[train]) & set(fsdd.speaker[test])
    Z = SpeechFeatures(sr=8000, kind="mfcc").transform(fsdd.data[::30])
    assert Z.shape == (100, 32 * 13) and np.isfinite(Z).all()


@pytest.mark.fsdd
@pytest.mark.slow
def test_fsdd_folder_to_features_to_classifier(fsdd_home):
    """From a folder of WAV files to a fixed-size matrix that separates digits."""
    folder = load_audio_folder(os.path.join(fsdd_home, "fsdd", "recordings"))
    assert len(folder.data) == 3000 and folder.target.dtype.kind == "i"
    Z = SpeechFeatures(
        sr=8000, kind="mfcc", cmvn="mean", n_frames=16, n_jobs=2
    ).transform(folder.data)
    assert Z.shape == (3000, 16 * 13) and np.isfinite(Z).all()
    clf = make_pipeline(StandardScaler(), LogisticRegression(max_iter=3000))
    scores = cross_val_score(
        clf, Z, folder.target, groups=folder.speaker, cv=GroupKFold(n_splits=3)
    )
    assert scores.mean() > 0.6  # speaker-independent, chance is 0.1
