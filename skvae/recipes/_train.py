"""Training steps: fitting the recogniser and the generator, and the bundle."""

import inspect
import sys
import warnings

from ._factories import (
    REJECT_HOLD_OUT,
    make_generator,
    make_recognizer,
    resolve_augment,
    resolve_auto,
)
from ._model_file import MODEL_FORMAT, MODEL_FORMAT_VERSION
from ._rows import as_utterances, generator_rows


def _check_labels(y):
    """The count of each label; ValueError unless 2+ labels, each 2+ times."""
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


def _fitted_rows_pipeline(recognizer):
    """The fitted Pipeline of "vae" and "clf" (inside the reject option if any)."""
    model = recognizer["model"]
    return getattr(model, "estimator_", model)


def _fitted_vae(recognizer):
    """The fitted VAE step of a recogniser, or None (``vae=None``)."""
    return _fitted_rows_pipeline(recognizer).named_steps.get("vae")


def _samplers(recognizer):
    """The fit-time samplers of a recogniser (the steps before "features")."""
    return [(n, s) for n, s in recognizer.steps if hasattr(s, "fit_resample")]


def _augmented(recognizer, F, y, audio, features, groups=None):
    """``F``, ``y`` and ``groups`` with the rows of the recogniser's samplers
    added.

    The samplers run on ``audio`` in turn (each keeps its input first, in
    order); only the added utterances go through ``features``. A copy of an
    utterance keeps its group; a generated one gets ``"kind=value"`` from the
    sampler's ``perturbations_`` (``"voice=en-us+m1"``, ``"filler=..."``).
    """
    import numpy as np

    samplers = _samplers(recognizer)
    groups = None if groups is None else np.asarray(groups, dtype=object)
    if groups is not None and len(groups) != len(y):
        raise ValueError(f"groups has {len(groups)} entries, but y has {len(y)}")
    if not samplers:
        return F, y, groups
    if audio is None:
        names = ", ".join(name for name, _ in samplers)
        raise ValueError(
            f"the recogniser augments its training audio ({names}): pass "
            "audio= (the utterances F came from), or augment=None"
        )
    if len(audio) != len(y):
        raise ValueError(f"audio has {len(audio)} utterances, but y has {len(y)}")
    X, y_new = list(audio), np.asarray(y)
    for _, sampler in samplers:
        n_in = len(X)
        X, y_new = sampler.fit_resample(X, y_new)
        if groups is None:
            continue
        index = getattr(sampler, "sample_indices_", None)
        if index is not None:
            groups = groups[np.asarray(index)]
            continue
        tags = getattr(sampler, "perturbations_", [])[n_in:]
        added = [f"{kind}={value}" for kind, value in tags]
        added += ["generated"] * (len(X) - n_in - len(added))
        groups = np.concatenate([groups, np.asarray(added, dtype=object)])
    n = len(y)
    if not np.array_equal(y_new[:n], np.asarray(y)):
        raise ValueError("a sampler did not keep the training utterances first")
    added = features.transform(X[n:])
    if isinstance(F, np.ndarray) and F.dtype != object:
        return np.concatenate([F, added]), y_new, groups
    return [*F, *added], y_new, groups


