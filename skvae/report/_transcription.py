"""The report of a transcriber (``skvae train --task transcribe``): digit and
whole-string accuracy, where the errors are, and an example's alignment."""

import html
from pathlib import Path

import numpy as np

from ._figures import _figure, _save
from ._page import _CSS, _table


def _esc(value):
    return html.escape(str(value))


def edit_confusion(y_true, y_pred, symbols):
    """Counts of the edit operations between strings, as a matrix.

    Rows: the reference symbol (last row: inserted, nothing said); columns:
    what was transcribed (last column: deleted, nothing written). The
    diagonal holds the symbols transcribed right.

    Parameters
    ----------
    y_true, y_pred : sequence of str
    symbols : sequence of str
        The symbols, in the order of rows and columns.

    Returns
    -------
    counts : ndarray of shape (len(symbols) + 1, len(symbols) + 1)

    Examples
    --------
    >>> from skvae.report._transcription import edit_confusion
    >>> edit_confusion(["12"], ["172"], "12").tolist()  # 7 is not a symbol
    Traceback (most recent call last):
    ...
    ValueError: '7' is not among the symbols '12'
    >>> edit_confusion(["12", "21"], ["22", "1"], "12").tolist()
    [[1, 1, 0], [0, 1, 1], [0, 0, 0]]
    """
    from .._edit import edit_operations

    index = {s: i for i, s in enumerate(symbols)}
    n = len(index)
    counts = np.zeros((n + 1, n + 1), dtype=np.int64)

    def at(symbol):
        if symbol not in index:
            raise ValueError(
                f"{symbol!r} is not among the symbols {''.join(symbols)!r}"
            )
        return index[symbol]

    for ref, hyp in zip(y_true, y_pred):
        for s in ref:
            at(s)
        for s in hyp:
            at(s)
        for s in ref:
            counts[index[s], index[s]] += 1
        for kind, r, h in edit_operations(ref, hyp):
            if kind == "replace":
                counts[at(r), at(r)] -= 1
                counts[at(r), at(h)] += 1
            elif kind == "delete":
                counts[at(r), at(r)] -= 1
                counts[at(r), n] += 1
            else:
                counts[n, at(h)] += 1
    return counts


def plot_edit_confusion(path, counts, symbols):
    """Heat map of :func:`edit_confusion` (errors only: the diagonal blank)."""
    fig = _figure(figsize=(5.2, 4.6))
    ax = fig.add_subplot()
    errors = counts.astype(float)
    np.fill_diagonal(errors[:-1, :-1], np.nan)
    im = ax.imshow(errors, cmap="Reds", vmin=0)
    labels = [*symbols, "-"]
    ax.set_xticks(range(len(labels)), labels)
    ax.set_yticks(range(len(labels)), labels)
    ax.set_xlabel("transcribed ('-': deleted)")
    ax.set_ylabel("said ('-': inserted)")
    for (i, j), v in np.ndenumerate(counts):
        if v and not (i == j and i < len(symbols)):
            ax.text(j, i, str(v), ha="center", va="center", fontsize=7)
    fig.colorbar(im, ax=ax, shrink=0.8, label="errors")
    return _save(fig, path)


def plot_alignment(path, frames, alignment, *, hop_seconds, mel_hz=None, title=""):
    """A log-mel spectrogram with each transcribed digit where it was heard.

    ``frames``: (n_frames, n_mels); ``alignment``: (symbol, first frame,
    last frame) triples (:meth:`~skvae.CTCTranscriber.align`).
    """
    frames = np.asarray(frames, dtype=float)
    fig = _figure(figsize=(max(6.0, min(14.0, 0.012 * len(frames) + 3)), 3.2))
    ax = fig.add_subplot()
    seconds = len(frames) * hop_seconds
    ax.imshow(
        frames.T,
        origin="lower",
        aspect="auto",
        cmap="magma",
        interpolation="nearest",
        extent=(0, seconds, 0, frames.shape[1]),
        vmin=np.percentile(frames, 1),
        vmax=np.percentile(frames, 99.5),
    )
    if mel_hz is not None:
        ticks = np.unique(np.linspace(0, frames.shape[1] - 1, 5).round().astype(int))
        ax.set_yticks(ticks + 0.5, [f"{mel_hz[t]:.0f}" for t in ticks])
        ax.set_ylabel("Hz (mel scale)")
    for symbol, first, last in alignment:
        x0, x1 = first * hop_seconds, (last + 1) * hop_seconds
        ax.axvspan(x0, x1, color="cyan", alpha=0.35, lw=0)
        ax.text(
            (x0 + x1) / 2,
            frames.shape[1] * 1.02,
            symbol,
            ha="center",
            va="bottom",
            fontsize=11,
            fontweight="bold",
        )
    ax.set_xlabel("seconds")
    ax.set_title(title, fontsize=9, pad=18)
    return _save(fig, path)


