"""The ``skvae`` command line, end to end on a small generated corpus.

``main(argv)`` is called in-process (it returns the exit code); one test runs
``python -m skvae`` in a subprocess. The corpus (4 eSpeak NG speakers x 10
digits x 3 repetitions, written as WAV files) and the model trained on it in
``--quick`` mode are shared by the tests of this module.
"""

import ast
import contextlib
import hashlib
import io
import os
import re
import shutil
import signal
import subprocess
import sys
import zipfile
from pathlib import Path

import numpy as np
import pytest

from skvae import cli
from skvae.cli import main
from skvae.recipes import load_recognizer

PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"
FIGURES = (
    "accuracy.png",
    "confusion.png",
    "latent.png",
    "reconstructions.png",
    "generated.png",
    "loss.png",
)
# fast settings: few epochs, short rows, few generated utterances
FAST = ["--quick", "--n-frames", "16", "--n-check", "2", "--report-samples", "1"]


def run(argv):
    """main(argv) with stdout and stderr captured: (code, out, err)."""
    out, err = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        code = main([str(a) for a in argv])
    return code, out.getvalue(), err.getvalue()


@pytest.fixture(scope="module")
def corpus(tmp_path_factory):
    from skvae.datasets import make_spoken_digits

    root = tmp_path_factory.mktemp("corpus")
    make_spoken_digits(4, 3, random_state=0, out_dir=root / "train")
    # unseen speakers, for predict
    make_spoken_digits(2, 1, random_state=1, out_dir=root / "new")
    return root


@pytest.fixture(scope="module")
def trained(corpus, tmp_path_factory):
    out = tmp_path_factory.mktemp("run") / "model"
    code, stdout, stderr = run(["train", corpus / "train", "--out", out, "-q", *FAST])
    assert code == 0, stderr
    return out, stdout, stderr


def test_train_writes_model_weights_and_report(trained):
    out, stdout, stderr = trained
    assert (out / "model.skops").is_file()
    assert (out / "model.safetensors").is_file()
    assert sorted(p.name for p in out.iterdir()) == [
        "model.safetensors",
        "model.skops",
        "report",
    ]  # and no folder it was written in left behind
    report = out / "report"
    assert (report / "index.html").is_file()
    for name in FIGURES:
        assert (report / name).is_file()
    wavs = sorted((report / "samples").glob("*.wav"))
    assert len(wavs) == 10  # one per digit (--report-samples 1)
    # it says which data it used, how it split it and what it reached
    assert "data: folder train: 120 utterances, 4 speakers, 10 labels" in stdout
    assert "speaker-independent" in stdout
    assert "VAE (16-D) + SVC" in stdout
    assert "report:" in stdout
    # -q: no progress bars, no information
    assert "VAE:" not in stderr and "features:" not in stderr


def test_saved_model_bundle(trained):
    import skvae

    out, _, _ = trained
    bundle = load_recognizer(out)  # the folder or the file
    assert bundle["format"] == "skvae-recognizer" and bundle["format_version"] == 1
    assert list(bundle["recognizer"].classes_) == list(range(10))
    meta = bundle["metadata"]
    assert {"skvae_version", "torch_version", "train_seconds"} <= set(meta)
    assert meta["data"]["kind"] == "folder"
    assert meta["split"]["kind"] == "speaker"
    assert set(meta["accuracy"]) == {
        "sequence VAE (16-D) + SVC",
        "PCA (16-D) + SVC",
        "log-mel (640-D) + SVC",
    }
    # the pipeline works on files by itself, and the weights file matches it
    pipe = bundle["recognizer"]
    assert [name for name, _ in pipe.steps] == ["features", "model"]
    assert [name for name, _ in pipe["model"].steps] == ["vae", "scale", "clf"]
    vae = skvae.load(out / "model.safetensors")
    assert type(vae) is skvae.SequenceVAE  # the default VAE
    rng = np.random.RandomState(0)
    X = [rng.normal(size=(n, vae.n_features_in_)) for n in (12, 25, 40)]
    np.testing.assert_allclose(vae.transform(X), pipe["model"]["vae"].transform(X))
    assert zipfile.is_zipfile(out / "model.skops")  # skops, not a pickle
    # the front end: gain normalisation, and the bandwidth of the training files
    assert pipe["features"].level == -20.0 and pipe["features"].training_sr_ == 8000


def test_train_with_a_held_out_speaker_check(corpus, tmp_path):
    argv = ["train", corpus / "train", "--split", "random", "--seed", 2, "-q"]
    argv += ["--out", tmp_path, "--no-report", "--no-weights", *FAST]
    code, stdout, stderr = run(argv)
    assert code == 0, stderr
    assert "split: random stratified split: 90 train, 30 test" in stdout
    assert "accuracy, held-out speaker " in stdout
    meta = load_recognizer(tmp_path)["metadata"]
    held = meta["speaker_eval"]
    assert held["n_test"] == 30 and len(held["held_out"]) == 1
    assert f"held-out speaker {held['held_out'][0]} (30 test utterances" in stdout
    assert meta["params"]["random_state"] == 2


def test_report_images_are_valid_pngs(trained):
    from matplotlib.image import imread

    report = trained[0] / "report"
    html = (report / "index.html").read_text()
    for name in FIGURES:
        path = report / name
        assert path.read_bytes()[:8] == PNG_SIGNATURE
        assert path.stat().st_size > 10_000
        image = imread(path)
        assert image.ndim == 3 and min(image.shape[:2]) > 200
        assert image[..., :3].std() > 0.05  # not a blank canvas
        assert f'src="{name}"' in html
    for wav in (report / "samples").glob("*.wav"):
        assert f"samples/{wav.name}" in html


