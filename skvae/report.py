"""The report of a trained speech recogniser: PNG figures and an HTML page.

Used by ``skvae train`` and ``skvae report`` (see :mod:`skvae.cli`).

- :func:`write_recognizer_report`: the report of a saved model
  (:mod:`skvae.recipes`) evaluated on a corpus (:mod:`skvae.evaluation`):
  writes the generated WAV files, then calls :func:`write_report`.
- :func:`write_report`: draws the figures and the page from plain NumPy
  arrays and numbers, never a model.
- :func:`check_available`: raises ``ImportError`` with an install hint when
  matplotlib is missing.

This module imports neither torch nor librosa at module level. Figures are
made with matplotlib's object-oriented API (``matplotlib.figure.Figure``,
rendered by Agg), so no GUI backend is selected and pyplot's global state is
not touched.

matplotlib is an optional dependency: ``pip install "skvae[report]"``.
"""

import html
from pathlib import Path

import numpy as np

from ._version import __version__

__all__ = ["check_available", "write_recognizer_report", "write_report"]

INSTALL_HINT = 'pip install "skvae[report]"'

# The figures, in page order: (file name, heading, caption).
FIGURES = (
    (
        "accuracy.png",
        "Accuracy against the baselines",
        "Test accuracy of the VAE pipeline and of two baselines measured in the "
        "same run on the same split, with the same classifier: PCA with as many "
        "dimensions as the VAE's latent space, and the raw log-mel features "
        "(standardised). The dashed line is chance.",
    ),
    (
        "confusion.png",
        "Confusion matrix",
        "Rows are the true labels of the test utterances, columns the labels "
        "the VAE pipeline predicted; the diagonal holds the correct answers.",
    ),
    (
        "latent.png",
        "The latent space",
        "A t-SNE map of the VAE's latent codes (posterior means) of the test "
        "utterances: utterances with similar codes lie close together "
        "(distances between clusters mean little). Each point is drawn as its "
        "label and coloured by label (left) and by speaker (right). Where the "
        "codes of one label gather in one cluster, the code keeps what was "
        "said regardless of the speaker; where they form one small cluster "
        "per speaker, the code also keeps who said it, and recognising a new "
        "speaker is harder.",
    ),
    (
        "reconstructions.png",
        "Original and reconstructed log-mel spectrograms",
        "Test utterances (top) and the VAE's reconstruction of each (bottom): "
        "the decoder mean at the posterior mean, i.e. what survives the "
        "squeeze through the latent space.",
    ),
    (
        "generated.png",
        "Generated spectrograms, one per label",
        "Log-mel spectrograms decoded from latent codes drawn from a Gaussian "
        "fitted to each label's training codes. Each title says how many of "
        "that label's generated utterances the recogniser itself labelled "
        "correctly after turning them into audio (Griffin-Lim) and back. "
        "Listen to them below.",
    ),
    (
        "loss.png",
        "Training curves",
        "Per-epoch loss (negative ELBO per utterance, in the VAE's "
        "standardised units) on the training rows and on the rows held out "
        "for early stopping, and the KL term; the dotted line marks the "
        "epoch whose weights were kept.",
    ),
)


def _figure_class():
    try:
        from matplotlib.figure import Figure
    except ImportError as exc:  # pragma: no cover - depends on the install
        raise ImportError(
            f"The report needs matplotlib, which is not installed: {INSTALL_HINT}"
        ) from exc
    return Figure


def check_available():
    """Raise ImportError with an install hint if matplotlib is missing.

    Examples
    --------
    >>> from skvae.report import check_available
    >>> check_available()  # matplotlib is installed: nothing happens
    """
    _figure_class()


def _save(fig, path):
    fig.savefig(path, dpi=110, bbox_inches="tight", facecolor="white")
    return path


def _mel_ticks(ax, n_mels, mel_hz):
    """Label the mel-band axis in Hz (a few ticks)."""
    ticks = np.unique(np.linspace(0, n_mels - 1, 5).round().astype(int))
    ax.set_yticks(ticks)
    if mel_hz is not None:
        ax.set_yticklabels([f"{mel_hz[t]:.0f}" for t in ticks])


