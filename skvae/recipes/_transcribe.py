"""The transcriber of connected digits: make_transcriber, its training
strings, and its bundle (``skvae train --task transcribe``)."""

import sys

from sklearn.base import BaseEstimator, TransformerMixin, clone
from sklearn.utils.validation import check_is_fitted

from ._model_file import MODEL_FORMAT, MODEL_FORMAT_VERSION

#: the CTC model of make_transcriber (beyond seed, device, threads and
#: verbosity); chosen on validation speakers and voices
#: (``benchmarks/bench_transcribe.py --split validation``)
TRANSCRIBER = {
    "targets": "spoken-digits",
    "conv_channels": 128,
    "hidden_size": 128,
    "n_layers": 2,
    "stride": 2,
    "dropout": 0.1,
    "max_iter": 12,
}

#: the training strings of train_transcriber: FSDD digits joined (clean,
#: voice-perturbed, and with white or pink noise at each ``snr_db``, in
#: equal shares) and eSpeak NG voices reading numbers; without FSDD, eSpeak
#: NG voices make every kind
TRAINING_STRINGS = {
    "fsdd": 1200,
    "perturbed": 600,
    "noisy": 600,
    "espeak": 600,
    "lengths": (1, 12),
    "gap": (-0.05, 0.3),
    "snr_db": (5.0, 10.0, 15.0, 20.0),
}

REPRESENTATIONS = ("frames", "sequence-vae")
#: eSpeak NG voices held out of training, to test on voices never heard
N_TEST_VOICES = 16

__all__ = [
    "TRAINING_STRINGS",
    "TRANSCRIBER",
    "SegmentCodes",
    "make_transcriber",
    "split_voices",
    "training_strings",
    "train_transcriber",
    "transcriber_bundle",
]


class SegmentCodes(TransformerMixin, BaseEstimator):
    """The z1 trajectory of a :class:`~skvae.SequenceVAE` as a sequence step.

    ``transform`` gives each sequence's segment codes
    (:meth:`~skvae.SequenceVAE.transform_segments`), one row per
    ``segment_shift`` frames, for a sequence model after it.

    Parameters
    ----------
    vae : SequenceVAE or None, default=None
        Cloned and fitted on ``fit``'s sequences; None: ``SequenceVAE()``.

    Attributes
    ----------
    vae_ : SequenceVAE
        The fitted VAE.
    n_features_in_ : int
        Features per frame.
    """

    def __init__(self, vae=None):
        self.vae = vae

    def fit(self, X, y=None):
        """Fit the VAE on the sequences ``X`` (``y`` is ignored)."""
        from .. import SequenceVAE

        self.vae_ = clone(self.vae) if self.vae is not None else SequenceVAE()
        self.vae_.fit(X)
        self.n_features_in_ = self.vae_.n_features_in_
        return self

    def transform(self, X):
        """Per sequence, its (n_segments, n_components) codes."""
        check_is_fitted(self)
        return self.vae_.transform_segments(X)

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.input_tags.two_d_array = False
        return tags


