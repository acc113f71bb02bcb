"""Ready-made speech recognisers and generators, and the steps that train them.

What ``skvae train`` does, as functions a Python user can call:

- :func:`make_recognizer`: the recommended recogniser, an unfitted
  :class:`RecognizerPipeline` from audio (file paths or waveforms) to
  labels: ``SpeechFeatures -> VAETransformer -> calibrated SVC``.
- :func:`make_generator`: the conditional VAE that generates utterances.
- :func:`extract_features`, :func:`train_recognizer` (which calls
  :func:`fit_recognizer`, :func:`fit_generator` and
  :func:`recognizer_bundle`): the training steps, on feature rows computed
  once (so that the baselines and the generator reuse them).
- :func:`generate_utterances`: new utterances of a label, as audio;
  :func:`write_utterances`: as WAV files; :func:`recognize_files`: labels of
  audio files, past unreadable ones.
- :func:`save_recognizer`, :func:`load_recognizer`: the saved model, a file
  that loads without unpickling anything; :func:`staged_folder`: write a
  folder's new contents aside and swap them in at once.

Library functions raise standard exceptions (``ValueError``, ``OSError``,
``FileNotFoundError``, ``ImportError``); the command line turns them into
messages and exit codes. torch and librosa are imported by the functions
that need them.

The model (a "bundle") is a dict:

- ``"format"``: ``"skvae-recognizer"``, ``"format_version"``: 2 (3 with the
  reject option);
- ``"pipeline"``: the fitted recogniser (steps ``"features"``, ``"vae"``,
  ``"clf"``); it takes audio file paths or waveforms, so
  ``bundle["pipeline"].predict(["a.wav"])`` works on its own. With the
  reject option (``make_recognizer(reject=True)``) it is a fitted
  :class:`~skvae.RejectOptionClassifier` around that pipeline, whose
  ``predict`` answers -1 (or ``"<unknown>"``) for words it does not know;
  :func:`recognizer_pipeline` gives the pipeline inside either way;
- ``"classes"``: the labels, as ``pipeline.classes_``;
- ``"generator"``: a fitted :class:`~skvae.VAEClassifier` on the training
  log-mel rows, the conditional VAE that generates utterances of a label;
- ``"latent_means"`` (n_classes, n_components) and ``"latent_covs"``
  (n_classes, n_components, n_components): a Gaussian fitted to each label's
  latent codes of the training utterances; models saved before the
  generator existed generate from these;
- ``"durations"`` (n_classes,): the median duration in seconds of each
  label's training utterances, the length given to generated audio;
- ``"metadata"``: a JSON-like dict (data and split used, accuracies, epochs,
  timings, versions, command line).

On disk (``model.skops``, :func:`save_recognizer`) it is a :mod:`skops.io`
file, which stores objects as data and loads only the types it is told to
trust, never through :mod:`pickle`: the VAE steps and the generator are kept
inside it as the bytes of their weights-only files (:func:`skvae.save`:
safetensors tensors and JSON), the rest as skops objects. Loading trusts
skops's own default types (Python built-ins, NumPy and SciPy arrays,
scikit-learn's public estimators) and the few of :data:`TRUSTED_TYPES`, and
refuses a file holding anything else. Models saved by older skvae versions
as ``model.joblib`` (pickle) are refused unless ``trust_pickle=True``.
"""

import contextlib
import os
import sys
import warnings
from pathlib import Path

from sklearn import config_context
from sklearn.pipeline import Pipeline
from sklearn.utils.metaestimators import available_if

from ._version import __version__

__all__ = [
    "LEGACY_MODEL_FILE",
    "MODEL_FILE",
    "TRUSTED_TYPES",
    "WEIGHTS_FILE",
    "RecognizerPipeline",
    "can_generate",
    "check_device",
    "extract_features",
    "fit_generator",
    "fit_recognizer",
    "generate_utterances",
    "load_recognizer",
    "make_generator",
    "make_recognizer",
    "recognize_files",
    "recognizer_bundle",
    "recognizer_pipeline",
    "save_recognizer",
    "staged_folder",
    "train_recognizer",
    "versions",
    "write_utterances",
]

MODEL_FORMAT = "skvae-recognizer"
#: the newest model file format this version reads: 3 marks a recogniser with
#: a reject option (older skvae versions refuse it with a clear message);
#: recognisers without one are still written as version 2
MODEL_FORMAT_VERSION = 3
#: the model file ``skvae train`` writes (skops, no pickle)
MODEL_FILE = "model.skops"
#: the pickle file of skvae versions before ``model.skops`` (loaded only
#: with ``trust_pickle=True``)
LEGACY_MODEL_FILE = "model.joblib"
#: the recogniser's VAE alone, weights-only (:func:`skvae.save`)
WEIGHTS_FILE = "model.safetensors"
#: Types a model file may hold beyond those :mod:`skops.io` trusts by default
#: (Python built-ins, NumPy and SciPy arrays and scikit-learn's public
#: estimators); anything else is refused. The VAEs are not among them: they
#: travel as the bytes of weights-only files.
TRUSTED_TYPES = (
    "skvae.recipes.RecognizerPipeline",
    "skvae._openset.RejectOptionClassifier",
    "skvae.features._spectral.SpeechFeatures",
    "sklearn.calibration._CalibratedClassifier",
    "sklearn.calibration._SigmoidCalibration",
    "sklearn.calibration._TemperatureScaling",
)
_NO_GENERATOR = (
    "'{path}' holds no generator (it was not saved by 'skvae train'), so it "
    "cannot generate"
)


# --------------------------------------------------------------------------
# a Pipeline that takes groups
# --------------------------------------------------------------------------
def _last_step_has(method):
    return lambda self: hasattr(self.steps[-1][1], method)


