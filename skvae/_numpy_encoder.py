"""The encoder of a fitted VAETransformer, run by NumPy: prediction without torch.

Importing torch takes seconds (2-5 s on a 2-core machine), more than
everything else a prediction does. A recogniser needs only the encoder's
posterior means at predict time, a few dense layers, which NumPy computes
from the weights-only file of the VAE (:func:`skvae.save`) without torch.

This module reads the weights file's header and tensors with
:mod:`safetensors.numpy` (no pickle, no torch) and defines
:class:`NumpyEncoder`. It imports nothing of skvae's torch layers; the
weights format's constants live here so that :mod:`skvae._weights` and this
module read the same format.

Exactness: the standardisation is computed as the torch module computes it
(float32 for float32 rows; float64, then a cast to float32, for float64
rows), so it matches bit for bit. The dense layers then run in float64 and
the codes are rounded to float32 once, at the end: the float32 code nearest
the exact one (to a unit in the last place), while torch's float32 products
carry their own rounding. Float32 products here too would add a second,
independent rounding error: on recognisers trained on FSDD, the probabilities
of the two paths then differed by up to 1.2e-6; with float64 layers by at
most about 7e-7. The posterior means agree with ``VAETransformer.transform``
to float32 rounding (relative differences around 1e-7), and the labels and
probabilities of a recogniser to 1e-6 (``tests/test_predictor.py``).
"""

import json
import math
from pathlib import Path

import numpy as np
from sklearn.base import BaseEstimator, TransformerMixin
from sklearn.utils._param_validation import HasMethods
from sklearn.utils.validation import check_is_fitted, validate_data

__all__ = ["FORMAT", "FORMAT_VERSION", "NumpyEncoder", "check_header", "read_numpy"]

FORMAT = "skvae-weights"
FORMAT_VERSION = 1
_MODULE = "module."
_ARRAY = "attr."


def _erf(x):
    from scipy.special import erf

    return erf(x)


#: the activations of skvae's VAEs (``skvae._vae.ACTIVATIONS``), in NumPy,
#: computed in the dtype of their input
_ACTIVATIONS = {
    "relu": lambda x: np.maximum(x, x.dtype.type(0)),
    "tanh": np.tanh,
    "logistic": lambda x: 1.0 / (1.0 + np.exp(-x)),
    "elu": lambda x: np.where(x > 0, x, np.expm1(np.minimum(x, 0))),
    "gelu": lambda x: 0.5 * x * (1.0 + _erf(x / math.sqrt(2.0))).astype(x.dtype),
    "silu": lambda x: x / (1.0 + np.exp(-x)),
}


def check_header(meta, name):
    """Check the metadata of a skvae weights file; return its JSON documents.

    Parameters
    ----------
    meta : dict of str to str
        The safetensors metadata of the file.
    name : str
        How to name the file in error messages.

    Returns
    -------
    params, fitted, module_config : dict
        The constructor parameters, JSON fitted attributes and module
        configuration stored in the file.

    Raises
    ------
    ValueError
        If the file is not a skvae weights file, uses a newer format or its
        metadata is damaged.
    """
    from ._version import __version__

    if meta.get("format") != FORMAT:
        raise ValueError(f"{name} is a safetensors file but not a skvae model file.")
    version = meta.get("format_version", "0")
    if not version.isdigit():
        raise ValueError(f"{name}: damaged metadata (format_version={version!r}).")
    if int(version) > FORMAT_VERSION:
        raise ValueError(
            f"{name} uses skvae weights format {version}, newer than "
            f"this skvae {__version__} understands ({FORMAT_VERSION}); upgrade skvae."
        )
    try:
        docs = tuple(
            json.loads(meta[key]) for key in ("params", "fitted", "module_config")
        )
    except (KeyError, json.JSONDecodeError) as exc:
        raise ValueError(f"{name}: damaged metadata ({exc}).") from exc
    for key, value in zip(("params", "fitted", "module_config"), docs):
        if not isinstance(value, dict):
            raise ValueError(f"{name}: damaged metadata ({key} is not a JSON object).")
    return docs


