"""Export a fitted VAETransformer's encoder or decoder for deployment.

Two formats:

- ONNX (:func:`export_onnx`), run by onnxruntime or any ONNX runtime without
  Python, torch or skvae. Needs the optional extra ``pip install
  "skvae[onnx]"`` (onnx, onnxscript, onnxruntime).
- TorchScript (:func:`export_torchscript`), loaded by ``torch.jit.load`` or
  libtorch (C++) without skvae.

Each exported graph is one pure function of float32 rows, with a dynamic
batch dimension: the ``"encoder"`` is ``transform`` (caller's units in,
posterior mean out, standardisation included) and the ``"decoder"`` is
``inverse_transform`` (latent codes in, decoder mean in the caller's units
out).
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
from pathlib import Path

import torch
from sklearn.utils._param_validation import Interval, StrOptions, validate_params
from sklearn.utils.validation import check_is_fitted

from ._serialize import build_module
from ._transformer import VAETransformer
from ._version import __version__

__all__ = ["export_onnx", "export_torchscript"]

_INSTALL_HINT = 'pip install "skvae[onnx]"'
#: (input name, output name) of each exported part
_IO_NAMES = {"encoder": ("X", "Z"), "decoder": ("Z", "X")}


class _Part(torch.nn.Module):
    """``transform`` (the encoder) or ``inverse_transform`` (the decoder)."""

    def __init__(self, vae, part):
        super().__init__()
        self.vae, self.part = vae, part

    def forward(self, x):
        if self.part == "encoder":
            return self.vae.encode_mean(x)
        return self.vae.reconstruct(x)


def _require(module, purpose):
    """Import an optional dependency or raise an ImportError with the hint."""
    try:
        return importlib.import_module(module)
    except ImportError as exc:
        raise ImportError(
            f"{purpose} needs the optional package {module!r}, which is not "
            f"installed. Install skvae's ONNX extra: {_INSTALL_HINT}"
        ) from exc


def _part_module(estimator, part):
    """A CPU, inference-only copy of the fitted network for ``part``, and an
    example input of two rows (so that tracers keep the batch dynamic)."""
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
    """Key/value description stored in the exported file."""
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
    """Whether this torch has the torch.export-based ONNX exporter."""
    return "dynamo" in inspect.signature(torch.onnx.export).parameters


@contextlib.contextmanager
def _quiet_torch_onnx():
    """Silence torch's notices and deprecation warnings from its own code
    during an export (the caller can do nothing about them)."""
    logger = logging.getLogger("torch.onnx")
    level = logger.level
    logger.setLevel(logging.ERROR)
    try:
        with warnings.catch_warnings():
            for message in (
                r".*treespec.*",
                r".*legacy TorchScript-based",
                r"The feature will be removed",
            ):
                warnings.filterwarnings("ignore", message=message)
            yield
    finally:
        logger.setLevel(level)


def _export(wrapper, example, path, names, opset, dynamo):
    if dynamo:
        _require("onnxscript", "The ONNX export")
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
    with _quiet_torch_onnx():
        torch.onnx.export(
            wrapper,
            (example,),
            path,
            input_names=[names[0]],
            output_names=[names[1]],
            opset_version=opset,
            **kwargs,
        )


@validate_params(
    {
        "estimator": [VAETransformer],
        "path": [str, os.PathLike, None],
        "part": [StrOptions({"encoder", "decoder"})],
        "opset": [Interval(Integral, 9, None, closed="left"), None],
        "exporter": [StrOptions({"auto", "dynamo", "torchscript"})],
    },
    prefer_skip_nested_validation=True,
)
def export_onnx(estimator, path, *, part="encoder", opset=None, exporter="auto"):
    """Export a fitted VAETransformer's encoder or decoder to ONNX.

    The ONNX graph takes and returns float32 rows and has a dynamic batch
    dimension. The standardisation learned at fit is inside the graph, so it
    takes raw rows like :meth:`VAETransformer.transform` does:

    - ``part="encoder"``: input ``"X"`` of shape (batch, n_features_in_),
      output ``"Z"`` of shape (batch, n_components), equal to ``transform``.
    - ``part="decoder"``: input ``"Z"`` of shape (batch, n_components),
      output ``"X"`` of shape (batch, n_features_in_), equal to
      ``inverse_transform``.

    Needs the optional extra: ``pip install "skvae[onnx]"``.

    Parameters
    ----------
    estimator : VAETransformer
        A fitted estimator (on any device; the export runs on a CPU copy).
    path : str, os.PathLike or None
        Where to write the ``.onnx`` file (one self-contained file). None
        writes nothing and only returns the model.
    part : {"encoder", "decoder"}, default="encoder"
        Which half to export: ``transform`` or ``inverse_transform``.
    opset : int or None, default=None
        ONNX opset version; None lets torch choose (opset 18 or newer with
        the default exporter). Lower it for older runtimes.
    exporter : {"auto", "dynamo", "torchscript"}, default="auto"
        torch's exporter: ``"dynamo"`` is the ``torch.export``-based one
        (torch >= 2.5 with onnxscript), ``"torchscript"`` the legacy one,
        deprecated by torch but available in every torch skvae supports.
        ``"auto"`` uses ``"dynamo"`` when this torch has it.

    Returns
    -------
    model : onnx.ModelProto
        The exported model. Its ``metadata_props`` record the skvae version,
        the part, the input and output names and widths, and the feature
        names seen at fit.

    Raises
    ------
    ImportError
        If onnx (or onnxscript, for the dynamo exporter) is not installed.

    See Also
    --------
    export_torchscript : The same graphs as TorchScript.
    skvae.save : Weights-only model files for skvae itself.

    Notes
    -----
    onnxruntime reproduces ``transform`` and ``inverse_transform`` up to
    float32 rounding, which differs between torch's and onnxruntime's
    kernels: about 1e-6 relative to the size of the outputs. ``transform`` of
    float64 data casts it to float32 first, as the ONNX graph's caller must.

    Examples
    --------
    >>> import numpy as np
    >>> import onnxruntime as ort
    >>> from skvae import VAETransformer, export_onnx
    >>> X = np.random.RandomState(0).normal(size=(100, 6)).astype(np.float32)
    >>> vae = VAETransformer(n_components=2, hidden_layer_sizes=(16,),
    ...                      max_iter=3, random_state=0).fit(X)
    >>> model = export_onnx(vae, None)
    >>> session = ort.InferenceSession(model.SerializeToString(),
    ...                                providers=["CPUExecutionProvider"])
    >>> (Z,) = session.run(None, {"X": X})
    >>> bool(np.allclose(Z, vae.transform(X), atol=1e-5))
    True
    """
    onnx = _require("onnx", "The ONNX export")
    if exporter == "auto":
        use_dynamo = _has_dynamo_exporter()
    else:
        use_dynamo = exporter == "dynamo"
        if use_dynamo and not _has_dynamo_exporter():
            raise ValueError(
                f"exporter='dynamo' needs torch >= 2.5; this is torch "
                f"{torch.__version__}. Use exporter='torchscript'."
            )
    wrapper, example = _part_module(estimator, part)
    names = _IO_NAMES[part]
    with tempfile.TemporaryDirectory() as tmp:
        raw = os.path.join(tmp, "model.onnx")
        _export(wrapper, example, raw, names, opset, use_dynamo)
        model = onnx.load(raw)
    model.doc_string = f"skvae {type(estimator).__name__} {part}: " + (
        "transform" if part == "encoder" else "inverse_transform"
    )
    for key, value in _metadata(estimator, part).items():
        entry = model.metadata_props.add()
        entry.key, entry.value = key, value
    onnx.checker.check_model(model)
    if path is not None:
        onnx.save(model, os.fspath(path))
    return model


@validate_params(
    {
        "estimator": [VAETransformer],
        "path": [str, os.PathLike, None],
        "part": [StrOptions({"encoder", "decoder"})],
    },
    prefer_skip_nested_validation=True,
)
def export_torchscript(estimator, path=None, *, part="encoder"):
    """Export a fitted VAETransformer's encoder or decoder to TorchScript.

    The traced module maps float32 rows to float32 rows with any batch size,
    with the same inputs and outputs as :func:`export_onnx`, and loads with
    ``torch.jit.load`` (or libtorch in C++) without skvae.

    Parameters
    ----------
    estimator : VAETransformer
        A fitted estimator (on any device; the export runs on a CPU copy).
    path : str, os.PathLike or None, default=None
        Where to save the module (conventionally ``.pt``); None only
        returns it. The file holds the metadata of :func:`export_onnx` as
        the extra file ``"skvae.json"``.
    part : {"encoder", "decoder"}, default="encoder"
        ``transform`` or ``inverse_transform``.

    Returns
    -------
    module : torch.jit.ScriptModule
        The traced module, on the CPU. Move it with ``.to("cuda")``.

    See Also
    --------
    export_onnx : The same graphs as ONNX, the preferred deployment format.

    Notes
    -----
    Recent torch releases mark ``torch.jit`` as deprecated in favour of
    ``torch.export``; the warning torch raises while tracing is silenced
    here. Prefer :func:`export_onnx` for new deployments.

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
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", message=r"`torch\.jit\..*` is deprecated")
        with torch.no_grad():
            module = torch.jit.trace(wrapper, example, check_inputs=[(example[:1],)])
        if path is not None:
            extra = {"skvae.json": json.dumps(_metadata(estimator, part))}
            torch.jit.save(module, os.fspath(Path(path)), _extra_files=extra)
    return module
