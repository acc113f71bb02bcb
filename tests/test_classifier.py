"""VAEClassifier (``skvae/_classifier.py``): semi-supervised learning and
class-conditional generation. Pickle and weights files: ``test_persistence.py``.
"""

import numpy as np
import pytest
from numpy.testing import assert_array_equal
from sklearn.datasets import make_moons
from sklearn.linear_model import LogisticRegression
from sklearn.pipeline import make_pipeline
from sklearn.svm import SVC

from skvae import VAEClassifier, VAETransformer

pytestmark = pytest.mark.filterwarnings("ignore::sklearn.exceptions.ConvergenceWarning")

FAST = dict(n_components=1, hidden_layer_sizes=(64, 64), random_state=0, n_threads=1)


@pytest.fixture(scope="module")
def curved():
    """Two interleaved half-moons, bent into 10-D.

    A few labels do not pin down the curved class boundary; the unlabelled
    rows do, by showing where each moon runs.
    """
    X, y = make_moons(800, noise=0.08, random_state=0)
    lift = np.random.RandomState(0).normal(size=(2, 10))
    return np.tanh(X @ lift / 2).astype(np.float32), y


def _few_labels(y, per_class, seed=0):
    rng = np.random.RandomState(seed)
    y_partial = np.full_like(y, -1)
    for c in np.unique(y):
        idx = rng.choice(np.flatnonzero(y == c), per_class, replace=False)
        y_partial[idx] = c
    return y_partial


def test_unlabelled_rows_help(curved):
    """3 labels per class: the semi-supervised model beats a logistic
    regression and an SVC trained on the labelled rows alone."""
    X, y = curved
    train, test = slice(0, None, 2), slice(1, None, 2)
    y_partial = _few_labels(y[train], 3)
    labelled = y_partial >= 0
    semi = VAEClassifier(**FAST, max_iter=300).fit(X[train], y_partial)
    assert semi.n_labelled_ == 6
    acc_semi = semi.score(X[test], y[test])
    acc_logreg = (
        LogisticRegression()
        .fit(X[train][labelled], y_partial[labelled])
        .score(X[test], y[test])
    )
    acc_svc = SVC().fit(X[train][labelled], y_partial[labelled]).score(X[test], y[test])
    # measured: 0.945 vs 0.79 and 0.82
    assert acc_semi > 0.9
    assert acc_semi > max(acc_logreg, acc_svc) + 0.1


def test_predict_proba_is_a_distribution_and_matches_predict(curved):
    X, y = curved
    clf = VAEClassifier(**FAST, max_iter=20).fit(X, y)
    proba = clf.predict_proba(X)
    assert proba.shape == (len(X), 2)
    np.testing.assert_allclose(proba.sum(1), 1, rtol=1e-10)
    assert_array_equal(clf.predict(X), clf.classes_[proba.argmax(1)])
    np.testing.assert_allclose(np.exp(clf.predict_log_proba(X)), proba)


def test_samples_are_recognised_as_the_requested_class(curved):
    """Class-conditional generation: a classifier trained on real rows
    recognises generated rows as the class they were generated for."""
    X, y = curved
    clf = VAEClassifier(**FAST, max_iter=150).fit(X, y)
    judge = SVC().fit(X, y)
    X_new, y_new = clf.sample(200, y=np.repeat([0, 1], 100), random_state=0)
    assert_array_equal(y_new, np.repeat([0, 1], 100))
    assert judge.score(X_new, y_new) > 0.9
    # one label for all rows, mean rows, reproducible draws
    X_one, y_one = clf.sample(5, y=1, random_state=1, observation_noise=False)
    assert_array_equal(y_one, [1] * 5)
    again = clf.sample(5, y=1, random_state=1, observation_noise=False)[0]
    assert_array_equal(X_one, again)
    # no y: classes from the uniform prior
    _, y_any = clf.sample(400, random_state=0)
    assert 150 < np.sum(y_any == 1) < 250


def test_string_labels_and_unlabelled_marker():
    rng = np.random.RandomState(0)
    X = np.r_[rng.normal(-2, 1, (60, 4)), rng.normal(2, 1, (60, 4))]
    y = np.array(["no"] * 60 + ["yes"] * 60, dtype=object)
    y[::3] = "-1"
    clf = VAEClassifier(**FAST, max_iter=30).fit(X, y)
    assert_array_equal(clf.classes_, ["no", "yes"])
    assert clf.n_labelled_ == 80
    assert set(clf.predict(X)) <= {"no", "yes"}


def test_sample_refuses_labels_that_only_share_a_prefix_with_a_class():
    """A longer label is not cut to the width of classes_ ('rightx' -> 'right')."""
    X = np.random.RandomState(0).normal(size=(20, 3))
    y = np.repeat(np.array(["left", "right"]), 10)
    clf = VAEClassifier(**FAST, max_iter=2).fit(X, y)
    assert clf.classes_.dtype == np.dtype("<U5")
    with pytest.raises(ValueError, match=r"not classes of this model: \['rightx'\]"):
        clf.sample(2, y="rightx")
    assert_array_equal(clf.sample(2, y="right", random_state=0)[1], ["right"] * 2)


