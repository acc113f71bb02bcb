"""Utilities for developers and tests: find every public estimator of skvae."""

import importlib
import inspect
import pkgutil

from sklearn.base import BaseEstimator

__all__ = ["all_estimators"]


def all_estimators():
    """The ``BaseEstimator`` subclasses that skvae's public modules export.

    Returns
    -------
    estimators : list of (name, class) tuples
        Sorted by name.

    Examples
    --------
    >>> from skvae.utils import all_estimators
    >>> "VAETransformer" in dict(all_estimators())
    True
    """
    import skvae

    found = {}
    modules = [skvae]
    for info in pkgutil.walk_packages(skvae.__path__, prefix="skvae."):
        parts = info.name.split(".")
        if any(p.startswith("_") for p in parts[1:]) or parts[1] in ("cli", "utils"):
            continue
        modules.append(importlib.import_module(info.name))
    for module in modules:
        for name in getattr(module, "__all__", []):
            obj = getattr(module, name)
            if (
                inspect.isclass(obj)
                and issubclass(obj, BaseEstimator)
                and obj.__module__.startswith("skvae")
                and not inspect.isabstract(obj)
            ):
                found[name] = obj
    return sorted(found.items())
