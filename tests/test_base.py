"""What the estimators share (``skvae/_base.py``, ``skvae/_saving.py``).

Their behaviour through the estimators is tested in ``test_transformer.py``
and ``test_classifier.py``; scikit-learn's own checks in ``test_common.py``.
"""

import inspect

import pytest

from skvae import FactorizedVAE, VAEClassifier, VAETransformer
from skvae._base import BaseVAE, store_params
from skvae._saving import saveable_classes


def test_store_params_stores_every_argument_unchanged():
    class Tiny:
        def __init__(self, a=1, *, b=(2, 3)):
            store_params(self, locals())

    t = Tiny(b=[4])
    assert vars(t) == {"a": 1, "b": [4]}


@pytest.mark.parametrize("cls", [VAETransformer, VAEClassifier])
def test_each_estimator_lists_every_parameter_it_has_constraints_for(cls):
    """sklearn reads parameters from each class's own __init__ signature: the
    shared ones are repeated there, and stored by store_params."""
    params = set(inspect.signature(cls.__init__).parameters) - {"self"}
    assert params == set(cls._parameter_constraints)
    assert set(BaseVAE._parameter_constraints) < params
    est = cls()
    assert set(vars(est)) == params


def test_saveable_estimators_register_themselves():
    # every estimator class registers itself when its module is imported
    # (FactorizedVAE is imported above, as skvae.load does)
    assert saveable_classes() == {
        "FactorizedVAE": FactorizedVAE,
        "VAEClassifier": VAEClassifier,
        "VAETransformer": VAETransformer,
    }
    saveable_classes().clear()  # a copy: the registry is left alone
    assert len(saveable_classes()) == 3
