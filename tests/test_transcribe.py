"""make_transcriber, its model file, and 'skvae train --task transcribe' /
'skvae transcribe', on strings read by eSpeak NG voices.

The run of this module is a one-epoch ``--quick`` run on generated strings
(what it transcribes is not judged here: the slow test at the end and
``benchmarks/bench_transcribe.py`` judge accuracy)."""

import contextlib
import io
import re
import subprocess
import sys

import numpy as np
import pytest

from skvae.audio import write_wav
from skvae.cli import main
from skvae.datasets import make_digit_strings
from skvae.recipes import (
    is_transcriber,
    load_predictor,
    load_recognizer,
    make_transcriber,
    save_recognizer,
    split_voices,
    transcriber_bundle,
)

SR = 8000


def run(argv):
    out, err = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        code = main([str(a) for a in argv])
    return code, out.getvalue(), err.getvalue()


@pytest.fixture(scope="module")
def trained(tmp_path_factory):
    out = tmp_path_factory.mktemp("run") / "digits"
    argv = ["train", "generated", "--task", "transcribe", "--quick"]
    code, stdout, stderr = run([*argv, "--max-iter", "1", "--out", out, "-q"])
    assert code == 0, stderr
    return out, stdout


@pytest.fixture(scope="module")
def files(tmp_path_factory):
    """A 0.2 s file, a 60 s file of 80 strings, a digit string, a corrupt file."""
    root = tmp_path_factory.mktemp("files")
    strings = make_digit_strings(80, lengths=(4, 8), random_state=0)
    long = np.concatenate(list(strings.data))
    long = np.pad(long, (0, max(0, 60 * SR - len(long))))[: 60 * SR]
    paths = {
        "short": root / "short.wav",
        "long": root / "long.wav",
        "string": root / "string.wav",
        "corrupt": root / "corrupt.wav",
    }
    write_wav(paths["short"], strings.data[0][: SR // 5], SR)
    write_wav(paths["long"], long, SR)
    write_wav(paths["string"], strings.data[1], SR)
    paths["corrupt"].write_bytes(b"RIFF\x00\x00\x00\x00WAVEjunk")
    return paths


def test_train_says_what_it_trained_on_and_writes_model_and_report(trained):
    out, stdout = trained
    assert re.search(r"data: 300 strings of 1-12 digits: 80 eSpeak NG voices", stdout)
    assert "(generated)" in stdout
    assert re.search(r"held-out eSpeak voices: digit accuracy -?\d\.\d{3}", stdout)
    bundle = load_recognizer(out)
    assert is_transcriber(bundle)
    meta = bundle["metadata"]
    assert meta["data"] == "generated" and meta["epochs"] == 1
    assert set(meta["test_voices"]) == set(split_voices()[1])
    assert not set(meta["train_voices"]) & set(meta["test_voices"])
    (result,) = meta["test"]
    assert result["set"] == "held-out eSpeak voices" and result["n"] == 20
    page = (out / "report" / "index.html").read_text()
    for text in (
        "Transcription",
        "digit accuracy",
        "whole strings",
        "edits.png",
        "alignment.png",
    ):
        assert text in page
    for png in ("edits.png", "alignment.png"):
        assert (out / "report" / png).read_bytes()[:4] == b"\x89PNG"


def test_transcribe_prints_digits_per_file_any_length_and_one_error_line(
    trained, files
):
    out, _ = trained
    order = ["short", "long", "corrupt", "string"]
    code, stdout, stderr = run(["transcribe", out, *(files[k] for k in order)])
    assert code == 1
    lines = [line.split("\t") for line in stdout.splitlines()]
    assert [line[0] for line in lines] == [
        str(files[k]) for k in ("short", "long", "string")
    ]
    assert all(len(line) == 2 and re.fullmatch(r"\d*", line[1]) for line in lines)
    errors = [line for line in stderr.splitlines() if str(files["corrupt"]) in line]
    assert len(errors) == 1
    assert "1 of 4 files could not be read" in stderr


def test_transcribe_streams_paths_from_stdin(trained, files):
    out, _ = trained
    data = "\n".join(str(files[k]) for k in ("string", "corrupt", "short")) + "\n"
    proc = subprocess.run(
        [sys.executable, "-m", "skvae", "transcribe", str(out), "-"],
        input=data,
        capture_output=True,
        text=True,
        timeout=300,
    )
    lines = [line.split("\t") for line in proc.stdout.splitlines()]
    assert [line[0] for line in lines] == [
        str(files["string"]),
        str(files["corrupt"]),
        str(files["short"]),
    ]
    assert lines[1][1] == "error" and len(lines[1]) == 3
    assert proc.returncode == 1
    # the same digits as the files named on the command line
    code, named, _ = run(["transcribe", out, files["string"], files["short"]])
    assert code == 0
    assert named.splitlines() == ["\t".join(lines[0]), "\t".join(lines[2])]


def test_the_predict_only_model_transcribes_as_the_full_model(trained, files):
    out, _ = trained
    full = load_recognizer(out)["recognizer"]
    fast = load_predictor(out, cache=False)["recognizer"]
    assert type(fast["model"]).__name__ == "NumpyCTC"
    paths = [str(files[k]) for k in ("string", "short", "long")]
    assert fast.predict(paths).tolist() == full.predict(paths).tolist()


def test_commands_refuse_the_other_kind_of_model_and_foreign_options(
    trained, files, tmp_path
):
    out, _ = trained
    code, _, stderr = run(["predict", out, files["string"]])
    assert code == 2 and "use 'skvae transcribe'" in stderr
    code, _, stderr = run(["train", "--task", "transcribe", "--reject", "-o", tmp_path])
    assert code == 2 and "--reject: not an option of --task transcribe" in stderr
    code, _, stderr = run(["train", tmp_path, "--task", "transcribe", "-o", tmp_path])
    assert code == 2 and "DATA must be 'fsdd', 'generated' or nothing" in stderr


def test_make_transcriber_fits_audio_and_saves_without_pickle(tmp_path):
    train = make_digit_strings(30, lengths=(1, 3), random_state=1)
    model = make_transcriber(max_iter=1, hidden_size=8, conv_channels=8, random_state=0)
    assert [name for name, _ in model.steps] == ["features", "model"]
    model.fit(list(train.data), train.target)
    pred = model.predict(list(train.data[:4]))
    assert pred.shape == (4,) and all(isinstance(p, str) for p in pred)
    assert -10 < model.score(list(train.data[:4]), train.target[:4]) <= 1
    path = save_recognizer(transcriber_bundle(model), tmp_path)
    back = load_recognizer(path)["recognizer"]
    assert back.predict(list(train.data[:4])).tolist() == pred.tolist()
    vae = make_transcriber(representation="sequence-vae")
    assert [name for name, _ in vae.steps] == ["features", "vae", "model"]
    assert vae["model"].stride == 1
    with pytest.raises(ValueError, match="representation must be one of"):
        make_transcriber(representation="mfcc")
    broken = transcriber_bundle(model)
    steps = [("features", model["features"]), ("model", model["features"])]
    broken["recognizer"] = type(model)(steps)
    with pytest.raises(ValueError, match="not a transcriber"):
        save_recognizer(broken, tmp_path / "broken.skops")


@pytest.fixture(scope="module")
def learned():
    """A small transcriber trained on eSpeak NG voices reading numbers."""
    from skvae.recipes import training_strings

    train_voices, _ = split_voices()
    X, y, _, used_fsdd = training_strings(
        speakers=[], espeak_voices=train_voices, sizes=LEARNED_SIZES, random_state=0
    )
    assert not used_fsdd
    model = make_transcriber(random_state=0, **LEARNED_MODEL)
    return model.fit(X, y)


#: strings and model of the ``learned`` fixture (about a minute on 2 cores)
LEARNED_SIZES = {
    "fsdd": 0,
    "perturbed": 0,
    "noisy": 200,
    "espeak": 800,
    "lengths": (1, 5),
}
LEARNED_MODEL = {
    "hidden_size": 64,
    "conv_channels": 64,
    "max_iter": 15,
    "batch_size": 16,
    "learning_rate_init": 4e-3,
}


@pytest.mark.slow
def test_oh_double_and_repeated_digits_are_transcribed_by_new_voices(learned):
    """Voices never heard say "oh" for 0 and "double"/"triple": the digits
    come out, and a run of one digit keeps its count."""
    _, test_voices = split_voices()
    said = make_digit_strings(
        40,
        lengths=(3, 6),
        speakers=test_voices,
        style="digits",
        oh=1.0,
        double=1.0,
        random_state=5,
    )
    assert any("oh" in t for t in said.text) and any("double" in t for t in said.text)
    pred = learned.predict(list(said.data))
    # (this small model: 0.79 on this CPU; an untrained one 0.0)
    assert learned.score(list(said.data), said.target) > 0.7
    # strings of one digit repeated, read digit by digit, then "double"
    runs = [str(d) * n for d, n in zip(range(10), [2, 3, 4, 2, 3, 4, 2, 3, 4, 3])]
    plain = make_digit_strings(
        digits=runs, speakers=test_voices, oh=0.0, double=0.0, random_state=6
    )
    assert list(plain.target) == runs
    pred = learned.predict(list(plain.data))
    kept = [len(p) == len(t) for p, t in zip(pred, runs)]
    assert np.mean(kept) >= 0.7, list(zip(runs, pred))
    pairs = [str(d) * 2 for d in range(10)]
    doubled = make_digit_strings(
        digits=pairs,
        speakers=test_voices,
        style="digits",
        oh=0.0,
        double=1.0,
        random_state=7,
    )
    assert all(t.startswith("double") for t in doubled.text)
    pred = learned.predict(list(doubled.data))
    assert np.mean([p == t for p, t in zip(pred, pairs)]) >= 0.7, list(zip(pairs, pred))


def test_sample_and_report_say_a_transcriber_has_no_generator(trained):
    out, _ = trained
    for command in ("sample", "report"):
        code, _, stderr = run([command, out])
        assert code == 1 and "is a transcriber" in stderr, stderr


def test_transcribe_from_the_cache_imports_neither_torch_nor_skops(trained, files):
    """As 'skvae predict': the model 'skvae train' cached runs with NumPy."""
    out, _ = trained
    argv = ["transcribe", str(out), str(files["string"])]
    code = (
        "import sys, contextlib, io\n"
        "from skvae.cli import main\n"
        "with contextlib.redirect_stdout(io.StringIO()):\n"
        f"    assert main({argv!r}) == 0\n"
        "print(sorted(m for m in ('torch', 'skops', 'librosa') if m in sys.modules))\n"
    )
    proc = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, timeout=300
    )
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.strip() == "[]"
