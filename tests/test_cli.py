"""The ``skvae`` command line, end to end on a small generated corpus.

``main(argv)`` is called in-process (it returns the exit code); one test runs
``python -m skvae`` in a subprocess. The corpus (4 eSpeak NG speakers x 10
digits x 3 repetitions, written as WAV files) and the model trained on it in
``--quick`` mode are shared by the tests of this module.
"""

import ast
import contextlib
import io
import subprocess
import sys
from pathlib import Path

import joblib
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
    assert (out / "model.joblib").is_file()
    assert (out / "model.safetensors").is_file()
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
    assert bundle["format"] == "skvae-recognizer"
    assert list(bundle["classes"]) == list(range(10))
    assert bundle["latent_means"].shape == (10, 16)
    assert bundle["latent_covs"].shape == (10, 16, 16)
    meta = bundle["metadata"]
    assert meta["data"]["kind"] == "folder"
    assert meta["split"]["kind"] == "speaker"
    assert set(meta["accuracy"]) == {
        "VAE (16-D) + SVC",
        "PCA (16-D) + SVC",
        "log-mel (640-D) + SVC",
    }
    # the pipeline works on files by itself, and the weights file matches it
    pipe = bundle["pipeline"]
    assert [name for name, _ in pipe.steps] == ["features", "vae", "clf"]
    vae = skvae.load(out / "model.safetensors")
    X = np.random.RandomState(0).normal(size=(3, vae.n_features_in_))
    np.testing.assert_allclose(vae.transform(X), pipe.named_steps["vae"].transform(X))
    assert isinstance(joblib.load(out / "model.joblib"), dict)


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
    assert stderr.startswith(f"skvae: error: {data / '3_ann_0.wav'}: ")
    assert not (tmp_path / "out").exists()


@pytest.mark.parametrize("command", ["sample", "report"])
def test_model_without_generator_cannot_generate(command, tmp_path):
    from sklearn.linear_model import LogisticRegression

    X = np.random.RandomState(0).normal(size=(20, 3))
    model = tmp_path / "plain.joblib"
    joblib.dump(LogisticRegression().fit(X, np.arange(20) % 2), model)
    code, _, stderr = run([command, model, "--out", tmp_path / "out"])
    assert code == 1
    assert "holds no generator" in stderr and "plain.joblib" in stderr


def _skvae_imports(module):
    """Every skvae module or name ``skvae/<module>.py`` imports, anywhere."""
    path = Path(cli.__file__).parent / f"{module}.py"
    found = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:  # relative to the skvae package
                base = "skvae" + (f".{base}" if base else "")
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
    assert (tmp_path / "model.joblib").is_file()
    assert not (tmp_path / "report").exists()


@pytest.mark.slow
@pytest.mark.fsdd
def test_train_on_fsdd_quick(fsdd_home, tmp_path):
    argv = ["train", "fsdd", "--data-home", fsdd_home, "--out", tmp_path, "-q"]
    argv += ["--quick", "--no-speaker-eval", "--n-check", "2", "--report-samples", 1]
    code, stdout, stderr = run(argv)
    assert code == 0, stderr
    assert "FSDD (Free Spoken Digit Dataset): 3,000 utterances, 6 speakers" in stdout
    assert "official split" in stdout
    meta = load_recognizer(tmp_path)["metadata"]
    assert meta["n_test"] == 300
    assert meta["accuracy"]["VAE (16-D) + SVC"] > 0.8
    assert (tmp_path / "report" / "index.html").is_file()
