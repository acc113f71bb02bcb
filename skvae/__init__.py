"""skvae: variational autoencoders as scikit-learn estimators, for speech.

The estimators ``VAETransformer``, ``VAEClassifier``, ``FactorizedVAE``,
``SequenceVAE``; ``CTCTranscriber`` (strings such as phone numbers from
frame sequences); ``RejectOptionClassifier`` (open-set recognition);
``save``/``load`` (weights files); ``export_onnx``/``export_torchscript``; the
torch-free ``features`` and ``datasets``. Each name is imported on first access.
"""

import importlib

from ._version import __version__

# public name -> the module that defines it
_LAZY_ATTRS = {
    "CTCTranscriber": "._ctc",
    "FactorizedVAE": "._factorized",
    "RejectOptionClassifier": "._openset",
    "SequenceVAE": "._sequence",
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
