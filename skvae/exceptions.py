"""Warnings and errors raised by skvae.

The bottom of the package: it imports nothing of skvae (and so not torch),
and every other module may import it.
"""

__all__ = ["InconsistentVersionWarning", "TrainingDiverged"]


class TrainingDiverged(FloatingPointError):
    """The loss became NaN or infinite during training.

    The estimator that raised it keeps the last finite weights (those of the
    best epoch so far), so it can still be used or trained further with a
    lower learning rate.

    Examples
    --------
    >>> from skvae.exceptions import TrainingDiverged
    >>> issubclass(TrainingDiverged, FloatingPointError)
    True
    """


class InconsistentVersionWarning(UserWarning):
    """A model is loaded with a different skvae version than it was saved with.

    Parameters
    ----------
    estimator_name : str
        Class of the loaded estimator.
    original : str
        skvae version that saved the model.
    current : str
        skvae version that loads it.

    Examples
    --------
    >>> from skvae.exceptions import InconsistentVersionWarning
    >>> w = InconsistentVersionWarning("VAETransformer", original="0.1", current="0.2")
    >>> w.original_skvae_version, w.current_skvae_version
    ('0.1', '0.2')
    """

    def __init__(self, estimator_name, *, original, current):
        self.estimator_name = estimator_name
        self.original_skvae_version = original
        self.current_skvae_version = current

    def __str__(self):
        return (
            f"Loading {self.estimator_name} saved with skvae "
            f"{self.original_skvae_version} using skvae {self.current_skvae_version}. "
            "This might lead to breaking "
            "code or invalid results; refit the model with the current version, or "
            f"use skvae {self.original_skvae_version} to load it."
        )