def make_transcriber(
    *,
    sr=8000,
    n_mels=40,
    level=-20.0,
    cmvn="meanvar",
    representation="frames",
    random_state=None,
    device="cpu",
    n_threads=None,
    verbose=0,
    **model_params,
):
    """The transcriber of numbers read aloud: audio in, digit strings out.

    An unfitted scikit-learn :class:`~sklearn.pipeline.Pipeline`:
    ``"features"`` (:class:`~skvae.features.SpeechFeatures`, log-mel frames
    at ``sr`` with 10 ms hops, each utterance levelled, as sequences),
    optionally ``"vae"`` (:class:`SegmentCodes`, a SequenceVAE's z1 per
    segment) and ``"model"`` (:class:`~skvae.CTCTranscriber`: convolutions,
    bidirectional GRU, CTC). ``fit(X, y)``: ``X`` audio (paths at any rate,
    or waveforms at ``sr``), ``y`` digit strings such as ``"8885112931"``;
    ``predict(X)``: the digit strings; ``score(X, y)``: digit accuracy
    (1 - edit distance / reference digits). ``y`` may also give the words
    said (``"triple eight, five double one"``): the model then learns "oh",
    "double" and "triple" as words of their own and transcribes them as
    digits (``CTCTranscriber(targets="spoken-digits")``; training strings
    that say them: :func:`training_strings`,
    :func:`skvae.datasets.make_digit_strings`).

    Parameters
    ----------
    sr : int, default=8000
        Analysis rate (FSDD's, and the telephone's).
    n_mels : int, default=40
        Mel bands.
    level : float or None, default=-20.0
        Each utterance scaled to this active-speech level (dBFS).
    cmvn : {"mean", "meanvar"} or None, default="meanvar"
        Per-utterance normalisation of the frames (mean and variance of each
        band over the utterance): on a validation speaker it lifted digit
        accuracy from 0.825 to 0.962 (``bench_transcribe.py --split
        validation``).
    representation : {"frames", "sequence-vae"}, default="frames"
        What the CTC model reads: the log-mel frames, or the z1 trajectory
        of a SequenceVAE fitted on them (one row per 5 frames; then the CTC
        model's ``stride`` is 1). Compared on validation speakers and voices
        (``benchmarks/bench_transcribe.py --split validation``).
    random_state : int, RandomState instance or None, default=None
        Seeds the model (and the VAE).
    device : str, default="cpu"
        torch device of the model.
    n_threads : int or None, default=None
        torch threads.
    verbose : int, default=0
        Print each epoch.
    **model_params
        Override :data:`TRANSCRIBER` or any other
        :class:`~skvae.CTCTranscriber` parameter.

    Returns
    -------
    transcriber : sklearn.pipeline.Pipeline

    Examples
    --------
    >>> from skvae.datasets import make_digit_strings
    >>> from skvae.recipes import make_transcriber
    >>> train = make_digit_strings(40, lengths=(1, 3), random_state=0)
    >>> model = make_transcriber(max_iter=2, hidden_size=16, conv_channels=16,
    ...                          random_state=0)
    >>> model.fit(list(train.data), train.target).predict(train.data[:2]).shape
    (2,)
    """
    from sklearn.pipeline import Pipeline

    from .. import CTCTranscriber, SequenceVAE
    from ..features import SpeechFeatures

    if representation not in REPRESENTATIONS:
        raise ValueError(
            f"representation must be one of {list(REPRESENTATIONS)}; got "
            f"{representation!r}"
        )
    features = SpeechFeatures(
        sr=sr, n_mels=n_mels, level=level, cmvn=cmvn, output="sequence"
    )
    params = {**TRANSCRIBER, **model_params}
    shared = {
        "random_state": random_state,
        "device": device,
        "n_threads": n_threads,
        "verbose": verbose,
    }
    steps = [("features", features)]
    if representation == "sequence-vae":
        if "stride" not in model_params:
            params["stride"] = 1  # a segment code per 5 frames already
        vae = SequenceVAE(
            hidden_layer_sizes=(128, 128),
            segment_length=10,
            segment_shift=5,
            max_iter=20,
            **shared,
        )
        steps.append(("vae", SegmentCodes(vae)))
    steps.append(("model", CTCTranscriber(**params, **shared)))
    return Pipeline(steps)


def split_voices(n_test=N_TEST_VOICES, random_state=24):
    """The eSpeak NG voices split into training and held-out test voices.

    Parameters
    ----------
    n_test : int, default=16
        Voices held out.
    random_state : int, default=24
        Seeds the draw (the same split everywhere by default).

    Returns
    -------
    train, test : list of str
        Voice names (:func:`skvae.datasets.make_digit_strings`'s
        ``speakers``), each sorted.

    Examples
    --------
    >>> from skvae.recipes import split_voices
    >>> train, test = split_voices()
    >>> len(train), len(test), set(train) & set(test)
    (80, 16, set())
    """
    import numpy as np

    from ..datasets._synth import voice_names

    names = sorted(voice_names())
    order = np.random.RandomState(random_state).permutation(len(names))
    test = sorted(names[i] for i in order[:n_test])
    return sorted(set(names) - set(test)), test


