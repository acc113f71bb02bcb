"""What the estimators share (``skvae/_base.py``, ``skvae/_serialize.py``).

Their behaviour through the estimators is tested in ``test_transformer.py``
and ``test_classifier.py``; scikit-learn's own checks in ``test_common.py``.
"""

import inspect
import re

import pytest

from skvae import FactorizedVAE, SequenceVAE, VAEClassifier, VAETransformer
from skvae._base import BaseVAE
from skvae._params import _SHARED_DOCS, SHARED_PARAMETERS, vae_parameters
from skvae._serialize import saveable_classes


def test_vae_parameters_gives_an_explicit_signature_and_stores_arguments():
    @vae_parameters(n_components=2, extra="x")
    class Tiny:
        """Parameters
        ----------
        n_components : int
            Own.
        {shared_parameters}
        """

    params = inspect.signature(Tiny).parameters
    assert list(params)[:3] == ["n_components", "extra", "hidden_layer_sizes"]
    assert params["n_components"].kind is inspect.Parameter.POSITIONAL_OR_KEYWORD
    assert params["extra"].kind is inspect.Parameter.KEYWORD_ONLY
    sizes = [4]
    t = Tiny(3, hidden_layer_sizes=sizes)
    assert t.hidden_layer_sizes is sizes and t.n_components == 3 and t.extra == "x"
    assert set(vars(t)) == set(params)
    with pytest.raises(TypeError):
        Tiny(unknown=1)
    with pytest.raises(TypeError):
        Tiny(1, 2)  # only the first parameter may be positional
    assert "{shared_parameters}" not in Tiny.__doc__
    for name in SHARED_PARAMETERS:
        assert f"\n        {name} : " in Tiny.__doc__


def test_shared_docs_follow_the_shared_parameters():
    assert re.findall(r"^(\w+) : ", _SHARED_DOCS, re.M) == list(SHARED_PARAMETERS)


@pytest.mark.parametrize("cls", [VAETransformer, VAEClassifier, FactorizedVAE])
def test_shared_parameters_are_documented_once_for_every_estimator(cls):
    doc = cls.__doc__
    assert "{shared" not in doc
    for name in [*inspect.signature(cls).parameters, "history_", "n_iter_"]:
        assert doc.count(f"\n    {name} : ") == 1, name


@pytest.mark.parametrize("cls", [VAETransformer, VAEClassifier, FactorizedVAE])
def test_each_estimator_lists_every_parameter_it_has_constraints_for(cls):
    """sklearn reads parameters from each class's __init__ signature, which
    vae_parameters makes from the class's own and the shared parameters."""
    params = set(inspect.signature(cls.__init__).parameters) - {"self"}
    assert params == set(cls._parameter_constraints)
    assert set(BaseVAE._parameter_constraints) < params
    est = cls()
    assert set(vars(est)) == params


def test_saveable_estimators_register_themselves():
    # every estimator class registers itself when its module is imported
    # (each is imported above; skvae.load imports them all, test_persistence)
    assert saveable_classes() == {
        "FactorizedVAE": FactorizedVAE,
        "SequenceVAE": SequenceVAE,
        "VAEClassifier": VAEClassifier,
        "VAETransformer": VAETransformer,
    }
    saveable_classes().clear()  # a copy: the registry is left alone
    assert len(saveable_classes()) == 4
