"""Training steps: features, fitting the recogniser and generator, the bundle."""

import os
import sys
import warnings

from .._version import __version__
from ._factories import (
    REJECT_HOLD_OUT,
    make_generator,
    make_recognizer,
    recognizer_pipeline,
)
from ._model_file import MODEL_FORMAT


def _take(X, rows):
    """The utterances ``X[rows]`` (a list, object array or 2-D array)."""
    import numpy as np

    if isinstance(X, np.ndarray):
        return X[rows]
    return [X[i] for i in np.arange(len(X))[rows]]


def _bar(verbose, **kwargs):
    """A tqdm progress bar on stderr when ``verbose`` and stderr is a terminal.

    In a log file (or a CI log) a bar would write a line per redraw.
    """
    from tqdm.auto import tqdm

    return tqdm(disable=None if verbose else True, file=sys.stderr, **kwargs)


def extract_features(features, X, *, train=None, refit=True, n_jobs=1, verbose=0):
    """Feature rows of all utterances, in chunks, with a progress bar.

    The front end (a copy) is fitted on the training utterances first, so
    that it learns their bandwidth (``training_sr_``) and band-limits the
    others to it, exactly as the recogniser fitted on the same training
    audio (:func:`fit_recognizer` with ``audio=X[train]``) will.

    Parameters
    ----------
    features : SpeechFeatures
        The front end (e.g. ``make_recognizer()["features"]``); a copy with
        ``n_jobs`` is used, ``features`` itself is not changed.
    X : array-like of shape (n_utterances,)
        Audio file paths, or waveforms at ``features.sr``.
    train : array-like of int or bool, or None, default=None
        The rows of ``X`` that are training audio, which the front end is
        fitted on; None: all of ``X``.
    refit : bool, default=True
        False: use the front end as it was fitted (e.g. a saved model's,
        ``bundle["pipeline"]["features"]``), without fitting it again;
        ``train`` is then ignored.
    n_jobs : int, default=1
        Processes (-1: all cores).
    verbose : int, default=0
        If > 0, a progress bar on stderr, when stderr is a terminal.

    Returns
    -------
    F : ndarray of shape (n_utterances, n_features)

    Raises
    ------
    skvae.features.AudioReadError
        An unreadable file (an ``OSError``; its ``path`` says which).

    Examples
    --------
    >>> import numpy as np
    >>> from skvae.recipes import extract_features, make_recognizer
    >>> waves = [np.sin(np.arange(4000) / 3.0).astype(np.float32)] * 2
    >>> extract_features(make_recognizer()["features"], waves).shape
    (2, 1280)
    """
    import copy

    import numpy as np
    from sklearn.base import clone

    if refit:
        fe = clone(features).set_params(n_jobs=n_jobs)
        fe.fit(X if train is None else _take(X, train))
    else:
        fe = copy.deepcopy(features).set_params(n_jobs=n_jobs)
    step = 64 * max(1, n_jobs if n_jobs > 0 else (os.cpu_count() or 1))
    rows = []
    with _bar(verbose, total=len(X), desc="features", unit="utt") as bar:
        for start in range(0, len(X), step):
            rows.append(fe.transform(X[start : start + step]))
            bar.update(min(step, len(X) - start))
    return np.vstack(rows)


def _check_labels(y):
    import numpy as np

    _, counts = np.unique(y, return_counts=True)
    if len(counts) < 2:
        raise ValueError("the training data holds a single label: nothing to recognise")
    if counts.min() < 2:
        raise ValueError(
            "every label needs at least 2 training utterances; got "
            f"{counts.min()} for some label"
        )
    return counts


