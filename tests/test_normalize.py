"""GroupStandardScaler: per-speaker mean and variance normalisation."""

import numpy as np
import pytest
import sklearn
from numpy.testing import assert_allclose
from sklearn.linear_model import LogisticRegression
from sklearn.model_selection import LeaveOneGroupOut, cross_val_score
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler

from skvae.features import GroupStandardScaler


@pytest.fixture
def voices():
    """Two classes; each speaker shifts and scales every feature its own way,
    more than the classes differ."""
    rng = np.random.RandomState(0)
    speakers = np.repeat(np.array(["s1", "s2", "s3", "s4"]), 50)
    y = np.tile(np.repeat([0, 1], 25), 4)
    X = rng.normal(size=(200, 5)) + 1.5 * y[:, None]
    for k, s in enumerate(np.unique(speakers)):
        rows = speakers == s
        X[rows] = X[rows] * (1 + k) + 6 * (k - 1.5) * rng.normal(size=5)
    return X, y, speakers


def test_each_group_is_standardised_by_its_own_rows(voices):
    X, _, speakers = voices
    Xt = GroupStandardScaler().fit_transform(X, groups=speakers)
    for s in np.unique(speakers):
        rows = speakers == s
        assert_allclose(Xt[rows].mean(0), 0, atol=1e-12)
        assert_allclose(Xt[rows].std(0), 1, rtol=1e-12)
        assert_allclose(Xt[rows], StandardScaler().fit_transform(X[rows]))


def test_without_groups_it_is_a_standard_scaler(voices):
    X, _, speakers = voices
    scaler = GroupStandardScaler().fit(X, groups=speakers)
    assert_allclose(scaler.transform(X), StandardScaler().fit_transform(X))
    assert scaler.transform(X.astype(np.float32)).dtype == np.float32


def test_constant_feature_in_a_group_stays_finite():
    X = np.c_[np.arange(10.0), np.ones(10)]
    Xt = GroupStandardScaler().fit_transform(X, groups=[0] * 5 + [1] * 5)
    assert np.all(np.isfinite(Xt))
    assert_allclose(Xt[:, 1], 0)


@pytest.mark.parametrize(
    ("dtype", "factor"),
    [(np.float32, 1e-7), (np.float64, 1e-16), (np.float64, 1e-20), (np.float64, 1e20)],
)
def test_tiny_and_huge_scales_are_standardised(voices, dtype, factor):
    """Constant means constant relative to the data, not below an absolute
    threshold: rows scaled by 1e-16 are not all 'constant'."""
    X, _, speakers = voices
    Xs = (X * factor).astype(dtype)
    expected = StandardScaler().fit_transform(X)
    scaler = GroupStandardScaler().fit(Xs)
    out = scaler.transform(Xs)
    assert out.dtype == dtype
    rtol = 1e-4 if dtype == np.float32 else 1e-9
    assert_allclose(out, expected, rtol=rtol, atol=rtol)
    assert_allclose(scaler.scale_, X.std(0) * factor, rtol=rtol)
    Xt = GroupStandardScaler().fit_transform(Xs, groups=speakers)
    for s in np.unique(speakers):
        assert_allclose(Xt[speakers == s].std(0), 1.0, rtol=rtol)


@pytest.mark.parametrize(
    ("dtype", "value"), [(np.float32, 0.1), (np.float64, 1e8), (np.float64, 1e-30)]
)
def test_constant_features_of_any_magnitude_become_zero(dtype, value):
    X = np.c_[np.arange(10.0), np.full(10, value)].astype(dtype)
    scaler = GroupStandardScaler(min_group_size=2).fit(X)
    assert scaler.scale_[1] == 1.0
    assert_allclose(scaler.transform(X)[:, 1], 0.0, atol=1e-6 * value)
    Xt = scaler.fit_transform(X, groups=[0, 1] * 5)
    assert_allclose(Xt[:, 1], 0.0, atol=1e-6 * value)


def test_errors(voices):
    X, _, speakers = voices
    scaler = GroupStandardScaler().fit(X)
    with pytest.raises(ValueError, match=r"group\(s\) \['s9'\] have \[3\] row"):
        scaler.transform(X[:8], groups=["s1"] * 5 + ["s9"] * 3)
    with pytest.raises(ValueError, match="groups has 3 entries, but X has 200 rows"):
        scaler.transform(X, groups=speakers[:3])
    with pytest.raises(ValueError, match="X has 4 features"):
        scaler.transform(X[:, :4])


def test_unseen_speakers_through_pipeline_routing(voices):
    """Leave-one-speaker-out with groups routed to fit and transform: the
    held-out speaker is normalised by its own rows, which rescues a linear
    classifier that fails on globally scaled features."""
    X, y, speakers = voices
    cv = LeaveOneGroupOut()
    with sklearn.config_context(enable_metadata_routing=True):
        scaler = GroupStandardScaler().set_fit_request(groups=True)
        scaler.set_transform_request(groups=True)
        pipe = make_pipeline(scaler, LogisticRegression())
        per_speaker = cross_val_score(pipe, X, y, cv=cv, params={"groups": speakers})
        plain = cross_val_score(
            make_pipeline(StandardScaler(), LogisticRegression()),
            X,
            y,
            cv=cv,
            params={"groups": speakers},
        )
        fitted = pipe.fit(X, y, groups=speakers)
        assert fitted.score(X, y, groups=speakers) > 0.8
    assert per_speaker.mean() > 0.8
    assert per_speaker.mean() > plain.mean() + 0.2
