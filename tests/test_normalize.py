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