def test_predict_new_speakers_above_chance(trained, corpus):
    code, stdout, stderr = run(["predict", trained[0], corpus / "new"])
    assert code == 0, stderr
    lines = [line.split("\t") for line in stdout.splitlines()]
    assert len(lines) == 20
    truth = [Path(path).name.split("_")[0] for path, _, _ in lines]
    predicted = [label for _, label, _ in lines]
    accuracy = np.mean([t == p for t, p in zip(truth, predicted)])
    assert accuracy > 0.3  # chance is 0.1
    probabilities = np.array([float(p) for _, _, p in lines])
    assert np.all((probabilities >= 0) & (probabilities <= 1))


def test_predict_any_sample_rate(trained, corpus, tmp_path):
    from skvae.features import load_audio, write_wav

    source = sorted((corpus / "new").glob("7_*.wav"))[0]
    y, sr = load_audio(source, sr=22050)
    resampled = write_wav(tmp_path / "7_at_22k.wav", y, sr)
    code, stdout, stderr = run(["predict", trained[0], resampled, source])
    assert code == 0, stderr
    labels = [line.split("\t")[1] for line in stdout.splitlines()]
    assert labels[0] == labels[1]  # the same utterance at 22.05 and 8 kHz


def test_predict_reports_unreadable_files_and_goes_on(trained, corpus, tmp_path):
    bad = tmp_path / "broken.wav"
    bad.write_bytes(b"not audio at all")
    good = sorted((corpus / "new").glob("*.wav"))[0]
    code, stdout, stderr = run(["predict", "-v", trained[0], bad, good])
    assert code == 1
    assert str(bad) in stderr and "1 of 2 files could not be read" in stderr
    line = stdout.strip().split("\t")
    assert line[0] == str(good)
    assert len(line) == 4  # -v adds the top 3


