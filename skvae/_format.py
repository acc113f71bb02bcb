"""The weights format of skvae, bytes in and out, without torch or pickle: a
safetensors file (reading it cannot run code) holding a :class:`Weights`, its
tensors named ``module.<name>`` (state dict) and ``attr.<name>`` (fitted arrays).
"""

import json
from dataclasses import dataclass, field

import numpy as np

from ._version import __version__

__all__ = ["FORMAT", "FORMAT_VERSION", "Weights", "decode", "encode"]

FORMAT = "skvae-weights"
FORMAT_VERSION = 1
_DOCS = ("params", "fitted", "module_config")
_PREFIXES = {"module.": "module", "attr.": "arrays"}


@dataclass
class Weights:
    """What a weights file holds; ``module`` and ``arrays`` map names to
    NumPy arrays, ``params``, ``fitted`` and ``module_config`` to JSON values."""

    estimator: str
    module_config: dict
    module: dict
    params: dict = field(default_factory=dict)
    fitted: dict = field(default_factory=dict)
    arrays: dict = field(default_factory=dict)
    skvae_version: str = __version__


def _json_value(name, value):
    if isinstance(value, tuple):
        return [_json_value(name, v) for v in value]
    if isinstance(value, np.generic):
        return value.item()
    try:
        json.dumps(value)
    except TypeError as exc:
        raise TypeError(
            f"Parameter {name}={value!r} cannot be stored in a weights-only file "
            "(only JSON values are); set it to an int/str/None first."
        ) from exc
    return value


def encode(content):
    """The bytes of a weights file holding ``content`` (:class:`Weights`);
    TypeError if a parameter or fitted attribute is not a JSON value."""
    from safetensors.numpy import save

    meta = {
        "format": FORMAT,
        "format_version": str(FORMAT_VERSION),
        "skvae_version": content.skvae_version,
        "estimator": content.estimator,
    }
    for key in _DOCS:
        doc = getattr(content, key)
        meta[key] = json.dumps({k: _json_value(k, v) for k, v in doc.items()})
    tensors = {
        f"{prefix}{k}": np.ascontiguousarray(v)
        for prefix, attr in _PREFIXES.items()
        for k, v in getattr(content, attr).items()
    }
    return save(tensors, metadata=meta)


def decode(data):
    """The :class:`Weights` in ``data``; ValueError naming the problem if it
    is not a skvae weights file (a pickle is refused, not executed), is
    damaged, or uses a newer format.

    Examples
    --------
    >>> decode(b"not a weights file")
    Traceback (most recent call last):
    ...
    ValueError: not a skvae weights file, or a damaged one (...)
    """
    from safetensors import SafetensorError
    from safetensors.numpy import load

    if not isinstance(data, bytes | bytearray | memoryview):
        raise ValueError(f"damaged file (weights of type {type(data).__name__})")
    data = bytes(data)
    try:
        tensors = load(data)  # checks the header and the tensors' extents
        size = int.from_bytes(data[:8], "little")
        meta = json.loads(data[8 : 8 + size]).get("__metadata__") or {}
    except (SafetensorError, ValueError, AttributeError) as exc:
        raise ValueError(f"not a skvae weights file, or a damaged one ({exc})") from exc
    if meta.get("format") != FORMAT:
        raise ValueError("a safetensors file but not a skvae model file")
    version = meta.get("format_version")
    if version != str(FORMAT_VERSION):
        if str(version).isdigit() and int(version) > FORMAT_VERSION:
            raise ValueError(
                f"uses skvae weights format {version}, newer than this skvae "
                f"{__version__} understands ({FORMAT_VERSION}); upgrade skvae"
            )
        raise ValueError(f"damaged metadata (format_version={version!r})")
    try:
        docs = {key: json.loads(meta[key]) for key in _DOCS}
        names = {key: str(meta[key]) for key in ("estimator", "skvae_version")}
    except (KeyError, TypeError, json.JSONDecodeError) as exc:
        raise ValueError(f"damaged metadata ({exc})") from exc
    parts = {"module": {}, "arrays": {}}
    for key, doc in docs.items():
        if not isinstance(doc, dict):
            raise ValueError(f"damaged metadata ({key} is not a JSON object)")
    for name, array in tensors.items():
        prefix = next((p for p in _PREFIXES if name.startswith(p)), None)
        if prefix is None:
            raise ValueError(f"damaged file (unknown tensor {name!r})")
        parts[_PREFIXES[prefix]][name[len(prefix) :]] = array
    return Weights(**names, **docs, **parts)
