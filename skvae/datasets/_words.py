"""Generated spoken words that are not digits (eSpeak NG), for open-set tests."""

import os
from numbers import Integral, Real

import numpy as np
from sklearn.utils import Bunch, check_random_state
from sklearn.utils._param_validation import Interval, validate_params

from ..audio import write_wav
from ._synth import VARIANTS, VOICES, _draw_speakers, _speak

__all__ = ["make_spoken_words"]

#: Default vocabulary of :func:`make_spoken_words`: 40 common English words,
#: none a digit name or its homophone ("won", "to", "for", "ate" are left
#: out); a few sound close to a digit ("on", "wait"), as real unknown words
#: do.
WORDS = (
    "yes",
    "no",
    "up",
    "down",
    "left",
    "right",
    "stop",
    "go",
    "hello",
    "please",
    "cat",
    "dog",
    "bird",
    "house",
    "happy",
    "water",
    "apple",
    "table",
    "music",
    "morning",
    "on",
    "off",
    "open",
    "close",
    "start",
    "help",
    "wait",
    "again",
    "forward",
    "follow",
    "learn",
    "visual",
    "window",
    "coffee",
    "green",
    "yellow",
    "marvin",
    "sheila",
    "computer",
    "thank you",
)

_DESCR = """\
.. _spoken_words_dataset:

Generated spoken words (eSpeak NG)
----------------------------------

English words rendered offline by the eSpeak NG formant synthesiser, by the
same kind of generated speakers as :func:`make_spoken_digits` (an English
accent, a voice variant, a base pitch, pitch range and rate per speaker;
pitch, rate and level varied per repetition). With the same ``n_speakers``
and ``random_state`` the speakers are those of ``make_spoken_digits``, so
digits and other words can be said by the same voices. The default words
(``WORDS``, 40) are common English words that are not digits: unknown
words for an open-set digit recogniser.

**Characteristics**

=================  ===============================================
Utterances         n_speakers * len(words) * n_repeats
Classes            the words (strings)
Speakers           n_speakers (at most 96)
Sample rate        ``sr`` (default 8000 Hz), mono float32
=================  ===============================================

Synthetic speech is much more regular than real speech, and differs from
recordings in ways a model of recordings notices: see
:func:`make_spoken_words` for what that means for open-set tests.
"""


def _check_words(words):
    words = list(words)  # a single string is refused by validate_params
    if not words:
        raise ValueError("words is empty: give at least one word")
    bad = [w for w in words if not isinstance(w, str) or not w.strip()]
    if bad:
        raise ValueError(f"words must be non-empty strings; got {bad[:3]!r}")
    dup = sorted({w for w in words if words.count(w) > 1})
    if dup:
        raise ValueError(f"words holds duplicates: {dup}")
    return words


