"""How a VAE estimator becomes bytes and back: weights files, pickle, skops.
Its pickle holds plain values only (the network as weights-format bytes), so
a GPU model loads on a CPU-only machine.
"""

import warnings
from numbers import Integral

import numpy as np
import torch
from sklearn.utils.validation import check_is_fitted

from ._atomic import write_atomic
from ._device import device_available
from ._format import Weights, decode, encode
from ._version import __version__
from .exceptions import InconsistentVersionWarning

__all__ = ["SaveableMixin", "build_module", "register_saveable", "saveable_classes"]

#: fitted attributes every weights file stores as JSON (arrays: mean_, scale_)
_JSON_ATTRS = ("n_features_in_", "n_iter_", "best_loss_", "best_validation_score_")
_JSON_ATTRS += ("history_", "_score_seed")
#: class name -> estimator class, for the estimators that weights files hold
_SAVEABLE = {}


def build_module(module_class, config, state=None, *, device="cpu"):
    """A ``module_class(**config)`` on ``device`` holding ``state`` (a state
    dict of tensors or arrays; None: uninitialised), built without random
    initialisation; ValueError if ``config`` or ``state`` does not fit or a
    weight is not finite."""
    try:
        with torch.device("meta"):
            module = module_class(**config)
    except (TypeError, ValueError, KeyError, RuntimeError) as exc:
        raise ValueError(f"the module configuration is not valid ({exc}).") from exc
    if state is None:
        return module.to_empty(device=device)
    # compared on the meta device, before any memory is allocated
    expected = {k: tuple(v.shape) for k, v in module.state_dict().items()}
    given = {k: tuple(v.shape) for k, v in state.items()}
    if given != expected:
        wrong = sorted(set(given) ^ set(expected)) or sorted(
            k for k in given if given[k] != expected[k]
        )
        raise ValueError(
            f"tensors do not match the model (first mismatch: {wrong[0]!r})."
        )
    module = module.to_empty(device="cpu")
    module.load_state_dict(_torch_tree(state))
    for name, tensor in module.state_dict().items():
        if tensor.is_floating_point() and not torch.isfinite(tensor).all():
            raise ValueError(f"tensor {name!r} holds NaN or infinite values.")
    return module.to(device)


def _tree(obj, leaf):
    """``obj`` (nested dicts, lists, tuples) with ``leaf`` applied to each leaf."""
    if isinstance(obj, dict):
        return {k: _tree(v, leaf) for k, v in obj.items()}
    if isinstance(obj, list | tuple):
        return type(obj)(_tree(v, leaf) for v in obj)
    return leaf(obj)


def _numpy_tree(obj):
    return _tree(obj, lambda v: v.cpu().numpy().copy() if torch.is_tensor(v) else v)


def _torch_tree(obj):
    return _tree(obj, lambda v: torch.tensor(v) if isinstance(v, np.ndarray) else v)


def register_saveable(cls):
    """Class decorator: weights files can hold ``cls`` (not its subclasses)."""
    _SAVEABLE[cls.__name__] = cls
    return cls


def saveable_classes():
    """The registered estimator classes, by name (a copy)."""
    return dict(_SAVEABLE)


def _check_saveable(estimator):
    """TypeError unless ``estimator``'s class is registered."""
    name = type(estimator).__name__
    if _SAVEABLE.get(name) is not type(estimator):
        raise TypeError(f"save supports {sorted(_SAVEABLE)}, got {name}.")


def _damaged(what):
    raise ValueError(f"damaged file ({what}).")


def _warn_version(name, saved):
    if saved != __version__:
        warnings.warn(
            InconsistentVersionWarning(name, original=saved, current=__version__),
            stacklevel=3,
        )


