"""The recogniser and generator factories (make_recognizer, make_generator)."""

from ._pipeline import RecognizerPipeline


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
    from .. import RejectOptionClassifier

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
    from .. import RejectOptionClassifier

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

    from .. import RejectOptionClassifier

    pipe = recognizer_pipeline(model)
    if not isinstance(model, RejectOptionClassifier):
        return pipe[1:]
    view = copy.copy(model)
    view.estimator_ = pipe[1:]
    return view


def _front_end(*, sr, n_mels, n_frames, top_db, level):
    from ..features import SpeechFeatures

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

    from .. import VAETransformer

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
    from .. import VAEClassifier

    return VAEClassifier(
        n_components=n_components,
        hidden_layer_sizes=hidden_layer_sizes,
        max_iter=max_iter,
        early_stopping=True,
        random_state=random_state,
        device=device,
        n_threads=n_threads,
    )