@validate_params(
    {
        "words": ["array-like", None],
        "n_speakers": [
            Interval(Integral, 1, len(VOICES) * len(VARIANTS), closed="both")
        ],
        "n_repeats": [Interval(Integral, 1, None, closed="left")],
        "sr": [Interval(Integral, 1000, None, closed="left")],
        "snr_db": [Interval(Real, None, None, closed="neither"), None],
        "random_state": ["random_state"],
        "out_dir": [str, os.PathLike, None],
        "return_X_y": ["boolean"],
    },
    prefer_skip_nested_validation=True,
)
def make_spoken_words(
    words=None,
    n_speakers=6,
    n_repeats=1,
    *,
    sr=8000,
    snr_db=None,
    random_state=None,
    out_dir=None,
    return_X_y=False,
):
    """Generate spoken English words offline with eSpeak NG.

    Every speaker says every word ``n_repeats`` times. Speakers and
    variations are drawn as in :func:`make_spoken_digits`: with the same
    ``n_speakers`` and ``random_state`` the speakers (accent, voice
    variant, pitch, pitch range, rate) are the same, so a digit recogniser
    can be tested on other words said by the voices of the digits. The
    default words (``WORDS``) are 40 common words that are not digits: the
    unknown words of an open-set test.

    What such a test shows: synthetic speech differs from recordings (it is
    regular, noiseless, band-limited differently), so a model trained on
    recordings may reject generated words for sounding synthetic rather
    than for being other words. Compare with generated *digits* by the same
    voices (``make_spoken_digits`` with the same ``n_speakers`` and
    ``random_state``) to tell the two apart.

    Read more in the dataset description, ``DESCR``.

    Parameters
    ----------
    words : sequence of str or None, default=None
        The words (or short phrases) to say; None: ``WORDS``.
    n_speakers : int, default=6
        Number of synthetic speakers, at most 96 (8 accents x 12 variants).
    n_repeats : int, default=1
        Repetitions of each word by each speaker.
    sr : int, default=8000
        Sample rate of the waveforms (eSpeak NG makes 22,050 Hz).
    snr_db : float or None, default=None
        Add white Gaussian noise at this signal-to-noise ratio in dB. None
        for clean speech.
    random_state : int, RandomState instance or None, default=None
        Chooses the speakers and the variations; an int gives the same
        corpus on every call.
    out_dir : str or os.PathLike, default=None
        Also write the utterances as 16-bit WAV files
        ``{word}_{speaker}_{index}.wav`` (spaces in a word become ``-``)
        into this folder; their paths are in ``filenames``.
    return_X_y : bool, default=False
        Return ``(data, target)`` instead of a Bunch.

    Returns
    -------
    data : :class:`~sklearn.utils.Bunch`
        Dictionary-like object, with the following attributes.

        data : ndarray of shape (n_utterances,), dtype object
            The waveforms, 1-D float32 arrays at ``sr`` of various lengths.
        target : ndarray of shape (n_utterances,), dtype object
            The word said (a string).
        speaker : ndarray of shape (n_utterances,), dtype object
            Speaker names like ``"en-gb-scotland+f2"``.
        index : ndarray of shape (n_utterances,), dtype int
            Repetition number, 0 to ``n_repeats - 1``.
        target_names : ndarray of shape (n_words,)
            The words, in the order given.
        speaker_info : list of dict
            Voice, pitch, pitch range and rate of each speaker.
        filenames : ndarray of shape (n_utterances,), dtype object
            Only with ``out_dir``: the WAV files written.
        sr : int
            The sample rate.
        DESCR : str
            Description of the corpus.

    (data, target) : tuple if ``return_X_y`` is True

    Raises
    ------
    ValueError
        ``words`` is a single string (not a sequence), empty, or holds
        duplicates or a non-string.

    See Also
    --------
    make_spoken_digits : The digits, by the same kind of speakers.

    Examples
    --------
    >>> from skvae.datasets import make_spoken_words
    >>> words = make_spoken_words(["yes", "stop"], n_speakers=2, random_state=0)
    >>> len(words.data), words.target.tolist()
    (4, ['yes', 'stop', 'yes', 'stop'])
    >>> sorted(set(words.speaker))  # the speakers of make_spoken_digits(2, ...)
    ['en-gb-x-rp+m3', 'en-us-nyc+m1']
    """
    words = list(WORDS) if words is None else _check_words(words)
    rng = check_random_state(random_state)
    speakers = _draw_speakers(rng, n_speakers)
    data, meta = _speak(speakers, [(w, w) for w in words], n_repeats, rng, sr, snr_db)

    target = np.empty(len(meta), dtype=object)
    target[:] = [m[0] for m in meta]
    speaker = np.array([m[1] for m in meta], dtype=object)
    index = np.array([m[2] for m in meta], dtype=int)
    bunch = Bunch(
        data=data,
        target=target,
        speaker=speaker,
        index=index,
        target_names=np.array(words, dtype=object),
        speaker_info=[dict(s) for s in speakers],
        sr=int(sr),
        DESCR=_DESCR,
    )
    if out_dir is not None:
        os.makedirs(out_dir, exist_ok=True)
        names = []
        for y, word, spk, rep in zip(data, target, speaker, index):
            stem = "-".join(word.split())
            path = os.path.join(os.fspath(out_dir), f"{stem}_{spk}_{rep}.wav")
            names.append(write_wav(path, y, sr))
        bunch.filenames = np.array(names, dtype=object)
    if return_X_y:
        return bunch.data, bunch.target
    return bunch
