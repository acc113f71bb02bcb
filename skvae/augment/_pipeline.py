"""ResamplingPipeline: an imblearn Pipeline that resamples ``groups`` too."""

import numpy as np
from imblearn.pipeline import Pipeline
from sklearn import config_context
from sklearn.utils import _safe_indexing
from sklearn.utils._param_validation import StrOptions
from sklearn.utils.metadata_routing import process_routing
from sklearn.utils.metaestimators import available_if
from sklearn.utils.validation import _num_samples


def _last_step_has(method):
    return lambda self: (
        self._final_estimator == "passthrough" or hasattr(self._final_estimator, method)
    )


def _is_row_aligned(value, n_rows):
    """Whether a metadata value has one entry per row (an array, a list)."""
    if isinstance(value, str | bytes) or not hasattr(value, "__len__"):
        return False
    try:
        return _num_samples(value) == n_rows
    except TypeError:
        return False


class ResamplingPipeline(Pipeline):
    """An imbalanced-learn Pipeline whose samplers resample ``groups`` too.

    ``groups`` (and other metadata, e.g. ``sample_weight``) goes to the
    steps requesting it (metadata routing, on for the call only); after each
    sampler, row-aligned metadata is re-indexed with its ``sample_indices_``
    so a copy belongs to its source's group. ``predict`` and the other
    methods skip the samplers.

    Parameters
    ----------
    steps : list of (str, estimator) tuples
        Transformers and samplers, then an estimator.
    augmented_groups : {"source", "perturbation"}, default="source"
        An added row's group: its source's, or one per source group and
        ``perturbations_`` entry (``"ann|speed=1.1"``, ``"ann|voice=bob"``,
        ``"ann|mixture=bob+cy"``) so speaker CMVN treats each voice apart.
    transform_input, memory : None
        As :class:`imblearn.pipeline.Pipeline`'s, but not with metadata.
    verbose : bool, default=False
        As :class:`imblearn.pipeline.Pipeline`'s.

    See Also
    --------
    VoicePerturbation, VoiceConversionSampler : Samplers that record them.

    Examples
    --------
    >>> import numpy as np
    >>> import sklearn
    >>> from imblearn.under_sampling import RandomUnderSampler
    >>> from sklearn.svm import SVC
    >>> from skvae.augment import ResamplingPipeline
    >>> from skvae.features import GroupStandardScaler
    >>> with sklearn.config_context(enable_metadata_routing=True):
    ...     cmvn = GroupStandardScaler().set_fit_request(groups=True)
    ...     cmvn = cmvn.set_transform_request(groups=True)
    >>> pipe = ResamplingPipeline(
    ...     [("under", RandomUnderSampler(random_state=0)), ("cmvn", cmvn),
    ...      ("svc", SVC())])
    >>> rng = np.random.RandomState(0)
    >>> X, y = rng.normal(size=(30, 3)), np.r_[np.zeros(20), np.ones(10)]
    >>> speaker = np.arange(30) % 3
    >>> pipe.fit(X, y, groups=speaker).predict(X, groups=speaker).shape
    (30,)

    imblearn's own Pipeline would hand the scaler all 30 groups for the 20
    rows left by the under-sampler; here they follow the rows:

    >>> under = pipe.named_steps["under"]
    >>> len(under.sample_indices_), np.unique(speaker[under.sample_indices_])
    (20, array([0, 1, 2]))
    """

    _parameter_constraints: dict = {
        **Pipeline._parameter_constraints,
        "augmented_groups": [StrOptions({"source", "perturbation"})],
    }

    def __init__(
        self,
        steps,
        *,
        augmented_groups="source",
        transform_input=None,
        memory=None,
        verbose=False,
    ):
        super().__init__(
            steps, transform_input=transform_input, memory=memory, verbose=verbose
        )
        self.augmented_groups = augmented_groups

    def _resampled_metadata(self, name, sampler, params, n_rows):
        """The metadata re-indexed for the rows the sampler returned."""
        aligned = [k for k, v in params.items() if _is_row_aligned(v, n_rows)]
        if not aligned:
            return params
        index = getattr(sampler, "sample_indices_", None)
        if index is None:
            raise ValueError(
                f"step {name!r} ({type(sampler).__name__}) resamples the rows but "
                "has no sample_indices_ (the input row of each output row), so "
                f"the metadata {aligned} cannot follow its rows; use a sampler "
                "that records it (skvae.augment's samplers, imblearn's "
                "under-samplers) or pass no metadata"
            )
        out = dict(params)
        for key in aligned:
            out[key] = _safe_indexing(params[key], index)
        if self.augmented_groups == "perturbation" and "groups" in out:
            tags = getattr(sampler, "perturbations_", None)
            if tags is None or "groups" not in aligned:
                raise ValueError(
                    f"augmented_groups='perturbation', but step {name!r} "
                    f"({type(sampler).__name__}) has no perturbations_ to name "
                    "the new groups by"
                )
            out["groups"] = _tagged_groups(out["groups"], tags)
        return out

    def _fit_with_metadata(self, method, X, y, params):
        """Fit all steps but the last; return (Xt, yt, routed params)."""
        if self.memory is not None or self.transform_input is not None:
            raise ValueError(
                "ResamplingPipeline fits its steps in place and routes only "
                "metadata when metadata is given: memory and transform_input "
                "must be None"
            )
        self._validate_params()
        self.steps = list(self.steps)
        self._validate_steps()
        routed = process_routing(self, method, **params)
        for name, step in self.steps[:-1]:
            if step is None or step == "passthrough":
                continue
            step_params = routed[name]
            if hasattr(step, "fit_resample"):
                n_rows = _num_samples(X)
                X, y = step.fit_resample(X, y, **step_params.get("fit_resample", {}))
                params = self._resampled_metadata(name, step, params, n_rows)
                routed = process_routing(self, method, **params)
            elif hasattr(step, "fit_transform"):
                X = step.fit_transform(X, y, **step_params.get("fit_transform", {}))
            else:
                X = step.fit(X, y, **step_params.get("fit", {})).transform(
                    X, **step_params.get("transform", {})
                )
        return X, y, routed

    def _routed_call(self, method, X, *args, **params):
        params = {k: v for k, v in params.items() if v is not None}
        parent = getattr(super(), method)
        if not params:
            return parent(X, *args)
        with config_context(enable_metadata_routing=True):
            consumed = self.get_metadata_routing().consumes(method, list(params))
            missing = sorted(set(params) - set(consumed))
            if missing:
                names = ", ".join(name for name, _ in self.steps)
                raise ValueError(
                    f"{missing} were given to {method}, but no step of this "
                    f"pipeline ({names}) requests them; request them on a step "
                    "(e.g. GroupStandardScaler().set_fit_request(groups=True)"
                    ".set_transform_request(groups=True)), or leave them out"
                )
            if method not in ("fit", "fit_transform", "fit_predict"):
                return parent(X, *args, **params)
            y = args[0] if args else None
            Xt, yt, routed = self._fit_with_metadata(method, X, y, params)
            last_name, last = self.steps[-1]
            if last == "passthrough":
                return self if method == "fit" else Xt
            last_params = routed[last_name]
            if method == "fit":
                last.fit(Xt, yt, **last_params.get("fit", {}))
                return self
            # available_if: the last step has fit_transform / fit_predict
            return getattr(last, method)(Xt, yt, **last_params.get(method, {}))

    def fit(self, X, y=None, groups=None, **params):
        """Fit the steps; ``groups`` and other metadata follow the rows."""
        return self._routed_call("fit", X, y, groups=groups, **params)

    @available_if(_last_step_has("fit_transform"))
    def fit_transform(self, X, y=None, groups=None, **params):
        """Fit, then return the last step's output for the resampled rows."""
        return self._routed_call("fit_transform", X, y, groups=groups, **params)

    @available_if(_last_step_has("fit_predict"))
    def fit_predict(self, X, y=None, groups=None, **params):
        """Fit, then return the last step's ``fit_predict`` output."""
        return self._routed_call("fit_predict", X, y, groups=groups, **params)

    @available_if(_last_step_has("predict"))
    def predict(self, X, groups=None, **params):
        """Predict; ``groups`` goes to the steps that request it."""
        return self._routed_call("predict", X, groups=groups, **params)

    @available_if(_last_step_has("predict_proba"))
    def predict_proba(self, X, groups=None, **params):
        """Class probabilities; ``groups`` as in :meth:`predict`."""
        return self._routed_call("predict_proba", X, groups=groups, **params)

    @available_if(_last_step_has("predict_log_proba"))
    def predict_log_proba(self, X, groups=None, **params):
        """Log class probabilities; ``groups`` as in :meth:`predict`."""
        return self._routed_call("predict_log_proba", X, groups=groups, **params)

    @available_if(_last_step_has("decision_function"))
    def decision_function(self, X, groups=None, **params):
        """Decision function; ``groups`` as in :meth:`predict`."""
        return self._routed_call("decision_function", X, groups=groups, **params)

    @available_if(_last_step_has("transform"))
    def transform(self, X, groups=None, **params):
        """Transform through the steps; ``groups`` as in :meth:`predict`."""
        return self._routed_call("transform", X, groups=groups, **params)

    @available_if(_last_step_has("score"))
    def score(self, X, y=None, sample_weight=None, groups=None, **params):
        """Score of the last step; ``groups`` as in :meth:`predict`."""
        return self._routed_call(
            "score", X, y, sample_weight=sample_weight, groups=groups, **params
        )


def _tagged_groups(groups, tags):
    """``group|kind=value`` for the added rows, the group for the originals."""
    out = np.asarray(groups, dtype=object).copy()
    for i, (kind, value) in enumerate(tags):
        if kind == "mixture":  # (a, b, weight): one group per speaker pair
            value = f"{value[0]}+{value[1]}"
        if kind != "original":
            out[i] = f"{out[i]}|{kind}={value}"
    return out.astype(str)
