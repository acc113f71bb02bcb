"""Machinery shared by the estimators built on the torch VAE.

:class:`BaseVAE` holds what :class:`~skvae.VAETransformer` and
:class:`~skvae.VAEClassifier` have in common: input standardisation, module
construction, the training run as named steps (:meth:`BaseVAE._fit`), label
lookup, chunked inference and sampling, conversions to tensors, weights files
(through :mod:`skvae._weights`) and pickling with CPU tensors. Its only public
method is :meth:`BaseVAE.save`.

Estimators whose fitted models can be saved register themselves with
:func:`register_saveable`; :func:`skvae.load` finds them by the class name
stored in the file and calls their ``_from_weights`` hook.
"""

import contextlib
import math
import os
import warnings
from numbers import Integral, Real

import numpy as np
import torch
from sklearn.base import BaseEstimator
from sklearn.exceptions import ConvergenceWarning
from sklearn.utils import check_random_state
from sklearn.utils._param_validation import (
    Interval,
    StrOptions,
    validate_parameter_constraints,
)
from sklearn.utils.validation import check_is_fitted, column_or_1d

from ._training import (
    ThreadTuner,
    Trainer,
    TrainingData,
    device_available,
    resolve_device,
    torch_threads,
)
from ._vae import ACTIVATIONS, LIKELIHOODS, VAE
from ._version import __version__
from ._weights import WeightsFile, build_module, write
from .exceptions import InconsistentVersionWarning

__all__ = ["BaseVAE", "register_saveable", "saveable_classes", "store_params"]

_MAX_SEED = np.iinfo(np.int32).max
_FLOAT32_MAX = float(np.finfo(np.float32).max)

#: parameters that shape the network: changed after fit, they take effect
#: only when a new network is fitted
_ARCHITECTURE = (
    "n_components",
    "hidden_layer_sizes",
    "frame_shape",
    "activation",
    "likelihood",
)
#: parameters the inference methods read (set_params may change them after fit)
_INFERENCE_PARAMS = ("inference_batch_size", "n_threads")

#: fitted attributes every weights file stores as JSON (arrays: mean_, scale_)
_JSON_ATTRS = (
    "n_features_in_",
    "n_iter_",
    "best_loss_",
    "best_validation_score_",
    "history_",
    "_score_seed",
)

#: class name -> estimator class, for the estimators that weights files hold
_SAVEABLE = {}


def register_saveable(cls):
    """Class decorator: ``cls`` can be saved to and loaded from weights files.

    Its class name is the key stored in the file. Subclasses are not
    registered with their parent: a weights file could not rebuild them.
    """
    _SAVEABLE[cls.__name__] = cls
    return cls


def saveable_classes():
    """The registered estimator classes, by name (a copy)."""
    return dict(_SAVEABLE)


def store_params(estimator, params):
    """Store constructor arguments as attributes: the body of every ``__init__``.

    scikit-learn reads the parameters from the signature of the estimator's
    own ``__init__`` (no ``**kwargs``), so each estimator lists them all; this
    stores them unchanged, as sklearn requires, without a line per parameter.
    Call it as ``store_params(self, locals())``.
    """
    for name, value in params.items():
        if name != "self":
            setattr(estimator, name, value)


def _check_n_samples(n_samples):
    if isinstance(n_samples, bool) or not isinstance(n_samples, Integral):
        raise TypeError(f"n_samples must be an int, got {n_samples!r}.")
    if n_samples < 1:
        raise ValueError(f"n_samples must be at least 1, got {n_samples}.")


def _index_in(known, values, error):
    """Positions of ``values`` in the sorted array ``known`` (int64).

    Values not in ``known`` raise ``ValueError(error.format(unknown=...))``
    with the first five of them.
    """
    values = np.asarray(values)
    idx = np.clip(np.searchsorted(known, values), 0, len(known) - 1)
    unknown = known[idx] != values
    if np.any(unknown):
        raise ValueError(error.format(unknown=np.unique(values[unknown])[:5].tolist()))
    return idx.astype(np.int64)


