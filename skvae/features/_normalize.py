"""Per-group (per-speaker) feature normalisation."""

from numbers import Integral

import numpy as np
from sklearn.base import (
    BaseEstimator,
    OneToOneFeatureMixin,
    TransformerMixin,
    _fit_context,
)
from sklearn.utils._param_validation import Interval
from sklearn.utils.validation import check_is_fitted, column_or_1d, validate_data

__all__ = ["GroupStandardScaler"]


def _moments(X):
    """Column mean and std; std 1 where within rounding (n * eps * |mean|) of 0."""
    mean = X.mean(axis=0, dtype=np.float64)
    scale = X.std(axis=0, dtype=np.float64)
    rounding = X.shape[0] * np.finfo(np.float64).eps * np.abs(mean)
    scale[scale <= rounding] = 1.0
    return mean, scale


class GroupStandardScaler(OneToOneFeatureMixin, TransformerMixin, BaseEstimator):
    """Standardise each group's rows with that group's own mean and variance.

    Per-speaker CMVN: a group is normalised by the rows passed for it, so a
    new speaker needs several utterances at once. Without ``groups``, the
    statistics of all ``fit`` rows are used (as ``StandardScaler``). In a
    pipeline, route ``groups`` with metadata routing
    (``set_fit_request(groups=True).set_transform_request(groups=True)``).

    Parameters
    ----------
    min_group_size : int, default=5
        Fewest rows a group may have; smaller groups raise a ValueError.

    Attributes
    ----------
    mean_, scale_ : ndarray of shape (n_features_in_,)
        Mean and std of all training rows (std 1 where constant).
    n_features_in_ : int
        Number of features seen during fit.
    feature_names_in_ : ndarray of shape (n_features_in_,)
        Names of features seen during fit, when X has string column names.

    See Also
    --------
    sklearn.preprocessing.StandardScaler : One set of statistics for all rows.
    SpeechFeatures : Per-utterance CMVN with ``cmvn="meanvar"``.

    Examples
    --------
    >>> import numpy as np
    >>> from skvae.features import GroupStandardScaler
    >>> X = np.array([[1.0], [3.0], [5.0], [11.0], [13.0], [15.0]])
    >>> speaker = ["a", "a", "a", "b", "b", "b"]
    >>> scaler = GroupStandardScaler(min_group_size=2)
    >>> scaler.fit_transform(X, groups=speaker).ravel().round(3)
    array([-1.225,  0.   ,  1.225, -1.225,  0.   ,  1.225])
    """

    _parameter_constraints: dict = {
        "min_group_size": [Interval(Integral, 1, None, closed="left")],
    }

    def __init__(self, min_group_size=5):
        self.min_group_size = min_group_size

    @_fit_context(prefer_skip_nested_validation=True)
    def fit(self, X, y=None, *, groups=None):
        """Learn the statistics of all rows; ``groups`` is only checked."""
        X = validate_data(self, X, dtype=[np.float64, np.float32])
        if groups is not None:
            self._check_groups(groups, X.shape[0])
        self.mean_, self.scale_ = _moments(X)
        return self

    def _check_groups(self, groups, n_rows):
        groups = column_or_1d(groups)
        if groups.shape[0] != n_rows:
            raise ValueError(
                f"groups has {groups.shape[0]} entries, but X has {n_rows} rows."
            )
        uniques, inverse, counts = np.unique(
            groups, return_inverse=True, return_counts=True
        )
        small = counts < self.min_group_size
        if np.any(small):
            raise ValueError(
                f"GroupStandardScaler needs at least min_group_size="
                f"{self.min_group_size} rows per group to estimate its "
                f"statistics; group(s) {uniques[small][:5].tolist()} have "
                f"{counts[small][:5].tolist()} row(s). Pass more rows of those "
                "groups at once, or lower min_group_size."
            )
        return uniques, inverse

    def transform(self, X, *, groups=None):
        """Standardise X, each group by its own statistics (None: ``fit``'s)."""
        check_is_fitted(self)
        X = validate_data(self, X, dtype=[np.float64, np.float32], reset=False)
        if groups is None:
            return ((X - self.mean_) / self.scale_).astype(X.dtype, copy=False)
        uniques, inverse = self._check_groups(groups, X.shape[0])
        out = np.empty_like(X)
        for k in range(len(uniques)):
            rows = inverse == k
            mean, scale = _moments(X[rows])
            out[rows] = (X[rows] - mean) / scale
        return out

    def fit_transform(self, X, y=None, *, groups=None):
        """Fit, then standardise X; see :meth:`transform`."""
        return self.fit(X, groups=groups).transform(X, groups=groups)

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.transformer_tags.preserves_dtype = ["float64", "float32"]
        tags.input_tags.allow_nan = False
        return tags
