"""RejectOptionClassifier: a classifier that can answer "none of my classes".

A meta-estimator around a fitted-at-fit classifier (typically a speech
recogniser pipeline). It learns an in-vocabulary score and a threshold on it
at ``fit``, from a target false-rejection rate on held-out known rows, and
``predict`` returns a reject label where the score is below the threshold.

This module needs only scikit-learn and NumPy (never torch): the density
model, when there is one, is whichever step of the wrapped pipeline has
``score_samples`` (a :class:`~skvae.VAETransformer`, or ``PCA``...).
"""

from numbers import Integral, Real

import numpy as np
from sklearn.base import (
    BaseEstimator,
    ClassifierMixin,
    MetaEstimatorMixin,
    _fit_context,
    clone,
)
from sklearn.model_selection import (
    StratifiedKFold,
    StratifiedShuffleSplit,
    check_cv,
)
from sklearn.pipeline import Pipeline
from sklearn.utils import _safe_indexing, get_tags
from sklearn.utils._param_validation import (
    HasMethods,
    Interval,
    RealNotInt,
    StrOptions,
)
from sklearn.utils.metaestimators import available_if
from sklearn.utils.multiclass import check_classification_targets
from sklearn.utils.validation import (
    _num_samples,
    check_consistent_length,
    check_is_fitted,
    column_or_1d,
    indexable,
)

__all__ = ["RejectOptionClassifier"]

#: default reject label for classes that are strings (or other objects)
UNKNOWN = "<unknown>"
#: default reject label for numeric classes (when -1 is not a class)
REJECT_INT = -1

_SCORE_METHODS = ("auto", "combined", "likelihood", "confidence")


def _estimator_has(attr):
    """Whether the wrapped estimator (fitted or not) has ``attr``."""

    def check(self):
        if hasattr(self, "estimator_"):
            return hasattr(self.estimator_, attr)
        return hasattr(self.estimator, attr)

    return check


def _density_split(estimator):
    """Where the density model of ``estimator`` is, or None.

    Returns ``(head, density)``: ``density.score_samples(head.transform(X))``
    is the log-likelihood of the input ``X`` (``head`` None: no step before
    it). The estimator itself counts if it has ``score_samples`` (a Pipeline
    has it when its last step does); otherwise the last intermediate step of
    a Pipeline that has it.
    """
    if hasattr(estimator, "score_samples"):
        return None, estimator
    if isinstance(estimator, Pipeline):
        for i in range(len(estimator.steps) - 2, -1, -1):
            step = estimator.steps[i][1]
            if step not in (None, "passthrough") and hasattr(step, "score_samples"):
                return (estimator[:i] if i > 0 else None), step
    return None


def _has_confidence(estimator):
    return hasattr(estimator, "predict_proba") or hasattr(
        estimator, "decision_function"
    )


def _sample_params(params, n_samples, indices):
    """``params`` with per-row arrays (length ``n_samples``) cut to ``indices``."""
    out = {}
    for key, value in params.items():
        if (
            value is not None
            and not np.isscalar(value)
            and hasattr(value, "__len__")
            and _num_samples(value) == n_samples
        ):
            out[key] = _safe_indexing(value, indices)
        else:
            out[key] = value
    return out


