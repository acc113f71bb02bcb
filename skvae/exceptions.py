"""Warnings and errors raised by skvae."""

from ._training import TrainingDiverged

__all__ = ["InconsistentVersionWarning", "TrainingDiverged"]


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
