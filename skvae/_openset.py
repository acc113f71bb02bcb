"""RejectOptionClassifier: a classifier that can answer "none of my classes".

Needs only scikit-learn and NumPy: the density model, when there is one, is
the step of the wrapped pipeline that has ``score_samples``.
"""

import inspect
import warnings
from numbers import Integral, Real

import numpy as np
from sklearn import config_context
from sklearn.base import (
    BaseEstimator,
    ClassifierMixin,
    MetaEstimatorMixin,
    _fit_context,
    clone,
)
from sklearn.model_selection import (
    GroupShuffleSplit,
    StratifiedGroupKFold,
    StratifiedKFold,
    StratifiedShuffleSplit,
    check_cv,
)
from sklearn.pipeline import Pipeline
from sklearn.utils import _safe_indexing, get_tags
from sklearn.utils._param_validation import HasMethods, Interval, RealNotInt, StrOptions
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

#: the default reject labels: of string or object classes, of numeric ones
UNKNOWN, REJECT_INT = "<unknown>", -1
#: the filler ("other word") labels of ``filler_label="auto"``: of string or
#: object labels, of numeric ones
FILLER, FILLER_INT = "<filler>", -2


def resolve_filler_label(label, y):
    """``label`` with "auto" resolved for the labels ``y``: -2 when they are
    numbers, ``"<filler>"`` otherwise."""
    if not (isinstance(label, str) and label == "auto"):
        return label
    return FILLER_INT if np.asarray(y).dtype.kind in "iuf" else FILLER


def _wrapped_has(name):
    """``available_if`` check: the (fitted, else given) estimator has ``name``."""
    return lambda self: hasattr(getattr(self, "estimator_", self.estimator), name)


def _density_index(estimator):
    """Where the density model of ``estimator`` is: -1 for the estimator
    itself (it has ``score_samples``), else the index of the last step of a
    Pipeline before the final one that has it; None when there is none."""
    if hasattr(estimator, "score_samples"):
        return -1
    if isinstance(estimator, Pipeline):
        for i in range(len(estimator.steps) - 2, -1, -1):
            step = estimator.steps[i][1]
            if step not in (None, "passthrough") and hasattr(step, "score_samples"):
                return i
    return None


