"""make_digit_strings: spoken digit strings (PINs, phone numbers) and their
digits, for training a transcriber without a transcribed corpus.

Two sources: FSDD's isolated digits joined with natural gaps, overlaps and
level changes (one speaker per string), and eSpeak NG reading the string as
people read numbers ("oh" for 0, "double five", groups of 3-3-4). Never
imports torch.
"""

from numbers import Integral, Real

import numpy as np
from sklearn.utils import Bunch, check_random_state

from ._fsdd import DIGIT_NAMES
from ._noise import _noisy
from ._synth import _draw_speakers, _say, _trim, voice_names

__all__ = ["make_digit_strings", "spoken_form"]

SOURCES = ("fsdd", "espeak")
STYLES = ("digits", "phone", "mixed")
#: how many digits each group of a number read as a phone number has
PHONE_GROUPS = {
    4: (2, 2),
    5: (2, 3),
    6: (3, 3),
    7: (3, 4),
    8: (4, 4),
    9: (3, 3, 3),
    10: (3, 3, 4),
    11: (3, 4, 4),
    12: (4, 4, 4),
}


def spoken_form(digits, *, oh=0.0, double=0.0, phone=False, random_state=None):
    """How a person might read the digit string ``digits`` aloud.

    Parameters
    ----------
    digits : str
        Digits 0-9 only, e.g. ``"8885112931"``.
    oh : float in [0, 1], default=0.0
        Probability that a 0 is read "oh" instead of "zero".
    double : float in [0, 1], default=0.0
        Probability that a run of two (three) equal digits inside a group is
        read "double" ("triple") and the digit.
    phone : bool, default=False
        Read in groups (``PHONE_GROUPS``: 3-3-4 for ten digits), a comma
        (a pause) between groups; else one group.
    random_state : int, RandomState instance or None, default=None
        Draws the "oh" and "double" choices.

    Returns
    -------
    text : str
        Words separated by spaces, groups by ", ".

    Examples
    --------
    >>> from skvae.datasets import spoken_form
    >>> spoken_form("4105")
    'four one zero five'
    >>> spoken_form("8885112931", oh=1, double=1, phone=True)
    'triple eight, five double one, two nine three one'
    """
    if not isinstance(digits, str) or not digits or not digits.isdigit():
        raise ValueError(f"digits must be a non-empty string of 0-9; got {digits!r}")
    rng = check_random_state(random_state)
    sizes = PHONE_GROUPS.get(len(digits), (len(digits),)) if phone else (len(digits),)
    groups, start = [], 0
    for size in sizes:
        groups.append(digits[start : start + size])
        start += size
    said = []
    for group in groups:
        words, i = [], 0
        while i < len(group):
            run = 1
            while i + run < len(group) and group[i + run] == group[i] and run < 3:
                run += 1
            name = "oh" if group[i] == "0" and rng.uniform() < oh else None
            name = name or DIGIT_NAMES[int(group[i])]
            if run >= 2 and rng.uniform() < double:
                words.append(f"{'double' if run == 2 else 'triple'} {name}")
            else:
                words.extend([name] * run)
            i += run
        said.append(" ".join(words))
    return ", ".join(said)


def _check(n_strings, source, lengths, style, oh, double, gap, level_db, snr_db):
    if not isinstance(n_strings, Integral) or n_strings < 1:
        raise ValueError(f"n_strings must be a positive int; got {n_strings!r}")
    if source not in SOURCES:
        raise ValueError(f"source must be one of {list(SOURCES)}; got {source!r}")
    if style not in STYLES:
        raise ValueError(f"style must be one of {list(STYLES)}; got {style!r}")
    low, high = lengths
    if not (isinstance(low, Integral) and isinstance(high, Integral) and low >= 1):
        raise ValueError(f"lengths must be two ints 1 <= low <= high; got {lengths}")
    if high < low:
        raise ValueError(f"lengths must be two ints 1 <= low <= high; got {lengths}")
    for name, p in (("oh", oh), ("double", double)):
        if not isinstance(p, Real) or not 0 <= p <= 1:
            raise ValueError(f"{name} must be a probability in [0, 1]; got {p!r}")
    if len(gap) != 2 or gap[0] > gap[1] or gap[0] < -0.2 or gap[1] > 2.0:
        raise ValueError(f"gap must be (low, high) seconds within [-0.2, 2]; got {gap}")
    if not isinstance(level_db, Real) or level_db < 0:
        raise ValueError(f"level_db must be a number >= 0; got {level_db!r}")
    if snr_db is not None and not isinstance(snr_db, Real):
        raise ValueError(f"snr_db must be a number or None; got {snr_db!r}")


