"""One table of bad or unusual inputs and what each must do.

Every row either raises a clear error naming the problem (``raises``), or
has a defined, checked behaviour (``behaves``): nothing is silently dropped
or changed. The number of rows is the count reported for the issue.
"""

from dataclasses import dataclass
from typing import Any

import numpy as np
import pytest
import scipy.sparse as sp
from sklearn.exceptions import NotFittedError
from sklearn.utils._param_validation import InvalidParameterError

from skvae import VAETransformer

pytestmark = pytest.mark.filterwarnings("ignore::sklearn.exceptions.ConvergenceWarning")

RNG = np.random.RandomState(0)
X = RNG.normal(size=(60, 4))
FAST = dict(n_components=2, hidden_layer_sizes=(8,), max_iter=3, random_state=0)


def _fitted():
    return VAETransformer(**FAST).fit(X)


@dataclass
class Case:
    id: str
    call: Any  # () -> result
    raises: Any = None  # (exception type, regex) or None
    behaves: Any = None  # result -> None, asserting the defined behaviour


def _finite_2d(shape):
    def check(out):
        assert out.shape == shape
        assert np.isfinite(out).all()

    return check


def _constant_column_reconstructed(_):
    Xc = X.copy()
    Xc[:, 1] = 7.5
    # kept, not dropped: unit scale (no division by zero), and reproduced
    # exactly by reconstructions and samples
    est = VAETransformer(**FAST).fit(Xc)
    assert est.scale_[1] == 1.0
    R = est.inverse_transform(est.transform(Xc))
    np.testing.assert_array_equal(R[:, 1], 7.5)
    np.testing.assert_array_equal(est.sample(20, random_state=0)[:, 1], 7.5)
    assert np.ptp(R[:, 0]) > 0  # the other features are still modelled


def _no_feature_names(est):
    # integer column labels are not feature names (sklearn's rule)
    assert not hasattr(est, "feature_names_in_")
    assert est.n_features_in_ == 4


def _pandas():
    return pytest.importorskip("pandas")


def _polars():
    return pytest.importorskip("polars")


