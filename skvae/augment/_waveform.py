"""VoicePerturbation: speed, vocal-tract-length and pitch copies of utterances.

Speed is resampling (soxr); VTLP and pitch are Praat's "Change gender"
(``praat-parselmouth``, the ``augment`` extra). Never imports torch.
"""

import math
import warnings
from numbers import Integral, Real

import numpy as np
from imblearn.base import BaseSampler
from joblib import Parallel, delayed
from sklearn.base import _fit_context
from sklearn.utils import check_random_state
from sklearn.utils._param_validation import Interval
from sklearn.utils.validation import check_consistent_length, column_or_1d

from ..audio import AudioReadError, check_utterances, load_audio, resample

PITCH_FLOOR, PITCH_CEILING = 75.0, 600.0  # Praat's pitch range for speech (Hz)
MIN_PRAAT_SECONDS = 3.0 / PITCH_FLOOR  # pitch analysis: three periods, 40 ms
MIN_SR, MAX_SR = 4000, 768_000  # the sample rates accepted
FACTOR_RANGE = (0.5, 2.0)  # speed and vtlp factors
MAX_SEMITONES = 12.0  # the most a pitch copy may move
#: per kind: lowest and highest value, and the value that changes nothing
_RANGES = {"speed": (*FACTOR_RANGE, 1.0), "vtlp": (*FACTOR_RANGE, 1.0)}
_RANGES["pitch"] = (-MAX_SEMITONES, MAX_SEMITONES, 0.0)


def audio_sampler_tags(tags, *, sample_indices):
    """Tags of a sampler of utterances (paths or 1-D waveforms, one a row)."""
    tags.input_tags.two_d_array = False
    tags.input_tags.sparse = False
    tags.input_tags.dataframe = False
    tags.input_tags.string = True
    tags.sampler_tags.sample_indices = sample_indices
    return tags


def _factor_list(values, name, low, high, identity):
    """The checked perturbation values as a tuple."""
    if values is None:
        return ()
    if isinstance(values, Real) and not isinstance(values, bool):
        values = (values,)
    try:
        values = tuple(values)
    except TypeError:
        msg = f"{name} must be a sequence of numbers; got {values!r}"
        raise TypeError(msg) from None
    out = []
    for value in values:
        if not isinstance(value, Real) or isinstance(value, bool):
            raise TypeError(f"{name} must hold numbers; got {value!r}")
        value = float(value)
        if not np.isfinite(value) or not low <= value <= high:
            raise ValueError(f"every value of {name} must be in [{low}, {high}]")
        if value == identity:
            reason = "the originals are kept with keep_original=True"
            raise ValueError(f"{name} holds {value}, which changes nothing: {reason}")
        out.append(value)
    if len(set(out)) != len(out):
        raise ValueError(f"{name} holds a value twice: {values!r}")
    return tuple(out)


def _praat():
    try:
        import parselmouth
    except ImportError as exc:  # pragma: no cover - the augment extra
        raise ImportError(
            "vtlp and pitch perturbation need praat-parselmouth: "
            'pip install "skvae[augment]"'
        ) from exc
    return parselmouth


def _check_duration(y, sr, kind, index=None):
    """Refuse a waveform too short for Praat's pitch analysis (vtlp, pitch)."""
    if kind != "speed" and y.shape[0] < math.ceil(3 * sr / PITCH_FLOOR):
        where = "the waveform" if index is None else f"X[{index}]"
        raise ValueError(
            f"{where} lasts {1000 * y.shape[0] / sr:.1f} ms, too short for {kind} "
            f"perturbation, which needs at least {1000 * MIN_PRAAT_SECONDS:.0f} ms "
            f"(Praat analyses the pitch over three periods of {PITCH_FLOOR:g} Hz). "
            "Drop or pad such utterances, or use speed perturbation alone, "
            "which takes any length."
        )


