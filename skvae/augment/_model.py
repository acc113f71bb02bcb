"""VoiceConversionSampler: training rows re-rendered in other speakers' voices."""

from numbers import Integral

import numpy as np
from imblearn.base import BaseSampler
from sklearn.base import clone
from sklearn.utils import check_random_state
from sklearn.utils._param_validation import HasMethods, Interval, StrOptions
from sklearn.utils.validation import check_is_fitted, column_or_1d

from .._factorized import FactorizedVAE


def _default_estimator():
    return FactorizedVAE(16, n_group_components=8, max_iter=100)


class VoiceConversionSampler(BaseSampler):
    """Add copies of feature rows rendered in other speakers' voices.

    At fit time, fits a model separating content from speaker on the rows
    and their ``groups``, then adds each row's content in ``n_copies``
    other training speakers' voices (or mixtures of two), with the row's
    label; ``predict`` skips it. Use it in :class:`ResamplingPipeline`
    (``set_fit_resample_request(groups=True)``). A
    :class:`~skvae.FactorizedVAE` converts with ``convert`` (mixtures mix
    group latents); a :class:`~skvae.VAETransformer` fitted with groups
    decodes with the target's decoder (mixtures mix decodings). The copies
    are smoother than real rows: validate them on held-out speakers.

    Parameters
    ----------
    estimator : FactorizedVAE, VAETransformer or None, default=None
        Cloned and fitted at each ``fit_resample`` (unless ``prefit``), its
        None ``random_state`` drawn from ours. None:
        ``FactorizedVAE(16, n_group_components=8, max_iter=100)``.
    n_copies : int, default=1
        Converted copies per row, each in a different voice.
    voices : {"groups", "mixtures"}, default="groups"
        Other training speakers drawn at random, or per copy two others
        ``a``, ``b`` mixed as ``w * a + (1 - w) * b``, ``w`` uniform in [0, 1].
    keep_original : bool, default=True
        Return the input rows too, first and in their order.
    prefit : bool, default=False
        Use ``estimator`` as fitted (its ``groups_`` must hold the groups).
    random_state : int, RandomState instance or None, default=None
        Draws the voices (and seeds a model whose own is None).

    Attributes
    ----------
    estimator_ : FactorizedVAE or VAETransformer
        The fitted model.
    sample_indices_ : ndarray of shape (n_samples_new,)
        Source row of each output row: ``y_new == y[sample_indices_]``.
    perturbations_ : list of (str, object) of length n_samples_new
        ``("original", 1.0)``, ``("voice", speaker)`` or
        ``("mixture", (a, b, w))``.
    sampling_strategy_ : dict
        imbalanced-learn's record of the classes (all augmented alike).
    n_features_in_ : int
        Features of each row.

    See Also
    --------
    VoicePerturbation : Speed, vocal-tract-length and pitch copies of audio.

    References
    ----------
    Hsu, Zhang and Glass (2017), NeurIPS; Hsu and Glass (2018), ICASSP.

    Examples
    --------
    >>> import numpy as np
    >>> from skvae import VAETransformer
    >>> from skvae.augment import VoiceConversionSampler
    >>> rng = np.random.RandomState(0)
    >>> X = rng.normal(size=(60, 8))
    >>> y, speaker = np.arange(60) % 2, np.repeat(["ann", "bob", "cy"], 20)
    >>> sampler = VoiceConversionSampler(
    ...     VAETransformer(2, max_iter=5, random_state=0), random_state=0)
    >>> X_new, y_new = sampler.fit_resample(X, y, groups=speaker)
    >>> X_new.shape, bool((y_new == y[sampler.sample_indices_]).all())
    ((120, 8), True)
    >>> sampler.perturbations_[60][0], sampler.perturbations_[60][1] != "ann"
    ('voice', True)
    """

    _sampling_type = "bypass"
    # imbalanced-learn's fit_resample reads it; every class is augmented alike
    sampling_strategy = "auto"

    _parameter_constraints: dict = {
        "estimator": [HasMethods(["fit", "transform", "inverse_transform"]), None],
        "n_copies": [Interval(Integral, 1, None, closed="left")],
        "voices": [StrOptions({"groups", "mixtures"})],
        "keep_original": ["boolean"],
        "prefit": ["boolean"],
        "random_state": ["random_state"],
    }

    def __init__(
        self,
        estimator=None,
        *,
        n_copies=1,
        voices="groups",
        keep_original=True,
        prefit=False,
        random_state=None,
    ):
        self.estimator = estimator
        self.n_copies = n_copies
        self.voices = voices
        self.keep_original = keep_original
        self.prefit = prefit
        self.random_state = random_state

    def fit_resample(self, X, y, *, groups=None):
        """The rows (if ``keep_original``), then their copies, and their labels.

        ``groups`` (the speaker of each row, at least two) is required.
        """
        return super().fit_resample(X, y, groups=groups)

    def _check_X_y(self, X, y, accept_sparse=None):
        return super()._check_X_y(X, y, accept_sparse=False)

    def _fitted_model(self, X, groups, rng):
        if self.prefit:
            model = self.estimator
            if model is None:
                raise ValueError("prefit=True needs an estimator")
            check_is_fitted(model)
            return model
        model = _default_estimator() if self.estimator is None else self.estimator
        model = clone(model)
        if model.get_params().get("random_state", 0) is None:
            model.set_params(random_state=int(rng.randint(np.iinfo(np.int32).max)))
        return model.fit(X, groups=groups)

    def _fit_resample(self, X, y, groups=None):
        if groups is None:
            raise ValueError(
                "VoiceConversionSampler needs groups (the speaker of each row): "
                "fit_resample(X, y, groups=speaker), or in a pipeline "
                "set_fit_resample_request(groups=True)"
            )
        groups = column_or_1d(groups, warn=True)
        if groups.shape[0] != X.shape[0]:
            raise ValueError(
                f"groups has {groups.shape[0]} entries, but X has {X.shape[0]} rows"
            )
        speakers = np.unique(groups)
        need = 3 if self.voices == "mixtures" else 2
        if len(speakers) < need:
            raise ValueError(
                f"voices={self.voices!r} needs at least {need} groups (speakers); "
                f"got {len(speakers)}"
            )
        if self.voices == "groups" and self.n_copies > len(speakers) - 1:
            raise ValueError(
                f"n_copies={self.n_copies} is more than the {len(speakers) - 1} "
                "other speakers a row can be converted to"
            )
        rng = check_random_state(self.random_state)
        model = self._fitted_model(X, groups, rng)
        known = getattr(model, "groups_", None)
        if known is None or not np.isin(speakers, known).all():
            raise ValueError(
                f"the estimator {type(model).__name__} must be fitted with these "
                "groups (a model fitted without groups, or with other groups, "
                "cannot render the training speakers' voices)"
            )
        self.estimator_ = model

        sources, targets = [], []  # per copy: its row, its voice (a, b, w)
        for i, g in enumerate(groups):
            others = speakers[speakers != g]
            if self.voices == "groups":  # n_copies different speakers
                for t in rng.choice(others, self.n_copies, replace=False):
                    sources.append(i)
                    targets.append((t, t, 1.0))
            else:
                for _ in range(self.n_copies):
                    a, b = rng.choice(others, 2, replace=False)
                    sources.append(i)
                    targets.append((a, b, float(rng.uniform())))
        sources = np.asarray(sources, dtype=np.intp)
        X_conv = self._convert(model, X[sources], groups[sources], targets)

        X_parts, index, done = [], [], []
        if self.keep_original:
            X_parts.append(X)
            index.append(np.arange(X.shape[0]))
            done += [("original", 1.0)] * X.shape[0]
        X_parts.append(X_conv.astype(X.dtype, copy=False))
        index.append(sources)
        done += [
            ("voice", a) if self.voices == "groups" else ("mixture", (a, b, w))
            for a, b, w in targets
        ]
        self.sample_indices_ = np.concatenate(index)
        self.perturbations_ = done
        return np.concatenate(X_parts), y[self.sample_indices_]

    @staticmethod
    def _convert(model, X, groups, targets):
        a = np.array([t[0] for t in targets], dtype=groups.dtype)
        b = np.array([t[1] for t in targets], dtype=groups.dtype)
        w = np.array([t[2] for t in targets])[:, None]
        if hasattr(model, "convert"):  # FactorizedVAE: mix the group latents
            lat = model.group_latents_
            index = {g: k for k, g in enumerate(model.groups_)}
            la = lat[[index[g] for g in a]]
            lb = lat[[index[g] for g in b]]
            return model.convert(X, groups, target_latents=w * la + (1 - w) * lb)
        Z = model.transform(X)  # VAETransformer: mix the decodings
        out = model.inverse_transform(Z, groups=a)
        if not np.all(w == 1.0):
            out = w * out + (1 - w) * model.inverse_transform(Z, groups=b)
        return out

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.input_tags.sparse = False
        tags.sampler_tags.sample_indices = True
        return tags
