"""Weights-only model files: JSON configuration plus safetensors tensors.

joblib/pickle files can execute arbitrary code when loaded. A weights-only
file cannot: it is a safetensors file (a JSON header and raw tensor bytes,
parsed without ``pickle``) whose header metadata holds the estimator's
parameters and fitted state as JSON. Loading never unpickles anything.
"""

import json
import os
import tempfile
import warnings
from pathlib import Path

import numpy as np
import torch

from ._version import __version__
from .exceptions import InconsistentVersionWarning

__all__ = ["load", "save"]

FORMAT = "skvae-weights"
FORMAT_VERSION = 1

# fitted attributes stored as JSON (arrays go to tensors, see _ARRAY_ATTRS)
_JSON_ATTRS = (
    "n_features_in_",
    "n_iter_",
    "best_loss_",
    "best_validation_score_",
    "history_",
    "_score_seed",
)
_ARRAY_ATTRS = ("mean_", "scale_")


def _estimator_classes():
    from ._classifier import VAEClassifier
    from ._transformer import VAETransformer

    return {"VAETransformer": VAETransformer, "VAEClassifier": VAEClassifier}


def _json_value(value, name):
    if isinstance(value, torch.device):
        return str(value)
    if isinstance(value, tuple):
        return list(value)
    if isinstance(value, np.integer):
        return int(value)
    if isinstance(value, np.floating):
        return float(value)
    try:
        json.dumps(value)
    except TypeError as exc:
        raise TypeError(
            f"Parameter {name}={value!r} cannot be stored in a weights-only file "
            "(only JSON values are); set it to an int/str/None first, or use joblib."
        ) from exc
    return value


def save(estimator, path):
    """Save a fitted skvae estimator as a weights-only file.

    The file is a safetensors file: tensors plus a JSON header, readable
    without executing code (unlike joblib/pickle). It is written to a
    temporary file beside ``path`` and renamed, so a failed save leaves no
    partial file.

    Parameters
    ----------
    estimator : VAETransformer or VAEClassifier
        A fitted estimator.
    path : str or os.PathLike
        Destination, conventionally ending in ``.safetensors``.

    Returns
    -------
    path : pathlib.Path
        The written file.

    Examples
    --------
    >>> import numpy as np, tempfile, os
    >>> from skvae import VAETransformer, load, save
    >>> X = np.random.RandomState(0).normal(size=(50, 4))
    >>> vae = VAETransformer(hidden_layer_sizes=(8,), max_iter=2,
    ...                      random_state=0).fit(X)
    >>> path = os.path.join(tempfile.mkdtemp(), "vae.safetensors")
    >>> _ = save(vae, path)
    >>> np.array_equal(load(path).transform(X), vae.transform(X))
    True
    """
    from safetensors.torch import save_file
    from sklearn.utils.validation import check_is_fitted

    check_is_fitted(estimator)
    name = type(estimator).__name__
    if name not in _estimator_classes():
        raise TypeError(f"save supports {sorted(_estimator_classes())}, got {name}.")
    params = {k: _json_value(v, k) for k, v in estimator.get_params().items()}
    if isinstance(estimator.random_state, np.random.RandomState):
        params["random_state"] = None
    fitted = {k: _json_value(getattr(estimator, k), k) for k in _JSON_ATTRS}
    if hasattr(estimator, "feature_names_in_"):
        fitted["feature_names_in_"] = [str(c) for c in estimator.feature_names_in_]
    for k in getattr(estimator, "_persist_json", ()):
        value = getattr(estimator, k)
        if isinstance(value, np.ndarray):
            value = value.tolist()
        fitted[k] = _json_value(value, k)
    groups = getattr(estimator, "groups_", None)
    if name == "VAETransformer":
        fitted["groups_"] = (
            None if groups is None else _json_value(groups.tolist(), "groups_")
        )
    module = estimator.module_
    tensors = {
        f"module.{k}": v.detach().to("cpu").contiguous()
        for k, v in module.state_dict().items()
    }
    for k in _ARRAY_ATTRS:
        tensors[f"attr.{k}"] = torch.from_numpy(
            np.ascontiguousarray(getattr(estimator, k))
        )
    if groups is not None:
        tensors["attr.group_prior_"] = torch.from_numpy(
            np.ascontiguousarray(estimator.group_prior_)
        )
    metadata = {
        "format": FORMAT,
        "format_version": str(FORMAT_VERSION),
        "skvae_version": __version__,
        "estimator": name,
        "params": json.dumps(params),
        "fitted": json.dumps(fitted),
        "module_config": json.dumps(module.config()),
    }
    path = Path(path)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", dir=path.parent or ".")
    os.close(fd)
    try:
        save_file(tensors, tmp, metadata=metadata)
        # mkstemp makes owner-only files; give the usual permissions (umask)
        umask = os.umask(0)
        os.umask(umask)
        os.chmod(tmp, 0o666 & ~umask)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    return path


