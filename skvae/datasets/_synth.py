"""An offline, generated multi-speaker spoken-digit corpus (eSpeak NG)."""

import os
from numbers import Integral, Real

import numpy as np
from sklearn.utils import Bunch, check_random_state
from sklearn.utils._param_validation import Interval, validate_params

from ..audio import write_wav
from ._espeak import synthesize
from ._fsdd import DIGIT_NAMES

__all__ = ["make_spoken_digits"]

#: English voices of eSpeak NG (accents) used for the generated speakers
VOICES = (
    "en-us",
    "en",
    "en-gb-x-rp",
    "en-029",
    "en-gb-scotland",
    "en-gb-x-gbclan",
    "en-gb-x-gbcwmd",
    "en-us-nyc",
)
#: voice variants (timbre, sex) combined with the voices
VARIANTS = ("m1", "m2", "m3", "m4", "m5", "m6", "m7", "f1", "f2", "f3", "f4", "f5")

_DESCR = """\
.. _spoken_digits_dataset:

Generated spoken digits (eSpeak NG)
-----------------------------------

An offline stand-in for the Free Spoken Digit Dataset: the English words
"zero" to "nine" synthesised by the eSpeak NG formant synthesiser (shipped in
the PyPI package ``espeakng-loader``). Each *speaker* is an English accent
(``en-us``, ``en-gb-x-rp``, ``en-029``, ``en-gb-scotland``, ...) combined with
a voice variant (``+m1``...``+m7``, ``+f1``...``+f5``) and its own base pitch,
pitch range and speaking rate; each repetition varies pitch, rate and level
a little, and white noise can be added at a given SNR. Utterances are
resampled to ``sr`` (8 kHz like FSDD by default) and trimmed of leading and
trailing silence. The output is deterministic for a given ``random_state``.

**Characteristics**

=================  ===============================================
Utterances         n_speakers * 10 * n_repeats
Classes            10 (digits 0-9)
Speakers           n_speakers (at most 96)
Split              repetition index < max(1, n_repeats // 10) is test
Sample rate        ``sr`` (default 8000 Hz), mono float32
=================  ===============================================

Synthetic speech is much more regular than real speech: use it for tests,
examples and offline runs, and FSDD (:func:`skvae.datasets.fetch_fsdd`) to
measure anything that matters.
"""


def _trim(y, threshold_db=-40.0):
    """Cut leading/trailing samples below ``threshold_db`` relative to the peak."""
    env = np.abs(y)
    peak = env.max()
    if peak == 0:
        return y
    loud = np.flatnonzero(env >= peak * 10 ** (threshold_db / 20))
    return y[loud[0] : loud[-1] + 1]


def _draw_speakers(rng, n_speakers):
    """``n_speakers`` distinct eSpeak NG voices with drawn pitch and rate."""
    combos = [(v, s) for v in VOICES for s in VARIANTS]
    chosen = rng.choice(len(combos), size=n_speakers, replace=False)
    speakers = []
    for k in chosen:
        voice, variant = combos[k]
        speakers.append(
            {
                "name": f"{voice}+{variant}",
                "voice": f"{voice}+{variant}",
                "pitch": int(rng.randint(25, 76)),
                "pitch_range": int(rng.randint(30, 81)),
                "rate": int(rng.randint(140, 201)),
            }
        )
    return speakers


def _speak(speakers, texts, n_repeats, rng, sr, snr_db):
    """Every (label, text) said ``n_repeats`` times by every speaker.

    Returns the trimmed, resampled, gain-varied (and noisy, with ``snr_db``)
    float32 waveforms as an object array, and per utterance
    ``(label, speaker name, repetition, gain in dB)``.
    """
    import librosa

    jobs, meta = [], []
    for spk in speakers:
        for label, text in texts:
            for rep in range(n_repeats):
                pitch = int(np.clip(spk["pitch"] + rng.randint(-6, 7), 0, 99))
                rate = int(spk["rate"] * rng.uniform(0.9, 1.1))
                jobs.append(
                    {
                        "text": text,
                        "voice": spk["voice"],
                        "rate": rate,
                        "pitch": pitch,
                        "pitch_range": spk["pitch_range"],
                    }
                )
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


