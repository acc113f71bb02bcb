"""The report's PNG figures, drawn with matplotlib's object-oriented API."""

import numpy as np

INSTALL_HINT = 'pip install "skvae[report]"'
_NOTE = dict(textcoords="offset points", fontsize=8, color="0.3")
_TOP = dict(xycoords=("data", "axes fraction"), **_NOTE)
_LEGEND_RIGHT = dict(loc="center left", bbox_to_anchor=(1.0, 0.5), frameon=False)


def _figure(**kwargs):
    try:  # no pyplot, no GUI backend
        from matplotlib.figure import Figure
    except ImportError as exc:  # pragma: no cover - depends on the install
        raise ImportError(
            f"The report needs matplotlib, which is not installed: {INSTALL_HINT}"
        ) from exc
    return Figure(layout="constrained", **kwargs)


def check_available():
    """Raise ImportError with an install hint if matplotlib is missing.

    Examples
    --------
    >>> from skvae.report import check_available
    >>> check_available()  # matplotlib is installed: nothing happens
    """
    _figure()


def _save(fig, path):
    fig.savefig(path, dpi=110, bbox_inches="tight", facecolor="white")
    return path


def _spectrogram(ax, row, spec, vmin, vmax):
    """Draw a time-major log-mel row; the mel axis labelled in Hz."""
    image = np.asarray(row, dtype=float).reshape(spec["n_frames"], spec["n_mels"]).T
    kw = dict(origin="lower", aspect="auto", cmap="magma", interpolation="nearest")
    im = ax.imshow(image, vmin=vmin, vmax=vmax, **kw)
    ticks = np.unique(np.linspace(0, spec["n_mels"] - 1, 5).round().astype(int))
    ax.set_yticks(ticks)
    if spec.get("mel_hz") is not None:
        ax.set_yticklabels([f"{spec['mel_hz'][t]:.0f}" for t in ticks])
    return im


def _mark(ax, x, text, ls, right=False):
    """A vertical line at ``x``, labelled at the top of the axes."""
    ax.axvline(x, color="0.3", ls=ls, lw=1.2)
    dx, ha = (-4, "right") if right else (4, "left")
    ax.annotate(text, (x, 1.0), xytext=(dx, -12), ha=ha, **_TOP)


def _db_range(rows):
    values = np.concatenate([np.ravel(r) for r in rows])
    return float(np.percentile(values, 1)), float(np.percentile(values, 99.5))


def plot_loss(path, history):
    """Loss and KL term per epoch, on training and validation rows."""
    epochs = np.array([h["epoch"] for h in history])
    loss = np.array([h["loss"] for h in history])
    val = [h.get("validation_score") for h in history]
    has_val = all(v is not None for v in val)
    fig = _figure(figsize=(11, 4))
    ax1, ax2 = fig.subplots(1, 2)
    ax1.plot(epochs, loss, color="C0", lw=1.8, label="training")
    both = loss
    if has_val:
        val_loss = -np.array(val, dtype=float)
        ax1.plot(epochs, val_loss, color="C1", lw=1.8, label="validation (held out)")
        best = epochs[int(np.argmin(val_loss))]
        ax2.axvline(best, color="0.3", ls=":", lw=1.2)
        _mark(ax1, best, f"kept: epoch {best}", ":", right=best > 0.7 * epochs.max())
        both = np.concatenate([loss, val_loss])
    if len(both) > 3:  # the first epochs are far above the rest: zoom on the rest
        lo, hi = np.min(both), np.percentile(both, 95)
        pad = 0.05 * (hi - lo) if hi > lo else 1.0
        ax1.set_ylim(lo - pad, hi + pad)
    ax1.set(xlabel="epoch", ylabel="loss (negative ELBO per utterance)", title="Loss")
    ax2.plot(epochs, [h["kl"] for h in history], color="C0", lw=1.8, label="training")
    if has_val and all(h.get("validation_kl") is not None for h in history):
        vkl = [h["validation_kl"] for h in history]
        ax2.plot(epochs, vkl, color="C1", lw=1.8, label="validation (held out)")
    ax2.set(
        xlabel="epoch",
        ylabel="KL(q(z|x) || p(z)) per utterance (nats)",
        title="KL term (information kept in the latent code)",
    )
    for ax in (ax1, ax2):
        ax.legend(frameon=False)
        ax.grid(alpha=0.3)
    return _save(fig, path)


