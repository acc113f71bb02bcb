"""How well a speech model does, measured against baselines in the same run.

Protocols:

- :func:`baseline_scores`, :func:`recognizer_accuracies`: a model's
  accuracy next to PCA and raw-feature baselines with the same classifier,
  on the same split.
- :func:`speaker_held_out`: train again without one speaker and test on
  that speaker (what ``skvae train`` reports); :func:`leave_one_speaker_out`:
  every speaker in turn (mean and worst speaker).
- :func:`few_label_scores`: a representation fitted on all training inputs
  without labels, a classifier on a stratified few of the labels.
- :func:`evaluate_recognizer`, :func:`generation_check`,
  :func:`open_set_check`, :func:`latent_map`, :func:`format_summary`:
  everything the summary and the report of ``skvae train`` show.

Data helpers shared by the benchmarks and examples:

- :func:`add_noise`: noise at a given signal-to-noise ratio;
- :func:`stratified_subset`, :func:`hide_labels`: a labelled subset;
- :func:`make_outlier_clips`: non-speech clips as long and loud as speech.

``random_state`` follows scikit-learn (None, an int seeding a
``RandomState``, or a ``RandomState``) and also accepts a
``numpy.random.Generator``; an instance is used and advanced as is.
"""

import sys

import numpy as np
from sklearn.base import clone
from sklearn.decomposition import PCA
from sklearn.model_selection import train_test_split
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler
from sklearn.utils import Bunch, check_random_state

from . import recipes
from .recipes._factories import _on_rows

__all__ = [
    "OUTLIER_KINDS",
    "add_noise",
    "baseline_scores",
    "evaluate_recognizer",
    "few_label_scores",
    "format_open_set",
    "format_summary",
    "generated_rate",
    "generation_check",
    "hide_labels",
    "latent_map",
    "leave_one_speaker_out",
    "make_outlier_clips",
    "open_set_check",
    "recognizer_accuracies",
    "speaker_held_out",
    "stratified_subset",
]

#: The kinds of :func:`make_outlier_clips`, in the order they are made.
OUTLIER_KINDS = ("white noise", "pink noise", "tone", "chirp", "reversed speech")


def _rng(random_state):
    if isinstance(random_state, np.random.Generator):
        return random_state
    return check_random_state(random_state)


def _rows(X, index):
    """``X[index]`` for an array, a list or another sequence of utterances."""
    if isinstance(X, np.ndarray):
        return X[index]
    return [X[i] for i in np.arange(len(X))[index]]


def _bar(verbose, **kwargs):
    """A tqdm bar on stderr when ``verbose`` and stderr is a terminal (a log
    would get a line per redraw)."""
    from tqdm.auto import tqdm

    return tqdm(disable=None if verbose else True, file=sys.stderr, **kwargs)


def _info(verbose, msg):
    if verbose:
        print(msg, file=sys.stderr, flush=True)


# --------------------------------------------------------------------------
# data helpers
# --------------------------------------------------------------------------
def _pink(n, rng):
    """Pink (1/f power) noise of length n, of arbitrary scale."""
    spec = np.fft.rfft(rng.standard_normal(n))
    f = np.arange(spec.shape[0], dtype=np.float64)
    f[0] = 1.0
    return np.fft.irfft(spec / np.sqrt(f), n)


def _noisy(wave, snr_db, rng, kind, exact_snr):
    wave = np.asarray(wave)
    if wave.ndim != 1 or wave.size == 0:
        raise ValueError(
            f"each signal must be a non-empty 1-D array, got shape {wave.shape}"
        )
    if exact_snr:
        noise = rng.standard_normal(wave.shape[0])
        if kind == "pink":  # drawn after the white draw, as the benchmark did
            noise = _pink(wave.shape[0], rng)
        power = np.mean(wave.astype(np.float64) ** 2)
        noise *= np.sqrt(power / 10 ** (snr_db / 10) / np.mean(noise**2))
        return (wave + noise).astype(np.float32)
    power = np.mean(np.square(wave, dtype=np.float64))
    std = np.sqrt(power / 10 ** (snr_db / 10))
    return (wave + rng.normal(0.0, std, wave.shape)).astype(np.float32)


