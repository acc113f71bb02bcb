"""The recogniser and generator factories (make_recognizer, make_generator)."""

from ._pipeline import RecognizerPipeline

#: the fraction of training utterances the reject option holds out to set its
#: threshold (one extra fit; then a refit on all utterances)
REJECT_HOLD_OUT = 0.2

#: the settings of the SequenceVAE of ``make_recognizer(vae="sequence")``,
#: beyond those it shares with the recogniser (n_components, hidden layers,
#: seed, device, threads, verbosity); change them here, in one place
SEQUENCE_VAE = {
    "hidden_layer_sizes": (128, 128),
    "n_sequence_components": 8,
    "segment_length": 20,
    "segment_shift": 10,
    "label_weight": 50.0,
    "max_iter": 20,
}

#: make_recognizer's generated voices (``augment="voices"``, the default):
#: every label's word said 3 times by each of 48 eSpeak NG voices
#: (:class:`~skvae.augment.SyntheticVoices`); what the benchmarks measured
GENERATED_VOICES = {"voices": 48, "n_repeats": 3}
#: make_recognizer's voice perturbation (``augment="perturb"``): two copies
#: of every utterance, drawn among these five
#: (:class:`~skvae.augment.VoicePerturbation`)
PERTURBATION = {"speed": (0.9, 1.1), "vtlp": (0.9, 1.1, 1.2), "n_copies": 2}

#: the values of make_recognizer's ``vae``, ``cmvn``, ``head`` and ``augment``
VAE_OPTIONS = ("auto", "flat", "sequence", None)
CMVN_OPTIONS = ("auto", None, "mean", "meanvar")
HEAD_OPTIONS = ("ovr", "ovo")
AUGMENT_OPTIONS = (
    "auto",
    None,
    "voices",
    "perturb",
    "voices+perturb",
    "filler",
    "voices+filler",
)
#: make_recognizer's filler words (``augment`` with "filler", the default of
#: ``reject=True``): utterances of words that are not in the vocabulary, said
#: by generated voices, learned as one more class (:class:`~skvae.augment.FillerWords`)
FILLER = {"n_samples": 1000, "voices": 48}


def resolve_auto(vae, cmvn, reject):
    """``vae`` and ``cmvn`` of :func:`make_recognizer` with "auto" resolved.

    The reject option uses the flat VAE (fitted twice: hold-out, refit) on
    plain log-mel: with its filler class, the ELBO there separated known
    from unknown words better than on per-utterance CMVN rows, for new
    voices as for known ones (``benchmarks/bench_openset.py --split
    validation``).
    """
    if vae == "auto":
        vae = "flat" if reject else "sequence"
    if cmvn == "auto":
        cmvn = None if reject else "mean"
    return vae, cmvn


def resolve_augment(augment, reject):
    """``augment`` of :func:`make_recognizer` with "auto" resolved: the
    generated voices (the best on validation voices; perturbation lowered
    the held-out FSDD voice), and with the reject option the filler words
    too (its filler class)."""
    if augment == "auto":
        augment = "voices+filler" if reject else "voices"
    return augment


def without_filler(augment):
    """``augment`` without its filler words ("voices+filler" -> "voices"),
    for a recogniser without the reject option."""
    if augment is None or "filler" not in augment:
        return augment
    rest = "+".join(a for a in augment.split("+") if a != "filler")
    return rest or None


def _check_option(name, value, options):
    if value not in options:
        raise ValueError(f"{name} must be one of {list(options)}; got {value!r}")