def fit_recognizer(F, y, *, audio, groups=None, verbose=0, **params):
    """Fit :func:`make_recognizer` on feature rows computed beforehand.

    The front end is fitted on ``audio`` (it learns the bandwidth of the
    training audio from the files' headers) and the steps after it on its
    rows: the same recogniser as fitting the whole pipeline on the audio,
    without extracting the features twice. The calibration uses
    ``min(cv, smallest label count)`` folds.

    Parameters
    ----------
    F : ndarray of shape (n_utterances, n_features)
        Rows of the recogniser's front end (:func:`extract_features`, with
        ``train`` the rows of these utterances).
    y : array-like of shape (n_utterances,)
        Labels; at least two labels, each at least twice.
    audio : array-like of shape (n_utterances,) or None
        The training utterances ``F`` was computed from (file paths or
        waveforms); required, so that it is not forgotten. None fits the
        front end without audio: it then band-limits nothing, which is only
        right for rows of a front end fitted without audio too.
    groups : array-like of shape (n_utterances,), default=None
        Speakers, for a recogniser with a step that requests them.
    verbose : int, default=0
        If > 0, the VAE shows a progress bar while training.
    **params
        Parameters of :func:`make_recognizer`.

    Returns
    -------
    pipeline : RecognizerPipeline or RejectOptionClassifier
        Fitted, front end included; it takes audio. With ``reject=True``
        among ``params``, the reject option around it: its threshold is
        learned on the rows ``F`` (the front end is fitted once, on
        ``audio``, and put in front of the fitted steps afterwards, which
        gives the model that fitting on the audio would).

    Raises
    ------
    ValueError
        A single label, a label with fewer than two utterances, or ``audio``
        of another length than ``F``.

    Examples
    --------
    >>> from skvae.datasets import make_spoken_digits
    >>> from skvae.recipes import extract_features, fit_recognizer, make_recognizer
    >>> digits = make_spoken_digits(3, 2, random_state=0)
    >>> F = extract_features(make_recognizer()["features"], digits.data)
    >>> pipe = fit_recognizer(
    ...     F, digits.target, audio=digits.data, n_components=4, max_iter=2)
    >>> pipe.classes_
    array([0, 1, 2, 3, 4, 5, 6, 7, 8, 9])
    """
    from sklearn.exceptions import ConvergenceWarning

    counts = _check_labels(y)
    if audio is not None and len(audio) != len(F):
        raise ValueError(
            f"audio has {len(audio)} utterances but F has {len(F)} rows: give "
            "the training utterances the rows were computed from"
        )
    reject = params.get("reject", False)
    # the calibration folds must fit in what the reject option's hold-out
    # leaves of the smallest label
    smallest = counts.min() if not reject else counts.min() * (1 - REJECT_HOLD_OUT)
    cv = int(max(2, min(params.pop("cv", 5), smallest)))
    model = make_recognizer(cv=cv, verbose=verbose, **params)
    pipe = recognizer_pipeline(model)
    pipe.named_steps["features"].fit(audio)
    fit_params = {} if groups is None else {"groups": groups}
    with warnings.catch_warnings():
        # the number of epochs is reported instead
        warnings.simplefilter("ignore", ConvergenceWarning)
        if not reject:
            pipe[1:].fit(F, y, **fit_params)
        else:
            model = _reject_on_rows(model, pipe, F, y, fit_params)
    recognizer_pipeline(model).named_steps["vae"].set_params(verbose=0)
    return model if reject else pipe


def _reject_on_rows(model, pipe, F, y, fit_params):
    """Fit the reject option on front-end rows, then put the front end first.

    The front end ``pipe["features"]`` is already fitted (on the training
    audio); the steps after it and the threshold are learned on ``F``.
    """
    import copy

    from sklearn.base import clone

    on_rows = clone(model).set_params(estimator=pipe[1:]).fit(F, y, **fit_params)
    fitted = type(pipe)(
        [pipe.steps[0], *on_rows.estimator_.steps],
        memory=pipe.memory,
        verbose=pipe.verbose,
    )
    whole = copy.copy(on_rows)  # every fitted attribute (threshold_, ...)
    whole.set_params(estimator=clone(pipe))
    whole.estimator_ = fitted
    return whole


def fit_generator(F, y, **params):
    """Fit :func:`make_generator` on log-mel rows and their labels.

    Parameters
    ----------
    F : ndarray of shape (n_utterances, n_features)
        Log-mel rows of the recogniser's front end.
    y : array-like of shape (n_utterances,)
        Labels.
    **params
        Parameters of :func:`make_generator`.

    Returns
    -------
    generator : VAEClassifier
        Fitted (``ConvergenceWarning`` silenced: ``n_iter_`` tells).

    Examples
    --------
    >>> import numpy as np
    >>> from skvae.recipes import fit_generator
    >>> F = np.random.RandomState(0).normal(size=(40, 6))
    >>> fit_generator(F, np.arange(40) % 2, n_components=2, max_iter=2).n_iter_
    2
    """
    from sklearn.exceptions import ConvergenceWarning

    generator = make_generator(**params)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        generator.fit(F, y)
    return generator


