"""Edit-distance counts between reference and hypothesis strings
(substitutions, deletions, insertions), with :mod:`rapidfuzz`."""

import numpy as np

__all__ = [
    "digit_accuracy",
    "edit_counts",
    "edit_operations",
    "symbol_accuracy",
    "transcription_scores",
]


def _strings(values, name):
    values = list(values) if not isinstance(values, str) else None
    if values is None:
        raise TypeError(f"{name} must be a sequence of strings, not one string")
    bad = next((v for v in values if not isinstance(v, str | np.str_)), None)
    if bad is not None:
        raise TypeError(f"{name} must hold strings; found {type(bad).__name__} {bad!r}")
    return [str(v) for v in values]


def edit_operations(reference, hypothesis):
    """Levenshtein operations turning ``reference`` into ``hypothesis``:
    a list of (kind, reference symbol or "", hypothesis symbol or "") with
    kind "replace", "delete" or "insert"."""
    from rapidfuzz.distance import Levenshtein

    out = []
    for op in Levenshtein.editops(reference, hypothesis):
        ref = reference[op.src_pos] if op.tag != "insert" else ""
        hyp = hypothesis[op.dest_pos] if op.tag != "delete" else ""
        out.append((op.tag, ref, hyp))
    return out


def edit_counts(y_true, y_pred):
    """(substitutions, deletions, insertions, reference symbols) summed
    over pairs of strings; ValueError if their numbers differ."""
    y_true, y_pred = _strings(y_true, "y_true"), _strings(y_pred, "y_pred")
    if len(y_true) != len(y_pred):
        raise ValueError(f"y_true holds {len(y_true)} strings but y_pred {len(y_pred)}")
    counts = {"replace": 0, "delete": 0, "insert": 0}
    for ref, hyp in zip(y_true, y_pred):
        for kind, _, _ in edit_operations(ref, hyp):
            counts[kind] += 1
    n_ref = sum(len(r) for r in y_true)
    return counts["replace"], counts["delete"], counts["insert"], n_ref


def symbol_accuracy(y_true, y_pred):
    """1 - (substitutions + deletions + insertions) / reference symbols,
    over all pairs (can be negative; 1.0 when every string is right; with
    no reference symbol at all, 1.0 if nothing was inserted, else 0.0)."""
    subs, dels, ins, n_ref = edit_counts(y_true, y_pred)
    if n_ref == 0:
        return 1.0 if ins == 0 else 0.0
    return 1.0 - (subs + dels + ins) / n_ref


def digit_accuracy(y_true, y_pred):
    """Digit accuracy of transcribed digit strings.

    1 - (substitutions + deletions + insertions) / digits said, summed
    over all strings (Levenshtein alignment, :mod:`rapidfuzz`); the score of
    :func:`skvae.recipes.make_transcriber`. It can be negative (many
    insertions).

    Parameters
    ----------
    y_true, y_pred : sequence of str
        The digits said and the digits transcribed, one string per utterance.

    Returns
    -------
    accuracy : float

    Examples
    --------
    >>> from skvae.evaluation import digit_accuracy
    >>> digit_accuracy(["8885112931", "1234"], ["888511293", "1234"])
    0.9285714285714286
    """
    return symbol_accuracy(y_true, y_pred)


def transcription_scores(y_true, y_pred):
    """Digit accuracy, whole-string accuracy and the edit counts.

    Parameters
    ----------
    y_true, y_pred : sequence of str

    Returns
    -------
    scores : dict
        ``digit_accuracy`` (:func:`digit_accuracy`), ``string_accuracy``
        (the fraction of strings transcribed exactly), ``substitutions``,
        ``deletions``, ``insertions``, ``digits`` (said) and ``n`` (strings).

    Examples
    --------
    >>> from skvae.evaluation import transcription_scores
    >>> s = transcription_scores(["123", "45"], ["123", "4"])
    >>> s["digit_accuracy"], s["string_accuracy"], s["deletions"]
    (0.8, 0.5, 1)
    """
    subs, dels, ins, n_ref = edit_counts(y_true, y_pred)
    pairs = list(zip([str(t) for t in y_true], [str(p) for p in y_pred]))
    return {
        "digit_accuracy": symbol_accuracy(y_true, y_pred),
        "string_accuracy": float(np.mean([a == b for a, b in pairs])) if pairs else 1.0,
        "substitutions": subs,
        "deletions": dels,
        "insertions": ins,
        "digits": n_ref,
        "n": len(pairs),
    }
