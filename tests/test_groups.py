"""VAETransformer's nuisance groups (speaker-conditioned decoder), conv encoder
and denoising. Groups in saved models: ``test_persistence.py``.
"""

import numpy as np
import pytest
import sklearn
from numpy.testing import assert_allclose, assert_array_equal
from sklearn.decomposition import PCA
from sklearn.linear_model import LogisticRegression
from sklearn.metrics import roc_auc_score
from sklearn.model_selection import (
    GridSearchCV,
    LeaveOneGroupOut,
    StratifiedKFold,
    cross_val_score,
)
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler

import skvae
from skvae import VAETransformer

pytestmark = pytest.mark.filterwarnings("ignore::sklearn.exceptions.ConvergenceWarning")

FAST = dict(hidden_layer_sizes=(32,), max_iter=20, random_state=0, n_threads=1)


@pytest.fixture(scope="module")
def grouped():
    """Rows = content pattern + a strong per-group offset."""
    rng = np.random.RandomState(0)
    n, d = 240, 12
    groups = np.repeat(np.array(["ann", "bob", "cy"]), n // 3)
    offsets = {"ann": 3.0, "bob": 0.0, "cy": -3.0}
    content = rng.normal(size=(n, 2)) @ rng.normal(size=(2, d))
    X = content + np.array([offsets[g] for g in groups])[:, None]
    X += 0.1 * rng.normal(size=(n, d))
    return X.astype(np.float32), groups


def test_groups_are_learned_and_transform_needs_only_X(grouped):
    X, groups = grouped
    vae = VAETransformer(2, **FAST).fit(X, groups=groups)
    assert_array_equal(vae.groups_, ["ann", "bob", "cy"])
    assert_allclose(vae.group_prior_, [1 / 3] * 3)
    assert vae.module_.n_conditions == 3
    assert vae.transform(X).shape == (X.shape[0], 2)
    plain = VAETransformer(2, **FAST).fit(X)
    assert plain.groups_ is None and plain.group_prior_ is None


def test_group_decoders_differ_and_default_is_their_prior_mix(grouped):
    X, groups = grouped
    vae = VAETransformer(2, **dict(FAST, max_iter=60, batch_size=32))
    vae.fit(X, groups=groups)
    Z = vae.transform(X[:5])
    per_group = np.stack([vae.inverse_transform(Z, groups=g) for g in vae.groups_])
    # the decoder puts back each group's offset (ann - cy = 6; measured 6.2)
    assert np.mean(per_group[0] - per_group[2]) > 5.0
    assert_allclose(
        vae.inverse_transform(Z),
        np.tensordot(vae.group_prior_, per_group, axes=1),
        rtol=1e-4,
        atol=1e-4,
    )
    # sampling for one group gives rows near that group's mean
    s_ann = vae.sample(300, groups="ann", random_state=0)
    s_cy = vae.sample(300, groups="cy", random_state=0)
    assert s_ann.mean() - s_cy.mean() > 4.0
    mixed = vae.sample(10, random_state=0)
    assert mixed.shape == (10, X.shape[1])


def test_marginal_score_is_log_mean_of_group_scores(grouped):
    X, groups = grouped
    vae = VAETransformer(2, **dict(FAST, max_iter=60, batch_size=32))
    vae.fit(X, groups=groups)
    per = np.stack(
        [vae.score_samples(X[:7], groups=np.full(7, g)) for g in vae.groups_]
    )
    expected = np.log(np.exp(per).T @ vae.group_prior_)
    assert_allclose(vae.score_samples(X[:7]), expected, rtol=1e-6)
    # each row is likelier under its own group than under the others
    own = vae.score_samples(X, groups=groups)
    other = vae.score_samples(X, groups=np.roll(groups, X.shape[0] // 3))
    assert np.mean(own > other) > 0.9


def test_group_errors(grouped):
    X, groups = grouped
    vae = VAETransformer(2, **FAST).fit(X, groups=groups)
    with pytest.raises(ValueError, match="not seen in fit.*'dan'"):
        vae.inverse_transform(vae.transform(X[:2]), groups=["ann", "dan"])
    with pytest.raises(ValueError, match="groups has 3 entries, but X has 240 rows"):
        VAETransformer(2, **FAST).fit(X, groups=groups[:3])
    with pytest.raises(ValueError, match="groups has 2 entries, but there are 3"):
        vae.sample(3, groups=["ann", "bob"])
    plain = VAETransformer(2, **FAST).fit(X)
    with pytest.raises(ValueError, match="fitted without groups"):
        plain.score_samples(X, groups=groups)
    cont = VAETransformer(2, **dict(FAST, warm_start=True)).fit(X, groups=groups)
    with pytest.raises(ValueError, match="fitted with groups; pass groups"):
        cont.fit(X)
    with pytest.raises(ValueError, match="decoder of a model fitted with groups"):
        skvae.export_torchscript(vae, part="decoder")


def test_partial_fit_with_groups(grouped):
    X, groups = grouped
    vae = VAETransformer(2, **FAST)
    vae.partial_fit(X[::2], groups=groups[::2])
    vae.partial_fit(X[1::2], groups=groups[1::2])
    assert vae.n_iter_ == 2
    with pytest.raises(ValueError, match="not seen in fit"):
        vae.partial_fit(X[:3], groups=["zed"] * 3)


def test_groups_reach_fit_through_metadata_routing_in_a_search(grouped):
    """Pipeline + GridSearchCV(cv=LeaveOneGroupOut()) with groups=speaker: the
    groups split the folds and condition each fold's VAE."""
    X, groups = grouped
    y = (X[:, 0] > np.median(X[:, 0])).astype(int)
    seen = []

    class Spy(VAETransformer):
        def fit(self, X, y=None, *, groups=None, X_clean=None):
            seen.append(None if groups is None else set(np.unique(groups)))
            return super().fit(X, y, groups=groups, X_clean=X_clean)

    with sklearn.config_context(enable_metadata_routing=True):
        vae = Spy(2, **dict(FAST, max_iter=5)).set_fit_request(groups=True)
        pipe = make_pipeline(vae, LogisticRegression())
        search = GridSearchCV(pipe, {"spy__beta": [0.5, 1.0]}, cv=LeaveOneGroupOut())
        search.fit(X, y, groups=groups)
    # 2 candidates x 3 folds (each without its held-out group), then the refit
    assert len(seen) == 7
    assert sorted(map(sorted, seen[:6])) == sorted(
        [["bob", "cy"], ["ann", "cy"], ["ann", "bob"]] * 2
    )
    assert seen[-1] == {"ann", "bob", "cy"}
    assert search.best_estimator_[0].groups_.tolist() == ["ann", "bob", "cy"]
    assert search.predict(X).shape == y.shape


@pytest.mark.slow
def test_speaker_conditioning_removes_speaker_information():
    """On generated speech (6 eSpeak voices x 10 digits x 6 repeats), a
    linear probe recognises the speaker from the speaker-conditioned latent
    much less well than from the plain latent, and the digit as well."""
    from skvae.datasets import make_spoken_digits
    from skvae.features import SpeechFeatures

    corpus = make_spoken_digits(n_speakers=6, n_repeats=6, random_state=0)
    X = SpeechFeatures(kind="mfcc", sr=8000, n_mfcc=13, n_frames=16).fit_transform(
        corpus.data
    )
    cv = StratifiedKFold(5, shuffle=True, random_state=0)

    def probe(Z, y):
        clf = make_pipeline(StandardScaler(), LogisticRegression(max_iter=2000))
        return cross_val_score(clf, Z, y, cv=cv).mean()

    params = dict(hidden_layer_sizes=(128,), max_iter=150, random_state=0, n_threads=1)
    plain = VAETransformer(8, **params).fit(X).transform(X)
    cond = VAETransformer(8, **params).fit(X, groups=corpus.speaker).transform(X)
    speaker_plain, speaker_cond = (
        probe(plain, corpus.speaker),
        probe(cond, corpus.speaker),
    )
    digit_plain, digit_cond = probe(plain, corpus.target), probe(cond, corpus.target)
    # measured: speaker 0.38 -> 0.23 (chance 1/6), digit 1.00 -> 1.00
    assert speaker_cond < speaker_plain - 0.08
    assert digit_cond >= digit_plain - 0.03
    assert digit_cond > 0.9


def test_conv_encoder_over_time():
    rng = np.random.RandomState(0)
    X = rng.normal(size=(100, 24 * 5)).astype(np.float32)
    vae = VAETransformer(3, frame_shape=(24, 5), **FAST).fit(X)
    assert vae.module_.conv is not None
    assert vae.transform(X).shape == (100, 3)
    again = VAETransformer(3, frame_shape=(24, 5), **FAST).fit(X)
    assert_array_equal(vae.transform(X), again.transform(X))
    # the convolution sees frames: shuffling frame order changes the code
    perm = rng.permutation(24)
    X_shuffled = X.reshape(100, 24, 5)[:, perm].reshape(100, -1)
    assert not np.allclose(vae.transform(X), vae.transform(X_shuffled), atol=1e-3)
    with pytest.raises(ValueError, match=r"frame_shape=\(10, 5\) must be"):
        VAETransformer(3, frame_shape=(10, 5), **FAST).fit(X)


def _denoising_data():
    rng = np.random.RandomState(0)
    basis = rng.normal(size=(3, 30))
    clean = (np.tanh(rng.normal(size=(600, 3))) @ basis).astype(np.float32)
    noisy = clean + rng.normal(scale=1.0, size=clean.shape).astype(np.float32)
    return clean, noisy


def test_denoising_with_given_pairs_recovers_clean_rows():
    clean, noisy = _denoising_data()
    train, test = slice(0, 500), slice(500, None)
    vae = VAETransformer(3, **dict(FAST, hidden_layer_sizes=(64,), max_iter=200))
    vae.fit(noisy[train], X_clean=clean[train])
    denoised = vae.inverse_transform(vae.transform(noisy[test]))
    before = np.mean((noisy[test] - clean[test]) ** 2)
    after = np.mean((denoised - clean[test]) ** 2)
    assert after < 0.3 * before
    # standardisation comes from the clean targets
    assert_allclose(vae.mean_, clean[train].mean(0), atol=1e-5)
    with pytest.raises(ValueError, match="X_clean has shape"):
        vae.fit(noisy[train], X_clean=clean[:10])


def test_corruption_noise_at_fit_makes_the_encoder_robust():
    clean, noisy = _denoising_data()
    params = dict(FAST, hidden_layer_sizes=(64,), max_iter=150)
    errors = {}
    for std in (0.0, 1.0):
        vae = VAETransformer(3, corruption_std=std, **params).fit(clean[:500])
        rec = vae.inverse_transform(vae.transform(noisy[500:]))
        errors[std] = np.mean((rec - clean[500:]) ** 2)
    assert errors[1.0] < 0.8 * errors[0.0]


def test_outlier_scores_beat_pca_off_a_curved_manifold():
    """Inliers on a ring, outliers in its middle: PCA's Gaussian gives the
    middle the highest density, the VAE a low one."""
    rng = np.random.RandomState(0)
    rot = np.linalg.qr(rng.normal(size=(8, 8)))[0][:2]

    def embed(points):
        return (points @ rot + 0.05 * rng.normal(size=(len(points), 8))).astype(
            np.float32
        )

    angle = rng.uniform(0, 2 * np.pi, 800)
    ring = embed(3 * np.c_[np.cos(angle), np.sin(angle)])
    centre = embed(rng.normal(scale=0.5, size=(100, 2)))
    vae = VAETransformer(2, **dict(FAST, hidden_layer_sizes=(64, 64), max_iter=150))
    vae.fit(ring[:700])
    labels = np.r_[np.ones(100), np.zeros(100)]
    scored = np.r_[ring[700:], centre]
    auc_vae = roc_auc_score(labels, vae.score_samples(scored, n_importance_samples=32))
    auc_pca = roc_auc_score(labels, PCA(2).fit(ring[:700]).score_samples(scored))
    # measured: VAE 0.87, PCA below 0.5
    assert auc_pca < 0.5
    assert auc_vae > 0.8
