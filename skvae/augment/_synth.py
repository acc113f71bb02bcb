"""SyntheticVoices: training words said again by generated (eSpeak NG) voices.

Never imports torch.
"""

import re
from numbers import Integral

import numpy as np
from imblearn.base import BaseSampler
from sklearn.base import _fit_context
from sklearn.utils import check_random_state
from sklearn.utils._param_validation import Interval
from sklearn.utils.validation import check_consistent_length, column_or_1d

from ..audio import check_utterances
from ..datasets._fsdd import DIGIT_NAMES
from ..datasets._synth import _draw_speakers, _speak, voice_names
from ._waveform import audio_sampler_tags

MIN_SR, MAX_SR = 4000, 768_000  # as VoicePerturbation's
N_VOICES = len(voice_names())  # 96
#: a label said as it is written: letters, with spaces, hyphens, apostrophes
_SAYABLE = re.compile(r"[A-Za-z]+(?:[ '\-][A-Za-z]+)*")


def _text_of(label, words):
    """What a generated voice says for ``label``; ValueError if unknown."""
    if words is not None:
        if label in words:
            return str(words[label])
        raise ValueError(f"words has no text for the label {label!r}")
    if isinstance(label, Integral | np.integer) and 0 <= label <= 9:
        return DIGIT_NAMES[int(label)]
    if isinstance(label, str):
        if label.isdigit() and len(label) == 1:
            return DIGIT_NAMES[int(label)]
        if _SAYABLE.fullmatch(label.strip()):
            return label.strip()
    raise ValueError(
        f"cannot tell what the label {label!r} sounds like (a digit 0-9 or a "
        "word is said as such); pass words={label: text, ...}, or leave the "
        "generated voices out"
    )


class _SpeakingSampler(BaseSampler):
    """What the samplers that add utterances of generated voices share:
    ``voices`` (a count or names), ``fit``, ``fit_resample`` and the tags of
    an audio sampler without ``sample_indices_``."""

    _sampling_type = "bypass"
    # imbalanced-learn's attribute; every class is augmented alike
    sampling_strategy = "auto"

    def _voice_names(self):
        if isinstance(self.voices, Integral):
            return None
        names, known = list(self.voices), set(voice_names())
        unknown = [v for v in names if v not in known]
        if unknown:
            raise ValueError(
                f"unknown voices {unknown}: use names from "
                "skvae.augment.voice_names() (e.g. 'en-us+m1')"
            )
        if not names or len(set(names)) < len(names):
            raise ValueError(f"voices must be distinct names, at least 1; got {names}")
        return names

    @_fit_context(prefer_skip_nested_validation=True)
    def fit(self, X, y):
        """Check the parameters and input; :meth:`fit_resample` does the work."""
        self._check(X, y)
        self.n_features_in_ = 1
        return self

    @_fit_context(prefer_skip_nested_validation=True)
    def fit_resample(self, X, y):
        """The utterances (if ``keep_original``), then the generated ones (a
        float32 waveform at ``sr`` each), and their labels."""
        return self._fit_resample(X, y)

    def __sklearn_tags__(self):
        return audio_sampler_tags(super().__sklearn_tags__(), sample_indices=False)


