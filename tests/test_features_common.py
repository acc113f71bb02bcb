"""scikit-learn's common estimator checks on the front-end transformers.

``SpeechFeatures`` takes utterances, one per row: file paths or waveforms of
any length, and also a 2-D float array whose rows are equal-length waveforms.
Because of the latter, its tags keep ``input_tags.two_d_array = True`` and
sklearn runs (almost) all its checks, feeding random arrays as short
waveforms; ``input_tags.string = True`` says paths are accepted and
``requires_fit = False`` that ``transform`` works without ``fit`` (which
learns only the bandwidth of the training audio).

Checks that do not apply, and why (the entries live in the project's one
table, ``EXPECTED_FAILED_CHECKS`` in tests/test_common.py):

==================================  =========================================
check                               why it does not apply
==================================  =========================================
check_n_features_in                 A row is a waveform, whose length (the
check_n_features_in_after_fitting   "number of features") varies from
                                    utterance to utterance and is free at
                                    transform time; ``n_features_in_`` would
                                    be meaningless, so it is not set and
                                    other lengths are not rejected.
==================================  =========================================

sklearn itself skips ``check_array_api_input`` (it needs ``SCIPY_ARRAY_API``).
Every other check passes, including those on NaN/inf, empty, 1-D, complex and
sparse input (clear errors), pickling, ``set_output`` and the sample-order
and subset invariance of ``transform``.
"""

import numpy as np
from sklearn.utils.estimator_checks import parametrize_with_checks
from test_common import EXPECTED_FAILED_CHECKS

from skvae.features import SpeechFeatures

# small and fast configurations covering the output layouts
ESTIMATORS = [
    SpeechFeatures(sr=8000, n_mels=8, n_frames=4),
    SpeechFeatures(
        sr=8000,
        kind="mfcc",
        n_mels=10,
        n_mfcc=5,
        delta_order=2,
        cmvn="meanvar",
        context=1,
        output="pad",
        n_frames=3,
    ),
    SpeechFeatures(sr=8000, n_mels=6, output="stats", stats=("mean", "max")),
]


def _expected_failed_checks(estimator):
    return EXPECTED_FAILED_CHECKS.get(type(estimator).__name__, {})


@parametrize_with_checks(ESTIMATORS, expected_failed_checks=_expected_failed_checks)
def test_sklearn_common_checks(estimator, check):
    check(estimator)


def test_two_d_rows_are_waveforms():
    """What the common checks feed: each row of a 2-D array is one waveform."""
    X = np.random.default_rng(0).standard_normal((5, 400))
    fe = SpeechFeatures(sr=8000, n_mels=8, n_frames=4)
    assert np.array_equal(fe.transform(X), fe.transform(list(X)))