def _check_sr(sr):
    if not isinstance(sr, Integral) or isinstance(sr, bool):
        raise TypeError(f"sr must be an int; got {sr!r}")
    if not MIN_SR <= sr <= MAX_SR:
        raise ValueError(f"sr must be in [{MIN_SR}, {MAX_SR}] Hz; got {sr}")


def _change_gender(y, sr, formant_ratio, pitch_factor, seed):
    """Praat's "Change gender" on one waveform, duration kept."""
    parselmouth = _praat()
    from parselmouth.praat import call, run

    # Praat's overlap-add draws from its global generator: seed every call
    run(f"random_initializeWithSeedUnsafelyButPredictably ({int(seed)})\n")
    sound = parselmouth.Sound(y.astype(np.float64), sampling_frequency=sr)
    new_median = 0.0  # Praat: keep the pitch
    with warnings.catch_warnings():
        # an utterance without voiced frames: Praat warns and shifts nothing
        warnings.simplefilter("ignore", parselmouth.PraatWarning)
        if pitch_factor != 1.0:
            pitch = sound.to_pitch(pitch_floor=PITCH_FLOOR, pitch_ceiling=PITCH_CEILING)
            median = call(pitch, "Get quantile", 0.0, 0.0, 0.5, "Hertz")
            if not np.isfinite(median):
                return y.copy()  # nothing voiced: no pitch to move
            new_median = median * pitch_factor
        out = call(
            sound,
            "Change gender",
            PITCH_FLOOR,
            PITCH_CEILING,
            formant_ratio,
            new_median,
            1.0,  # pitch range factor
            1.0,  # duration factor
        )
    z = np.asarray(out.values[0], dtype=np.float32)
    # Praat's overlap-add may differ from the input by a sample or two
    if len(z) != len(y):
        z = np.pad(z, (0, max(0, len(y) - len(z))))[: len(y)]
    return z


def perturb_voice(y, sr, kind, value, *, seed=0):
    """One perturbed copy of a waveform.

    Parameters
    ----------
    y : array-like of shape (n_samples,)
        A mono waveform.
    sr : int
        Its sample rate in Hz, from 4,000 to 768,000.
    kind : {"speed", "vtlp", "pitch"}
        ``"speed"``: ``value`` times faster (resampling: shorter, every
        frequency up). ``"vtlp"``: formants times ``value``, pitch and
        duration kept. ``"pitch"``: pitch moved ``value`` semitones (unvoiced
        audio unchanged). ``"vtlp"`` and ``"pitch"`` need at least 40 ms.
    value : float
        The speed or formant factor, or the semitones.
    seed : int, default=0
        Seed of Praat's process-global generator (not thread-safe).

    Returns
    -------
    y_new : np.ndarray [shape=(n_samples_new,), dtype=float32]
        The perturbed copy.

    Raises
    ------
    ValueError
        Bad ``kind``, ``value`` or ``sr``, or too short for vtlp/pitch.

    Examples
    --------
    >>> import numpy as np
    >>> from skvae.augment import perturb_voice
    >>> tone = np.sin(2 * np.pi * 200 * np.arange(8000) / 8000)
    >>> perturb_voice(tone, 8000, "speed", 1.1).shape
    (7273,)
    """
    if kind not in _RANGES:
        raise ValueError(f"kind must be 'speed', 'vtlp' or 'pitch'; got {kind!r}")
    low, high, _ = _RANGES[kind]
    if (
        isinstance(value, bool)
        or not isinstance(value, Real)
        or not low <= value <= high
    ):
        raise ValueError(f"a {kind} value must be in [{low}, {high}]; got {value!r}")
    _check_sr(sr)
    y, sr = load_audio(y, sr=sr)
    _check_duration(y, sr, kind)
    if kind == "speed":  # n / value samples at the same rate: faster, higher
        return resample(y, sr * float(value), sr)
    if kind == "vtlp":
        return _change_gender(y, sr, float(value), 1.0, seed)
    return _change_gender(y, sr, 1.0, 2.0 ** (float(value) / 12.0), seed)