def make_recognizer(
    *,
    n_components=16,
    hidden_layer_sizes=None,
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
    vae="auto",
    cmvn="auto",
    head="ovr",
    augment="auto",
):
    """The recommended speech recogniser (unfitted).

    A :class:`RecognizerPipeline` of ``"features"`` (``SpeechFeatures``:
    log-mel, level-normalised, silence trimmed, each utterance's mean
    removed, band-limited at predict time to the bandwidth of its training
    audio) and ``"model"``: by default a Pipeline of ``"vae"`` (a
    :class:`~skvae.SequenceVAE` on the frames at their natural length),
    ``"scale"`` and ``"clf"`` (a one-vs-rest RBF SVC, probabilities
    calibrated by temperature scaling where scikit-learn has it, else
    sigmoid). The defaults are the best combination measured on validation
    voices (``benchmarks/bench_recognizer_defaults.py``), wrapped
    with ``reject=True`` in a :class:`~skvae.RejectOptionClassifier` whose
    ``predict`` answers -1 (or ``"<unknown>"``) where the in-vocabulary
    score is below a threshold learned on a held-out 20 % of the training
    utterances. Its score is the flat VAE's ELBO plus the log-probability
    the classifier gives the known classes against a filler class: a
    thousand other words said by generated voices (:data:`FILLER`,
    :class:`~skvae.augment.FillerWords`) learned as one more class; the
    generated voices say the labels too, so that a synthetic voice is in
    every class (``benchmarks/bench_openset.py``: known and unknown words
    said by the same new voices). It takes audio file
    paths (any sample rate) or waveforms at ``sr``.

    With ``vae="sequence"`` the front end gives each utterance's frames at
    their natural length (``output="sequence"``) and the SequenceVAE has the
    settings of :data:`SEQUENCE_VAE` and is fitted with the labels. With
    ``vae="flat"`` the model is ``"vae"`` (a ``VAETransformer`` with early
    stopping on rows of ``n_frames`` resampled frames) and ``"clf"``; with
    ``vae=None``, ``"scale"`` and ``"clf"`` on those rows.

    Parameters
    ----------
    n_components : int, default=16
        Dimension of the VAE's latent space.
    hidden_layer_sizes : tuple of int or None, default=None
        Widths of the VAE's encoder layers (the decoder mirrors them); None:
        (256, 128) for ``vae="flat"``, ``SEQUENCE_VAE``'s (128, 128) for
        ``vae="sequence"``.
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
        Maximum VAE epochs (early stopping usually ends sooner); for the
        ``SequenceVAE``, at most ``SEQUENCE_VAE["max_iter"]``.
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
        Add the reject option (with ``augment="auto"``: its filler class).
    target_false_rejection : float in [0, 1), default=0.05
        With ``reject``: the fraction of known words to reject.
    vae : {"auto", "sequence", "flat", None}, default="auto"
        The VAE step. "flat": a ``VAETransformer`` on each utterance's row
        of ``n_frames`` time-resampled frames. "sequence": a
        ``SequenceVAE`` on the frames at their natural length (``n_frames``
        is then the length of the rows the generator and the report use),
        then ``StandardScaler``. None: no VAE, ``StandardScaler`` on the
        rows; ``reject=True`` then raises ``ValueError``. "auto":
        "sequence", or "flat" with ``reject`` (fitted twice: the hold-out
        that sets the threshold, then on every utterance).
    cmvn : {"auto", "mean", "meanvar", None}, default="auto"
        Per-utterance normalisation of the features (``SpeechFeatures``'s
        ``cmvn``): each utterance's mean (and variance) over time removed.
        It needs no speaker label. "auto": "mean", or None with ``reject``.
    head : {"ovr", "ovo"}, default="ovr"
        The classifier. "ovr": one-vs-rest RBF SVCs with calibrated
        probabilities (``cv`` folds). "ovo": scikit-learn's one-vs-one
        ``SVC()``, its vote kept; probabilities by temperature scaling of
        its decision function (``cv`` folds), which keeps the vote, or,
        before scikit-learn 1.8, ``SVC(probability=True)`` (Platt).
    augment : {"auto", "voices+perturb", "voices", "perturb", \
            "voices+filler", "filler", None}, default="auto"
        Fit-time augmentation of the training audio, before the front end
        (the samplers are skipped by ``predict``). "voices": every label's
        word also said by generated voices (``"voices"``, a
        :class:`~skvae.augment.SyntheticVoices` of :data:`GENERATED_VOICES`;
        labels must be digits 0-9 or words). "perturb": two voice-perturbed
        copies of every utterance (``"perturb"``, a
        :class:`~skvae.augment.VoicePerturbation` of :data:`PERTURBATION`),
        after the generated voices if both. "filler": other words said by
        generated voices, the reject option's filler class (``"filler"``, a
        :class:`~skvae.augment.FillerWords` of :data:`FILLER`; only with
        ``reject``). "auto": "voices" (the best measured on validation
        voices; perturbation lowered the held-out FSDD voice and took 3-7
        times longer to train), or "voices+filler" with ``reject``.
        ``reject`` refuses perturbation (its held-out threshold would be
        learned on perturbed copies of training utterances).

    Returns
    -------
    recognizer : RecognizerPipeline or ResamplingPipeline
        Steps ``"features"`` and ``"model"``, unfitted; with ``augment``, a
        :class:`~skvae.augment.ResamplingPipeline` whose samplers come first.

    Examples
    --------
    >>> from skvae.datasets import make_spoken_digits
    >>> from skvae.recipes import make_recognizer
    >>> rec = make_recognizer(n_components=4, max_iter=2, cv=2)
    >>> [name for name, _ in rec.steps], [name for name, _ in rec["model"].steps]
    (['voices', 'features', 'model'], ['vae', 'scale', 'clf'])
    >>> rec = make_recognizer(n_components=4, max_iter=2, cv=2, augment=None)
    >>> [name for name, _ in rec.steps]
    ['features', 'model']
    >>> digits = make_spoken_digits(3, 2, random_state=0)
    >>> rec.fit(digits.data, digits.target).predict(digits.data[:3]).shape
    (3,)
    >>> rec = make_recognizer(reject=True)
    >>> type(rec["model"]).__name__, [name for name, _ in rec.steps]
    ('RejectOptionClassifier', ['voices', 'filler', 'features', 'model'])
    >>> rec = make_recognizer(vae="flat", head="ovo", cmvn=None)
    >>> rec["features"].output, [name for name, _ in rec["model"].steps]
    ('resample', ['vae', 'clf'])
    >>> [name for name, _ in make_recognizer(vae=None)["model"].steps]
    ['scale', 'clf']
    """
    from sklearn.pipeline import Pipeline
    from sklearn.preprocessing import StandardScaler

    from .. import RejectOptionClassifier, SequenceVAE, VAETransformer
    from ..features import SpeechFeatures

    _check_option("vae", vae, VAE_OPTIONS)
    _check_option("cmvn", cmvn, CMVN_OPTIONS)
    vae, cmvn = resolve_auto(vae, cmvn, reject)
    _check_option("head", head, HEAD_OPTIONS)
    _check_option("augment", augment, AUGMENT_OPTIONS)
    augment = resolve_augment(augment, reject)
    if reject and augment is not None and "perturb" in augment:
        raise ValueError(
            "reject=True cannot be combined with perturbation (the reject "
            "option's threshold is learned on held-out training utterances, "
            "which would hold perturbed copies of the training ones); use "
            "augment='voices+filler', 'filler', 'voices' or None"
        )
    if not reject and augment is not None and "filler" in augment:
        raise ValueError(
            "augment with 'filler' adds a filler class that only the reject "
            "option uses; set reject=True or leave 'filler' out"
        )
    if reject and vae is None:
        raise ValueError(
            "reject=True needs a VAE step (the reject option scores utterances "
            "with its score_samples); use vae='flat' or 'sequence', or reject=False"
        )
    front_end = SpeechFeatures(
        kind="logmel",
        sr=sr,
        band_limit=True,
        n_mels=n_mels,
        n_frames=n_frames,
        top_db=top_db,
        level=level,
        cmvn=cmvn,
        output="sequence" if vae == "sequence" else "resample",
    )
    clf = _calibrated_svc(cv=cv, one_vs_rest=head == "ovr", random_state=random_state)
    shared = dict(
        n_components=n_components,
        random_state=random_state,
        device=device,
        n_threads=n_threads,
        verbose=verbose,
    )
    if vae == "flat":
        hidden = (256, 128) if hidden_layer_sizes is None else hidden_layer_sizes
        model = VAETransformer(
            hidden_layer_sizes=hidden, max_iter=max_iter, early_stopping=True, **shared
        )
        rows = Pipeline([("vae", model), ("clf", clf)])
    elif vae == "sequence":
        settings = {**SEQUENCE_VAE, **shared}
        if hidden_layer_sizes is not None:
            settings["hidden_layer_sizes"] = hidden_layer_sizes
        settings["max_iter"] = min(max_iter, SEQUENCE_VAE["max_iter"])
        model = SequenceVAE(**settings)
        rows = Pipeline([("vae", model), ("scale", StandardScaler()), ("clf", clf)])
    else:
        rows = Pipeline([("scale", StandardScaler()), ("clf", clf)])
    if reject:
        rows = RejectOptionClassifier(
            rows,
            target_false_rejection=target_false_rejection,
            filler_label="auto" if augment and "filler" in augment else None,
            cv=REJECT_HOLD_OUT,
            random_state=random_state,
        )
    steps = [("features", front_end), ("model", rows)]
    if augment is None:
        return RecognizerPipeline(steps)
    from ..augment import (
        FillerWords,
        ResamplingPipeline,
        SyntheticVoices,
        VoicePerturbation,
    )

    samplers = []
    if "voices" in augment:
        voices = SyntheticVoices(**GENERATED_VOICES, sr=sr, random_state=random_state)
        samplers.append(("voices", voices))
    if "perturb" in augment:
        perturb = VoicePerturbation(**PERTURBATION, sr=sr, random_state=random_state)
        samplers.append(("perturb", perturb))
    if "filler" in augment:
        filler = FillerWords(**FILLER, sr=sr, random_state=random_state)
        samplers.append(("filler", filler))
    return ResamplingPipeline(samplers + steps)


def _calibrated_svc(*, cv, one_vs_rest=True, random_state=None):
    """The head: one-vs-rest or one-vs-one RBF SVC with probabilities.

    One-vs-one: temperature scaling of the SVC's decision function keeps its
    vote (the argmax); before scikit-learn 1.8, which has no temperature
    scaling, ``SVC(probability=True)`` (Platt), deprecated since 1.9.
    """
    import sklearn
    from sklearn.calibration import CalibratedClassifierCV
    from sklearn.multiclass import OneVsRestClassifier
    from sklearn.svm import SVC

    major_minor = tuple(int(p) for p in sklearn.__version__.split(".")[:2])
    method = "temperature" if major_minor >= (1, 8) else "sigmoid"
    if one_vs_rest:
        svc = OneVsRestClassifier(SVC())
    elif method == "temperature":
        svc = SVC()
    else:
        return SVC(probability=True, random_state=random_state)
    return CalibratedClassifierCV(svc, method=method, cv=cv, ensemble=False)


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
