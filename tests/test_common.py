"""scikit-learn's common estimator checks on every estimator skvae exports.

Estimators are discovered automatically (``skvae.utils.all_estimators``), so
a new one cannot escape these checks. ``INIT_PARAMS`` holds fast constructor
arguments (few epochs, small networks); ``EXPECTED_FAILED_CHECKS`` is the one
table of checks allowed to fail, each with the reason.
"""

import warnings

import pytest
from sklearn.decomposition import PCA
from sklearn.exceptions import ConvergenceWarning
from sklearn.linear_model import LogisticRegression
from sklearn.pipeline import Pipeline
from sklearn.preprocessing import StandardScaler
from sklearn.utils.estimator_checks import check_estimator, parametrize_with_checks

from skvae import FactorizedVAE, VAEClassifier, VAETransformer
from skvae.utils import all_estimators

# Fast settings for the checks (tiny networks, few epochs); the defaults are
# checked once below as well.
INIT_PARAMS = {
    "VAETransformer": dict(hidden_layer_sizes=(16,), max_iter=5),
    "VAEClassifier": dict(
        n_components=2, hidden_layer_sizes=(16,), max_iter=10, learning_rate_init=1e-2
    ),
    "FactorizedVAE": dict(hidden_layer_sizes=(16,), max_iter=5),
    "SpeechFeatures": dict(sr=8000, n_mels=8, n_frames=4),
    "VoicePerturbation": dict(sr=8000),
    "VoiceConversionSampler": dict(
        estimator=VAETransformer(hidden_layer_sizes=(16,), max_iter=5)
    ),
    "ResamplingPipeline": dict(
        steps=[("scale", StandardScaler()), ("clf", LogisticRegression())]
    ),
    # a Pipeline needs its steps; sklearn checks its own Pipeline with a
    # scaler and a linear model too
    "RecognizerPipeline": dict(
        steps=[("scale", StandardScaler()), ("clf", LogisticRegression())]
    ),
    # a density step (PCA.score_samples) before the classifier, so the
    # default combined score runs; rejecting nothing (0) keeps predict equal
    # to the wrapped classifier's, which several checks compare with
    # predict_proba: tests/test_openset.py runs the checks at 0.05 as well
    "RejectOptionClassifier": dict(
        estimator=Pipeline([("pca", PCA()), ("clf", LogisticRegression())]),
        target_false_rejection=0.0,
        cv=3,
        random_state=0,
    ),
}

# The one table of checks allowed to fail: estimator -> {check: reason}.
# SpeechFeatures takes utterances, one per row (paths, or waveforms of any
# length; a 2-D float array is read as equal-length waveforms, which is how
# sklearn's checks feed it). A waveform's length is not a number of features.
# VAEClassifier is semi-supervised: y == -1 marks an unlabelled row, as in
# sklearn.semi_supervised. check_classifiers_classes fits on labels [-1, 1];
# sklearn exempts its own semi-supervised classifiers from those labels by
# name (see test_classifier_classes_with_semi_supervised_labels below, which
# runs the same check the way sklearn runs it for them).
EXPECTED_FAILED_CHECKS: dict[str, dict[str, str]] = {
    "VAEClassifier": {
        "check_classifiers_classes": (
            "labels [-1, 1]: -1 marks unlabelled rows, as in sklearn.semi_supervised"
        ),
    },
    "RecognizerPipeline": {
        "check_dont_overwrite_parameters": (
            "a Pipeline replaces its steps by fitted clones (sklearn expects the "
            "same failure of its own Pipeline)"
        ),
        "check_estimators_overwrite_params": (
            "a Pipeline replaces its steps by fitted clones (sklearn expects the "
            "same failure of its own Pipeline)"
        ),
    },
    "ResamplingPipeline": {
        "check_dont_overwrite_parameters": (
            "a Pipeline replaces its steps by fitted clones (sklearn expects the "
            "same failure of its own Pipeline)"
        ),
        "check_estimators_overwrite_params": (
            "a Pipeline replaces its steps by fitted clones (sklearn expects the "
            "same failure of its own Pipeline)"
        ),
    },
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
        try:
            yield cls(**INIT_PARAMS.get(name, {}))
        except TypeError as exc:
            raise TypeError(
                f"{name} needs constructor arguments for the common checks: add "
                f"them to INIT_PARAMS in {__file__}"
            ) from exc


def _expected_failed(estimator):
    return EXPECTED_FAILED_CHECKS.get(type(estimator).__name__, {})


def test_all_estimators_found():
    names = dict(all_estimators())
    assert {
        "VAETransformer",
        "VAEClassifier",
        "FactorizedVAE",
        "SpeechFeatures",
    } <= set(names)
    assert set(EXPECTED_FAILED_CHECKS) <= set(names)


@pytest.mark.filterwarnings("ignore::sklearn.exceptions.ConvergenceWarning")
@parametrize_with_checks(list(_instances()), expected_failed_checks=_expected_failed)
def test_sklearn_compatible_estimator(estimator, check):
    check(estimator)


@pytest.mark.parametrize(
    "estimator",
    [
        VAETransformer(),
        FactorizedVAE(),
        # the slowest (25 s on 2 busy cores): 200 epochs of two networks per fit
        pytest.param(VAEClassifier(), marks=pytest.mark.slow),
    ],
    ids=repr,
)
def test_check_estimator_with_default_parameters(estimator):
    """The estimator as a user creates it, defaults and all, passes every check
    (the README promises it)."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        results = check_estimator(estimator, on_fail=None)
    failed = {
        r["check_name"]: r["exception"] for r in results if r["status"] == "failed"
    }
    assert set(failed) <= set(_expected_failed(estimator)), failed
    assert len(results) >= 40


def test_classifier_classes_with_semi_supervised_labels():
    """check_classifiers_classes as sklearn runs it for LabelSpreading and
    SelfTrainingClassifier: string and object labels, and integer labels where
    it would otherwise use -1 (the unlabelled marker)."""
    from sklearn.utils.estimator_checks import check_classifiers_classes

    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        check_classifiers_classes(
            "SelfTrainingClassifier", VAEClassifier(**INIT_PARAMS["VAEClassifier"])
        )
