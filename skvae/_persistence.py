"""skvae.save and skvae.load: weights-only model files.

joblib/pickle files can execute arbitrary code when loaded. A weights-only
file cannot: it is a safetensors file (a JSON header and raw tensor bytes,
parsed without ``pickle``) whose header metadata holds the estimator's
parameters and fitted state as JSON. Loading never unpickles anything.

The file format lives in :mod:`skvae._weights`; each estimator describes
itself and rebuilds itself through its own hooks (``_to_weights`` and the
classmethod ``_from_weights`` of :class:`skvae._saving.SaveableMixin`). This
module only finds the estimator class by the name stored in the file, among
those registered with :func:`skvae._saving.register_saveable`.
"""

import warnings

from sklearn.utils.validation import check_is_fitted

# importing the estimator modules registers them (register_saveable)
from . import _classifier, _factorized, _transformer  # noqa: F401
from ._base import BaseVAE
from ._device import resolve_device
from ._saving import saveable_classes
from ._version import __version__
from ._weights import read
from .exceptions import InconsistentVersionWarning

__all__ = ["load", "save"]


def save(estimator, path):
    """Save a fitted skvae estimator as a weights-only file.

    The file is a safetensors file: tensors plus a JSON header, readable
    without executing code (unlike joblib/pickle). It is written to a
    temporary file beside ``path`` and renamed, so a failed save leaves no
    partial file.

    Parameters
    ----------
    estimator : VAETransformer, VAEClassifier or FactorizedVAE
        A fitted estimator.
    path : str or os.PathLike
        Destination, conventionally ending in ``.safetensors``.

    Returns
    -------
    path : pathlib.Path
        The written file.

    Raises
    ------
    TypeError
        If ``estimator`` is not a skvae estimator that weights files hold, or
        one of its parameters is not a JSON value (e.g. a ``RandomState``).

    See Also
    --------
    load : Load the file again.

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
    check_is_fitted(estimator)
    if not isinstance(estimator, BaseVAE):
        raise TypeError(
            f"save supports {sorted(saveable_classes())}, "
            f"got {type(estimator).__name__}."
        )
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
        If the file is not a skvae weights file (for example a pickle, which
        is refused rather than executed) or is damaged.

    See Also
    --------
    save : Write such a file.

    Examples
    --------
    >>> import numpy as np, tempfile, os
    >>> from skvae import VAEClassifier, load
    >>> X = np.random.RandomState(0).normal(size=(40, 3))
    >>> y = np.repeat(["a", "b"], 20)
    >>> clf = VAEClassifier(2, hidden_layer_sizes=(8,), max_iter=2).fit(X, y)
    >>> path = clf.save(os.path.join(tempfile.mkdtemp(), "clf.safetensors"))
    >>> load(path).classes_
    array(['a', 'b'], dtype='<U1')
    """
    content = read(path)
    cls = saveable_classes().get(content.estimator)
    if cls is None:
        raise ValueError(f"'{path}': unknown estimator {content.estimator!r}.")
    if content.skvae_version != __version__:
        warnings.warn(
            InconsistentVersionWarning(
                content.estimator, original=content.skvae_version, current=__version__
            ),
            stacklevel=2,
        )
    device = resolve_device(device)
    try:
        return cls._from_weights(content, device=device)
    except ValueError as exc:
        raise ValueError(f"'{path}': {exc}") from exc