def _spectrogram(ax, row, spec, vmin, vmax):
    image = np.asarray(row, dtype=float).reshape(spec["n_frames"], spec["n_mels"]).T
    im = ax.imshow(
        image,
        origin="lower",
        aspect="auto",
        cmap="magma",
        vmin=vmin,
        vmax=vmax,
        interpolation="nearest",
    )
    _mel_ticks(ax, spec["n_mels"], spec.get("mel_hz"))
    return im


def _db_range(rows):
    values = np.concatenate([np.ravel(r) for r in rows])
    return float(np.percentile(values, 1)), float(np.percentile(values, 99.5))


# --------------------------------------------------------------------------
# figures
# --------------------------------------------------------------------------
def plot_loss(path, history):
    Figure = _figure_class()
    epochs = np.array([h["epoch"] for h in history])
    loss = np.array([h["loss"] for h in history])
    val = [h.get("validation_score") for h in history]
    has_val = all(v is not None for v in val)
    fig = Figure(figsize=(11, 4), layout="constrained")
    ax1, ax2 = fig.subplots(1, 2)
    ax1.plot(epochs, loss, color="C0", lw=1.8, label="training")
    if has_val:
        val_loss = -np.array(val, dtype=float)
        ax1.plot(epochs, val_loss, color="C1", lw=1.8, label="validation (held out)")
        best = epochs[int(np.argmin(val_loss))]
        for ax in (ax1, ax2):
            ax.axvline(best, color="0.4", ls=":", lw=1.2)
        right = best > 0.7 * epochs.max()
        ax1.annotate(
            f"kept: epoch {best}",
            xy=(best, 1.0),
            xycoords=("data", "axes fraction"),
            xytext=(-4 if right else 4, -12),
            textcoords="offset points",
            ha="right" if right else "left",
            fontsize=9,
            color="0.3",
        )
        both = np.concatenate([loss, val_loss])
    else:
        both = loss
    # the first epochs are far above the rest: zoom on where training went
    if len(both) > 3:
        lo, hi = np.min(both), np.percentile(both, 95)
        pad = 0.05 * (hi - lo) if hi > lo else 1.0
        ax1.set_ylim(lo - pad, hi + pad)
    ax1.set(xlabel="epoch", ylabel="loss (negative ELBO per utterance)")
    ax1.set_title("Loss")
    ax1.legend(frameon=False)
    ax1.grid(alpha=0.3)

    kl = np.array([h["kl"] for h in history])
    ax2.plot(epochs, kl, color="C0", lw=1.8, label="training")
    if has_val and all(h.get("validation_kl") is not None for h in history):
        vkl = np.array([h["validation_kl"] for h in history])
        ax2.plot(epochs, vkl, color="C1", lw=1.8, label="validation (held out)")
    ax2.set(xlabel="epoch", ylabel="KL(q(z|x) || p(z)) per utterance (nats)")
    ax2.set_title("KL term (information kept in the latent code)")
    ax2.legend(frameon=False)
    ax2.grid(alpha=0.3)
    return _save(fig, path)


def _legend_cols(n):
    return 1 if n <= 12 else 2


def _text_markers(labels):
    """Draw each point as its label (e.g. the digit) when labels are short."""
    kinds = [str(v) for v in dict.fromkeys(labels.tolist())]
    if all(len(k) <= 3 and k.isalnum() for k in kinds):
        return {k: f"${k}$" for k in kinds}
    return None