def add_noise(X, snr_db, *, kind="white", exact_snr=True, random_state=None):
    """Add noise at a signal-to-noise ratio to waveforms (or any signals).

    The SNR is measured per signal: the noise power is the signal's mean
    power divided by ``10 ** (snr_db / 10)``.

    Parameters
    ----------
    X : 1-D array, 2-D array or sequence of 1-D arrays
        One waveform; a matrix whose rows are signals; or several waveforms
        of any lengths (a list, or an object array as in
        :func:`skvae.datasets.fetch_fsdd` with ``load_audio=True``).
    snr_db : float or array-like of float
        Signal-to-noise ratio in dB: one for all, or one per signal.
    kind : {"white", "pink"}, default="white"
        White Gaussian noise, or pink (1/f) noise (only with ``exact_snr``).
    exact_snr : bool, default=True
        True: the drawn noise is rescaled so that each signal's SNR is
        exactly ``snr_db`` (``rng.standard_normal(n)`` draws, rescaled).
        False: white noise of standard deviation
        ``sqrt(power / 10 ** (snr_db / 10))`` (``rng.normal`` draws), so
        the SNR holds in expectation.
    random_state : int, RandomState, Generator or None, default=None
        Seeds the noise. Signals are noised in order from the same stream.

    Returns
    -------
    X_noisy : like X, float32
        A 1-D array, a 2-D array, or an object array of 1-D arrays.

    Notes
    -----
    Reproduces the copies this replaces draw for draw:
    ``benchmarks/bench_generative.py``'s ``add_noise(wave, snr, rng, kind)``
    and ``examples/denoising.py``'s ``add_white_noise(wave, snr, rng)`` are
    ``add_noise(wave, snr, kind=kind, random_state=rng)`` (default
    ``exact_snr=True``); ``benchmarks/bench_recognition.py``'s
    ``add_noise(waves, snr, seed)`` is ``add_noise(waves, snr,
    exact_snr=False, random_state=np.random.default_rng(seed))``.

    Examples
    --------
    >>> import numpy as np
    >>> from skvae.evaluation import add_noise
    >>> wave = np.sin(np.arange(8000) / 5.0).astype(np.float32)
    >>> noisy = add_noise(wave, 10.0, random_state=0)
    >>> noise = noisy - wave
    >>> print(f"{10 * np.log10(np.mean(wave**2) / np.mean(noise**2)):.1f} dB")
    10.0 dB
    >>> add_noise([wave, wave[:800]], [0.0, 20.0], random_state=0)[1].shape
    (800,)
    """
    if kind not in ("white", "pink"):
        raise ValueError(f"kind must be 'white' or 'pink', got {kind!r}")
    if kind == "pink" and not exact_snr:
        raise ValueError("kind='pink' needs exact_snr=True")
    rng = _rng(random_state)
    single = isinstance(X, np.ndarray) and X.dtype != object and X.ndim == 1
    if single:
        signals = [X]
    elif isinstance(X, np.ndarray) and X.dtype != object and X.ndim == 2:
        signals = list(X)
    elif isinstance(X, np.ndarray) and X.dtype != object:
        raise ValueError(f"X must be 1-D or 2-D, got shape {X.shape}")
    else:
        signals = list(X)
        if signals and np.isscalar(signals[0]):  # a plain list of numbers
            single, signals = True, [np.asarray(X)]
    snrs = np.broadcast_to(np.asarray(snr_db, dtype=float), (len(signals),))
    if not np.all(np.isfinite(snrs)):
        raise ValueError(f"snr_db must be finite, got {snr_db!r}")
    out = [_noisy(w, s, rng, kind, exact_snr) for w, s in zip(signals, snrs)]
    if single:
        return out[0]
    if isinstance(X, np.ndarray) and X.dtype != object:
        return np.stack(out)
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
        A float in (0, 1): that fraction of the rows (rounded down, as
        :func:`~sklearn.model_selection.train_test_split` does); an int:
        that many rows, at least one per class. Give ``size`` or
        ``n_per_class``.
    n_per_class : int, default=None
        Exactly this many rows of every class instead.
    random_state : int, RandomState or None, default=None
        Seeds the draw.

    Returns
    -------
    indices : ndarray of int
        With ``size``: in the (shuffled) order
        :func:`~sklearn.model_selection.train_test_split` returns them, as
        the copies it replaces used them; with ``n_per_class``: sorted.

    Notes
    -----
    ``stratified_subset(y, fraction, random_state=draw)`` is the draw of
    ``benchmarks/bench_recognition.py`` (``label_draw``),
    ``examples/few_labels.py`` and ``examples/semi_supervised.py``;
    ``benchmarks/bench_generative.py``'s ``labelled_subset(y, frac, seed)``
    is ``stratified_subset(y, max(round(frac * len(y)), n_classes),
    random_state=seed)`` (the same rows as the fraction on FSDD's 2,700
    training rows at 3 % and 10 %).

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
    if n_per_class is not None:
        if isinstance(n_per_class, bool) or not isinstance(
            n_per_class, int | np.integer
        ):
            raise ValueError(f"n_per_class must be an int, got {n_per_class!r}")
        if not 1 <= n_per_class <= counts.min():
            small = classes[counts < n_per_class].tolist()
            raise ValueError(
                f"n_per_class={n_per_class} must be in [1, {counts.min()}] (the "
                f"smallest class count); too few rows of class(es) {small}"
            )
        rng = check_random_state(random_state)
        picked = [
            rng.choice(np.flatnonzero(y == c), n_per_class, replace=False)
            for c in classes
        ]
        return np.sort(np.concatenate(picked))
    if isinstance(size, bool) or not isinstance(size, int | float | np.number):
        raise ValueError(f"size must be a float in (0, 1) or an int, got {size!r}")
    if isinstance(size, int | np.integer):
        if not len(classes) <= size < len(y):
            raise ValueError(
                f"size={size} rows must be in [{len(classes)}, {len(y)}): at least "
                "one per class, fewer than all rows"
            )
    elif not 0 < size < 1:
        raise ValueError(f"a fractional size must be in (0, 1), got {size}")
    indices, _ = train_test_split(
        np.arange(len(y)), train_size=size, stratify=y, random_state=random_state
    )
    return indices