class RejectOptionClassifier(MetaEstimatorMixin, ClassifierMixin, BaseEstimator):
    """A classifier with a reject option: "not one of the classes I know".

    Wraps a classifier and learns at ``fit`` an in-vocabulary score and a
    threshold on it: :meth:`predict` returns ``reject_label`` for the rows
    scoring below the threshold, the wrapped classifier's label for the
    others. The threshold is the ``target_false_rejection`` quantile of the
    scores of known rows that the scoring model did not see in training
    (cross-fitted over ``cv``), so about that fraction of new known rows is
    rejected.

    Parameters
    ----------
    estimator : estimator object
        The classifier to wrap (cloned at ``fit``), or a Pipeline ending in
        one, e.g. ``Pipeline([("vae", VAETransformer()), ("clf", SVC())])``.
        It takes whatever inputs it takes (rows, audio paths, waveforms).
    score_method : {"auto", "filler", "combined", "likelihood", \
            "confidence"} or callable, default="auto"
        The in-vocabulary score (higher = more like the training classes):

        - ``"filler"``: log of the probability the classifier gives the known
          classes together, ``log(1 - P(filler))``, where the filler class
          (``filler_label``) was trained on many words that are not in the
          vocabulary: a model of what the *other* words sound like, so that
          a new voice or microphone moves known and unknown words together;

        - ``"likelihood"``: log-likelihood under the density model: the
          estimator itself if it has ``score_samples``, else the last step
          of a Pipeline before the classifier that has it (a
          :class:`~skvae.VAETransformer`: its ELBO), fed the steps before it;
        - ``"confidence"``: log of the classifier's largest class probability
          (else its largest ``decision_function`` value; the absolute value
          for two classes);
        - ``"combined"``: the sum of the likelihood and the classifier's
          part (``"filler"``'s score with a filler class, else the
          confidence), each standardised (z-score) on the held-out known
          rows;
        - ``"auto"``: ``"combined"`` with a density model, else ``"filler"``
          with a filler class, else ``"confidence"``;
        - a callable ``f(estimator, X) -> ndarray of shape (n_samples,)``,
          given the fitted wrapped estimator.
    target_false_rejection : float in [0, 1), default=0.05
        Fraction of known rows to reject: the threshold is this quantile of
        the finite held-out known scores. 0 never rejects (threshold -inf).
    reject_label : object or None, default=None
        Label of rejected rows; not a class. None: -1 for numeric classes
        (the smallest class minus 1 when -1 is a class; the predictions get
        a dtype that holds it), ``"<unknown>"`` for other classes.
    cv : int, float, cross-validation generator, iterable or "prefit", \
            default=5
        Where the held-out known scores come from (never the training rows,
        whose scores are optimistic): int k, shuffled stratified k-fold; a
        float in (0, 1), one stratified split holding out this fraction; a
        splitter (a group splitter gets the fit parameter ``groups``) or an
        iterable of (train, test) indices; ``"prefit"``, ``estimator`` is
        fitted already and the rows given to :meth:`fit` are held out. With
        ``groups`` (e.g. speakers) given to :meth:`fit`, an int or float
        ``cv`` holds out whole groups (``StratifiedGroupKFold``,
        ``GroupShuffleSplit``): the threshold is then set on voices the
        scoring model never heard, as new users' will be. ``groups`` go to
        ``estimator.fit`` only when it takes them (its own parameter, or a
        step that requests them).
    filler_label : object, "auto" or None, default=None
        The label of filler rows: words that are not in the vocabulary, said
        by many voices (e.g. added at fit time by
        :class:`~skvae.augment.FillerWords`). The wrapped classifier learns
        them as one more class; they are never held out, never a class of
        :attr:`classes_`, and :meth:`predict_proba` is renormalised over the
        known classes. "auto": -2 for numeric labels, ``"<filler>"`` for
        others. None: no filler class. ``fit`` raises ``ValueError`` when
        neither ``y`` nor the fitted estimator's classes hold it.
    refit : bool, default=True
        Refit ``estimator`` on all rows after the held-out scores are
        computed. False keeps the model fitted on the training part of a
        single split; ``cv="prefit"`` needs False.
    random_state : int, RandomState instance or None, default=None
        Shuffles the folds of an int ``cv``; draws the split of a float one.

    Attributes
    ----------
    estimator_ : estimator
        The fitted wrapped classifier.
    classes_ : ndarray of shape (n_classes,)
        The known classes (``estimator_.classes_`` but the filler class).
    reject_label_ : object
        The label of rejected rows.
    score_method_ : str or callable
        The score used (``"auto"`` resolved).
    filler_label_ : object or None
        The filler class of ``estimator_`` (``filler_label`` resolved).
    threshold_ : float
        Rows with :meth:`score_samples` below it are rejected.
    score_location_, score_scale_ : ndarray of shape (n_parts,)
        Standardisation of each part of the score (``"combined"``: the
        likelihood, then the confidence; otherwise one part, 0 and 1).
    calibration_scores_ : ndarray of shape (n_held_out,)
        The held-out known rows' scores (non-finite ones included).
    n_features_in_, feature_names_in_
        Those of ``estimator_``, when it has them.

    See Also
    --------
    sklearn.model_selection.TunedThresholdClassifierCV : Tunes the decision
        threshold of a binary classifier (same ``cv``/``refit`` semantics).

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
    >>> labels, proba, scores = clf.predict_with_score([[3, 3, 3, 3], [0, 0, 30, 0]])
    >>> labels, proba.shape, scores.shape
    (array([ 1, -1]), (2, 2), (2,))
    """

    _parameter_constraints: dict = {
        "estimator": [HasMethods(["fit", "predict"])],
        "score_method": [
            StrOptions({"auto", "filler", "combined", "likelihood", "confidence"}),
            callable,
        ],
        "filler_label": "no_validation",
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
        filler_label=None,
        cv=5,
        refit=True,
        random_state=None,
    ):
        self.estimator = estimator
        self.score_method = score_method
        self.target_false_rejection = target_false_rejection
        self.reject_label = reject_label
        self.filler_label = filler_label
        self.cv = cv
        self.refit = refit
        self.random_state = random_state

    @_fit_context(prefer_skip_nested_validation=False)
    def fit(self, X, y, **fit_params):
        """Fit the classifier and learn the score and its threshold.

        Parameters
        ----------
        X : array-like of shape (n_samples, ...)
            Training inputs (``cv="prefit"``: held-out known rows).
        y : array-like of shape (n_samples,)
            Their labels.
        **fit_params
            Passed to ``estimator.fit``, per-row arrays (``groups``) cut to
            each fold; ``groups`` also goes to a group splitter.

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
        X, y = indexable(X, y)  # lists stay lists (e.g. audio paths)
        y = column_or_1d(y, warn=True)
        check_classification_targets(y)
        n_samples = _num_samples(X)
        filler = resolve_filler_label(self.filler_label, y)
        is_filler = np.zeros(n_samples, dtype=bool)
        if filler is not None:
            is_filler = np.array([_equal(v, filler) for v in y], dtype=bool)
        known_idx, filler_idx = np.flatnonzero(~is_filler), np.flatnonzero(is_filler)
        if known_idx.size < 2:
            raise ValueError(
                "RejectOptionClassifier needs at least 2 samples of known classes "
                f"to set a threshold on held-out rows, got n_samples = "
                f"{known_idx.size}"
                + (f" (and {filler_idx.size} filler rows)." if filler_idx.size else ".")
            )
        prefit = isinstance(self.cv, str) and self.cv == "prefit"
        if prefit and self.refit:
            raise ValueError(
                "cv='prefit' uses the given estimator as fitted; set refit=False."
            )
        method = self._resolve_score_method(self.estimator, filler is not None)
        if prefit:
            check_is_fitted(self.estimator)
            final = self.estimator
            known = _known_columns(final, filler)
            X_known = _safe_indexing(X, known_idx) if filler_idx.size else X
            params = _rows_of(fit_params, n_samples, known_idx)
            held_out = [_run(final, X_known, method, params, known=known)[2]]
        else:
            X_known = _safe_indexing(X, known_idx) if filler_idx.size else X
            known_params = _rows_of(fit_params, n_samples, known_idx)
            splits = self._splits(X_known, y[known_idx], known_params)
            if not self.refit and len(splits) != 1:
                raise ValueError(
                    "refit=False needs a single train/test split (a float cv or "
                    f"a one-split iterable); cv={self.cv!r} gives {len(splits)}."
                )
            groups = {k: v for k, v in fit_params.items() if k == "groups"}
            # groups choose the held-out rows; the estimator gets them only
            # when it takes them (a step that requests them, or its own fit)
            est_params = dict(fit_params)
            if groups and not _takes_groups(self.estimator, groups):
                del est_params["groups"]
            held_out = []
            for train, test in splits:
                # filler rows are always trained on, never held out
                train = np.concatenate([known_idx[train], filler_idx])
                test = known_idx[test]
                final = clone(self.estimator).fit(
                    _safe_indexing(X, train),
                    _safe_indexing(y, train),
                    **_rows_of(est_params, n_samples, train),
                )
                known = _known_columns(final, filler)
                X_test = _safe_indexing(X, test)
                params = _rows_of(groups, n_samples, test)
                held_out.append(
                    _run(final, X_test, method, params, routed=True, known=known)[2]
                )
            if self.refit:
                final = clone(self.estimator).fit(X, y, **est_params)
        known = _known_columns(final, filler)
        self._known_columns = known
        self.filler_label_ = filler
        self.estimator_ = final
        self.classes_ = final.classes_ if known is None else final.classes_[known]
        self.score_method_ = method
        self.reject_label_ = self._resolve_reject_label(self.classes_)
        raw = np.concatenate(held_out, axis=0)
        # "combined": a z-score of each part on its finite held-out scores
        n_parts = raw.shape[1]
        self.score_location_, self.score_scale_ = np.zeros(n_parts), np.ones(n_parts)
        for j in range(n_parts if method == "combined" else 0):
            col = raw[:, j][np.isfinite(raw[:, j])]
            if col.size:
                self.score_location_[j] = np.mean(col)
                self.score_scale_[j] = np.std(col) or 1.0  # constant: adds nothing
        self.calibration_scores_ = self._combine(raw)
        self.threshold_ = self._threshold(self.calibration_scores_)
        return self

    def _splits(self, X, y, fit_params):
        cv, seed = self.cv, self.random_state
        groups = fit_params.get("groups")
        if groups is not None and isinstance(cv, Real):
            # held out by group (speaker): the threshold is set on new voices
            n_groups = np.unique(np.asarray(groups, dtype=object).astype(str)).size
            if n_groups < 2:
                raise ValueError(
                    f"groups has {n_groups} distinct group among the known rows: "
                    "holding out whole groups needs at least 2; pass no groups"
                )
        if isinstance(cv, Real) and not isinstance(cv, Integral):
            splitter = StratifiedShuffleSplit(1, test_size=cv, random_state=seed)
            if groups is not None:
                splitter = GroupShuffleSplit(1, test_size=cv, random_state=seed)
        elif isinstance(cv, Integral):
            splitter = StratifiedKFold(cv, shuffle=True, random_state=seed)
            if groups is not None:
                splitter = StratifiedGroupKFold(cv, shuffle=True, random_state=seed)
        else:
            splitter = check_cv(cv, y, classifier=True)
        return list(splitter.split(X, y, groups))

    def _resolve_score_method(self, estimator, filler=False):
        method = self.score_method
        if callable(method):
            return method
        name = type(estimator).__name__
        has_density = _density_index(estimator) is not None
        if filler and not hasattr(estimator, "predict_proba"):
            raise ValueError(
                f"filler_label needs a classifier with predict_proba; {name} has none."
            )
        if method == "filler" and not filler:
            raise ValueError(
                "score_method='filler' needs a filler class: set filler_label "
                "and give filler rows (e.g. skvae.augment.FillerWords)."
            )
        if method == "filler" or (method == "auto" and filler and not has_density):
            return "filler"
        has_conf = hasattr(estimator, "predict_proba") or hasattr(
            estimator, "decision_function"
        )
        if method == "auto" and not (has_density or has_conf):
            raise ValueError(
                f"{name} gives no score to reject with: it has no density model "
                "(score_samples, or a Pipeline step with it) and neither "
                "predict_proba nor decision_function. Pass score_method a callable."
            )
        if method == "auto":
            method = "confidence" if not has_density else "likelihood"
            method = "combined" if has_density and has_conf else method
        if method in ("likelihood", "combined") and not has_density:
            raise ValueError(
                f"score_method={method!r} needs a density model: an estimator "
                "with score_samples, or a Pipeline with a step before the "
                f"classifier that has score_samples (e.g. VAETransformer); "
                f"{name} has none. Use score_method='confidence'."
            )
        if method in ("confidence", "combined") and not has_conf:
            raise ValueError(
                f"score_method={method!r} needs predict_proba or "
                f"decision_function; {name} has neither."
            )
        return method

    def _resolve_reject_label(self, classes):
        label = self.reject_label
        if label is None and classes.dtype.kind in "iuf":
            # Python numbers: classes.min() - 1 in int8 wraps to 127
            cast = float if classes.dtype.kind == "f" else int
            label = cast(REJECT_INT)
            label = cast(classes.min()) - 1 if label in classes else label
        elif label is None:
            label = UNKNOWN
        if any(_equal(label, c) for c in classes):
            raise ValueError(
                f"reject_label={label!r} is one of the classes {classes.tolist()}; "
                "choose a label that is not a class."
            )
        return label

    def _threshold(self, scores):
        if self.target_false_rejection == 0:
            return -np.inf
        finite = scores[np.isfinite(scores)]
        lost = scores.size - finite.size
        if finite.size < max(2, scores.size / 2):  # most held-out rows, 2 at least
            raise ValueError(
                f"{lost} of the {scores.size} held-out scores are infinite or "
                "NaN: the estimator's scores cannot set a threshold."
            )
        if lost:
            msg = f"{lost} of {scores.size} held-out scores are not finite: left out"
            warnings.warn(msg, UserWarning, stacklevel=3)
        # rows strictly below it are rejected: at most the target fraction
        return float(np.quantile(finite, self.target_false_rejection, method="lower"))

    def _combine(self, raw):
        return ((raw - self.score_location_) / self.score_scale_).sum(axis=1)

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
        known = getattr(self, "_known_columns", None)
        raw = _run(self.estimator_, X, self.score_method_, params, known=known)[2]
        return self._combine(raw)

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
        known = getattr(self, "_known_columns", None)
        if self.threshold_ == -np.inf and known is None:  # never rejects
            return np.asarray(self.estimator_.predict(X, **params))
        est, method = self.estimator_, self.score_method_
        labels, _, raw = _run(est, X, method, params, True, known=known)
        return self._reject(labels, self._combine(raw))

    def predict_known(self, X, **params):
        """The class of each row among the known classes, never rejected.

        What :meth:`predict` answers without the reject option: the wrapped
        classifier's prediction, or with a filler class the known class of
        the largest probability (the filler class is never answered).

        Parameters
        ----------
        X : array-like of shape (n_samples, ...)
            Inputs, in the form the wrapped estimator takes.
        **params
            Passed to the estimator's methods.

        Returns
        -------
        y : ndarray of shape (n_samples,)
            Labels from ``classes_``.
        """
        check_is_fitted(self)
        if getattr(self, "_known_columns", None) is None:
            return np.asarray(self.estimator_.predict(X, **params))
        proba = self.predict_proba(X, **params)
        return self.classes_[np.argmax(proba, axis=1)]

    def predict_with_score(self, X):
        """Labels, class probabilities and in-vocabulary scores in one pass.

        What :meth:`predict`, :meth:`predict_proba` and :meth:`score_samples`
        give, each step of a wrapped Pipeline run once on ``X`` (a
        ``VAETransformer`` gives codes and ELBO from one encoder pass).

        Parameters
        ----------
        X : array-like of shape (n_samples, ...)
            Inputs, in the form the wrapped estimator takes.

        Returns
        -------
        labels : ndarray of shape (n_samples,)
            As :meth:`predict`: classes, or ``reject_label_``.
        proba : ndarray of shape (n_samples, n_classes) or None
            As :meth:`predict_proba`; None without ``predict_proba``.
        scores : ndarray of shape (n_samples,)
            As :meth:`score_samples`.
        """
        check_is_fitted(self)
        est, method = self.estimator_, self.score_method_
        known = getattr(self, "_known_columns", None)
        labels, proba, raw = _run(est, X, method, {}, True, proba=True, known=known)
        scores = self._combine(raw)
        return self._reject(labels, scores), proba, scores

    def _reject(self, labels, scores):
        """``labels`` with ``reject_label_`` where ``scores`` are below the
        threshold, in a dtype that holds both: numeric labels and label give
        their common numeric dtype (int8 classes and -129 give int64),
        strings a string dtype wide enough for both, others object."""
        if self.threshold_ == -np.inf:
            return labels
        mark = np.asarray(self.reject_label_)
        kinds = labels.dtype.kind + mark.dtype.kind
        if all(k in "iuf" for k in kinds) or all(k in "U" for k in kinds):
            dtype = np.result_type(labels.dtype, mark.dtype)
        else:
            dtype = np.dtype(object)
        out = labels.astype(dtype)
        out[scores < self.threshold_] = self.reject_label_
        return out

    @available_if(_wrapped_has("predict_proba"))
    def predict_proba(self, X, **params):
        """Class probabilities of the wrapped classifier (known classes only).

        With a filler class, the probabilities of the known classes divided
        by their sum (:meth:`score_samples` gives how much they had).

        Parameters
        ----------
        X : array-like of shape (n_samples, ...)
            Inputs.
        **params
            Passed to ``estimator_.predict_proba``.

        Returns
        -------
        proba : ndarray of shape (n_samples, n_classes)
            Columns in the order of :attr:`classes_`.
        """
        check_is_fitted(self)
        proba = self.estimator_.predict_proba(X, **params)
        if getattr(self, "_known_columns", None) is None:
            return proba
        return _renormalised(proba, self._known_columns)

    @available_if(_wrapped_has("predict_proba"))
    def predict_log_proba(self, X, **params):
        """Log of :meth:`predict_proba`.

        Parameters
        ----------
        X : array-like of shape (n_samples, ...)
            Inputs.
        **params
            Passed to ``estimator_.predict_proba``.

        Returns
        -------
        log_proba : ndarray of shape (n_samples, n_classes)
        """
        if getattr(self, "_known_columns", None) is None:
            check_is_fitted(self)
            if hasattr(self.estimator_, "predict_log_proba"):
                return self.estimator_.predict_log_proba(X, **params)
        with np.errstate(divide="ignore"):
            return np.log(self.predict_proba(X, **params))

    @available_if(_wrapped_has("decision_function"))
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
            With a filler class, its column left out.
        """
        check_is_fitted(self)
        dec = self.estimator_.decision_function(X, **params)
        known = getattr(self, "_known_columns", None)
        return dec if known is None or np.ndim(dec) == 1 else dec[:, known]

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
        # sparse input only for the classifier's own confidence (a density
        # model may refuse sparse rows: PCA.score_samples does)
        confidence_only = self.score_method == "confidence" or (
            self.score_method == "auto" and _density_index(self.estimator) is None
        )
        tags.input_tags.sparse = inner.input_tags.sparse and confidence_only
        tags.classifier_tags.multi_class = inner.classifier_tags.multi_class
        tags.classifier_tags.poor_score = inner.classifier_tags.poor_score
        return tags


