"""VoiceConversionSampler: training rows re-rendered in other speakers' voices.

A speaker-factorised VAE (:class:`skvae.FactorizedVAE`: a group latent per
speaker, a content latent per row) or a speaker-conditioned one
(:class:`skvae.VAETransformer` fitted with ``groups``: the decoder takes the
speaker) is fitted on the training rows and their speakers; each training
row's content is then decoded in another speaker's voice, or in a mixture of
two, and added with the row's label.
"""

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

    An imbalanced-learn sampler for feature rows (after
    :class:`~skvae.features.SpeechFeatures`): at fit time it fits a model
    that separates what is said from who says it on the rows and their
    ``groups`` (speakers), then re-renders each row's content in the voice
    of ``n_copies`` other training speakers, or of mixtures of two of them,
    and adds those rows with the source row's label. A pipeline's
    ``predict`` and ``transform`` skip it. Use it in
    :class:`ResamplingPipeline`, which routes ``groups`` to it
    (``set_fit_resample_request(groups=True)``) and to the steps after it.

    A :class:`~skvae.FactorizedVAE` (the default) converts with
    :meth:`~skvae.FactorizedVAE.convert` (a mixture: the weighted mean of
    two speakers' group latents). A :class:`~skvae.VAETransformer` fitted
    with groups decodes the row's posterior mean with the target speaker's
    decoder (a mixture: the weighted mean of two decodings).

    Parameters
    ----------
    estimator : FactorizedVAE, VAETransformer or None, default=None
        The model, cloned and fitted on the rows and groups at each
        ``fit_resample`` (unless ``prefit``). None:
        ``FactorizedVAE(16, n_group_components=8, max_iter=100)``. A
        ``random_state`` left at None is drawn from ``random_state``.
    n_copies : int, default=1
        Converted copies per row, each in a different voice.
    voices : {"groups", "mixtures"}, default="groups"
        ``"groups"``: the voices of training speakers other than the row's
        own (drawn at random). ``"mixtures"``: for each copy two other
        speakers ``a``, ``b`` and a weight ``w`` uniform in [0, 1]; the
        voice is ``w * a + (1 - w) * b``.
    keep_original : bool, default=True
        Return the input rows too, first and in their order.
    prefit : bool, default=False
        Use ``estimator`` as it is, already fitted with groups (the groups
        of ``fit_resample`` must then be among its ``groups_``).
    random_state : int, RandomState instance or None, default=None
        Draws the target voices (and seeds the model when its own
        ``random_state`` is None).

    Attributes
    ----------
    estimator_ : FactorizedVAE or VAETransformer
        The fitted model.
    sample_indices_ : ndarray of shape (n_samples_new,)
        The input row each output row was made from;
        ``y_new == y[sample_indices_]``.
    perturbations_ : list of (str, object) of length n_samples_new
        ``("original", 1.0)``, ``("voice", speaker)`` or
        ``("mixture", (a, b, w))`` for each output row.
    sampling_strategy_ : dict
        imbalanced-learn's record of the classes (all augmented alike).
    n_features_in_ : int
        Features of each row.

    See Also
    --------
    VoicePerturbation : Speed, vocal-tract-length and pitch copies of the
        audio.
    ResamplingPipeline : Routes ``groups`` to this sampler and re-indexes
        them for the steps after it.

    Notes
    -----
    The decoder's means are smoother than real rows: validate the copies
    (on held-out speakers) before relying on them.

    References
    ----------
    Hsu, Zhang and Glass (2017), "Unsupervised learning of disentangled and
    interpretable representations from sequential data", NeurIPS. Hsu and
    Glass (2018), "Extracting domain invariant features by unsupervised
    learning for robust automatic speech recognition", ICASSP.

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
        """Return the rows and their copies in other voices, with labels.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)
            Feature rows.
        y : array-like of shape (n_samples,)
            Labels, copied to the converted rows.
        groups : array-like of shape (n_samples,)
            Speaker of each row (required; at least two speakers). Through a
            pipeline: ``set_fit_resample_request(groups=True)``.

        Returns
        -------
        X_new : ndarray of shape (n_samples_new, n_features)
            The rows (if ``keep_original``), then each row's copies.
        y_new : ndarray of shape (n_samples_new,)
            ``y[sample_indices_]``.
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
        if "random_state" in model.get_params() and (
            model.get_params()["random_state"] is None
        ):
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
