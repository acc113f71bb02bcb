"""What ``skvae train`` prints and reports: the evaluation and its summary."""

import numpy as np
from sklearn.decomposition import PCA

from ._common import _info
from ._generation import (
    format_listening,
    generated_rate,
    generation_check,
    listening_check,
)
from ._judge import is_digit_task, judge_available
from ._open_set_check import format_open_set, open_set_check
from ._protocols import recognizer_accuracies


def compare_to_baselines(accuracy):
    """One sentence per column: does the VAE pipeline (first in each column
    of ``{column: {model: accuracy}}``) beat its best baseline?

    Examples
    --------
    >>> from skvae.evaluation import compare_to_baselines
    >>> compare_to_baselines({"official": {"VAE + SVC": 0.973,
    ...     "PCA + SVC": 0.973, "raw + SVC": 0.987}})
    ['official: the VAE pipeline loses, 0.973 vs 0.987 for raw + SVC (-0.014)']
    """
    lines = []
    for column, models in accuracy.items():
        ours, *baselines = models
        if not baselines:
            continue
        best = max(baselines, key=models.get)
        diff = models[ours] - models[best]
        verdict = "wins" if diff > 0 else "ties" if diff == 0 else "loses"
        no_vae = ours.startswith("no VAE")
        ours_name = "the recogniser" if no_vae else "the VAE pipeline"
        lines.append(
            f"{column}: {ours_name} {verdict}, {models[ours]:.3f} vs "
            f"{models[best]:.3f} for {best} ({diff:+.3f})"
        )
    return lines


def format_summary(evaluation, split_info, speaker_eval=None):
    """The lines ``skvae train`` prints: accuracies and generated utterances.

    Parameters
    ----------
    evaluation : dict
        From :func:`evaluate_recognizer`.
    split_info : dict
        The split's ``info`` (its ``text`` titles the accuracies).
    speaker_eval : dict or None, default=None
        From :func:`speaker_held_out`.

    Returns
    -------
    lines : list of str

    Examples
    --------
    >>> from skvae.evaluation import format_summary
    >>> evaluation = {"accuracy": {"VAE (16-D) + SVC": 0.96},
    ...               "generated": [{"recognised": 9, "n": 10}]}
    >>> print("\\n".join(format_summary(evaluation, {"text": "official split"})))
    accuracy, official split:
      VAE (16-D) + SVC             0.960
    generated utterances labelled right by skvae's own recogniser: 9/10 (90%)
    """
    groups = [(split_info["text"], evaluation["accuracy"])]
    if speaker_eval:
        title = (
            f"{speaker_eval['label']} ({speaker_eval['n_test']:,} test utterances, "
            "model trained without them)"
        )
        groups.append((title, speaker_eval["accuracy"]))
    lines = []
    for title, accuracy in groups:
        lines.append(f"accuracy, {title}:")
        lines += [f"  {name:<28} {value:.3f}" for name, value in accuracy.items()]
        lines += [
            "  " + line.split(": ", 1)[1]
            for line in compare_to_baselines({title: accuracy})
        ]
    hit, total = generated_rate(evaluation["generated"])
    rejected = sum(g.get("rejected", 0) for g in evaluation["generated"])
    lines.append(
        "generated utterances labelled right by skvae's own recogniser: "
        f"{hit}/{total} ({hit / max(total, 1):.0%})"
        + (f"; {rejected} rejected as unknown" if rejected else "")
    )
    if evaluation.get("listening"):
        lines += format_listening(evaluation["listening"]).splitlines()[:-1]
    lines += format_open_set(evaluation.get("open_set"))
    return lines


def _pick_examples(y, n=5):
    """Indices of up to n examples with distinct labels, spread over labels."""
    labels = np.unique(y)
    chosen = labels[np.linspace(0, len(labels) - 1, min(n, len(labels))).astype(int)]
    return np.array([np.flatnonzero(y == c)[0] for c in chosen])


def latent_map(Z, labels, speakers=None, *, random_state=0, max_points=1000):
    """A 2-D map of latent codes: t-SNE (PCA below 10 points), for the report.

    Parameters
    ----------
    Z, labels, speakers : arrays of n_samples rows
        Latent codes, their labels and speakers (or ``speakers=None``).
    random_state : int, default=0
        Seeds the subsample and t-SNE.
    max_points : int, default=1000
        At most this many codes (drawn at random) are mapped.

    Returns
    -------
    latent : dict
        ``points`` (m, 2), ``labels``, ``speakers``, ``axis_labels`` and
        ``method`` ("t-SNE" or "PCA").

    Examples
    --------
    >>> import numpy as np
    >>> from skvae.evaluation import latent_map
    >>> Z = np.random.RandomState(0).normal(size=(8, 3))
    >>> m = latent_map(Z, np.arange(8) % 2)
    >>> m["method"], m["points"].shape
    ('PCA', (8, 2))
    """
    from sklearn.manifold import TSNE

    if len(Z) > max_points:
        rng = np.random.default_rng(random_state)
        keep = np.sort(rng.choice(len(Z), max_points, replace=False))
        Z, labels = Z[keep], labels[keep]
        speakers = None if speakers is None else speakers[keep]
    if len(Z) >= 10:
        perplexity = min(30.0, (len(Z) - 1) / 3)
        tsne = TSNE(2, perplexity=perplexity, init="pca", random_state=random_state)
        points, axes, method = tsne.fit_transform(Z), ("t-SNE 1", "t-SNE 2"), "t-SNE"
    else:
        points = PCA(2, random_state=random_state).fit_transform(Z)
        axes, method = ("latent PC 1", "latent PC 2"), "PCA"
    return dict(
        points=points, labels=labels, speakers=speakers, axis_labels=axes, method=method
    )