def read_numpy(data, name="the weights file"):
    """Read a skvae weights file's content with NumPy only (no torch).

    Parameters
    ----------
    data : bytes
        The content of a file written by :func:`skvae.save`.
    name : str, default="the weights file"
        How to name it in error messages.

    Returns
    -------
    content : dict
        ``estimator`` (class name), ``params``, ``fitted``,
        ``module_config`` (dicts), ``arrays`` (fitted NumPy arrays) and
        ``module`` (the module's tensors as NumPy arrays).

    Raises
    ------
    ValueError
        If ``data`` is not a skvae weights file or is damaged.
    """
    from safetensors import SafetensorError
    from safetensors.numpy import load

    data = bytes(data)
    try:
        # the safetensors layout: an 8-byte little-endian header size, then a
        # JSON header whose "__metadata__" holds the file's string metadata
        size = int.from_bytes(data[:8], "little")
        if len(data) < 8 or size > len(data) - 8:
            raise ValueError("the header is truncated")
        meta = json.loads(data[8 : 8 + size]).get("__metadata__") or {}
        tensors = load(data)
    except (SafetensorError, ValueError, AttributeError) as exc:
        raise ValueError(f"{name} is not a skvae weights file ({exc}).") from exc
    params, fitted, config = check_header(meta, name)
    return {
        "estimator": meta.get("estimator"),
        "params": params,
        "fitted": fitted,
        "module_config": config,
        "arrays": {
            k[len(_ARRAY) :]: v for k, v in tensors.items() if k.startswith(_ARRAY)
        },
        "module": {
            k[len(_MODULE) :]: v for k, v in tensors.items() if k.startswith(_MODULE)
        },
    }


def _dense_layers(module, prefix):
    """The (weight, bias) pairs of an ``nn.Sequential`` of Linear layers and
    activations, in order, from a state dict in NumPy."""
    layers = []
    k = 0
    while f"{prefix}.{k}.weight" in module or f"{prefix}.{k + 1}.weight" in module:
        name = f"{prefix}.{k}"
        if f"{name}.weight" in module:
            layers.append((module[f"{name}.weight"], module[f"{name}.bias"]))
        k += 1
    return layers