def plot_latent(path, latent):
    Figure = _figure_class()
    import matplotlib
    from matplotlib.lines import Line2D

    points = np.asarray(latent["points"])
    labels = np.asarray(latent["labels"])
    speakers = latent.get("speakers")
    panels = 2 if speakers is not None else 1
    fig = Figure(figsize=(6.4 * panels, 5.4), layout="constrained")
    axes = np.atleast_1d(fig.subplots(1, panels))
    xlabel, ylabel = latent.get("axis_labels", ("component 1", "component 2"))
    text = _text_markers(labels)
    groups = [("label", labels)]
    if speakers is not None:
        groups.append(("speaker", np.asarray(speakers)))
    label_kinds = list(dict.fromkeys(sorted(labels.tolist())))
    for ax, (what, values) in zip(axes, groups):
        kinds = list(dict.fromkeys(sorted(values.tolist())))
        cmap = "tab10" if len(kinds) <= 10 else "tab20"
        colors = matplotlib.colormaps[cmap]
        handles = []
        for k, kind in enumerate(kinds):
            color = colors(k % colors.N)
            for lab in label_kinds:
                sel = (values == kind) & (labels == lab)
                if not sel.any():
                    continue
                ax.scatter(
                    points[sel, 0],
                    points[sel, 1],
                    s=55 if text else 20,
                    alpha=0.85,
                    color=color,
                    marker=text[str(lab)] if text else "o",
                    linewidths=0 if text else 0.4,
                    edgecolors="none" if text else "white",
                )
            handles.append(
                Line2D(
                    [],
                    [],
                    ls="",
                    marker="o",
                    markersize=7,
                    color=color,
                    label=str(kind),
                )
            )
        ax.set(xlabel=xlabel, ylabel=ylabel)
        if latent.get("method") == "t-SNE":  # t-SNE coordinates mean nothing
            ax.set_xticks([])
            ax.set_yticks([])
        title = f"Test utterances coloured by {what}"
        if text:
            title += ", drawn as their label"
        ax.set_title(title)
        ax.legend(
            handles=handles,
            title=what,
            fontsize=8,
            title_fontsize=9,
            loc="center left",
            bbox_to_anchor=(1.0, 0.5),
            frameon=False,
            ncols=_legend_cols(len(kinds)),
        )
    return _save(fig, path)


def plot_reconstructions(path, items, spec):
    Figure = _figure_class()
    n = len(items)
    vmin, vmax = _db_range(
        [it["original"] for it in items] + [it["reconstruction"] for it in items]
    )
    fig = Figure(figsize=(2.5 * n + 1.2, 5.4), layout="constrained")
    axes = np.array(fig.subplots(2, n, sharex=True, sharey=True)).reshape(2, n)
    im = None
    for j, it in enumerate(items):
        im = _spectrogram(axes[0, j], it["original"], spec, vmin, vmax)
        axes[0, j].set_title(f"label {it['label']}: original")
        _spectrogram(axes[1, j], it["reconstruction"], spec, vmin, vmax)
        axes[1, j].set_title("VAE reconstruction")
        axes[1, j].set_xlabel("frame (time, length-normalised)")
    axes[0, 0].set_ylabel("mel frequency (Hz)")
    axes[1, 0].set_ylabel("mel frequency (Hz)")
    fig.colorbar(im, ax=axes, label="log-mel energy (dB)", shrink=0.9)
    return _save(fig, path)


