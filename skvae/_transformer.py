"""VAETransformer: the scikit-learn face of the torch VAE."""

from numbers import Integral, Real

import numpy as np
import torch
from sklearn.base import (
    ClassNamePrefixFeaturesOutMixin,
    TransformerMixin,
    _fit_context,
)
from sklearn.utils import check_random_state
from sklearn.utils._param_validation import Interval
from sklearn.utils.validation import (
    check_array,
    check_is_fitted,
    column_or_1d,
    validate_data,
)

from ._base import BaseVAE
from ._params import vae_parameters
from ._serialize import register_saveable
from ._validation import (
    _check_decoded,
    _check_n_samples,
    _check_no_missing,
    _one_per_row,
    _unique_groups,
)

__all__ = ["VAETransformer"]

# Monte Carlo draws of the reconstruction term in ``score_samples``'s ELBO.
_N_ELBO_DRAWS = 8


@register_saveable
@vae_parameters(n_components=2, corruption_std=0.0)
class VAETransformer(ClassNamePrefixFeaturesOutMixin, TransformerMixin, BaseVAE):
    """Variational autoencoder as a scikit-learn transformer.

    An MLP encoder gives a Gaussian posterior q(z | x) over ``n_components``
    latent dimensions, an MLP decoder p(x | z); training maximises
    ``ELBO(x) = E_q[log p(x | z)] - beta * KL(q(z | x) || N(0, I))``.
    ``transform`` gives the posterior mean, ``inverse_transform`` the decoder
    mean, ``sample`` new rows, ``score_samples`` per-row likelihood bounds.

    ``fit(X, groups=g)`` (e.g. the speaker of each row) conditions the decoder
    on the group, p(x | z, g) [4]_, so the latent need not encode it;
    ``transform`` needs only X, and the other methods average over the
    training groups unless given ``groups=``. In a Pipeline or search, call
    ``set_fit_request(groups=True)`` with metadata routing enabled.
    ``corruption_std > 0`` or ``fit(X_noisy, X_clean=X)`` trains a denoising
    VAE [5]_: ``inverse_transform(transform(noisy))`` estimates clean rows.

    Parameters
    ----------
    n_components : int, default=2
        Dimension of the latent space. At most the number of features.
    corruption_std : float, default=0.0
        Standard deviation of the Gaussian noise added to the standardised
        encoder input during training (denoising VAE); 0 disables it.
    {shared_parameters}

    Attributes
    ----------
    module_ : skvae._vae.VAE
        The fitted torch module.
    {shared_attributes}
    groups_ : ndarray or None
        The distinct groups passed to ``fit`` (sorted), or None when fitted
        without groups.
    group_prior_ : ndarray of shape (n_groups,) or None
        Frequency of each group in the training data.

    See Also
    --------
    sklearn.decomposition.PCA : Linear latent model with a closed-form fit.
    sklearn.neural_network.MLPRegressor : Deterministic MLP.

    References
    ----------
    .. [1] D. P. Kingma and M. Welling, "Auto-Encoding Variational Bayes",
       ICLR 2014.
    .. [2] Y. Burda, R. Grosse and R. Salakhutdinov, "Importance Weighted
       Autoencoders", ICLR 2016.
    .. [3] I. Higgins et al., "beta-VAE: Learning Basic Visual Concepts with a
       Constrained Variational Framework", ICLR 2017.
    .. [4] C. Louizos, K. Swersky, Y. Li, M. Welling and R. Zemel, "The
       Variational Fair Autoencoder", ICLR 2016.
    .. [5] D. J. Im, S. Ahn, R. Memisevic and Y. Bengio, "Denoising Criterion
       for Variational Auto-Encoding Framework", AAAI 2017.

    Examples
    --------
    >>> import numpy as np
    >>> from skvae import VAETransformer
    >>> X = np.random.RandomState(0).normal(size=(200, 6))
    >>> vae = VAETransformer(n_components=2, hidden_layer_sizes=(16,),
    ...                      max_iter=5, random_state=0)
    >>> Z = vae.fit_transform(X)
    >>> Z.shape
    (200, 2)
    >>> vae.inverse_transform(Z).shape
    (200, 6)
    >>> vae.sample(3, random_state=0).shape
    (3, 6)
    >>> vae.get_feature_names_out()
    array(['vaetransformer0', 'vaetransformer1'], dtype=object)
    """

    _parameter_constraints: dict = {
        **BaseVAE._parameter_constraints,
        "corruption_std": [Interval(Real, 0, None, closed="left")],
    }

    @_fit_context(prefer_skip_nested_validation=True)
    def fit(self, X, y=None, *, groups=None, X_clean=None):
        """Fit the VAE on X; returns self.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)
        y : Ignored
        groups : array-like of shape (n_samples,), default=None
            Nuisance group of each row (e.g. the speaker); see the class.
        X_clean : array-like of shape (n_samples, n_features), default=None
            Clean rows the decoder reconstructs from X (denoising); the
            standardisation statistics come from them.
        """
        return self._fit_on(X, groups, X_clean, self._continues(), self.max_iter)

    @_fit_context(prefer_skip_nested_validation=True)
    def partial_fit(self, X, y=None, *, groups=None, X_clean=None):
        """Train one epoch over X, initialising the model on the first call.

        The first call fixes the standardisation statistics and the groups;
        no early stopping. Parameters and return as in :meth:`fit`.
        """
        first = not hasattr(self, "module_")
        if not first:
            self._check_same_architecture()
        return self._fit_on(X, groups, X_clean, not first, 1, incremental=True)

    def _fit_on(self, X, groups, X_clean, continuing, max_epochs, incremental=False):
        X = validate_data(self, X, dtype=[np.float64, np.float32], reset=not continuing)
        target = self._check_clean(X_clean, X)
        cond = self._group_codes(groups, X.shape[0], reset=not continuing)
        if incremental:
            self._partial = True
        return self._fit(
            X,
            continuing=continuing,
            max_epochs=max_epochs,
            incremental=incremental,
            target=target,
            cond=cond,
            corruption_std=float(self.corruption_std),
        )

    def _check_clean(self, X_clean, X):
        """Validated clean targets (same shape as X), or None."""
        if X_clean is None:
            return None
        clean = check_array(
            X_clean, dtype=[np.float64, np.float32], input_name="X_clean"
        )
        if clean.shape != X.shape:
            raise ValueError(
                f"X_clean has shape {clean.shape}, but X has shape {X.shape}; "
                "they must be row-aligned pairs of the same shape."
            )
        return clean

    def _group_codes(self, groups, n_samples, *, reset):
        """One-hot float32 group codes, or None; ``reset``: they define
        ``groups_``, else they must be among the fitted ones."""
        fitted = getattr(self, "groups_", None)
        if groups is None:
            if not reset and fitted is not None:
                raise ValueError(
                    "This VAETransformer was fitted with groups; pass groups= "
                    "(one per row) to continue training it."
                )
            if reset:
                self.groups_ = None
                self.group_prior_ = None
            return None
        groups = column_or_1d(groups, warn=True)
        if groups.shape[0] != n_samples:
            raise ValueError(
                f"groups has {groups.shape[0]} entries, but X has {n_samples} rows."
            )
        _check_no_missing(groups, "groups")
        if reset:
            uniques, _, counts = _unique_groups(groups)
            self.groups_ = uniques
            self.group_prior_ = counts / counts.sum()
        elif fitted is None:
            raise ValueError(
                "This VAETransformer was fitted without groups; it cannot be "
                "continued with groups."
            )
        return np.eye(len(self.groups_), dtype=np.float32)[self._group_index(groups)]

    def _module_kwargs(self, X):
        kwargs = super()._module_kwargs(X)
        if getattr(self, "groups_", None) is not None:
            kwargs["n_conditions"] = len(self.groups_)
        return kwargs

    def _weights_extra(self):
        groups = self.groups_
        if groups is None:
            return {"groups_": None}, {}
        return {"groups_": groups.tolist()}, {"group_prior_": self.group_prior_}

    def _restore_fitted(self, fitted, arrays):
        super()._restore_fitted(fitted, arrays)
        groups = fitted.get("groups_")
        self.groups_ = None if groups is None else np.asarray(groups)
        self.group_prior_ = None
        if groups is not None:
            if "group_prior_" not in arrays:
                raise ValueError("damaged file (group_prior_ is missing).")
            self.group_prior_ = arrays["group_prior_"]

    def _check_restored(self):
        super()._check_restored()
        n_groups = self.module_.n_conditions
        if self.groups_ is None:
            if n_groups:
                raise ValueError(
                    f"damaged file (the network is conditioned on {n_groups} "
                    "groups, but groups_ is missing)."
                )
            return
        prior = np.asarray(self.group_prior_)
        if self.groups_.shape != (n_groups,) or prior.shape != (n_groups,):
            raise ValueError(
                f"damaged file (groups_ and group_prior_ must hold the {n_groups} "
                "groups the network is conditioned on)."
            )
        _check_no_missing(self.groups_, "groups_")
        if not np.all(self.groups_[1:] > self.groups_[:-1]):
            raise ValueError("damaged file (groups_ is not sorted and unique).")
        if not (np.isfinite(prior).all() and np.all(prior >= 0)):
            raise ValueError("damaged file (group_prior_ is not a distribution).")

    def transform(self, X):
        """Posterior means (n_samples, n_components) of X, in the dtype of X."""
        check_is_fitted(self)
        X = validate_data(self, X, dtype=[np.float64, np.float32], reset=False)
        return self._map_rows(
            X, lambda module, xb, sl: module.encode_mean(xb), self.module_.n_components
        )

    def inverse_transform(self, X, *, groups=None):
        """Decoder means E[x | z] of latent codes X (n_samples, n_components),
        in the original units and the dtype of X.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_components)
        groups : array-like of shape (n_samples,), default=None
            The group whose decoder decodes each code (e.g. another speaker's
            voice); None averages over the training groups.
        """
        Z = self._check_codes(X, "n_components")
        codes = self._inference_codes(groups, Z.shape[0])
        out = np.empty((Z.shape[0], self.n_features_in_), dtype=Z.dtype)
        # float64 codes: unstandardise in float64 (keeps the rows' spread)
        standardized = Z.dtype == np.float64
        module = self._network(standardized)
        with self._inference_context():
            module.eval()
            for sl in self._chunks(Z.shape[0]):
                zb = self._to_tensor(Z[sl])
                if codes is None and self.groups_ is not None:
                    rec = module.reconstruct_mixture(zb, self.group_prior_)
                else:
                    cb = None if codes is None else self._codes_tensor(codes[sl])
                    rec = module.reconstruct(zb, cb)
                out[sl] = rec.cpu()
        out = self._unstandardize(out) if standardized else out
        _check_decoded(out, "inverse_transform")
        return out

    def _inference_codes(self, groups, n_rows):
        """Group indices for inference methods (None: average over groups)."""
        fitted = getattr(self, "groups_", None)
        if groups is None:
            return None
        if fitted is None:
            raise ValueError(
                "groups= was given, but this VAETransformer was fitted without groups."
            )
        groups = _one_per_row(groups, n_rows, "groups", f"there are {n_rows} rows")
        _check_no_missing(groups, "groups")
        return self._group_index(groups)

    def _codes_tensor(self, idx):
        return self._one_hot(idx, len(self.groups_))

    def sample(
        self, n_samples=1, *, groups=None, random_state=None, observation_noise=True
    ):
        """Draw new rows: z from the prior N(0, I), then x from the decoder.

        Parameters
        ----------
        n_samples : int, default=1
        groups : scalar or array-like of shape (n_samples,), default=None
            The group of the rows, one for all or one per row; None draws
            each row's group from ``group_prior_``.
        random_state : int, RandomState instance or None, default=None
        observation_noise : bool, default=True
            Draw x from p(x | z); False returns the smoother mean E[x | z].

        Returns
        -------
        X : ndarray of shape (n_samples, n_features_in_)
            Generated rows in the original units.
        """
        check_is_fitted(self)
        _check_n_samples(n_samples)
        self._check_output_size(n_samples, "sample")
        rng = check_random_state(random_state)
        codes = self._inference_codes(groups, n_samples)
        n_groups = 0 if self.groups_ is None else len(self.groups_)
        if codes is None and n_groups:
            codes = rng.choice(n_groups, size=n_samples, p=self.group_prior_)
        return self._generate(
            n_samples,
            rng,
            codes=codes,
            n_codes=n_groups,
            observation_noise=observation_noise,
        )

    def score_samples(
        self, X, *, n_importance_samples=None, groups=None, return_codes=False
    ):
        """Per-row log-likelihood bound of X under the model (higher = likelier).

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)
        n_importance_samples : int or None, default=None
            None gives the ELBO (8 posterior draws); ``k`` the tighter
            importance-weighted bound of Burda et al. with ``k`` draws.
        groups : array-like of shape (n_samples,), default=None
            Score each row under its group's decoder, log p(x | g); None gives
            log sum_g p(g) p(x | g).
        return_codes : bool, default=False
            Also return the posterior means the bound is computed from, equal
            to ``transform(X)``: codes and scores in one encoder pass.

        Returns
        -------
        scores : ndarray of shape (n_samples,)
            Bounds in nats, for X in its original units; deterministic (the
            draws are fixed by the fitted model), whatever the batch.
        codes : ndarray of shape (n_samples, n_components)
            Only with ``return_codes=True``: ``transform(X)``.
        """
        check_is_fitted(self)
        if n_importance_samples is not None and (
            isinstance(n_importance_samples, bool)
            or not isinstance(n_importance_samples, Integral)
            or n_importance_samples < 1
        ):
            raise ValueError(
                "n_importance_samples must be None or a positive int, got "
                f"{n_importance_samples!r}."
            )
        X = validate_data(self, X, dtype=[np.float64, np.float32], reset=False)
        codes = self._inference_codes(groups, X.shape[0])
        importance = n_importance_samples is not None
        k = n_importance_samples if importance else _N_ELBO_DRAWS
        gen = torch.Generator().manual_seed(self._score_seed)
        module = self._network(X.dtype == np.float64)
        eps = torch.randn(k, module.n_components, generator=gen).to(self.device_)
        out = np.empty(X.shape[0], dtype=np.float64)
        means = np.empty((X.shape[0], module.n_components), dtype=X.dtype)
        with self._inference_context():
            module.eval()
            # chunk rows so that k * rows stays within the inference batch size
            for sl in self._chunks(X.shape[0], max(1, self.inference_batch_size // k)):
                xb = self._rows_tensor(X[sl], X.dtype == np.float64)
                posterior = module.encode(xb)  # the encoder takes no group
                means[sl] = posterior[0].cpu()
                if codes is None and self.groups_ is not None:
                    # log sum_g p(g) p(x | g): needs no group
                    score = module.log_likelihood_bound_mixture(
                        xb, eps, self.group_prior_, importance, posterior
                    )
                else:
                    cb = None if codes is None else self._codes_tensor(codes[sl])
                    score = module.log_likelihood_bound(
                        xb, eps, importance=importance, cond=cb, posterior=posterior
                    )
                out[sl] = score.cpu().numpy()
        out += self._log_det_scale()
        return (out, means) if return_codes else out

    def score(self, X, y=None):
        """Mean of :meth:`score_samples` (the ELBO) over X; ``y`` is ignored."""
        return float(np.mean(self.score_samples(X)))

    @property
    def _n_features_out(self):
        # the fitted width, which set_params(n_components=...) does not change
        return self.module_.n_components

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.transformer_tags.preserves_dtype = ["float64", "float32"]
        tags.input_tags.allow_nan = False
        return tags