def plot_latent(path, latent):
    """The 2-D latent map, coloured by label and, if given, by speaker."""
    import matplotlib
    from matplotlib.lines import Line2D

    points = np.asarray(latent["points"])
    labels = np.asarray(latent["labels"])
    groups = [("label", labels)]
    if latent.get("speakers") is not None:
        groups.append(("speaker", np.asarray(latent["speakers"])))
    fig = _figure(figsize=(6.4 * len(groups), 5.4))
    axes = np.atleast_1d(fig.subplots(1, len(groups)))
    label_kinds = np.unique(labels).tolist()
    # each point drawn as its label (e.g. the digit) when labels are short
    text = all(len(str(k)) <= 3 and str(k).isalnum() for k in label_kinds)
    for ax, (what, values) in zip(axes, groups):
        kinds = np.unique(values).tolist()
        colors = matplotlib.colormaps["tab10" if len(kinds) <= 10 else "tab20"]
        handles = []
        for k, kind in enumerate(kinds):
            color = colors(k % colors.N)
            for lab in label_kinds:
                sel = (values == kind) & (labels == lab)
                style = dict(s=55, marker=f"${lab}$", linewidths=0, edgecolors="none")
                if not text:
                    style = dict(s=20, marker="o", linewidths=0.4, edgecolors="white")
                if sel.any():
                    ax.scatter(*points[sel].T, alpha=0.85, color=color, **style)
            handles.append(
                Line2D([], [], ls="", marker="o", markersize=7, color=color, label=kind)
            )
        xlabel, ylabel = latent.get("axis_labels", ("component 1", "component 2"))
        ax.set(xlabel=xlabel, ylabel=ylabel)
        if latent.get("method") == "t-SNE":  # t-SNE coordinates mean nothing
            ax.set(xticks=[], yticks=[])
        drawn = ", drawn as their label" if text else ""
        ax.set_title(f"Test utterances coloured by {what}{drawn}")
        ncols = 1 if len(kinds) <= 12 else 2
        legend = dict(title=what, fontsize=8, title_fontsize=9, ncols=ncols)
        ax.legend(handles=handles, **legend, **_LEGEND_RIGHT)
    return _save(fig, path)


def _spectrogram_grid(path, panels, spec, n_rows, n_cols, size):
    """Spectrograms ``(row, title, xlabel)`` in a grid with one colour scale."""
    vmin, vmax = _db_range([p[0] for p in panels])
    fig = _figure(figsize=size)
    axes = fig.subplots(n_rows, n_cols, sharex=True, sharey=True, squeeze=False)
    for k, ax in enumerate(axes.flat):
        if k >= len(panels):
            ax.set_visible(False)
            continue
        row, title, xlabel = panels[k]
        im = _spectrogram(ax, row, spec, vmin, vmax)
        ax.set_title(title, fontsize=10)
        ax.set_xlabel(xlabel)
        if k % n_cols == 0:
            ax.set_ylabel("mel frequency (Hz)")
    fig.colorbar(im, ax=axes, label="log-mel energy (dB)", shrink=0.9)
    return _save(fig, path)


def plot_reconstructions(path, items, spec):
    """Original log-mel rows (top) and their VAE reconstructions (bottom)."""
    top = [(it["original"], f"label {it['label']}: original", "") for it in items]
    frame = "frame (time, length-normalised)"
    bottom = [(it["reconstruction"], "VAE reconstruction", frame) for it in items]
    n = len(items)
    return _spectrogram_grid(path, top + bottom, spec, 2, n, (2.5 * n + 1.2, 5.4))