def test_predict_streams_paths_from_stdin_one_flushed_line_each(trained, corpus):
    """'skvae predict MODEL -' answers each path as it arrives: the first
    line is read back before the second path is written."""
    import threading

    good = sorted((corpus / "new").glob("*.wav"))[:2]
    missing = corpus / "no-such-file.wav"
    proc = subprocess.Popen(
        [sys.executable, "-m", "skvae", "predict", str(trained[0]), "-"],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        lines = []
        reader = threading.Thread(target=lambda: lines.append(proc.stdout.readline()))
        proc.stdin.write(f"{good[0]}\n")
        proc.stdin.flush()
        reader.start()
        reader.join(timeout=120)
        assert lines and lines[0].startswith(f"{good[0]}\t"), lines
        proc.stdin.write(f"{missing}\n\n{good[1]}\r\n")
        stdout, stderr = proc.communicate(timeout=120)
    finally:
        proc.kill()
    rest = [line.split("\t") for line in stdout.splitlines()]
    assert [r[0] for r in rest] == [str(missing), str(good[1])]
    assert rest[0][1] == "error" and "does not exist" in rest[0][2]
    assert len(rest[1]) == 3 and 0 <= float(rest[1][2]) <= 1
    assert proc.returncode == 1
    assert "1 of 3 files could not be read" in stderr
    # the same labels as predicting the files by name
    code, named, _ = run(["predict", trained[0], *good])
    assert code == 0
    streamed = [lines[0].rstrip("\n"), "\t".join(rest[1])]
    assert named.splitlines() == streamed


def test_predict_stdin_dash_must_come_alone(trained, corpus):
    good = sorted((corpus / "new").glob("*.wav"))[0]
    code, _, stderr = run(["predict", trained[0], "-", good])
    assert code == 2 and "must come alone" in stderr


def test_predict_gives_the_same_answers_with_and_without_the_cache(trained, corpus):
    files = sorted((corpus / "new").glob("*.wav"))[:6]
    code, cached, _ = run(["predict", "-v", trained[0], *files])
    assert code == 0
    code, uncached, _ = run(["predict", "-v", "--no-cache", trained[0], *files])
    assert code == 0
    assert cached == uncached


def test_sample_writes_wavs_of_the_requested_digit(trained, tmp_path):
    from skvae.features import load_audio

    out = tmp_path / "samples"
    argv = ["sample", trained[0], "--digit", "3", "-n", "2", "--out", out, "--seed", 0]
    code, stdout, stderr = run(argv)
    assert code == 0, stderr
    files = sorted(out.glob("*.wav"))
    assert [f.name for f in files] == ["3_skvae_0.wav", "3_skvae_1.wav"]
    assert stdout.split() == [str(f) for f in files]
    for f in files:
        y, sr = load_audio(f)
        assert sr == 8000 and y.size > 800 and np.abs(y).max() > 0.1
    assert "recognises" in stderr


def test_report_command_redraws_the_report(trained, tmp_path):
    out = tmp_path / "again"
    code, stdout, stderr = run(
        [
            "report",
            trained[0],
            "--out",
            out,
            "-q",
            "--n-check",
            2,
            "--report-samples",
            1,
        ]
    )
    assert code == 0, stderr
    assert (out / "index.html").is_file()
    assert all((out / name).is_file() for name in FIGURES)
    assert "speaker-independent" in stdout  # the split recorded in the model


@pytest.mark.parametrize(
    "argv",
    [
        ["frobnicate"],
        ["train", "--n-components", "0"],
        ["train", "--split", "sideways"],
        ["train", "--test-size", "1.5"],
        ["predict"],
        ["sample", "model", "-n", "many"],
    ],
)
def test_bad_arguments_are_usage_errors(argv):
    code, stdout, stderr = run(argv)
    assert code == 2
    assert "usage: skvae" in stderr
    assert "error:" in stderr


def test_no_command_prints_help_and_exits_2():
    code, _, stderr = run([])
    assert code == 2
    assert "skvae train" in stderr and "commands:" in stderr


def test_missing_data_folder_is_named(tmp_path):
    missing = tmp_path / "no_such_folder"
    code, stdout, stderr = run(["train", missing, "--out", tmp_path / "out"])
    assert code == 2
    assert f"data folder '{missing}' does not exist" in stderr
    assert not (tmp_path / "out").exists()


def test_missing_model_is_named(tmp_path):
    code, _, stderr = run(["predict", tmp_path / "nothing", "a.wav"])
    assert code == 2
    assert "nothing" in stderr and "does not exist" in stderr


def test_unknown_label_is_a_usage_error(trained, tmp_path):
    code, _, stderr = run(
        ["sample", trained[0], "--digit", "eleven", "--out", tmp_path]
    )
    assert code == 2
    assert "'eleven' is not a label of this model" in stderr


def test_fsdd_unavailable_offline_is_a_runtime_error(tmp_path):
    argv = ["train", "fsdd", "--data-home", tmp_path, "--offline", "--no-report"]
    code, _, stderr = run(argv)
    assert code == 1
    assert stderr.startswith("skvae: error: FSDD is not available")


def test_split_the_data_cannot_make_is_a_usage_error(corpus, tmp_path):
    argv = ["train", corpus / "train", "--split", "official", "--out", tmp_path]
    code, _, stderr = run(argv)
    assert code == 2
    assert "usage: skvae train" in stderr
    assert "has no official split" in stderr


def test_unreadable_audio_in_data_is_a_runtime_error(tmp_path):
    data = tmp_path / "data"
    data.mkdir()
    for label in (3, 4):
        for i in range(4):
            (data / f"{label}_ann_{i}.wav").write_bytes(b"not audio")
    code, _, stderr = run(
        ["train", data, "-q", "--out", tmp_path / "out", "--no-report"]
    )
    assert code == 1
    # the first unreadable file met (the front end reads the training files'
    # headers first), with the reason
    first = re.escape(f"skvae: error: {data}/")
    assert re.match(first + r"[34]_ann_\d\.wav: not a recognised audio format", stderr)
    assert len(stderr.strip().splitlines()) == 1
    assert not (tmp_path / "out").exists()


@pytest.mark.parametrize("command", ["sample", "report"])
def test_model_without_generator_cannot_generate(command, trained, tmp_path):
    from skvae.recipes import save_recognizer

    bundle = load_recognizer(trained[0])
    del bundle["generator"]
    model = save_recognizer(bundle, tmp_path / "plain.skops")
    code, _, stderr = run([command, model, "--out", tmp_path / "out"])
    assert code == 1
    assert "holds no generator" in stderr and "plain.skops" in stderr


def _skvae_imports(module):
    """Every skvae module or name ``skvae/<module>.py`` (or the package
    ``skvae/<module>/``, all its files) imports, anywhere."""
    root = Path(cli.__file__).parents[1]  # skvae/ (skvae/cli/ is a package)
    paths = [root / f"{module}.py"]
    if (root / module).is_dir():
        paths = sorted((root / module).glob("*.py"))
    found = set()
    for path in paths:
        # the package a relative import of this file starts from
        package = ["skvae"] + ([module] if path.parent.name == module else [])
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.ImportFrom):
                base = node.module or ""
                if node.level:  # relative to the file's package
                    parts = package[: len(package) - node.level + 1]
                    base = ".".join(parts + ([base] if base else []))
                if base.split(".")[0] == "skvae":
                    found.update(f"{base}.{alias.name}" for alias in node.names)
            elif isinstance(node, ast.Import):
                found.update(a.name for a in node.names if a.name.startswith("skvae"))
    return found


def test_cli_uses_only_the_public_api():
    private = {
        name
        for name in _skvae_imports("cli")
        if any(p.startswith("_") and not p.startswith("__") for p in name.split("."))
    }
    assert not private, private


def test_edge_modules_import_one_way():
    # recipes <- evaluation <- report <- cli, function-level imports included
    order = ["recipes", "evaluation", "report", "cli"]
    for i, module in enumerate(order):
        imported = _skvae_imports(module)
        above = {f"skvae.{m}" for m in order[i + 1 :]}
        wrong = {name for name in imported if any(name.startswith(a) for a in above)}
        assert not wrong, f"skvae.{module} imports {wrong}"


def test_version():
    code, stdout, _ = run(["--version"])
    assert code == 0
    assert stdout.strip() == f"skvae {cli.__version__}"


def test_python_m_skvae_help_is_fast_and_light():
    res = subprocess.run(
        [sys.executable, "-m", "skvae", "--help"], capture_output=True, text=True
    )
    assert res.returncode == 0, res.stderr
    assert "usage: skvae" in res.stdout
    for command in ("train", "predict", "sample", "report"):
        assert command in res.stdout
    code = (
        "import sys, skvae.cli; heavy = {'torch', 'librosa', 'matplotlib', "
        "'sklearn'} & set(sys.modules); assert not heavy, heavy"
    )
    res = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert res.returncode == 0, res.stderr