def _check_no_missing(values, name):
    """Raise ValueError if the 1-D array ``values`` holds NaN or None.

    A missing group or label is not a group of its own: NaN is not even
    equal to itself, so it could never be matched again.
    """
    if values.dtype.kind == "f":
        missing = np.isnan(values)
    elif values.dtype.kind == "O":
        missing = np.fromiter(
            (
                v is None or (isinstance(v, float | np.floating) and np.isnan(v))
                for v in values
            ),
            dtype=bool,
            count=len(values),
        )
    else:
        return
    if missing.any():
        rows = np.flatnonzero(missing)
        raise ValueError(
            f"{name} contains missing values (NaN or None) in {len(rows)} row(s), "
            f"the first at row {rows[0]}; give every row a value."
        )


def _one_per_row(values, n_rows, name, rows):
    """``values`` as a 1-D array of ``n_rows`` entries; one value is repeated.

    ``rows`` completes the error message, e.g. ``"there are 3 rows"``.
    """
    values = np.asarray(values)
    if values.ndim == 0:
        values = np.full(n_rows, values[()])
    values = column_or_1d(values)
    if values.shape[0] != n_rows:
        raise ValueError(f"{name} has {values.shape[0]} entries, but {rows}.")
    return values


class BaseVAE(BaseEstimator):
    """Base class of the VAE estimators (not public).

    Subclasses set ``_module_class`` and may override ``_module_kwargs``, and
    the weights-file hooks ``_weights_extra`` / ``_restore_fitted``.
    """

    _module_class = VAE
    #: constraints of the parameters both estimators have; subclasses extend
    _parameter_constraints: dict = {
        "n_components": [Interval(Integral, 1, None, closed="left")],
        "hidden_layer_sizes": [
            "array-like",
            Interval(Integral, 1, None, closed="left"),
        ],
        "frame_shape": [tuple, list, None],
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
    #: whether n_components may not exceed n_features (an autoencoder's
    #: bottleneck); a classifier's latent space has no such limit
    _bottleneck = True

    # ------------------------------------------------------------------
    # the model
    # ------------------------------------------------------------------
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
        """Checks of the parameters against the data; the hidden layer widths."""
        n_samples, n_features = X.shape
        if self._bottleneck and self.n_components > n_features:
            raise ValueError(
                f"n_components={self.n_components} must be at most the number of "
                f"features, got n_features={n_features}."
            )
        hidden = self._hidden_sizes()
        if self.likelihood == "bernoulli" and (X.min() < 0 or X.max() > 1):
            raise ValueError(
                "likelihood='bernoulli' needs X in [0, 1]; got values in "
                f"[{X.min():.4g}, {X.max():.4g}]. Use likelihood='gaussian' for "
                "real-valued features."
            )
        return hidden

    def _hidden_sizes(self):
        """``hidden_layer_sizes`` as a tuple of positive ints (else ValueError)."""
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
        return tuple(int(h) for h in hidden)

    def _architecture_changes(self):
        """Names of the parameters that shape the network whose values differ
        from those of the fitted network.

        ``set_params`` after fit does not change the fitted network: the
        inference methods keep using it as fitted (``transform`` gives
        ``module_.n_components`` columns, as scikit-learn's estimators use
        their fitted attributes). A ``fit`` builds the new network.
        """
        fitted = self.module_.config()
        frame = self.frame_shape
        try:
            hidden = list(self._hidden_sizes())
        except ValueError:
            hidden = self.hidden_layer_sizes  # invalid: differs, fit says why
        wanted = {
            "n_components": self.n_components,
            "hidden_layer_sizes": hidden,
            "frame_shape": None if frame is None else list(frame),
            "activation": self.activation,
            "likelihood": self.likelihood,
        }
        return [name for name in _ARCHITECTURE if wanted[name] != fitted[name]]

    def _describe_changes(self, names):
        fitted = self.module_.config()
        return ", ".join(
            f"{name}={getattr(self, name)!r} (fitted: {fitted[name]!r})"
            for name in names
        )

    def _continues(self):
        """Whether ``fit`` continues from the fitted network (``warm_start``).

        A warm start needs the same network: when a parameter that shapes it
        changed since it was fitted, ``fit`` warns and starts from scratch.
        """
        if not (self.warm_start and hasattr(self, "module_")):
            return False
        changed = self._architecture_changes()
        if changed:
            warnings.warn(
                f"warm_start=True, but {self._describe_changes(changed)} changed "
                "since the network was fitted; fitting a new network from scratch.",
                UserWarning,
                stacklevel=4,
            )
            return False
        return True

    def _check_same_architecture(self):
        """partial_fit trains the fitted network: refuse changed parameters."""
        changed = self._architecture_changes()
        if changed:
            raise ValueError(
                f"partial_fit cannot change the fitted network: "
                f"{self._describe_changes(changed)}. Set them back, or call fit "
                "to train a new network."
            )

    def _module_kwargs(self, X):
        """Extra constructor arguments of the torch module (subclass hook)."""
        if self.frame_shape is None:
            return {}
        shape = tuple(self.frame_shape)
        if (
            len(shape) != 2
            or not all(isinstance(v, Integral) and v >= 1 for v in shape)
            or shape[0] * shape[1] != X.shape[1]
        ):
            raise ValueError(
                f"frame_shape={self.frame_shape!r} must be (n_frames, "
                f"n_coefficients) with n_frames * n_coefficients equal to "
                f"n_features={X.shape[1]}."
            )
        return {"frame_shape": shape}

    def _standardization(self, X):
        """(mean, scale, constant) of the columns of X, or the identity."""
        if not self._resolved_standardize():
            return np.zeros(X.shape[1]), np.ones(X.shape[1]), None
        mean, scale = _mean_std(X)
        if not (np.all(np.isfinite(mean)) and np.all(np.isfinite(scale))):
            raise ValueError(
                "X has values so large that their mean or variance overflows; "
                "rescale X before fitting."
            )
        constant = _is_constant(mean, scale, X.shape[0])
        scale[constant] = 1
        _check_float32_range(np.r_[mean, scale], "X")
        return mean, scale, constant

    def _init_model(self, X, hidden, device, seeds, reset_kwargs=None):
        """A fresh module (weights from ``seeds[0]``) and fresh training state.

        ``X``: the rows whose statistics standardise the data (clean targets
        for a denoising model); only its shape and moments are used.
        """
        mean, scale, constant = self._standardization(X)
        self.mean_ = mean
        self.scale_ = scale
        config = {
            "n_features": X.shape[1],
            "n_components": self.n_components,
            "hidden_layer_sizes": hidden,
            "activation": self.activation,
            "likelihood": self.likelihood,
            **self._module_kwargs(X),
        }
        module = build_module(self._module_class, config)
        init_gen = torch.Generator().manual_seed(int(seeds[0]))
        module.reset_parameters(init_gen, **(reset_kwargs or {}))
        module.set_standardization(mean, scale, constant)
        self._set_fitted_module(module.to(device), device)
        self._score_seed = int(seeds[3])
        self.history_ = []
        self.n_iter_ = 0
        self.best_loss_ = math.inf
        self.best_validation_score_ = None

    def _set_fitted_module(self, module, device):
        """Install a module; training state (optimizer, RNG streams) restarts."""
        self.module_ = module
        self.device_ = device
        self._optimizer = None
        self._generators = None

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

    # ------------------------------------------------------------------
    # training
    # ------------------------------------------------------------------
    def _fit(
        self,
        X,
        *,
        continuing,
        max_epochs,
        incremental=False,
        target=None,
        cond=None,
        corruption_std=0.0,
        before_training=None,
        reset_kwargs=None,
    ):
        """Train on X; ``target`` (clean rows) and ``cond`` are row-aligned arrays.

        ``continuing`` keeps the fitted model and its training state;
        ``incremental`` (``partial_fit``) runs without a validation split or
        convergence check. Standardisation statistics come from ``target``
        when it is given. ``before_training(module)`` runs once the module
        exists (to set training-only settings on it); ``reset_kwargs`` go to
        the module's ``reset_parameters`` when a fresh model is initialised.
        """
        hidden = self._check_fit_data(X)
        seeds = check_random_state(self.random_state).randint(_MAX_SEED, size=5)
        if not continuing:
            device = resolve_device(self.device)
            self._init_model(
                X if target is None else target, hidden, device, seeds, reset_kwargs
            )
            self._partial = incremental
        if before_training is not None:
            before_training(self.module_)
        early = self.early_stopping and not incremental
        with torch_threads(self.n_threads):
            # float64 rows are standardised in float64 before the cast to the
            # network's float32 (rows around 1e8 keep their spread)
            standardized = X.dtype == np.float64
            data = self._training_data(
                X,
                target,
                cond,
                corruption_std,
                seeds[4] if early else None,
                standardized,
            )
            module = self._network(standardized)
            trainer = self._make_trainer(seeds, data, incremental, module)
            if not early:
                trainer.best_loss = self.best_loss_
            converged = trainer.run(
                data,
                max_epochs=max_epochs,
                early_stopping=early,
                check_convergence=not incremental,
            )
        self._record_training(trainer, early)
        if not incremental:
            self._warn_if_not_converged(converged, trainer.n_epochs, max_epochs)
        return self

    def _training_data(
        self, X, target, cond, corruption_std, validation_seed, standardized
    ):
        """The tensors of a training run; a validation split when a seed is given.

        ``standardized``: the rows go in standardised here (in float64), for
        the module's :meth:`~skvae._vae.VAE.standardized` view.
        """
        train_idx = val_idx = val_eps = None
        if validation_seed is not None:
            train_idx, val_idx = self._validation_split(X.shape[0], validation_seed)
            vgen = torch.Generator().manual_seed(int(validation_seed))
            val_eps = torch.randn(
                val_idx.shape[0], self.module_.n_components, generator=vgen
            ).to(self.device_)
        return TrainingData(
            X=self._rows_tensor(X, standardized),
            target=None if target is None else self._rows_tensor(target, standardized),
            cond=None if cond is None else torch.from_numpy(cond).to(self.device_),
            train_indices=train_idx,
            val_indices=val_idx,
            val_eps=val_eps,
            corruption_std=corruption_std,
        )

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

    def _make_trainer(self, seeds, data, incremental, module):
        """A Trainer on ``module`` (the fitted module or its standardised
        view), with this fit's optimizer and streams."""
        if self._generators is None:
            # offset by the epochs already run, so a restarted stream
            # (e.g. after unpickling without training state) differs
            self._generators = self._make_generators(seeds + self.n_iter_, self.device_)
        return Trainer(
            tuner=self._thread_tuner(incremental),
            module=module,
            optimizer=self._optimizer_for_fit(),
            batch_size=min(self.batch_size, data.n_train),
            beta=self.beta,
            kl_warmup=self.kl_warmup,
            tol=self.tol,
            n_iter_no_change=self.n_iter_no_change,
            verbose=self.verbose,
            shuffle_gen=self._generators[0],
            noise_gen=self._generators[1],
            history=self.history_,
        )

    def _optimizer_for_fit(self):
        """The optimizer, kept across warm starts and partial_fit calls; its
        learning rate and weight decay follow the current parameters."""
        if self._optimizer is None:
            self._optimizer = self._make_optimizer()
        else:
            for group in self._optimizer.param_groups:
                group["lr"] = self.learning_rate_init
                group["weight_decay"] = self.alpha
        return self._optimizer

    def _thread_tuner(self, incremental):
        """A ThreadTuner for CPU training with ``n_threads=None``, else None.

        Must run inside ``torch_threads``: the most threads it tries is the
        count set there. partial_fit keeps its tuner from call to call: a
        fresh one would re-probe every thread count on every batch, which
        costs most of a short call on a busy machine.
        """
        if self.n_threads is not None or self.device_.type != "cpu":
            return None
        max_threads = torch.get_num_threads()
        if max_threads <= 1:
            return None
        tuner = getattr(self, "_tuner", None) if incremental else None
        if tuner is None or max(tuner.options) != max_threads:
            tuner = ThreadTuner(max_threads)
        torch.set_num_threads(tuner.threads)
        self._tuner = tuner if incremental else None
        return tuner

    def _record_training(self, trainer, early):
        """Fitted attributes that summarise the training so far."""
        self.n_iter_ = len(self.history_)
        self.best_loss_ = min((h["loss"] for h in self.history_), default=math.inf)
        if early:
            self.best_validation_score_ = trainer.best_validation_score

    def _warn_if_not_converged(self, converged, n_epochs, max_epochs):
        if (
            not converged
            and n_epochs >= max_epochs
            and max_epochs == self.max_iter
            and len(self.history_) > 0
        ):
            warnings.warn(
                f"{type(self).__name__} stopped after max_iter={self.max_iter} epochs "
                "before the loss converged; consider a larger max_iter.",
                ConvergenceWarning,
                stacklevel=5,
            )

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
    # labels and generation
    # ------------------------------------------------------------------
    def _one_hot(self, idx, n_codes):
        """One-hot float32 codes of the indices ``idx``, on the fitted device."""
        return torch.nn.functional.one_hot(
            torch.from_numpy(np.asarray(idx, dtype=np.int64)), n_codes
        ).to(device=self.device_, dtype=torch.float32)

    def _generate(
        self, n_samples, rng, *, codes=None, n_codes=0, observation_noise=True, **prior
    ):
        """Rows decoded from prior draws, in chunks, in the original units.

        ``codes`` (indices, one per row) condition the decoder and the prior
        through one-hot codes of width ``n_codes``; ``prior`` goes to the
        module's ``draw_latent`` (e.g. ``temperature``). All draws come from
        one torch generator seeded from ``rng``.
        """
        gen = torch.Generator().manual_seed(int(rng.randint(_MAX_SEED)))
        out = np.empty((n_samples, self.n_features_in_), dtype=np.float64)
        module = self.module_
        with self._inference_context():
            module.eval()
            for sl in self._chunks(n_samples):
                eps = torch.randn(
                    sl.stop - sl.start, module.n_components, generator=gen
                )
                c = None if codes is None else self._one_hot(codes[sl], n_codes)
                z = module.draw_latent(eps.to(self.device_), c, **prior)
                dec = module.decode(z, c).cpu()
                if observation_noise:
                    dec = module.sample_observation(dec, gen)
                else:
                    dec = module.output_mean(dec)
                out[sl] = dec.numpy()
        out = self._unstandardize(out)
        _check_decoded(out, "sample")
        return out

    def _check_output_size(self, n_samples, method):
        """Refuse, before any allocation, an output larger than the memory
        available: ``n_samples`` rows of float64 features plus their codes."""
        needed = n_samples * 8 * (self.n_features_in_ + 2)
        available = _available_memory()
        if available is not None and needed > available:
            raise MemoryError(
                f"{method}(n_samples={n_samples}) would need about "
                f"{needed / 2**30:.1f} GiB ({n_samples} rows of "
                f"{self.n_features_in_} float64 features), more than the "
                f"{available / 2**30:.1f} GiB of memory available; draw the rows "
                "in smaller batches."
            )

    # ------------------------------------------------------------------
    # conversions
    # ------------------------------------------------------------------
    def _as_float32(self, X):
        """X as float32 (no copy when it already is), checked to be finite."""
        with np.errstate(over="ignore"):
            out = np.asarray(X, dtype=np.float32)
        _check_float32_range(out, "X")
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

    def _rows_tensor(self, X, standardized):
        """Rows of X for the network: :meth:`_to_tensor` of X, or of
        ``(X - mean_) / scale_`` computed in float64 when ``standardized``.

        Standardising before the cast to float32 keeps the spread of data far
        from zero: float32 has no values between 1e8 and 1e8 + 8, so rows
        around 1e8 cast first would all become the same. Works in chunks of
        about 2 MB of float64 temporaries; the result is one float32 copy.
        """
        if not standardized:
            return self._to_tensor(X)
        out = np.empty(X.shape, dtype=np.float32)
        step = max(1, 2**18 // max(1, X.shape[1]))
        with np.errstate(over="ignore", invalid="ignore"):
            for i in range(0, X.shape[0], step):
                out[i : i + step] = (X[i : i + step] - self.mean_) / self.scale_
        _check_float32_range(out, "X, once standardised,")
        return torch.from_numpy(out).to(self.device_)

    def _network(self, standardized):
        """The fitted module, or its view for rows standardised outside it
        (see :meth:`_rows_tensor`)."""
        return self.module_.standardized() if standardized else self.module_

    def _inference_context(self):
        """Threads and inference mode of the inference methods, after checking
        the parameters they read (``set_params`` after fit, or a loaded
        model, may have set them to anything)."""
        validate_parameter_constraints(
            {k: self._parameter_constraints[k] for k in _INFERENCE_PARAMS},
            {k: getattr(self, k) for k in _INFERENCE_PARAMS},
            caller_name=type(self).__name__,
        )
        ctx = contextlib.ExitStack()
        ctx.enter_context(torch_threads(self.n_threads, keep_default=True))
        ctx.enter_context(torch.inference_mode())
        return ctx

    def _chunks(self, n, step=None):
        """Slices of ``step`` rows (``inference_batch_size`` by default)
        covering ``range(n)``."""
        step = self.inference_batch_size if step is None else step
        return (slice(i, min(i + step, n)) for i in range(0, n, step))

    def _log_det_scale(self):
        """log |d x_std / d x| summed over features (density change of units)."""
        return -float(np.log(self.scale_).sum())

    def _unstandardize(self, out):
        out *= self.scale_.astype(out.dtype)
        out += self.mean_.astype(out.dtype)
        return out

    # ------------------------------------------------------------------
    # weights files
    # ------------------------------------------------------------------
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
        check_is_fitted(self)
        name = type(self).__name__
        if _SAVEABLE.get(name) is not type(self):
            raise TypeError(f"save supports {sorted(_SAVEABLE)}, got {name}.")
        return write(path, self._to_weights())

    def _to_weights(self):
        """The fitted model as a :class:`~skvae._weights.WeightsFile`."""
        fitted = {k: getattr(self, k) for k in _JSON_ATTRS}
        if hasattr(self, "feature_names_in_"):
            fitted["feature_names_in_"] = [str(c) for c in self.feature_names_in_]
        arrays = {"mean_": self.mean_, "scale_": self.scale_}
        extra_fitted, extra_arrays = self._weights_extra()
        fitted.update(extra_fitted)
        arrays.update(extra_arrays)
        return WeightsFile(
            estimator=type(self).__name__,
            params=self.get_params(),
            fitted=fitted,
            arrays=arrays,
            module_config=self.module_.config(),
            module_state=self.module_.state_dict(),
        )

    def _weights_extra(self):
        """Subclass hook: (JSON fitted attributes, arrays) of the subclass."""
        return {}, {}

    @classmethod
    def _from_weights(cls, content, *, device):
        """The fitted estimator a :class:`~skvae._weights.WeightsFile` describes.

        Raises ``ValueError`` when the content is incomplete or its tensors
        do not fit the model.
        """
        params = dict(content.params)
        for key in ("hidden_layer_sizes", "frame_shape"):
            if isinstance(params.get(key), list):
                params[key] = tuple(params[key])
        try:
            est = cls(**params)
            # e.g. inference_batch_size=-1 would give garbage later
            est._validate_params()
            est._restore_fitted(content.fitted, content.arrays)
            module = build_module(
                cls._module_class,
                content.module_config,
                content.module_state,
                device=device,
            )
            est._set_fitted_module(module, device)
            est._check_restored()
        except KeyError as exc:
            raise ValueError(f"damaged file ({exc} is missing).") from exc
        except (TypeError, AttributeError, IndexError, OverflowError) as exc:
            # values of the wrong type where the file's JSON was edited
            raise ValueError(f"damaged file ({exc}).") from exc
        est._partial = False
        return est

    def _check_restored(self):
        """Check that the fitted attributes read from a file fit together and
        fit the network (subclasses extend it); ValueError names the first
        that does not."""
        n = self.module_.n_features
        for name in ("n_features_in_", "n_iter_", "_score_seed"):
            if isinstance(getattr(self, name), bool) or not isinstance(
                getattr(self, name), Integral
            ):
                raise ValueError(f"damaged file ({name} is not an integer).")
        if not isinstance(self.history_, list):
            raise ValueError("damaged file (history_ is not a list).")
        if self.n_features_in_ != n:
            raise ValueError(
                f"damaged file (n_features_in_={self.n_features_in_!r}, but the "
                f"network has {n} input features)."
            )
        names = getattr(self, "feature_names_in_", None)
        if names is not None and names.shape != (n,):
            raise ValueError(
                f"damaged file (feature_names_in_ does not hold {n} names)."
            )
        for name in ("mean_", "scale_"):
            value = np.asarray(getattr(self, name))
            if value.shape != (n,) or value.dtype.kind != "f":
                raise ValueError(
                    f"damaged file ({name} is not {n} floating-point values)."
                )
            if not np.isfinite(value).all():
                raise ValueError(f"damaged file ({name} holds NaN or infinity).")
        if not np.all(self.scale_ > 0):
            raise ValueError("damaged file (scale_ is not positive).")

    def _restore_fitted(self, fitted, arrays):
        """Set the fitted attributes stored by :meth:`_to_weights` (subclasses
        extend it for those of ``_weights_extra``)."""
        for k in _JSON_ATTRS:
            setattr(self, k, fitted[k])
        if "feature_names_in_" in fitted:
            self.feature_names_in_ = np.asarray(
                fitted["feature_names_in_"], dtype=object
            )
        self.mean_ = arrays["mean_"]
        self.scale_ = arrays["scale_"]

    # ------------------------------------------------------------------
    # pickling
    # ------------------------------------------------------------------
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
        device = saved_device if device_available(saved_device) else torch.device("cpu")
        module = build_module(self._module_class, config, module_state, device=device)
        self._set_fitted_module(module, device)
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


def _available_memory():
    """Bytes of memory this process can still allocate, or None if unknown.

    Linux: the kernel's estimate (``MemAvailable``), capped by the cgroup's
    limit (containers); elsewhere the physical memory.
    """
    available = None
    try:
        with open("/proc/meminfo") as fh:
            for line in fh:
                if line.startswith("MemAvailable:"):
                    available = int(line.split()[1]) * 1024
                    break
    except (OSError, ValueError, IndexError):
        pass
    try:
        with open("/sys/fs/cgroup/memory.max") as fh:
            limit = fh.read().strip()
        with open("/sys/fs/cgroup/memory.current") as fh:
            used = int(fh.read().strip())
        if limit != "max":
            left = max(0, int(limit) - used)
            available = left if available is None else min(available, left)
    except (OSError, ValueError):
        pass
    if available is None:
        try:
            available = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES")
        except (AttributeError, ValueError, OSError):  # pragma: no cover
            return None
    return available


def _check_decoded(out, method):
    """Raise ValueError if decoding gave non-finite rows (float32 overflow).

    Checked in chunks of rows, so without a temporary as large as ``out``.
    """
    step = max(1, 2**18 // max(1, out.shape[1]))
    if not all(np.isfinite(out[i : i + step]).all() for i in range(0, len(out), step)):
        raise ValueError(
            f"{method} gave non-finite values: the decoder overflowed float32 "
            "for latent codes this far from the prior. Use codes of the size "
            "transform gives (or a smaller temperature)."
        )


def _check_float32_range(values, name, advice="rescale X"):
    """Raise ValueError unless every value (float32 or float64) is finite in
    float32, i.e. below about 3.4e38 in magnitude."""
    # a float64 sum is finite iff every value is (no big temporary)
    with np.errstate(invalid="ignore", over="ignore"):
        total = np.sum(values, dtype=np.float64)
        fits = np.isfinite(total) and (
            values.dtype == np.float32 or np.all(np.abs(values) <= _FLOAT32_MAX)
        )
    if not fits:
        raise ValueError(
            f"{name} has values too large for float32 (|x| above about 3.4e38); "
            f"{advice}."
        )


def _is_constant(mean, scale, n_samples):
    """Columns whose spread is within the rounding error of their mean.

    Relative, like :class:`~skvae.features.GroupStandardScaler`: a standard
    deviation of at most ``n_samples * eps * |mean|`` (float64 eps, the
    accumulated error of the two-pass moments) is what summing equal values
    can produce, while data of any scale (1e-16 as well as 1e16) is varied.
    """
    return scale <= n_samples * np.finfo(np.float64).eps * np.abs(mean)


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


def _tree_to_cpu(obj):
    if isinstance(obj, torch.Tensor):
        return obj.detach().to("cpu", copy=True)
    if isinstance(obj, dict):
        return {k: _tree_to_cpu(v) for k, v in obj.items()}
    if isinstance(obj, list | tuple):
        return type(obj)(_tree_to_cpu(v) for v in obj)
    return obj