def plot_generated(path, items, spec):
    """One generated log-mel row per label, titled with how it was heard."""
    cols = min(5, len(items))
    rows = -(-len(items) // cols)
    panels = []
    for k, it in enumerate(items):
        title = f"generated {it['label']}"
        if it.get("n"):
            title += f"\nheard as {it['label']}: {it['recognised']}/{it['n']}"
        panels.append((it["row"], title, "frame" if k // cols == rows - 1 else ""))
    size = (2.5 * cols + 1.2, 2.7 * rows + 0.4)
    return _spectrogram_grid(path, panels, spec, rows, cols, size)


def plot_confusion(path, confusion):
    """The confusion matrix of the test utterances."""
    from sklearn.metrics import ConfusionMatrixDisplay, confusion_matrix

    labels = list(confusion["labels"])
    cm = confusion_matrix(confusion["y_true"], confusion["y_pred"], labels=labels)
    size = max(5.0, 0.5 * len(labels) + 2.0)
    fig = _figure(figsize=(size + 0.8, size))
    ax = fig.subplots()
    disp = ConfusionMatrixDisplay(cm, display_labels=[str(v) for v in labels])
    disp.plot(ax=ax, cmap="Blues", colorbar=False, values_format="d")
    fig.colorbar(disp.im_, ax=ax, label="number of test utterances", shrink=0.85)
    acc = np.trace(cm) / max(1, cm.sum())
    ax.set_title(f"VAE pipeline on {cm.sum()} test utterances: accuracy {acc:.3f}")
    ax.set(xlabel="predicted label", ylabel="true label")
    return _save(fig, path)


def plot_open_set(path, open_set):
    """Histograms of the in-vocabulary scores of known and unknown utterances."""
    scores = {k: np.asarray(v, dtype=float) for k, v in open_set["scores"].items()}
    finite = np.concatenate([v[np.isfinite(v)] for v in scores.values()])
    threshold = open_set["threshold"]
    # the known scores set the view; far-off unknowns pile up at its left edge
    known = np.concatenate([v for k, v in scores.items() if k.startswith("known")])
    spread = np.nanpercentile(known, 99) - np.nanpercentile(known, 1)
    low = max(finite.min(), threshold - 3 * max(spread, 1e-9))
    high = finite.max()
    fig = _figure(figsize=(8.5, 4.4))
    ax = fig.subplots()
    known_style = dict(histtype="step", alpha=1.0, lw=2)
    unknown_style = dict(histtype="stepfilled", alpha=0.35, lw=1)
    for k, (kind, values) in enumerate(scores.items()):
        style = known_style if kind.startswith("known") else unknown_style
        label = f"{kind} (n={values.size}, {np.mean(values < threshold):.0%} rejected)"
        shown = np.clip(values[np.isfinite(values)], low, high)
        bins = np.linspace(low, high, 50)
        ax.hist(shown, bins, density=True, color=f"C{k}", label=label, **style)
    _mark(ax, threshold, f"threshold {threshold:.2f}", "--")
    ax.set(
        xlabel="in-vocabulary score (scores below the left edge are drawn at it)",
        ylabel="density",
        title=f"Reject option: target {open_set['target']:.0%} of known words rejected",
    )
    ax.legend(frameon=False, fontsize=8, loc="upper left")
    return _save(fig, path)


def plot_accuracy(path, accuracy, chance=None):
    """Accuracy bars of the recogniser and its baselines, per test set."""
    groups = list(accuracy)
    models = list(dict.fromkeys(m for g in groups for m in accuracy[g]))
    width = 0.8 / len(models)
    fig = _figure(figsize=(max(6.5, 3.2 * len(groups) + 2.5), 4.6))
    ax = fig.subplots()
    x = np.arange(len(groups))
    for k, model in enumerate(models):
        values = [accuracy[g].get(model, np.nan) for g in groups]
        offset = (k - (len(models) - 1) / 2) * width
        bars = ax.bar(x + offset, values, width * 0.92, label=model, color=f"C{k}")
        ax.bar_label(bars, fmt="%.3f", padding=2, fontsize=9)
    if chance is not None:
        ax.axhline(chance, color="0.3", ls="--", lw=1)
        ax.annotate(
            f"chance {chance:.2f}",
            xy=(1.0, chance),
            xycoords=("axes fraction", "data"),
            xytext=(-4, 3),
            ha="right",
            **_NOTE,
        )
    ax.set_xticks(x, groups)
    ax.set(ylim=(0, 1.06), yticks=np.linspace(0, 1, 6), ylabel="accuracy")
    ax.set_title("Recognition accuracy: same run, same split, same classifier")
    below = dict(loc="upper center", bbox_to_anchor=(0.5, -0.1), frameon=False)
    ax.legend(ncols=len(models), fontsize=9, **below)
    ax.grid(axis="y", alpha=0.3)
    return _save(fig, path)