@pytest.mark.slow
def test_train_on_the_generated_keyword(tmp_path):
    argv = ["train", "generated", "--synth-speakers", 3, "--synth-repeats", 2]
    argv += ["--out", tmp_path, "--no-report", "--no-weights", *FAST]
    code, stdout, stderr = run(argv)
    assert code == 0, stderr
    assert "generated spoken digits (eSpeak NG): 60 utterances, 3 speakers" in stdout
    assert "generating 60 spoken digits" in stderr  # not -q: information shown
    assert (tmp_path / "model.skops").is_file()
    assert not (tmp_path / "report").exists()


@pytest.mark.slow
@pytest.mark.fsdd
def test_train_on_fsdd_quick(fsdd_home, tmp_path):
    argv = ["train", "fsdd", "--data-home", fsdd_home, "--out", tmp_path, "-q"]
    argv += ["--quick", "--no-speaker-eval", "--n-check", "2", "--report-samples", 1]
    argv += ["--max-iter", 4]  # enough for > 0.8 (0.98 when last run)
    code, stdout, stderr = run(argv)
    assert code == 0, stderr
    assert "FSDD (Free Spoken Digit Dataset): 3,000 utterances, 6 speakers" in stdout
    assert "official split" in stdout
    meta = load_recognizer(tmp_path)["metadata"]
    assert meta["n_test"] == 300
    assert meta["accuracy"]["sequence VAE (16-D) + SVC"] > 0.8  # the default VAE
    assert (tmp_path / "report" / "index.html").is_file()
    # the independent listener: real test recordings, their copies, generated
    page = (tmp_path / "report" / "listen.html").read_text()
    # --n-check 2: two real test recordings and two generated per digit
    assert page.count('<td class="num">20</td>') == 3
    index = (tmp_path / "report" / "index.html").read_text()
    assert '<a href="listen.html">' in index
    real = re.search(r"hears (\d+)% of 20 real test recordings", index)
    assert real and 20 <= int(real.group(1)) <= 100, index


# --------------------------------------------------------------------------
# Ctrl-C, and outputs written whole or not at all (issue 14, item 1)
# --------------------------------------------------------------------------
def _snapshot(folder):
    """Every entry under folder (hidden ones too) and a hash of each file."""
    return {
        str(p.relative_to(folder)): (
            hashlib.sha256(p.read_bytes()).hexdigest() if p.is_file() else None
        )
        for p in sorted(folder.rglob("*"))
    }


@pytest.fixture
def previous_run(trained, tmp_path):
    """A copy of a finished run, to be overwritten (or not) by the next one."""
    out = tmp_path / "run"
    shutil.copytree(trained[0], out)
    return out, _snapshot(out)


def test_ctrl_c_while_training_stops_at_once_and_keeps_the_output(
    corpus, previous_run, monkeypatch
):
    import skvae._training
    from skvae import recipes

    out, before = previous_run
    real_epoch = skvae._training.train_one_epoch
    epochs = []

    def epoch_then_ctrl_c(*args, **kwargs):
        epochs.append(1)
        if len(epochs) == 2:
            os.kill(os.getpid(), signal.SIGINT)  # Ctrl-C in the training loop
        return real_epoch(*args, **kwargs)

    def went_on(*args, **kwargs):
        raise AssertionError("went on to fit the generator after Ctrl-C")

    monkeypatch.setattr(skvae._training, "train_one_epoch", epoch_then_ctrl_c)
    monkeypatch.setattr(recipes._train, "fit_generator", went_on)
    code, stdout, stderr = run(["train", corpus / "train", "--out", out, *FAST])
    assert code == 130
    assert len(epochs) == 2  # stopped in the epoch it was pressed in
    assert "skvae: interrupted (SIGINT)" in stderr
    assert "Traceback" not in stderr and "model:" not in stdout
    assert _snapshot(out) == before


class _Killed(Exception):
    pass


@pytest.mark.parametrize(("name", "code"), [("SIGINT", 130), ("SIGTERM", 143)])
def test_interrupted_while_writing_the_output_leaves_it_as_it_was(
    corpus, previous_run, monkeypatch, name, code
):
    import skvae.report

    out, before = previous_run
    signum = getattr(signal, name)
    real_report = skvae.report.write_recognizer_report

    def half_written(folder, *args, **kwargs):
        real_report(folder, *args, **kwargs)
        (Path(folder) / "index.html").write_text("half written")
        os.kill(os.getpid(), signum)

    def killed(*args):  # what would happen without the command's handler
        raise _Killed(name)

    monkeypatch.setattr(skvae.report, "write_recognizer_report", half_written)
    previous = signal.signal(signal.SIGTERM, killed)
    try:
        argv = ["train", corpus / "train", "--out", out, "--no-speaker-eval", *FAST]
        result = run(argv)
    finally:
        signal.signal(signal.SIGTERM, previous)
    assert result[0] == code, result[2]
    assert f"interrupted ({name})" in result[2]
    assert _snapshot(out) == before  # neither the model nor the report changed