def training_strings(
    data_home=None,
    *,
    speakers=None,
    espeak_voices=None,
    sizes=None,
    random_state=0,
    verbose=0,
):
    """The training corpus of train_transcriber: strings and their digits.

    FSDD digits joined into strings (clean, voice-perturbed, and with white
    or pink noise at each SNR of ``sizes["snr_db"]``), if FSDD is in
    ``data_home``, and eSpeak NG voices reading numbers ("oh", "double",
    phone groups), all by :func:`skvae.datasets.make_digit_strings`.
    Without FSDD (or with ``speakers=[]``), eSpeak NG voices make the clean,
    perturbed and noisy strings too.

    Parameters
    ----------
    data_home : str or path-like or None
        FSDD's folder; None: $SKVAE_DATA, else scikit-learn's data home.
    speakers : list of str or None, default=None
        FSDD speakers (None: all; ``[]``: no FSDD strings).
    espeak_voices : int or list of str or None, default=None
        The eSpeak NG voices (None: all 96).
    sizes : dict or None, default=None
        Override :data:`TRAINING_STRINGS`.
    random_state : int, default=0
    verbose : int, default=0

    Returns
    -------
    X : list of ndarray
        Waveforms at 8 kHz.
    y : list of str
        What each string says: the words eSpeak NG read (``"five double
        one"``), the digits of FSDD strings (each said as its word); a
        transcriber with ``targets="spoken-digits"`` (the default of
        :func:`make_transcriber`) learns "oh", "double" and "triple" as
        words and transcribes them as digits.
    source : list of str
        "fsdd:<speaker>" or "espeak:<voice>" per string.
    used_fsdd : bool
        Whether FSDD strings are among them.
    """
    import numpy as np

    from ..datasets import find_fsdd_home, make_digit_strings

    sizes = {**TRAINING_STRINGS, **(sizes or {})}
    rng = np.random.RandomState(random_state)
    common = {"lengths": tuple(sizes["lengths"]), "sr": 8000}
    parts = []
    used_fsdd = speakers != [] and find_fsdd_home(data_home) is not None
    if used_fsdd:
        said = {
            **common,
            "source": "fsdd",
            "speakers": speakers,
            "subset": "train",
            "gap": tuple(sizes["gap"]),
            "data_home": data_home,
        }
        n_clean, name = sizes["fsdd"], "fsdd"
    else:  # eSpeak NG voices make every kind of string
        said = {**common, "source": "espeak", "speakers": espeak_voices}
        n_clean, name = sizes["fsdd"] + sizes["espeak"], "espeak"
    # the noisy strings: one share per SNR and kind of noise
    kinds = [(snr, kind) for snr in sizes["snr_db"] for kind in ("white", "pink")]
    shares = np.diff(np.linspace(0, sizes["noisy"], len(kinds) + 1).round().astype(int))
    plan = [(n_clean, {}), (sizes["perturbed"], {"perturb": True})]
    plan += [(n, {"snr_db": snr, "noise": k}) for (snr, k), n in zip(kinds, shares)]
    for n, extra in plan:
        if n:
            parts.append(
                (name, make_digit_strings(int(n), **said, **extra, random_state=rng))
            )
    if used_fsdd and sizes["espeak"]:
        espeak = {**common, "source": "espeak", "speakers": espeak_voices}
        parts.append(
            ("espeak", make_digit_strings(sizes["espeak"], **espeak, random_state=rng))
        )
    X = [w for _, p in parts for w in p.data]
    # what eSpeak NG said ("double five"), the digits of FSDD strings
    y = [
        str(text if name == "espeak" else t)
        for name, p in parts
        for t, text in zip(p.target, p.text)
    ]
    source = [f"{name}:{s}" for name, p in parts for s in p.speaker]
    if verbose:
        print(f"{len(X):,} training strings", file=sys.stderr, flush=True)
    return X, y, source, used_fsdd


def transcriber_bundle(transcriber, *, metadata=None):
    """The model-file dict of a fitted transcriber (``task`` "transcribe")."""
    return {
        "format": MODEL_FORMAT,
        "format_version": MODEL_FORMAT_VERSION,
        "task": "transcribe",
        "recognizer": transcriber,
        "metadata": dict(metadata or {}),
    }


def train_transcriber(X, y, *, verbose=0, **params):
    """Fit :func:`make_transcriber` ``(**params)`` on audio ``X`` and digit
    strings ``y`` and return its bundle (metadata: params, epochs, seconds)."""
    import time

    model = make_transcriber(verbose=max(0, verbose - 1), **params)
    start = time.perf_counter()
    model.fit(X, y)
    seconds = time.perf_counter() - start
    ctc = model["model"]
    return transcriber_bundle(
        model,
        metadata={
            "params": {k: v for k, v in params.items() if k != "verbose"},
            "epochs": int(ctc.n_iter_),
            "validation_score": ctc.best_validation_score_,
            "train_seconds": round(seconds, 1),
        },
    )
