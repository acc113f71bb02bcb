"""What the report of ``skvae train`` shows: checks, summaries, latent map."""

import numpy as np
from sklearn.decomposition import PCA

from .. import recipes
from ..recipes._factories import _on_rows
from ._common import _bar, _info, _rows
from ._perturb import make_outlier_clips
from ._protocols import recognizer_accuracies


def generation_check(bundle, *, n_per_class=10, random_state=0, verbose=0):
    """Generate utterances of every label and recognise them again.

    Each utterance is written as a WAV file (:func:`skvae.recipes.write_utterances`,
    as ``skvae sample`` and the report write them) into a temporary folder
    and recognised from that file, read back: the count is that of the
    files, which ``skvae predict`` on them reproduces.

    Parameters
    ----------
    bundle : dict
        A saved model that can generate (:func:`skvae.recipes.can_generate`).
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
        ``predicted`` (the recogniser's label for each, from its file; the
        reject label where a reject option rejects it), ``recognised`` (how
        many are the requested label), ``rejected`` (how many the reject
        option rejected; 0 without one) and ``n``.
    """
    import tempfile

    rng = np.random.default_rng(random_state)
    pipe = bundle["pipeline"]
    sr = recipes.recognizer_pipeline(pipe).named_steps["features"].sr
    reject_label = getattr(pipe, "reject_label_", None)
    out = []
    classes = list(bundle["classes"])
    with (
        tempfile.TemporaryDirectory() as tmp,
        _bar(verbose, total=len(classes), desc="generate", unit="label") as bar,
    ):
        for label in classes:
            rows, waves = recipes.generate_utterances(
                bundle, label, n_per_class, random_state=rng
            )
            pred = pipe.predict(recipes.write_utterances(waves, tmp, label, sr))
            out.append(
                {
                    "label": label,
                    "rows": rows,
                    "waves": waves,
                    "predicted": pred,
                    "recognised": int(np.sum(pred == label)),
                    "rejected": 0
                    if reject_label is None
                    else int(np.sum(pred == reject_label)),
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
    hit = sum(g["recognised"] for g in generated)
    total = sum(g["n"] for g in generated)
    return hit, total


def compare_to_baselines(accuracy):
    """Where the recogniser wins and where it loses against its baselines.

    Parameters
    ----------
    accuracy : dict of str to dict of str to float
        ``{column: {model: accuracy}}``, the recogniser (the VAE pipeline)
        first in each column, then the baselines measured in the same run.

    Returns
    -------
    lines : list of str
        One sentence per column with at least one baseline.

    Examples
    --------
    >>> from skvae.evaluation import compare_to_baselines
    >>> compare_to_baselines({"official": {"VAE + SVC": 0.973,
    ...     "PCA + SVC": 0.973, "raw + SVC": 0.987}})
    ['official: the VAE pipeline loses, 0.973 vs 0.987 for raw + SVC (-0.014)']
    """
    lines = []
    for column, models in accuracy.items():
        names = list(models)
        if len(names) < 2:
            continue
        ours = models[names[0]]
        best = max(names[1:], key=lambda name: models[name])
        diff = ours - models[best]
        verdict = "wins" if diff > 0 else "ties" if diff == 0 else "loses"
        lines.append(
            f"{column}: the VAE pipeline {verdict}, {ours:.3f} vs "
            f"{models[best]:.3f} for {best} ({diff:+.3f})"
        )
    return lines


def format_summary(evaluation, split_info, speaker_eval=None):
    """The lines ``skvae train`` prints: accuracies and generated utterances.

    Parameters
    ----------
    evaluation : dict
        From :func:`evaluate_recognizer` (``accuracy`` and ``generated``).
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
    generated utterances recognised as the requested label: 9/10 (90%)
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
        f"generated utterances recognised as the requested label: {hit}/{total} "
        f"({hit / max(total, 1):.0%})"
        + (f"; {rejected} rejected as unknown" if rejected else "")
    )
    lines += format_open_set(evaluation.get("open_set"))
    return lines


def format_open_set(open_set):
    """The lines that summarise :func:`open_set_check` (none for None).

    Examples
    --------
    >>> from skvae.evaluation import format_open_set
    >>> res = {"target": 0.05, "known_kept": 0.96, "accuracy_kept": 0.99,
    ...        "accuracy_all": 0.97, "rejected": {"reversed speech": 0.9}}
    >>> print("\\n".join(format_open_set(res)))
    reject option (target: reject 5% of known words):
      known test utterances kept   0.960 (accuracy on them 0.990; all: 0.970)
      reversed speech rejected     0.900
    """
    if not open_set:
        return []
    lines = [
        f"reject option (target: reject {open_set['target']:.0%} of known words):",
        f"  {'known test utterances kept':<28} {open_set['known_kept']:.3f} "
        f"(accuracy on them {open_set['accuracy_kept']:.3f}; all: "
        f"{open_set['accuracy_all']:.3f})",
    ]
    lines += [
        f"  {kind + ' rejected':<28} {value:.3f}"
        for kind, value in open_set["rejected"].items()
    ]
    return lines


def _pick_examples(y, n=5):
    """Indices of up to n examples with distinct labels, spread over labels."""
    labels = np.unique(y)
    chosen = labels[np.linspace(0, len(labels) - 1, min(n, len(labels))).astype(int)]
    return np.array([np.flatnonzero(y == c)[0] for c in chosen])


def latent_map(Z, labels, speakers=None, *, random_state=0, max_points=1000):
    """A 2-D map of latent codes: t-SNE (PCA below 10 points).

    Parameters
    ----------
    Z : ndarray of shape (n_samples, n_components)
        Latent codes.
    labels : ndarray of shape (n_samples,)
        Label of each code.
    speakers : ndarray of shape (n_samples,) or None, default=None
        Speaker of each code.
    random_state : int, default=0
        Seeds the subsample and t-SNE.
    max_points : int, default=1000
        At most this many codes (drawn at random) are mapped.

    Returns
    -------
    latent : dict
        ``points`` (m, 2), ``labels``, ``speakers``, ``axis_labels`` and
        ``method`` ("t-SNE" or "PCA"): the ``latent`` of
        :func:`skvae.report.write_report`.

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
        keep = np.sort(
            np.random.default_rng(random_state).choice(len(Z), max_points, False)
        )
        Z, labels = Z[keep], labels[keep]
        speakers = None if speakers is None else speakers[keep]
    if len(Z) >= 10:
        perplexity = min(30.0, (len(Z) - 1) / 3)
        points = TSNE(
            2, perplexity=perplexity, init="pca", random_state=random_state
        ).fit_transform(Z)
        axes, method = ("t-SNE 1", "t-SNE 2"), "t-SNE"
    else:
        points = PCA(2, random_state=random_state).fit_transform(Z)
        axes, method = ("latent PC 1", "latent PC 2"), "PCA"
    return {
        "points": points,
        "labels": labels,
        "speakers": speakers,
        "axis_labels": axes,
        "method": method,
    }


#: the non-speech kinds of :func:`open_set_check`
_OPEN_SET_CLIPS = ("white noise", "pink noise", "tone", "chirp")


def _waveforms(audio, sr):
    """Waveforms at ``sr`` of utterances given as file paths or waveforms."""
    from ..features import load_audio

    return [
        load_audio(a, sr=sr)[0] if isinstance(a, str) else np.asarray(a, np.float32)
        for a in audio
    ]


def open_set_check(
    model, F_test, y_test, audio_test, *, words=True, n_per_kind=25, random_state=0
):
    """How a recogniser's reject option treats known and unknown utterances.

    Known: the test utterances. Unknown: the test utterances played
    backwards, noise and tones (:func:`make_outlier_clips`, as long and loud
    as test utterances) and, when eSpeak NG is installed, English words that
    are not digits (:func:`skvae.datasets.make_spoken_words`, 4 generated
    voices). Generated words differ from recordings by their voice as much
    as by their word: a recogniser trained on recordings rejects generated
    digits too (``benchmarks/bench_openset.py`` measures both).

    Parameters
    ----------
    model : RejectOptionClassifier
        A fitted recogniser with a reject option (``bundle["pipeline"]``).
    F_test : ndarray of shape (n_test, n_features)
        Front-end rows of the test utterances.
    y_test : array-like of shape (n_test,)
        Their labels.
    audio_test : sequence of str or 1-D arrays
        The test utterances (file paths or waveforms at the front end's
        ``sr``), reversed and used as references for the clips.
    words : bool, default=True
        Also score generated non-digit words (skipped with a note when
        eSpeak NG, ``pip install 'skvae[synth]'``, is missing).
    n_per_kind : int, default=25
        Clips of each non-speech kind.
    random_state : int, default=0
        Seeds the clips and the generated voices.

    Returns
    -------
    result : dict
        ``threshold``, ``target`` (the false-rejection target),
        ``reject_label``, ``scores`` (dict: kind -> in-vocabulary scores;
        ``"known (held out at fit)"`` are those the threshold was set on,
        ``"known test utterances"`` those of ``F_test``, then the unknown
        kinds), ``rejected`` (dict: unknown kind -> fraction rejected),
        ``known_kept``, ``accuracy_kept`` and ``accuracy_all`` (the
        recogniser's accuracy on the kept known test utterances, and on all
        of them without rejection) and ``notes`` (list of str).
    """
    from ..datasets import make_spoken_words

    pipe = recipes.recognizer_pipeline(model)
    fe = pipe.named_steps["features"]
    rows = _on_rows(model)
    y_test = np.asarray(y_test)
    known = rows.score_samples(F_test)
    kept = known >= model.threshold_
    answered = pipe[1:].predict(F_test)
    waves = _waveforms(audio_test, fe.sr)
    unknown = {"reversed speech": [w[::-1].copy() for w in waves]}
    clips, _ = make_outlier_clips(
        waves,
        kinds=_OPEN_SET_CLIPS,
        n_per_kind=n_per_kind,
        sr=fe.sr,
        random_state=np.random.default_rng(random_state),
    )
    unknown["noise and tones"] = clips
    notes = []
    if words:
        try:
            spoken = make_spoken_words(
                n_speakers=4, sr=fe.sr, random_state=random_state
            )
            unknown["generated words"] = list(spoken.data)
            notes.append(
                "Generated words: 40 English words that are not digits, by 4 "
                "eSpeak NG voices; a recogniser trained on recordings rejects "
                "generated digits as well, for their voice."
            )
        except ImportError as exc:
            notes.append(f"no generated words: {exc}")
    scores = {
        "known (held out at fit)": np.asarray(model.calibration_scores_),
        "known test utterances": known,
    }
    rejected = {}
    for kind, clips in unknown.items():
        F_u = recipes.extract_features(fe, clips, refit=False)
        scores[kind] = rows.score_samples(F_u)
        rejected[kind] = float(np.mean(scores[kind] < model.threshold_))
    return {
        "threshold": float(model.threshold_),
        "target": float(model.target_false_rejection),
        "reject_label": model.reject_label_,
        "scores": scores,
        "rejected": rejected,
        "known_kept": float(np.mean(kept)),
        "accuracy_kept": float(np.mean(answered[kept] == y_test[kept]))
        if kept.any()
        else float("nan"),
        "accuracy_all": float(np.mean(answered == y_test)),
        "notes": notes,
    }


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
    n_check=10,
    verbose=0,
):
    """Everything the summary and the report of ``skvae train`` show.

    Parameters
    ----------
    bundle : dict
        A saved model (:func:`skvae.recipes.load_recognizer`) that can
        generate.
    F : ndarray of shape (n_utterances, n_features)
        Front-end rows of all utterances.
    y : array-like of shape (n_utterances,)
        Labels.
    train, test : ndarray of int
        The split (:func:`skvae.datasets.split_corpus`).
    speaker : array-like of shape (n_utterances,) or None, default=None
        Speakers, to colour the latent map.
    audio : array-like of shape (n_utterances,) or None, default=None
        The utterances (file paths or waveforms). For a recogniser with a
        reject option, the test ones are played backwards and imitated by
        noise for :func:`open_set_check`; None skips that check.
    random_state : int, default=0
        Seeds the baselines, the generated utterances and the map.
    n_check : int, default=10
        Utterances generated per label (:func:`generation_check`).
    verbose : int, default=0
        If > 0, say what is being done, with progress bars, on stderr.

    Returns
    -------
    evaluation : dict
        ``accuracy`` (:func:`recognizer_accuracies`), ``y_test``, ``y_pred``,
        ``latent`` (:func:`latent_map` of the test codes),
        ``reconstructions`` (a few test rows and their VAE reconstructions),
        ``generated`` (:func:`generation_check`) and, for a recogniser with
        a reject option and ``audio``, ``open_set`` (:func:`open_set_check`).
    """
    pipe = recipes.recognizer_pipeline(bundle["pipeline"])
    vae = pipe.named_steps["vae"]
    y = np.asarray(y)
    _info(verbose, "evaluating against the PCA and raw-feature baselines ...")
    acc, pred = recognizer_accuracies(
        pipe, F[train], y[train], F[test], y[test], random_state=random_state
    )
    _info(verbose, "generating utterances of every label and recognising them ...")
    generated = generation_check(
        bundle, n_per_class=n_check, random_state=random_state, verbose=verbose
    )
    examples = test[_pick_examples(y[test])]
    recon = vae.inverse_transform(vae.transform(F[examples]))
    speakers = None if speaker is None else np.asarray(speaker)[test]
    out = {
        "accuracy": acc,
        "y_test": y[test],
        "y_pred": pred,
        "latent": latent_map(
            vae.transform(F[test]), y[test], speakers, random_state=random_state
        ),
        "reconstructions": [
            {"label": y[i], "original": F[i], "reconstruction": r}
            for i, r in zip(examples, recon)
        ],
        "generated": generated,
    }
    model = bundle["pipeline"]
    if audio is not None and hasattr(model, "threshold_"):
        _info(verbose, "scoring known and unknown utterances for the reject option ...")
        out["open_set"] = open_set_check(
            model,
            F[test],
            y[test],
            _rows(audio, test),
            random_state=random_state,
        )
    return out