def hide_labels(y, labelled, *, missing_label=-1):
    """Labels with all but some rows marked unlabelled (semi-supervised ``y``).

    Parameters
    ----------
    y : array-like of shape (n_samples,)
        The labels.
    labelled : array-like of int or bool
        Rows that keep their label (e.g. :func:`stratified_subset`).
    missing_label : int or str, default=-1
        The mark of an unlabelled row (``-1``, as in
        ``sklearn.semi_supervised`` and :class:`skvae.VAEClassifier`).

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
    if y.dtype.kind in "iu":
        y_partial = np.full_like(y, missing_label)
    else:
        y_partial = np.full(y.shape, missing_label, dtype=object)
    labelled = np.asarray(labelled)
    y_partial[labelled] = y[labelled]
    return y_partial


def _randint(rng, n):
    return rng.integers(n) if isinstance(rng, np.random.Generator) else rng.randint(n)


def make_outlier_clips(
    waveforms,
    *,
    kinds=OUTLIER_KINDS,
    n_per_kind=60,
    sr=8000,
    snr_db=-5.0,
    random_state=None,
):
    """Clips that are not clean speech, each as long and loud as an utterance.

    For each clip a reference utterance is drawn from ``waveforms``; the
    clip has its length and its RMS level.

    Parameters
    ----------
    waveforms : sequence of 1-D arrays
        Utterances (e.g. the test waveforms).
    kinds : sequence of str, default=OUTLIER_KINDS
        Among ``"white noise"``, ``"pink noise"``, ``"tone"`` (a sine,
        100-3500 Hz), ``"chirp"`` (a linear sweep between two such
        frequencies), ``"reversed speech"`` (the reference played
        backwards) and ``"speech in noise"`` (the reference plus white noise
        at ``snr_db``).
    n_per_kind : int, default=60
        Clips of each kind.
    sr : int, default=8000
        Sample rate of the waveforms.
    snr_db : float, default=-5.0
        SNR of ``"speech in noise"``.
    random_state : int, RandomState, Generator or None, default=None
        Seeds the draws.

    Returns
    -------
    clips : list of float32 ndarrays
        Kind by kind, in the order of ``kinds``.
    clip_kinds : ndarray of str
        The kind of each clip.

    Notes
    -----
    With its defaults and ``random_state=np.random.RandomState(0)`` this is
    ``synthesise_outliers`` of ``benchmarks/bench_generative.py``, draw for
    draw. ``examples/outliers.py`` (``kinds=("white noise", "tone",
    "reversed speech", "speech in noise")``, ``n_per_kind=50``) draws the
    same numbers; its clips differ only in the last bits (it reverses a
    float64 copy of the utterance, and multiplies before dividing in the
    tone's phase).

    Examples
    --------
    >>> import numpy as np
    >>> from skvae.evaluation import make_outlier_clips
    >>> speech = [np.sin(np.arange(n) / 7.0).astype(np.float32) for n in (800, 1200)]
    >>> clips, kinds = make_outlier_clips(speech, n_per_kind=2, random_state=0)
    >>> len(clips), kinds[::2].tolist()
    (10, ['white noise', 'pink noise', 'tone', 'chirp', 'reversed speech'])
    """
    known = (*OUTLIER_KINDS, "speech in noise")
    unknown = [k for k in kinds if k not in known]
    if unknown:
        raise ValueError(f"unknown outlier kinds {unknown}; choose from {known}")
    waveforms = list(waveforms)
    if not waveforms:
        raise ValueError("waveforms is empty: no utterance to take lengths from")
    rng = _rng(random_state)
    clips, clip_kinds = [], []
    for kind in kinds:
        for _ in range(n_per_kind):
            ref = np.asarray(waveforms[_randint(rng, len(waveforms))])
            n = ref.shape[0]
            t = np.arange(n) / sr
            rms_ref = np.sqrt(np.mean(ref.astype(np.float64) ** 2))
            if kind == "white noise":
                x = rng.standard_normal(n)
            elif kind == "pink noise":
                x = _pink(n, rng)
            elif kind == "tone":
                x = np.sin(2 * np.pi * rng.uniform(100, 3500) * t)
            elif kind == "chirp":
                f0, f1 = rng.uniform(100, 3500, size=2)
                x = np.sin(2 * np.pi * (f0 * t + (f1 - f0) * t**2 / (2 * t[-1])))
            elif kind == "reversed speech":
                x = ref[::-1].copy()
            else:
                noise = rng.standard_normal(n) * rms_ref * 10 ** (-snr_db / 20)
                x = ref.astype(np.float64) + noise
            x = x * rms_ref / np.sqrt(np.mean(x**2))
            clips.append(x.astype(np.float32))
            clip_kinds.append(kind)
    return clips, np.array(clip_kinds)


# --------------------------------------------------------------------------
# baselines and protocols
# --------------------------------------------------------------------------
def baseline_scores(
    X_train,
    y_train,
    X_test,
    y_test,
    *,
    classifier,
    n_components,
    random_state=None,
    feature_name="raw",
    classifier_name=None,
):
    """Accuracy of PCA and raw-feature baselines with a given classifier.

    Both standardise the features first: ``StandardScaler -> PCA ->
    classifier`` and ``StandardScaler -> classifier``.

    Parameters
    ----------
    X_train, y_train, X_test, y_test : arrays
        Feature rows and labels of the training and test sets.
    classifier : estimator
        Cloned for each baseline.
    n_components : int
        Dimension of PCA (give the model's latent dimension).
    random_state : int or None, default=None
        Seed of PCA.
    feature_name : str, default="raw"
        How the features are named in the result, e.g. ``"log-mel"``.
    classifier_name : str or None, default=None
        How the classifier is named; None: its class name.

    Returns
    -------
    scores : dict
        ``{"PCA (k-D) + name": accuracy, "feature_name (d-D) + name": ...}``.

    Examples
    --------
    >>> import numpy as np
    >>> from sklearn.svm import SVC
    >>> from skvae.evaluation import baseline_scores
    >>> rng = np.random.RandomState(0)
    >>> X, y = rng.normal(size=(60, 5)), np.arange(60) % 2
    >>> X[:, 0] += 3 * y
    >>> baseline_scores(X[:40], y[:40], X[40:], y[40:], classifier=SVC(),
    ...                 n_components=2)
    {'PCA (2-D) + SVC': 0.7, 'raw (5-D) + SVC': 0.9}
    """
    name = classifier_name or type(classifier).__name__
    d = np.shape(X_train)[1]
    models = {
        f"PCA ({n_components}-D) + {name}": make_pipeline(
            StandardScaler(),
            PCA(n_components, random_state=random_state),
            clone(classifier),
        ),
        f"{feature_name} ({d}-D) + {name}": make_pipeline(
            StandardScaler(), clone(classifier)
        ),
    }
    return {
        key: float(est.fit(X_train, y_train).score(X_test, y_test))
        for key, est in models.items()
    }


def recognizer_accuracies(
    pipeline, F_train, y_train, F_test, y_test, *, random_state=0
):
    """Accuracy of a fitted recogniser and of its PCA and raw baselines.

    The baselines use a fresh copy of the recogniser's classifier without
    its probability calibration, which does not change the labels it
    predicts (only accuracy is compared) and would cost more fits.

    Parameters
    ----------
    pipeline : RecognizerPipeline
        A recogniser of :func:`skvae.recipes.make_recognizer`, fitted.
    F_train, y_train, F_test, y_test : arrays
        Front-end rows and labels (:func:`skvae.recipes.extract_features`).
    random_state : int, default=0
        Seed of PCA.

    Returns
    -------
    accuracy : dict
        ``{"VAE (k-D) + SVC": ..., "PCA (k-D) + SVC": ...,
        "log-mel (d-D) + SVC": ...}``.
    y_pred : ndarray
        The recogniser's predictions on ``F_test``.

    Examples
    --------
    >>> from skvae.datasets import load_corpus, split_corpus
    >>> from skvae.evaluation import recognizer_accuracies
    >>> from skvae.recipes import extract_features, fit_recognizer, make_recognizer
    >>> corpus = load_corpus("generated", n_speakers=3, n_repeats=2)
    >>> train, test, _ = split_corpus(corpus, "random")
    >>> F = extract_features(make_recognizer()["features"], corpus.data, train=train)
    >>> y = corpus.target
    >>> pipe = fit_recognizer(
    ...     F[train], y[train], audio=corpus.data[train], n_components=4, max_iter=2)
    >>> acc, pred = recognizer_accuracies(pipe, F[train], y[train], F[test], y[test])
    >>> list(acc)
    ['VAE (4-D) + SVC', 'PCA (4-D) + SVC', 'log-mel (1280-D) + SVC']
    """
    # with a reject option: the accuracy of the recogniser it wraps, every
    # test utterance answered (open_set_check measures the rejections)
    pipeline = recipes.recognizer_pipeline(pipeline)
    k = pipeline.named_steps["vae"].n_components
    clf = pipeline.named_steps["clf"]
    pred = pipeline[1:].predict(F_test)
    out = {f"VAE ({k}-D) + SVC": float(np.mean(pred == y_test))}
    out.update(
        baseline_scores(
            F_train,
            y_train,
            F_test,
            y_test,
            classifier=getattr(clf, "estimator", None) or clf,
            n_components=k,
            random_state=random_state,
            feature_name="log-mel",
            classifier_name="SVC",
        )
    )
    return out, pred


def speaker_held_out(
    F, y, speaker, *, audio=None, min_speakers=3, random_state=0, verbose=0, **params
):
    """Train the recogniser again without one speaker and test on that speaker.

    The speaker is drawn with ``GroupShuffleSplit(test_size=1)``; the
    recogniser (:func:`skvae.recipes.fit_recognizer`) and the baselines of
    :func:`recognizer_accuracies` are fitted on the other speakers.

    Parameters
    ----------
    F : ndarray of shape (n_utterances, n_features)
        Front-end rows of all utterances.
    y : array-like of shape (n_utterances,)
        Labels.
    speaker : array-like of shape (n_utterances,) or None
        Who speaks each utterance.
    audio : array-like of shape (n_utterances,) or None, default=None
        The utterances (file paths or waveforms); the recogniser's front end
        is fitted on those of the other speakers. Only the rows ``F`` are
        classified here, so None (a front end fitted without audio) gives
        the same accuracies.
    min_speakers : int, default=3
        With fewer speakers the check is not made (None is returned).
    random_state : int, default=0
        Chooses the speaker; seeds the recogniser and the baselines.
    verbose : int, default=0
        If > 0, say which speaker is held out and show the VAE's progress.
    **params
        Other parameters of :func:`skvae.recipes.make_recognizer`.

    Returns
    -------
    result : dict or None
        ``held_out`` (list of speakers), ``n_test``, ``accuracy`` (as
        :func:`recognizer_accuracies`), ``epochs`` and ``label`` (for
        people); None with fewer than ``min_speakers`` speakers.
    """
    from sklearn.model_selection import GroupShuffleSplit

    if speaker is None or len(set(np.asarray(speaker).tolist())) < min_speakers:
        return None
    y, speaker = np.asarray(y), np.asarray(speaker)
    gss = GroupShuffleSplit(n_splits=1, test_size=1, random_state=random_state)
    train, test = next(gss.split(F, y, speaker))
    held = sorted(set(speaker[test].tolist()))
    _info(
        verbose,
        f"speaker-independent check: training again without speaker "
        f"{', '.join(held)} ({len(train):,} utterances), testing on it "
        f"({len(test):,})",
    )
    pipe = recipes.fit_recognizer(
        F[train],
        y[train],
        audio=None if audio is None else _rows(audio, train),
        verbose=verbose,
        random_state=random_state,
        **params,
    )
    acc, _ = recognizer_accuracies(
        pipe, F[train], y[train], F[test], y[test], random_state=random_state
    )
    return {
        "held_out": held,
        "n_test": int(len(test)),
        "accuracy": acc,
        "epochs": int(recipes.recognizer_pipeline(pipe).named_steps["vae"].n_iter_),
        "label": f"held-out speaker {', '.join(held)}",
    }


def leave_one_speaker_out(estimator, X, y, speaker, *, groups=False):
    """Accuracy on each speaker of a model trained on all the others.

    Parameters
    ----------
    estimator : estimator
        Cloned and fitted once per speaker; scored with ``score``.
    X : array-like of shape (n_samples, ...)
        Inputs (feature rows, or audio for a recogniser).
    y : array-like of shape (n_samples,)
        Labels.
    speaker : array-like of shape (n_samples,)
        Who speaks each row; at least two speakers.
    groups : bool, default=False
        Also pass the speakers as ``groups`` to ``fit`` and ``score`` (for a
        :class:`skvae.recipes.RecognizerPipeline` with a step that uses
        them, e.g. per-speaker normalisation).

    Returns
    -------
    result : Bunch
        ``scores`` (dict speaker -> accuracy, in sorted speaker order),
        ``mean``, ``worst_speaker`` and ``worst``.

    Examples
    --------
    >>> import numpy as np
    >>> from sklearn.svm import SVC
    >>> from skvae.evaluation import leave_one_speaker_out
    >>> rng = np.random.RandomState(0)
    >>> X, y = rng.normal(size=(60, 4)), np.arange(60) % 2
    >>> X[:, 0] += 4 * y
    >>> res = leave_one_speaker_out(SVC(), X, y, np.repeat(["a", "b", "c"], 20))
    >>> sorted(res.scores), res.mean
    (['a', 'b', 'c'], 1.0)
    """
    y, speaker = np.asarray(y), np.asarray(speaker)
    names = sorted(set(speaker.tolist()))
    if len(names) < 2:
        raise ValueError(f"leave-one-speaker-out needs 2 speakers, got {names}")
    X = X if hasattr(X, "shape") else np.asarray(X, dtype=object)
    scores = {}
    for name in names:
        test = speaker == name
        train = ~test
        fit_kw = {"groups": speaker[train]} if groups else {}
        score_kw = {"groups": speaker[test]} if groups else {}
        model = clone(estimator).fit(X[train], y[train], **fit_kw)
        scores[name] = float(model.score(X[test], y[test], **score_kw))
    worst = min(scores, key=scores.get)
    return Bunch(
        scores=scores,
        mean=float(np.mean(list(scores.values()))),
        worst_speaker=worst,
        worst=scores[worst],
    )


def few_label_scores(
    representation,
    X_train,
    y_train,
    X_test,
    y_test,
    *,
    size=0.03,
    n_draws=5,
    classifier=None,
    raw_baseline=True,
):
    """Accuracy with a few labels: a representation fitted without labels.

    The representation is fitted once on all training rows, without their
    labels; for each draw a stratified ``size`` of the training labels
    (:func:`stratified_subset` with ``random_state=draw``) trains the
    classifier on the codes of those rows.

    Parameters
    ----------
    representation : transformer
        Cloned and fitted on ``X_train`` alone (e.g. a ``VAETransformer``).
    X_train, y_train, X_test, y_test : arrays
        Feature rows and labels.
    size : float or int, default=0.03
        Labelled fraction (or count) of the training rows.
    n_draws : int, default=5
        Label draws (seeds 0 to ``n_draws - 1``).
    classifier : estimator or None, default=None
        Trained on the codes; None: ``SVC()``.
    raw_baseline : bool, default=True
        Also ``StandardScaler -> classifier`` on the raw rows, same draws.

    Returns
    -------
    scores : dict
        ``{"representation": ndarray of n_draws accuracies, "raw": ...}``.

    Examples
    --------
    >>> import numpy as np
    >>> from sklearn.decomposition import PCA
    >>> from skvae.evaluation import few_label_scores
    >>> rng = np.random.RandomState(0)
    >>> X, y = rng.normal(size=(200, 6)), np.arange(200) % 2
    >>> X[:, 0] += 4 * y
    >>> s = few_label_scores(PCA(2), X[:150], y[:150], X[150:], y[150:],
    ...                      size=0.1, n_draws=2)
    >>> sorted(s), s["raw"].shape
    (['raw', 'representation'], (2,))
    """
    from sklearn.svm import SVC

    classifier = SVC() if classifier is None else classifier
    y_train = np.asarray(y_train)
    rep = clone(representation).fit(X_train)
    Z_train, Z_test = rep.transform(X_train), rep.transform(X_test)
    scores = {"representation": []}
    if raw_baseline:
        scores["raw"] = []
    for draw in range(n_draws):
        lab = stratified_subset(y_train, size, random_state=draw)
        clf = clone(classifier).fit(Z_train[lab], y_train[lab])
        scores["representation"].append(clf.score(Z_test, y_test))
        if raw_baseline:
            raw = make_pipeline(StandardScaler(), clone(classifier))
            raw.fit(X_train[lab], y_train[lab])
            scores["raw"].append(raw.score(X_test, y_test))
    return {k: np.asarray(v, dtype=float) for k, v in scores.items()}


# --------------------------------------------------------------------------
# what the report of ``skvae train`` shows
# --------------------------------------------------------------------------
def generation_check(bundle, *, n_per_class=10, random_state=0, verbose=0):
    """Generate utterances of every label and recognise them again.

    Each utterance is written as a WAV file (:func:`skvae.recipes.write_utterances`,
    as ``skvae sample`` and the report write them) into a temporary folder
    and recognised from that file, read back: the count is that of the
    files, which ``skvae predict`` on them reproduces.

    Parameters
    ----------
    bundle : dict
        A saved model that can generate (:func:`skvae.recipes.can_generate`).
    n_per_class : int, default=10
        Utterances per label.
    random_state : int, default=0
        Seeds one ``numpy.random.Generator`` shared by all labels.
    verbose : int, default=0
        If > 0, a progress bar on stderr, when stderr is a terminal.

    Returns
    -------
    generated : list of dict
        Per label: ``label``, ``rows`` (log-mel), ``waves`` (audio),
        ``predicted`` (the recogniser's label for each, from its file; the
        reject label where a reject option rejects it), ``recognised`` (how
        many are the requested label), ``rejected`` (how many the reject
        option rejected; 0 without one) and ``n``.
    """
    import tempfile

    rng = np.random.default_rng(random_state)
    pipe = bundle["pipeline"]
    sr = recipes.recognizer_pipeline(pipe).named_steps["features"].sr
    reject_label = getattr(pipe, "reject_label_", None)
    out = []
    classes = list(bundle["classes"])
    with (
        tempfile.TemporaryDirectory() as tmp,
        _bar(verbose, total=len(classes), desc="generate", unit="label") as bar,
    ):
        for label in classes:
            rows, waves = recipes.generate_utterances(
                bundle, label, n_per_class, random_state=rng
            )
            pred = pipe.predict(recipes.write_utterances(waves, tmp, label, sr))
            out.append(
                {
                    "label": label,
                    "rows": rows,
                    "waves": waves,
                    "predicted": pred,
                    "recognised": int(np.sum(pred == label)),
                    "rejected": 0
                    if reject_label is None
                    else int(np.sum(pred == reject_label)),
                    "n": int(n_per_class),
                }
            )
            bar.update()
    return out


def generated_rate(generated):
    """(recognised, total) over the labels of :func:`generation_check`.

    Examples
    --------
    >>> from skvae.evaluation import generated_rate
    >>> generated_rate([{"recognised": 9, "n": 10}, {"recognised": 7, "n": 10}])
    (16, 20)
    """
    hit = sum(g["recognised"] for g in generated)
    total = sum(g["n"] for g in generated)
    return hit, total


def format_summary(evaluation, split_info, speaker_eval=None):
    """The lines ``skvae train`` prints: accuracies and generated utterances.

    Parameters
    ----------
    evaluation : dict
        From :func:`evaluate_recognizer` (``accuracy`` and ``generated``).
    split_info : dict
        The split's ``info`` (its ``text`` titles the accuracies).
    speaker_eval : dict or None, default=None
        From :func:`speaker_held_out`.

    Returns
    -------
    lines : list of str

    Examples
    --------
    >>> from skvae.evaluation import format_summary
    >>> evaluation = {"accuracy": {"VAE (16-D) + SVC": 0.96},
    ...               "generated": [{"recognised": 9, "n": 10}]}
    >>> print("\\n".join(format_summary(evaluation, {"text": "official split"})))
    accuracy, official split:
      VAE (16-D) + SVC             0.960
    generated utterances recognised as the requested label: 9/10 (90%)
    """
    groups = [(split_info["text"], evaluation["accuracy"])]
    if speaker_eval:
        title = (
            f"{speaker_eval['label']} ({speaker_eval['n_test']:,} test utterances, "
            "model trained without them)"
        )
        groups.append((title, speaker_eval["accuracy"]))
    lines = []
    for title, accuracy in groups:
        lines.append(f"accuracy, {title}:")
        lines += [f"  {name:<28} {value:.3f}" for name, value in accuracy.items()]
    hit, total = generated_rate(evaluation["generated"])
    rejected = sum(g.get("rejected", 0) for g in evaluation["generated"])
    lines.append(
        f"generated utterances recognised as the requested label: {hit}/{total} "
        f"({hit / max(total, 1):.0%})"
        + (f"; {rejected} rejected as unknown" if rejected else "")
    )
    lines += format_open_set(evaluation.get("open_set"))
    return lines


def format_open_set(open_set):
    """The lines that summarise :func:`open_set_check` (none for None).

    Examples
    --------
    >>> from skvae.evaluation import format_open_set
    >>> res = {"target": 0.05, "known_kept": 0.96, "accuracy_kept": 0.99,
    ...        "accuracy_all": 0.97, "rejected": {"reversed speech": 0.9}}
    >>> print("\\n".join(format_open_set(res)))
    reject option (target: reject 5% of known words):
      known test utterances kept   0.960 (accuracy on them 0.990; all: 0.970)
      reversed speech rejected     0.900
    """
    if not open_set:
        return []
    lines = [
        f"reject option (target: reject {open_set['target']:.0%} of known words):",
        f"  {'known test utterances kept':<28} {open_set['known_kept']:.3f} "
        f"(accuracy on them {open_set['accuracy_kept']:.3f}; all: "
        f"{open_set['accuracy_all']:.3f})",
    ]
    lines += [
        f"  {kind + ' rejected':<28} {value:.3f}"
        for kind, value in open_set["rejected"].items()
    ]
    return lines


def _pick_examples(y, n=5):
    """Indices of up to n examples with distinct labels, spread over labels."""
    labels = np.unique(y)
    chosen = labels[np.linspace(0, len(labels) - 1, min(n, len(labels))).astype(int)]
    return np.array([np.flatnonzero(y == c)[0] for c in chosen])


def latent_map(Z, labels, speakers=None, *, random_state=0, max_points=1000):
    """A 2-D map of latent codes: t-SNE (PCA below 10 points).

    Parameters
    ----------
    Z : ndarray of shape (n_samples, n_components)
        Latent codes.
    labels : ndarray of shape (n_samples,)
        Label of each code.
    speakers : ndarray of shape (n_samples,) or None, default=None
        Speaker of each code.
    random_state : int, default=0
        Seeds the subsample and t-SNE.
    max_points : int, default=1000
        At most this many codes (drawn at random) are mapped.

    Returns
    -------
    latent : dict
        ``points`` (m, 2), ``labels``, ``speakers``, ``axis_labels`` and
        ``method`` ("t-SNE" or "PCA"): the ``latent`` of
        :func:`skvae.report.write_report`.

    Examples
    --------
    >>> import numpy as np
    >>> from skvae.evaluation import latent_map
    >>> Z = np.random.RandomState(0).normal(size=(8, 3))
    >>> m = latent_map(Z, np.arange(8) % 2)
    >>> m["method"], m["points"].shape
    ('PCA', (8, 2))
    """
    from sklearn.manifold import TSNE

    if len(Z) > max_points:
        keep = np.sort(
            np.random.default_rng(random_state).choice(len(Z), max_points, False)
        )
        Z, labels = Z[keep], labels[keep]
        speakers = None if speakers is None else speakers[keep]
    if len(Z) >= 10:
        perplexity = min(30.0, (len(Z) - 1) / 3)
        points = TSNE(
            2, perplexity=perplexity, init="pca", random_state=random_state
        ).fit_transform(Z)
        axes, method = ("t-SNE 1", "t-SNE 2"), "t-SNE"
    else:
        points = PCA(2, random_state=random_state).fit_transform(Z)
        axes, method = ("latent PC 1", "latent PC 2"), "PCA"
    return {
        "points": points,
        "labels": labels,
        "speakers": speakers,
        "axis_labels": axes,
        "method": method,
    }


#: the non-speech kinds of :func:`open_set_check`
_OPEN_SET_CLIPS = ("white noise", "pink noise", "tone", "chirp")


def _waveforms(audio, sr):
    """Waveforms at ``sr`` of utterances given as file paths or waveforms."""
    from .features import load_audio

    return [
        load_audio(a, sr=sr)[0] if isinstance(a, str) else np.asarray(a, np.float32)
        for a in audio
    ]


def open_set_check(
    model, F_test, y_test, audio_test, *, words=True, n_per_kind=25, random_state=0
):
    """How a recogniser's reject option treats known and unknown utterances.

    Known: the test utterances. Unknown: the test utterances played
    backwards, noise and tones (:func:`make_outlier_clips`, as long and loud
    as test utterances) and, when eSpeak NG is installed, English words that
    are not digits (:func:`skvae.datasets.make_spoken_words`, 4 generated
    voices). Generated words differ from recordings by their voice as much
    as by their word: a recogniser trained on recordings rejects generated
    digits too (``benchmarks/bench_openset.py`` measures both).

    Parameters
    ----------
    model : RejectOptionClassifier
        A fitted recogniser with a reject option (``bundle["pipeline"]``).
    F_test : ndarray of shape (n_test, n_features)
        Front-end rows of the test utterances.
    y_test : array-like of shape (n_test,)
        Their labels.
    audio_test : sequence of str or 1-D arrays
        The test utterances (file paths or waveforms at the front end's
        ``sr``), reversed and used as references for the clips.
    words : bool, default=True
        Also score generated non-digit words (skipped with a note when
        eSpeak NG, ``pip install 'skvae[synth]'``, is missing).
    n_per_kind : int, default=25
        Clips of each non-speech kind.
    random_state : int, default=0
        Seeds the clips and the generated voices.

    Returns
    -------
    result : dict
        ``threshold``, ``target`` (the false-rejection target),
        ``reject_label``, ``scores`` (dict: kind -> in-vocabulary scores;
        ``"known (held out at fit)"`` are those the threshold was set on,
        ``"known test utterances"`` those of ``F_test``, then the unknown
        kinds), ``rejected`` (dict: unknown kind -> fraction rejected),
        ``known_kept``, ``accuracy_kept`` and ``accuracy_all`` (the
        recogniser's accuracy on the kept known test utterances, and on all
        of them without rejection) and ``notes`` (list of str).
    """
    from .datasets import make_spoken_words

    pipe = recipes.recognizer_pipeline(model)
    fe = pipe.named_steps["features"]
    rows = _on_rows(model)
    y_test = np.asarray(y_test)
    known = rows.score_samples(F_test)
    kept = known >= model.threshold_
    answered = pipe[1:].predict(F_test)
    waves = _waveforms(audio_test, fe.sr)
    unknown = {"reversed speech": [w[::-1].copy() for w in waves]}
    clips, _ = make_outlier_clips(
        waves,
        kinds=_OPEN_SET_CLIPS,
        n_per_kind=n_per_kind,
        sr=fe.sr,
        random_state=np.random.default_rng(random_state),
    )
    unknown["noise and tones"] = clips
    notes = []
    if words:
        try:
            spoken = make_spoken_words(
                n_speakers=4, sr=fe.sr, random_state=random_state
            )
            unknown["generated words"] = list(spoken.data)
            notes.append(
                "Generated words: 40 English words that are not digits, by 4 "
                "eSpeak NG voices; a recogniser trained on recordings rejects "
                "generated digits as well, for their voice."
            )
        except ImportError as exc:
            notes.append(f"no generated words: {exc}")
    scores = {
        "known (held out at fit)": np.asarray(model.calibration_scores_),
        "known test utterances": known,
    }
    rejected = {}
    for kind, clips in unknown.items():
        F_u = recipes.extract_features(fe, clips, refit=False)
        scores[kind] = rows.score_samples(F_u)
        rejected[kind] = float(np.mean(scores[kind] < model.threshold_))
    return {
        "threshold": float(model.threshold_),
        "target": float(model.target_false_rejection),
        "reject_label": model.reject_label_,
        "scores": scores,
        "rejected": rejected,
        "known_kept": float(np.mean(kept)),
        "accuracy_kept": float(np.mean(answered[kept] == y_test[kept]))
        if kept.any()
        else float("nan"),
        "accuracy_all": float(np.mean(answered == y_test)),
        "notes": notes,
    }


def evaluate_recognizer(
    bundle,
    F,
    y,
    train,
    test,
    *,
    speaker=None,
    audio=None,
    random_state=0,
    n_check=10,
    verbose=0,
):
    """Everything the summary and the report of ``skvae train`` show.

    Parameters
    ----------
    bundle : dict
        A saved model (:func:`skvae.recipes.load_recognizer`) that can
        generate.
    F : ndarray of shape (n_utterances, n_features)
        Front-end rows of all utterances.
    y : array-like of shape (n_utterances,)
        Labels.
    train, test : ndarray of int
        The split (:func:`skvae.datasets.split_corpus`).
    speaker : array-like of shape (n_utterances,) or None, default=None
        Speakers, to colour the latent map.
    audio : array-like of shape (n_utterances,) or None, default=None
        The utterances (file paths or waveforms). For a recogniser with a
        reject option, the test ones are played backwards and imitated by
        noise for :func:`open_set_check`; None skips that check.
    random_state : int, default=0
        Seeds the baselines, the generated utterances and the map.
    n_check : int, default=10
        Utterances generated per label (:func:`generation_check`).
    verbose : int, default=0
        If > 0, say what is being done, with progress bars, on stderr.

    Returns
    -------
    evaluation : dict
        ``accuracy`` (:func:`recognizer_accuracies`), ``y_test``, ``y_pred``,
        ``latent`` (:func:`latent_map` of the test codes),
        ``reconstructions`` (a few test rows and their VAE reconstructions),
        ``generated`` (:func:`generation_check`) and, for a recogniser with
        a reject option and ``audio``, ``open_set`` (:func:`open_set_check`).
    """
    pipe = recipes.recognizer_pipeline(bundle["pipeline"])
    vae = pipe.named_steps["vae"]
    y = np.asarray(y)
    _info(verbose, "evaluating against the PCA and raw-feature baselines ...")
    acc, pred = recognizer_accuracies(
        pipe, F[train], y[train], F[test], y[test], random_state=random_state
    )
    _info(verbose, "generating utterances of every label and recognising them ...")
    generated = generation_check(
        bundle, n_per_class=n_check, random_state=random_state, verbose=verbose
    )
    examples = test[_pick_examples(y[test])]
    recon = vae.inverse_transform(vae.transform(F[examples]))
    speakers = None if speaker is None else np.asarray(speaker)[test]
    out = {
        "accuracy": acc,
        "y_test": y[test],
        "y_pred": pred,
        "latent": latent_map(
            vae.transform(F[test]), y[test], speakers, random_state=random_state
        ),
        "reconstructions": [
            {"label": y[i], "original": F[i], "reconstruction": r}
            for i, r in zip(examples, recon)
        ],
        "generated": generated,
    }
    model = bundle["pipeline"]
    if audio is not None and hasattr(model, "threshold_"):
        _info(verbose, "scoring known and unknown utterances for the reject option ...")
        out["open_set"] = open_set_check(
            model,
            F[test],
            y[test],
            _rows(audio, test),
            random_state=random_state,
        )
    return out