class RecognizerPipeline(Pipeline):
    """A :class:`~sklearn.pipeline.Pipeline` whose methods take ``groups``.

    ``fit(X, y, groups=None)``, ``predict(X, groups=None)`` and the other
    methods hand ``groups`` (e.g. the speaker of each utterance) to the
    steps that request it through scikit-learn's metadata routing
    (``step.set_fit_request(groups=True)``,
    ``step.set_transform_request(groups=True)``), with routing switched
    on for the call only; the global setting is left alone. Without
    groups it is a plain Pipeline. Passing groups that no step requests
    raises ``ValueError`` instead of silently ignoring them.

    Parameters
    ----------
    steps : list of (str, estimator) tuples
        As for :class:`~sklearn.pipeline.Pipeline`.
    memory : str, object with the joblib.Memory interface or None
        As for :class:`~sklearn.pipeline.Pipeline`.
    verbose : bool, default=False
        As for :class:`~sklearn.pipeline.Pipeline`.

    See Also
    --------
    make_recognizer : The recogniser built on it.

    Examples
    --------
    >>> import numpy as np
    >>> import sklearn
    >>> from sklearn.svm import SVC
    >>> from skvae.features import GroupStandardScaler
    >>> from skvae.recipes import RecognizerPipeline
    >>> with sklearn.config_context(enable_metadata_routing=True):
    ...     scaler = GroupStandardScaler().set_fit_request(groups=True)
    ...     scaler = scaler.set_transform_request(groups=True)
    >>> pipe = RecognizerPipeline([("cmvn", scaler), ("svc", SVC())])
    >>> X = np.random.RandomState(0).normal(size=(40, 3))
    >>> y, speaker = np.arange(40) % 2, np.repeat(["ann", "bob"], 20)
    >>> pipe.fit(X, y, groups=speaker).predict(X[:6], groups=speaker[:6]).shape
    (6,)
    >>> RecognizerPipeline([("svc", SVC())]).fit(X, y, groups=speaker)
    Traceback (most recent call last):
    ...
    ValueError: groups were given to fit, but no step of this pipeline ...
    """

    def _with_groups(self, method, groups, X, *args, **params):
        parent = getattr(super(), method)
        if groups is None:
            return parent(X, *args, **params)
        with config_context(enable_metadata_routing=True):
            consumed = self.get_metadata_routing().consumes(method, ["groups"])
            if not consumed:
                names = ", ".join(name for name, _ in self.steps)
                raise ValueError(
                    f"groups were given to {method}, but no step of this "
                    f"pipeline ({names}) requests them; build it with a step "
                    "that uses groups (e.g. GroupStandardScaler with "
                    "set_fit_request(groups=True) and "
                    "set_transform_request(groups=True)), or leave groups out"
                )
            return parent(X, *args, groups=groups, **params)

    def fit(self, X, y=None, groups=None, **params):
        """Fit the steps; ``groups`` goes to the steps that request it."""
        return self._with_groups("fit", groups, X, y, **params)

    @available_if(_last_step_has("predict"))
    def predict(self, X, groups=None, **params):
        """Predict labels; ``groups`` goes to the steps that request it."""
        return self._with_groups("predict", groups, X, **params)

    @available_if(_last_step_has("predict_proba"))
    def predict_proba(self, X, groups=None, **params):
        """Class probabilities; ``groups`` as in :meth:`predict`."""
        return self._with_groups("predict_proba", groups, X, **params)

    @available_if(_last_step_has("predict_log_proba"))
    def predict_log_proba(self, X, groups=None, **params):
        """Log class probabilities; ``groups`` as in :meth:`predict`."""
        return self._with_groups("predict_log_proba", groups, X, **params)

    @available_if(_last_step_has("decision_function"))
    def decision_function(self, X, groups=None, **params):
        """Decision function; ``groups`` as in :meth:`predict`."""
        return self._with_groups("decision_function", groups, X, **params)

    @available_if(_last_step_has("transform"))
    def transform(self, X, groups=None, **params):
        """Transform through every step; ``groups`` as in :meth:`predict`."""
        return self._with_groups("transform", groups, X, **params)

    @available_if(_last_step_has("score"))
    def score(self, X, y=None, sample_weight=None, groups=None, **params):
        """Score of the last step; ``groups`` as in :meth:`predict`."""
        if sample_weight is not None:
            params["sample_weight"] = sample_weight
        return self._with_groups("score", groups, X, y, **params)


