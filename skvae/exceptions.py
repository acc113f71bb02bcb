"""Warnings and errors raised by skvae (imports nothing of skvae, nor torch)."""

__all__ = ["InconsistentVersionWarning", "TrainingDiverged"]


class TrainingDiverged(FloatingPointError):
    """The loss became NaN or infinite during training; the estimator keeps the
    best epoch's finite weights (train on with a lower learning rate).

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
    original, current : str
        The skvae versions that saved and that load the model.

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