def test_errors():
    X = np.random.RandomState(0).normal(size=(20, 3))
    with pytest.raises(ValueError, match="no labelled rows"):
        VAEClassifier(**FAST).fit(X, np.full(20, -1))
    with pytest.raises(ValueError, match="at least 2 classes; got 1 class"):
        VAEClassifier(**FAST).fit(X, np.r_[np.zeros(5), -np.ones(15)])
    with pytest.raises(ValueError, match="Unknown label type"):
        VAEClassifier(**FAST).fit(X, np.linspace(0, 1, 20))
    y = np.r_[np.zeros(10, int), np.ones(10, int)]
    clf = VAEClassifier(**FAST, max_iter=2).fit(X, y)
    with pytest.raises(ValueError, match=r"not classes of this model: \[7\]"):
        clf.sample(2, y=[0, 7])
    with pytest.raises(ValueError, match="y has 3 entries, but n_samples=2"):
        clf.sample(2, y=[0, 1, 1])
    with pytest.raises(ValueError, match="X has 4 features"):
        clf.predict(np.zeros((2, 4)))
    X_nan = X.copy()
    X_nan[3, 1] = np.nan
    with pytest.raises(ValueError, match="NaN"):
        VAEClassifier(**FAST).fit(X_nan, y)


def test_same_seed_same_model(curved):
    X, y = curved
    y_partial = _few_labels(y, 10)
    a = VAEClassifier(**FAST, max_iter=10).fit(X, y_partial)
    b = VAEClassifier(**FAST, max_iter=10).fit(X, y_partial)
    assert_array_equal(a.predict_proba(X), b.predict_proba(X))
    assert_array_equal(
        a.sample(3, y=1, random_state=0)[0], b.sample(3, y=1, random_state=0)[0]
    )


def test_m1_plus_m2_pipeline(curved):
    """Kingma et al.'s M1+M2: an unsupervised VAE's codes feed the M2 model."""
    X, y = curved
    y_partial = _few_labels(y, 20)
    pipe = make_pipeline(
        VAETransformer(4, hidden_layer_sizes=(64,), max_iter=50, random_state=0),
        VAEClassifier(**FAST, max_iter=100),
    ).fit(X, y_partial)
    assert pipe.score(X, y) > 0.9


def test_generated_log_mel_rows_become_wav_files(tmp_path):
    """Listening to samples: generated log-mel rows -> Griffin-Lim -> WAV."""
    from skvae.datasets import make_spoken_digits
    from skvae.features import SpeechFeatures, load_audio, write_wav

    corpus = make_spoken_digits(n_speakers=2, n_repeats=2, random_state=0)
    fe = SpeechFeatures(sr=8000, n_mels=20, n_frames=16, top_db=30)
    X = fe.fit_transform(corpus.data)
    gen = VAEClassifier(4, hidden_layer_sizes=(64,), max_iter=30, random_state=0)
    gen.fit(X, corpus.target)
    rows, labels = gen.sample(2, y=7, random_state=0, observation_noise=False)
    assert_array_equal(labels, [7, 7])
    waves = fe.inverse_transform(rows)
    path = write_wav(tmp_path / "7_gen.wav", waves[0], 8000, normalize=True)
    audio, sr = load_audio(path, sr=None)
    assert sr == 8000
    assert audio.shape == waves[0].shape
    assert np.all(np.isfinite(audio)) and np.abs(audio).max() > 0.1


def test_weights_file_without_classes_dtype_is_damaged(tmp_path):
    """One weights format: a file whose fitted attributes lack classes_dtype is
    refused as damaged, not read with a guessed dtype."""
    import json

    from safetensors import safe_open
    from safetensors.torch import load_file, save_file

    import skvae

    X = np.random.RandomState(0).normal(size=(20, 3)).astype(np.float32)
    y = np.repeat(np.array([3, 7], dtype=np.uint8), 10)
    clf = VAEClassifier(1, hidden_layer_sizes=(4,), max_iter=1, random_state=0)
    good = clf.fit(X, y).save(tmp_path / "clf.safetensors")
    assert skvae.load(good).classes_.dtype == np.uint8
    with safe_open(good, framework="pt") as fh:
        meta = dict(fh.metadata())
    fitted = json.loads(meta["fitted"])
    del fitted["classes_dtype"]
    meta["fitted"] = json.dumps(fitted)
    bad = tmp_path / "bad.safetensors"
    save_file(load_file(good), bad, metadata=meta)
    with pytest.raises(ValueError, match="damaged file .*'classes_dtype' is missing"):
        skvae.load(bad)