ESTIMATOR_CASES = [
    Case(
        "nan",
        lambda: VAETransformer(**FAST).fit(np.where(X > 2, np.nan, X)),
        raises=(ValueError, "Input X contains NaN"),
    ),
    Case(
        "inf",
        lambda: VAETransformer(**FAST).fit(np.where(X > 2, np.inf, X)),
        raises=(ValueError, "Input X contains infinity"),
    ),
    Case(
        "nan-at-transform",
        lambda: _fitted().transform(np.full((2, 4), np.nan)),
        raises=(ValueError, "Input X contains NaN"),
    ),
    Case(
        "nan-latent-at-inverse",
        lambda: _fitted().inverse_transform(np.full((2, 2), np.nan)),
        raises=(ValueError, "Input X contains NaN"),
    ),
    Case(
        "huge-values-1e30",
        lambda: VAETransformer(**FAST).fit_transform(X * 1e30),
        behaves=_finite_2d((60, 2)),
    ),
    Case(
        "beyond-float32-1e39",
        lambda: VAETransformer(**FAST).fit(X * 1e39),
        raises=(ValueError, "too large for float32"),
    ),
    Case(
        "variance-overflow",
        lambda: VAETransformer(**FAST).fit(X * 1e300),
        raises=(ValueError, "mean or variance overflows"),
    ),
    Case("constant-column", lambda: None, behaves=_constant_column_reconstructed),
    Case(
        "single-sample",
        lambda: VAETransformer(**FAST).fit_transform(X[:1]),
        behaves=_finite_2d((1, 2)),
    ),
    Case(
        "more-latents-than-features",
        lambda: VAETransformer(**{**FAST, "n_components": 5}).fit(X),
        raises=(ValueError, "n_components=5 must be at most the number of features"),
    ),
    Case(
        "int-array",
        lambda: VAETransformer(**FAST).fit_transform((X * 10).astype(int)),
        behaves=_finite_2d((60, 2)),
    ),
    Case(
        "bool-array",
        lambda: VAETransformer(**FAST).fit_transform(X > 0),
        behaves=_finite_2d((60, 2)),
    ),
    Case(
        "object-numbers",
        lambda: VAETransformer(**FAST).fit_transform(X.astype(object)),
        behaves=_finite_2d((60, 2)),
    ),
    Case(
        "object-strings",
        lambda: VAETransformer(**FAST).fit(
            np.array([["a", "b"], ["c", "d"]], dtype=object)
        ),
        raises=(ValueError, "could not convert string to float"),
    ),
    Case(
        "string-array",
        lambda: VAETransformer(**FAST).fit(np.array([["1.5", "x"]] * 3)),
        raises=(ValueError, "could not convert string to float"),
    ),
    Case(
        "complex-array",
        lambda: VAETransformer(**FAST).fit(X + 1j),
        raises=(ValueError, "Complex data not supported"),
    ),
    Case(
        "sparse-matrix",
        lambda: VAETransformer(**FAST).fit(sp.csr_matrix(X)),
        raises=(TypeError, "Sparse data was passed"),
    ),
    Case(
        "ragged-list",
        lambda: VAETransformer(**FAST).fit([[1.0, 2.0], [3.0]]),
        raises=(ValueError, "inhomogeneous"),
    ),
    Case(
        "3d-array",
        lambda: VAETransformer(**FAST).fit(X.reshape(60, 2, 2)),
        raises=(ValueError, "Found array with dim 3"),
    ),
    Case(
        "1d-array",
        lambda: VAETransformer(**FAST).fit(X[:, 0]),
        raises=(ValueError, "Expected 2D array, got 1D array"),
    ),
    Case(
        "empty-rows",
        lambda: VAETransformer(**FAST).fit(X[:0]),
        raises=(ValueError, "0 sample"),
    ),
    Case(
        "empty-features",
        lambda: VAETransformer(**FAST).fit(X[:, :0]),
        raises=(ValueError, "0 feature"),
    ),
    Case(
        "wrong-n-features",
        lambda: _fitted().transform(X[:, :3]),
        raises=(ValueError, "X has 3 features, but VAETransformer is expecting 4"),
    ),
    Case(
        "wrong-latent-width",
        lambda: _fitted().inverse_transform(np.zeros((3, 3))),
        raises=(ValueError, "latent codes with n_components=2"),
    ),
    Case(
        "partial-fit-new-width",
        lambda: _fitted().partial_fit(X[:, :3]),
        raises=(ValueError, "X has 3 features"),
    ),
    Case(
        "pandas-names-kept",
        lambda: VAETransformer(**FAST).fit(
            _pandas().DataFrame(X, columns=list("abcd"))
        ),
        behaves=lambda est: np.testing.assert_array_equal(
            est.feature_names_in_, list("abcd")
        ),
    ),
    Case(
        "pandas-names-differ",
        lambda: (
            VAETransformer(**FAST)
            .fit(_pandas().DataFrame(X, columns=list("abcd")))
            .transform(_pandas().DataFrame(X, columns=list("abdc")))
        ),
        raises=(ValueError, "feature names should match"),
    ),
    Case(
        "pandas-fit-without-names",
        lambda: VAETransformer(**FAST).fit(_pandas().DataFrame(X)),
        behaves=lambda est: _no_feature_names(est),
    ),
    Case(
        "polars-names-differ",
        lambda: (
            VAETransformer(**FAST)
            .fit(_polars().DataFrame(X, schema=list("abcd")))
            .transform(_polars().DataFrame(X, schema=list("abce")))
        ),
        raises=(ValueError, "feature names should match"),
    ),
    Case(
        "sample-zero",
        lambda: _fitted().sample(0),
        raises=(ValueError, "n_samples must be at least 1, got 0"),
    ),
    Case(
        "sample-negative",
        lambda: _fitted().sample(-1),
        raises=(ValueError, "n_samples must be at least 1, got -1"),
    ),
    Case(
        "sample-float",
        lambda: _fitted().sample(2.5),
        raises=(TypeError, "n_samples must be an int"),
    ),
    Case(
        "invalid-device-string",
        lambda: VAETransformer(device="gpu9").fit(X),
        raises=(ValueError, "device='gpu9' is not a valid torch device"),
    ),
    Case(
        "invalid-device-type",
        lambda: VAETransformer(device=3).fit(X),
        raises=(InvalidParameterError, "'device' parameter"),
    ),
    Case(
        "unfitted-transform",
        lambda: VAETransformer().transform(X),
        raises=(NotFittedError, "not fitted yet"),
    ),
    Case(
        "bernoulli-out-of-range",
        lambda: VAETransformer(**FAST, likelihood="bernoulli").fit(X),
        raises=(ValueError, r"likelihood='bernoulli' needs X in \[0, 1\]"),
    ),
    Case(
        "bad-importance-samples",
        lambda: _fitted().score_samples(X, n_importance_samples=-3),
        raises=(ValueError, "n_importance_samples must be None or a positive int"),
    ),
]

CASES = ESTIMATOR_CASES


def test_table_size():
    """The issue asks for at least 30 distinct cases."""
    assert len({c.id for c in CASES}) == len(CASES) >= 30


@pytest.mark.parametrize("case", CASES, ids=[c.id for c in CASES])
def test_bad_input(case):
    assert (case.raises is None) != (case.behaves is None), "one expectation per row"
    if case.raises is not None:
        exc, match = case.raises
        with pytest.raises(exc, match=match):
            case.call()
    else:
        case.behaves(case.call())