# --------------------------------------------------------------------------
# the recogniser and the generator
# --------------------------------------------------------------------------
def make_recognizer(
    *,
    n_components=16,
    hidden_layer_sizes=(256, 128),
    sr=8000,
    n_mels=40,
    n_frames=32,
    top_db=30.0,
    level=-20.0,
    max_iter=300,
    cv=5,
    random_state=0,
    device="cpu",
    n_threads=None,
    verbose=0,
    reject=False,
    target_false_rejection=0.05,
):
    """The recommended speech recognition pipeline (unfitted).

    ``SpeechFeatures`` (log-mel, ``n_frames`` x ``n_mels``, gain-normalised,
    silence trimmed, band-limited to its training audio) ->
    ``VAETransformer`` (``n_components``-D latent code, early stopping) ->
    one-vs-rest RBF SVC with calibrated probabilities (temperature
    scaling where scikit-learn has it, else sigmoid; the calibration does
    not change the predicted label). Log-mel rather than MFCC so that
    latent codes decode to log-mel rows that
    ``SpeechFeatures.inverse_transform`` turns back into audio.

    The pipeline takes audio file paths (any sample rate, resampled to
    ``sr``) or waveforms at ``sr``: ``fit(paths, y, groups=None)``,
    ``predict(paths, groups=None)``, ``predict_proba``, ``score``. The front
    end brings every utterance to the active RMS level ``level``, so the
    predictions do not depend on the recording's gain, and learns at ``fit``
    the bandwidth of the training audio (its lowest sample rate, from the
    files' headers): wider-band input is band-limited to it, so a recogniser
    trained on 8 kHz recordings hears 48 kHz ones as it heard its training
    data. No step of this recogniser uses ``groups`` (speakers); passing them
    raises ``ValueError`` (see :class:`RecognizerPipeline`).

    With ``reject=True`` the pipeline is wrapped in a
    :class:`~skvae.RejectOptionClassifier`: ``predict`` answers -1 (or
    ``"<unknown>"`` for string labels) for utterances whose in-vocabulary
    score (the VAE's ELBO of the log-mel row plus the classifier's log
    confidence, each a z-score on held-out known utterances) is below a
    threshold learned at ``fit`` from ``target_false_rejection``: a
    stratified 20 % of the training utterances is held out to score, then the
    pipeline is refitted on all of them (so ``fit`` trains twice).
    ``score_samples(X)`` gives the score (higher = more like the training
    words) on the same inputs as ``predict``; ``predict_proba`` stays the
    pipeline's. See ``benchmarks/bench_openset.py``.

    Parameters
    ----------
    n_components : int, default=16
        Dimension of the VAE's latent space.
    hidden_layer_sizes : tuple of int, default=(256, 128)
        Widths of the VAE's encoder layers (the decoder mirrors them).
    sr : int, default=8000
        Sample rate the audio is analysed at (files are resampled).
    n_mels : int, default=40
        Mel bands.
    n_frames : int, default=32
        Frames per utterance (every utterance is resampled in time to this).
    top_db : float or None, default=30.0
        Trim leading and trailing audio this many dB below the peak.
    level : float or None, default=-20.0
        Gain normalisation: the active RMS level (dBFS) every utterance is
        brought to before its features are computed (``SpeechFeatures``'
        ``level``). None: none, the features then follow the recording's
        gain (the behaviour of models saved before this parameter).
    max_iter : int, default=300
        Maximum VAE epochs (early stopping usually ends sooner).
    cv : int, default=5
        Folds used to calibrate the classifier's probabilities.
    random_state : int or None, default=0
        Seed of the VAE and the classifier.
    device : str, default="cpu"
        Torch device of the VAE ("cpu", "cuda", "auto", ...).
    n_threads : int or None, default=None
        Torch CPU threads of the VAE.
    verbose : int, default=0
        If > 0, the VAE shows a progress bar while training.
    reject : bool, default=False
        Add the reject option (see above).
    target_false_rejection : float in [0, 1), default=0.05
        With ``reject``: the fraction of known words to reject.

    Returns
    -------
    pipeline : RecognizerPipeline or RejectOptionClassifier
        Steps ``"features"``, ``"vae"`` and ``"clf"``; fit it on audio file
        paths (or waveforms at ``sr``) and labels. With ``reject``, the
        reject option around that pipeline (``.estimator``; fitted:
        ``.estimator_``, or :func:`recognizer_pipeline`).

    See Also
    --------
    fit_recognizer : Fit it on feature rows computed once.
    load_recognizer : A recogniser saved by ``skvae train``.

    Examples
    --------
    >>> from skvae.recipes import make_recognizer
    >>> pipe = make_recognizer(n_components=8)
    >>> [name for name, _ in pipe.steps]
    ['features', 'vae', 'clf']
    >>> import warnings
    >>> from skvae.datasets import make_spoken_digits
    >>> digits = make_spoken_digits(3, 2, random_state=0)
    >>> pipe = make_recognizer(n_components=4, max_iter=2, cv=2)
    >>> with warnings.catch_warnings():  # 2 epochs: ConvergenceWarning
    ...     warnings.simplefilter("ignore")
    ...     pipe = pipe.fit(digits.data, digits.target)
    >>> pipe.predict(digits.data[:3]).shape
    (3,)
    >>> rec = make_recognizer(reject=True, n_components=4, max_iter=2, cv=2)
    >>> type(rec).__name__, rec.target_false_rejection
    ('RejectOptionClassifier', 0.05)
    """
    steps = [
        (
            "features",
            _front_end(
                sr=sr, n_mels=n_mels, n_frames=n_frames, top_db=top_db, level=level
            ),
        ),
        (
            "vae",
            _latent_code(
                n_components=n_components,
                hidden_layer_sizes=hidden_layer_sizes,
                max_iter=max_iter,
                random_state=random_state,
                device=device,
                n_threads=n_threads,
                verbose=verbose,
            ),
        ),
        ("clf", _calibrated_svc(cv=cv)),
    ]
    pipe = RecognizerPipeline(steps)
    if not reject:
        return pipe
    from . import RejectOptionClassifier

    return RejectOptionClassifier(
        pipe,
        target_false_rejection=target_false_rejection,
        cv=REJECT_HOLD_OUT,
        random_state=random_state,
    )


#: the fraction of training utterances the reject option holds out to set its
#: threshold (one extra fit; then a refit on all utterances)
REJECT_HOLD_OUT = 0.2


def recognizer_pipeline(model):
    """The :class:`RecognizerPipeline` of a recogniser, with or without reject option.

    Parameters
    ----------
    model : RecognizerPipeline or RejectOptionClassifier
        What :func:`make_recognizer` returns (fitted or not), or
        ``bundle["pipeline"]``.

    Returns
    -------
    pipeline : RecognizerPipeline
        ``model`` itself, or the pipeline the reject option wraps (the
        fitted one, ``estimator_``, once fitted).

    Examples
    --------
    >>> from skvae.recipes import make_recognizer, recognizer_pipeline
    >>> [n for n, _ in recognizer_pipeline(make_recognizer(reject=True)).steps]
    ['features', 'vae', 'clf']
    """
    from . import RejectOptionClassifier

    if isinstance(model, RejectOptionClassifier):
        return getattr(model, "estimator_", model.estimator)
    return model


def _on_rows(model):
    """``model`` for front-end rows instead of audio: its steps after "features".

    A reject option gets a shallow copy whose fitted pipeline lacks the front
    end (its score and labels on rows equal those on the audio they came
    from).
    """
    import copy

    from . import RejectOptionClassifier

    pipe = recognizer_pipeline(model)
    if not isinstance(model, RejectOptionClassifier):
        return pipe[1:]
    view = copy.copy(model)
    view.estimator_ = pipe[1:]
    return view


