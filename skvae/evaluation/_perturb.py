"""Data helpers: noise at an SNR, a stratified labelled subset, outlier clips."""

import numpy as np
from sklearn.model_selection import train_test_split
from sklearn.utils import check_random_state

from ..datasets._noise import _noisy
from ._common import _rng


def add_noise(X, snr_db, *, kind="white", exact_snr=True, random_state=None):
    """Add noise at a signal-to-noise ratio, measured per signal, to signals.

    Parameters
    ----------
    X : 1-D array, 2-D array or sequence of 1-D arrays
        One signal, a matrix of signals (rows), or signals of any lengths.
    snr_db : float or array-like of float
        Signal-to-noise ratio in dB: one for all, or one per signal.
    kind : {"white", "pink"}, default="white"
        Gaussian or 1/f noise (pink needs ``exact_snr``).
    exact_snr : bool, default=True
        Rescale the noise to the exact SNR; False: the SNR in expectation.
    random_state : int, RandomState, Generator or None, default=None
        Seeds the noise; signals are noised in order from one stream.

    Returns
    -------
    X_noisy : float32 array, or object array of 1-D arrays, shaped like X

    Examples
    --------
    >>> import numpy as np
    >>> from skvae.evaluation import add_noise
    >>> wave = np.sin(np.arange(8000) / 5.0).astype(np.float32)
    >>> noise = add_noise(wave, 10.0, random_state=0) - wave
    >>> print(f"{10 * np.log10(np.mean(wave**2) / np.mean(noise**2)):.1f} dB")
    10.0 dB
    >>> add_noise([wave, wave[:800]], [0.0, 20.0], random_state=0)[1].shape
    (800,)
    """
    if kind not in ("white", "pink"):
        raise ValueError(f"kind must be 'white' or 'pink', got {kind!r}")
    if kind == "pink" and not exact_snr:
        raise ValueError("kind='pink' needs exact_snr=True")
    array = isinstance(X, np.ndarray) and X.dtype != object
    if array and X.ndim not in (1, 2):
        raise ValueError(f"X must be 1-D or 2-D, got shape {X.shape}")
    signals = [X] if array and X.ndim == 1 else list(X)
    single = array and X.ndim == 1
    if not array and signals and np.isscalar(signals[0]):  # a list of numbers
        single, signals = True, [np.asarray(X)]
    snrs = np.broadcast_to(np.asarray(snr_db, dtype=float), (len(signals),))
    if not np.all(np.isfinite(snrs)):
        raise ValueError(f"snr_db must be finite, got {snr_db!r}")
    rng = _rng(random_state)
    out = [_noisy(w, s, rng, kind, exact_snr) for w, s in zip(signals, snrs)]
    if single or array:
        return out[0] if single else np.stack(out)
    result = np.empty(len(out), dtype=object)
    result[:] = out
    return result


def stratified_subset(y, size=None, *, n_per_class=None, random_state=None):
    """Indices of a labelled subset with every class in proportion.

    Parameters
    ----------
    y : array-like of shape (n_samples,)
        The labels.
    size : float or int, default=None
        A fraction in (0, 1) of the rows, or a number of rows (at least one
        per class), as ``train_test_split``'s ``train_size``.
    n_per_class : int, default=None
        Exactly this many rows of every class instead of ``size``.
    random_state : int, RandomState or None, default=None
        Seeds the draw.

    Returns
    -------
    indices : ndarray of int
        In ``train_test_split``'s order with ``size``; sorted otherwise.

    Examples
    --------
    >>> import numpy as np
    >>> from skvae.evaluation import stratified_subset
    >>> y = np.repeat([0, 1, 2], 20)
    >>> np.bincount(y[stratified_subset(y, 0.3, random_state=0)])
    array([6, 6, 6])
    >>> np.bincount(y[stratified_subset(y, n_per_class=2, random_state=0)])
    array([2, 2, 2])
    """
    y = np.asarray(y)
    if y.ndim != 1 or y.size == 0:
        raise ValueError(f"y must be a non-empty 1-D array, got shape {y.shape}")
    if (size is None) == (n_per_class is None):
        raise ValueError("give exactly one of size and n_per_class")
    classes, counts = np.unique(y, return_counts=True)
    whole = (int, np.integer)
    if n_per_class is not None:
        if isinstance(n_per_class, bool) or not isinstance(n_per_class, whole):
            raise ValueError(f"n_per_class must be an int, got {n_per_class!r}")
        if not 1 <= n_per_class <= counts.min():
            small = classes[counts < n_per_class].tolist()
            raise ValueError(
                f"n_per_class={n_per_class} must be in [1, {counts.min()}] (the "
                f"smallest class count); too few rows of class(es) {small}"
            )
        rng = check_random_state(random_state)
        rows = [np.flatnonzero(y == c) for c in classes]
        return np.sort(
            np.concatenate([rng.choice(r, n_per_class, False) for r in rows])
        )
    if isinstance(size, bool) or not isinstance(size, int | float | np.number):
        raise ValueError(f"size must be a float in (0, 1) or an int, got {size!r}")
    if isinstance(size, whole) and not len(classes) <= size < len(y):
        raise ValueError(
            f"size={size} rows must be in [{len(classes)}, {len(y)}): at least "
            "one per class, fewer than all rows"
        )
    if not isinstance(size, whole) and not 0 < size < 1:
        raise ValueError(f"a fractional size must be in (0, 1), got {size}")
    indices, _ = train_test_split(
        np.arange(len(y)), train_size=size, stratify=y, random_state=random_state
    )
    return indices


def hide_labels(y, labelled, *, missing_label=-1):
    """Labels with all rows but ``labelled`` (indices or a mask) marked with
    ``missing_label``, as ``sklearn.semi_supervised`` expects.

    Parameters
    ----------
    y : array-like of shape (n_samples,)
    labelled : array-like of int or bool
    missing_label : int or str, default=-1

    Returns
    -------
    y_partial : ndarray of shape (n_samples,)

    Examples
    --------
    >>> from skvae.evaluation import hide_labels
    >>> hide_labels([3, 1, 4, 1], [0, 2])
    array([ 3, -1,  4, -1])
    """
    y = np.asarray(y)
    if np.any(y == missing_label):
        raise ValueError(f"y already holds missing_label={missing_label!r}")
    dtype = y.dtype if y.dtype.kind in "iu" else object
    y_partial = np.full(y.shape, missing_label, dtype=dtype)
    labelled = np.asarray(labelled)
    y_partial[labelled] = y[labelled]
    return y_partial
