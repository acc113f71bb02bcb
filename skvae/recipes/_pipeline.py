"""RecognizerPipeline: a scikit-learn Pipeline that passes ``groups`` on."""

from sklearn import config_context
from sklearn.pipeline import Pipeline
from sklearn.utils.metaestimators import available_if


def _last_step_has(method):
    return lambda self: hasattr(self.steps[-1][1], method)


def _routed(method, what):
    """Pipeline's ``method``, taking ``groups`` (available if the last step has it)."""

    def call(self, X, groups=None, **params):
        return self._with_groups(method, groups, X, **params)

    call.__name__, call.__qualname__ = method, f"RecognizerPipeline.{method}"
    call.__doc__ = f"{what}; ``groups`` goes to the steps that request it."
    return available_if(_last_step_has(method))(call)


class RecognizerPipeline(Pipeline):
    """A :class:`~sklearn.pipeline.Pipeline` whose methods take ``groups``.

    ``fit``, ``predict`` and the other methods hand ``groups`` (e.g. the
    speaker of each utterance) to the steps that request it
    (``set_fit_request(groups=True)``, ...), switching metadata routing on
    for the call only. Groups that no step requests raise ``ValueError``.

    Parameters
    ----------
    steps, memory, verbose
        As for :class:`~sklearn.pipeline.Pipeline`.

    See Also
    --------
    make_recognizer : The recogniser built on it.

    Examples
    --------
    >>> import numpy as np
    >>> import sklearn
    >>> from sklearn.svm import SVC
    >>> from skvae.features import GroupStandardScaler
    >>> from skvae.recipes import RecognizerPipeline
    >>> with sklearn.config_context(enable_metadata_routing=True):
    ...     scaler = GroupStandardScaler().set_fit_request(groups=True)
    ...     scaler = scaler.set_transform_request(groups=True)
    >>> pipe = RecognizerPipeline([("cmvn", scaler), ("svc", SVC())])
    >>> X = np.random.RandomState(0).normal(size=(40, 3))
    >>> y, speaker = np.arange(40) % 2, np.repeat(["ann", "bob"], 20)
    >>> pipe.fit(X, y, groups=speaker).predict(X[:6], groups=speaker[:6]).shape
    (6,)
    >>> RecognizerPipeline([("svc", SVC())]).fit(X, y, groups=speaker)
    Traceback (most recent call last):
    ...
    ValueError: groups were given to fit, but no step of this pipeline ...
    """

    __module__ = "skvae.recipes"  # model files name it by its public path

    def _with_groups(self, method, groups, X, *args, **params):
        parent = getattr(super(), method)
        if groups is None:
            return parent(X, *args, **params)
        with config_context(enable_metadata_routing=True):
            consumed = self.get_metadata_routing().consumes(method, ["groups"])
            if not consumed:
                names = ", ".join(name for name, _ in self.steps)
                raise ValueError(
                    f"groups were given to {method}, but no step of this "
                    f"pipeline ({names}) requests them; add one that does (e.g. "
                    "GroupStandardScaler().set_fit_request(groups=True)"
                    ".set_transform_request(groups=True)), or leave groups out"
                )
            return parent(X, *args, groups=groups, **params)

    def fit(self, X, y=None, groups=None, **params):
        """Fit the steps; ``groups`` goes to the steps that request it."""
        return self._with_groups("fit", groups, X, y, **params)

    predict = _routed("predict", "Predict labels")
    predict_proba = _routed("predict_proba", "Class probabilities")
    predict_log_proba = _routed("predict_log_proba", "Log class probabilities")
    decision_function = _routed("decision_function", "Decision function")
    transform = _routed("transform", "Transform through every step")

    @available_if(_last_step_has("score"))
    def score(self, X, y=None, sample_weight=None, groups=None, **params):
        """Score of the last step; ``groups`` as in :meth:`predict`."""
        if sample_weight is not None:
            params["sample_weight"] = sample_weight
        return self._with_groups("score", groups, X, y, **params)
