"""The encoder of a fitted VAETransformer, run by NumPy: prediction without
importing torch (which takes seconds)."""

import math
from pathlib import Path

import numpy as np
from sklearn.base import BaseEstimator, TransformerMixin
from sklearn.utils._param_validation import HasMethods
from sklearn.utils.validation import check_is_fitted, validate_data

from ._format import decode

__all__ = ["NumpyEncoder", "NumpySequenceEncoder"]


def _gelu(x):
    from scipy.special import erf

    return 0.5 * x * (1.0 + erf(x / math.sqrt(2.0))).astype(x.dtype)


#: the activations of ``skvae._vae.ACTIVATIONS``, in the dtype of their input
_ACTIVATIONS = {
    "relu": lambda x: np.maximum(x, x.dtype.type(0)),
    "tanh": np.tanh,
    "logistic": lambda x: 1.0 / (1.0 + np.exp(-x)),
    "elu": lambda x: np.where(x > 0, x, np.expm1(np.minimum(x, 0))),
    "gelu": _gelu,
    "silu": lambda x: x / (1.0 + np.exp(-x)),
}


def _dense_layers(module, prefix):
    """(weight, bias) of each Linear layer of an ``nn.Sequential``, in order."""
    idx = {k.split(".")[1] for k in module if k.startswith(f"{prefix}.")}
    return [
        (module[f"{prefix}.{i}.weight"], module[f"{prefix}.{i}.bias"])
        for i in sorted(idx, key=int)
    ]


class NumpyEncoder(TransformerMixin, BaseEstimator):
    """The encoder of a fitted :class:`~skvae.VAETransformer`, without torch.

    ``transform`` gives the VAE's ``transform`` to float32 rounding. ``fit``
    reads the weights and refuses an encoder that is convolutional or
    conditioned on groups.

    Parameters
    ----------
    weights : bytes or str or os.PathLike
        The VAE's weights-only file (:func:`skvae.save`), or its content.

    Attributes
    ----------
    n_features_in_, feature_names_in_, n_components_, estimator_name_
        As the VAE's.

    Examples
    --------
    >>> import numpy as np, tempfile, os
    >>> from skvae import VAETransformer, save
    >>> from skvae._numpy_encoder import NumpyEncoder
    >>> X = np.random.RandomState(0).normal(size=(60, 5)).astype(np.float32)
    >>> vae = VAETransformer(n_components=2, hidden_layer_sizes=(8,),
    ...                      max_iter=3, random_state=0).fit(X)
    >>> path = save(vae, os.path.join(tempfile.mkdtemp(), "vae.safetensors"))
    >>> enc = NumpyEncoder(path).fit()
    >>> bool(np.allclose(enc.transform(X), vae.transform(X), atol=1e-5))
    True
    """

    _parameter_constraints = {"weights": [bytes, str, HasMethods("__fspath__")]}

    def __init__(self, weights):
        self.weights = weights

    def fit(self, X=None, y=None):
        """Read the weights (``X`` and ``y`` are ignored); return ``self``."""
        self._validate_params()
        if isinstance(self.weights, bytes):
            data, name = self.weights, "the weights"
        else:
            data, name = Path(self.weights).read_bytes(), f"'{self.weights}'"
        try:
            content = decode(data)
        except ValueError as exc:
            raise ValueError(f"{name}: {exc}") from exc
        estimator, config = content.estimator, content.module_config
        if estimator != "VAETransformer" or any(
            config.get(key) for key in ("frame_shape", "condition_encoder")
        ):
            raise ValueError(
                f"{name} hold a {estimator} whose encoder needs torch (only a "
                "VAETransformer's dense encoder, not convolutional nor conditioned "
                "on groups, runs without); use the estimator itself (skvae.load)"
            )
        activation = config.get("activation")
        if activation not in _ACTIVATIONS:
            raise ValueError(f"{name}: unknown activation {activation!r}")
        module = content.module
        try:
            layers = _dense_layers(module, "encoder")
            head = (module["mean_head.weight"], module["mean_head.bias"])
            loc, scale = module["loc"], module["scale"]
            mean, std = content.arrays["mean_"], content.arrays["scale_"]
            n_features = int(config["n_features"])
        except KeyError as exc:
            raise ValueError(f"{name}: damaged file ({exc} is missing)") from exc
        except (TypeError, ValueError) as exc:
            raise ValueError(f"{name}: damaged file ({exc})") from exc
        widths = [n_features] + [w.shape[0] for w, _ in layers]
        shapes_ok = all(
            w.shape == (widths[i + 1], widths[i]) and b.shape == (widths[i + 1],)
            for i, (w, b) in enumerate(layers)
        ) and head[0].shape[1:] == (widths[-1],)
        if not shapes_ok or loc.shape != (n_features,) or mean.shape != (n_features,):
            raise ValueError(f"{name}: damaged file (tensor shapes do not fit)")
        self._layers = [
            (w.T.astype(np.float64), b.astype(np.float64)) for w, b in layers
        ]
        self._head = (head[0].T.astype(np.float64), head[1].astype(np.float64))
        self._loc, self._scale, self._mean, self._std = loc, scale, mean, std
        self._activation = activation
        self.n_features_in_ = n_features
        names = content.fitted.get("feature_names_in_")
        if names is not None:
            self.feature_names_in_ = np.asarray(names, dtype=object)
        self.n_components_ = int(head[0].shape[0])
        self.estimator_name_ = estimator
        return self

    def transform(self, X):
        """Posterior means of the codes of ``X``, in its dtype."""
        check_is_fitted(self)
        X = validate_data(self, X, dtype=[np.float64, np.float32], reset=False)
        if X.dtype == np.float64:
            # as VAETransformer: standardised in float64, then cast
            with np.errstate(over="ignore", invalid="ignore"):
                h = ((X - self._mean) / self._std).astype(np.float32)
                # X is finite: a sum that is not means a value beyond float32
                fits = np.isfinite(h.sum(dtype=np.float64))
            if not fits:  # as VAETransformer (skvae._validation), not NaN codes
                raise ValueError(
                    "X, once standardised, has values too large for float32 "
                    "(|x| above about 3.4e38); rescale X."
                )
        else:
            h = (X - self._loc) / self._scale
        # float64 layers, one rounding to float32 at the end (as the VAE's)
        h = h.astype(np.float64)
        act = _ACTIVATIONS[self._activation]
        for w, b in self._layers:
            h = act(h @ w + b)
        z = h @ self._head[0] + self._head[1]
        return z.astype(np.float32).astype(X.dtype, copy=False)

    def get_feature_names_out(self, input_features=None):
        """Names of the latent dimensions, as the VAE's."""
        check_is_fitted(self)
        n, prefix = self.n_components_, self.estimator_name_.lower()
        return np.asarray([f"{prefix}{i}" for i in range(n)], dtype=object)


