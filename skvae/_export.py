"""Export a fitted VAETransformer's encoder (``transform``, ``"X"`` -> ``"Z"``)
or decoder (``inverse_transform``, ``"Z"`` -> ``"X"``) to ONNX or TorchScript:
float32 rows, a dynamic batch, the standardisation inside, metadata.
"""

import contextlib
import importlib
import inspect
import json
import logging
import os
import tempfile
import warnings
from numbers import Integral

import torch
from sklearn.utils._param_validation import Interval, StrOptions, validate_params
from sklearn.utils.validation import check_is_fitted

from ._serialize import build_module
from ._transformer import VAETransformer
from ._version import __version__

__all__ = ["export_onnx", "export_torchscript"]

#: (input name, output name) of each exported part
_IO_NAMES = {"encoder": ("X", "Z"), "decoder": ("Z", "X")}
_CONSTRAINTS = {
    "estimator": [VAETransformer],
    "path": [str, os.PathLike, None],
    "part": [StrOptions({"encoder", "decoder"})],
}


class _Part(torch.nn.Module):
    """``transform`` (the encoder) or ``inverse_transform`` (the decoder)."""

    def __init__(self, vae, part):
        super().__init__()
        self.vae, self.part = vae, part

    def forward(self, x):
        if self.part == "encoder":
            return self.vae.encode_mean(x)
        return self.vae.reconstruct(x)


def _require(module):
    """Import an optional dependency of the ONNX export, or say how to."""
    try:
        return importlib.import_module(module)
    except ImportError as exc:
        raise ImportError(
            f"The ONNX export needs the optional package {module!r}, which is "
            'not installed. Install skvae\'s ONNX extra: pip install "skvae[onnx]"'
        ) from exc


def _part_module(estimator, part):
    """A CPU inference copy of ``part`` and a two-row example input (so that
    tracers keep the batch dimension dynamic)."""
    check_is_fitted(estimator)
    source = estimator.module_
    if part == "decoder" and source.n_conditions:
        raise ValueError(
            "The decoder of a model fitted with groups takes a group code as a "
            "second input; exporting it is not supported. Export the encoder, "
            "or fit without groups."
        )
    vae = build_module(type(source), source.config(), source.state_dict())
    vae.eval().requires_grad_(False)
    width = vae.n_features if part == "encoder" else vae.n_components
    return _Part(vae, part).eval(), torch.zeros(2, width, dtype=torch.float32)


def _metadata(estimator, part):
    """The metadata stored in the exported file."""
    inp, out = _IO_NAMES[part]
    meta = {
        "producer": "skvae",
        "skvae_version": __version__,
        "estimator": type(estimator).__name__,
        "part": part,
        "input": inp,
        "output": out,
        "n_features_in": str(estimator.n_features_in_),
        # the fitted network's, which set_params after fit does not change
        "n_components": str(estimator.module_.n_components),
        "likelihood": estimator.module_.likelihood,
        "dtype": "float32",
    }
    if hasattr(estimator, "feature_names_in_"):
        meta["feature_names_in"] = json.dumps(
            [str(c) for c in estimator.feature_names_in_]
        )
    return meta


def _has_dynamo_exporter():
    return "dynamo" in inspect.signature(torch.onnx.export).parameters


#: notices and deprecation warnings from torch's own code, silenced
_TORCH_NOISE = (
    r".*treespec|.*legacy TorchScript-based|The feature will be removed"
    r"|`torch\.jit\..*` is deprecated"
)


@contextlib.contextmanager
def _quiet_torch():
    logger = logging.getLogger("torch.onnx")
    level = logger.level
    logger.setLevel(logging.ERROR)
    try:
        with warnings.catch_warnings():
            warnings.filterwarnings("ignore", message=_TORCH_NOISE)
            yield
    finally:
        logger.setLevel(level)


