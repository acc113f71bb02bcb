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
    "SpeechFeatures": dict(sr=8000, n_mels=8, n_frames=4),
}

# The one table of checks allowed to fail: estimator -> {check: reason}.
# SpeechFeatures takes utterances, one per row (paths, or waveforms of any
# length; a 2-D float array is read as equal-length waveforms, which is how
# sklearn's checks feed it). A waveform's length is not a number of features.
EXPECTED_FAILED_CHECKS: dict[str, dict[str, str]] = {
    "SpeechFeatures": {
        "check_n_features_in": (
            "rows are waveforms of any length: n_features_in_ is meaningless"
        ),
        "check_n_features_in_after_fitting": (
            "rows are waveforms of any length: transform accepts other lengths"
        ),
    },
}


def _instances():
    for name, cls in all_estimators():
        yield cls(**INIT_PARAMS.get(name, {}))


def _expected_failed(estimator):
    return EXPECTED_FAILED_CHECKS.get(type(estimator).__name__, {})


def test_all_estimators_found():
    names = dict(all_estimators())
    assert {"VAETransformer", "SpeechFeatures"} <= set(names)
    assert set(EXPECTED_FAILED_CHECKS) <= set(names)


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