class RejectOptionClassifier(MetaEstimatorMixin, ClassifierMixin, BaseEstimator):
    """A classifier with a reject option: "not one of the classes I know".

    Wraps a classifier (e.g. a speech recogniser pipeline from audio to
    labels) and learns at ``fit`` an in-vocabulary score and a threshold on
    it. :meth:`predict` returns ``reject_label`` for the rows scoring below
    the threshold and the wrapped classifier's label for the others;
    :meth:`score_samples` gives the score (higher = more like the training
    classes). The threshold is the ``target_false_rejection`` quantile of
    the scores of known rows the scoring model did not see in training
    (cross-fitted over ``cv``), so about that fraction of new known rows is
    rejected; no threshold is set by hand.

    The score (``score_method``):

    - ``"likelihood"``: log-likelihood of the input under the density model
      of the wrapped estimator: the estimator itself if it has
      ``score_samples``, else the last step of a
      :class:`~sklearn.pipeline.Pipeline` before the classifier that has
      one (a :class:`~skvae.VAETransformer`: its ELBO), fed the output of
      the steps before it.
    - ``"confidence"``: log of the classifier's largest class probability
      (``predict_proba``; else the largest ``decision_function`` value, or
      its absolute value for two classes).
    - ``"combined"``: the sum of the two, each first standardised on the
      held-out known rows (minus its mean, divided by its standard
      deviation), so each weighs the same.
    - ``"auto"`` (default): ``"combined"`` when the estimator has a density
      model, else ``"confidence"``. Measured on the Free Spoken Digit
      Dataset (``benchmarks/bench_openset.py``), the combined score
      separated known from unknown words and sounds better than either
      part alone.
    - a callable ``f(estimator, X) -> ndarray of shape (n_samples,)``, given
      the fitted wrapped estimator, higher for more familiar rows.

    Parameters
    ----------
    estimator : estimator object
        The classifier to wrap (cloned at ``fit``): a classifier, or a
        Pipeline ending in one, e.g.
        :func:`skvae.recipes.make_recognizer`'s pipeline. It takes whatever
        inputs it takes (audio file paths, waveforms, feature rows).
    score_method : {"auto", "combined", "likelihood", "confidence"} or \
            callable, default="auto"
        The in-vocabulary score, see above.
    target_false_rejection : float in [0, 1), default=0.05
        Fraction of known rows to reject: the threshold is this quantile of
        the held-out known scores. 0 never rejects (threshold -inf).
    reject_label : object or None, default=None
        Label that :meth:`predict` returns for rejected rows. None: -1 for
        numeric classes (the smallest class minus 1 when -1 is a class),
        ``"<unknown>"`` for string or object classes. It must not be one of
        the classes.
    cv : int, float, cross-validation generator, iterable or "prefit", \
            default=5
        How the held-out known scores are obtained:

        - int k: shuffled stratified k-fold; a clone of ``estimator`` is fitted
          on each k-1 folds and scores the remaining one (k extra fits);
        - float in (0, 1): one stratified split holding out this fraction
          (one extra fit with ``refit=True``, none with ``refit=False``);
        - a splitter or an iterable of (train, test) index arrays; a group
          splitter gets ``groups`` from the fit parameters;
        - ``"prefit"``: ``estimator`` is already fitted and used as is; the
          rows given to :meth:`fit` are the held-out known rows (they must
          not be its training rows). Needs ``refit=False``.

        Scores of the training rows themselves are optimistic (a model
        fits its own training rows best), so the threshold is never set on
        them.
    refit : bool, default=True
        Refit ``estimator`` on all rows after the held-out scores are
        computed. False keeps the model fitted on the training part of a
        single split (float ``cv`` or a one-split iterable), whose scores the
        threshold matches exactly; it cannot be used with several splits.
    random_state : int, RandomState instance or None, default=None
        Shuffles the folds of an int ``cv`` and draws the split of a float
        ``cv``.

    Attributes
    ----------
    estimator_ : estimator
        The fitted wrapped classifier.
    classes_ : ndarray of shape (n_classes,)
        The known classes (``estimator_.classes_``).
    reject_label_ : object
        The label of rejected rows.
    score_method_ : str or callable
        The score used (``"auto"`` resolved).
    threshold_ : float
        Rows with :meth:`score_samples` below it are rejected.
    score_location_, score_scale_ : ndarray of shape (n_parts,)
        Standardisation of each part of the score (``"combined"``: the
        likelihood, then the confidence; otherwise one part, location 0 and
        scale 1).
    calibration_scores_ : ndarray of shape (n_held_out,)
        The held-out known rows' scores the threshold was taken from (e.g.
        to plot the score distribution of known rows).
    n_features_in_ : int
        Number of input features, when ``estimator_`` has it.
    feature_names_in_ : ndarray of shape (n_features_in_,)
        Input feature names, when ``estimator_`` has them.

    See Also
    --------
    sklearn.model_selection.TunedThresholdClassifierCV : Tunes the decision
        threshold of a binary classifier (the ``cv``/``refit`` semantics
        follow it).
    skvae.recipes.make_recognizer : ``reject=True`` wraps the recogniser.

    Notes
    -----
    :meth:`predict_proba`, :meth:`predict_log_proba` and
    :meth:`decision_function` are those of ``estimator_``: probabilities
    among the known classes, as if the row were one of them. Only
    :meth:`predict` (and :meth:`score`, the accuracy of :meth:`predict`,
    where unknown rows labelled ``reject_label_`` count as correct when
    rejected) apply the reject option.

    Examples
    --------
    >>> import numpy as np
    >>> from sklearn.decomposition import PCA
    >>> from sklearn.linear_model import LogisticRegression
    >>> from sklearn.pipeline import make_pipeline
    >>> from skvae import RejectOptionClassifier
    >>> rng = np.random.RandomState(0)
    >>> X = np.r_[rng.normal(-3, 1, (100, 4)), rng.normal(3, 1, (100, 4))]
    >>> y = np.repeat([0, 1], 100)
    >>> clf = RejectOptionClassifier(
    ...     make_pipeline(PCA(2), LogisticRegression()), random_state=0
    ... ).fit(X, y)
    >>> clf.score_method_
    'combined'
    >>> clf.predict([[-3, -3, -3, -3], [3, 3, 3, 3], [0, 0, 30, 0]])
    array([ 0,  1, -1])
    >>> clf.score_samples([[-3, -3, -3, -3], [0, 0, 30, 0]]) > clf.threshold_
    array([ True, False])
    """

    _parameter_constraints: dict = {
        "estimator": [HasMethods(["fit", "predict"])],
        "score_method": [StrOptions(set(_SCORE_METHODS)), callable],
        "target_false_rejection": [Interval(Real, 0, 1, closed="left")],
        "reject_label": "no_validation",
        "cv": [
            "cv_object",
            Interval(RealNotInt, 0, 1, closed="neither"),
            StrOptions({"prefit"}),
        ],
        "refit": ["boolean"],
        "random_state": ["random_state"],
    }

    def __init__(
        self,
        estimator,
        *,
        score_method="auto",
        target_false_rejection=0.05,
        reject_label=None,
        cv=5,
        refit=True,
        random_state=None,
    ):
        self.estimator = estimator
        self.score_method = score_method
        self.target_false_rejection = target_false_rejection
        self.reject_label = reject_label
        self.cv = cv
        self.refit = refit
        self.random_state = random_state

    # ------------------------------------------------------------------
    # fit
    # ------------------------------------------------------------------
    @_fit_context(prefer_skip_nested_validation=False)
    def fit(self, X, y, **fit_params):
        """Fit the classifier and learn the score and its threshold.

        Parameters
        ----------
        X : array-like of shape (n_samples, ...)
            Training inputs, in whatever form ``estimator`` takes (feature
            rows, audio file paths, waveforms). With ``cv="prefit"``:
            held-out known rows.
        y : array-like of shape (n_samples,)
            Their labels, all known classes.
        **fit_params
            Passed to ``estimator.fit``; per-row arrays (e.g. ``groups``
            for a :class:`~skvae.recipes.RecognizerPipeline`) are cut to
            each fold. ``groups`` also goes to a group splitter ``cv``.

        Returns
        -------
        self : RejectOptionClassifier
            The fitted estimator.
        """
        if y is None:
            raise ValueError(
                "RejectOptionClassifier requires y to be passed, but the target y "
                "is None: give the labels of the known rows."
            )
        check_consistent_length(X, y)
        # lists stay lists (e.g. audio paths); sparse rows become CSR
        X, y = indexable(X, y)
        y = column_or_1d(y, warn=True)
        check_classification_targets(y)
        n_samples = _num_samples(X)
        if n_samples < 2:
            raise ValueError(
                "RejectOptionClassifier needs at least 2 samples to set a "
                f"threshold on held-out rows, got n_samples = {n_samples}."
            )
        prefit = isinstance(self.cv, str) and self.cv == "prefit"
        if prefit and self.refit:
            raise ValueError(
                "cv='prefit' uses the given estimator as fitted; set refit=False."
            )
        method = self._resolve_score_method(self.estimator)

        if prefit:
            check_is_fitted(self.estimator)
            final = self.estimator
            held_out = [self._raw_scores(final, X, method, fit_params)]
        else:
            splits = self._splits(X, y, fit_params)
            if not self.refit and len(splits) != 1:
                raise ValueError(
                    f"refit=False needs a single train/test split (a float cv "
                    f"or a one-split iterable); cv={self.cv!r} gives "
                    f"{len(splits)} splits."
                )
            held_out, final = [], None
            for train, test in splits:
                model = clone(self.estimator).fit(
                    _safe_indexing(X, train),
                    _safe_indexing(y, train),
                    **_sample_params(fit_params, n_samples, train),
                )
                predict_params = _sample_params(
                    {k: v for k, v in fit_params.items() if k == "groups"},
                    n_samples,
                    test,
                )
                held_out.append(
                    self._raw_scores(
                        model,
                        _safe_indexing(X, test),
                        method,
                        predict_params,
                        routed=True,
                    )
                )
                final = model
            if self.refit:
                final = clone(self.estimator).fit(X, y, **fit_params)

        self.estimator_ = final
        self.classes_ = final.classes_
        self.score_method_ = method
        self.reject_label_ = self._resolve_reject_label(self.classes_)
        raw = np.concatenate(held_out, axis=0)
        self.score_location_, self.score_scale_ = _standardisation(raw, method)
        scores = self._combine(raw)
        self.calibration_scores_ = scores
        self.threshold_ = self._threshold(scores)
        return self

    def _splits(self, X, y, fit_params):
        groups = fit_params.get("groups")
        if isinstance(self.cv, Real) and not isinstance(self.cv, Integral):
            splitter = StratifiedShuffleSplit(
                n_splits=1, test_size=self.cv, random_state=self.random_state
            )
        elif isinstance(self.cv, Integral):
            splitter = StratifiedKFold(
                n_splits=self.cv, shuffle=True, random_state=self.random_state
            )
        else:
            splitter = check_cv(self.cv, y, classifier=True)
        return list(splitter.split(X, y, groups))

    def _resolve_score_method(self, estimator):
        method = self.score_method
        if callable(method):
            return method
        has_density = _density_split(estimator) is not None
        has_conf = _has_confidence(estimator)
        if method == "auto":
            if not (has_density or has_conf):
                raise ValueError(
                    f"{type(estimator).__name__} gives no score to reject with: "
                    "it has no density model (score_samples, or a Pipeline step "
                    "with it) and neither predict_proba nor decision_function. "
                    "Pass score_method a callable."
                )
            if has_density and has_conf:
                method = "combined"
            else:
                method = "likelihood" if has_density else "confidence"
        if method in ("likelihood", "combined") and not has_density:
            raise ValueError(
                f"score_method={method!r} needs a density model: an estimator "
                "with score_samples, or a Pipeline with a step before the "
                f"classifier that has score_samples (e.g. VAETransformer); "
                f"{type(estimator).__name__} has none. Use "
                "score_method='confidence'."
            )
        if method in ("confidence", "combined") and not has_conf:
            raise ValueError(
                f"score_method={method!r} needs predict_proba or "
                f"decision_function; {type(estimator).__name__} has neither."
            )
        return method

    def _resolve_reject_label(self, classes):
        label = self.reject_label
        if label is None:
            if classes.dtype.kind in "iu":
                label = REJECT_INT if REJECT_INT not in classes else classes.min() - 1
                label = int(label)
            elif classes.dtype.kind == "f":
                label = REJECT_INT if REJECT_INT not in classes else classes.min() - 1
                label = float(label)
            else:
                label = UNKNOWN
        if any(_same_label(label, c) for c in classes):
            raise ValueError(
                f"reject_label={label!r} is one of the classes {classes.tolist()}; "
                "choose a label that is not a class."
            )
        return label

    def _threshold(self, scores):
        if self.target_false_rejection == 0:
            return -np.inf
        finite = scores[np.isfinite(scores)]
        if finite.size == 0:
            raise ValueError(
                "every held-out score is infinite or NaN: the estimator's "
                "scores cannot set a threshold."
            )
        # rows strictly below the threshold are rejected: the "lower"
        # quantile rejects at most the target fraction of held-out rows
        return float(np.quantile(scores, self.target_false_rejection, method="lower"))

    # ------------------------------------------------------------------
    # scores
    # ------------------------------------------------------------------
    @staticmethod
    def _raw_scores(estimator, X, method, params, *, routed=False):
        """Parts of the score, shape (n_samples, n_parts).

        ``routed``: pass each method only the ``params`` it consumes (for
        the held-out rows at fit, whose ``groups`` may be for fit only).
        """
        if callable(method):
            s = np.asarray(method(estimator, X), dtype=np.float64)
            if s.shape != (_num_samples(X),):
                raise ValueError(
                    f"score_method returned shape {s.shape}; expected "
                    f"({_num_samples(X)},), one score per row."
                )
            return s[:, None]
        parts = []
        if method in ("likelihood", "combined"):
            head, density = _density_split(estimator)
            if head is None:
                kw = _consumed(density, "score_samples", params) if routed else params
                parts.append(density.score_samples(X, **kw))
            else:
                kw = _consumed(head, "transform", params) if routed else params
                parts.append(density.score_samples(head.transform(X, **kw)))
        if method in ("confidence", "combined"):
            name = (
                "predict_proba"
                if hasattr(estimator, "predict_proba")
                else "decision_function"
            )
            kw = _consumed(estimator, name, params) if routed else params
            parts.append(_confidence(estimator, X, kw))
        return np.column_stack([np.asarray(p, dtype=np.float64) for p in parts])

    def _combine(self, raw):
        z = (raw - self.score_location_) / self.score_scale_
        return z.sum(axis=1)

    def score_samples(self, X, **params):
        """In-vocabulary score of each row (higher = more like the classes).

        Parameters
        ----------
        X : array-like of shape (n_samples, ...)
            Inputs, as for :meth:`predict`.
        **params
            Passed to the estimator's methods (e.g. ``groups``).

        Returns
        -------
        scores : ndarray of shape (n_samples,)
            Rows below ``threshold_`` are rejected by :meth:`predict`.
        """
        check_is_fitted(self)
        return self._combine(
            self._raw_scores(self.estimator_, X, self.score_method_, params)
        )

    def predict(self, X, **params):
        """The class of each row, or ``reject_label_`` for rejected rows.

        Parameters
        ----------
        X : array-like of shape (n_samples, ...)
            Inputs, in the form the wrapped estimator takes.
        **params
            Passed to the estimator's methods (e.g. ``groups``).

        Returns
        -------
        y : ndarray of shape (n_samples,)
            Labels from ``classes_``, or ``reject_label_``.
        """
        check_is_fitted(self)
        labels = np.asarray(self.estimator_.predict(X, **params))
        if self.threshold_ == -np.inf:  # target_false_rejection=0
            return labels
        rejected = self.score_samples(X, **params) < self.threshold_
        return _with_rejections(labels, rejected, self.reject_label_)

    @available_if(_estimator_has("predict_proba"))
    def predict_proba(self, X, **params):
        """Class probabilities of the wrapped classifier (known classes only).

        Parameters
        ----------
        X : array-like of shape (n_samples, ...)
            Inputs.
        **params
            Passed to ``estimator_.predict_proba``.

        Returns
        -------
        proba : ndarray of shape (n_samples, n_classes)
            ``estimator_.predict_proba(X)``: probabilities given that the row
            is one of the classes; see :meth:`score_samples` for whether it
            is.
        """
        check_is_fitted(self)
        return self.estimator_.predict_proba(X, **params)

    @available_if(_estimator_has("predict_log_proba"))
    def predict_log_proba(self, X, **params):
        """Log of :meth:`predict_proba` (the wrapped classifier's).

        Parameters
        ----------
        X : array-like of shape (n_samples, ...)
            Inputs.
        **params
            Passed to ``estimator_.predict_log_proba``.

        Returns
        -------
        log_proba : ndarray of shape (n_samples, n_classes)
        """
        check_is_fitted(self)
        return self.estimator_.predict_log_proba(X, **params)

    @available_if(_estimator_has("decision_function"))
    def decision_function(self, X, **params):
        """The wrapped classifier's decision function (known classes only).

        Parameters
        ----------
        X : array-like of shape (n_samples, ...)
            Inputs.
        **params
            Passed to ``estimator_.decision_function``.

        Returns
        -------
        scores : ndarray of shape (n_samples,) or (n_samples, n_classes)
        """
        check_is_fitted(self)
        return self.estimator_.decision_function(X, **params)

    # ------------------------------------------------------------------
    # sklearn plumbing
    # ------------------------------------------------------------------
    @property
    def n_features_in_(self):
        """Number of input features of the fitted estimator."""
        check_is_fitted(self, "estimator_")
        return self.estimator_.n_features_in_

    @property
    def feature_names_in_(self):
        """Input feature names of the fitted estimator."""
        check_is_fitted(self, "estimator_")
        return self.estimator_.feature_names_in_

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        inner = get_tags(self.estimator)
        tags.input_tags = inner.input_tags
        # a density model's score_samples may not take what the estimator
        # takes (PCA.score_samples refuses sparse rows): claim sparse input
        # only for the classifier's own confidence
        confidence_only = self.score_method == "confidence" or (
            self.score_method == "auto" and _density_split(self.estimator) is None
        )
        tags.input_tags.sparse = inner.input_tags.sparse and confidence_only
        tags.classifier_tags.multi_class = inner.classifier_tags.multi_class
        tags.classifier_tags.poor_score = inner.classifier_tags.poor_score
        return tags