def evaluate_recognizer(
    bundle,
    F,
    y,
    train,
    test,
    *,
    speaker=None,
    audio=None,
    random_state=0,
    n_check=30,
    verbose=0,
):
    """Everything the summary and the report of ``skvae train`` show.

    Parameters
    ----------
    bundle : dict
        A model that can generate (:func:`skvae.recipes.load_recognizer`).
    F, y : arrays of n_utterances rows
        Front-end rows (or per-utterance frames of a sequence front end) and
        labels.
    train, test : ndarray of int
        The split (:func:`skvae.datasets.split_corpus`).
    speaker : array-like of shape (n_utterances,) or None, default=None
        Speakers, to colour the latent map.
    audio : array-like of shape (n_utterances,) or None, default=None
        The utterances (paths or waveforms), for :func:`open_set_check` of
        a reject option and, for digits with PocketSphinx installed, for
        :func:`listening_check` on the test split; None skips both.
    random_state : int, default=0
        Seeds the baselines, the generated utterances and the map.
    n_check : int, default=30
        Utterances generated per label (:func:`generation_check`), and the
        most real test utterances per label the listening check hears.
    verbose : int, default=0
        If > 0, say what is being done, with progress bars, on stderr.

    Returns
    -------
    evaluation : dict
        ``accuracy`` and ``y_pred`` (:func:`recognizer_accuracies`), ``y_test``,
        ``latent`` (:func:`latent_map`; None without a VAE step),
        ``reconstructions`` (a few test rows and their VAE reconstructions,
        as rows of ``n_frames`` frames; empty without a VAE step), ``generated``
        (:func:`generation_check`) and maybe ``listening``
        (:func:`listening_check`) and ``open_set``.
    """
    from ..recipes import as_utterances, flat_rows

    rec = bundle["recognizer"]
    fe = rec["features"]
    vae = getattr(rec["model"], "estimator_", rec["model"]).named_steps.get("vae")
    F, y = as_utterances(F), np.asarray(y)
    _info(verbose, "evaluating against the PCA and raw-feature baselines ...")
    acc, pred = recognizer_accuracies(
        rec, F[train], y[train], F[test], y[test], random_state=random_state
    )
    _info(verbose, "generating utterances of every label and recognising them ...")
    generated = generation_check(
        bundle, n_per_class=n_check, random_state=random_state, verbose=verbose
    )
    examples = test[_pick_examples(y[test])]
    speakers = None if speaker is None else np.asarray(speaker)[test]
    latent, recon = None, []
    if vae is not None:
        latent = latent_map(
            vae.transform(F[test]), y[test], speakers, random_state=random_state
        )
        if hasattr(vae, "convert"):  # a SequenceVAE: frames in their own voice
            recon = flat_rows(fe, vae.convert(F[examples]))
        else:
            recon = vae.inverse_transform(vae.transform(F[examples]))
        originals = flat_rows(fe, F[examples])
        recon = [
            {"label": y[i], "original": original, "reconstruction": r}
            for i, original, r in zip(examples, originals, recon)
        ]
    out = {
        "accuracy": acc,
        "y_test": y[test],
        "y_pred": pred,
        "latent": latent,
        "reconstructions": recon,
        "generated": generated,
    }
    if audio is not None and is_digit_task(rec.classes_) and judge_available():
        _info(verbose, "asking the independent listener (PocketSphinx) ...")
        # up to n_check real test utterances per label, as many as generated
        heard = np.sort(
            np.concatenate([test[y[test] == c][:n_check] for c in np.unique(y[test])])
        )
        out["listening"] = listening_check(
            bundle, [audio[i] for i in heard], y[heard], generated=generated
        )
    if audio is not None and hasattr(rec["model"], "threshold_"):
        _info(verbose, "scoring known and unknown utterances for the reject option ...")
        out["open_set"] = open_set_check(
            rec, F[test], y[test], [audio[i] for i in test], random_state=random_state
        )
    return out
