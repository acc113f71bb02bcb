"""Offline, generated multi-speaker spoken digits and words (eSpeak NG)."""

import os
from numbers import Integral, Real

import numpy as np
from sklearn.utils import Bunch, check_random_state
from sklearn.utils._param_validation import Interval, validate_params

from ..audio import write_wav
from ._espeak import synthesize
from ._fsdd import DIGIT_NAMES

__all__ = ["make_spoken_digits", "make_spoken_words"]

# fmt: off
#: English voices of eSpeak NG (accents) used for the generated speakers
VOICES = ("en-us", "en", "en-gb-x-rp", "en-029", "en-gb-scotland",
          "en-gb-x-gbclan", "en-gb-x-gbcwmd", "en-us-nyc")
#: voice variants (timbre, sex) combined with the voices
VARIANTS = ("m1", "m2", "m3", "m4", "m5", "m6", "m7", "f1", "f2", "f3", "f4", "f5")
#: :func:`make_spoken_words`' default: 40 common words, none a digit or its
#: homophone; some ("on", "wait") close to one, as real unknown words are.
WORDS = ("yes", "no", "up", "down", "left", "right", "stop", "go", "hello",
         "please", "cat", "dog", "bird", "house", "happy", "water", "apple",
         "table", "music", "morning", "on", "off", "open", "close", "start",
         "help", "wait", "again", "forward", "follow", "learn", "visual",
         "window", "coffee", "green", "yellow", "marvin", "sheila", "computer",
         "thank you")
# fmt: on

_DESCR = """\
.. _spoken_digits_dataset:

Generated spoken digits and words (eSpeak NG)
---------------------------------------------

English words rendered offline by the eSpeak NG formant synthesiser (PyPI
package ``espeakng-loader``): the digits "zero" to "nine"
(:func:`make_spoken_digits`, an offline stand-in for FSDD) or other words
(:func:`make_spoken_words`). Each *speaker* is an English accent (``en-us``,
``en-gb-x-rp``, ``en-029``, ...) with a voice variant (``+m1``...``+m7``,
``+f1``...``+f5``), a base pitch, pitch range and speaking rate; each
repetition varies pitch, rate and level a little, and white noise can be
added at a given SNR. Utterances are resampled to ``sr`` (8 kHz by
default), trimmed of silence, and deterministic for a given
``random_state``. Synthetic speech is much more regular than real speech:
use it for tests, examples and offline runs, and FSDD
(:func:`skvae.datasets.fetch_fsdd`) to measure anything that matters.
"""


def _trim(y, threshold_db=-40.0):
    """Cut leading/trailing samples below ``threshold_db`` relative to the peak."""
    env = np.abs(y)
    peak = env.max()
    if peak == 0:
        return y
    loud = np.flatnonzero(env >= peak * 10 ** (threshold_db / 20))
    return y[loud[0] : loud[-1] + 1]


def voice_names():
    """The names of the 96 generated speakers' voices (``"en-us+m1"``, ...)."""
    return ["+".join((v, s)) for v in VOICES for s in VARIANTS]


def _draw_speakers(rng, n_speakers, names=None):
    """``n_speakers`` distinct eSpeak NG voices (or ``names``, in their
    order) with drawn pitch and rate."""
    if names is None:
        combos = voice_names()
        names = [combos[k] for k in rng.choice(len(combos), n_speakers, replace=False)]
    speakers = []
    for voice in names:
        speakers.append(
            {
                "name": voice,
                "voice": voice,
                "pitch": int(rng.randint(25, 76)),
                "pitch_range": int(rng.randint(30, 81)),
                "rate": int(rng.randint(140, 201)),
            }
        )
    return speakers


def _speak(speakers, texts, n_repeats, rng, sr, snr_db):
    """Waveforms of every (label, text) said ``n_repeats`` times by every speaker,
    and per utterance ``(label, speaker name, repetition, gain in dB)``."""
    said = [
        (spk, label, text, rep)
        for spk in speakers
        for label, text in texts
        for rep in range(n_repeats)
    ]
    return _say(said, rng, sr, snr_db)


