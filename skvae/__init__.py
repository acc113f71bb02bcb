"""skvae: variational autoencoders as scikit-learn estimators, for speech.

The estimators live in private modules and are re-exported here. They are
loaded lazily, so that ``import skvae.features`` or ``import skvae.datasets``
(the speech front end) never imports torch.
"""

import importlib

from ._version import __version__

# public name -> private module that defines it
_LAZY_ATTRS = {
    "VAEClassifier": "._classifier",
    "VAETransformer": "._transformer",
    "export_onnx": "._export",
    "export_torchscript": "._export",
    "load": "._persistence",
    "save": "._persistence",
}
_SUBMODULES = ("features", "datasets")

__all__ = ["__version__", *_LAZY_ATTRS, *_SUBMODULES]


def __getattr__(name):
    if name in _LAZY_ATTRS:
        module = importlib.import_module(_LAZY_ATTRS[name], __name__)
        value = getattr(module, name)
        globals()[name] = value
        return value
    if name in _SUBMODULES:
        return importlib.import_module(f".{name}", __name__)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


def __dir__():
    return sorted(set(globals()) | set(__all__))