def _join(pieces, gaps, sr):
    """The pieces one after another, ``gaps`` seconds of silence between
    them (a negative gap overlaps the two, cross-faded linearly)."""
    out = pieces[0].astype(np.float32)
    for piece, gap in zip(pieces[1:], gaps):
        n = int(round(gap * sr))
        if n >= 0:
            out = np.concatenate([out, np.zeros(n, np.float32), piece])
            continue
        n = min(-n, len(out), len(piece))
        ramp = np.linspace(0.0, 1.0, n, dtype=np.float32)
        mixed = out[len(out) - n :] * (1 - ramp) + piece[:n] * ramp
        out = np.concatenate([out[: len(out) - n], mixed, piece[n:]])
    return out


def make_digit_strings(
    n_strings=100,
    *,
    source="espeak",
    lengths=(1, 12),
    speakers=None,
    style="mixed",
    oh=0.3,
    double=0.3,
    gap=(0.05, 0.3),
    level_db=3.0,
    perturb=False,
    snr_db=None,
    noise="white",
    sr=8000,
    data_home=None,
    subset="all",
    digits=None,
    random_state=None,
):
    """Spoken digit strings and their digits, offline and seeded.

    Training material for a transcriber of numbers read aloud, without a
    transcribed corpus:

    - ``source="fsdd"``: FSDD's isolated digits joined into strings, every
      digit of a string by the same speaker (a random recording of it,
      trimmed at -40 dB), with ``gap`` seconds between digits (negative:
      the two overlap, cross-faded) and each digit's level moved by up to
      ``level_db``. Needs FSDD (``data_home``; nothing is downloaded unless
      :func:`fetch_fsdd` would).
    - ``source="espeak"``: eSpeak NG reads each string in one breath, so
      the digits run together: "oh" for 0 with probability ``oh``, "double"
      or "triple" for runs with probability ``double``, and, in the
      ``"phone"`` style, in groups as phone numbers are read (3-3-4).

    Parameters
    ----------
    n_strings : int, default=100
        Strings to make; each has a length drawn uniformly in ``lengths``.
    source : {"espeak", "fsdd"}, default="espeak"
        Where the speech comes from.
    lengths : (int, int), default=(1, 12)
        Fewest and most digits of a string.
    speakers : sequence of str, int or None, default=None
        FSDD: the speakers to draw from (None: all). eSpeak: how many of the
        96 voices to draw, or their names (None: all 96).
    style : {"mixed", "digits", "phone"}, default="mixed"
        eSpeak: digit by digit, in phone-number groups, or either at random.
    oh, double : float in [0, 1], default=0.3
        eSpeak: the probabilities of "oh" for 0 and of "double"/"triple".
    gap : (float, float), default=(0.05, 0.3)
        FSDD: range of the silence between digits, in seconds (down to -0.2:
        overlap).
    level_db : float, default=3.0
        FSDD: each digit's level moves by a uniform draw in +-``level_db``.
    perturb : bool, default=False
        Voice perturbation of every string (issue 15's
        :class:`~skvae.augment.VoicePerturbation`): one of speed 0.9 or 1.1
        or vocal-tract length 0.9 or 1.1, drawn per string, before the
        noise.
    snr_db : float or None, default=None
        Noise at this signal-to-noise ratio on every string.
    noise : {"white", "pink"}, default="white"
        The kind of noise of ``snr_db``.
    sr : int, default=8000
        Sample rate of the waveforms.
    data_home : str or path-like or None, default=None
        FSDD's folder (as for :func:`fetch_fsdd`).
    subset : {"all", "train", "test"}, default="all"
        FSDD: the recordings to draw from (:func:`fetch_fsdd`'s official
        split), so that training and test strings share no recording.
    random_state : int, RandomState instance or None, default=None
        Seeds every draw: the same seed gives the same strings.

    Returns
    -------
    data : :class:`~sklearn.utils.Bunch`
        ``data`` (object array of float32 waveforms at ``sr``), ``target``
        (object array of digit strings), ``text`` (what was said: words, or
        the FSDD files joined), ``speaker`` (the FSDD speaker or eSpeak voice
        of each string), ``perturbation`` (``"speed=1.1"``, ...; None
        without ``perturb``), ``sr``.

    See Also
    --------
    spoken_form : How a string is read aloud.
    make_spoken_digits : Isolated digits by the same voices.

    Examples
    --------
    >>> from skvae.datasets import make_digit_strings
    >>> strings = make_digit_strings(3, lengths=(4, 10), random_state=0)
    >>> [len(t) for t in strings.target], strings.data[0].dtype
    ([8, 6, 10], dtype('float32'))
    >>> strings.target[0], strings.text[0]
    ('50337935', 'five zero double three, seven nine three five')
    """
    _check(n_strings, source, lengths, style, oh, double, gap, level_db, snr_db)
    if noise not in ("white", "pink"):
        raise ValueError(f"noise must be 'white' or 'pink'; got {noise!r}")
    rng = check_random_state(random_state)
    low, high = lengths
    if digits is not None:
        targets = [str(t) for t in digits]
        bad = [t for t in targets if not t.isdigit()]
        if bad or not targets or isinstance(digits, str):
            raise ValueError(
                "digits must be a non-empty sequence of strings of 0-9; got "
                f"{bad[0] if bad else digits!r}"
            )
    else:
        targets = [
            "".join(str(d) for d in rng.randint(10, size=rng.randint(low, high + 1)))
            for _ in range(n_strings)
        ]
    kind, noise = noise, None if perturb or noise != "white" else snr_db
    # perturbation first, then noise
    if source == "espeak":
        out = _espeak_strings(targets, speakers, style, oh, double, noise, sr, rng)
    else:
        fsdd = (data_home, subset)
        out = _fsdd_strings(targets, speakers, gap, level_db, noise, sr, fsdd, rng)
    out.perturbation = None
    if perturb:
        _perturb(out, snr_db if kind == "white" else None, rng)
    if kind != "white" and snr_db is not None:
        out.data[:] = [
            np.asarray(_noisy(w, snr_db, rng, kind, True), dtype=np.float32)
            for w in out.data
        ]
    return out