def plot_generated(path, items, spec):
    Figure = _figure_class()
    n = len(items)
    cols = min(5, n)
    rows = -(-n // cols)
    vmin, vmax = _db_range([it["row"] for it in items])
    fig = Figure(figsize=(2.5 * cols + 1.2, 2.7 * rows + 0.4), layout="constrained")
    axes = np.array(fig.subplots(rows, cols, sharex=True, sharey=True, squeeze=False))
    im = None
    for k, ax in enumerate(axes.flat):
        if k >= n:
            ax.set_visible(False)
            continue
        it = items[k]
        im = _spectrogram(ax, it["row"], spec, vmin, vmax)
        title = f"generated {it['label']}"
        if it.get("n"):
            title += f"\nheard as {it['label']}: {it['recognised']}/{it['n']}"
        ax.set_title(title, fontsize=10)
        if k % cols == 0:
            ax.set_ylabel("mel frequency (Hz)")
        if k // cols == rows - 1:
            ax.set_xlabel("frame")
    fig.colorbar(im, ax=axes, label="log-mel energy (dB)", shrink=0.9)
    return _save(fig, path)


def plot_confusion(path, confusion):
    Figure = _figure_class()
    from sklearn.metrics import ConfusionMatrixDisplay, confusion_matrix

    labels = list(confusion["labels"])
    cm = confusion_matrix(confusion["y_true"], confusion["y_pred"], labels=labels)
    size = max(5.0, 0.5 * len(labels) + 2.0)
    fig = Figure(figsize=(size + 0.8, size), layout="constrained")
    ax = fig.subplots()
    disp = ConfusionMatrixDisplay(cm, display_labels=[str(v) for v in labels])
    disp.plot(ax=ax, cmap="Blues", colorbar=False, values_format="d")
    fig.colorbar(disp.im_, ax=ax, label="number of test utterances", shrink=0.85)
    acc = np.trace(cm) / max(1, cm.sum())
    ax.set_title(f"VAE pipeline on {cm.sum()} test utterances: accuracy {acc:.3f}")
    ax.set(xlabel="predicted label", ylabel="true label")
    return _save(fig, path)


def plot_accuracy(path, accuracy, chance=None):
    Figure = _figure_class()
    groups = list(accuracy)
    models = list(dict.fromkeys(m for g in groups for m in accuracy[g]))
    width = 0.8 / len(models)
    fig = Figure(figsize=(max(6.5, 3.2 * len(groups) + 2.5), 4.6), layout="constrained")
    ax = fig.subplots()
    x = np.arange(len(groups))
    for k, model in enumerate(models):
        values = [accuracy[g].get(model, np.nan) for g in groups]
        bars = ax.bar(
            x + (k - (len(models) - 1) / 2) * width,
            values,
            width * 0.92,
            label=model,
            color=f"C{k}",
        )
        ax.bar_label(bars, fmt="%.3f", padding=2, fontsize=9)
    if chance is not None:
        ax.axhline(chance, color="0.3", ls="--", lw=1)
        ax.annotate(
            f"chance {chance:.2f}",
            xy=(1.0, chance),
            xycoords=("axes fraction", "data"),
            xytext=(-4, 3),
            textcoords="offset points",
            ha="right",
            fontsize=8,
            color="0.3",
        )
    ax.set_xticks(x, groups)
    ax.set_ylim(0, 1.06)
    ax.set_yticks(np.linspace(0, 1, 6))
    ax.set_ylabel("accuracy")
    ax.set_title("Recognition accuracy: same run, same split, same classifier")
    ax.legend(
        frameon=False,
        loc="upper center",
        bbox_to_anchor=(0.5, -0.1),
        ncols=len(models),
        fontsize=9,
    )
    ax.grid(axis="y", alpha=0.3)
    return _save(fig, path)


# --------------------------------------------------------------------------
# the page
# --------------------------------------------------------------------------
_CSS = """
body { font-family: system-ui, sans-serif; max-width: 1100px; margin: 2em auto;
       padding: 0 1em; color: #222; line-height: 1.45; }
h1 { margin-bottom: 0.2em; } .sub { color: #666; margin-top: 0; }
table { border-collapse: collapse; margin: 0.8em 0; }
td, th { border-bottom: 1px solid #ddd; padding: 0.3em 0.9em; text-align: left; }
td.num { text-align: right; font-variant-numeric: tabular-nums; }
figure { margin: 1.5em 0; } figure img { max-width: 100%; border: 1px solid #eee; }
figcaption { color: #444; font-size: 0.95em; max-width: 60em; }
code, pre { background: #f5f5f5; padding: 0.1em 0.3em; border-radius: 3px; }
.samples td { vertical-align: middle; } audio { height: 2em; }
"""


def _esc(value):
    return html.escape(str(value))


def _table(rows, header=None, numeric=()):
    out = ["<table>"]
    if header:
        out.append("<tr>" + "".join(f"<th>{_esc(h)}</th>" for h in header) + "</tr>")
    for row in rows:
        cells = []
        for j, v in enumerate(row):
            cls = ' class="num"' if j in numeric else ""
            cells.append(f"<td{cls}>{_esc(v)}</td>")
        out.append("<tr>" + "".join(cells) + "</tr>")
    out.append("</table>")
    return "\n".join(out)


def _samples_table(items):
    rows = []
    for it in items:
        players = " ".join(
            f'<audio controls preload="none" src="{_esc(w)}"></audio> '
            f'<a href="{_esc(w)}">{_esc(Path(w).name)}</a>'
            for w in it.get("wavs", ())
        )
        heard = f"{it['recognised']}/{it['n']}" if it.get("n") else ""
        rows.append(
            f"<tr><td><b>{_esc(it['label'])}</b></td><td>{_esc(heard)}</td>"
            f"<td>{players}</td></tr>"
        )
    return (
        '<table class="samples"><tr><th>label</th><th>recognised</th>'
        "<th>generated WAV files</th></tr>\n" + "\n".join(rows) + "</table>"
    )


def write_report(out_dir, content):
    """Draw the figures and write ``index.html`` into ``out_dir``.

    Parameters
    ----------
    out_dir : str or os.PathLike
        Folder for ``index.html`` and the PNGs (created if needed). WAV files
        named in ``content["generated"]`` are linked relative to it.
    content : dict
        What to show:

        - ``title`` (str), ``command`` (str, the command line that made it);
        - ``run``: list of ``(name, value)`` rows (data, split, model, ...);
        - ``accuracy``: ``{group: {model: accuracy}}``, e.g.
          ``{"official test split": {"VAE 16-D + SVC": 0.97, ...}}``;
          ``chance``: float or None;
        - ``notes``: list of str shown under the accuracy table;
        - ``history``: the VAE's ``history_``;
        - ``latent``: ``points`` (n, 2), ``labels`` (n,), ``speakers`` (n,) or
          None, ``axis_labels``;
        - ``spectrogram``: ``n_frames``, ``n_mels``, ``mel_hz`` (centre
          frequency of each band, or None); rows are time-major;
        - ``reconstructions``: list of dicts with ``label``, ``original``,
          ``reconstruction`` (rows);
        - ``generated``: list of dicts with ``label``, ``row``, ``wavs``
          (paths relative to ``out_dir``), ``recognised`` and ``n``;
        - ``confusion``: ``y_true``, ``y_pred``, ``labels``.

    Returns
    -------
    index : pathlib.Path
        The HTML page.
    """
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    spec = content["spectrogram"]
    plot_accuracy(out / "accuracy.png", content["accuracy"], content.get("chance"))
    plot_confusion(out / "confusion.png", content["confusion"])
    plot_latent(out / "latent.png", content["latent"])
    plot_reconstructions(out / "reconstructions.png", content["reconstructions"], spec)
    plot_generated(out / "generated.png", content["generated"], spec)
    plot_loss(out / "loss.png", content["history"])

    models = list(dict.fromkeys(m for g in content["accuracy"].values() for m in g))
    acc_rows = [
        [model]
        + [
            "" if model not in g else f"{g[model]:.3f}"
            for g in content["accuracy"].values()
        ]
        for model in models
    ]
    parts = [
        "<!doctype html>",
        '<html lang="en"><head><meta charset="utf-8">',
        f"<title>{_esc(content['title'])}</title><style>{_CSS}</style></head><body>",
        f"<h1>{_esc(content['title'])}</h1>",
        f'<p class="sub">Made by <code>{_esc(content["command"])}</code></p>',
        "<h2>Run</h2>",
        _table(content["run"]),
        "<h2>Accuracy</h2>",
        _table(
            acc_rows,
            header=["model", *content["accuracy"]],
            numeric=range(1, 1 + len(content["accuracy"])),
        ),
    ]
    parts += [f"<p>{_esc(note)}</p>" for note in content.get("notes", ())]
    for name, heading, caption in FIGURES:
        parts.append(
            f'<h2>{_esc(heading)}</h2><figure><img src="{name}" '
            f'alt="{_esc(heading)}"><figcaption>{_esc(caption)}</figcaption></figure>'
        )
        if name == "generated.png":
            parts.append(_samples_table(content["generated"]))
    parts.append("</body></html>")
    index = out / "index.html"
    index.write_text("\n".join(parts), encoding="utf-8")
    return index


def write_recognizer_report(
    out_dir, bundle, corpus, evaluation, split_info, *, n_wavs=3, command=""
):
    """Write the report of a saved recogniser evaluated on a corpus.

    Writes ``n_wavs`` generated WAV files per label into ``out_dir/samples``,
    then the figures and ``index.html`` (:func:`write_report`).

    Parameters
    ----------
    out_dir : str or os.PathLike
        The report folder (created if needed).
    bundle : dict
        The saved model (:func:`skvae.recipes.load_recognizer`); its
        ``metadata`` gives the run's details and, when it was trained on the
        same corpus, the held-out-speaker accuracy.
    corpus : Bunch
        The corpus evaluated on (:func:`skvae.datasets.load_corpus`).
    evaluation : dict
        From :func:`skvae.evaluation.evaluate_recognizer`.
    split_info : dict
        The split's ``info`` (:func:`skvae.datasets.split_corpus`).
    n_wavs : int, default=3
        Generated WAV files per label linked from the page.
    command : str, default=""
        The command line shown on the page.

    Returns
    -------
    index : pathlib.Path
        The HTML page.
    """
    import librosa

    from .evaluation import generated_rate
    from .features import write_wav

    pipe = bundle["pipeline"]
    fe = pipe.named_steps["features"]
    vae = pipe.named_steps["vae"]
    meta = bundle["metadata"]
    out = Path(out_dir)
    samples = out / "samples"
    samples.mkdir(parents=True, exist_ok=True)
    generated = []
    for g in evaluation["generated"]:
        wavs = []
        for i, wave in enumerate(g["waves"][:n_wavs]):
            name = f"{g['label']}_skvae_{i}.wav"
            write_wav(samples / name, wave, fe.sr, normalize=True)
            wavs.append(f"samples/{name}")
        generated.append({**g, "row": g["rows"][0], "wavs": wavs})

    mel_hz = librosa.mel_frequencies(n_mels=fe.n_mels + 2, fmin=fe.fmin, fmax=fe.sr / 2)
    accuracy = {f"test set ({split_info['kind']} split)": evaluation["accuracy"]}
    speaker_eval = meta.get("speaker_eval")
    if speaker_eval and meta.get("data") == corpus.spec:
        accuracy[speaker_eval["label"]] = speaker_eval["accuracy"]
    hit, total = generated_rate(evaluation["generated"])
    stopped = "early stopping" if vae.n_iter_ < vae.max_iter else "--max-iter reached"
    run = [
        ("data", corpus.description),
        ("split", split_info["text"]),
        (
            "features",
            f"log-mel, {fe.n_mels} bands x {fe.n_frames} frames per utterance, "
            f"{fe.sr} Hz, silence trimmed at {fe.top_db} dB",
        ),
        (
            "model",
            f"VAE {vae.n_components}-D latent, hidden layers "
            f"{tuple(vae.hidden_layer_sizes)}, {vae.n_iter_} epochs ({stopped}) "
            "-> SVC with calibrated probabilities",
        ),
        ("model file", meta.get("model_file", bundle.get("path", ""))),
        ("training time", f"{meta.get('train_seconds', float('nan')):.0f} s"),
        ("skvae", meta.get("skvae_version", __version__)),
    ]
    notes = [
        f"Generated utterances recognised as the requested label by the same "
        f"pipeline (through audio and back): {hit}/{total} ({hit / max(total, 1):.0%})."
    ]
    if corpus.note:
        notes.append(corpus.note + ".")
    content = {
        "title": f"skvae speech recogniser: {corpus.name}",
        "command": command,
        "run": run,
        "accuracy": accuracy,
        "chance": 1.0 / len(bundle["classes"]),
        "notes": notes,
        "history": vae.history_,
        "latent": evaluation["latent"],
        "spectrogram": {
            "n_frames": fe.n_frames,
            "n_mels": fe.n_mels,
            "mel_hz": np.asarray(mel_hz[1:-1]),
        },
        "reconstructions": evaluation["reconstructions"],
        "generated": generated,
        "confusion": {
            "y_true": evaluation["y_test"],
            "y_pred": evaluation["y_pred"],
            "labels": list(bundle["classes"]),
        },
    }
    return write_report(out, content)
