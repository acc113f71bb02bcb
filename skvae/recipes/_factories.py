"""The recogniser and generator factories (make_recognizer, make_generator)."""

from ._pipeline import RecognizerPipeline

#: the fraction of training utterances the reject option holds out to set its
#: threshold (one extra fit; then a refit on all utterances)
REJECT_HOLD_OUT = 0.2


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
    """The recommended speech recogniser (unfitted).

    A :class:`RecognizerPipeline` of ``"features"`` (``SpeechFeatures``:
    log-mel, level-normalised, silence trimmed, band-limited at predict time
    to the bandwidth of its training audio) and ``"model"``: a Pipeline of
    ``"vae"`` (``VAETransformer`` with early stopping) and ``"clf"``
    (one-vs-rest RBF SVC, probabilities calibrated by temperature scaling
    where scikit-learn has it, else sigmoid), wrapped with ``reject=True``
    in a :class:`~skvae.RejectOptionClassifier` whose ``predict`` answers
    -1 (or ``"<unknown>"``) where the in-vocabulary score is below a
    threshold learned on a held-out 20 % of the training utterances. It
    takes audio file paths (any sample rate) or waveforms at ``sr``.

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
        The active RMS level (dBFS) every utterance is brought to; None:
        none, the features then follow the recording's gain.
    max_iter : int, default=300
        Maximum VAE epochs (early stopping usually ends sooner).
    cv : int, default=5
        Folds used to calibrate the classifier's probabilities.
    random_state : int or None, default=0
        Seed of the VAE, the classifier and the reject option's hold-out.
    device : str, default="cpu"
        Torch device of the VAE ("cpu", "cuda", "auto", ...).
    n_threads : int or None, default=None
        Torch CPU threads of the VAE.
    verbose : int, default=0
        If > 0, the VAE shows a progress bar while training.
    reject : bool, default=False
        Add the reject option.
    target_false_rejection : float in [0, 1), default=0.05
        With ``reject``: the fraction of known words to reject.

    Returns
    -------
    recognizer : RecognizerPipeline
        Steps ``"features"`` and ``"model"``, unfitted.

    Examples
    --------
    >>> from skvae.datasets import make_spoken_digits
    >>> from skvae.recipes import make_recognizer
    >>> rec = make_recognizer(n_components=4, max_iter=2, cv=2)
    >>> [name for name, _ in rec.steps], [name for name, _ in rec["model"].steps]
    (['features', 'model'], ['vae', 'clf'])
    >>> digits = make_spoken_digits(3, 2, random_state=0)
    >>> rec.fit(digits.data, digits.target).predict(digits.data[:3]).shape
    (3,)
    >>> type(make_recognizer(reject=True)["model"]).__name__
    'RejectOptionClassifier'
    """
    from sklearn.pipeline import Pipeline

    from .. import RejectOptionClassifier, VAETransformer
    from ..features import SpeechFeatures

    front_end = SpeechFeatures(
        kind="logmel",
        sr=sr,
        band_limit=True,
        n_mels=n_mels,
        n_frames=n_frames,
        top_db=top_db,
        level=level,
    )
    vae = VAETransformer(
        n_components=n_components,
        hidden_layer_sizes=hidden_layer_sizes,
        max_iter=max_iter,
        early_stopping=True,
        random_state=random_state,
        device=device,
        n_threads=n_threads,
        verbose=verbose,
    )
    rows = Pipeline([("vae", vae), ("clf", _calibrated_svc(cv=cv))])
    if reject:
        rows = RejectOptionClassifier(
            rows,
            target_false_rejection=target_false_rejection,
            cv=REJECT_HOLD_OUT,
            random_state=random_state,
        )
    return RecognizerPipeline([("features", front_end), ("model", rows)])


def _calibrated_svc(*, cv):
    import sklearn
    from sklearn.calibration import CalibratedClassifierCV
    from sklearn.multiclass import OneVsRestClassifier
    from sklearn.svm import SVC

    major_minor = tuple(int(p) for p in sklearn.__version__.split(".")[:2])
    method = "temperature" if major_minor >= (1, 8) else "sigmoid"
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

    A :class:`~skvae.VAEClassifier` with early stopping, to be fitted on the
    log-mel rows of :func:`make_recognizer`'s front end and their labels.
    The parameters are those of :func:`make_recognizer`.

    Returns
    -------
    generator : VAEClassifier
        Unfitted.

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
