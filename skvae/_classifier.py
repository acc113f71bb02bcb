"""VAEClassifier: semi-supervised classification and class-conditional
generation with one conditional VAE (the M2 model of Kingma et al. 2014)."""

import math
from numbers import Real

import numpy as np
from scipy.special import log_softmax
from sklearn.base import ClassifierMixin, _fit_context
from sklearn.utils import check_random_state
from sklearn.utils._param_validation import Interval, StrOptions
from sklearn.utils.multiclass import check_classification_targets
from sklearn.utils.validation import check_is_fitted, validate_data

from ._base import BaseVAE
from ._params import vae_parameters
from ._serialize import register_saveable
from ._vae import SemiSupervisedVAE
from ._validation import _check_n_samples, _index_in, _one_per_row

__all__ = ["VAEClassifier"]

#: marker of an unlabelled row, as in :mod:`sklearn.semi_supervised`
UNLABELLED = -1


@register_saveable
@vae_parameters(n_components=16, classification_weight="auto")
class VAEClassifier(ClassifierMixin, BaseVAE):
    """Semi-supervised classifier and class-conditional generator (VAE "M2").

    One conditional VAE learns from labelled and unlabelled (``y = -1``) rows:
    x ~ p(x | y, z) with z ~ N(m_y, I) (a learned prior mean per class, so
    class samples follow the class), inferred by a classifier q(y | x) and an
    encoder q(z | x, y). Labelled rows add ``classification_weight`` times
    log q(y | x) to their ELBO; unlabelled rows average the ELBO over q(y | x),
    so they shape the classifier through the generative model [1]_.
    ``predict_proba`` is q(y | x); ``sample(n, y=...)`` generates rows of a
    class. "M1+M2": ``make_pipeline(VAETransformer(32), VAEClassifier())``.

    Parameters
    ----------
    n_components : int, default=16
        Dimension of the latent style z.
    classification_weight : float or "auto", default="auto"
        Weight of log q(y | x) on labelled rows (alpha in [1]_); ``"auto"``:
        ``0.1 * n_features * n_samples / n_labelled``.
    {shared_parameters}

    Attributes
    ----------
    classes_ : ndarray of shape (n_classes,)
        The class labels.
    module_ : skvae._vae.SemiSupervisedVAE
        The fitted torch module.
    classification_weight_ : float
        The weight of log q(y | x) actually used.
    n_labelled_ : int
        Number of labelled rows in the training data.
    {shared_attributes}

    See Also
    --------
    sklearn.semi_supervised.SelfTrainingClassifier : Self-training wrapper.
    sklearn.semi_supervised.LabelSpreading : Graph-based semi-supervision.
    VAETransformer : Unsupervised VAE (the "M1" feature extractor).

    References
    ----------
    .. [1] D. P. Kingma, D. J. Rezende, S. Mohamed and M. Welling,
       "Semi-Supervised Learning with Deep Generative Models", NeurIPS 2014.
    .. [2] K. Sohn, H. Lee and X. Yan, "Learning Structured Output
       Representation using Deep Conditional Generative Models", NeurIPS 2015.

    Examples
    --------
    >>> import numpy as np
    >>> from skvae import VAEClassifier
    >>> rng = np.random.RandomState(0)
    >>> X = np.r_[rng.normal(-2, 1, (100, 4)), rng.normal(2, 1, (100, 4))]
    >>> y = np.r_[np.zeros(100, int), np.ones(100, int)]
    >>> y_partial = y.copy()
    >>> y_partial[rng.rand(200) < 0.9] = -1      # 90 % unlabelled
    >>> clf = VAEClassifier(n_components=2, hidden_layer_sizes=(32,),
    ...                     max_iter=100, random_state=0).fit(X, y_partial)
    >>> clf.classes_
    array([0, 1])
    >>> float(clf.score(X, y)) > 0.9
    True
    >>> X_new, y_new = clf.sample(4, y=1, random_state=0)
    >>> X_new.shape, y_new
    ((4, 4), array([1, 1, 1, 1]))
    """

    _module_class = SemiSupervisedVAE
    _bottleneck = False

    _parameter_constraints: dict = {
        **BaseVAE._parameter_constraints,
        "classification_weight": [
            Interval(Real, 0, None, closed="left"),
            StrOptions({"auto"}),
        ],
    }

    @_fit_context(prefer_skip_nested_validation=True)
    def fit(self, X, y):
        """Fit on rows X with labels y, -1 for unlabelled rows (with string
        labels ``"-1"``, or the int -1 in an object array); returns self."""
        continuing = self._continues()
        X, y = validate_data(
            self,
            X,
            y,
            dtype=[np.float64, np.float32],
            reset=not continuing,
            y_numeric=False,
        )
        codes = self._label_codes(y, reset=not continuing)
        labelled = codes != UNLABELLED
        self.n_labelled_ = int(labelled.sum())
        if self.classification_weight == "auto":
            weight = 0.1 * X.shape[1] * X.shape[0] / self.n_labelled_
        else:
            weight = float(self.classification_weight)
        self.classification_weight_ = weight
        return self._fit(
            X,
            continuing=continuing,
            max_epochs=self.max_iter,
            cond=codes,
            before_training=self._set_weight,
            # every row labelled: spread class prior means (see SemiSupervisedVAE)
            reset_kwargs={"spread_prior_means": bool(labelled.all())},
        )

    def _label_codes(self, y, *, reset):
        """Class index of each row of ``y``, else ``UNLABELLED``; ``reset``: the
        labels define ``classes_`` (at least two), else must be among them."""
        labelled = ~_unlabelled_mask(y)
        if not labelled.any():
            raise ValueError(
                "y has no labelled rows: every entry is -1 (unlabelled). "
                "VAEClassifier needs some labelled rows of at least 2 classes."
            )
        # -1 may stand beside string labels in an object array (as sklearn)
        check_classification_targets(y[labelled])
        classes = np.unique(y[labelled])
        if not reset and not np.all(np.isin(classes, self.classes_)):
            raise ValueError(
                f"y has classes {classes.tolist()} not all among the fitted "
                f"classes {self.classes_.tolist()}."
            )
        if reset and classes.shape[0] < 2:
            raise ValueError(
                "VAEClassifier needs labelled rows of at least 2 classes; got 1 "
                f"class: {classes.tolist()}."
            )
        if reset:
            self.classes_ = classes
        codes = np.full(y.shape[0], UNLABELLED, dtype=np.int64)
        codes[labelled] = self._class_index(y[labelled])
        return codes

    def _set_weight(self, module):
        module.classification_weight = self.classification_weight_

    def _class_index(self, y):
        """Position of each label in ``classes_``; unknown labels raise."""
        return _index_in(
            self.classes_,
            y,
            "y contains labels that are not classes of this model: {unknown}; "
            f"classes_ is {self.classes_.tolist()}.",
        )

    def _module_kwargs(self, X):
        kwargs = super()._module_kwargs(X)
        kwargs["n_conditions"] = len(self.classes_)
        return kwargs

    def _weights_extra(self):
        fitted = {
            "classes_": self.classes_.tolist(),
            # JSON numbers are int64 or float64: keep e.g. uint8 labels uint8
            "classes_dtype": self.classes_.dtype.str,
            "n_labelled_": self.n_labelled_,
            "classification_weight_": self.classification_weight_,
        }
        return fitted, {}

    def _restore_fitted(self, fitted, arrays):
        super()._restore_fitted(fitted, arrays)
        self.classes_ = np.asarray(
            fitted["classes_"], dtype=np.dtype(fitted["classes_dtype"])
        )
        self.n_labelled_ = fitted["n_labelled_"]
        self.classification_weight_ = fitted["classification_weight_"]

    def _check_restored(self):
        super()._check_restored()
        n_classes = self.module_.n_conditions
        if self.classes_.shape != (n_classes,):
            raise ValueError(
                f"damaged file (classes_ must hold the {n_classes} classes of "
                "the network)."
            )
        if not np.all(self.classes_[1:] > self.classes_[:-1]):
            raise ValueError("damaged file (classes_ is not sorted and unique).")

    def _logits(self, X):
        X = validate_data(self, X, dtype=[np.float64, np.float32], reset=False)
        return self._map_rows(
            X, lambda m, xb, sl: m.class_logits(xb), len(self.classes_), np.float64
        )

    def decision_function(self, X):
        """Logits of q(y | x), (n_samples, n_classes); for two classes, shape
        (n_samples,): the second class's logit minus the first's."""
        check_is_fitted(self)
        logits = self._logits(X)
        if len(self.classes_) == 2:
            return logits[:, 1] - logits[:, 0]
        return logits

    def predict_log_proba(self, X):
        """log q(y | x) of X, (n_samples, n_classes) in the order of ``classes_``."""
        check_is_fitted(self)
        return log_softmax(self._logits(X), axis=1)

    def predict_proba(self, X):
        """q(y | x) of X, (n_samples, n_classes) in the order of ``classes_``."""
        return np.exp(self.predict_log_proba(X))

    def predict(self, X):
        """The most probable class (from ``classes_``) of each row of X."""
        check_is_fitted(self)
        return self.classes_[np.argmax(self._logits(X), axis=1)]

    def sample(
        self,
        n_samples=1,
        *,
        y=None,
        random_state=None,
        observation_noise=True,
        temperature=1.0,
    ):
        """Generate rows of given classes from p(x | y, z), z ~ N(m_y, I).

        Parameters
        ----------
        n_samples : int, default=1
        y : label or array-like of shape (n_samples,), default=None
            Class of the rows, one for all or one per row; None draws classes
            uniformly (the prior p(y)).
        random_state : int, RandomState instance or None, default=None
        observation_noise : bool, default=True
            Draw x from p(x | y, z); False returns the smoother mean.
        temperature : float, default=1.0
            z = m_y + temperature * N(0, I): below 1 more typical rows, above
            1 more varied ones.

        Returns
        -------
        X : ndarray of shape (n_samples, n_features_in_)
            Generated rows in the original units.
        y : ndarray of shape (n_samples,)
            Their classes.
        """
        check_is_fitted(self)
        _check_n_samples(n_samples)
        if not (
            isinstance(temperature, Real)
            and math.isfinite(temperature)
            and temperature > 0
        ):
            raise ValueError(
                f"temperature must be a positive finite number, got {temperature!r}."
            )
        self._check_output_size(n_samples, "sample")
        rng = check_random_state(random_state)
        n_classes = len(self.classes_)
        if y is None:
            codes = rng.randint(n_classes, size=n_samples)
        elif np.ndim(y) == 0:  # one label for all rows: look it up once
            codes = np.full(n_samples, self._class_index(np.asarray([y]))[0])
        else:
            y = _one_per_row(y, n_samples, "y", f"n_samples={n_samples}")
            codes = self._class_index(y)
        X = self._generate(
            n_samples,
            rng,
            codes=codes,
            n_codes=n_classes,
            observation_noise=observation_noise,
            temperature=temperature,
        )
        return X, self.classes_[codes]

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.input_tags.allow_nan = False
        return tags


def _unlabelled_mask(y):
    """True where y marks an unlabelled row (-1, or the string "-1")."""
    y = np.asarray(y)
    if y.dtype.kind in "biuf":
        return y == UNLABELLED
    return np.array([str(v) == str(UNLABELLED) for v in y], dtype=bool)
