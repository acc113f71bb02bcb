"""VAETransformer: the scikit-learn face of the torch VAE."""

import contextlib
import math
import warnings
from numbers import Integral, Real

import numpy as np
import torch
from sklearn.base import (
    BaseEstimator,
    ClassNamePrefixFeaturesOutMixin,
    TransformerMixin,
    _fit_context,
)
from sklearn.exceptions import ConvergenceWarning
from sklearn.utils import check_random_state
from sklearn.utils._param_validation import Interval, StrOptions
from sklearn.utils.validation import check_array, check_is_fitted, validate_data

from ._training import ThreadTuner, Trainer, resolve_device, torch_threads
from ._vae import ACTIVATIONS, LIKELIHOODS, VAE
from ._version import __version__
from .exceptions import InconsistentVersionWarning

__all__ = ["VAETransformer"]

_MAX_SEED = np.iinfo(np.int32).max
# Monte Carlo draws of the reconstruction term in ``score_samples``'s ELBO.
_N_ELBO_DRAWS = 8


class VAETransformer(ClassNamePrefixFeaturesOutMixin, TransformerMixin, BaseEstimator):
    """Variational autoencoder as a scikit-learn transformer.

    An MLP encoder maps each row to the mean and log-variance of a Gaussian
    posterior q(z | x) over ``n_components`` latent dimensions; a
    reparameterised draw of z goes through an MLP decoder to the parameters
    of p(x | z). Training maximises the evidence lower bound (ELBO)::

        ELBO(x) = E_q[log p(x | z)] - beta * KL(q(z | x) || N(0, I))

    ``transform`` returns the posterior mean, ``inverse_transform`` the decoder
    mean, ``sample`` draws new rows and ``score_samples`` gives per-row ELBO
    or importance-weighted log-likelihood bounds.

    Parameters
    ----------
    n_components : int, default=2
        Dimension of the latent space. At most the number of features.

    hidden_layer_sizes : array-like of int or int, default=(256, 128)
        Widths of the encoder's hidden layers; the decoder mirrors them.

    activation : {"relu", "tanh", "logistic", "elu", "gelu", "silu"}, \
            default="relu"
        Non-linearity after every hidden layer.

    likelihood : {"gaussian", "bernoulli"}, default="gaussian"
        Observation model p(x | z). ``"gaussian"`` has a learned per-feature
        variance and suits real-valued features (MFCC, log-mel);
        ``"bernoulli"`` needs data in [0, 1].

    beta : float, default=1.0
        Weight of the KL term (beta-VAE). ``beta=1`` is the true ELBO.

    kl_warmup : int, default=0
        Number of epochs over which the KL weight rises linearly from
        ``beta / kl_warmup`` to ``beta``. 0 disables warm-up.

    standardize : bool or "auto", default="auto"
        Standardise features to zero mean and unit variance inside the
        estimator (statistics learned at fit). Every output in feature space
        (``inverse_transform``, ``sample``) and every likelihood is in the
        caller's original units. ``"auto"`` means True for the Gaussian
        likelihood and False for the Bernoulli one, which needs raw [0, 1]
        data.

    learning_rate_init : float, default=1e-3
        Learning rate of the Adam optimizer.

    batch_size : int, default=256
        Mini-batch size for training; clipped to the number of samples.

    max_iter : int, default=200
        Maximum number of epochs (passes over the training data).

    tol : float, default=1e-4
        Minimum improvement of the training loss (or, with early stopping, of
        the validation score) per sample, in nats, that counts as progress.

    early_stopping : bool, default=False
        Hold out ``validation_fraction`` of the rows, stop when the validation
        score has not improved by ``tol`` for ``n_iter_no_change`` epochs, and
        restore the weights of the best validation epoch.

    validation_fraction : float, default=0.1
        Fraction of rows held out when ``early_stopping=True``.

    n_iter_no_change : int, default=10
        Epochs without improvement by ``tol`` before training stops.

    alpha : float, default=0.0
        L2 penalty (weight decay) of the optimizer.

    warm_start : bool, default=False
        When True, ``fit`` continues from the previous solution (weights,
        optimizer state and standardisation) instead of starting afresh.

    random_state : int, RandomState instance or None, default=None
        Seeds weight initialisation, shuffling, the reparameterisation noise
        and the validation split. With an int, fitting on CPU twice gives
        bitwise-identical weights. Torch's global RNG is never touched.

    device : str or torch.device, default="cpu"
        Where to train and infer: ``"cpu"``, ``"cuda"``, ``"cuda:1"``,
        ``"mps"``, or ``"auto"`` (CUDA when available, else CPU). Fitted models
        are always pickled with CPU tensors, so a GPU-trained model loads on a
        machine without a GPU.

    n_threads : int or None, default=None
        Torch intra-op CPU threads used inside this estimator's methods (the
        global setting is restored afterwards). None means torch's current
        setting capped by the CPUs this process may use; inside joblib/loky
        workers, e.g. ``GridSearchCV(n_jobs=2)``, joblib limits that to
        ``cpu_count // n_jobs`` so workers do not oversubscribe the machine.

    inference_batch_size : int, default=4096
        Rows per chunk in ``transform``, ``inverse_transform``,
        ``score_samples`` and ``sample``; bounds their memory.

    verbose : int, default=0
        If > 0, show a progress bar with the per-epoch loss.

    Attributes
    ----------
    module_ : skvae._vae.VAE
        The fitted torch module.

    n_features_in_ : int
        Number of features seen during fit.

    feature_names_in_ : ndarray of shape (n_features_in_,)
        Names of features seen during fit, when X has string column names.

    mean_ : ndarray of shape (n_features_in_,)
        Per-feature mean subtracted before encoding (zeros when not
        standardising).

    scale_ : ndarray of shape (n_features_in_,)
        Per-feature scale divided out before encoding (ones when not
        standardising).

    history_ : list of dict
        One record per epoch: ``epoch``, ``beta``, ``loss`` (beta-weighted
        negative ELBO per sample), ``reconstruction`` (negative
        log-likelihood per sample), ``kl`` and, with early stopping,
        ``validation_score``, ``validation_reconstruction`` and
        ``validation_kl``. Values are in the standardised space.

    loss_curve_ : list of float
        Training loss of each epoch.

    validation_scores_ : list of float or None
        Validation score (negative loss, higher is better) of each epoch with
        early stopping, else None.

    best_loss_ : float
        Lowest training loss reached.

    best_validation_score_ : float or None
        Best validation score with early stopping, else None.

    n_iter_ : int
        Number of epochs run (cumulative over ``partial_fit`` and warm starts).

    device_ : torch.device
        Device the fitted module lives on.

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
        "n_components": [Interval(Integral, 1, None, closed="left")],
        "hidden_layer_sizes": [
            "array-like",
            Interval(Integral, 1, None, closed="left"),
        ],
        "activation": [StrOptions(set(ACTIVATIONS))],
        "likelihood": [StrOptions(set(LIKELIHOODS))],
        "beta": [Interval(Real, 0, None, closed="left")],
        "kl_warmup": [Interval(Integral, 0, None, closed="left")],
        "standardize": ["boolean", StrOptions({"auto"})],
        "learning_rate_init": [Interval(Real, 0, None, closed="neither")],
        "batch_size": [Interval(Integral, 1, None, closed="left")],
        "max_iter": [Interval(Integral, 1, None, closed="left")],
        "tol": [Interval(Real, 0, None, closed="left")],
        "early_stopping": ["boolean"],
        "validation_fraction": [Interval(Real, 0, 1, closed="neither")],
        "n_iter_no_change": [Interval(Integral, 1, None, closed="left")],
        "alpha": [Interval(Real, 0, None, closed="left")],
        "warm_start": ["boolean"],
        "random_state": ["random_state"],
        "device": [str, torch.device],
        "n_threads": [Interval(Integral, 1, None, closed="left"), None],
        "inference_batch_size": [Interval(Integral, 1, None, closed="left")],
        "verbose": ["verbose"],
    }

    def __init__(
        self,
        n_components=2,
        *,
        hidden_layer_sizes=(256, 128),
        activation="relu",
        likelihood="gaussian",
        beta=1.0,
        kl_warmup=0,
        standardize="auto",
        learning_rate_init=1e-3,
        batch_size=256,
        max_iter=200,
        tol=1e-4,
        early_stopping=False,
        validation_fraction=0.1,
        n_iter_no_change=10,
        alpha=0.0,
        warm_start=False,
        random_state=None,
        device="cpu",
        n_threads=None,
        inference_batch_size=4096,
        verbose=0,
    ):
        self.n_components = n_components
        self.hidden_layer_sizes = hidden_layer_sizes
        self.activation = activation
        self.likelihood = likelihood
        self.beta = beta
        self.kl_warmup = kl_warmup
        self.standardize = standardize
        self.learning_rate_init = learning_rate_init
        self.batch_size = batch_size
        self.max_iter = max_iter
        self.tol = tol
        self.early_stopping = early_stopping
        self.validation_fraction = validation_fraction
        self.n_iter_no_change = n_iter_no_change
        self.alpha = alpha
        self.warm_start = warm_start
        self.random_state = random_state
        self.device = device
        self.n_threads = n_threads
        self.inference_batch_size = inference_batch_size
        self.verbose = verbose

    # ------------------------------------------------------------------
    # fitting
    # ------------------------------------------------------------------
    @_fit_context(prefer_skip_nested_validation=True)
    def fit(self, X, y=None):
        """Fit the VAE on X.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)
            Training data.
        y : Ignored
            Not used, present for API consistency.

        Returns
        -------
        self : VAETransformer
            The fitted estimator.
        """
        continuing = self.warm_start and hasattr(self, "module_")
        X = validate_data(self, X, dtype=[np.float64, np.float32], reset=not continuing)
        return self._fit(X, continuing=continuing, max_epochs=self.max_iter)

    @_fit_context(prefer_skip_nested_validation=True)
    def partial_fit(self, X, y=None):
        """Train for one epoch over X, initialising the model on the first call.

        Standardisation statistics are taken from the first call's X and kept
        afterwards, so pass a representative first batch (or set
        ``standardize=False`` and scale the data yourself). Early stopping
        does not apply. Usable by ``dask_ml.wrappers.Incremental``.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)
            A batch of training data.
        y : Ignored
            Not used, present for API consistency.

        Returns
        -------
        self : VAETransformer
            The updated estimator.
        """
        first = not hasattr(self, "module_")
        X = validate_data(self, X, dtype=[np.float64, np.float32], reset=first)
        self._partial = True
        return self._fit(X, continuing=not first, max_epochs=1, incremental=True)

    def _resolved_standardize(self):
        if self.standardize == "auto":
            return self.likelihood == "gaussian"
        if self.standardize and self.likelihood == "bernoulli":
            raise ValueError(
                "standardize=True cannot be combined with likelihood='bernoulli', "
                "which models raw data in [0, 1]; use standardize='auto' or False."
            )
        return bool(self.standardize)

    def _check_fit_data(self, X):
        n_samples, n_features = X.shape
        if self.n_components > n_features:
            raise ValueError(
                f"n_components={self.n_components} must be at most the number of "
                f"features, got n_features={n_features}."
            )
        hidden = np.atleast_1d(np.asarray(self.hidden_layer_sizes))
        if (
            hidden.ndim != 1
            or not np.issubdtype(hidden.dtype, np.integer)
            or (hidden.size and hidden.min() < 1)
        ):
            raise ValueError(
                "hidden_layer_sizes must be a sequence of positive integers, got "
                f"{self.hidden_layer_sizes!r}."
            )
        if self.likelihood == "bernoulli" and (X.min() < 0 or X.max() > 1):
            raise ValueError(
                "likelihood='bernoulli' needs X in [0, 1]; got values in "
                f"[{X.min():.4g}, {X.max():.4g}]. Use likelihood='gaussian' for "
                "real-valued features."
            )
        return tuple(int(h) for h in hidden)

    def _init_model(self, X, hidden, device, seeds):
        standardize = self._resolved_standardize()
        constant = None
        if standardize:
            mean, scale = _mean_std(X)
            constant = ~(scale > 10 * np.finfo(X.dtype).eps * np.maximum(1, abs(mean)))
            scale[constant] = 1
        else:
            mean = np.zeros(X.shape[1])
            scale = np.ones(X.shape[1])
        if not (np.all(np.isfinite(mean)) and np.all(np.isfinite(scale))):
            raise ValueError(
                "X has values so large that their mean or variance overflows; "
                "rescale X before fitting."
            )
        self.mean_ = mean
        self.scale_ = scale
        with torch.device("meta"):
            module = VAE(
                X.shape[1],
                self.n_components,
                hidden,
                self.activation,
                self.likelihood,
            )
        module = module.to_empty(device="cpu")
        init_gen = torch.Generator().manual_seed(int(seeds[0]))
        module.reset_parameters(init_gen)
        module.set_standardization(mean, scale, constant)
        self.module_ = module.to(device)
        self.device_ = device
        self._optimizer = None
        self._generators = None
        self._score_seed = int(seeds[3])
        self.history_ = []
        self.n_iter_ = 0
        self.best_loss_ = math.inf
        self.best_validation_score_ = None

    def _make_generators(self, seeds, device):
        shuffle = torch.Generator().manual_seed(int(seeds[1]))
        noise = torch.Generator(device=device).manual_seed(int(seeds[2]))
        return shuffle, noise

    def _make_optimizer(self):
        fused = self.device_.type in ("cpu", "cuda")
        return torch.optim.Adam(
            self.module_.parameters(),
            lr=self.learning_rate_init,
            weight_decay=self.alpha,
            fused=fused,
        )

    def _fit(self, X, *, continuing, max_epochs, incremental=False):
        hidden = self._check_fit_data(X)
        rng = check_random_state(self.random_state)
        seeds = rng.randint(_MAX_SEED, size=5)
        if continuing:
            device = self.device_
        else:
            device = resolve_device(self.device)
            self._init_model(X, hidden, device, seeds)
            self._partial = incremental

        with torch_threads(self.n_threads):
            if self._generators is None:
                # offset by the epochs already run, so a restarted stream
                # (e.g. after unpickling without training state) differs
                self._generators = self._make_generators(seeds + self.n_iter_, device)
            if self._optimizer is None:
                self._optimizer = self._make_optimizer()
            else:
                for group in self._optimizer.param_groups:
                    group["lr"] = self.learning_rate_init
                    group["weight_decay"] = self.alpha

            early = self.early_stopping and not incremental
            Xt = self._to_tensor(X)
            n_train = X.shape[0]
            train_idx = val_idx = val_eps = None
            if early:
                train_idx, val_idx = self._validation_split(X.shape[0], seeds[4])
                n_train = train_idx.shape[0]
                vgen = torch.Generator().manual_seed(int(seeds[4]))
                val_eps = torch.randn(
                    val_idx.shape[0], self.n_components, generator=vgen
                ).to(device)

            tuner = None
            if self.n_threads is None and device.type == "cpu":
                max_threads = torch.get_num_threads()
                if max_threads > 1:
                    # partial_fit keeps its tuner from call to call: a fresh
                    # one would re-probe every thread count on every batch,
                    # which costs most of a short call on a busy machine
                    tuner = getattr(self, "_tuner", None) if incremental else None
                    if tuner is None or max(tuner.options) != max_threads:
                        tuner = ThreadTuner(max_threads)
                    torch.set_num_threads(tuner.threads)
                    self._tuner = tuner if incremental else None
            trainer = Trainer(
                tuner=tuner,
                module=self.module_,
                optimizer=self._optimizer,
                batch_size=min(self.batch_size, n_train),
                beta=self.beta,
                kl_warmup=self.kl_warmup,
                tol=self.tol,
                n_iter_no_change=self.n_iter_no_change,
                verbose=self.verbose,
                shuffle_gen=self._generators[0],
                noise_gen=self._generators[1],
                history=self.history_,
            )
            if early:
                trainer.best_validation_score = -math.inf
            else:
                trainer.best_loss = self.best_loss_
            converged = trainer.run(
                Xt,
                max_epochs=max_epochs,
                train_indices=train_idx,
                val_indices=val_idx,
                val_eps=val_eps,
                early_stopping=early,
                check_convergence=not incremental,
            )
        self.n_iter_ = len(self.history_)
        self.best_loss_ = min((h["loss"] for h in self.history_), default=math.inf)
        if early:
            self.best_validation_score_ = trainer.best_validation_score
        if (
            not incremental
            and not converged
            and trainer.n_epochs >= max_epochs
            and max_epochs == self.max_iter
            and len(self.history_) > 0
        ):
            warnings.warn(
                f"VAETransformer stopped after max_iter={self.max_iter} epochs "
                "before the loss converged; consider a larger max_iter.",
                ConvergenceWarning,
                stacklevel=4,
            )
        return self

    def _validation_split(self, n, seed):
        """Row indices (train, validation) as tensors on the fitted device."""
        n_val = int(math.ceil(self.validation_fraction * n))
        if n_val < 1 or n - n_val < 1:
            raise ValueError(
                f"early_stopping=True needs at least 2 samples, got n_samples={n}; "
                "provide more data or set early_stopping=False."
            )
        perm = torch.from_numpy(np.random.RandomState(seed).permutation(n))
        return perm[n_val:].to(self.device_), perm[:n_val].to(self.device_)

    @property
    def loss_curve_(self):
        check_is_fitted(self)
        return [h["loss"] for h in self.history_]

    @property
    def validation_scores_(self):
        check_is_fitted(self)
        if not self.history_ or "validation_score" not in self.history_[-1]:
            return None
        return [h.get("validation_score") for h in self.history_]

    # ------------------------------------------------------------------
    # conversions
    # ------------------------------------------------------------------
    def _as_float32(self, X):
        """X as float32 (no copy when it already is), checked to be finite."""
        with np.errstate(over="ignore"):
            out = np.asarray(X, dtype=np.float32)
        # a float64 sum is finite iff every float32 value is (no big temporary)
        with np.errstate(invalid="ignore", over="ignore"):
            total = out.sum(dtype=np.float64)
        if not np.isfinite(total):
            raise ValueError(
                "X has values too large for float32 (|x| above about 3.4e38); "
                "rescale X."
            )
        return out

    def _to_tensor(self, X):
        """X as a float32 tensor on the fitted device, sharing memory if it can.

        Standardisation happens inside the module, batch by batch, so a
        float32 X is used in place: fitting makes no copy of the data.
        """
        X32 = self._as_float32(X)
        if not X32.flags.writeable:
            # torch warns about read-only arrays; nothing here writes to X
            with warnings.catch_warnings():
                warnings.filterwarnings("ignore", message="The given NumPy array")
                return torch.from_numpy(X32).to(self.device_)
        return torch.from_numpy(X32).to(self.device_)

    def _inference_context(self):
        ctx = contextlib.ExitStack()
        ctx.enter_context(torch_threads(self.n_threads, keep_default=True))
        ctx.enter_context(torch.inference_mode())
        return ctx

    def save(self, path):
        """Save the fitted model as a weights-only file (see :func:`skvae.save`).

        Unlike joblib/pickle, the file cannot execute code when loaded with
        :func:`skvae.load`.

        Parameters
        ----------
        path : str or os.PathLike
            Destination, conventionally ending in ``.safetensors``.

        Returns
        -------
        path : pathlib.Path
            The written file.
        """
        from ._persistence import save

        return save(self, path)

    def _chunks(self, n):
        step = self.inference_batch_size
        return (slice(i, min(i + step, n)) for i in range(0, n, step))

    def _log_det_scale(self):
        """log |d x_std / d x| summed over features (density change of units)."""
        return -float(np.log(self.scale_).sum())

    # ------------------------------------------------------------------
    # inference
    # ------------------------------------------------------------------
    def transform(self, X):
        """Posterior mean of the latent code of each row (deterministic).

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)
            Data to encode.

        Returns
        -------
        Z : ndarray of shape (n_samples, n_components)
            Posterior means, in the dtype of X (float32 or float64).
        """
        check_is_fitted(self)
        X = validate_data(self, X, dtype=[np.float64, np.float32], reset=False)
        out = np.empty((X.shape[0], self.n_components), dtype=X.dtype)
        with self._inference_context():
            self.module_.eval()
            for sl in self._chunks(X.shape[0]):
                out[sl] = self.module_.encode_mean(self._to_tensor(X[sl])).cpu()
        return out

    def inverse_transform(self, X):
        """Decoder mean E[x | z] for latent codes, in the original units.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_components)
            Latent codes, e.g. from ``transform``.

        Returns
        -------
        X_original : ndarray of shape (n_samples, n_features_in_)
            Reconstructed rows, in the dtype of the codes.
        """
        check_is_fitted(self)
        Z = check_array(X, dtype=[np.float64, np.float32], input_name="X")
        if Z.shape[1] != self.n_components:
            raise ValueError(
                f"X has {Z.shape[1]} features, but inverse_transform expects "
                f"latent codes with n_components={self.n_components} features."
            )
        out = np.empty((Z.shape[0], self.n_features_in_), dtype=Z.dtype)
        with self._inference_context():
            self.module_.eval()
            for sl in self._chunks(Z.shape[0]):
                zb = torch.from_numpy(np.asarray(Z[sl], np.float32)).to(self.device_)
                out[sl] = self.module_.reconstruct(zb).cpu()
        return out

    def _unstandardize(self, out):
        out *= self.scale_.astype(out.dtype)
        out += self.mean_.astype(out.dtype)
        return out

    def sample(self, n_samples=1, *, random_state=None, observation_noise=True):
        """Draw new rows: z from the prior N(0, I), then x from the decoder.

        Parameters
        ----------
        n_samples : int, default=1
            Number of rows to generate.
        random_state : int, RandomState instance or None, default=None
            Seeds the draws (NumPy's global RNG when None).
        observation_noise : bool, default=True
            If True, draw x from p(x | z) (Gaussian noise with the learned
            per-feature variance, or Bernoulli draws), so samples follow the
            model's full distribution. If False, return the decoder mean
            E[x | z], which is smoother (e.g. for listening to log-mel rows).

        Returns
        -------
        X : ndarray of shape (n_samples, n_features_in_)
            Generated rows in the original units.
        """
        check_is_fitted(self)
        if isinstance(n_samples, bool) or not isinstance(n_samples, Integral):
            raise TypeError(f"n_samples must be an int, got {n_samples!r}.")
        if n_samples < 1:
            raise ValueError(f"n_samples must be at least 1, got {n_samples}.")
        seed = check_random_state(random_state).randint(_MAX_SEED)
        gen = torch.Generator().manual_seed(int(seed))
        out = np.empty((n_samples, self.n_features_in_), dtype=np.float64)
        module = self.module_
        with self._inference_context():
            module.eval()
            for sl in self._chunks(n_samples):
                m = sl.stop - sl.start
                z = torch.randn(m, self.n_components, generator=gen)
                dec = module.decode(z.to(self.device_)).cpu()
                if not observation_noise:
                    x = torch.sigmoid(dec) if self.likelihood == "bernoulli" else dec
                elif self.likelihood == "bernoulli":
                    x = torch.bernoulli(torch.sigmoid(dec), generator=gen)
                else:
                    std = torch.exp(0.5 * module.observation_logvar()) * module.keep
                    std = std.cpu()
                    x = dec + std * torch.randn(dec.shape, generator=gen)
                out[sl] = x.numpy()
        return self._unstandardize(out)

    def score_samples(self, X, *, n_importance_samples=None):
        """Per-row log-likelihood bound of X under the model (higher = likelier).

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)
            Rows to score.
        n_importance_samples : int or None, default=None
            None gives the ELBO, ``E_q[log p(x|z)] - KL(q(z|x) || p(z))``, with
            the expectation estimated from 8 posterior draws. An int ``k``
            gives the importance-weighted bound of Burda et al. with ``k``
            draws, which is tighter than the ELBO and approaches log p(x) as
            ``k`` grows.

        Returns
        -------
        scores : ndarray of shape (n_samples,)
            Log-likelihood bounds in nats, for X in its original units. The
            random draws are fixed by the fitted model and shared by all rows,
            so scores are deterministic and do not depend on batch
            composition or row order.
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
        k = _N_ELBO_DRAWS if n_importance_samples is None else n_importance_samples
        gen = torch.Generator().manual_seed(self._score_seed)
        eps = torch.randn(k, self.n_components, generator=gen).to(self.device_)
        out = np.empty(X.shape[0], dtype=np.float64)
        module = self.module_
        # chunk rows so that k * rows stays within the inference batch size
        step = max(1, self.inference_batch_size // k)
        with self._inference_context():
            module.eval()
            for start in range(0, X.shape[0], step):
                sl = slice(start, start + step)
                xb = self._to_tensor(X[sl])
                draws = module.score_draws(
                    xb, eps, importance=n_importance_samples is not None
                )
                if n_importance_samples is None:
                    score = draws.mean(0)
                else:
                    score = torch.logsumexp(draws, dim=0) - math.log(k)
                out[sl] = score.cpu().numpy()
        return out + self._log_det_scale()

    def score(self, X, y=None):
        """Mean per-sample ELBO of X (higher is better).

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)
            Rows to score.
        y : Ignored
            Not used, present for API consistency.

        Returns
        -------
        score : float
            Mean of :meth:`score_samples`.
        """
        return float(np.mean(self.score_samples(X)))

    # ------------------------------------------------------------------
    # sklearn plumbing
    # ------------------------------------------------------------------
    @property
    def _n_features_out(self):
        return self.n_components

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.transformer_tags.preserves_dtype = ["float64", "float32"]
        tags.input_tags.allow_nan = False
        return tags

    def __getstate__(self):
        state = super().__getstate__()
        if state is self.__dict__:
            state = state.copy()
        state["_skvae_version"] = __version__
        state.pop("_tuner", None)  # timings of this machine only
        module = state.pop("module_", None)
        if module is not None:
            state["_module_config"] = module.config()
            state["_module_state"] = {
                k: v.detach().to("cpu", copy=True)
                for k, v in module.state_dict().items()
            }
        optimizer = state.pop("_optimizer", None)
        generators = state.pop("_generators", None)
        # Training state travels only when a continuation needs it.
        if self.warm_start or state.get("_partial", False):
            if optimizer is not None:
                state["_optimizer_state"] = _tree_to_cpu(optimizer.state_dict())
            if generators is not None:
                state["_generator_states"] = [g.get_state() for g in generators]
        return state

    def __setstate__(self, state):
        saved = state.pop("_skvae_version", None)
        if saved is not None and saved != __version__:
            warnings.warn(
                InconsistentVersionWarning(
                    type(self).__name__, original=saved, current=__version__
                ),
                stacklevel=2,
            )
        config = state.pop("_module_config", None)
        module_state = state.pop("_module_state", None)
        optimizer_state = state.pop("_optimizer_state", None)
        generator_states = state.pop("_generator_states", None)
        super().__setstate__(state)
        if config is None:
            return
        saved_device = torch.device(state.get("device_", "cpu"))
        device = saved_device
        if not _device_available(device):
            device = torch.device("cpu")
        with torch.device("meta"):
            module = VAE(**config)
        module = module.to_empty(device="cpu")
        module.load_state_dict(module_state)
        self.module_ = module.to(device)
        self.device_ = device
        self._optimizer = None
        self._generators = None
        if optimizer_state is not None:
            self._optimizer = self._make_optimizer()
            self._optimizer.load_state_dict(optimizer_state)
        # A generator state fits only a generator of the same device type (a
        # CUDA one is 16 bytes, a CPU one 5056). When the model moved, e.g.
        # trained on a GPU and loaded on a CPU-only machine, training goes on
        # with fresh generators that _fit seeds from random_state and n_iter_.
        if generator_states is not None and device.type == saved_device.type:
            gens = self._make_generators(np.zeros(3, dtype=np.int64), device)
            for g, s in zip(gens, generator_states):
                g.set_state(s)
            self._generators = gens


def _mean_std(X, chunk_rows=None):
    """Per-column mean and standard deviation in float64, in row chunks.

    Two passes over X with temporaries of ``chunk_rows`` rows (by default
    about 2 MB), instead of NumPy's full-size float64 copies, so fitting a
    large float32 array does not triple its memory.
    """
    n = X.shape[0]
    if chunk_rows is None:
        chunk_rows = max(1, 2**18 // max(1, X.shape[1]))
    total = np.zeros(X.shape[1])
    with np.errstate(over="ignore", invalid="ignore"):
        for i in range(0, n, chunk_rows):
            total += X[i : i + chunk_rows].sum(axis=0, dtype=np.float64)
        mean = total / n
        sq = np.zeros(X.shape[1])
        for i in range(0, n, chunk_rows):
            d = X[i : i + chunk_rows] - mean
            sq += np.einsum("ij,ij->j", d, d)
    return mean, np.sqrt(sq / n)


def _device_available(device):
    if device.type == "cpu":
        return True
    if device.type == "cuda":
        return (
            torch.cuda.is_available()
            and (device.index or 0) < torch.cuda.device_count()
        )
    if device.type == "mps":
        mps = getattr(torch.backends, "mps", None)
        return mps is not None and mps.is_available()
    return False


def _tree_to_cpu(obj):
    if isinstance(obj, torch.Tensor):
        return obj.detach().to("cpu", copy=True)
    if isinstance(obj, dict):
        return {k: _tree_to_cpu(v) for k, v in obj.items()}
    if isinstance(obj, list | tuple):
        return type(obj)(_tree_to_cpu(v) for v in obj)
    return obj