class SyntheticVoices(_SpeakingSampler):
    """Add each label's word said by generated voices (eSpeak NG).

    An imbalanced-learn sampler for audio, before
    :class:`~skvae.features.SpeechFeatures` in a
    :class:`~skvae.augment.ResamplingPipeline`: at fit time only, every
    label's word (a digit label 0-9 is said as "zero" ... "nine", a word
    label as it is written, or the text ``words`` gives) is said
    ``n_repeats`` times by each of ``voices`` synthetic speakers, the
    speakers of :func:`~skvae.datasets.make_spoken_digits` (an English
    accent and voice variant with a drawn pitch, pitch range and rate,
    varied a little per repetition and level). Those utterances are added
    with their label; ``predict`` skips the sampler. More voices help a
    recogniser hear new speakers, but synthetic speech is far more regular
    than real speech: validate on held-out real speakers.

    Parameters
    ----------
    voices : int or sequence of str, default=48
        How many voices to draw among the 96 (``random_state``), or their
        names (``"en-us+m1"``, ``"en-gb-scotland+f2"``, ...; see
        :func:`voice_names`), e.g. to keep a test's voices out.
    n_repeats : int, default=3
        Utterances of each word by each voice.
    words : dict or None, default=None
        The text of each label; None: digits 0-9 (ints or one-digit
        strings) by name, word labels as written, anything else a
        ``ValueError`` naming the label.
    sr : int, default=16000
        Rate of the generated waveforms (the following ``SpeechFeatures``'
        ``sr``); the input rows are returned as they are.
    keep_original : bool, default=True
        Return the input utterances too, first and in their order.
    random_state : int, RandomState instance or None, default=None
        Draws the voices, their pitch and rate, and each repetition's
        variation; an int gives the same utterances every fit.

    Attributes
    ----------
    voices_ : list of dict
        Each voice's ``name``, ``pitch``, ``pitch_range`` and ``rate``.
    words_ : dict
        The text said for each label.
    perturbations_ : list of (str, object) of length n_samples_new
        ``("original", 1.0)`` per input row, ``("voice", name)`` per
        generated utterance.
    n_features_in_ : int
        Always 1: one utterance per row.

    See Also
    --------
    VoicePerturbation : Speed, vocal-tract-length and pitch copies.
    skvae.datasets.make_spoken_digits : The same voices as a corpus.

    Notes
    -----
    The generated rows have no source row, so the sampler has no
    ``sample_indices_``: in a :class:`ResamplingPipeline`, metadata such as
    ``groups`` cannot follow its rows (a clear ``ValueError`` says so).

    Examples
    --------
    >>> import numpy as np
    >>> from skvae.augment import SyntheticVoices
    >>> X = [np.zeros(800, np.float32), np.ones(800, np.float32)]
    >>> sampler = SyntheticVoices(voices=2, n_repeats=1, sr=8000, random_state=0)
    >>> X_new, y_new = sampler.fit_resample(X, [3, 7])
    >>> len(X_new), y_new
    (6, array([3, 7, 3, 7, 3, 7]))
    >>> sampler.words_, sampler.perturbations_[2][0]
    ({3: 'three', 7: 'seven'}, 'voice')
    """

    _parameter_constraints: dict = {
        "voices": [Interval(Integral, 1, N_VOICES, closed="both"), list, tuple],
        "n_repeats": [Interval(Integral, 1, None, closed="left")],
        "words": [dict, None],
        "sr": [Interval(Integral, MIN_SR, MAX_SR, closed="both")],
        "keep_original": ["boolean"],
        "random_state": ["random_state"],
    }

    def __init__(
        self,
        *,
        voices=48,
        n_repeats=3,
        words=None,
        sr=16000,
        keep_original=True,
        random_state=None,
    ):
        self.voices = voices
        self.n_repeats = n_repeats
        self.words = words
        self.sr = sr
        self.keep_original = keep_original
        self.random_state = random_state

    def _check(self, X, y):
        sources = check_utterances(X)
        if y is None:
            raise ValueError("y is required: the generated voices say each label")
        y = column_or_1d(y, warn=True)
        check_consistent_length(sources, y)
        names = self._voice_names()
        labels = list(dict.fromkeys(y.tolist()))  # in order of appearance
        words = {label: _text_of(label, self.words) for label in labels}
        return sources, y, names, words

    def _fit_resample(self, X, y):
        sources, y, names, words = self._check(X, y)
        rng = check_random_state(self.random_state)
        n = self.voices if names is None else len(names)
        speakers = _draw_speakers(rng, n, names)
        texts = sorted(words.items(), key=lambda item: str(item[0]))
        waves, meta = _speak(speakers, texts, self.n_repeats, rng, self.sr, None)
        new_y = np.empty(len(meta), dtype=y.dtype)
        new_y[:] = [m[0] for m in meta]
        X_new, y_new, done = [], [], []
        if self.keep_original:
            X_new += sources
            y_new.append(y)
            done += [("original", 1.0)] * len(sources)
        X_new += list(waves)
        y_new.append(new_y)
        done += [("voice", m[1]) for m in meta]
        keys = ("name", "pitch", "pitch_range", "rate")
        self.voices_ = [{k: s[k] for k in keys} for s in speakers]
        self.words_ = words
        self.perturbations_ = done
        self.n_features_in_ = 1
        return X_new, np.concatenate(y_new)