def _say(said, rng, sr, snr_db):
    """Waveforms of each ``(speaker, label, text, repetition)`` of ``said``,
    pitch and rate varied a little, and ``(label, speaker name, repetition,
    gain in dB)`` of each."""
    import librosa

    jobs, meta = [], []
    for spk, label, text, rep in said:
        pitch = int(np.clip(spk["pitch"] + rng.randint(-6, 7), 0, 99))
        rate = int(spk["rate"] * rng.uniform(0.9, 1.1))
        job = dict(text=text, voice=spk["voice"], rate=rate, pitch=pitch)
        jobs.append({**job, "pitch_range": spk["pitch_range"]})
        meta.append((label, spk["name"], rep, rng.uniform(-6.0, 0.0)))
    waves, synth_sr = synthesize(jobs)
    data = np.empty(len(waves), dtype=object)
    for i, (y, (_, _, _, gain_db)) in enumerate(zip(waves, meta)):
        y = _trim(y)
        if sr != synth_sr:
            y = librosa.resample(y, orig_sr=synth_sr, target_sr=sr, res_type="soxr_hq")
        y = y * np.float32(10 ** (gain_db / 20))
        if snr_db is not None:
            power = float(np.mean(y.astype(np.float64) ** 2))
            scale = np.sqrt(power / 10 ** (snr_db / 10))
            y = y + scale * rng.standard_normal(y.shape[0])
        data[i] = np.ascontiguousarray(y, dtype=np.float32)
    return data, meta


def _generate(texts, n_speakers, n_repeats, sr, snr_db, random_state, out_dir):
    """The Bunch of both generators (without ``is_test``/``target_names``)."""
    rng = check_random_state(random_state)
    speakers = _draw_speakers(rng, n_speakers)
    data, meta = _speak(speakers, texts, n_repeats, rng, sr, snr_db)
    target = np.empty(len(meta), dtype=object)
    target[:] = [m[0] for m in meta]
    bunch = Bunch(
        data=data,
        target=target,
        speaker=np.array([m[1] for m in meta], dtype=object),
        index=np.array([m[2] for m in meta], dtype=int),
        speaker_info=[dict(s) for s in speakers],
        sr=int(sr),
        DESCR=_DESCR,
    )
    if out_dir is not None:
        os.makedirs(out_dir, exist_ok=True)
        names = []
        for y, label, spk, rep in zip(data, target, bunch.speaker, bunch.index):
            stem = "-".join(str(label).split())
            path = os.path.join(os.fspath(out_dir), f"{stem}_{spk}_{rep}.wav")
            names.append(write_wav(path, y, sr))
        bunch.filenames = np.array(names, dtype=object)
    return bunch


_PARAMS = {
    "n_speakers": [Interval(Integral, 1, len(VOICES) * len(VARIANTS), closed="both")],
    "n_repeats": [Interval(Integral, 1, None, closed="left")],
    "sr": [Interval(Integral, 1000, None, closed="left")],
    "snr_db": [Interval(Real, None, None, closed="neither"), None],
    "random_state": ["random_state"],
    "out_dir": [str, os.PathLike, None],
    "return_X_y": ["boolean"],
}


