"""An independent listener: PocketSphinx with a one-word digit grammar.

It never saw FSDD nor skvae's features, so its digit accuracy on generated
or resynthesised audio says what a general-purpose recogniser hears in it,
not what skvae's own recogniser (which partly hears its own decoder) does.
Used by the benchmarks and the report only, never by skvae's predictions.
"""

import numpy as np

#: the words the judge may hear, in label order ("oh" is also heard as 0)
DIGIT_WORDS = (
    "zero",
    "one",
    "two",
    "three",
    "four",
    "five",
    "six",
    "seven",
    "eight",
    "nine",
)
#: the judge's sample rate: its bundled US English model is 16 kHz wideband
JUDGE_SR = 16000
_MISSING = (
    "the independent judge needs PocketSphinx: pip install 'skvae[judge]' "
    "(its US English model is inside the wheel; nothing is downloaded)"
)


def judge_available():
    """Whether :func:`judge_digits` can run (``pocketsphinx`` is installed).

    Examples
    --------
    >>> from skvae.evaluation import judge_available
    >>> isinstance(judge_available(), bool)
    True
    """
    import importlib.util

    return importlib.util.find_spec("pocketsphinx") is not None


def _decoder():
    """A PocketSphinx decoder restricted to one digit word per utterance."""
    import os
    import tempfile

    try:
        from pocketsphinx import Decoder
    except ImportError as exc:
        raise ImportError(_MISSING) from exc
    words = " | ".join((*DIGIT_WORDS, "oh"))
    grammar = f"#JSGF V1.0;\ngrammar digits;\npublic <digit> = {words};\n"
    fd, path = tempfile.mkstemp(suffix=".gram")
    try:
        with os.fdopen(fd, "w") as fh:
            fh.write(grammar)
        return Decoder(jsgf=path, samprate=JUDGE_SR, loglevel="FATAL")
    finally:
        os.unlink(path)


def judge_digits(X, *, sr=None):
    """Digits that an independent recogniser hears in utterances.

    Each utterance is resampled to 16 kHz (soxr), peak-normalised and
    decoded by PocketSphinx's bundled US English model with a grammar of
    exactly one digit word ("zero" ... "nine", or "oh" for 0). The judge
    is deterministic and never trained on skvae's data.

    Parameters
    ----------
    X : sequence of str, os.PathLike or 1-D array-like
        Audio files (any format soundfile reads, any sample rate) or
        waveforms at ``sr``.
    sr : int or None, default=None
        Sample rate of waveforms in ``X`` (required if ``X`` holds any).

    Returns
    -------
    heard : ndarray of shape (n_utterances,) of int
        The digit heard, or -1 where the judge heard nothing (e.g. silence).
        ``ImportError`` without pocketsphinx (``pip install 'skvae[judge]'``);
        :class:`~skvae.audio.AudioReadError` naming an unreadable file.

    See Also
    --------
    judge_accuracy : The share of utterances heard as their label.

    Examples
    --------
    >>> from skvae.datasets import make_spoken_digits
    >>> from skvae.evaluation import judge_digits
    >>> digits = make_spoken_digits(1, 1, random_state=0)  # doctest: +SKIP
    >>> judge_digits(digits.data, sr=digits.sr)  # doctest: +SKIP
    array([0, 1, 2, 3, 4, 5, 6, 7, 8, 9])
    """
    from ..audio import _as_waveform, _is_path, load_audio, resample

    items = list(X)
    if any(not _is_path(x) for x in items) and sr is None:
        raise ValueError("X holds waveforms: pass their sample rate as sr")
    decoder = _decoder()
    heard = np.full(len(items), -1, dtype=int)
    for i, item in enumerate(items):
        if _is_path(item):
            y, rate = load_audio(item)
        else:
            y, rate = _as_waveform(item, index=i), sr
        if rate != JUDGE_SR:
            y = resample(y, rate, JUDGE_SR)
        y = np.asarray(y, dtype=np.float64)
        peak = np.max(np.abs(y))
        if peak <= 0:  # silence: nothing to hear
            continue
        pcm = np.round(y * (0.9 * 32767 / peak)).astype(np.int16)
        decoder.start_utt()
        decoder.process_raw(pcm.tobytes(), full_utt=True)
        decoder.end_utt()
        hyp = decoder.hyp()
        word = "" if hyp is None else hyp.hypstr.strip()
        if word == "oh":
            heard[i] = 0
        elif word in DIGIT_WORDS:
            heard[i] = DIGIT_WORDS.index(word)
    return heard


def judge_accuracy(X, y, *, sr=None):
    """Share of utterances the independent judge hears as their digit label.

    Parameters
    ----------
    X : sequence of str, os.PathLike or 1-D array-like
        As for :func:`judge_digits`.
    y : array-like of shape (n_utterances,)
        Digit labels: ints 0-9 or their strings ("7").
    sr : int or None, default=None
        Sample rate of waveforms in ``X``.

    Returns
    -------
    accuracy : float

    Examples
    --------
    >>> from skvae.evaluation import judge_accuracy
    >>> judge_accuracy(["three.wav"], [3])  # doctest: +SKIP
    1.0
    """
    labels = digit_labels(y)
    heard = judge_digits(X, sr=sr)
    if len(heard) != len(labels):
        raise ValueError(f"X has {len(heard)} utterances but y has {len(labels)}")
    return float(np.mean(heard == labels)) if len(labels) else float("nan")


def digit_labels(y):
    """Labels as ints 0-9; ``ValueError`` naming any that is not a digit."""
    y = np.asarray(y).ravel()
    out = np.empty(len(y), dtype=int)
    for i, label in enumerate(y):
        text = str(label).strip()
        if not (len(text) == 1 and text.isdigit()):
            raise ValueError(
                f"the judge hears digits only; label {str(label)!r} is not one of 0-9"
            )
        out[i] = int(text)
    return out


def is_digit_task(classes):
    """Whether every label is a digit 0-9 (the judge applies).

    Examples
    --------
    >>> from skvae.evaluation._judge import is_digit_task
    >>> is_digit_task([0, 1, 2]), is_digit_task(["yes", "no"])
    (True, False)
    """
    try:
        digit_labels(classes)
    except ValueError:
        return False
    return len(np.ravel(classes)) > 0