def _render(y, sr, jobs, seeds):
    return [
        perturb_voice(y, sr, kind, value, seed=seed)
        for (kind, value), seed in zip(jobs, seeds)
    ]


class VoicePerturbation(BaseSampler):
    """Add speed, vocal-tract-length and pitch perturbed copies of utterances.

    An imbalanced-learn sampler for audio, before
    :class:`~skvae.features.SpeechFeatures` in a
    :class:`~skvae.augment.ResamplingPipeline`: at fit time only, each
    utterance gets one copy per value of ``speed``, ``vtlp`` and ``pitch``
    (or ``n_copies`` of them drawn at random), with its source's label.

    Parameters
    ----------
    sr : int, default=16000
        Rate of the waveforms in and out (files are read at it), from 4,000
        to 768,000 Hz: the following ``SpeechFeatures``' ``sr``.
    speed : sequence of float, default=(0.9, 1.1)
        Speed factors (1.1: 10 % shorter and higher), each in [0.5, 2], not 1.
    vtlp : sequence of float, default=()
        Formant factors (1.1: formants 10 % up), each in [0.5, 2], not 1.
        Needs utterances of at least 40 ms.
    pitch : sequence of float, default=()
        Pitch shifts in semitones, each in [-12, 12], not 0. Needs
        utterances of at least 40 ms.
    n_copies : int or None, default=None
        Distinct values drawn per utterance; None: one copy per value.
    keep_original : bool, default=True
        Return the original utterances too, first and in their order.
    random_state : int, RandomState instance or None, default=None
        Draws the values for ``n_copies`` and seeds Praat per copy.
    n_jobs : int or None, default=None
        joblib jobs over utterances; the output does not depend on it.

    Attributes
    ----------
    sample_indices_ : ndarray of shape (n_samples_new,)
        Source row of each output row: ``y_new == y[sample_indices_]``.
    seeds_ : list of int of length n_samples_new
        :func:`perturb_voice`'s ``seed`` per output row (0: originals).
    perturbations_ : list of (str, float) of length n_samples_new
        ``("original", 1.0)``, ``("speed", 1.1)``, ``("pitch", 2.0)``, ...
    n_features_in_ : int
        Always 1: one utterance per row.

    See Also
    --------
    perturb_voice : One perturbed copy of one waveform.
    VoiceConversionSampler : Copies of feature rows in other speakers' voices.

    Notes
    -----
    With ``vtlp`` or ``pitch``, an utterance under 40 ms raises a
    ``ValueError`` naming its row before any copy is made.

    References
    ----------
    Ko et al. (2015), Interspeech; Jaitly and Hinton (2013), ICML workshop;
    Boersma and Weenink, Praat.

    Examples
    --------
    >>> import numpy as np
    >>> from skvae.augment import VoicePerturbation
    >>> t = np.arange(4000) / 8000
    >>> X = [np.sin(2 * np.pi * 200 * t), np.sin(2 * np.pi * 300 * t)]
    >>> sampler = VoicePerturbation(sr=8000, speed=(0.9, 1.1))
    >>> X_new, y_new = sampler.fit_resample(X, [0, 1])
    >>> [len(x) for x in X_new], y_new
    ([4000, 4000, 4445, 3637, 4445, 3637], array([0, 1, 0, 0, 1, 1]))
    >>> sampler.sample_indices_
    array([0, 1, 0, 0, 1, 1])
    """

    _sampling_type = "bypass"
    # imbalanced-learn's attribute; every class is augmented alike
    sampling_strategy = "auto"

    _parameter_constraints: dict = {
        "sr": [Interval(Integral, MIN_SR, MAX_SR, closed="both")],
        "speed": ["array-like", Real, None],
        "vtlp": ["array-like", Real, None],
        "pitch": ["array-like", Real, None],
        "n_copies": [Interval(Integral, 1, None, closed="left"), None],
        "keep_original": ["boolean"],
        "random_state": ["random_state"],
        "n_jobs": [Integral, None],
    }

    def __init__(
        self,
        *,
        sr=16000,
        speed=(0.9, 1.1),
        vtlp=(),
        pitch=(),
        n_copies=None,
        keep_original=True,
        random_state=None,
        n_jobs=None,
    ):
        self.sr = sr
        self.speed = speed
        self.vtlp = vtlp
        self.pitch = pitch
        self.n_copies = n_copies
        self.keep_original = keep_original
        self.random_state = random_state
        self.n_jobs = n_jobs

    def _candidates(self):
        cands = [
            (kind, v)
            for kind, limits in _RANGES.items()
            for v in _factor_list(getattr(self, kind), kind, *limits)
        ]
        if self.n_copies is not None and self.n_copies > len(cands):
            raise ValueError(
                f"n_copies={self.n_copies} is more than the {len(cands)} "
                "perturbations given by speed, vtlp and pitch"
            )
        if not cands and not self.keep_original:
            raise ValueError(
                "no perturbation given (speed, vtlp and pitch are empty) and "
                "keep_original=False: nothing to return"
            )
        return cands

    @_fit_context(prefer_skip_nested_validation=True)
    def fit(self, X, y):
        """Check the parameters and input; :meth:`fit_resample` does the work."""
        self._candidates()
        sources = check_utterances(X)
        self._check_y(y, sources)
        self.n_features_in_ = 1
        return self

    @staticmethod
    def _check_y(y, sources):
        if y is None:
            raise ValueError("y is required: each copy keeps its source's label")
        y = column_or_1d(y, warn=True)
        check_consistent_length(sources, y)
        return y

    @_fit_context(prefer_skip_nested_validation=True)
    def fit_resample(self, X, y):
        """The utterances (if ``keep_original``), then each one's copies, as
        a list of float32 waveforms at ``sr``, and their labels."""
        return self._fit_resample(X, y)

    def _fit_resample(self, X, y):
        cands = self._candidates()
        sources = check_utterances(X)
        y = self._check_y(y, sources)
        waves = []
        for i, source in enumerate(sources):
            try:
                waves.append(load_audio(source, sr=self.sr)[0])
            except AudioReadError as exc:
                raise exc.with_index(i) from exc
        for kind in dict.fromkeys(kind for kind, _ in cands if kind != "speed"):
            for i, wave in enumerate(waves):
                _check_duration(wave, self.sr, kind, i)
        rng = check_random_state(self.random_state)
        if self.n_copies is None:
            jobs = [list(cands)] * len(sources)
        else:  # drawn here, in row order, so n_jobs cannot change them
            jobs = [
                [cands[j] for j in sorted(rng.choice(len(cands), self.n_copies, False))]
                for _ in sources
            ]
        seeds = [rng.randint(0, 2**31 - 1, size=len(job)) for job in jobs]
        rendered = Parallel(n_jobs=self.n_jobs)(
            delayed(_render)(wave, self.sr, job, seed)
            for wave, job, seed in zip(waves, jobs, seeds)
        )
        X_new, index, done, used = [], [], [], []
        if self.keep_original:
            X_new += waves
            index += list(range(len(sources)))
            done += [("original", 1.0)] * len(sources)
            used += [0] * len(sources)
        for i, (copies, job, seed) in enumerate(zip(rendered, jobs, seeds)):
            X_new += copies
            index += [i] * len(copies)
            done += job
            used += [int(s) for s in seed]
        self.n_features_in_ = 1
        self.sample_indices_ = np.asarray(index, dtype=np.intp)
        self.perturbations_ = done
        self.seeds_ = used
        return X_new, y[self.sample_indices_]

    def __sklearn_tags__(self):
        return audio_sampler_tags(super().__sklearn_tags__(), sample_indices=True)
