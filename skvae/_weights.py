"""The weights-only model file, and torch modules built from config + weights.

This is the one place that knows the layout of a skvae weights file and the
one place that builds a torch module from its configuration and weights. It
knows no estimator class: an estimator describes itself as a
:class:`WeightsFile` and rebuilds itself from one (the ``_to_weights`` /
``_from_weights`` hooks of :class:`skvae._saving.SaveableMixin`).

A weights file is a safetensors file (a JSON header and raw tensor bytes,
parsed without ``pickle``, so loading it cannot execute code). Format 1:

- header metadata (strings): ``format`` = ``"skvae-weights"``,
  ``format_version`` = ``"1"``, ``skvae_version``, ``estimator`` (class
  name), and three JSON documents: ``params`` (constructor parameters),
  ``fitted`` (fitted attributes that are JSON values) and ``module_config``
  (the torch module's constructor arguments, ``VAE.config()``);
- tensors: ``module.<name>`` (the module's state dict, on the CPU) and
  ``attr.<name>`` (fitted NumPy arrays, e.g. ``attr.mean_``).
"""

import json
import os
import tempfile
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import torch

from ._numpy_encoder import _ARRAY, _MODULE, FORMAT, FORMAT_VERSION, check_header
from ._version import __version__

__all__ = ["FORMAT", "FORMAT_VERSION", "WeightsFile", "build_module", "read", "write"]


def build_module(module_class, config, state=None, *, device="cpu"):
    """A torch module of ``module_class`` built from ``config`` (and weights).

    The module is created on the ``meta`` device (no memory, no random
    initialisation, the global torch RNG untouched), materialised on the CPU
    and moved to ``device``. Without ``state`` its tensors are uninitialised:
    the caller initialises them (``reset_parameters``).

    Parameters
    ----------
    module_class : type
        :class:`~skvae._vae.VAE` or a subclass.
    config : dict
        Constructor arguments, as returned by the module's ``config()``.
    state : dict of str to Tensor, default=None
        A state dict to load, e.g. from a weights file or a pickle.
    device : str or torch.device, default="cpu"
        Where the returned module lives.

    Returns
    -------
    module : torch.nn.Module

    Raises
    ------
    ValueError
        If ``config`` is not a valid configuration, ``state`` does not fit the
        module built from it, or a weight is NaN or infinite.

    Examples
    --------
    >>> import torch
    >>> from skvae._vae import VAE
    >>> from skvae._weights import build_module
    >>> source = VAE(4, 2, (8,))
    >>> copy = build_module(VAE, source.config(), source.state_dict())
    >>> all(torch.equal(a, b) for a, b in
    ...     zip(source.state_dict().values(), copy.state_dict().values()))
    True
    """
    try:
        with torch.device("meta"):
            module = module_class(**config)
    except (TypeError, ValueError, KeyError, RuntimeError) as exc:
        raise ValueError(f"the module configuration is not valid ({exc}).") from exc
    if state is not None:
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
    if state is not None:
        try:
            module.load_state_dict(state)
        except RuntimeError as exc:
            raise ValueError(f"tensors do not match the model ({exc}).") from exc
        for name, tensor in module.state_dict().items():
            if tensor.is_floating_point() and not torch.isfinite(tensor).all():
                raise ValueError(f"tensor {name!r} holds NaN or infinite values.")
    return module.to(device)


@dataclass
class WeightsFile:
    """The content of a weights file, as an estimator describes itself.

    Attributes
    ----------
    estimator : str
        Class name of the estimator, the key under which it is loaded.
    params : dict
        Constructor parameters (JSON values).
    fitted : dict
        Fitted attributes that are JSON values (numbers, strings, lists).
    arrays : dict of str to ndarray
        Fitted NumPy arrays.
    module_config : dict
        Constructor arguments of the torch module.
    module_state : dict of str to Tensor
        The torch module's state dict.
    skvae_version : str
        Version of skvae that wrote the file.
    """

    estimator: str
    params: dict
    fitted: dict
    arrays: dict = field(default_factory=dict)
    module_config: dict = field(default_factory=dict)
    module_state: dict = field(default_factory=dict)
    skvae_version: str = __version__


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


def _json(mapping):
    return json.dumps({k: _json_value(v, k) for k, v in mapping.items()})


def write(path, content):
    """Write ``content`` (a :class:`WeightsFile`) to ``path`` atomically.

    The file is written beside ``path`` under a temporary name and renamed,
    so a failed write leaves no partial file; it gets the permissions of an
    ordinary new file (``0o666`` less the umask).

    Returns
    -------
    path : pathlib.Path
        The written file.

    Raises
    ------
    TypeError
        If a parameter or fitted attribute is not a JSON value.
    """
    from safetensors.torch import save_file

    tensors = {
        f"{_MODULE}{k}": v.detach().to("cpu").contiguous()
        for k, v in content.module_state.items()
    }
    for k, v in content.arrays.items():
        tensors[f"{_ARRAY}{k}"] = torch.from_numpy(np.ascontiguousarray(v))
    metadata = {
        "format": FORMAT,
        "format_version": str(FORMAT_VERSION),
        "skvae_version": content.skvae_version,
        "estimator": content.estimator,
        "params": _json(content.params),
        "fitted": _json(content.fitted),
        "module_config": json.dumps(content.module_config),
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


def read(path):
    """Read a weights file into a :class:`WeightsFile`, without executing code.

    Raises
    ------
    FileNotFoundError
        If ``path`` is not a file.
    ValueError
        If the file is not a skvae weights file (for example a pickle, which
        is refused rather than executed), is damaged, or uses a newer format.
    """
    from safetensors import SafetensorError, safe_open

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
    params, fitted, config = check_header(meta, f"'{path}'")
    return WeightsFile(
        estimator=meta.get("estimator"),
        params=params,
        fitted=fitted,
        arrays={
            k[len(_ARRAY) :]: v.numpy()
            for k, v in tensors.items()
            if k.startswith(_ARRAY)
        },
        module_config=config,
        module_state={
            k[len(_MODULE) :]: v for k, v in tensors.items() if k.startswith(_MODULE)
        },
        skvae_version=meta.get("skvae_version"),
    )
