"""skvae: variational autoencoders as scikit-learn estimators, for speech.

Public names
------------
VAETransformer, VAEClassifier, FactorizedVAE
    The VAE estimators.
RejectOptionClassifier
    Open-set recognition: a classifier that can reject unknown inputs.
save, load
    Weights-only model files.
export_onnx, export_torchscript
    Deployment exports.
features, datasets
    The speech front end and the corpora; they never import torch.

The estimators need torch, which takes a second or more to import, so every
name is imported on first access (PEP 562 ``__getattr__``): ``import
skvae.features`` never imports torch.
"""

import importlib

from ._version import __version__

# public name -> the module that defines it
_LAZY_ATTRS = {
    "FactorizedVAE": "._factorized",
    "RejectOptionClassifier": "._openset",
    "VAEClassifier": "._classifier",
    "VAETransformer": "._transformer",
    "datasets": ".datasets",
    "export_onnx": "._export",
    "export_torchscript": "._export",
    "features": ".features",
    "load": "._persistence",
    "save": "._persistence",
}

__all__ = [*_LAZY_ATTRS, "__version__"]


def __getattr__(name):
    """Import public name ``name`` on first use, then keep it in the module."""
    if name not in _LAZY_ATTRS:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    module = importlib.import_module(_LAZY_ATTRS[name], __name__)
    value = module if _LAZY_ATTRS[name] == f".{name}" else getattr(module, name)
    globals()[name] = value
    return value


def __dir__():
    return sorted(set(globals()) | set(__all__))
