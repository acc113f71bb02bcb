"""FactorizedVAE: a speaker-factorised VAE (FHVAE) as a scikit-learn transformer."""

from numbers import Integral, Real

import numpy as np
import torch
from sklearn.base import (
    ClassNamePrefixFeaturesOutMixin,
    TransformerMixin,
    _fit_context,
)
from sklearn.utils._param_validation import Interval
from sklearn.utils.validation import check_array, check_is_fitted, validate_data

from ._base import BaseVAE
from ._factorized_module import FactorizedVAEModule
from ._params import vae_parameters
from ._serialize import register_saveable
from ._validation import (
    _check_decoded,
    _check_float32_range,
    _check_no_missing,
    _one_per_row,
    _unique_groups,
)

__all__ = ["FactorizedVAE"]

#: learning rate of the table of group means, relative to
#: ``learning_rate_init``: a group's mean, moved only by that group's rows,
#: must travel several units in a few hundred Adam steps
_GROUP_MEANS_LR_FACTOR = 10.0


@register_saveable
@vae_parameters(
    n_components=2,
    n_group_components=2,
    discriminative_weight=10.0,
    group_latent_std=0.5,
    corruption_std=0.0,
)
class FactorizedVAE(ClassNamePrefixFeaturesOutMixin, TransformerMixin, BaseVAE):
    """Speaker-factorised VAE: a group latent and a content latent per row.

    A factorized hierarchical VAE (FHVAE) [1]_ for rows that come in groups
    (e.g. the utterances of a speaker): each row has a group latent z2
    (``n_group_components``), tied to its group, and a content latent z1
    (``n_components``). Generative model for a row x of group g::

        mu2_g ~ N(0, I)                       one learned mean per group
        z2 ~ N(mu2_g, group_latent_std^2 I)   the row's group latent
        z1 ~ N(0, I)                          the row's content latent
        x ~ N(f(z1, z2), diag(sigma^2))       the decoder

    with encoders q(z2 | x) and q(z1 | x, z2). Training maximises the ELBO
    plus ``discriminative_weight`` times log p(g | z2): what a group's rows
    share (the voice) goes to z2, what varies (the word) to z1.

    ``transform(X, groups=g)`` infers each group's latent from its rows in X,
    also for groups unseen in fit (see :meth:`group_latent`), and encodes the
    content with that voice factored out. Without groups, each row is its own
    group in ``transform`` and all rows one group in ``fit``. In a Pipeline:
    ``set_fit_request(groups=True).set_transform_request(groups=True)``.
    No ``partial_fit`` (the group table needs every group's row count);
    ``warm_start=True`` continues on the fitted groups.

    Parameters
    ----------
    n_components : int, default=2
        Dimension of the content latent z1 (the columns of ``transform``).
    n_group_components : int, default=2
        Dimension of the group latent z2.
    discriminative_weight : float, default=10.0
        Weight of log p(g | z2) (FHVAE's alpha); 0 turns it off.
    group_latent_std : float, default=0.5
        Spread of a row's z2 around its group's mean mu2_g; smaller ties the
        rows of a group more tightly.
    corruption_std : float, default=0.0
        Gaussian noise on the standardised encoder inputs in training.
    {shared_parameters}

    Attributes
    ----------
    module_ : skvae._factorized_module.FactorizedVAEModule
        The fitted torch module.
    groups_ : ndarray of shape (n_groups,) or None
        The sorted groups of ``fit``; None when fitted without groups.
    group_latents_ : ndarray of shape (n_groups, n_group_components)
        mu2_g of each training group (one row without groups), as
        :meth:`group_latent` estimates it from the group's training rows.
    group_sizes_ : ndarray of shape (n_groups,)
        Training rows of each group.
    {shared_attributes}

    See Also
    --------
    VAETransformer : One latent; groups one-hot coded, training groups only.
    skvae.features.GroupStandardScaler : Per-speaker normalisation.

    References
    ----------
    .. [1] W.-N. Hsu, Y. Zhang and J. Glass, "Unsupervised Learning of
       Disentangled and Interpretable Representations from Sequential Data",
       NeurIPS 2017.
    .. [2] W.-N. Hsu and J. Glass, "Scalable Factorized Hierarchical
       Variational Autoencoder Training", Interspeech 2018.

    Examples
    --------
    Three speakers, each with its own offset on the same two-word content:

    >>> import numpy as np
    >>> from skvae import FactorizedVAE
    >>> rng = np.random.RandomState(0)
    >>> word = rng.randint(2, size=300)
    >>> speaker = np.repeat(["ann", "bob", "cy"], 100)
    >>> offset = {"ann": -2.0, "bob": 0.0, "cy": 2.0}
    >>> X = (np.c_[word, 1 - word, word] + rng.normal(0, 0.1, (300, 3))
    ...      + np.array([offset[s] for s in speaker])[:, None])
    >>> fvae = FactorizedVAE(1, n_group_components=1, hidden_layer_sizes=(16,),
    ...                      max_iter=5, random_state=0)
    >>> fvae.fit(X, groups=speaker).groups_
    array(['ann', 'bob', 'cy'], dtype='<U3')
    >>> fvae.group_latents_.shape
    (3, 1)
    >>> fvae.transform(X, groups=speaker).shape  # content, voice factored out
    (300, 1)
    >>> fvae.group_latent(X[:10], groups=["new"] * 10).shape  # an unseen voice
    (10, 1)
    >>> fvae.convert(X[:4], groups=speaker[:4], target_groups="cy").shape
    (4, 3)
    >>> fvae.get_feature_names_out()
    array(['factorizedvae0'], dtype=object)
    """

    _module_class = FactorizedVAEModule
    _parameter_constraints: dict = {
        **BaseVAE._parameter_constraints,
        "n_group_components": [Interval(Integral, 1, None, closed="left")],
        "discriminative_weight": [Interval(Real, 0, None, closed="left")],
        "group_latent_std": [Interval(Real, 0, None, closed="neither")],
        "corruption_std": [Interval(Real, 0, None, closed="left")],
    }

    @_fit_context(prefer_skip_nested_validation=True)
    def fit(self, X, y=None, *, groups=None):
        """Fit on X, ``groups`` the group of each row (e.g. the speaker; None:
        one group); returns self."""
        continuing = self._continues()
        X = validate_data(self, X, dtype=[np.float64, np.float32], reset=not continuing)
        cond, sizes = self._training_groups(groups, X.shape[0], continuing)
        weight = float(self.discriminative_weight)

        def before_training(module):
            module.discriminative_weight = weight

        self._partial = False
        self._fit(
            X,
            continuing=continuing,
            max_epochs=self.max_iter,
            cond=cond,
            corruption_std=float(self.corruption_std),
            before_training=before_training,
            reset_kwargs={"group_sizes": sizes},
        )
        self._set_group_means(X, cond)
        return self

    def _set_group_means(self, X, index):
        """Set each training group's mean to its posterior given its rows,
        the estimate :meth:`group_latent` makes for any group."""
        module = self.module_
        latents, counts = self._pooled(X, index, module.n_groups)
        present = counts > 0  # a group absent from a warm-start call keeps its mean
        with torch.no_grad():
            table = module.group_means.detach().cpu().double().numpy()
            table[present] = latents[present]
            module.group_means.copy_(torch.from_numpy(table))

    def _make_optimizer(self):
        module = self.module_
        others = [p for n, p in module.named_parameters() if n != "group_means"]
        fused = self.device_.type in ("cpu", "cuda")
        return torch.optim.Adam(
            [
                {"params": others},
                {
                    "params": [module.group_means],
                    "lr": self.learning_rate_init * _GROUP_MEANS_LR_FACTOR,
                },
            ],
            lr=self.learning_rate_init,
            weight_decay=self.alpha,
            fused=fused,
        )

    def _optimizer_for_fit(self):
        optimizer = super()._optimizer_for_fit()
        optimizer.param_groups[1]["lr"] = (
            self.learning_rate_init * _GROUP_MEANS_LR_FACTOR
        )
        return optimizer

    def fit_transform(self, X, y=None, *, groups=None):
        """``fit(X, groups=groups).transform(X, groups=groups)``."""
        return self.fit(X, groups=groups).transform(X, groups=groups)

    def _training_groups(self, groups, n_samples, continuing):
        """Group index of each row (int64) and rows per group; sets ``groups_``."""
        fitted = getattr(self, "groups_", None) if continuing else None
        if groups is None:
            if continuing and fitted is not None:
                raise ValueError(
                    "This FactorizedVAE was fitted with groups; pass groups= (one "
                    "per row) to continue training it."
                )
            self.groups_ = None
            return np.zeros(n_samples, dtype=np.int64), np.array([float(n_samples)])
        groups = _one_per_row(groups, n_samples, "groups", f"X has {n_samples} rows")
        _check_no_missing(groups, "groups")
        if continuing:
            if fitted is None:
                raise ValueError(
                    "This FactorizedVAE was fitted without groups; it cannot be "
                    "continued with groups."
                )
            return self._group_index(groups), None
        uniques, inverse, counts = _unique_groups(groups)
        self.groups_ = uniques
        return inverse.astype(np.int64), counts.astype(np.float64)

    def _module_kwargs(self, X):
        n_groups = 1 if self.groups_ is None else len(self.groups_)
        return {
            **super()._module_kwargs(X),
            "n_group_components": self.n_group_components,
            "n_groups": n_groups,
            "group_latent_std": float(self.group_latent_std),
        }

    def _architecture_changes(self):
        changed = super()._architecture_changes()
        fitted = self.module_.config()
        for name in ("n_group_components", "group_latent_std"):
            if getattr(self, name) != fitted[name]:
                changed.append(name)
        return changed

    @property
    def group_latents_(self):
        check_is_fitted(self)
        return self.module_.group_means.detach().cpu().numpy().astype(np.float64)

    @property
    def group_sizes_(self):
        check_is_fitted(self)
        return self.module_.group_sizes.detach().cpu().numpy().astype(np.float64)

    def _weights_extra(self):
        groups = self.groups_
        return {"groups_": None if groups is None else groups.tolist()}, {}

    def _restore_fitted(self, fitted, arrays):
        super()._restore_fitted(fitted, arrays)
        groups = fitted["groups_"]
        self.groups_ = None if groups is None else np.asarray(groups)

    def _check_restored(self):
        super()._check_restored()
        n_groups = self.module_.n_groups
        if self.groups_ is None:
            if n_groups != 1:
                raise ValueError(
                    f"damaged file (the network has {n_groups} groups, but "
                    "groups_ is missing)."
                )
            return
        if self.groups_.shape != (n_groups,):
            raise ValueError(
                f"damaged file (groups_ must hold the network's {n_groups} groups)."
            )
        _check_no_missing(self.groups_, "groups_")
        if not np.all(self.groups_[1:] > self.groups_[:-1]):
            raise ValueError("damaged file (groups_ is not sorted and unique).")

    def _validated_rows(self, X):
        check_is_fitted(self)
        return validate_data(self, X, dtype=[np.float64, np.float32], reset=False)

    def _row_groups(self, groups, n_rows):
        """Index of each row's group among the call's groups (None: one each)."""
        if groups is None:
            return np.arange(n_rows)
        groups = _one_per_row(groups, n_rows, "groups", f"X has {n_rows} rows")
        _check_no_missing(groups, "groups")
        return _unique_groups(groups)[1]

    def _pooled(self, X, index, n_groups):
        """(posterior mean of mu2 of each group given its rows of X, row counts);
        ``index``: each row's group."""
        width = self.module_.n_group_components
        means = self._map_rows(
            X, lambda m, xb, sl: m.encode_group_mean(xb), width, np.float64
        )
        sums = np.zeros((n_groups, width))
        np.add.at(sums, index, means)
        counts = np.bincount(index, minlength=n_groups)
        return sums / (counts + self.module_.shrinkage())[:, None], counts

    def _inferred_latents(self, X, groups):
        """Each row's group latent, inferred from the rows of its group in X."""
        inverse = self._row_groups(groups, X.shape[0])
        n_groups = int(inverse.max()) + 1 if len(inverse) else 0
        return self._pooled(X, inverse, n_groups)[0][inverse]

    def _content(self, X, latents):
        """Means of q(z1 | x, z2) for rows X with group latents ``latents``."""

        def content(module, xb, sl):
            z2 = torch.from_numpy(latents[sl].astype(np.float32)).to(self.device_)
            return module.encode_content_mean(xb, z2)

        return self._map_rows(X, content, self.module_.n_content)

    def transform(self, X, *, groups=None):
        """Means of q(z1 | x, z2) (n_samples, n_components) in the dtype of X,
        z2 inferred from the rows of each group (seen in fit or not) in X.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)
        groups : scalar or array-like of shape (n_samples,), default=None
            Group of each row; a scalar: one group; None: each row its own.
        """
        X = self._validated_rows(X)
        return self._content(X, self._inferred_latents(X, groups))

    def group_latent(self, X, groups=None):
        """The group latent of each row, inferred from the rows of its group.

        The posterior mean of the group's mu2, ``sum_n m_n / (N +
        group_latent_std^2)`` over the means m_n of q(z2 | x_n) of its N rows:
        e.g. the voice of an unseen speaker.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)
        groups : scalar or array-like of shape (n_samples,), default=None
            As in :meth:`transform`.

        Returns
        -------
        latents : ndarray of shape (n_samples, n_group_components), float64
            The latent of each row's group (equal within a group).
        """
        X = self._validated_rows(X)
        return self._inferred_latents(X, groups)

    def _target_latents(self, n_rows, groups, latents, default):
        """Group latents to decode with, one row per code."""
        if groups is not None and latents is not None:
            raise ValueError("Pass at most one of the groups and the group latents.")
        if groups is not None:
            if self.groups_ is None:
                raise ValueError(
                    "groups of fit were asked for, but this FactorizedVAE was "
                    "fitted without groups; pass group latents instead."
                )
            groups = _one_per_row(groups, n_rows, "groups", f"there are {n_rows} rows")
            _check_no_missing(groups, "groups")
            return self.group_latents_[self._group_index(groups)]
        if latents is None:
            return default
        lat = check_array(
            np.atleast_2d(np.asarray(latents, dtype=np.float64))
            if np.ndim(latents) == 1
            else latents,
            dtype=np.float64,
            input_name="group latents",
        )
        d2 = self.module_.n_group_components
        if lat.shape[1] != d2 or lat.shape[0] not in (1, n_rows):
            raise ValueError(
                f"group latents must have shape ({d2},), (1, {d2}) or "
                f"({n_rows}, {d2}); got {lat.shape}."
            )
        _check_float32_range(lat, "group latents", "use latents of group_latent")
        return np.broadcast_to(lat, (n_rows, d2))

    def _decode(self, Z, latents, dtype):
        """Decoder means for content codes Z and group latents, original units."""
        out = np.empty((Z.shape[0], self.n_features_in_), dtype=dtype)
        standardized = dtype == np.float64
        module = self._network(standardized)
        with self._inference_context():
            module.eval()
            for sl in self._chunks(Z.shape[0]):
                zb = torch.from_numpy(np.asarray(Z[sl], np.float32)).to(self.device_)
                z2 = torch.from_numpy(np.asarray(latents[sl], np.float32))
                out[sl] = module.reconstruct(zb, z2.to(self.device_)).cpu()
        out = self._unstandardize(out) if standardized else out
        _check_decoded(out, "inverse_transform")
        return out

    def _average_latent(self):
        """The training groups' latents averaged by their sizes (average voice)."""
        w = self.group_sizes_ / self.group_sizes_.sum()
        return w @ self.group_latents_

    def inverse_transform(self, X, *, groups=None, group_latents=None):
        """Decode content codes in a given voice, in the original units.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_components)
            Content codes, e.g. from ``transform``.
        groups : scalar or array-like of shape (n_samples,), default=None
            Training group(s) whose ``group_latents_`` render the codes.
        group_latents : array-like of shape (n_group_components,) or \
(n_samples, n_group_components), default=None
            Group latents to render with instead (e.g. from
            :meth:`group_latent`). With neither: the size-weighted average.

        Returns
        -------
        X_original : ndarray of shape (n_samples, n_features_in_)
            Decoder means, in the dtype of the codes.
        """
        Z = self._check_codes(X, "n_content")
        default = np.repeat(self._average_latent()[None], Z.shape[0], axis=0)
        latents = self._target_latents(Z.shape[0], groups, group_latents, default)
        return self._decode(Z, latents, Z.dtype)

    def convert(self, X, groups=None, *, target_groups=None, target_latents=None):
        """Re-render rows in another (or an interpolated) group's voice.

        :meth:`transform`, then decoding with the target latent: voice
        conversion when groups are speakers.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)
        groups : scalar or array-like of shape (n_samples,), default=None
            Group of each row of X, as in :meth:`transform`.
        target_groups : scalar or array-like of shape (n_samples,), \
default=None
            Training group(s) to render in (their ``group_latents_``).
        target_latents : array-like of shape (n_group_components,) or \
(n_samples, n_group_components), default=None
            Group latents to render with instead, e.g. ``0.5 * (a + b)``.
            With neither target: each row in its own voice (reconstruction).

        Returns
        -------
        X_new : ndarray of shape (n_samples, n_features_in_)
            Converted rows in the units of X, in the dtype of X.
        """
        X = self._validated_rows(X)
        source = self._inferred_latents(X, groups)
        Z = self._content(X, source)
        latents = self._target_latents(
            X.shape[0], target_groups, target_latents, source
        )
        return self._decode(Z, latents, X.dtype)

    @property
    def _n_features_out(self):
        return self.module_.n_content

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.transformer_tags.preserves_dtype = ["float64", "float32"]
        tags.input_tags.allow_nan = False
        return tags
