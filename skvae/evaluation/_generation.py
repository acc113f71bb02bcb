"""Generated utterances of every label, recognised again from their files."""

import numpy as np

from ._common import _bar


def generation_check(bundle, *, n_per_class=10, random_state=0, verbose=0):
    """Generate utterances of every label and recognise them from WAV files
    written as ``skvae sample`` writes them.

    Parameters
    ----------
    bundle : dict
        A model that can generate (:func:`skvae.recipes.can_generate`).
    n_per_class : int, default=10
        Utterances per label.
    random_state : int, default=0
        Seeds one ``numpy.random.Generator`` shared by all labels.
    verbose : int, default=0
        If > 0, a progress bar on stderr, when stderr is a terminal.

    Returns
    -------
    generated : list of dict
        Per label: ``label``, ``rows`` (log-mel), ``waves`` (audio),
        ``predicted`` (per file), ``recognised`` (how many are ``label``),
        ``rejected`` (by a reject option; else 0) and ``n``.
    """
    import tempfile

    from ..recipes import generate_utterances, write_utterances

    rng = np.random.default_rng(random_state)
    rec = bundle["recognizer"]
    sr = rec["features"].sr
    reject_label = getattr(rec["model"], "reject_label_", None)
    out, classes = [], list(rec.classes_)
    with (
        tempfile.TemporaryDirectory() as tmp,
        _bar(verbose, total=len(classes), desc="generate", unit="label") as bar,
    ):
        for label in classes:
            rows, waves = generate_utterances(
                bundle, label, n_per_class, random_state=rng
            )
            pred = rec.predict(write_utterances(waves, tmp, label, sr))
            rejected = 0 if reject_label is None else np.sum(pred == reject_label)
            out.append(
                {
                    "label": label,
                    "rows": rows,
                    "waves": waves,
                    "predicted": pred,
                    "recognised": int(np.sum(pred == label)),
                    "rejected": int(rejected),
                    "n": int(n_per_class),
                }
            )
            bar.update()
    return out


def generated_rate(generated):
    """(recognised, total) over the labels of :func:`generation_check`.

    Examples
    --------
    >>> from skvae.evaluation import generated_rate
    >>> generated_rate([{"recognised": 9, "n": 10}, {"recognised": 7, "n": 10}])
    (16, 20)
    """
    return sum(g["recognised"] for g in generated), sum(g["n"] for g in generated)