class NumpyEncoder(TransformerMixin, BaseEstimator):
    """The encoder of a fitted :class:`~skvae.VAETransformer`, without torch.

    ``transform`` gives the posterior means that the VAE's ``transform``
    gives, to float32 rounding, computed by NumPy from the VAE's weights-only
    file. A recogniser loaded for prediction
    (:func:`skvae.recipes.load_predictor`) has one in place of its VAE, so
    that predicting imports neither torch nor librosa. Only a
    ``VAETransformer`` with a dense (MLP) encoder that is not conditioned on
    groups can be run this way (``frame_shape=None``; a speaker-conditioned
    decoder is fine): :meth:`fit` raises ``ValueError`` for other models.

    ``fit`` does not learn anything: it reads the weights. The estimator is
    therefore cloned with its weights, and a pipeline holding one can be
    refitted (its other steps learn, this one stays the VAE it was).

    Parameters
    ----------
    weights : bytes or str or os.PathLike
        The weights-only file of the fitted VAE (:func:`skvae.save`), or its
        content.

    Attributes
    ----------
    n_features_in_ : int
        Number of features of the rows the VAE was fitted on.
    feature_names_in_ : ndarray of str
        The feature names the VAE was fitted with, if it had any.
    n_components_ : int
        Dimension of the latent code (of the output).
    estimator_name_ : str
        Class name of the VAE the weights come from.

    See Also
    --------
    skvae.VAETransformer : The model this runs.
    skvae.recipes.load_predictor : Loads a recogniser for prediction only.

    Examples
    --------
    >>> import io, tempfile, os
    >>> import numpy as np
    >>> from skvae import VAETransformer, save
    >>> from skvae._numpy_encoder import NumpyEncoder
    >>> X = np.random.RandomState(0).normal(size=(60, 5)).astype(np.float32)
    >>> vae = VAETransformer(n_components=2, hidden_layer_sizes=(8,),
    ...                      max_iter=3, random_state=0).fit(X)
    >>> with tempfile.TemporaryDirectory() as tmp:
    ...     enc = NumpyEncoder(save(vae, os.path.join(tmp, "vae.safetensors")))
    ...     enc = enc.fit()
    >>> bool(np.allclose(enc.transform(X), vae.transform(X), atol=1e-5))
    True
    """

    _parameter_constraints = {"weights": [bytes, str, HasMethods("__fspath__")]}

    def __init__(self, weights):
        self.weights = weights

    def fit(self, X=None, y=None):
        """Read the weights (``X`` and ``y`` are ignored).

        Parameters
        ----------
        X, y : ignored
            Present for the pipeline API.

        Returns
        -------
        self : NumpyEncoder

        Raises
        ------
        ValueError
            If the weights are not a skvae weights file, or describe a model
            whose encoder cannot run without torch.
        """
        self._validate_params()
        if isinstance(self.weights, bytes):
            data, name = self.weights, "the weights"
        else:
            data, name = Path(self.weights).read_bytes(), f"'{self.weights}'"
        content = read_numpy(data, name)
        estimator = content["estimator"]
        config = content["module_config"]
        if estimator != "VAETransformer":
            raise ValueError(
                f"{name} hold a {estimator}: only a VAETransformer's encoder runs "
                "without torch; use the estimator itself (skvae.load)"
            )
        if config.get("frame_shape") is not None or config.get("condition_encoder"):
            raise ValueError(
                f"{name} hold a VAETransformer with a convolutional or "
                "group-conditioned encoder, which runs only with torch; use the "
                "estimator itself (skvae.load)"
            )
        activation = config.get("activation")
        if activation not in _ACTIVATIONS:
            raise ValueError(f"{name}: unknown activation {activation!r}")
        module = content["module"]
        try:
            layers = _dense_layers(module, "encoder")
            head = (module["mean_head.weight"], module["mean_head.bias"])
            loc, scale = module["loc"], module["scale"]
            mean, std = content["arrays"]["mean_"], content["arrays"]["scale_"]
            n_features = int(config["n_features"])
        except KeyError as exc:
            raise ValueError(f"{name} are damaged ({exc} is missing)") from exc
        widths = [n_features] + [w.shape[0] for w, _ in layers]
        shapes_ok = all(
            w.shape == (widths[i + 1], widths[i]) and b.shape == (widths[i + 1],)
            for i, (w, b) in enumerate(layers)
        ) and head[0].shape[1:] == (widths[-1],)
        if not shapes_ok or loc.shape != (n_features,) or mean.shape != (n_features,):
            raise ValueError(f"{name} are damaged (tensor shapes do not fit)")
        # float64 layers: see the module docstring (exactness)
        self._layers = [
            (w.T.astype(np.float64), b.astype(np.float64)) for w, b in layers
        ]
        self._head = (head[0].T.astype(np.float64), head[1].astype(np.float64))
        self._loc, self._scale = loc, scale
        self._mean, self._std = mean, std
        self._activation = activation
        self.n_features_in_ = n_features
        names = content["fitted"].get("feature_names_in_")
        if names is not None:
            self.feature_names_in_ = np.asarray(names, dtype=object)
        self.n_components_ = int(head[0].shape[0])
        self.estimator_name_ = estimator
        self._prefix = estimator.lower()
        return self

    def transform(self, X):
        """Posterior means of the latent code of each row.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)
            Rows as the VAE was fitted on.

        Returns
        -------
        Z : ndarray of shape (n_samples, n_components_)
            In the dtype of X (float32 or float64), as the VAE's ``transform``.
        """
        check_is_fitted(self)
        X = validate_data(self, X, dtype=[np.float64, np.float32], reset=False)
        if X.dtype == np.float64:
            # as VAETransformer: standardised in float64, then cast
            with np.errstate(over="ignore", invalid="ignore"):
                h = ((X - self._mean) / self._std).astype(np.float32)
                # X is finite: a sum that is not means a value beyond float32
                fits = np.isfinite(h.sum(dtype=np.float64))
            if not fits:  # as VAETransformer (skvae._checks), not NaN codes
                raise ValueError(
                    "X, once standardised, has values too large for float32 "
                    "(|x| above about 3.4e38); rescale X."
                )
        else:
            h = (X - self._loc) / self._scale
        # the layers in float64, one rounding to float32 at the end (as the
        # VAE's codes, float32 values even for float64 rows)
        h = h.astype(np.float64)
        act = _ACTIVATIONS[self._activation]
        for w, b in self._layers:
            h = act(h @ w + b)
        z = h @ self._head[0] + self._head[1]
        return z.astype(np.float32).astype(X.dtype, copy=False)

    def get_feature_names_out(self, input_features=None):
        """Names of the latent dimensions, as the VAE's (``vaetransformer0``...).

        Parameters
        ----------
        input_features : ignored
            Present for the transformer API.

        Returns
        -------
        names : ndarray of str
        """
        check_is_fitted(self)
        n = self.n_components_
        return np.asarray([f"{self._prefix}{i}" for i in range(n)], dtype=object)
