"""skvae: variational autoencoders as scikit-learn estimators, for speech.

Public names
------------
VAETransformer, VAEClassifier
    The estimators (defined in ``skvae._transformer`` / ``skvae._classifier``).
FactorizedVAE
    The speaker-factorised VAE (FHVAE; ``skvae._factorized``).
RejectOptionClassifier
    Open-set recognition: a classifier that can reject unknown inputs
    (``skvae._openset``; needs no torch of its own).
save, load
    Weights-only model files (``skvae._persistence``).
export_onnx, export_torchscript
    Deployment exports (``skvae._export``).
features, datasets
    The speech front end and the corpora; they never import torch.

The names above need torch, which takes a second or more to import. They are
therefore imported on first access, by the module-level ``__getattr__`` below
(PEP 562): ``import skvae.features`` or ``import skvae.datasets`` imports
this file but never torch, while ``from skvae import VAETransformer`` works as
usual. ``tests/test_layering.py`` reads the imports below like any others.
"""

import importlib

from ._version import __version__

__all__ = [
    "FactorizedVAE",
    "RejectOptionClassifier",
    "VAEClassifier",
    "VAETransformer",
    "__version__",
    "datasets",
    "export_onnx",
    "export_torchscript",
    "features",
    "load",
    "save",
]


def __getattr__(name):
    """Import public name ``name`` on first use, then keep it in the module."""
    if name == "VAETransformer":
        from ._transformer import VAETransformer as value
    elif name == "FactorizedVAE":
        from ._factorized import FactorizedVAE as value
    elif name == "VAEClassifier":
        from ._classifier import VAEClassifier as value
    elif name == "RejectOptionClassifier":
        from ._openset import RejectOptionClassifier as value
    elif name == "save":
        from ._persistence import save as value
    elif name == "load":
        from ._persistence import load as value
    elif name == "export_onnx":
        from ._export import export_onnx as value
    elif name == "export_torchscript":
        from ._export import export_torchscript as value
    # subpackages: not "from . import features", which looks the name up on
    # this module first and so would call __getattr__ again
    elif name == "features":
        value = importlib.import_module(".features", __name__)
    elif name == "datasets":
        value = importlib.import_module(".datasets", __name__)
    else:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    globals()[name] = value
    return value


def __dir__():
    return sorted(set(globals()) | set(__all__))