def load(path, *, device="cpu"):
    """Load an estimator saved by :func:`save`, without executing code.

    Parameters
    ----------
    path : str or os.PathLike
        A file written by :func:`save`.
    device : str, default="cpu"
        Where to put the model's tensors.

    Returns
    -------
    estimator : VAETransformer or VAEClassifier
        The fitted estimator, giving the same outputs as the saved one.

    Raises
    ------
    ValueError
        If the file is not a skvae weights file (for example a pickle, which
        is refused rather than executed) or is damaged.
    """
    from safetensors import SafetensorError, safe_open

    from ._training import resolve_device

    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"No such model file: '{path}'")
    try:
        with safe_open(path, framework="pt") as fh:
            meta = fh.metadata() or {}
            tensors = {k: fh.get_tensor(k) for k in fh.keys()}  # noqa: SIM118
    except (SafetensorError, OSError, ValueError) as exc:
        raise ValueError(
            f"'{path}' is not a skvae weights file ({exc}). Pickle/joblib files are "
            "not loaded by skvae.load because they can execute code; load those "
            "only from trusted sources with joblib.load."
        ) from exc
    if meta.get("format") != FORMAT:
        raise ValueError(f"'{path}' is a safetensors file but not a skvae model file.")
    if int(meta.get("format_version", "0")) > FORMAT_VERSION:
        raise ValueError(
            f"'{path}' uses skvae weights format {meta['format_version']}, newer than "
            f"this skvae {__version__} understands ({FORMAT_VERSION}); upgrade skvae."
        )
    classes = _estimator_classes()
    name = meta.get("estimator")
    if name not in classes:
        raise ValueError(f"'{path}': unknown estimator {name!r}.")
    if meta.get("skvae_version") != __version__:
        warnings.warn(
            InconsistentVersionWarning(
                name, original=meta.get("skvae_version"), current=__version__
            ),
            stacklevel=2,
        )
    try:
        params = json.loads(meta["params"])
        fitted = json.loads(meta["fitted"])
        config = json.loads(meta["module_config"])
    except (KeyError, json.JSONDecodeError) as exc:
        raise ValueError(f"'{path}': damaged metadata ({exc}).") from exc
    for key in ("hidden_layer_sizes", "frame_shape"):
        if isinstance(params.get(key), list):
            params[key] = tuple(params[key])
    est = classes[name](**params)
    for k, v in fitted.items():
        if k == "feature_names_in_":
            v = np.asarray(v, dtype=object)
        elif k in ("groups_", "classes_") and v is not None:
            v = np.asarray(v)
        setattr(est, k, v)
    for k in _ARRAY_ATTRS:
        setattr(est, k, tensors[f"attr.{k}"].numpy())
    if name == "VAETransformer":
        est.groups_ = getattr(est, "groups_", None)
        est.group_prior_ = None
    if getattr(est, "groups_", None) is not None:
        if "attr.group_prior_" not in tensors:
            raise ValueError(f"'{path}': damaged file (group_prior_ is missing).")
        est.group_prior_ = tensors["attr.group_prior_"].numpy()
    dev = resolve_device(device)
    with torch.device("meta"):
        module = classes[name]._module_class(**config)
    module = module.to_empty(device="cpu")
    state = {
        k[len("module.") :]: v for k, v in tensors.items() if k.startswith("module.")
    }
    try:
        module.load_state_dict(state)
    except RuntimeError as exc:
        raise ValueError(f"'{path}': tensors do not match the model ({exc}).") from exc
    est.module_ = module.to(dev)
    est.device_ = dev
    est._optimizer = None
    est._generators = None
    est._partial = False
    return est
