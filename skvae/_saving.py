"""Weights files and pickling of the VAE estimators.

:class:`SaveableMixin` holds what :class:`~skvae._base.BaseVAE` needs to
describe itself as a :class:`~skvae._weights.WeightsFile` (``save``,
``_to_weights``), to rebuild itself from one (``_from_weights``,
``_restore_fitted``, ``_check_restored``), and to pickle with CPU tensors
(``__getstate__`` / ``__setstate__``). Subclasses extend the hooks
``_weights_extra``, ``_restore_fitted`` and ``_check_restored``.

Estimators whose fitted models can be saved register themselves with
:func:`register_saveable`; :func:`skvae.load` finds them by the class name
stored in the file and calls their ``_from_weights`` hook.
"""

import warnings
from numbers import Integral

import numpy as np
import torch
from sklearn.utils.validation import check_is_fitted

from ._device import device_available
from ._version import __version__
from ._weights import WeightsFile, build_module, write
from .exceptions import InconsistentVersionWarning

__all__ = ["SaveableMixin", "register_saveable", "saveable_classes"]

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


class SaveableMixin:
    """Weights files and pickling of :class:`~skvae._base.BaseVAE` (not public).

    Relies on the estimator's ``_module_class``, ``_set_fitted_module``,
    ``_make_optimizer``, ``_make_generators`` and ``_validate_params``, and
    on the fitted ``module_``, ``mean_`` and ``scale_``.
    """

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


def _tree_to_cpu(obj):
    if isinstance(obj, torch.Tensor):
        return obj.detach().to("cpu", copy=True)
    if isinstance(obj, dict):
        return {k: _tree_to_cpu(v) for k, v in obj.items()}
    if isinstance(obj, list | tuple):
        return type(obj)(_tree_to_cpu(v) for v in obj)
    return obj
