"""BaseVAE: what the VAE estimators share: standardisation, module construction,
the training run, chunked inference and sampling, tensor conversions."""

import contextlib
import math
import sys
import warnings
from numbers import Integral

import numpy as np
import torch
from sklearn.base import BaseEstimator
from sklearn.exceptions import ConvergenceWarning
from sklearn.utils import check_random_state
from sklearn.utils._param_validation import (
    Interval,
    validate_parameter_constraints,
)
from sklearn.utils.validation import check_array, check_is_fitted

from ._device import resolve_device
from ._params import SHARED_PARAMETERS
from ._serialize import SaveableMixin, build_module
from ._threads import ThreadTuner, torch_threads, training_threads
from ._training import Trainer, TrainingData
from ._vae import VAE
from ._validation import (
    _available_memory,
    _check_decoded,
    _check_float32_range,
    _index_in,
    _is_constant,
    _mean_std,
)

__all__ = ["BaseVAE"]

_MAX_SEED = np.iinfo(np.int32).max

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


def _outside_stacklevel():
    """``stacklevel`` for a warning of the caller that points at the first
    frame outside skvae and scikit-learn (the user's ``fit``)."""
    frame, level = sys._getframe(1), 1
    while frame.f_back and frame.f_globals.get("__name__", "").startswith(
        ("skvae.", "sklearn.")
    ):
        frame, level = frame.f_back, level + 1
    return level


class BaseVAE(SaveableMixin, BaseEstimator):
    """Base class of the VAE estimators: subclasses set ``_module_class`` and
    may override ``_module_kwargs`` and the saving hooks."""

    _module_class = VAE
    #: constraints of the parameters every estimator has; subclasses extend
    _parameter_constraints: dict = {
        "n_components": [Interval(Integral, 1, None, closed="left")],
        **{name: spec[1] for name, spec in SHARED_PARAMETERS.items()},
    }
    #: whether n_components may not exceed n_features (an autoencoder's
    #: bottleneck); a classifier's latent space has no such limit
    _bottleneck = True

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
        """Parameters that shape the network and differ from the fitted one's
        (``set_params`` after fit takes effect at the next ``fit``)."""
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
        """Whether ``fit`` continues the fitted network (``warm_start`` and no
        change of architecture; else it warns and starts afresh)."""
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
        """A fresh module (weights from ``seeds[0]``), standardised by the
        statistics of ``X``, and fresh training state."""
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
        """Train on X (``target``, ``cond``: row-aligned); ``continuing`` keeps
        the fitted model and training state, ``incremental`` (``partial_fit``)
        skips validation and convergence checks."""
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
        with torch_threads(self._fit_threads(X)):
            # float64 rows standardised in float64, then cast (keeps their spread)
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
        """The tensors of a training run; a validation split when a seed is
        given. ``standardized``: rows standardised here, in float64."""
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
            # offset by the epochs run: a restarted stream (unpickled) differs
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

    def _fit_threads(self, X):
        """The ``n_threads`` of a fit: with None, :func:`training_threads` of
        a step's work (batch rows x network weights)."""
        if self.n_threads is not None:
            return self.n_threads
        n_weights = sum(p.numel() for p in self.module_.parameters())
        return training_threads(min(self.batch_size, X.shape[0]) * n_weights)

    def _thread_tuner(self, incremental):
        """A ThreadTuner for CPU training with ``n_threads="tune"``, else None;
        kept across partial_fit calls (re-probing each batch costs too much).
        Runs inside ``torch_threads``, whose count is the most it tries."""
        if self.n_threads != "tune" or self.device_.type != "cpu":
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
            score = "validation score" if self.early_stopping else "training loss"
            last = min(self.n_iter_no_change, n_epochs)
            warnings.warn(
                f"{type(self).__name__} used its epoch budget (max_iter="
                f"{self.max_iter}) while the {score} still improved by more than "
                f"tol={self.tol} per sample in the last {last} epochs. A VAE's "
                "ELBO often keeps rising long after its codes are useful; to "
                "train on, raise max_iter or set early_stopping=True.",
                ConvergenceWarning,
                stacklevel=_outside_stacklevel(),
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

    def _group_index(self, groups):
        """Position of each group in ``groups_``; unknown groups raise."""
        return _index_in(
            self.groups_,
            groups,
            "groups contains values not seen in fit: {unknown}; known groups are "
            f"{self.groups_[:10].tolist()}.",
        )

    def _one_hot(self, idx, n_codes):
        """One-hot float32 codes of the indices ``idx``, on the fitted device."""
        return torch.nn.functional.one_hot(
            torch.from_numpy(np.asarray(idx, dtype=np.int64)), n_codes
        ).to(device=self.device_, dtype=torch.float32)

    def _generate(
        self, n_samples, rng, *, codes=None, n_codes=0, observation_noise=True, **prior
    ):
        """Rows decoded from prior draws, in the original units; ``codes``
        (one index per row) condition them, ``prior`` goes to ``draw_latent``."""
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
        """Refuse, before allocating it, an output larger than the memory left."""
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

    def _map_rows(self, X, fn, width, dtype=None):
        """``fn(module, rows, slice)`` over chunks of the rows of X (float64
        X standardised in float64 first), gathered in an (n, width) array."""
        out = np.empty((X.shape[0], width), dtype=X.dtype if dtype is None else dtype)
        standardized = X.dtype == np.float64
        module = self._network(standardized)
        with self._inference_context():
            module.eval()
            for sl in self._chunks(X.shape[0]):
                out[sl] = fn(module, self._rows_tensor(X[sl], standardized), sl).cpu()
        return out

    def _check_codes(self, X, width):
        """Latent codes for ``inverse_transform``: as many finite columns as
        the fitted module's attribute ``width`` says."""
        check_is_fitted(self)
        width = getattr(self.module_, width)
        Z = check_array(X, dtype=[np.float64, np.float32], input_name="X")
        if Z.shape[1] != width:
            raise ValueError(
                f"X has {Z.shape[1]} features, but inverse_transform expects "
                f"latent codes with n_components={width} features."
            )
        _check_float32_range(Z, "X (latent codes)", "use codes of transform")
        return Z

    def _as_float32(self, X):
        """X as float32 (no copy when it already is), checked to be finite."""
        with np.errstate(over="ignore"):
            out = np.asarray(X, dtype=np.float32)
        _check_float32_range(out, "X")
        return out

    def _to_tensor(self, X):
        """X as a float32 tensor on the fitted device (no copy of float32 X:
        the module standardises batch by batch)."""
        X32 = self._as_float32(X)
        if not X32.flags.writeable:
            # torch warns about read-only arrays; nothing here writes to X
            with warnings.catch_warnings():
                warnings.filterwarnings("ignore", message="The given NumPy array")
                return torch.from_numpy(X32).to(self.device_)
        return torch.from_numpy(X32).to(self.device_)

    def _rows_tensor(self, X, standardized):
        """Rows of X for the network: :meth:`_to_tensor` of X, or, when
        ``standardized``, of ``(X - mean_) / scale_`` computed in float64 (in
        2 MB chunks), which keeps the spread of data far from zero."""
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
        """Threads and inference mode of the inference methods, after
        checking the parameters they read (set_params may have changed them)."""
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