def _front_end(*, sr, n_mels, n_frames, top_db, level):
    from .features import SpeechFeatures

    return SpeechFeatures(
        kind="logmel",
        sr=sr,
        band_limit=True,
        n_mels=n_mels,
        n_frames=n_frames,
        top_db=top_db,
        level=level,
    )


def _latent_code(**params):
    import sklearn

    from . import VAETransformer

    vae = VAETransformer(early_stopping=True, **params)
    # explicit: this VAE does not condition on groups even when a pipeline
    # routes them (a step that uses groups is added with its own request)
    with sklearn.config_context(enable_metadata_routing=True):
        vae.set_fit_request(groups=False)
    return vae


def _calibrated_svc(*, cv):
    import sklearn
    from sklearn.calibration import CalibratedClassifierCV
    from sklearn.multiclass import OneVsRestClassifier
    from sklearn.svm import SVC

    major_minor = tuple(int(p) for p in sklearn.__version__.split(".")[:2])
    method = "temperature" if major_minor >= (1, 8) else "sigmoid"
    # one-vs-rest margins calibrate far better than SVC's vote-based
    # multi-class decision function (log-loss 0.11 vs 0.36 on FSDD)
    return CalibratedClassifierCV(
        OneVsRestClassifier(SVC()), method=method, cv=cv, ensemble=False
    )


def make_generator(
    *,
    n_components=16,
    hidden_layer_sizes=(256, 128),
    max_iter=300,
    random_state=0,
    device="cpu",
    n_threads=None,
):
    """The conditional VAE that ``skvae train`` fits to generate utterances.

    A :class:`~skvae.VAEClassifier` (label fed to encoder and decoder,
    learned prior mean per label) on the log-mel rows of
    :func:`make_recognizer`'s front end, with early stopping.

    Parameters
    ----------
    n_components : int, default=16
        Dimension of the latent style code.
    hidden_layer_sizes : tuple of int, default=(256, 128)
        Widths of the encoder's layers.
    max_iter : int, default=300
        Maximum epochs.
    random_state : int or None, default=0
        Seed.
    device : str, default="cpu"
        Torch device.
    n_threads : int or None, default=None
        Torch CPU threads.

    Returns
    -------
    generator : VAEClassifier
        Unfitted; fit it on log-mel rows and labels, then
        ``generator.sample(n, y=label, observation_noise=False)``.

    Examples
    --------
    >>> from skvae.recipes import make_generator
    >>> make_generator(n_components=8).n_components
    8
    """
    from . import VAEClassifier

    return VAEClassifier(
        n_components=n_components,
        hidden_layer_sizes=hidden_layer_sizes,
        max_iter=max_iter,
        early_stopping=True,
        random_state=random_state,
        device=device,
        n_threads=n_threads,
    )


# --------------------------------------------------------------------------
# training steps
# --------------------------------------------------------------------------
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
    from ._training import resolve_device

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


# --------------------------------------------------------------------------
# generating
# --------------------------------------------------------------------------
def can_generate(bundle):
    """Whether a saved model can generate utterances.

    Parameters
    ----------
    bundle : dict
        From :func:`load_recognizer`.

    Returns
    -------
    bool
        True for models saved by ``skvae train``; False for a plain
        pipeline.

    Examples
    --------
    >>> from skvae.recipes import can_generate
    >>> can_generate({"pipeline": None, "classes": [0, 1]})
    False
    """
    return "generator" in bundle or "latent_means" in bundle


def _rows_to_audio(features, rows, duration):
    """Log-mel rows -> waveforms lasting about ``duration`` seconds."""
    import numpy as np
    from sklearn.base import clone

    fe = features
    n_frames, n_mels = fe.n_frames, fe.n_mels
    hop = fe.hop_length_
    target = n_frames
    if np.isfinite(duration) and duration > 0:
        target = max(2, int(round(duration * fe.sr / hop)) + 1)
    if target != n_frames:
        old = np.linspace(0.0, 1.0, n_frames)
        new = np.linspace(0.0, 1.0, target)
        stretched = np.empty((len(rows), target * n_mels))
        for i, row in enumerate(rows):
            R = np.asarray(row, dtype=float).reshape(n_frames, n_mels)
            S = np.stack([np.interp(new, old, R[:, m]) for m in range(n_mels)], 1)
            stretched[i] = S.ravel()
        rows = stretched
        fe = clone(fe).set_params(n_frames=target, n_jobs=None).fit()
    return fe.inverse_transform(rows)


def generate_utterances(bundle, label, n, *, random_state=None, temperature=1.0):
    """Generate ``n`` new utterances of ``label`` with a saved model.

    The model's conditional VAE draws latent codes from the label's prior
    and decodes them with the label to log-mel rows (their means); rows are
    stretched to the label's median training duration and turned into audio
    by Griffin-Lim. Models without a conditional VAE draw codes from the
    Gaussian fitted to the label's training codes instead.

    Parameters
    ----------
    bundle : dict
        From :func:`load_recognizer` or :func:`recognizer_bundle`.
    label : object
        One of ``bundle["classes"]``.
    n : int
        Utterances to generate.
    random_state : int, numpy.random.Generator or None, default=None
        Seeds the draws; a Generator is used (and advanced) as is, so
        successive calls sharing one give different utterances.
    temperature : float, default=1.0
        Scale of the latent spread: <1 typical, >1 varied.

    Returns
    -------
    rows : ndarray of shape (n, n_features)
        The generated log-mel rows.
    waves : sequence of n ndarrays
        The waveforms, at the front end's ``sr``.

    Raises
    ------
    ValueError
        ``label`` is not a label of the model, or the model cannot generate
        (:func:`can_generate`).

    Examples
    --------
    >>> from skvae.recipes import generate_utterances, load_recognizer
    >>> bundle = load_recognizer("skvae-run")  # doctest: +SKIP
    >>> rows, waves = generate_utterances(bundle, 3, 2)  # doctest: +SKIP
    """
    import numpy as np

    if not can_generate(bundle):
        raise ValueError(_NO_GENERATOR.format(path=bundle.get("path", "")))
    classes = list(bundle["classes"])
    if label not in classes:
        raise ValueError(f"{label!r} is not a label of this model (labels: {classes})")
    rng = (
        random_state
        if isinstance(random_state, np.random.Generator)
        else np.random.default_rng(random_state)
    )
    k = classes.index(label)
    pipe = recognizer_pipeline(bundle["pipeline"])
    generator = bundle.get("generator")
    if generator is not None:
        rows, _ = generator.sample(
            n,
            y=np.full(n, label, dtype=np.asarray(generator.classes_).dtype),
            random_state=int(rng.integers(2**31 - 1)),
            observation_noise=False,
            temperature=temperature,
        )
    else:
        mean, cov = bundle["latent_means"][k], bundle["latent_covs"][k]
        L = np.linalg.cholesky(cov)
        Z = mean + temperature * rng.standard_normal((n, mean.size)) @ L.T
        rows = pipe.named_steps["vae"].inverse_transform(Z)
    waves = _rows_to_audio(pipe.named_steps["features"], rows, bundle["durations"][k])
    return rows, waves