def _latent_gaussians(Z, y, classes):
    """Mean and (Ledoit-Wolf shrunk) covariance of each class's codes."""
    import numpy as np
    from sklearn.covariance import LedoitWolf

    d = Z.shape[1]
    means = np.zeros((len(classes), d))
    covs = np.zeros((len(classes), d, d))
    for k, c in enumerate(classes):
        Zc = Z[y == c]
        means[k] = Zc.mean(axis=0)
        if len(Zc) >= 2:
            covs[k] = LedoitWolf().fit(Zc).covariance_
        else:
            covs[k] = 0.01 * np.eye(d)
        covs[k] += 1e-6 * np.eye(d)
    return means, covs


def _class_durations(durations, y, classes, default):
    import numpy as np

    out = np.full(len(classes), float(default))
    for k, c in enumerate(classes):
        d = durations[y == c]
        d = d[np.isfinite(d)]
        if d.size:
            out[k] = float(np.median(d))
    return out


def recognizer_bundle(pipeline, F, y, *, generator=None, durations=None):
    """The saved-model dict of a fitted recogniser (see the module docstring).

    Parameters
    ----------
    pipeline : RecognizerPipeline or RejectOptionClassifier
        Fitted by :func:`fit_recognizer`.
    F : ndarray of shape (n_utterances, n_features)
        The training rows: each label's latent codes give the Gaussian that
        old-style generation draws from.
    y : array-like of shape (n_utterances,)
        Their labels.
    generator : VAEClassifier or None, default=None
        Fitted by :func:`fit_generator`.
    durations : array-like of shape (n_utterances,) or None, default=None
        Duration in seconds of each training utterance (NaN where unknown),
        e.g. ``corpus.duration[train]``; None: all unknown. Each label's
        median is the length of its generated audio.

    Returns
    -------
    bundle : dict
        With empty ``"metadata"``, to be filled by the caller.

    Examples
    --------
    >>> from skvae.datasets import make_spoken_digits
    >>> from skvae.recipes import (
    ...     extract_features, fit_recognizer, make_recognizer, recognizer_bundle)
    >>> digits = make_spoken_digits(3, 2, random_state=0)
    >>> F = extract_features(make_recognizer()["features"], digits.data)
    >>> pipe = fit_recognizer(
    ...     F, digits.target, audio=digits.data, n_components=4, max_iter=2)
    >>> recognizer_bundle(pipe, F, digits.target)["latent_means"].shape
    (10, 4)
    """
    import numpy as np

    y = np.asarray(y)
    classes = pipeline.classes_
    vae = recognizer_pipeline(pipeline).named_steps["vae"]
    fe = recognizer_pipeline(pipeline).named_steps["features"]
    means, covs = _latent_gaussians(vae.transform(F), y, classes)
    if durations is None:
        durations = np.full(len(y), np.nan)
    default_len = (fe.n_frames - 1) * (fe.sr // 100) / fe.sr
    bundle = {
        "format": MODEL_FORMAT,
        # 3 only for a reject option, which older skvae versions cannot read
        "format_version": 3 if hasattr(pipeline, "threshold_") else 2,
        "pipeline": pipeline,
        "classes": classes,
        "latent_means": means,
        "latent_covs": covs,
        "durations": _class_durations(np.asarray(durations), y, classes, default_len),
        "metadata": {},
    }
    if generator is not None:
        bundle["generator"] = generator
    return bundle


_GENERATOR_PARAMS = ("n_components", "hidden_layer_sizes", "max_iter")
_GENERATOR_PARAMS += ("random_state", "device", "n_threads")


def train_recognizer(
    F, y, *, audio, durations=None, generator=True, verbose=0, **params
):
    """Fit the recogniser and the generator: the training step of ``skvae train``.

    :func:`fit_recognizer`, then :func:`fit_generator` with the same latent
    size, epochs, seed and device, then :func:`recognizer_bundle`.

    Parameters
    ----------
    F : ndarray of shape (n_utterances, n_features)
        Front-end rows of the training utterances (:func:`extract_features`).
    y : array-like of shape (n_utterances,)
        Their labels.
    audio : array-like of shape (n_utterances,) or None
        The training utterances (file paths or waveforms) the front end
        learns its bandwidth from (see :func:`fit_recognizer`).
    durations : array-like of shape (n_utterances,) or None, default=None
        Their durations in seconds (``corpus.duration[train]``).
    generator : bool, default=True
        Also fit the conditional VAE that generates utterances.
    verbose : int, default=0
        If > 0, say what is being trained, with progress bars, on stderr.
    **params
        Parameters of :func:`make_recognizer`.

    Returns
    -------
    bundle : dict
        As :func:`recognizer_bundle`, its ``metadata`` holding ``params``,
        ``epochs`` and ``train_seconds`` (of the recogniser) and
        :func:`versions`.

    Examples
    --------
    >>> from skvae.datasets import make_spoken_digits
    >>> from skvae.recipes import extract_features, make_recognizer, train_recognizer
    >>> digits = make_spoken_digits(3, 2, random_state=0)
    >>> F = extract_features(make_recognizer()["features"], digits.data)
    >>> bundle = train_recognizer(
    ...     F, digits.target, audio=digits.data, n_components=4, max_iter=2)
    >>> bundle["generator"].n_components, bundle["metadata"]["epochs"]
    (4, 2)
    """
    import time

    def info(msg):
        if verbose:
            print(msg, file=sys.stderr, flush=True)

    k = params.get("n_components", 16)
    info(
        f"training the VAE ({k}-D latent code) and the classifier on "
        f"{len(y):,} utterances ..."
    )
    if params.get("reject"):
        info(
            "with the reject option: a 20 % hold-out sets its threshold, then "
            "the recogniser is fitted again on every utterance"
        )
    start = time.perf_counter()
    pipe = fit_recognizer(F, y, audio=audio, verbose=verbose, **params)
    seconds = time.perf_counter() - start
    vae = recognizer_pipeline(pipe).named_steps["vae"]
    stopped = "early stopping" if vae.n_iter_ < vae.max_iter else "max_iter reached"
    info(f"trained in {seconds:.0f} s ({vae.n_iter_} epochs, {stopped})")
    gen = None
    if generator:
        info("training the conditional VAE that generates utterances ...")
        gen_params = {p: params[p] for p in _GENERATOR_PARAMS if p in params}
        gen = fit_generator(F, y, **gen_params)
    bundle = recognizer_bundle(pipe, F, y, generator=gen, durations=durations)
    bundle["metadata"] = {
        "params": dict(params),
        "epochs": int(vae.n_iter_),
        "train_seconds": round(seconds, 1),
        **versions(),
    }
    return bundle


def check_device(device):
    """Check that this machine has a torch device, before training on it.

    Parameters
    ----------
    device : str
        The ``device`` of :func:`make_recognizer`: "cpu", "cuda",
        "cuda:<index>", "mps" or "auto".

    Returns
    -------
    device : str
        The device it resolves to ("auto" becomes what is available).

    Raises
    ------
    ValueError
        Not a torch device, or one this machine does not have (e.g. "cuda"
        without CUDA).

    Examples
    --------
    >>> from skvae.recipes import check_device
    >>> check_device("cpu")
    'cpu'
    >>> check_device("toaster")
    Traceback (most recent call last):
    ...
    ValueError: device='toaster' is not a valid torch device; ...
    """
    from .._device import resolve_device

    try:
        return str(resolve_device(device))
    except RuntimeError as exc:  # valid, but not on this machine
        raise ValueError(str(exc)) from exc


def versions():
    """Versions of skvae, scikit-learn, torch and Python, for a model's metadata.

    Returns
    -------
    versions : dict
        ``skvae_version``, ``sklearn_version``, ``torch_version``,
        ``python_version``.

    Examples
    --------
    >>> from skvae.recipes import versions
    >>> sorted(versions())
    ['python_version', 'sklearn_version', 'skvae_version', 'torch_version']
    """
    import sklearn
    import torch

    return {
        "skvae_version": __version__,
        "sklearn_version": sklearn.__version__,
        "torch_version": torch.__version__,
        "python_version": sys.version.split()[0],
    }