def write_transcription_report(out_dir, content):
    """Draw the figures and write ``index.html`` for a transcriber.

    Parameters
    ----------
    out_dir : str or os.PathLike
        Folder for the page and the PNGs (created if needed).
    content : dict
        ``title``, ``command`` (str); ``run`` (``(name, value)`` rows);
        ``results`` (dicts of ``set``, ``n``, ``digit_accuracy``,
        ``string_accuracy``, ``substitutions``, ``deletions``,
        ``insertions``); ``confusion`` (``y_true``, ``y_pred``,
        ``symbols``, ``set``); ``example`` (``frames``, ``alignment``,
        ``hop_seconds``, ``mel_hz``, ``truth``, ``predicted``, ``name``) or
        None; ``notes`` (list of str).

    Returns
    -------
    index : pathlib.Path
    """
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    rows = [
        [
            r["set"],
            r["n"],
            f"{r['digit_accuracy']:.3f}",
            f"{r['string_accuracy']:.3f}",
            r["substitutions"],
            r["deletions"],
            r["insertions"],
        ]
        for r in content["results"]
    ]
    header = [
        "test set",
        "strings",
        "digit accuracy",
        "whole strings",
        "subst.",
        "del.",
        "ins.",
    ]
    parts = [
        "<!doctype html>",
        '<html lang="en"><head><meta charset="utf-8">',
        f"<title>{_esc(content['title'])}</title><style>{_CSS}</style></head><body>",
        f"<h1>{_esc(content['title'])}</h1>",
        f'<p class="sub">Made by <code>{_esc(content["command"])}</code></p>',
        "<h2>Run</h2>",
        _table(content["run"]),
        "<h2>Transcription</h2>",
        _table(rows, header, numeric=range(1, 7)),
        "<p>Digit accuracy is 1 - (substitutions + deletions + insertions) / "
        "digits said, over all strings; a whole string is right only if every "
        "digit is.</p>",
    ]
    parts += [f"<p>{_esc(note)}</p>" for note in content.get("notes", ())]
    conf = content["confusion"]
    counts = edit_confusion(conf["y_true"], conf["y_pred"], conf["symbols"])
    plot_edit_confusion(out / "edits.png", counts, conf["symbols"])
    parts.append(
        f'<h2>Where the errors are</h2><figure><img src="edits.png" alt="errors">'
        f"<figcaption>Substitutions (said -> transcribed), deletions (column "
        f"'-') and insertions (row '-') on {_esc(conf['set'])}; the digits "
        "transcribed right are left out.</figcaption></figure>"
    )
    example = content.get("example")
    if example is not None:
        plot_alignment(
            out / "alignment.png",
            example["frames"],
            example["alignment"],
            hop_seconds=example["hop_seconds"],
            mel_hz=example.get("mel_hz"),
            title=f"said {example['truth']}, transcribed {example['predicted']}",
        )
        parts.append(
            '<h2>An example, aligned</h2><figure><img src="alignment.png" '
            'alt="alignment"><figcaption>'
            f"{_esc(example['name'])}: its log-mel spectrogram, each transcribed "
            "digit over the steps where the model's most likely output was that "
            "digit (CTC's spikes: where it was recognised, not its whole "
            "extent).</figcaption></figure>"
        )
    parts.append("</body></html>")
    index = out / "index.html"
    index.write_text("\n".join(parts), encoding="utf-8")
    return index