def _rows_of(params, n, indices):
    """``params`` with per-row arrays (``n`` rows) cut to ``indices``."""

    def cut(v):
        rows = hasattr(v, "__len__") and not np.isscalar(v)
        return _safe_indexing(v, indices) if rows and _num_samples(v) == n else v

    return {k: cut(v) for k, v in params.items()}


def _run(
    estimator, X, method, params, labels=False, *, proba=False, routed=False, known=None
):
    """``(labels, proba, raw)`` of ``estimator`` on ``X``: labels and
    probabilities if asked (else None), the score parts (n_samples, n_parts).

    ``known``: the columns of the known classes when the estimator has a
    filler class (labels and probabilities are then over those only).

    A Pipeline given no ``params`` runs each step once; otherwise each method
    is called on its own, with ``routed`` given only the ``params`` it
    consumes (held-out rows at fit, whose ``groups`` may be for fit only).
    """
    parts, final, Xt, kw = [], estimator, X, params
    if callable(method):
        s = np.asarray(method(estimator, X), dtype=np.float64)
        if s.shape != (_num_samples(X),):
            raise ValueError(
                f"score_method returned shape {s.shape}; expected "
                f"({_num_samples(X)},), one score per row."
            )
        parts.append(s)
    elif isinstance(estimator, Pipeline) and not params:
        likely = method in ("likelihood", "combined")
        density = _density_index(estimator) if likely else None
        for i, (_, step) in enumerate(estimator.steps[:-1]):
            if i == density and _takes(step.score_samples, "return_codes"):
                score, Xt = step.score_samples(Xt, return_codes=True)  # one pass
                parts.append(score)
                continue
            if i == density:
                parts.append(step.score_samples(Xt))
            Xt = Xt if step in (None, "passthrough") else step.transform(Xt)
        final = estimator.steps[-1][1]
        if density == -1:  # the final step is the density model
            parts.append(final.score_samples(Xt))
    elif method in ("likelihood", "combined"):
        i = _density_index(estimator)
        head = estimator[:i] if i > 0 else None
        density = estimator if i == -1 else estimator[i]
        if head is None:
            p = _consumed(density, "score_samples", params) if routed else params
            parts.append(density.score_samples(X, **p))
        else:
            p = _consumed(head, "transform", params) if routed else params
            parts.append(density.score_samples(head.transform(X, **p)))
    # the classifier's part: log P(a known class) with a filler class
    filler = method == "filler" or (method == "combined" and known is not None)
    confidence = method == "confidence" or (method == "combined" and known is None)
    has_proba = hasattr(final, "predict_proba")
    if routed and params:
        kw = _consumed(final, "predict_proba" if has_proba else "decision_function", kw)
    need = proba or confidence or filler or (labels and known is not None)
    p = final.predict_proba(Xt, **kw) if has_proba and need else None
    if known is not None:
        if filler:  # log P(one of the known classes)
            with np.errstate(divide="ignore"):
                parts.append(np.log(np.asarray(p, np.float64)[:, known].sum(axis=1)))
        p = _renormalised(p, known)
    if confidence:
        parts.append(_confidence(final, Xt, kw, p))
    if labels and known is not None:
        y = np.asarray(final.classes_)[known][np.argmax(p, axis=1)]
    else:
        y = np.asarray(final.predict(Xt, **kw)) if labels else None
    raw = np.column_stack([np.asarray(v, dtype=np.float64) for v in parts])
    return y, (p if proba else None), raw