def test_a_new_run_replaces_its_outputs_and_only_those(corpus, previous_run):
    out, before = previous_run
    (out / "my-notes.txt").write_text("mine")
    argv = ["train", corpus / "train", "--out", out, "--no-report", "--no-weights"]
    code, _, stderr = run([*argv, "--no-speaker-eval", *FAST])
    assert code == 0, stderr
    after = _snapshot(out)
    assert after["model.skops"] != before["model.skops"]  # replaced
    # nothing else is touched: OUT may be any folder; stale outputs are named
    assert {k: v for k, v in after.items() if k != "model.skops"} == {
        **{k: v for k, v in before.items() if k != "model.skops"},
        "my-notes.txt": after["my-notes.txt"],
    }
    assert (out / "my-notes.txt").read_text() == "mine"
    for name in ("model.safetensors", "report"):
        assert f"note: {out / name} is from an earlier run, not this one" in stderr


# --------------------------------------------------------------------------
# model files: no pickle, and errors that say why (items 1 and 2)
# --------------------------------------------------------------------------
def test_a_truncated_model_says_why_it_cannot_be_loaded(trained, corpus, tmp_path):
    folder = tmp_path / "cut"
    folder.mkdir()
    data = (trained[0] / "model.skops").read_bytes()
    (folder / "model.skops").write_bytes(data[: len(data) // 3])
    wav = sorted((corpus / "new").glob("*.wav"))[0]
    code, _, stderr = run(["predict", folder, wav])
    assert code == 1
    assert "damaged or truncated" in stderr and "interrupted" in stderr


@pytest.mark.parametrize("command", ["predict", "sample", "report"])
def test_model_help_says_what_it_trusts_without_private_names(command):
    code, stdout, _ = run([command, "--help"])
    assert code == 0
    text = " ".join(stdout.split())
    assert "never with pickle" in text and "trusted_types()" in text
    assert "pickle" not in text.replace("never with pickle", "")
    assert not re.search(r"\._[a-z]", text), "a private name in the help"


# --------------------------------------------------------------------------
# errors: one line, a non-zero exit, never a traceback (item 3)
# --------------------------------------------------------------------------
@pytest.fixture(scope="module")
def oddities(tmp_path_factory):
    root = tmp_path_factory.mktemp("odd")
    (root / "file.txt").write_text("not a folder")
    (root / "empty").mkdir()
    os.mkfifo(root / "fifo.wav")
    return root


def _cuda():
    import torch

    return torch.cuda.is_available()


BAD_INVOCATIONS = [
    # (argv, exit code, part of the message); {model}, {odd}, {wav} filled in
    (["train", "/nonexistent"], 2, "data folder '/nonexistent' does not exist"),
    (["train", "{odd}/file.txt"], 2, "must be a folder of audio files"),
    (["train", "{odd}/empty", "-q"], 1, "no audio files"),
    (["train", "--device", "toaster"], 2, "not a valid torch device"),
    (["train", "--seed", "-1"], 2, "expected an integer in [0, 2**32 - 1]"),
    (["train", "--n-jobs", "0"], 2, "expected a positive integer or -1"),
    (["train", "--threads", "1000000"], 2, "CPUs of this machine"),
    (["train", "--n-mels", "many"], 2, "expected a positive integer"),
    (["train", "--out", "{odd}/file.txt"], 2, "is a file, not a folder"),
    (["train", "--out", "{odd}/file.txt/sub"], 2, "cannot be created"),
    (["predict", "{model}/model.safetensors", "{wav}"], 1, "weights-only file"),
    (["predict", "{model}/report", "{wav}"], 2, "holds no model"),
    (["predict", "{odd}/file.txt", "{wav}"], 1, "not a model.skops skops archive"),
    (["predict", "{model}", "{odd}/fifo.wav"], 1, "FIFO"),
    (["predict", "{model}", "{odd}/empty"], 1, "is a directory"),
    (["sample", "{model}", "-n", "100000000", "--digit", "3"], 1, "would need"),
    (["sample", "{model}", "--temperature", "inf"], 2, "positive finite number"),
    (["sample", "{model}", "--out", "{odd}/file.txt/sub"], 2, "cannot be created"),
    (["report", "{model}", "--out", "{odd}/file.txt/x"], 2, "cannot be created"),
    (["report", "{model}", "/nonexistent"], 2, "does not exist"),
]
if not _cuda():
    BAD_INVOCATIONS.append(
        (["train", "--device", "cuda"], 2, "CUDA is not available on this machine")
    )


@pytest.mark.parametrize(("argv", "code", "message"), BAD_INVOCATIONS)
def test_bad_invocations_end_in_one_line(
    trained, corpus, oddities, argv, code, message
):
    wav = sorted((corpus / "new").glob("*.wav"))[0]
    fill = {"model": trained[0], "odd": oddities, "wav": wav}
    argv = [a.format(**fill) for a in argv]
    got, stdout, stderr = run(argv)
    assert got == code, stderr
    assert message in " ".join(stderr.split())
    assert "Traceback" not in stderr
    errors = [line for line in stderr.splitlines() if "error:" in line]
    assert errors and all(len(e) > len("skvae: error: ") + 10 for e in errors)


def test_an_unexpected_error_is_one_line_too(monkeypatch, trained):
    from skvae import recipes

    def broken(*args, **kwargs):
        raise KeyError("surprise")

    monkeypatch.setattr(recipes, "recognize_files", broken)
    code, _, stderr = run(["predict", trained[0], "a.wav"])
    assert code == 1
    assert stderr.strip() == (
        "skvae: error: unexpected KeyError: 'surprise'; run with -v for the traceback"
    )
    code, _, stderr = run(["predict", "-v", trained[0], "a.wav"])
    assert code == 1 and "Traceback" in stderr


@pytest.mark.parametrize("command", ["train", "predict", "sample", "report"])
def test_help_texts_refer_only_to_what_they_say(command):
    code, stdout, _ = run([command, "--help"])
    assert code == 0
    text = " ".join(stdout.split())
    if "see above" in text or "as described above" in text:
        # what it points at is in the description above the options
        assert command == "train"
        assert "DATA is one of" in text and "Held-out split (--split auto)" in text
    assert "model.joblib" not in text  # the old model file
    # every option says what it does; --no-cache not by pointing at itself
    for action in (
        cli.build_parser()._subparsers._group_actions[0].choices[command]._actions
    ):
        assert action.help, action.option_strings
    assert "see 'skvae predict --help'" not in text


# --------------------------------------------------------------------------
# generated utterances are counted as written (item 4)
# --------------------------------------------------------------------------
def _predicted_labels(model, files):
    code, stdout, stderr = run(["predict", model, *files])
    assert code == 0, stderr
    return {line.split("\t")[0]: line.split("\t")[1] for line in stdout.splitlines()}


def test_sample_counts_what_predict_says_of_its_files(trained, tmp_path):
    out = tmp_path / "samples"
    argv = ["sample", trained[0], "--digit", "3", "-n", "4", "--out", out]
    code, stdout, stderr = run([*argv, "--seed", 1])
    assert code == 0, stderr
    files = stdout.split()
    heard = _predicted_labels(trained[0], files)
    k = sum(label == "3" for label in heard.values())
    assert f"the model recognises {k}/4 of these files" in stderr


def test_report_counts_what_predict_says_of_its_files(trained, tmp_path):
    out = tmp_path / "report"
    argv = ["report", trained[0], "--out", out, "-q", "--n-check", 2]
    code, _, stderr = run([*argv, "--report-samples", 2])
    assert code == 0, stderr
    html = (out / "index.html").read_text()
    hit, total = map(
        int, re.search(r"own recogniser .*? labels (\d+)/(\d+) \(", html).groups()
    )
    wavs = sorted((out / "samples").glob("*.wav"))
    assert total == len(wavs) == 20  # every generated utterance is linked
    heard = _predicted_labels(trained[0], wavs)
    assert hit == sum(heard[str(w)] == w.name.split("_")[0] for w in wavs)


def test_first_generation_note_is_shown_until_audio_was_generated(
    tmp_path, monkeypatch
):
    """Generating audio makes librosa compile numba kernels once per
    installation: 'skvae train' and 'skvae sample' say so until it is done."""
    monkeypatch.setenv("SKVAE_CACHE_DIR", str(tmp_path / "cache"))
    notes = []
    console = cli.console.Console()
    monkeypatch.setattr(console, "info", notes.append)
    with pytest.raises(RuntimeError), cli.commands._first_generation(console):
        raise RuntimeError("generation failed")
    assert len(notes) == 1 and "numba" in notes[0]
    with cli.commands._first_generation(console):
        pass
    assert len(notes) == 2  # still not done before this one
    with cli.commands._first_generation(console):
        pass
    assert len(notes) == 2  # done once: no more notes


def _stream(model, data, **kwargs):
    """'skvae predict MODEL -' with ``data`` (bytes) on standard input."""
    return subprocess.run(
        [sys.executable, "-m", "skvae", "predict", str(model), "-"],
        input=data,
        capture_output=True,
        timeout=300,
        **kwargs,
    )


def test_predict_stream_answers_every_line_even_odd_ones(trained, corpus, tmp_path):
    """One answer per path in order: a folder is not expanded, a name that
    is not UTF-8 comes back as its bytes, the last line needs no newline."""
    good = sorted((corpus / "new").glob("*.wav"))[0]
    odd = os.fsencode(tmp_path) + b"/caf\xe9.wav"  # Latin-1, not UTF-8
    data = b"\n".join([os.fsencode(corpus / "new"), odd, os.fsencode(good)])
    env = dict(os.environ, PYTHONIOENCODING="utf-8:strict")
    proc = _stream(trained[0], data, env=env)
    lines = proc.stdout.split(b"\n")[:-1]
    assert [line.split(b"\t")[0] for line in lines] == [
        os.fsencode(corpus / "new"),
        odd,
        os.fsencode(good),
    ]
    assert lines[0].split(b"\t")[1] == b"error"
    assert b"directory" in lines[0]
    assert lines[1].split(b"\t")[1] == b"error"
    assert len(lines[2].split(b"\t")) == 3
    assert proc.returncode == 1


def test_predict_stream_without_input(trained):
    proc = subprocess.run(
        [sys.executable, "-m", "skvae", "predict", str(trained[0]), "-"],
        stdin=subprocess.DEVNULL,
        capture_output=True,
        timeout=300,
    )
    assert proc.returncode == 0 and proc.stdout == b""


def test_predict_only_model_answers_as_the_full_model(trained, corpus):
    """The torch-free model skvae predict loads (NumpyEncoder) gives the
    labels of the saved model and its probabilities to 1e-6."""
    from skvae.recipes import load_predictor, recognize_files

    files = sorted((corpus / "new").glob("*.wav"))
    full = recognize_files(load_recognizer(trained[0])["recognizer"], files)
    fast = recognize_files(load_predictor(trained[0])["recognizer"], files)
    assert len(full.files) == len(files) > 0
    np.testing.assert_array_equal(fast.labels, full.labels)
    np.testing.assert_allclose(fast.proba, full.proba, rtol=0, atol=1e-6)


def test_predict_with_stdout_closed_fails_loudly(trained, corpus):
    """Fault 9: 'skvae predict MODEL a.wav >&-' has nowhere to write its
    results: an error on stderr and a non-zero exit, not a silent 0."""
    wav = sorted((corpus / "new").glob("*.wav"))[0]
    command = f"'{sys.executable}' -m skvae predict '{trained[0]}' '{wav}' >&-"
    proc = subprocess.run(
        ["bash", "-c", command], capture_output=True, text=True, timeout=300
    )
    assert proc.returncode == 1
    assert "standard output is closed" in proc.stderr


_MAXRSS = (
    "import resource, runpy, sys\n"
    "sys.argv = ['skvae', 'predict', sys.argv[1], '-']\n"
    "try:\n"
    "    runpy.run_module('skvae', run_name='__main__')\n"
    "finally:\n"
    "    kib = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss\n"
    "    print(f'maxrss {kib}', file=sys.stderr)\n"
)


def test_a_huge_line_on_stdin_is_an_error_in_bounded_memory(trained, corpus):
    """Fault 10: a 100 MB line is read in bounded chunks, answered as an
    error line without being echoed whole, and the next path still is."""
    good = os.fsencode(sorted((corpus / "new").glob("*.wav"))[0])

    def stream(line):
        proc = subprocess.run(
            [sys.executable, "-c", _MAXRSS, str(trained[0])],
            input=b"\n".join([good, line, good]) + b"\n",
            capture_output=True,
            timeout=300,
        )
        rss = int(re.search(rb"maxrss (\d+)", proc.stderr).group(1))
        return proc, rss * 1024

    small, small_rss = stream(b"short.wav")
    huge, huge_rss = stream(b"x" * 100_000_000)
    assert huge.returncode == 1
    lines = huge.stdout.split(b"\n")[:-1]
    assert len(lines) == 3 and lines[0].startswith(good) and lines[2].startswith(good)
    assert b"\terror\ta line longer than" in lines[1] and len(lines[1]) < 200
    assert len(huge.stderr) < 2000
    assert huge_rss - small_rss < 50_000_000  # not the 100 MB line, nor copies


def test_check_device():
    import torch

    from skvae.recipes import check_device

    assert check_device("cpu") == "cpu"
    assert check_device("auto") in ("cpu", "cuda", "mps")
    with pytest.raises(ValueError, match="not a valid torch device"):
        check_device("toaster")
    if not torch.cuda.is_available():
        with pytest.raises(ValueError, match="CUDA is not available"):
            check_device("cuda")


class _Terminal(io.StringIO):
    def isatty(self):
        return True


def test_progress_bars_only_on_a_terminal(monkeypatch, capsys):
    from skvae.recipes import make_recognizer

    waves = [np.sin(np.arange(2000) / 3.0).astype(np.float32)] * 3
    fe = make_recognizer()["features"].fit()
    F = cli.commands._rows(fe, waves, verbose=1)
    assert capsys.readouterr().err == ""  # a log: no bar redraws
    expected = fe.transform(waves)  # the default front end: frames per utterance
    assert len(F) == len(expected) == 3
    for got, want in zip(F, expected):
        np.testing.assert_array_equal(got, want)
    terminal = _Terminal()
    monkeypatch.setattr(sys, "stderr", terminal)
    cli.commands._rows(fe, waves, verbose=1)
    assert "features" in terminal.getvalue()


def _listing(folder):
    return {
        str(p.relative_to(folder)): p.read_text() if p.is_file() else None
        for p in sorted(folder.rglob("*"))
    }


def _write_in(folder, files, error=None):
    from skvae.cli.staging import staged_folder

    with staged_folder(folder) as tmp:
        for name, text in files.items():
            (tmp / name).write_text(text)
        if error is not None:
            raise error


def test_staged_folder_swaps_everything_in_or_nothing(tmp_path):
    from skvae.cli.staging import staged_folder

    out = tmp_path / "run"
    (out / "report").mkdir(parents=True)
    for name, text in [
        ("model.skops", "old"),
        ("notes.txt", "mine"),
        ("report/index.html", "old"),
        ("report/old.png", "old"),
    ]:
        (out / name).write_text(text)
    before = _listing(out)
    with pytest.raises(KeyboardInterrupt):  # Ctrl-C while writing
        _write_in(out, {"model.skops": "new"}, KeyboardInterrupt)
    assert _listing(out) == before
    with staged_folder(out) as tmp:
        (tmp / "model.skops").write_text("new")
        (tmp / "report").mkdir()
        (tmp / "report" / "index.html").write_text("new")
    assert _listing(out) == {
        "model.skops": "new",
        "notes.txt": "mine",  # not written: left alone
        "report": None,
        "report/index.html": "new",  # replaced
        "report/old.png": "old",  # not written: left alone
    }
    # a folder created for a run that fails is not left behind
    with pytest.raises(RuntimeError):
        _write_in(tmp_path / "a" / "b", {"x": "y"}, RuntimeError)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["run"]
    with pytest.raises(NotADirectoryError, match="is a file"):
        _write_in(out / "notes.txt", {})
    with pytest.raises(IsADirectoryError, match="in the way"):
        _write_in(out, {"report": "a file where a folder is"})
    assert _listing(out)["report/index.html"] == "new"


def test_train_with_the_sequence_vae_cmvn_and_reject(corpus, tmp_path):
    import skvae
    from skvae.recipes import load_predictor

    out = tmp_path / "seq"
    argv = ["train", corpus / "train", "--out", out, "-q", "--vae", "sequence"]
    argv += ["--cmvn", "mean", "--head", "ovo", "--reject", "--n-components", 4]
    code, stdout, stderr = run(argv + FAST)
    assert code == 0, stderr
    assert "sequence VAE (4-D) + SVC" in stdout
    bundle = load_recognizer(out)
    rec = bundle["recognizer"]
    assert rec["features"].output == "sequence" and rec["features"].cmvn == "mean"
    assert bundle["metadata"]["params"]["vae"] == "sequence"
    # the weights file is the SequenceVAE of the model
    vae = rec["model"].estimator_["vae"]
    loaded = skvae.load(out / "model.safetensors")
    assert type(loaded) is type(vae) is skvae.SequenceVAE
    frames = [np.random.RandomState(0).normal(size=(25, vae.n_features_in_))]
    np.testing.assert_allclose(loaded.transform(frames), vae.transform(frames))
    html = (out / "report" / "index.html").read_text(encoding="utf-8")
    assert "sequence VAE" in html and "latent.png" in html
    # predict, through the command and the predictor
    wavs = sorted(str(p) for p in (corpus / "new").glob("*.wav"))[:4]
    code, stdout, stderr = run(["predict", out, *wavs])
    assert code == 0, stderr
    assert len(stdout.splitlines()) == 4
    pred = load_predictor(out, cache=False)["recognizer"].predict(wavs)
    np.testing.assert_array_equal(pred, rec.predict(wavs))


def test_train_without_a_vae(corpus, tmp_path):
    out = tmp_path / "none"
    argv = ["train", corpus / "train", "--out", out, "-q", "--vae", "none"]
    code, stdout, stderr = run(argv + FAST)
    assert code == 0, stderr
    assert "no VAE: log-mel + SVC" in stdout
    assert sorted(p.name for p in out.iterdir()) == ["model.skops", "report"]
    bundle = load_recognizer(out)
    assert [n for n, _ in bundle["recognizer"]["model"].steps] == ["scale", "clf"]
    assert bundle["metadata"]["epochs"] is None
    html = (out / "report" / "index.html").read_text(encoding="utf-8")
    assert "no VAE" in html and "latent.png" not in html and "loss.png" not in html
    wavs = sorted(str(p) for p in (corpus / "new").glob("*.wav"))[:3]
    code, stdout, stderr = run(["predict", out, *wavs])
    assert code == 0, stderr


@pytest.mark.parametrize(
    "extra, match",
    [
        (["--vae", "none", "--weights"], "--weights saves the VAE step"),
        (["--vae", "none", "--reject"], "--reject needs a VAE step"),
    ],
)
def test_options_that_need_a_vae_are_refused_without_one(
    corpus, tmp_path, extra, match
):
    argv = ["train", corpus / "train", "--out", tmp_path / "x", "-q", *extra]
    code, _, stderr = run(argv + FAST)
    assert code == 2 and match in stderr
    assert not (tmp_path / "x" / "model.skops").exists()


def test_the_cli_defaults_are_make_recognizers(monkeypatch, corpus, tmp_path):
    """Flipping make_recognizer's default flips skvae train's."""
    import inspect

    from skvae import recipes

    real = recipes.make_recognizer

    def spy(**params):
        return real(**params)

    sig = inspect.signature(real)
    flipped = sig.replace(
        parameters=[
            p.replace(default="sequence") if p.name == "vae" else p
            for p in sig.parameters.values()
        ]
    )
    spy.__signature__ = flipped
    monkeypatch.setattr(recipes, "make_recognizer", spy)
    args = cli.build_parser().parse_args(["train", "x"])
    assert args.vae is None and args.cmvn is None and args.head is None
    from skvae.cli import commands

    assert commands._recognizer_default("vae") == "sequence"
    assert commands._recognizer_default("head") == "ovr"


def test_train_with_augmentation_and_its_refusals(corpus, trained, tmp_path):
    """--augment overrides --quick's none; the model file keeps the features
    and the model (the samplers only act at fit time), the metadata says
    which augmentation trained it; --reject refuses perturbation, the filler
    words need --reject."""
    out = tmp_path / "aug"
    argv = ["train", corpus / "train", "--out", out, "--augment", "perturb"]
    argv += ["--no-report", "--no-speaker-eval", "--n-components", 4]
    code, _, stderr = run(argv + FAST)
    assert code == 0, stderr
    assert "with two voice-perturbed copies of every utterance" in stderr
    bundle = load_recognizer(out)
    assert bundle["metadata"]["params"]["augment"] == "perturb"
    assert [n for n, _ in bundle["recognizer"].steps] == ["features", "model"]
    # 90 of 120 utterances train (random split), each with 2 copies
    assert bundle["recognizer"]["model"]["scale"].n_samples_seen_ == 3 * 90
    # --quick (the trained fixture): no augmentation
    assert load_recognizer(trained[0])["metadata"]["params"]["augment"] is None
    code, _, stderr = run(
        [*argv[:3], tmp_path / "r", "--reject", "--augment", "voices+perturb"]
    )
    assert code == 2 and "--reject cannot be combined with --augment pert" in stderr
    code, _, stderr = run([*argv[:3], tmp_path / "r", "--augment", "filler"])
    assert code == 2 and "the filler class of --reject: add --reject" in stderr