def _conv1d(x, weight, bias, stride=2, padding=2):
    """``torch.nn.functional.conv1d`` of x (n, c_in, t) by im2col."""
    c_out, c_in, k = weight.shape
    xp = np.pad(x, ((0, 0), (0, 0), (padding, padding)))
    t_out = (xp.shape[2] - k) // stride + 1
    idx = np.arange(t_out)[:, None] * stride + np.arange(k)
    cols = xp[:, :, idx].transpose(0, 2, 1, 3).reshape(len(x), t_out, c_in * k)
    return (cols @ weight.reshape(c_out, -1).T + bias).transpose(0, 2, 1)


class NumpySequenceEncoder(NumpyEncoder):
    """The encoder of a fitted :class:`~skvae.SequenceVAE`, without torch.

    ``transform`` takes a list of (n_frames_i, n_features) arrays and gives
    the SequenceVAE's ``transform`` (sequence latents inferred per sequence,
    content codes pooled) to float32 rounding.

    Parameters
    ----------
    weights : bytes or str or os.PathLike
        The SequenceVAE's weights-only file (:func:`skvae.save`), or its content.
    """

    def fit(self, X=None, y=None):
        """Read the weights (``X`` and ``y`` are ignored); return ``self``."""
        self._validate_params()
        data = self.weights
        if not isinstance(data, bytes):
            data = Path(data).read_bytes()
        content = decode(data)
        config, params, m = content.module_config, content.params, content.module
        if content.estimator != "SequenceVAE":
            raise ValueError(
                f"the weights hold a {content.estimator}, not a SequenceVAE"
            )
        if config.get("activation") not in _ACTIVATIONS:
            raise ValueError(f"unknown activation {config.get('activation')!r}")
        try:
            self._conv = [(m[f"conv.{i}.weight"], m[f"conv.{i}.bias"]) for i in (0, 2)]
            self._layers = _dense_layers(m, "encoder")
            self._head = (m["mean_head.weight"], m["mean_head.bias"])
            self._group = _dense_layers(m, "group_encoder")
            self._group_head = (m["group_mean_head.weight"], m["group_mean_head.bias"])
            self._loc, self._scale = m["loc"], m["scale"]
            self._shrinkage = float(config["group_latent_std"]) ** 2
            self._frame_shape = tuple(int(v) for v in config["frame_shape"])
            self._params = {
                k: params[k]
                for k in ("segment_length", "segment_shift", "pooling", "n_positions")
            }
        except (KeyError, TypeError) as exc:
            raise ValueError(f"damaged weights ({exc} is missing)") from exc
        self._activation = config["activation"]
        self.n_features_in_ = self._frame_shape[1]
        self.n_components_ = int(self._head[0].shape[0])
        self.estimator_name_ = "SequenceVAE"
        return self

    def _mlp(self, h, layers):
        act = _ACTIVATIONS[self._activation]
        for w, b in layers:
            h = act(h @ w.T.astype(np.float64) + b)
        return h

    def transform(self, X):
        """Pooled content codes of the sequences X, float32."""
        from ._segments import _check_sequences, cut_segments, pool_segments

        check_is_fitted(self)
        p = self._params
        seqs = _check_sequences(X, self.n_features_in_)
        S, seq, _, counts = cut_segments(seqs, p["segment_length"], p["segment_shift"])
        xs = ((S - self._loc) / self._scale).astype(np.float64)
        w, b = self._group_head
        m2 = self._mlp(xs, self._group) @ w.T + b
        sums = np.zeros((len(counts), m2.shape[1]))
        np.add.at(sums, seq, m2)
        z2 = (sums / (counts + self._shrinkage)[:, None])[seq]
        act = _ACTIVATIONS[self._activation]
        n_frames, n_coef = self._frame_shape
        h = xs.reshape(-1, n_frames, n_coef).transpose(0, 2, 1)
        for weight, bias in self._conv:
            h = act(_conv1d(h, weight.astype(np.float64), bias))
        h = self._mlp(np.c_[h.reshape(len(h), -1), z2], self._layers)
        Z = h @ self._head[0].T + self._head[1]
        return pool_segments(Z, counts, p["pooling"], p["n_positions"])

    def get_feature_names_out(self, input_features=None):
        """Names of the pooled columns, as the SequenceVAE's."""
        check_is_fitted(self)
        width = self.transform([np.zeros((1, self.n_features_in_))]).shape[1]
        return np.asarray([f"sequencevae{i}" for i in range(width)], dtype=object)