def _takes_groups(estimator, groups):
    """Whether ``estimator.fit`` takes ``groups``: a step of a Pipeline
    requests it through metadata routing, or the estimator's own ``fit``
    has the parameter."""
    if isinstance(estimator, Pipeline):
        return bool(_consumed(estimator, "fit", groups))
    return _takes(estimator.fit, "groups") or bool(_consumed(estimator, "fit", groups))


def _known_columns(estimator, filler):
    """Columns of ``estimator``'s known classes (None without ``filler``)."""
    if filler is None:
        return None
    classes = np.asarray(estimator.classes_)
    is_filler = np.array([_equal(c, filler) for c in classes], dtype=bool)
    if not is_filler.any():
        raise ValueError(
            f"filler_label={filler!r} is neither a label of y nor a class of the "
            f"fitted estimator (classes {classes.tolist()}): give filler rows "
            "with that label, or a pipeline that adds them (FillerWords)."
        )
    if is_filler.sum() == classes.size:
        raise ValueError("the estimator was fitted on filler rows only")
    return np.flatnonzero(~is_filler)


def _renormalised(proba, known):
    """The ``known`` columns of ``proba``, divided by their sum per row
    (uniform where it is 0)."""
    p = np.asarray(proba, dtype=np.float64)[:, known]
    mass = p.sum(axis=1, keepdims=True)
    with np.errstate(invalid="ignore", divide="ignore"):
        out = np.where(mass > 0, p / mass, 1.0 / len(known))
    return out


def _takes(method, name):
    """Whether ``method`` has a parameter ``name``."""
    return name in inspect.signature(method).parameters


def _consumed(estimator, method, params):
    """The entries of ``params`` that ``estimator.method`` requests through
    scikit-learn's metadata routing (nothing for estimators without it)."""
    if not params or not hasattr(estimator, "get_metadata_routing"):
        return {}
    try:
        with config_context(enable_metadata_routing=True):
            names = estimator.get_metadata_routing().consumes(method, list(params))
    except (AttributeError, TypeError, ValueError, NotImplementedError):
        return {}
    return {k: v for k, v in params.items() if k in names}


def _confidence(estimator, X, params, proba):
    """Log of the largest class probability ``proba`` (None: the largest
    decision value of ``estimator``, its absolute value for two classes)."""
    if proba is not None:
        with np.errstate(divide="ignore"):
            return np.log(np.asarray(proba, dtype=np.float64).max(axis=1))
    dec = np.asarray(estimator.decision_function(X, **params), dtype=np.float64)
    return np.abs(dec) if dec.ndim == 1 else dec.max(axis=1)


def _equal(a, b):
    try:
        return bool(a == b)
    except (TypeError, ValueError):
        return False