def write_utterances(waves, folder, label, sr, *, start=0):
    """Write generated utterances as WAV files named ``LABEL_skvae_I.wav``.

    Each is peak-normalised (:func:`skvae.features.write_wav` with
    ``normalize=True``) and written as 16-bit PCM: what ``skvae sample`` and
    the report write, and what the generation check reads back to count the
    utterances the recogniser recognises (so that the count is that of the
    files, not of the waveforms in memory).

    Parameters
    ----------
    waves : sequence of 1-D arrays
        Waveforms at ``sr`` (:func:`generate_utterances`).
    folder : str or os.PathLike
        An existing folder.
    label : object
        Their label; its ``str`` starts the file names, so that
        :func:`skvae.datasets.load_audio_folder` reads it back.
    sr : int
        Sample rate.
    start : int, default=0
        Number of the first file.

    Returns
    -------
    paths : list of str
        The files written, in the order of ``waves``.

    Examples
    --------
    >>> import tempfile
    >>> import numpy as np
    >>> from skvae.recipes import write_utterances
    >>> waves = [np.sin(np.arange(800) / 4.0).astype(np.float32)] * 2
    >>> with tempfile.TemporaryDirectory() as tmp:
    ...     paths = write_utterances(waves, tmp, 3, 8000)
    ...     [p.rsplit("/", 1)[-1] for p in paths]
    ['3_skvae_0.wav', '3_skvae_1.wav']
    """
    from .features import write_wav

    folder = Path(folder)
    return [
        write_wav(folder / f"{label}_skvae_{start + i}.wav", w, sr, normalize=True)
        for i, w in enumerate(waves)
    ]


# --------------------------------------------------------------------------
# recognising files
# --------------------------------------------------------------------------
def recognize_files(pipeline, paths):
    """Labels and class probabilities of audio files, past unreadable ones.

    Parameters
    ----------
    pipeline : fitted classifier
        A recogniser (``bundle["pipeline"]``) whose first step, named
        ``"features"``, reads audio, with or without reject option; or any
        classifier taking paths.
    paths : sequence of str or os.PathLike
        Audio files (any sample rate) or folders (searched for audio files).

    Returns
    -------
    result : Bunch
        ``files`` (list of the paths read, folders expanded), ``labels``
        (ndarray of shape (len(files),): the predicted labels, the reject
        label where a reject option rejects), ``proba`` (ndarray of shape
        (len(files), n_classes): probabilities among the known labels),
        ``classes``, ``scores`` (the in-vocabulary scores of a reject
        option, else None), ``threshold`` and ``reject_label`` (of the
        reject option, else None) and ``errors`` (list of ``(path,
        reason)`` of the files that could not be read).

    Examples
    --------
    >>> from skvae.recipes import load_recognizer, recognize_files
    >>> pipe = load_recognizer("skvae-run")["pipeline"]  # doctest: +SKIP
    >>> res = recognize_files(pipe, ["a.wav", "recordings/"])  # doctest: +SKIP
    >>> res.classes[res.proba.argmax(axis=1)]  # doctest: +SKIP
    """
    import numpy as np
    from sklearn.utils import Bunch

    from .datasets import load_audio_folder
    from .features import AudioReadError

    files = []
    for item in paths:
        p = Path(item)
        if p.is_dir():
            try:
                files.extend(load_audio_folder(p, label_from=None).filenames)
            except ValueError:
                files.append(str(p))  # reported as unreadable
        else:
            files.append(str(p))
    from . import RejectOptionClassifier

    inner = recognizer_pipeline(pipeline)
    features = getattr(inner, "named_steps", {}).get("features")
    rows, ok, errors = [], [], []
    for path in files:
        try:
            rows.append(path if features is None else features.transform([path])[0])
            ok.append(path)
        except AudioReadError as exc:
            errors.append((exc.path, exc.reason))
    classes = pipeline.classes_
    reject = isinstance(pipeline, RejectOptionClassifier)
    model = pipeline if features is None else _on_rows(pipeline)
    X = rows if features is None or not ok else np.vstack(rows)
    proba = np.empty((0, len(classes)))
    labels = np.empty(0, dtype=np.asarray(classes).dtype)
    scores = np.empty(0) if reject else None
    if ok:
        proba = model.predict_proba(X)
        labels = model.predict(X)
        if reject:
            scores = model.score_samples(X)
    return Bunch(
        files=ok,
        labels=labels,
        proba=proba,
        classes=classes,
        scores=scores,
        threshold=pipeline.threshold_ if reject else None,
        reject_label=pipeline.reject_label_ if reject else None,
        errors=errors,
    )