@validate_params(_PARAMS, prefer_skip_nested_validation=True)
def make_spoken_digits(
    n_speakers=6,
    n_repeats=10,
    *,
    sr=8000,
    snr_db=None,
    random_state=None,
    out_dir=None,
    return_X_y=False,
):
    """Generate a multi-speaker spoken-digit corpus offline with eSpeak NG.

    Every speaker says "zero" to "nine" ``n_repeats`` times; the Bunch
    mirrors :func:`fetch_fsdd`'s. An int ``random_state`` gives the same
    corpus every time. See ``DESCR``.

    Parameters
    ----------
    n_speakers : int, default=6
        Number of synthetic speakers, at most 96 (8 accents x 12 variants).
    n_repeats : int, default=10
        Repetitions of each digit by each speaker.
    sr : int, default=8000
        Sample rate of the waveforms (eSpeak NG makes 22,050 Hz).
    snr_db : float or None, default=None
        Add white Gaussian noise at this SNR in dB; None: clean speech.
    random_state : int, RandomState instance or None, default=None
        Chooses the speakers and the variations.
    out_dir : str or os.PathLike, default=None
        Also write 16-bit WAVs ``{digit}_{speaker}_{index}.wav`` here
        (created if needed); their paths go to ``filenames``.
    return_X_y : bool, default=False
        Return ``(data, target)`` instead of a Bunch.

    Returns
    -------
    data : :class:`~sklearn.utils.Bunch`
        :func:`fetch_fsdd`'s fields (``data``: 1-D float32 waveforms at
        ``sr``; ``speaker`` like ``"en-gb-scotland+f2"``; ``is_test``:
        ``index < max(1, n_repeats // 10)``), ``speaker_info`` (each
        speaker's voice, pitch, range, rate), and ``filenames`` with ``out_dir``.

    (data, target) : tuple if ``return_X_y`` is True

    See Also
    --------
    fetch_fsdd : The real recordings this corpus imitates.
    make_spoken_words : Other words, by the same kind of speakers.

    Examples
    --------
    >>> from skvae.datasets import make_spoken_digits
    >>> digits = make_spoken_digits(n_speakers=2, n_repeats=1, random_state=0)
    >>> len(digits.data), digits.sr, sorted(set(digits.speaker))
    (20, 8000, ['en-gb-x-rp+m3', 'en-us-nyc+m1'])
    >>> digits.target[:3], digits.data[0].dtype
    (array([0, 1, 2]), dtype('float32'))
    """
    texts = list(enumerate(DIGIT_NAMES))
    bunch = _generate(texts, n_speakers, n_repeats, sr, snr_db, random_state, out_dir)
    bunch.target = bunch.target.astype(int)
    bunch.is_test = bunch.index < max(1, n_repeats // 10)
    bunch.target_names = np.array(DIGIT_NAMES)
    return (bunch.data, bunch.target) if return_X_y else bunch


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
    {"words": ["array-like", None], **_PARAMS}, prefer_skip_nested_validation=True
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

    Every speaker says every word ``n_repeats`` times, with the speakers of
    :func:`make_spoken_digits` for the same ``n_speakers`` and
    ``random_state``: unknown words for an open-set test. Compare with
    generated digits by the same voices, since a model trained on
    recordings may reject synthetic speech as such.

    Parameters
    ----------
    words : sequence of str or None, default=None
        Words or short phrases; None: ``WORDS`` (40 common non-digit words).
    n_speakers : int, default=6
        Number of synthetic speakers, at most 96.
    n_repeats : int, default=1
        Repetitions of each word by each speaker.
    sr, snr_db, random_state, return_X_y
        As for :func:`make_spoken_digits`.
    out_dir : str or os.PathLike, default=None
        As there, files ``{word}_{speaker}_{index}.wav`` (spaces become -).

    Returns
    -------
    data : :class:`~sklearn.utils.Bunch`
        As :func:`make_spoken_digits`'s without ``is_test``; ``target``: the
        word said; ``target_names``: the words in order.

    (data, target) : tuple if ``return_X_y`` is True

    Raises
    ------
    ValueError
        ``words`` is a single string, empty, or holds duplicates or non-strings.

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
    texts = [(w, w) for w in words]
    bunch = _generate(texts, n_speakers, n_repeats, sr, snr_db, random_state, out_dir)
    bunch.target_names = np.array(words, dtype=object)
    return (bunch.data, bunch.target) if return_X_y else bunch