@validate_params(
    {
        **_CONSTRAINTS,
        "opset": [Interval(Integral, 9, None, closed="left"), None],
        "exporter": [StrOptions({"auto", "dynamo", "torchscript"})],
    },
    prefer_skip_nested_validation=True,
)
def export_onnx(estimator, path, *, part="encoder", opset=None, exporter="auto"):
    """Export a fitted VAETransformer's encoder or decoder to ONNX.

    Parameters
    ----------
    estimator : VAETransformer
        A fitted estimator, on any device.
    path : str, os.PathLike or None
        Where to write the self-contained ``.onnx`` file; None: nowhere.
    part : {"encoder", "decoder"}, default="encoder"
        ``transform`` or ``inverse_transform``.
    opset : int or None, default=None
        ONNX opset version; None lets torch choose.
    exporter : {"auto", "dynamo", "torchscript"}, default="auto"
        torch's exporter (``"dynamo"`` needs onnxscript); ``"auto"``:
        ``"dynamo"`` when this torch has it.

    Returns
    -------
    model : onnx.ModelProto
        Described by its ``metadata_props``; it gives the estimator's outputs
        to float32 rounding.

    Examples
    --------
    >>> import numpy as np
    >>> import onnxruntime as ort
    >>> from skvae import VAETransformer, export_onnx
    >>> X = np.random.RandomState(0).normal(size=(100, 6)).astype(np.float32)
    >>> vae = VAETransformer(n_components=2, hidden_layer_sizes=(16,),
    ...                      max_iter=3, random_state=0).fit(X)
    >>> session = ort.InferenceSession(export_onnx(vae, None).SerializeToString(),
    ...                                providers=["CPUExecutionProvider"])
    >>> (Z,) = session.run(None, {"X": X})
    >>> bool(np.allclose(Z, vae.transform(X), atol=1e-5))
    True
    """
    onnx = _require("onnx")
    dynamo = _has_dynamo_exporter() if exporter == "auto" else exporter == "dynamo"
    if dynamo and not _has_dynamo_exporter():
        raise ValueError(
            f"exporter='dynamo' needs torch >= 2.5; this is torch "
            f"{torch.__version__}. Use exporter='torchscript'."
        )
    wrapper, example = _part_module(estimator, part)
    names = _IO_NAMES[part]
    if dynamo:
        _require("onnxscript")
        kwargs = {
            "dynamo": True,
            "dynamic_shapes": ({0: torch.export.Dim("batch")},),
            "external_data": False,  # one self-contained file
            "verbose": False,
        }
    else:
        kwargs = {"dynamic_axes": {name: {0: "batch"} for name in names}}
        if _has_dynamo_exporter():
            kwargs["dynamo"] = False
    with tempfile.TemporaryDirectory() as tmp, _quiet_torch():
        raw = os.path.join(tmp, "model.onnx")
        torch.onnx.export(
            wrapper,
            (example,),
            raw,
            input_names=[names[0]],
            output_names=[names[1]],
            opset_version=opset,
            **kwargs,
        )
        model = onnx.load(raw)
    model.doc_string = f"skvae {type(estimator).__name__} {part}"
    for key, value in _metadata(estimator, part).items():
        entry = model.metadata_props.add()
        entry.key, entry.value = key, value
    onnx.checker.check_model(model)
    if path is not None:
        onnx.save(model, os.fspath(path))
    return model


@validate_params(_CONSTRAINTS, prefer_skip_nested_validation=True)
def export_torchscript(estimator, path=None, *, part="encoder"):
    """Export a fitted VAETransformer's encoder or decoder to TorchScript.

    Parameters
    ----------
    estimator : VAETransformer
        A fitted estimator, on any device.
    path : str, os.PathLike or None, default=None
        Where to save the module (``.pt``), its metadata in the extra file
        ``"skvae.json"``; None: nowhere.
    part : {"encoder", "decoder"}, default="encoder"
        ``transform`` or ``inverse_transform``.

    Returns
    -------
    module : torch.jit.ScriptModule
        The traced module, on the CPU.

    Examples
    --------
    >>> import numpy as np, torch
    >>> from skvae import VAETransformer, export_torchscript
    >>> X = np.random.RandomState(0).normal(size=(100, 6)).astype(np.float32)
    >>> vae = VAETransformer(n_components=2, hidden_layer_sizes=(16,),
    ...                      max_iter=3, random_state=0).fit(X)
    >>> scripted = export_torchscript(vae, part="encoder")
    >>> Z = scripted(torch.from_numpy(X)).numpy()
    >>> bool(np.allclose(Z, vae.transform(X), atol=1e-6))
    True
    """
    wrapper, example = _part_module(estimator, part)
    with _quiet_torch(), torch.no_grad():
        module = torch.jit.trace(wrapper, example, check_inputs=[(example[:1],)])
        if path is not None:
            extra = {"skvae.json": json.dumps(_metadata(estimator, part))}
            torch.jit.save(module, os.fspath(path), _extra_files=extra)
    return module