# --------------------------------------------------------------------------
# writing files and folders
# --------------------------------------------------------------------------
@contextlib.contextmanager
def _signals_held():
    """Hold SIGINT and SIGTERM back until the block ends (main thread, POSIX).

    A Ctrl-C that arrives meanwhile is delivered when the block ends.
    """
    import signal
    import threading

    if (
        not hasattr(signal, "pthread_sigmask")
        or threading.current_thread() is not threading.main_thread()
    ):
        yield
        return
    old = signal.pthread_sigmask(signal.SIG_BLOCK, {signal.SIGINT, signal.SIGTERM})
    try:
        yield
    finally:
        signal.pthread_sigmask(signal.SIG_SETMASK, old)


def _file_mode(path):
    """The mode of ``path`` if it exists, else what open() would give it."""
    try:
        return os.stat(path).st_mode & 0o7777
    except OSError:
        umask = os.umask(0)
        os.umask(umask)
        return 0o666 & ~umask


def _write_atomic(path, data):
    """Write ``data`` (bytes) to ``path`` through a temporary file beside it.

    The temporary file is flushed to disk and renamed over ``path``
    (``os.replace``), so ``path`` holds either its old content or all of the
    new one, never a part; on failure the temporary file is removed.
    """
    import tempfile

    path = Path(path)
    fd, tmp = tempfile.mkstemp(
        dir=path.parent, prefix=f".{path.name}.", suffix=".partial"
    )
    try:
        if hasattr(os, "fchmod"):  # mkstemp's 0600: give the usual mode instead
            os.fchmod(fd, _file_mode(path))
        with os.fdopen(fd, "wb") as fh:
            fh.write(data)
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        raise
    return path


def _make_folder(path):
    """Create ``path`` and its missing parents; return those created."""
    path = Path(path)
    missing = []
    p = path
    while not p.exists() and not p.is_symlink() and p.parent != p:
        missing.append(p)
        p = p.parent
    if not p.is_dir():
        raise NotADirectoryError(f"cannot create the folder '{path}': '{p}' is a file")
    created = []
    try:
        for d in reversed(missing):
            d.mkdir()
            created.append(d)
    except BaseException:
        _remove_empty(created)
        raise
    return created


def _remove_empty(folders):
    for d in reversed(folders):
        with contextlib.suppress(OSError):
            d.rmdir()  # only if empty


def _entries(folder):
    # folders first, then files in name order: model.skops, the file that
    # loads the rest, comes after model.safetensors
    return sorted(folder.iterdir(), key=lambda e: (not e.is_dir(), e.name))


def _check_merge(src, dst):
    """Refuse, before anything changes, a file that would replace a folder."""
    for e in _entries(src):
        target = dst / e.name
        if target.exists() and target.is_dir() != e.is_dir():
            kind = "folder" if target.is_dir() else "file"
            raise IsADirectoryError(
                f"cannot write '{target}': a {kind} of that name is in the way"
            )
        if e.is_dir() and target.is_dir():
            _check_merge(e, target)


def _merge(src, dst):
    """Move the files of ``src`` into ``dst`` (recursively), replacing
    their namesakes with ``os.replace``; other files of ``dst`` stay."""
    for e in _entries(src):
        target = dst / e.name
        if e.is_dir() and target.is_dir():
            _merge(e, target)
        else:
            os.replace(e, target)


def _swap_in(staging, path, remove):
    """Move everything written in ``staging`` into ``path``; delete ``remove``."""
    import shutil
    import tempfile

    _check_merge(staging, path)
    new_names = {e.name for e in staging.iterdir()}
    with _signals_held():
        trash = Path(tempfile.mkdtemp(dir=path, prefix=".skvae-old-"))
        try:
            for name in remove:
                target = path / name
                if name not in new_names and (target.exists() or target.is_symlink()):
                    os.rename(target, trash / name)
            _merge(staging, path)
        finally:
            shutil.rmtree(trash, ignore_errors=True)
            shutil.rmtree(staging, ignore_errors=True)


@contextlib.contextmanager
def staged_folder(path, *, remove=()):
    """Write a folder's new contents aside, then swap them in at once.

    Yields an empty hidden folder inside ``path`` (created with its parents
    if needed). When the block ends normally, each file written there
    replaces the file of the same name in ``path`` (``os.replace``, in
    sub-folders too), with Ctrl-C (SIGINT) and SIGTERM held back meanwhile,
    and the entries named in ``remove`` are deleted. Files of ``path`` that
    the block did not write are left alone (``path`` may be any folder,
    holding files that are not the caller's). When the block raises (a
    Ctrl-C included), what it wrote is deleted, ``path`` is left as it was,
    and folders this function created are removed again.

    Parameters
    ----------
    path : str or os.PathLike
        The output folder (e.g. the ``--out`` of ``skvae train``).
    remove : sequence of str, default=()
        Names of entries of ``path`` to delete when the new contents come
        in (outputs of an earlier run that this one does not replace).

    Yields
    ------
    staging : pathlib.Path
        The folder to write into.

    Raises
    ------
    NotADirectoryError
        ``path``, or one of its parents, is a file.
    IsADirectoryError
        A new file would replace a folder, or a new folder a file.

    Examples
    --------
    >>> import os, tempfile
    >>> from pathlib import Path
    >>> from skvae.recipes import staged_folder
    >>> out = Path(tempfile.mkdtemp()) / "run"
    >>> with staged_folder(out) as tmp:
    ...     _ = (tmp / "a.txt").write_text("new")
    ...     os.listdir(out)  # nothing visible yet but the hidden folder
    ['.skvae-partial-...']
    >>> (out / "a.txt").read_text(), os.listdir(out)
    ('new', ['a.txt'])
    """
    import shutil
    import tempfile

    path = Path(path)
    if path.exists() and not path.is_dir():
        raise NotADirectoryError(f"'{path}' is a file, not a folder")
    for name in remove:
        if not name or Path(name).name != name or name in (".", ".."):
            raise ValueError(f"remove holds {name!r}: give names of entries of {path}")
    created = _make_folder(path)
    try:
        staging = Path(tempfile.mkdtemp(dir=path, prefix=".skvae-partial-"))
    except BaseException:
        _remove_empty(created)
        raise
    try:
        yield staging
        _swap_in(staging, path, tuple(remove))
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
        _remove_empty(created)
        raise


