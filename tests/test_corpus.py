"""skvae.datasets.load_corpus / resolve_corpus / split_corpus."""

import json
import subprocess
import sys

import numpy as np
import pytest
from sklearn.utils import Bunch

from skvae.datasets import load_corpus, resolve_corpus, split_corpus
from skvae.features import write_wav


@pytest.fixture
def folder(tmp_path):
    """3 speakers x 2 labels x 2 repetitions of 0.1-0.3 s of noise."""
    root = tmp_path / "recordings"
    root.mkdir()
    rng = np.random.RandomState(0)
    for k, speaker in enumerate(["ann", "bob", "cyd"]):
        for label in (3, 7):
            for rep in range(2):
                n = 800 * (1 + k)
                write_wav(
                    root / f"{label}_{speaker}_{rep}.wav", rng.normal(size=n), 8000
                )
    return root


def test_default_source_is_generated_when_fsdd_is_absent(tmp_path, monkeypatch):
    monkeypatch.setattr(
        "skvae.datasets._fsdd.fsdd_search_paths", lambda data_home=None: [tmp_path]
    )
    spec = resolve_corpus()
    assert spec["kind"] == "generated"
    assert "FSDD was not found" in spec["note"] and str(tmp_path) in spec["note"]

    recordings = tmp_path / "fsdd" / "recordings"
    recordings.mkdir(parents=True)
    for digit in range(10):  # a complete (if tiny) copy: every digit
        (recordings / f"{digit}_ann_0.wav").write_bytes(b"")
    assert resolve_corpus() == {"kind": "fsdd", "data_home": str(tmp_path)}


def test_resolve_names_a_missing_folder_and_a_file(tmp_path):
    missing = tmp_path / "no_such_folder"
    with pytest.raises(FileNotFoundError, match=f"data folder '{missing}' does not"):
        resolve_corpus(missing)
    a_file = tmp_path / "x.wav"
    a_file.write_bytes(b"")
    with pytest.raises(NotADirectoryError, match="got the file"):
        resolve_corpus(a_file)


def test_folder_corpus(folder):
    corpus = load_corpus(folder)
    assert corpus.description == (
        f"folder recordings: 12 utterances, 3 speakers, 2 labels ({folder.resolve()})"
    )
    assert corpus.data.shape == (12,) and corpus.sr is None and corpus.is_test is None
    assert sorted(set(corpus.target)) == [3, 7]
    assert corpus.n_speakers == 3 and corpus.note == ""
    # durations read from the files
    expected = [0.1 * (1 + ["ann", "bob", "cyd"].index(s)) for s in corpus.speaker]
    np.testing.assert_allclose(corpus.duration, expected)
    # the spec is JSON-able and loads the same corpus again
    again = load_corpus(json.loads(json.dumps(corpus.spec)))
    assert list(again.data) == list(corpus.data)


def test_folder_labels_from_parent(tmp_path):
    for label in ("yes", "no"):
        (tmp_path / label).mkdir()
        write_wav(tmp_path / label / "a.wav", np.ones(800) * 0.1, 8000)
    corpus = load_corpus(tmp_path, label_from="parent")
    assert sorted(corpus.target) == ["no", "yes"] and corpus.speaker is None
    assert corpus.n_speakers == 0


def test_generated_corpus():
    corpus = load_corpus("generated", n_speakers=2, n_repeats=1, random_state=0)
    assert corpus.name == "generated spoken digits (eSpeak NG)"
    assert corpus.spec == {
        "kind": "generated",
        "n_speakers": 2,
        "n_repeats": 1,
        "random_state": 0,
    }
    assert corpus.sr == 8000 and corpus.source == "generated"
    np.testing.assert_allclose(corpus.duration, [len(w) / 8000 for w in corpus.data])
    assert corpus.is_test.dtype == bool


def test_fsdd_offline_and_missing_is_an_oserror(tmp_path):
    with pytest.raises(OSError, match="^FSDD is not available"):
        load_corpus("fsdd", data_home=tmp_path, download_if_missing=False)


@pytest.mark.fsdd
def test_fsdd_corpus(fsdd_home):
    corpus = load_corpus("fsdd", data_home=fsdd_home, download_if_missing=False)
    assert corpus.description.startswith(
        "FSDD (Free Spoken Digit Dataset): 3,000 utterances, 6 speakers, 10 labels"
    )
    assert corpus.spec == {"kind": "fsdd", "data_home": str(fsdd_home)}
    train, test, info = split_corpus(corpus)
    assert info["kind"] == "official" and len(test) == 300
    assert info["text"].startswith("official split (repetitions 0-4")
    assert np.all(np.isfinite(corpus.duration)) and corpus.duration.max() < 10


def test_unknown_spec_kind():
    with pytest.raises(ValueError, match="unknown corpus kind 'tape'"):
        load_corpus({"kind": "tape"})


def test_the_datasets_never_import_torch(folder):
    code = (
        "import sys; from skvae.datasets import load_corpus, split_corpus; "
        f"c = load_corpus({str(folder)!r}); split_corpus(c); "
        "assert 'torch' not in sys.modules"
    )
    res = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert res.returncode == 0, res.stderr


def _fake(n_speakers, spec_kind="folder", is_test=None):
    speakers = np.array([f"s{i % max(n_speakers, 1)}" for i in range(40)], dtype=object)
    return Bunch(
        target=np.arange(40) % 4,
        speaker=speakers if n_speakers else None,
        n_speakers=n_speakers,
        is_test=is_test,
        name="fake",
        spec={"kind": spec_kind},
    )


def test_split_by_speaker_holds_out_whole_speakers():
    corpus = _fake(4)
    train, test, info = split_corpus(corpus, test_size=0.25, random_state=0)
    assert info["kind"] == "speaker"
    assert not set(corpus.speaker[train]) & set(corpus.speaker[test])
    assert len(set(corpus.speaker[test])) == 1
    assert np.all(np.diff(train) > 0) and len(train) + len(test) == 40
    assert info["text"].endswith(": 30 train, 10 test")


def test_random_split_is_stratified_and_official_split_is_kept():
    train, test, info = split_corpus(_fake(0), test_size=0.25, random_state=0)
    assert info["kind"] == "random" and np.bincount(np.arange(40)[test] % 4).min() > 1
    is_test = np.arange(40) < 8
    train, test, info = split_corpus(_fake(2, "fsdd", is_test))
    assert info["kind"] == "official"
    np.testing.assert_array_equal(test, np.arange(8))


@pytest.mark.parametrize(
    ("how", "corpus", "match"),
    [
        ("official", _fake(3), "fake has no official split"),
        ("speaker", _fake(1), "fake has 1 known speakers"),
        ("sideways", _fake(3), "how must be one of"),
    ],
)
def test_impossible_splits(how, corpus, match):
    with pytest.raises(ValueError, match=match):
        split_corpus(corpus, how)