def _consumed(estimator, method, params):
    """The entries of ``params`` that ``estimator.method`` requests.

    Through scikit-learn's metadata routing, for estimators that have it
    (a :class:`~skvae.recipes.RecognizerPipeline` refuses groups that no
    step requests); others get nothing.
    """
    if not params or not hasattr(estimator, "get_metadata_routing"):
        return {}
    from sklearn import config_context

    try:
        with config_context(enable_metadata_routing=True):
            names = estimator.get_metadata_routing().consumes(method, list(params))
    except (AttributeError, TypeError, ValueError, NotImplementedError):
        return {}
    return {k: v for k, v in params.items() if k in names}


def _confidence(estimator, X, params):
    if hasattr(estimator, "predict_proba"):
        proba = np.asarray(estimator.predict_proba(X, **params), dtype=np.float64)
        with np.errstate(divide="ignore"):
            return np.log(proba.max(axis=1))
    dec = np.asarray(estimator.decision_function(X, **params), dtype=np.float64)
    return np.abs(dec) if dec.ndim == 1 else dec.max(axis=1)


def _standardisation(raw, method):
    """Mean and standard deviation of each score part on the held-out rows."""
    n_parts = raw.shape[1]
    if method != "combined":
        return np.zeros(n_parts), np.ones(n_parts)
    loc = np.empty(n_parts)
    scale = np.empty(n_parts)
    for j in range(n_parts):
        col = raw[:, j][np.isfinite(raw[:, j])]
        if col.size == 0:
            raise ValueError(
                "every held-out score is infinite or NaN: the estimator's "
                "scores cannot set a threshold."
            )
        loc[j] = np.mean(col)
        spread = np.std(col)
        scale[j] = spread if spread > 0 else 1.0  # a constant part adds nothing
    return loc, scale


def _same_label(a, b):
    try:
        return bool(a == b)
    except (TypeError, ValueError):
        return False


def _with_rejections(labels, rejected, reject_label):
    """``labels`` with ``reject_label`` where ``rejected``, in a dtype for both.

    The dtype does not depend on which rows are rejected: numeric labels
    and a numeric reject label give their common numeric dtype (uint8
    classes and -1 give int64), strings and a string give a string dtype
    wide enough for both, anything else gives object.
    """
    mark = np.asarray(reject_label)
    kinds = labels.dtype.kind + mark.dtype.kind
    if all(k in "iuf" for k in kinds) or all(k in "U" for k in kinds):
        dtype = np.result_type(labels.dtype, mark.dtype)
    else:
        dtype = np.dtype(object)
    out = labels.astype(dtype)
    out[rejected] = reject_label
    return out
