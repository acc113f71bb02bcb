"""The report's PNG figures, drawn with matplotlib's object-oriented API."""

import numpy as np

INSTALL_HINT = 'pip install "skvae[report]"'


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


def plot_open_set(path, open_set):
    """Histograms of the in-vocabulary scores of known and unknown utterances."""
    Figure = _figure_class()
    scores = {k: np.asarray(v, dtype=float) for k, v in open_set["scores"].items()}
    finite = np.concatenate([v[np.isfinite(v)] for v in scores.values()])
    threshold = open_set["threshold"]
    # the known scores set the view; far-off unknowns pile up at its left edge
    known = np.concatenate([v for k, v in scores.items() if k.startswith("known")])
    spread = np.nanpercentile(known, 99) - np.nanpercentile(known, 1)
    low = max(finite.min(), threshold - 3 * max(spread, 1e-9))
    high = finite.max()
    bins = np.linspace(low, high, 50)
    fig = Figure(figsize=(8.5, 4.4), layout="constrained")
    ax = fig.subplots()
    for k, (kind, values) in enumerate(scores.items()):
        shown = np.clip(values[np.isfinite(values)], low, high)
        below = float(np.mean(values < threshold))
        ax.hist(
            shown,
            bins=bins,
            density=True,
            histtype="step" if kind.startswith("known") else "stepfilled",
            alpha=1.0 if kind.startswith("known") else 0.35,
            lw=2 if kind.startswith("known") else 1,
            color=f"C{k}",
            label=f"{kind} (n={values.size}, {below:.0%} rejected)",
        )
    ax.axvline(threshold, color="0.2", ls="--", lw=1.2)
    ax.annotate(
        f"threshold {threshold:.2f}",
        xy=(threshold, 1.0),
        xycoords=("data", "axes fraction"),
        xytext=(4, -12),
        textcoords="offset points",
        fontsize=8,
        color="0.2",
    )
    ax.set_xlabel("in-vocabulary score (scores below the left edge are drawn at it)")
    ax.set_ylabel("density")
    ax.set_title(
        f"Reject option: target {open_set['target']:.0%} of known words rejected"
    )
    ax.legend(frameon=False, fontsize=8, loc="upper left")
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