# --------------------------------------------------------------------------
# saving and loading
# --------------------------------------------------------------------------
_PICKLE_REFUSED = (
    "'{path}' is a pickle (joblib) file, the format of models saved by skvae "
    "before {file} existed; pickle files can run any code when loaded, so "
    "they are not loaded by default. Train the model again ('skvae train "
    "--out DIR' writes DIR/{file}), or, only if you trust this file, load it "
    "with trust_pickle=True (on the command line: --trust-pickle)"
)


def _model_path(path, *, for_writing=False):
    """The model file ``path`` names (a file, or a folder holding one)."""
    path = Path(path)
    if not path.is_dir():
        return path
    if for_writing:
        return path / MODEL_FILE
    for name in (MODEL_FILE, LEGACY_MODEL_FILE):
        if (path / name).is_file():
            return path / name
    raise FileNotFoundError(
        f"the folder '{path}' holds no model ({MODEL_FILE}): pass the --out "
        "folder of 'skvae train' or the model file itself"
    )


def _file_kind(path):
    """What a file holds, from its first bytes: skops, pickle, safetensors."""
    with open(path, "rb") as fh:
        head = fh.read(16)
    if not head:
        return "empty"
    if head[:4] in (b"PK\x03\x04", b"PK\x05\x06"):
        return "skops"  # a zip archive
    if len(head) > 8 and head[8:9] == b"{":
        return "safetensors"  # 8-byte header length, then a JSON header
    zlib = (b"\x78\x01", b"\x78\x5e", b"\x78\x9c", b"\x78\xda")
    compressed = (*zlib, b"\x1f\x8b", b"BZh", b"\xfd7zXZ", b"\x5d\x00\x00", b"ZF")
    if head[:1] == b"\x80" or head.startswith(compressed):
        return "pickle"  # pickle protocol >= 2, or joblib's compressed pickle
    if path.suffix in (".joblib", ".pkl", ".pickle"):
        return "pickle"
    return "unknown"


def _failure_reason(exc):
    """Why loading failed, in words, never empty."""
    import zipfile

    text = str(exc).strip()
    name = type(exc).__name__
    words = ("truncated", "eof", "ran out of input", "unexpected end")
    truncated = isinstance(exc, EOFError | zipfile.BadZipFile) or any(
        w in text.lower() for w in words
    )
    detail = f"{name}: {text}" if text else name
    if truncated:
        return (
            f"the file is damaged or truncated ({detail}); was writing it "
            "interrupted? Train the model again"
        )
    return detail


def _weights_bytes(estimator):
    """The bytes of ``skvae.save(estimator, ...)``'s weights-only file."""
    import tempfile

    from . import save

    with tempfile.TemporaryDirectory() as tmp:
        return Path(save(estimator, Path(tmp) / "vae.safetensors")).read_bytes()


def _from_weights_bytes(data, what, path):
    import tempfile

    from . import load

    with tempfile.TemporaryDirectory() as tmp:
        file = Path(tmp) / "vae.safetensors"
        file.write_bytes(data)
        try:
            return load(file)
        except (ValueError, OSError) as exc:
            reason = str(exc).replace(f"'{file}': ", "").replace(str(file), what)
            raise ValueError(
                f"cannot load the model '{path}': its {what} is damaged ({reason})"
            ) from exc


_REQUEST_METHODS = ("fit", "partial_fit", "transform", "inverse_transform")


def _requests(estimator):
    """The metadata requests of ``estimator`` that are set: {method: {param: v}}."""
    routing = estimator.get_metadata_routing()
    out = {}
    for method in _REQUEST_METHODS:
        requests = getattr(routing, method, None)
        if requests is not None:
            chosen = {k: v for k, v in requests.requests.items() if v is not None}
            if chosen:
                out[method] = chosen
    return out


def _set_requests(estimator, requests):
    with config_context(enable_metadata_routing=True):
        for method, chosen in requests.items():
            getattr(estimator, f"set_{method}_request")(**chosen)


def _to_file_content(bundle):
    """The bundle as skops stores it: the VAEs as weights-only bytes.

    A reject option is stored around the same on-disk pipeline (its
    ``estimator`` parameter too, which :func:`_from_file_content` makes an
    unfitted copy of the restored pipeline again).
    """
    import copy

    from . import RejectOptionClassifier, VAEClassifier, VAETransformer

    model = bundle["pipeline"]
    pipe = recognizer_pipeline(model)
    steps, weights, requests = [], {}, {}
    for name, step in pipe.steps:
        if isinstance(step, VAETransformer | VAEClassifier):
            weights[name] = _weights_bytes(step)
            requests[name] = _requests(step)
            step = "passthrough"  # the weights-only bytes replace it on disk
        steps.append((name, step))
    content = {
        k: v for k, v in bundle.items() if k not in ("pipeline", "generator", "path")
    }
    on_disk = type(pipe)(steps, memory=pipe.memory, verbose=pipe.verbose)
    version = 2
    if isinstance(model, RejectOptionClassifier):
        wrapper = copy.copy(model)
        wrapper.estimator = wrapper.estimator_ = on_disk
        on_disk, version = wrapper, 3
    content.update(
        format=MODEL_FORMAT,
        format_version=version,
        pipeline=on_disk,
        step_weights=weights,
        step_requests=requests,
    )
    if bundle.get("generator") is not None:
        content["generator_weights"] = _weights_bytes(bundle["generator"])
    return content


def _from_file_content(content, path):
    """The bundle again: the VAEs rebuilt from their weights-only bytes."""
    from sklearn.base import clone

    from . import RejectOptionClassifier

    model = content["pipeline"]
    pipe = recognizer_pipeline(model)
    weights = content.pop("step_weights", {})
    requests = content.pop("step_requests", {})
    steps = list(pipe.steps)
    for k, (name, _) in enumerate(steps):
        if name in weights:
            step = _from_weights_bytes(weights[name], f"'{name}' step", path)
            _set_requests(step, requests.get(name, {}))
            steps[k] = (name, step)
    pipe.steps = steps
    if isinstance(model, RejectOptionClassifier):
        model.estimator_ = pipe
        model.estimator = clone(pipe)  # the unfitted template, as at fit
    if "generator_weights" in content:
        data = content.pop("generator_weights")
        content["generator"] = _from_weights_bytes(data, "generator", path)
    return content


