"""skvae.save and skvae.load: weights-only model files (:mod:`skvae._format`)."""

from pathlib import Path

# importing the estimator modules registers them (register_saveable)
from . import _classifier, _factorized, _sequence, _transformer  # noqa: F401
from ._device import resolve_device
from ._format import decode
from ._serialize import _check_saveable, _warn_version, saveable_classes

__all__ = ["load", "save"]


def save(estimator, path):
    """Save a fitted skvae estimator as a weights-only file, atomically.

    Parameters
    ----------
    estimator : VAETransformer, VAEClassifier or FactorizedVAE
        A fitted estimator; TypeError for another one, or for a parameter
        that is not a JSON value (e.g. a ``RandomState``).
    path : str or os.PathLike
        Destination, conventionally ending in ``.safetensors``.

    Returns
    -------
    path : pathlib.Path

    Examples
    --------
    >>> import numpy as np, tempfile, os
    >>> from skvae import VAETransformer, load, save
    >>> X = np.random.RandomState(0).normal(size=(50, 4))
    >>> vae = VAETransformer(hidden_layer_sizes=(8,), max_iter=2,
    ...                      random_state=0).fit(X)
    >>> path = save(vae, os.path.join(tempfile.mkdtemp(), "vae.safetensors"))
    >>> np.array_equal(load(path).transform(X), vae.transform(X))
    True
    """
    _check_saveable(estimator)
    return estimator.save(path)


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
    estimator : VAETransformer, VAEClassifier or FactorizedVAE
        The fitted estimator, giving the same outputs as the saved one.

    Raises
    ------
    FileNotFoundError
        If there is no file at ``path``.
    ValueError
        Naming the problem, if the file is not a skvae weights file (a pickle
        is refused, not executed) or is damaged.

    Examples
    --------
    See :func:`save`.
    """
    path, device = Path(path), resolve_device(device)
    if not path.is_file():
        raise FileNotFoundError(f"No such model file: '{path}'")
    try:
        content = decode(path.read_bytes())
        cls = saveable_classes().get(content.estimator)
        if cls is None:
            raise ValueError(f"unknown estimator {content.estimator!r}.")
        _warn_version(content.estimator, content.skvae_version)
        return cls._from_weights(content, device=device)
    except ValueError as exc:
        raise ValueError(f"'{path}': {exc}") from exc