def fit_recognizer(F, y, *, features, audio=None, groups=None, verbose=0, **params):
    """Fit :func:`make_recognizer` on front-end rows computed once.

    ``features`` (the fitted front end ``F`` came from) becomes the
    ``"features"`` step and the ``"model"`` step is fitted on ``F``. The
    calibration uses ``min(cv, smallest label count)`` folds. With
    augmentation (``augment``), the samplers run on ``audio`` and only the
    utterances they add go through ``features``.

    Parameters
    ----------
    F : ndarray of shape (n_utterances, n_features) or sequence of ndarray
        ``features.transform`` of the training utterances (for a sequence
        front end, one array of frames per utterance).
    y : array-like of shape (n_utterances,)
        Labels; at least two labels, each at least twice.
    features : SpeechFeatures
        The fitted front end (``make_recognizer()["features"]`` fitted on
        the training audio).
    audio : sequence or None, default=None
        The training utterances (paths or waveforms at the front end's
        ``sr``) ``F`` came from; needed when the recogniser augments.
    groups : array-like of shape (n_utterances,) or None, default=None
        The speaker of each utterance. With ``reject=True`` the reject
        option holds out whole speakers (and whole generated voices) to set
        its threshold, so that its false-rejection target holds for new
        voices; otherwise unused. None: utterances are held out.
    verbose : int, default=0
        If > 0, the VAE shows a progress bar while training.
    **params
        Other parameters of :func:`make_recognizer` (the front end's are ignored).

    Returns
    -------
    recognizer : RecognizerPipeline or ResamplingPipeline
        Fitted; ``ValueError`` for a single label, or one with one utterance.

    Examples
    --------
    >>> from skvae.datasets import make_spoken_digits
    >>> from skvae.recipes import fit_recognizer, make_recognizer
    >>> digits = make_spoken_digits(3, 2, random_state=0)
    >>> fe = make_recognizer()["features"].fit(digits.data)
    >>> F = fe.transform(digits.data)
    >>> rec = fit_recognizer(F, digits.target, features=fe, audio=digits.data,
    ...                      n_components=4, max_iter=2, augment="perturb")
    >>> rec.classes_, len(rec["perturb"].sample_indices_)
    (array([0, 1, 2, 3, 4, 5, 6, 7, 8, 9]), 180)
    """
    from sklearn.exceptions import ConvergenceWarning

    counts = _check_labels(y)
    # the calibration folds must fit in the smallest label's training part
    smallest = counts.min() * (1 - REJECT_HOLD_OUT if params.get("reject") else 1)
    cv = int(max(2, min(params.pop("cv", 5), smallest)))
    recognizer = make_recognizer(cv=cv, verbose=verbose, **params)
    wanted = recognizer["features"]
    for name in ("output", "cmvn"):
        if getattr(features, name, None) != getattr(wanted, name):
            raise ValueError(
                f"features has {name}={getattr(features, name, None)!r}, but the "
                f"recogniser of these parameters needs {getattr(wanted, name)!r}: "
                "use make_recognizer(**the same parameters)['features']"
            )
    recognizer.set_params(features=features)
    F, y, groups = _augmented(recognizer, F, y, audio, features, groups)
    split = {"groups": groups} if groups is not None and params.get("reject") else {}
    with warnings.catch_warnings():  # the number of epochs is reported instead
        warnings.simplefilter("ignore", ConvergenceWarning)
        recognizer["model"].fit(as_utterances(F), y, **split)
    vae = _fitted_vae(recognizer)
    if vae is not None:
        vae.set_params(verbose=0)
    return recognizer


