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


def listening_check(bundle, X, y, *, generated=None, n_per_class=30, random_state=0):
    """What an independent recogniser hears in real, copy-synthesised and
    generated digits (:func:`judge_digits`).

    Parameters
    ----------
    bundle : dict
        A model that can generate, whose labels are the digits.
    X : sequence of str, os.PathLike or 1-D array-like
        Real utterances (files, or waveforms at the front end's ``sr``),
        e.g. the test split.
    y : array-like of shape (n_utterances,)
        Their digit labels.
    generated : list of dict or None, default=None
        From :func:`generation_check`; None generates ``n_per_class`` per
        label.
    n_per_class : int, default=30
        Utterances generated per label when ``generated`` is None.
    random_state : int, default=0
        Seeds the generation.

    Returns
    -------
    check : dict
        ``real``, ``copy`` and ``generated``: the judge's digit accuracy on
        ``X``, on ``X`` resynthesised (:func:`skvae.recipes.resynthesize`)
        and on the generated utterances; ``own``: skvae's own recogniser on
        the generated files (not independent); ``n_real``, ``n_generated``;
        ``heard_real``, ``heard_copy``, ``heard_generated`` (digits heard,
        -1: nothing), ``copy_waves`` and ``generated_waves``,
        ``generated_labels``, ``y`` (ints), ``real_items`` (``X``) and ``sr``.
    """
    from ..recipes import resynthesize
    from ._judge import digit_labels, judge_digits

    rec = bundle["recognizer"]
    digit_labels(rec.classes_)  # ValueError: not a digit recogniser
    sr = rec["features"].sr
    labels = digit_labels(y)
    items = list(X)
    if len(items) != len(labels):
        raise ValueError(f"X has {len(items)} utterances but y has {len(labels)}")
    if generated is None:
        generated = generation_check(
            bundle, n_per_class=n_per_class, random_state=random_state
        )
    gen_waves = [w for g in generated for w in g["waves"]]
    gen_labels = digit_labels([g["label"] for g in generated for _ in g["waves"]])
    copies = resynthesize(bundle, items)
    heard = {
        "real": judge_digits(items, sr=sr),
        "copy": judge_digits(copies, sr=sr),
        "generated": judge_digits(gen_waves, sr=sr),
    }
    own, total = generated_rate(generated)
    return {
        "real": float(np.mean(heard["real"] == labels)),
        "copy": float(np.mean(heard["copy"] == labels)),
        "generated": float(np.mean(heard["generated"] == gen_labels)),
        "own": own / max(total, 1),
        "n_real": len(labels),
        "n_generated": len(gen_labels),
        "heard_real": heard["real"],
        "heard_copy": heard["copy"],
        "heard_generated": heard["generated"],
        "copy_waves": copies,
        "generated_waves": gen_waves,
        "generated_labels": gen_labels,
        "y": labels,
        "real_items": items,
        "sr": sr,
    }


def format_listening(check):
    """One line per audio kind of :func:`listening_check`, for a summary.

    Examples
    --------
    >>> from skvae.evaluation import format_listening
    >>> print(format_listening({"real": 0.66, "copy": 0.63, "generated": 0.55,
    ...                         "own": 0.9, "n_real": 300, "n_generated": 300}))
    independent listener (PocketSphinx, one digit word), digits heard right:
      real recordings         0.660 (300)
      copy-synthesised        0.630 (0.95 of real)
      generated               0.550 (300, 0.83 of real)
    skvae's own recogniser on the generated (not independent): 0.900
    """
    real = max(check["real"], 1e-12)
    return "\n".join(
        [
            "independent listener (PocketSphinx, one digit word), digits heard right:",
            f"  real recordings         {check['real']:.3f} ({check['n_real']})",
            f"  copy-synthesised        {check['copy']:.3f} "
            f"({check['copy'] / real:.2f} of real)",
            f"  generated               {check['generated']:.3f} "
            f"({check['n_generated']}, {check['generated'] / real:.2f} of real)",
            "skvae's own recogniser on the generated (not independent): "
            f"{check['own']:.3f}",
        ]
    )
