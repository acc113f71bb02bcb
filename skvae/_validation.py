"""The estimators' NumPy input checks and column statistics; no torch."""

import os
from numbers import Integral

import numpy as np
from sklearn.utils.validation import column_or_1d

_FLOAT32_MAX = float(np.finfo(np.float32).max)


def _check_n_samples(n_samples):
    if isinstance(n_samples, bool) or not isinstance(n_samples, Integral):
        raise TypeError(f"n_samples must be an int, got {n_samples!r}.")
    if n_samples < 1:
        raise ValueError(f"n_samples must be at least 1, got {n_samples}.")


def _index_in(known, values, error):
    """Positions of ``values`` in the sorted array ``known`` (int64); unknown
    values raise ``ValueError(error.format(unknown=<the first five>))``."""
    values = np.asarray(values)
    idx = np.clip(np.searchsorted(known, values), 0, len(known) - 1)
    unknown = known[idx] != values
    if np.any(unknown):
        raise ValueError(error.format(unknown=np.unique(values[unknown])[:5].tolist()))
    return idx.astype(np.int64)


def _check_no_missing(values, name):
    """Raise ValueError if the 1-D array ``values`` holds NaN or None."""
    if values.dtype.kind == "f":
        missing = np.isnan(values)
    elif values.dtype.kind == "O":
        missing = np.fromiter(
            (
                v is None or (isinstance(v, float | np.floating) and np.isnan(v))
                for v in values
            ),
            dtype=bool,
            count=len(values),
        )
    else:
        return
    if missing.any():
        rows = np.flatnonzero(missing)
        raise ValueError(
            f"{name} contains missing values (NaN or None) in {len(rows)} row(s), "
            f"the first at row {rows[0]}; give every row a value."
        )


def _one_per_row(values, n_rows, name, rows):
    """``values`` as a 1-D array of ``n_rows`` entries (one value repeated);
    ``rows`` ends the error message, e.g. ``"there are 3 rows"``."""
    values = np.asarray(values)
    if values.ndim == 0:
        values = np.full(n_rows, values[()])
    values = column_or_1d(values)
    if values.shape[0] != n_rows:
        raise ValueError(f"{name} has {values.shape[0]} entries, but {rows}.")
    return values


def _available_memory():
    """Bytes this process can still allocate (Linux: ``MemAvailable`` capped by
    the cgroup limit; elsewhere the physical memory), or None if unknown."""
    available = None
    try:
        with open("/proc/meminfo") as fh:
            for line in fh:
                if line.startswith("MemAvailable:"):
                    available = int(line.split()[1]) * 1024
                    break
    except (OSError, ValueError, IndexError):
        pass
    try:
        with open("/sys/fs/cgroup/memory.max") as fh:
            limit = fh.read().strip()
        with open("/sys/fs/cgroup/memory.current") as fh:
            used = int(fh.read().strip())
        if limit != "max":
            left = max(0, int(limit) - used)
            available = left if available is None else min(available, left)
    except (OSError, ValueError):
        pass
    if available is None:
        try:
            available = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES")
        except (AttributeError, ValueError, OSError):  # pragma: no cover
            return None
    return available


def _check_decoded(out, method):
    """Raise ValueError if decoding gave non-finite rows (checked in chunks)."""
    step = max(1, 2**18 // max(1, out.shape[1]))
    if not all(np.isfinite(out[i : i + step]).all() for i in range(0, len(out), step)):
        raise ValueError(
            f"{method} gave non-finite values: the decoder overflowed float32 "
            "for latent codes this far from the prior. Use codes of the size "
            "transform gives (or a smaller temperature)."
        )


def _check_float32_range(values, name, advice="rescale X"):
    """Raise ValueError unless every value (float32 or float64) is finite in
    float32, i.e. below about 3.4e38 in magnitude."""
    # a float64 sum is finite iff every value is (no big temporary)
    with np.errstate(invalid="ignore", over="ignore"):
        total = np.sum(values, dtype=np.float64)
        fits = np.isfinite(total) and (
            values.dtype == np.float32 or np.all(np.abs(values) <= _FLOAT32_MAX)
        )
    if not fits:
        raise ValueError(
            f"{name} has values too large for float32 (|x| above about 3.4e38); "
            f"{advice}."
        )


def _is_constant(mean, scale, n_samples):
    """Columns whose spread is within the rounding error of their mean: a
    standard deviation of at most ``n_samples * eps * |mean|`` (float64)."""
    return scale <= n_samples * np.finfo(np.float64).eps * np.abs(mean)


def _mean_std(X, chunk_rows=None):
    """Per-column float64 mean and standard deviation, in two passes over row
    chunks (about 2 MB by default) instead of full-size float64 copies."""
    n = X.shape[0]
    if chunk_rows is None:
        chunk_rows = max(1, 2**18 // max(1, X.shape[1]))
    total = np.zeros(X.shape[1])
    with np.errstate(over="ignore", invalid="ignore"):
        for i in range(0, n, chunk_rows):
            total += X[i : i + chunk_rows].sum(axis=0, dtype=np.float64)
        mean = total / n
        sq = np.zeros(X.shape[1])
        for i in range(0, n, chunk_rows):
            d = X[i : i + chunk_rows] - mean
            sq += np.einsum("ij,ij->j", d, d)
    return mean, np.sqrt(sq / n)


def _unique_groups(groups):
    """``np.unique`` with inverse and counts; a clear error for mixed types."""
    try:
        return np.unique(groups, return_inverse=True, return_counts=True)
    except TypeError as exc:  # e.g. strings and numbers in one array
        raise ValueError(
            f"groups mixes values that cannot be compared ({exc}); use groups of "
            "one type, e.g. all strings or all ints."
        ) from exc
