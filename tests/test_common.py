"""scikit-learn's common estimator checks on every estimator skvae exports.

Estimators are discovered automatically (``skvae.utils.all_estimators``), so
a new one cannot escape these checks. ``INIT_PARAMS`` holds fast constructor
arguments (few epochs, small networks); ``EXPECTED_FAILED_CHECKS`` is the one
table of checks allowed to fail, each with the reason.
"""

import warnings

import pytest
from sklearn.exceptions import ConvergenceWarning
from sklearn.utils.estimator_checks import check_estimator, parametrize_with_checks

from skvae import VAETransformer
from skvae.utils import all_estimators

# Fast settings for the checks; the defaults are checked once below as well.
INIT_PARAMS = {
    "VAETransformer": dict(hidden_layer_sizes=(16,), max_iter=5),
}

# check name -> reason a user would accept. Empty means: every check passes.
EXPECTED_FAILED_CHECKS: dict[str, dict[str, str]] = {}


def _instances():
    for name, cls in all_estimators():
        yield cls(**INIT_PARAMS.get(name, {}))


def _expected_failed(estimator):
    return EXPECTED_FAILED_CHECKS.get(type(estimator).__name__, {})


def test_all_estimators_found():
    names = dict(all_estimators())
    assert "VAETransformer" in names


@pytest.mark.filterwarnings("ignore::sklearn.exceptions.ConvergenceWarning")
@parametrize_with_checks(list(_instances()), expected_failed_checks=_expected_failed)
def test_sklearn_compatible_estimator(estimator, check):
    check(estimator)


def test_check_estimator_with_default_parameters():
    """The estimator as a user creates it, defaults and all, passes every check."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        results = check_estimator(VAETransformer(), on_fail=None)
    failed = {
        r["check_name"]: r["exception"] for r in results if r["status"] == "failed"
    }
    assert not failed
    assert len(results) >= 40
