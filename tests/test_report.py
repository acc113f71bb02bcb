"""skvae.report: the figures and the HTML page, from plain arrays.

The report of a trained model end to end (``write_recognizer_report``) is
exercised by tests/test_cli.py, which trains one.
"""

import subprocess
import sys

import numpy as np
import pytest

from skvae import report

PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"


def _content(n_frames=4, n_mels=5, labels=(0, 1, 2)):
    """The smallest content write_report draws: made-up numbers."""
    rng = np.random.RandomState(0)
    d = n_frames * n_mels
    history = [
        {"epoch": e, "loss": 10.0 - e, "kl": 1.0 + e, "validation_score": e - 9.0}
        for e in range(1, 6)
    ]
    for h in history:
        h["validation_kl"] = h["kl"] + 0.1
    y = np.repeat(labels, 4)
    return {
        "title": "a <test> report",
        "command": "skvae train --quick",
        "run": [("data", "made up"), ("split", "random")],
        "accuracy": {
            "test set": {"VAE (2-D) + SVC": 0.9, "PCA (2-D) + SVC": 0.8},
            "held-out speaker ann": {"VAE (2-D) + SVC": 0.7},
        },
        "chance": 1 / len(labels),
        "notes": ["a note & more"],
        "history": history,
        "latent": {
            "points": rng.normal(size=(len(y), 2)),
            "labels": y,
            "speakers": np.array(["ann", "bob"] * (len(y) // 2), dtype=object),
            "axis_labels": ("t-SNE 1", "t-SNE 2"),
            "method": "t-SNE",
        },
        "spectrogram": {"n_frames": n_frames, "n_mels": n_mels, "mel_hz": None},
        "reconstructions": [
            {
                "label": c,
                "original": rng.normal(size=d),
                "reconstruction": rng.normal(size=d),
            }
            for c in labels
        ],
        "generated": [
            {
                "label": c,
                "row": rng.normal(size=d),
                "wavs": [f"samples/{c}_skvae_0.wav"],
                "recognised": 3,
                "n": 4,
            }
            for c in labels
        ],
        "confusion": {"y_true": y, "y_pred": np.roll(y, 1), "labels": list(labels)},
    }


def test_write_report_draws_every_figure_and_the_page(tmp_path):
    index = report.write_report(tmp_path / "out", _content())
    assert index == tmp_path / "out" / "index.html"
    html = index.read_text(encoding="utf-8")
    for name, heading, _ in report.FIGURES:
        png = tmp_path / "out" / name
        assert png.read_bytes()[:8] == PNG_SIGNATURE
        assert f'src="{name}"' in html and heading in html
    # text is escaped, the accuracy table has one column per group
    assert "a &lt;test&gt; report" in html and "a note &amp; more" in html
    assert "<th>test set</th><th>held-out speaker ann</th>" in html
    assert '<td class="num">0.900</td><td class="num">0.700</td>' in html
    assert 'src="samples/2_skvae_0.wav"' in html


def test_check_available_is_silent_with_matplotlib():
    assert report.check_available() is None


def test_report_needs_matplotlib_with_a_hint(monkeypatch):
    monkeypatch.setitem(sys.modules, "matplotlib.figure", None)
    with pytest.raises(ImportError, match=r'pip install "skvae\[report\]"'):
        report.check_available()


def test_importing_the_report_imports_neither_torch_nor_librosa():
    code = (
        "import sys, skvae.report; heavy = {'torch', 'librosa'} & set(sys.modules); "
        "assert not heavy, heavy"
    )
    res = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert res.returncode == 0, res.stderr


def test_each_audio_player_and_its_link_are_one_figure(tmp_path):
    """Players wrap as units: a link never sits beside another's player."""
    from html.parser import HTMLParser

    content = _content()
    for g in content["generated"]:
        g["wavs"] = [f"samples/{g['label']}_skvae_{i}.wav" for i in range(4)]
        g["heard_as"] = [g["label"], 7, g["label"], g["label"]]
    html = report.write_report(tmp_path, content).read_text(encoding="utf-8")

    class Figures(HTMLParser):
        def __init__(self):
            super().__init__()
            self.figures, self.current = [], None

        def handle_starttag(self, tag, attrs):
            attrs = dict(attrs)
            if tag == "figure" and attrs.get("class") == "wav":
                self.current = []
            elif self.current is not None and tag in ("audio", "a"):
                self.current.append((tag, attrs.get("src") or attrs.get("href")))

        def handle_endtag(self, tag):
            if tag == "figure" and self.current is not None:
                self.figures.append(self.current)
                self.current = None

    parser = Figures()
    parser.feed(html)
    assert len(parser.figures) == 3 * 4
    for figure in parser.figures:  # one player and the link to its own file
        (tag1, src), (tag2, href) = figure
        assert (tag1, tag2) == ("audio", "a") and src == href
    assert "figure.wav { display: inline-block" in html
    assert "2_skvae_1.wav</a> (heard as 7)" in html


def test_generated_caption_describes_the_generator(tmp_path):
    html = report.write_report(tmp_path / "a", _content()).read_text()
    assert "conditional VAE (VAEClassifier)" in html
    assert "Gaussian fitted to each label" not in html


def test_write_report_without_a_vae_leaves_out_the_vae_figures(tmp_path):
    content = _content() | {"history": None, "latent": None, "reconstructions": []}
    html = report.write_report(tmp_path, content).read_text(encoding="utf-8")
    for name in ("latent.png", "reconstructions.png", "loss.png"):
        assert not (tmp_path / name).exists() and f'src="{name}"' not in html
    for name in ("accuracy.png", "confusion.png", "generated.png"):
        assert (tmp_path / name).read_bytes()[:8] == PNG_SIGNATURE
        assert f'src="{name}"' in html


def test_listening_page_has_three_players_per_row_and_the_verdicts(tmp_path):
    from skvae.report import write_listening_page

    sr, rng = 8000, np.random.default_rng(0)
    wave = (0.1 * rng.standard_normal(2000)).astype(np.float32)
    check = {
        "real": 0.5, "copy": 0.5, "generated": 0.25, "own": 1.0,
        "n_real": 2, "n_generated": 4, "sr": sr,
        "y": np.array([3, 7]), "real_items": [wave, wave],
        "heard_real": np.array([3, -1]), "heard_copy": np.array([3, 1]),
        "copy_waves": [wave, wave],
        "generated_labels": np.array([3, 3, 7, 7]),
        "heard_generated": np.array([3, 2, 2, 2]),
        "generated_waves": [wave] * 4,
    }  # fmt: skip
    page = write_listening_page(tmp_path, check).read_text()
    samples = page.split('class="samples"')[1]
    assert samples.count("<tr><td>") == 2  # one row per digit
    # per digit: its real recording, its copy, and two generated
    assert samples.count("<audio") == 2 * (1 + 1 + 2)
    assert "heard: nothing" in page and "heard: three" in page
    assert "0.50" in page  # generated: 0.25 of real 0.5
    for name in ("real_3_0", "copy_7_0", "generated_7_0"):
        assert (tmp_path / "listen" / f"{name}.wav").is_file()
