"""The plain-NumPy input checks and column statistics (``skvae/_validation.py``).

Their use through the estimators is tested in ``test_bad_input.py``.
"""

import numpy as np
import pytest
from numpy.testing import assert_allclose, assert_array_equal

from skvae._validation import _index_in, _is_constant, _mean_std, _one_per_row


def test_chunked_mean_std_matches_numpy():
    X = np.random.RandomState(0).normal(3, 2, size=(1000, 5)).astype(np.float32)
    mean, std = _mean_std(X, chunk_rows=97)
    assert_allclose(mean, X.astype(np.float64).mean(axis=0), rtol=1e-10)
    assert_allclose(std, X.astype(np.float64).std(axis=0), rtol=1e-10)


def test_constant_means_a_spread_within_the_rounding_of_the_mean():
    """Relative, as sklearn's StandardScaler: data of any scale is varied."""
    rng = np.random.RandomState(0)
    for scale in (1e-16, 1e-7, 1.0, 1e16):
        X = rng.normal(size=(200, 3)) * scale
        assert not _is_constant(*_mean_std(X), 200).any()
        assert not _is_constant(*_mean_std(X.astype(np.float32)), 200).any()
    # equal values, whose float64 sum rounds, are constant at any magnitude
    for value in (0.0, 0.1, 7.5, 1e-30, 3e20):
        X = np.full((1000, 2), value)
        assert _is_constant(*_mean_std(X, chunk_rows=7), 1000).all()
    # a spread far above the rounding of the mean is not, however far from 0
    X = 1e8 + rng.normal(size=(200, 1))
    assert not _is_constant(*_mean_std(X), 200).any()


def test_index_in_finds_positions_and_names_unknown_values():
    known = np.array(["ann", "bob", "cy"])
    assert_array_equal(_index_in(known, ["cy", "ann", "cy"], "{unknown}"), [2, 0, 2])
    assert _index_in(known, ["bob"], "{unknown}").dtype == np.int64
    with pytest.raises(ValueError, match=r"^missing: \['dan', 'zed'\]$"):
        _index_in(known, ["zed", "ann", "dan", "zed"], "missing: {unknown}")
    # past either end of the sorted array
    with pytest.raises(ValueError, match=r"\['aa', 'zz'\]"):
        _index_in(known, ["aa", "zz"], "{unknown}")


def test_one_per_row_repeats_one_value_and_checks_the_count():
    assert_array_equal(_one_per_row("a", 3, "y", "n=3"), ["a", "a", "a"])
    assert_array_equal(_one_per_row([1, 2], 2, "y", "n=2"), [1, 2])
    # a longer label keeps its own width (it is not cut to the others')
    assert _one_per_row("rightx", 2, "y", "n=2")[0] == "rightx"
    with pytest.raises(ValueError, match="^groups has 2 entries, but there are 3 rows"):
        _one_per_row(["a", "b"], 3, "groups", "there are 3 rows")