def _perturb(out, snr_db, rng):
    """Each string of ``out`` replaced by one voice-perturbed copy."""
    from ..augment._waveform import VoicePerturbation

    sampler = VoicePerturbation(
        sr=out.sr,
        speed=(0.9, 1.1),
        vtlp=(0.9, 1.1),
        n_copies=1,
        keep_original=False,
        random_state=rng,
    )
    waves, _ = sampler.fit_resample(list(out.data), np.arange(len(out.data)))
    index = sampler.sample_indices_
    if not np.array_equal(index, np.arange(len(out.data))):
        raise RuntimeError("VoicePerturbation did not keep the order of the strings")
    if snr_db is not None:
        waves = [_noisy(w, snr_db, rng, "white", True) for w in waves]
    out.data[:] = [np.asarray(w, dtype=np.float32) for w in waves]
    out.perturbation = np.empty(len(waves), dtype=object)
    out.perturbation[:] = [f"{kind}={value}" for kind, value in sampler.perturbations_]


def _espeak_strings(targets, speakers, style, oh, double, snr_db, sr, rng):
    if speakers is None or isinstance(speakers, Integral):
        names = None
        n = len(voice_names()) if speakers is None else int(speakers)
    else:
        names = list(speakers)
        unknown = sorted(set(names) - set(voice_names()))
        if unknown:
            raise ValueError(f"unknown voices {unknown}: see voice_names()")
        n = len(names)
    voices = _draw_speakers(rng, n, names)
    said, texts, who = [], [], []
    for digits in targets:
        phone = style == "phone" or (style == "mixed" and rng.uniform() < 0.5)
        text = spoken_form(digits, oh=oh, double=double, phone=phone, random_state=rng)
        voice = voices[rng.randint(len(voices))]
        said.append((voice, digits, text, 0))
        texts.append(text)
        who.append(voice["name"])
    waves, _ = _say(said, rng, sr, snr_db)
    return _bunch(waves, targets, texts, who, sr)


def _fsdd_strings(targets, speakers, gap, level_db, snr_db, sr, where, rng):
    from ..audio import load_audio
    from ._fsdd import fetch_fsdd

    data_home, subset = where
    fsdd = fetch_fsdd(data_home, subset=subset)
    spk = np.asarray(fsdd.speaker)
    names = sorted(set(spk.tolist())) if speakers is None else list(speakers)
    unknown = sorted(set(names) - set(spk.tolist()))
    if unknown or not names:
        raise ValueError(f"speakers {unknown or names} are not FSDD speakers")
    cache = {}
    waves, texts, who = [], [], []
    for digits in targets:
        speaker = names[rng.randint(len(names))]
        pieces, files = [], []
        for d in digits:
            rows = np.flatnonzero((spk == speaker) & (fsdd.target == int(d)))
            path = fsdd.data[rows[rng.randint(len(rows))]]
            if path not in cache:
                cache[path] = _trim(load_audio(path, sr=sr)[0])
            gain = 10 ** (rng.uniform(-level_db, level_db) / 20)
            pieces.append((cache[path] * gain).astype(np.float32))
            files.append(str(path).rsplit("/", 1)[-1])
        gaps = rng.uniform(gap[0], gap[1], size=len(pieces) - 1)
        wave = _join(pieces, gaps, sr)
        if snr_db is not None:
            wave = _noisy(wave, snr_db, rng, "white", True)
        waves.append(wave)
        texts.append(" ".join(files))
        who.append(speaker)
    return _bunch(waves, targets, texts, who, sr)


def _bunch(waves, targets, texts, who, sr):
    def objects(values):
        out = np.empty(len(values), dtype=object)
        out[:] = list(values)
        return out

    return Bunch(
        data=objects(waves),
        target=objects(targets),
        text=objects(texts),
        speaker=objects(who),
        sr=sr,
    )
