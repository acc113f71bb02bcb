"""Digit strings and the words people say for them: the output symbols of
a transcriber trained with ``targets="spoken-digits"`` (torch-free)."""

__all__ = ["spoken_tokens", "tokens_to_digits"]

#: word -> output symbol ("oh" for 0, "double"/"triple" before a digit)
WORD_TOKENS = {
    **{
        w: str(i)
        for i, w in enumerate(
            [
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
            ]
        )
    },
    "oh": "o",
    "double": "d",
    "triple": "t",
}
_REPEATS = {"d": 2, "t": 3}


def spoken_tokens(text):
    """The output symbols of what was said.

    ``text`` is either digits only (``"8885112931"``: each digit said as its
    word) or the words said, separated by spaces or commas (``"triple
    eight, five double one"``). ValueError for anything else.

    Examples
    --------
    >>> from skvae._spoken import spoken_tokens
    >>> spoken_tokens("4105"), spoken_tokens("four one oh five")
    ('4105', '41o5')
    >>> spoken_tokens("triple eight, five double one")
    't85d1'
    """
    text = str(text)
    if text.isdigit() or text == "":
        return text
    words = text.replace(",", " ").lower().split()
    unknown = [w for w in words if w not in WORD_TOKENS]
    if unknown:
        raise ValueError(
            f"{text!r} is neither digits nor spoken digits: {unknown[0]!r} is not "
            f"one of {sorted(WORD_TOKENS)}"
        )
    return "".join(WORD_TOKENS[w] for w in words)


def tokens_to_digits(tokens):
    """The digits output symbols stand for: "o" is 0, "d"/"t" repeat the
    next digit 2/3 times (a "d" or "t" not before a digit is dropped).

    Examples
    --------
    >>> from skvae._spoken import tokens_to_digits
    >>> tokens_to_digits("t85d1"), tokens_to_digits("41o5"), tokens_to_digits("5d")
    ('888511', '4105', '5')
    """
    out, repeat = [], 1
    for tok in tokens:
        if tok in _REPEATS:
            repeat = _REPEATS[tok]
            continue
        out.append(("0" if tok == "o" else tok) * repeat)
        repeat = 1
    return "".join(out)