@validate_params(
    {
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

    Every speaker says every digit "zero" to "nine" ``n_repeats`` times. A
    speaker is an English accent and voice variant of eSpeak NG with its own
    pitch, pitch range and rate; repetitions vary pitch, rate and level;
    white noise may be added. The result mirrors :func:`fetch_fsdd` (waveforms
    in ``data``, ``target``, ``speaker``, ``index``, ``is_test``), so the two
    are interchangeable. Synthesis runs in a helper process, which makes the
    output exactly reproducible for an int ``random_state``. About 1,000
    utterances per second.

    Read more in the dataset description, ``DESCR``.

    Parameters
    ----------
    n_speakers : int, default=6
        Number of synthetic speakers, at most 96 (8 accents x 12 variants).
    n_repeats : int, default=10
        Repetitions of each digit by each speaker.
    sr : int, default=8000
        Sample rate of the waveforms (eSpeak NG makes 22,050 Hz).
    snr_db : float or None, default=None
        Add white Gaussian noise at this signal-to-noise ratio in dB, drawn
        per utterance. None for clean speech.
    random_state : int, RandomState instance or None, default=None
        Chooses the speakers and the variations. Pass an int for the same
        corpus on every call.
    out_dir : str or os.PathLike, default=None
        Also write the utterances as 16-bit WAV files named like FSDD,
        ``{digit}_{speaker}_{index}.wav``, into this folder (created if
        needed); their paths are in ``filenames``.
    return_X_y : bool, default=False
        Return ``(data, target)`` instead of a Bunch.

    Returns
    -------
    data : :class:`~sklearn.utils.Bunch`
        Dictionary-like object, with the following attributes.

        data : ndarray of shape (n_utterances,), dtype object
            The waveforms, 1-D float32 arrays at ``sr`` of various lengths.
        target : ndarray of shape (n_utterances,), dtype int
            The digit said.
        speaker : ndarray of shape (n_utterances,), dtype object
            Speaker names like ``"en-gb-scotland+f2"``: the ``groups`` for
            speaker-independent evaluation (``GroupKFold``).
        index : ndarray of shape (n_utterances,), dtype int
            Repetition number, 0 to ``n_repeats - 1``.
        is_test : ndarray of shape (n_utterances,), dtype bool
            The test split, ``index < max(1, n_repeats // 10)`` (as FSDD's
            index 0-4 of 50).
        target_names : ndarray of shape (10,)
            "zero" to "nine".
        speaker_info : list of dict
            Voice, pitch, pitch range and rate of each speaker.
        filenames : ndarray of shape (n_utterances,), dtype object
            Only with ``out_dir``: the WAV files written.
        sr : int
            The sample rate.
        DESCR : str
            Description of the corpus.

    (data, target) : tuple if ``return_X_y`` is True

    See Also
    --------
    fetch_fsdd : The real recordings this corpus imitates.

    Examples
    --------
    >>> from skvae.datasets import make_spoken_digits
    >>> digits = make_spoken_digits(n_speakers=2, n_repeats=1, random_state=0)
    >>> len(digits.data), digits.sr, sorted(set(digits.speaker))
    (20, 8000, ['en-gb-x-rp+m3', 'en-us-nyc+m1'])
    >>> digits.target[:3], digits.data[0].dtype
    (array([0, 1, 2]), dtype('float32'))
    """
    rng = check_random_state(random_state)
    speakers = _draw_speakers(rng, n_speakers)
    data, meta = _speak(
        speakers, list(enumerate(DIGIT_NAMES)), n_repeats, rng, sr, snr_db
    )

    target = np.array([m[0] for m in meta], dtype=int)
    speaker = np.array([m[1] for m in meta], dtype=object)
    index = np.array([m[2] for m in meta], dtype=int)
    bunch = Bunch(
        data=data,
        target=target,
        speaker=speaker,
        index=index,
        is_test=index < max(1, n_repeats // 10),
        target_names=np.array(DIGIT_NAMES),
        speaker_info=[{k: v for k, v in s.items()} for s in speakers],
        sr=int(sr),
        DESCR=_DESCR,
    )
    if out_dir is not None:
        os.makedirs(out_dir, exist_ok=True)
        names = []
        for y, d, spk, rep in zip(data, target, speaker, index):
            path = os.path.join(os.fspath(out_dir), f"{d}_{spk}_{rep}.wav")
            names.append(write_wav(path, y, sr))
        bunch.filenames = np.array(names, dtype=object)
    if return_X_y:
        return bunch.data, bunch.target
    return bunch