def fit_generator(F, y, **params):
    """Fit :func:`make_generator` on log-mel rows and their labels.

    Parameters
    ----------
    F : ndarray of shape (n_utterances, n_features)
        Plain log-mel rows (:func:`generator_rows`).
    y : array-like of shape (n_utterances,)
        Labels.
    **params
        Parameters of :func:`make_generator`.

    Returns
    -------
    generator : VAEClassifier
        Fitted (without ``ConvergenceWarning``).

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


def band_variances(rows, y, classes, n_mels):
    """Each label's global variance: per mel band, the mean over its
    utterances of the band's variance over time (:func:`generate_utterances`
    matches generated rows to it).

    Parameters
    ----------
    rows : ndarray of shape (n_utterances, n_frames * n_mels)
        Plain log-mel rows (:func:`generator_rows`).
    y : array-like of shape (n_utterances,)
        Their labels.
    classes : array-like of shape (n_classes,)
        The labels, in the order of the result.
    n_mels : int
        Mel bands per frame.

    Returns
    -------
    variances : ndarray of shape (n_classes, n_mels)
        NaN for a label without rows.

    Examples
    --------
    >>> import numpy as np
    >>> from skvae.recipes import band_variances
    >>> rows = np.array([[0.0, 1.0, 2.0, 1.0], [0.0, 0.0, 0.0, 0.0]])
    >>> band_variances(rows, [0, 1], [0, 1], n_mels=2)  # 2 frames x 2 bands
    array([[1., 0.],
           [0., 0.]])
    """
    import numpy as np

    R = np.asarray(rows, dtype=np.float64)
    R = R.reshape(len(R), -1, n_mels)
    y = np.asarray(y)
    out = np.full((len(classes), n_mels), np.nan)
    for k, c in enumerate(classes):
        if np.any(y == c):
            out[k] = R[y == c].var(axis=1).mean(axis=0)
    return out


def recognizer_bundle(recognizer, y, *, generator=None, durations=None, variances=None):
    """The saved-model dict of a fitted recogniser (see :mod:`skvae.recipes`).

    The fit-time samplers of an augmenting recogniser are left out: the
    bundle's ``"recognizer"`` is the :class:`RecognizerPipeline` of its
    ``"features"`` and ``"model"`` (the augmentation is in the metadata's
    ``params``).

    Parameters
    ----------
    recognizer : RecognizerPipeline or ResamplingPipeline
        Fitted (:func:`fit_recognizer`).
    y : array-like of shape (n_utterances,)
        The labels of its training utterances.
    generator : VAEClassifier or None, default=None
        Fitted by :func:`fit_generator`.
    durations : array-like of shape (n_utterances,) or None, default=None
        Duration in seconds of each training utterance (NaN or None: unknown,
        then the length of the front end's rows).
    variances : ndarray of shape (n_classes, n_mels) or None, default=None
        :func:`band_variances` of the generator's rows, kept as
        ``"band_variances"`` for :func:`generate_utterances`.

    Returns
    -------
    bundle : dict
        With empty ``"metadata"``, to be filled by the caller.

    Examples
    --------
    >>> from skvae.datasets import make_spoken_digits
    >>> from skvae.recipes import make_recognizer, recognizer_bundle
    >>> digits = make_spoken_digits(3, 2, random_state=0)
    >>> rec = make_recognizer(max_iter=2, cv=2, augment=None)
    >>> rec = rec.fit(digits.data, digits.target)
    >>> recognizer_bundle(rec, digits.target)["durations"].round(2)[:3]
    array([0.31, 0.31, 0.31])
    """
    import numpy as np

    from ._pipeline import RecognizerPipeline

    y = np.asarray(y)
    if _samplers(recognizer):
        kept = [(n, s) for n, s in recognizer.steps if n in ("features", "model")]
        recognizer = RecognizerPipeline(kept)
    classes = recognizer.classes_
    fe = recognizer["features"]
    default = (fe.n_frames - 1) * (fe.sr // 100) / fe.sr
    durations = np.full(len(y), np.nan) if durations is None else np.asarray(durations)
    per_label = np.full(len(classes), float(default))
    for k, c in enumerate(classes):
        d = durations[(y == c) & np.isfinite(durations)]
        if d.size:
            per_label[k] = float(np.median(d))
    bundle = {
        "format": MODEL_FORMAT,
        "format_version": MODEL_FORMAT_VERSION,
        "recognizer": recognizer,
        "durations": per_label,
        "metadata": {},
    }
    if generator is not None:
        bundle["generator"] = generator
    if variances is not None:
        bundle["band_variances"] = np.asarray(variances, dtype=np.float64)
    return bundle


def train_recognizer(
    F,
    y,
    *,
    features,
    durations=None,
    generator=True,
    audio=None,
    groups=None,
    verbose=0,
    **params,
):
    """Fit the recogniser and the generator: the training step of ``skvae train``.

    :func:`fit_recognizer`, :func:`fit_generator` with the parameters they
    share, then :func:`recognizer_bundle`.

    Parameters
    ----------
    F, y, features, groups, verbose, **params
        As for :func:`fit_recognizer` (``verbose`` also prints progress).
    durations : array-like of shape (n_utterances,) or None, default=None
        Durations in seconds of the training utterances (see
        :func:`recognizer_bundle`).
    generator : bool, default=True
        Also fit the conditional VAE that generates utterances, on
        :func:`generator_rows` (plain log-mel rows of ``n_frames`` frames).
    audio : sequence or None, default=None
        The training utterances (paths or waveforms) ``F`` came from; the
        generator needs them when the front end normalises each utterance
        (``cmvn``), to fit on plain log-mel rows.

    Returns
    -------
    bundle : dict
        Its ``metadata`` holds ``params``, ``epochs`` (of the VAE step; None
        without one) and ``train_seconds``.

    Examples
    --------
    >>> from skvae.datasets import make_spoken_digits
    >>> from skvae.recipes import make_recognizer, train_recognizer
    >>> digits = make_spoken_digits(3, 2, random_state=0)
    >>> fe = make_recognizer()["features"].fit(digits.data)
    >>> bundle = train_recognizer(fe.transform(digits.data), digits.target,
    ...                           features=fe, audio=digits.data,
    ...                           n_components=4, max_iter=2, augment=None)
    >>> bundle["generator"].n_components, bundle["metadata"]["epochs"]
    (4, 2)
    """
    import time

    def info(msg):
        if verbose:
            print(msg, file=sys.stderr, flush=True)

    k = params.get("n_components", 16)
    kind = inspect.signature(make_recognizer).parameters["vae"].default
    kind = resolve_auto(params.get("vae", kind), None, params.get("reject"))[0]
    what = {"flat": "the VAE", "sequence": "the sequence VAE"}.get(kind)
    what = f"{what} ({k}-D) and the classifier" if what else "the classifier (no VAE)"
    info(f"training {what} on {len(y):,} utterances ...")
    augment = inspect.signature(make_recognizer).parameters["augment"].default
    augment = resolve_augment(params.get("augment", augment), params.get("reject"))
    if augment is not None:
        info(
            {
                "voices": "with generated voices saying every label",
                "perturb": "with two voice-perturbed copies of every utterance",
                "voices+perturb": "with generated voices saying every label, "
                "and two voice-perturbed copies of every utterance",
                "filler": "with generated voices saying other words (the "
                "filler class of the reject option)",
                "voices+filler": "with generated voices saying every label, "
                "and other words (the filler class of the reject option)",
            }[augment]
            + " (augment=None trains faster)"
        )
    if params.get("reject"):
        held = "speakers" if groups is not None else "utterances"
        info(
            f"with the reject option: a 20 % hold-out of the {held} sets its "
            "threshold, then the recogniser is fitted again on every utterance"
        )
    start = time.perf_counter()
    rec = fit_recognizer(
        F, y, features=features, audio=audio, groups=groups, verbose=verbose, **params
    )
    seconds = time.perf_counter() - start
    vae = _fitted_vae(rec)
    if vae is None:
        info(f"trained in {seconds:.0f} s")
    else:
        stop = "early stopping" if vae.n_iter_ < vae.max_iter else "max_iter reached"
        info(f"trained in {seconds:.0f} s ({vae.n_iter_} epochs, {stop})")
    gen = variances = None
    if generator:
        info("training the conditional VAE that generates utterances ...")
        shared = inspect.signature(make_generator).parameters.keys() & params
        rows = generator_rows(features, F, audio)
        gen = fit_generator(rows, y, **{p: params[p] for p in shared})
        variances = band_variances(rows, y, gen.classes_, features.n_mels)
    bundle = recognizer_bundle(
        rec, y, generator=gen, durations=durations, variances=variances
    )
    bundle["metadata"] = {
        "params": dict(params),
        "epochs": None if vae is None else int(vae.n_iter_),
        "train_seconds": round(seconds, 1),
    }
    return bundle


def check_device(device):
    """Check that this machine has a torch device, before training on it.

    Parameters
    ----------
    device : str
        "cpu", "cuda", "cuda:<index>", "mps" or "auto".

    Returns
    -------
    device : str
        The device it resolves to ("auto" becomes what is available);
        ``ValueError`` if not a torch device or not on this machine.

    Examples
    --------
    >>> from skvae.recipes import check_device
    >>> check_device("cpu")
    'cpu'
    """
    from .._device import resolve_device

    try:
        return str(resolve_device(device))
    except RuntimeError as exc:  # valid, but not on this machine
        raise ValueError(str(exc)) from exc