def save_recognizer(bundle, path):
    """Save a bundle as ``skvae train`` does: one skops file, no pickle.

    The VAE steps and the generator are stored as the bytes of their
    weights-only files (:func:`skvae.save`), the rest with
    :func:`skops.io.dumps`; see the module docstring. The file is written
    atomically: a temporary file beside it, renamed over it when complete.

    Parameters
    ----------
    bundle : dict
        From :func:`recognizer_bundle`.
    path : str or os.PathLike
        The file, or an existing folder (then ``folder/model.skops``).

    Returns
    -------
    path : pathlib.Path
        The file written.

    See Also
    --------
    load_recognizer : The way back.
    skvae.save : The VAE alone, weights-only (``bundle["pipeline"]["vae"]``).
    """
    import skops.io

    path = _model_path(path, for_writing=True)
    return _write_atomic(path, skops.io.dumps(_to_file_content(bundle)))


def _load_skops(path):
    import skops.io
    from skops.io.exceptions import UntrustedTypesFoundException

    try:
        return skops.io.load(path, trusted=list(TRUSTED_TYPES))
    except UntrustedTypesFoundException as exc:
        found = sorted(set(skops.io.get_untrusted_types(file=path)) - {*TRUSTED_TYPES})
        raise ValueError(
            f"refusing to load the model '{path}': it holds types skvae does "
            f"not trust ({', '.join(found)}); a model saved by skvae holds only "
            "skops's default types and those of skvae.recipes.TRUSTED_TYPES"
        ) from exc
    except Exception as exc:  # damaged archive, unknown schema, ...
        raise ValueError(
            f"cannot load the model '{path}': {_failure_reason(exc)}"
        ) from exc


def _load_pickle(path):
    import joblib

    try:
        return joblib.load(path)
    except Exception as exc:  # any unpickling failure
        raise ValueError(
            f"cannot load the model '{path}': {_failure_reason(exc)}"
        ) from exc


def load_recognizer(path, *, require_generator=False, trust_pickle=False):
    """Load a model saved by ``skvae train`` (or :func:`save_recognizer`).

    Never unpickles anything unless ``trust_pickle``: the file is read with
    :func:`skops.io.load`, trusting only skops's default types and
    :data:`TRUSTED_TYPES`, and its VAEs with :func:`skvae.load`.

    Parameters
    ----------
    path : str or os.PathLike
        The ``model.skops`` file, or the folder holding it (the ``--out``
        folder of ``skvae train``).
    require_generator : bool, default=False
        Raise ``ValueError`` if the model cannot generate utterances
        (:func:`can_generate`).
    trust_pickle : bool, default=False
        Also load a pickle (joblib) file, such as the ``model.joblib`` of
        skvae versions before ``model.skops``. Pickle files can run any code
        when loaded: only for files you trust.

    Returns
    -------
    bundle : dict
        See the module docstring, plus ``"path"``, the file loaded. A plain
        fitted scikit-learn classifier saved with :mod:`skops.io` (or,
        trusted, with joblib) is accepted too, wrapped as ``{"pipeline": ...,
        "classes": ..., "metadata": {}}`` (it can predict but not generate).

    Raises
    ------
    FileNotFoundError
        No such file, or a folder without a model.
    ValueError
        The file is damaged or truncated (the message says so), holds types
        that are not trusted, is a pickle file without ``trust_pickle``, is
        not a model (e.g. a weights-only file of a VAE alone), was saved by a
        newer skvae, or cannot generate though ``require_generator``.

    Examples
    --------
    >>> from skvae.recipes import load_recognizer
    >>> load_recognizer("no-such-run")
    Traceback (most recent call last):
    ...
    FileNotFoundError: model 'no-such-run' does not exist (...)
    """
    path = _model_path(path)
    if not path.is_file():
        raise FileNotFoundError(
            f"model '{path}' does not exist (train one with 'skvae train --out DIR' "
            f"and pass DIR or DIR/{MODEL_FILE})"
        )
    kind = _file_kind(path)
    if kind == "skops":
        obj = _load_skops(path)
    elif kind == "pickle":
        if not trust_pickle:
            raise ValueError(_PICKLE_REFUSED.format(path=path, file=MODEL_FILE))
        obj = _load_pickle(path)
    elif kind == "safetensors":
        raise ValueError(
            f"'{path}' is the weights-only file of a VAE alone (load it with "
            f"skvae.load); the recogniser is the {MODEL_FILE} beside it: pass "
            "that file or its folder"
        )
    elif kind == "empty":
        raise ValueError(
            f"cannot load the model '{path}': the file is empty; was writing it "
            "interrupted? Train the model again"
        )
    else:
        raise ValueError(
            f"cannot load the model '{path}': it is not a model file of skvae "
            f"(a {MODEL_FILE} skops archive, or a pickle with trust_pickle=True)"
        )
    if isinstance(obj, dict) and obj.get("format") == MODEL_FORMAT:
        if obj.get("format_version", 0) > MODEL_FORMAT_VERSION:
            raise ValueError(
                f"'{path}' was saved by a newer skvae; upgrade skvae to use it"
            )
        bundle = _from_file_content(obj, path) if kind == "skops" else obj
    elif hasattr(obj, "predict_proba") and hasattr(obj, "classes_"):
        bundle = {"pipeline": obj, "classes": obj.classes_, "metadata": {}}
    else:
        raise ValueError(f"'{path}' is not a model saved by 'skvae train'")
    bundle["path"] = str(path)
    if require_generator and not can_generate(bundle):
        raise ValueError(_NO_GENERATOR.format(path=path))
    return bundle