class SaveableMixin:
    """Weights files and the pickle/skops state of the VAE estimators
    (subclasses extend ``_weights_extra``, ``_restore_fitted`` and
    ``_check_restored``)."""

    def save(self, path):
        """Save the fitted model to ``path``, as :func:`skvae.save` does."""
        check_is_fitted(self)
        _check_saveable(self)
        return write_atomic(path, encode(self._to_weights()))

    def _to_weights(self):
        """The fitted model as :class:`~skvae._format.Weights`."""
        fitted = {k: getattr(self, k) for k in _JSON_ATTRS}
        if hasattr(self, "feature_names_in_"):
            fitted["feature_names_in_"] = [str(c) for c in self.feature_names_in_]
        extra_fitted, extra_arrays = self._weights_extra()
        params = self.get_params()
        params["device"] = str(params["device"])  # a str or a torch.device
        return Weights(
            estimator=type(self).__name__,
            module_config=self.module_.config(),
            module=_numpy_tree(self.module_.state_dict()),
            params=params,
            fitted={**fitted, **extra_fitted},
            arrays={"mean_": self.mean_, "scale_": self.scale_, **extra_arrays},
        )

    def _weights_extra(self):
        """Subclass hook: (JSON fitted attributes, arrays) of the subclass."""
        return {}, {}

    @classmethod
    def _from_weights(cls, content, *, device):
        """The fitted estimator ``content`` describes (ValueError if damaged)."""
        params = dict(content.params)
        for key in ("hidden_layer_sizes", "frame_shape"):
            if isinstance(params.get(key), list):
                params[key] = tuple(params[key])
        try:
            est = cls(**params)
            est._validate_params()  # e.g. inference_batch_size=-1
            est._restore_fitted(content.fitted, content.arrays)
            config, module = content.module_config, content.module
            module = build_module(cls._module_class, config, module, device=device)
            est._set_fitted_module(module, device)
            est._check_restored()
        except KeyError as exc:
            _damaged(f"{exc} is missing")
        except (TypeError, AttributeError, IndexError, OverflowError) as exc:
            _damaged(exc)
        est._partial = False
        return est

    def _check_restored(self):
        """ValueError naming the first restored attribute that does not fit."""
        n = self.module_.n_features
        for name in ("n_features_in_", "n_iter_", "_score_seed"):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, Integral):
                _damaged(f"{name} is not an integer")
        if not isinstance(self.history_, list):
            _damaged("history_ is not a list")
        if self.n_features_in_ != n:
            _damaged(f"n_features_in_={self.n_features_in_!r}, but the network has {n}")
        names = getattr(self, "feature_names_in_", None)
        if names is not None and names.shape != (n,):
            _damaged(f"feature_names_in_ does not hold {n} names")
        for name in ("mean_", "scale_"):
            value = np.asarray(getattr(self, name))
            if value.shape != (n,) or value.dtype.kind != "f":
                _damaged(f"{name} is not {n} floating-point values")
            if not np.isfinite(value).all():
                _damaged(f"{name} holds NaN or infinity")
        if not np.all(self.scale_ > 0):
            _damaged("scale_ is not positive")

    def _restore_fitted(self, fitted, arrays):
        """Set the fitted attributes that :meth:`_to_weights` stores."""
        for k in _JSON_ATTRS:
            setattr(self, k, fitted[k])
        if "feature_names_in_" in fitted:
            names = fitted["feature_names_in_"]
            self.feature_names_in_ = np.asarray(names, dtype=object)
        self.mean_, self.scale_ = arrays["mean_"], arrays["scale_"]

    def __getstate__(self):
        state = dict(super().__getstate__())
        state["_skvae_version"] = __version__
        state.pop("_tuner", None)  # timings of this machine only
        module = state.pop("module_", None)
        optimizer = state.pop("_optimizer", None)
        generators = state.pop("_generators", None)
        if module is None:
            return state
        state["device_"] = str(state["device_"])
        config, weights = module.config(), _numpy_tree(module.state_dict())
        state["_module"] = encode(Weights(type(self).__name__, config, weights))
        if self.warm_start or state.get("_partial", False):
            if optimizer is not None:
                state["_optimizer_state"] = _numpy_tree(optimizer.state_dict())
            if generators is not None:
                states = [g.get_state() for g in generators]
                state["_generator_states"] = _numpy_tree(states)
        return state

    def __setstate__(self, state):
        state = dict(state)
        _warn_version(type(self).__name__, state.pop("_skvae_version", __version__))
        data = state.pop("_module", None)
        optimizer_state = state.pop("_optimizer_state", None)
        generator_states = state.pop("_generator_states", None)
        super().__setstate__(state)
        if data is None:
            return
        saved = torch.device(state.get("device_", "cpu"))
        device = saved if device_available(saved) else torch.device("cpu")
        content = decode(data)
        config, weights = content.module_config, content.module
        module = build_module(self._module_class, config, weights, device=device)
        self._set_fitted_module(module, device)
        self._check_restored()  # an edited pickle or skops file is damaged
        if optimizer_state is not None:
            self._optimizer = self._make_optimizer()
            self._optimizer.load_state_dict(_torch_tree(optimizer_state))
        # a model moved off its GPU trains on with fresh generators (_fit)
        if generator_states is not None and device.type == saved.type:
            gens = self._make_generators(np.zeros(3, dtype=np.int64), device)
            for g, s in zip(gens, _torch_tree(generator_states)):
                g.set_state(s)
            self._generators = gens
