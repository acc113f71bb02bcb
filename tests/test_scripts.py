"""The scripts in examples/ and benchmarks/ run on the public API.

They are run by people as ``python examples/x.py`` and
``python benchmarks/bench_x.py``: each must parse its command line (``--help``)
with skvae installed, without editing ``sys.path`` and without importing a
private skvae module.
"""

import ast
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
SCRIPTS = sorted((ROOT / "examples").glob("*.py")) + sorted(
    (ROOT / "benchmarks").glob("bench_*.py")
)


def _imports(tree):
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            yield from (alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module:
            yield node.module
            yield from (f"{node.module}.{alias.name}" for alias in node.names)


def test_there_are_scripts():
    assert len(SCRIPTS) >= 10


@pytest.mark.parametrize("path", SCRIPTS, ids=lambda p: f"{p.parent.name}/{p.name}")
def test_no_sys_path_edits_and_no_private_skvae_imports(path):
    tree = ast.parse(path.read_text())
    for node in ast.walk(tree):
        if isinstance(node, ast.Attribute) and node.attr == "path":
            value = node.value
            assert not (isinstance(value, ast.Name) and value.id == "sys"), (
                f"{path.name} edits or reads sys.path"
            )
    private = [
        name
        for name in _imports(tree)
        if name.startswith("skvae")
        and any(part.startswith("_") for part in name.split(".")[1:])
    ]
    assert not private, f"{path.name} imports private skvae names: {private}"


# Runs every script's ``--help`` in ONE fresh interpreter (the heavy imports
# are paid once): each script runs as ``__main__`` (as ``python script`` would,
# with its folder first on sys.path) in an empty working folder. Training
# (``Tensor.backward``) or reading FSDD before the options are parsed counts
# as doing work. Prints one JSON line per script.
HELP_RUNNER = r"""
import argparse, contextlib, importlib, io, json, os, runpy, sys, tempfile, time
import numpy, sklearn, torch, skvae, skvae.datasets

for name in ("dask_ml.wrappers", "distributed", "onnxruntime", "matplotlib.pyplot"):
    try:  # imports paid here, not in the timing of the first script using them
        importlib.import_module(name)
    except ImportError:
        pass

def refuse(*args, **kwargs):
    raise RuntimeError("work started before --help was handled")

torch.Tensor.backward = refuse
skvae.datasets.fetch_fsdd = refuse
skvae.datasets.make_spoken_digits = refuse
parsers = []
_parse = argparse.ArgumentParser.parse_known_args

def parse_known_args(self, *args, **kwargs):
    parsers.append(self)
    return _parse(self, *args, **kwargs)

argparse.ArgumentParser.parse_known_args = parse_known_args
for path in sys.argv[1:]:
    parsers.clear()
    out, err = io.StringIO(), io.StringIO()
    code, error = None, None
    cwd = tempfile.mkdtemp()
    os.chdir(cwd)
    sys.argv = [path, "--help"]
    sys.path.insert(0, os.path.dirname(path))
    start = time.perf_counter()
    try:
        with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
            runpy.run_path(path, run_name="__main__")
    except SystemExit as exc:
        code = exc.code
    except BaseException as exc:
        error = repr(exc)
    seconds = time.perf_counter() - start
    del sys.path[0]
    undocumented = [
        "/".join(a.option_strings) or a.dest
        for p in parsers
        for a in p._actions
        if not a.help and not isinstance(a, argparse._HelpAction)
    ]
    print(json.dumps(dict(
        path=path, code=code, error=error, seconds=seconds, stdout=out.getvalue(),
        stderr=err.getvalue()[-2000:], files=sorted(os.listdir(cwd)),
        undocumented=undocumented,
    )), flush=True)
"""


@pytest.fixture(scope="module")
def help_runs():
    res = subprocess.run(
        [sys.executable, "-c", HELP_RUNNER, *map(str, SCRIPTS)],
        capture_output=True,
        text=True,
        cwd=ROOT,
        timeout=600,
        env={**os.environ, "OMP_NUM_THREADS": "1"},
    )
    runs = [
        json.loads(line) for line in res.stdout.splitlines() if line.startswith("{")
    ]
    assert res.returncode == 0, res.stderr[-3000:]
    return {Path(run["path"]).name: run for run in runs}


@pytest.mark.parametrize("path", SCRIPTS, ids=lambda p: f"{p.parent.name}/{p.name}")
def test_help_exits_0_at_once(path, help_runs):
    run = help_runs[path.name]
    assert run["error"] is None, run["error"]
    assert run["code"] == 0, f"{path.name} --help did not exit 0: {run}"
    assert run["stdout"].startswith("usage:"), run
    # parsed before any work: no files written, no training, no data read
    assert run["files"] == [], run["files"]
    assert run["seconds"] < 20, run["seconds"]
    # every option says what it does
    assert run["undocumented"] == [], run["undocumented"]
    # the description is whole sentences, not a first line cut mid-sentence
    description = run["stdout"].split("\n\n")[1]
    assert description.rstrip().endswith("."), description


@pytest.mark.parametrize(
    "path", [p for p in SCRIPTS if p.parent.name == "benchmarks"], ids=lambda p: p.name
)
def test_benchmarks_have_quick_and_data_options(path, help_runs):
    out = help_runs[path.name]["stdout"]
    assert "--quick" in out
    if "fsdd" in path.read_text().lower():
        assert "--data-home" in out


@pytest.mark.slow
def test_bench_generalization_quick(fsdd_home):
    # the smoke run: every row, every column, a table and no verdict
    res = subprocess.run(
        [
            sys.executable,
            str(ROOT / "benchmarks" / "bench_generalization.py"),
            "--quick",
            # the suite runs one test at a time: both cores
            "--n-jobs",
            "2",
            "--data-home",
            str(fsdd_home),
        ],
        capture_output=True,
        text=True,
        cwd=ROOT,
        timeout=300,
        env={**os.environ, "OMP_NUM_THREADS": "1"},
    )
    assert res.returncode == 0, res.stderr
    out = res.stdout
    assert out.startswith("SMOKE RUN")
    assert "Goals" not in out and "MET" not in out
    # two tables: the rows, then the speaker-invariance probe
    tables, block = [], []
    for line in out.splitlines() + [""]:
        if line.startswith("|"):
            block.append(line)
        elif block:
            tables.append([row for row in block if row.startswith("| ")])
            block = []
    assert len(tables) == 2
    table, probe = tables
    assert table[0].startswith("| row | LOSO mean | LOSO worst speaker | FSDD -> gen")
    # every row is printed, with a number in every LOSO cell
    listed = subprocess.run(
        [
            sys.executable,
            str(ROOT / "benchmarks" / "bench_generalization.py"),
            "--list-rows",
        ],
        capture_output=True,
        text=True,
        cwd=ROOT,
        timeout=120,
    ).stdout.splitlines()
    reported = [line for line in listed if "candidate" not in line]
    assert len(table) == 1 + len(reported) >= 4
    for line in table[1:]:
        cells = [c.strip() for c in line.strip("|").split("|")]
        assert float(cells[1].split(" ± ")[0]) >= 0.0
    # issue 22: the utterance-CMVN rows, with and without the SequenceVAE
    names = [line.strip("| ").split(" | ")[0] for line in table[1:]]
    seq_rows = [n for n in names if n.startswith("utterance CMVN -> SequenceVAE")]
    raw_rows = [n for n in names if n.startswith("utterance CMVN -> raw")]
    # each alone, + generated voices, + perturbation, + both
    assert len(seq_rows) == len(raw_rows) == 4
    # the probe: every utterance-CMVN row; z1 and z2 of the SequenceVAE rows,
    # accuracies in [0, 1] against chance 0.5 (two held-out speakers)
    assert probe[0] == "| row | features | speaker ID | chance |"
    cells = [[c.strip() for c in line.strip("|").split("|")] for line in probe[1:]]
    assert {c[0] for c in cells} == {n for n in names if n.startswith("utterance")}
    for name in seq_rows:
        feats = {c[1] for c in cells if c[0] == name}
        assert feats == {"pooled z1 (transform)", "z2 (sequence_latent)"}
    for c in cells:
        assert 0.0 <= float(c[2].split(" ± ")[0]) <= 1.0
        assert c[3] == "0.500"


def test_bench_generalization_probe_needs_an_utterance_row():
    # --probe probes the utterance-CMVN rows only: refused before any data
    res = subprocess.run(
        [
            sys.executable,
            str(ROOT / "benchmarks" / "bench_generalization.py"),
            "--probe",
            "--rows",
            "speaker CMVN -> raw + SVC",
        ],
        capture_output=True,
        text=True,
        cwd=ROOT,
        timeout=120,
    )
    assert res.returncode == 2
    assert "--probe: no utterance-CMVN row" in res.stderr


def _smoke(script, *args, timeout=600):
    res = subprocess.run(
        [sys.executable, str(ROOT / "benchmarks" / script), "--quick", *args],
        capture_output=True,
        text=True,
        cwd=ROOT,
        timeout=timeout,
        env={**os.environ, "OMP_NUM_THREADS": "1"},
    )
    assert res.returncode == 0, res.stderr
    assert res.stdout.startswith("SMOKE RUN")
    assert "goal:" not in res.stdout and "kept)" not in res.stdout
    return [line for line in res.stdout.splitlines() if line.startswith("| ")]


@pytest.mark.slow
def test_bench_latency_quick():
    # trains a tiny model, times the floors, cold predicts and streaming
    table = _smoke("bench_latency.py")
    names = [line.split("|")[1] for line in table[1:]]  # after the header
    assert len(names) == 6, table
    assert any("predict MODEL -" in name for name in names)


@pytest.mark.slow
def test_bench_recognizer_defaults_quick(fsdd_home):
    res = subprocess.run(
        [
            sys.executable,
            str(ROOT / "benchmarks" / "bench_recognizer_defaults.py"),
            "--quick",
            "--data-home",
            str(fsdd_home),
        ],
        capture_output=True,
        text=True,
        cwd=ROOT,
        timeout=600,
        env={**os.environ, "OMP_NUM_THREADS": "1"},
    )
    assert res.returncode == 0, res.stderr
    assert res.stdout.startswith("SMOKE RUN")
    assert "goal:" not in res.stdout and "kept)" not in res.stdout
    table = [line for line in res.stdout.splitlines() if line.startswith("| ")]
    assert table[0].startswith("| option | val george | val FSDD -> gen")
    assert len(table) == 1 + 8  # the header and one line per option
    names = [line.strip("| ").split(" | ")[0] for line in table[1:]]
    (seq,) = [n for n in names if "-> SequenceVAE -> scaler ->" in n]
    # its twin without a VAE runs too, and the verdict compares the two
    twin = seq.replace("SequenceVAE -> scaler", "no VAE")
    assert twin in names
    (verdict,) = [
        line
        for line in res.stdout.splitlines()
        if line.startswith("best SequenceVAE option:")
    ]
    assert seq in verdict and twin in verdict
    assert verdict.endswith(("beats it on both columns", "NOT beat it on both columns"))


def test_all_extra_holds_every_extra_but_test():
    # `pip install -e ".[all]"` is what the README asks for; bench_training.py
    # needs the bench extra (skorch), which once was left out of it
    import tomllib

    extras = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"][
        "optional-dependencies"
    ]
    (all_extra,) = extras["all"]
    named = set(all_extra.split("[")[1].rstrip("]").split(","))
    assert named == set(extras) - {"all", "test"}


def test_bench_training_names_the_missing_extra():
    # without skorch it stops at once with the install command, not with a
    # ModuleNotFoundError after minutes of measuring
    script = ROOT / "benchmarks" / "bench_training.py"
    code = f"""
import importlib.util, runpy, sys
find = importlib.util.find_spec
importlib.util.find_spec = lambda n, *a: None if n == "skorch" else find(n, *a)
sys.argv = ["bench_training.py", "--quick"]
sys.path.insert(0, {str(script.parent)!r})
runpy.run_path({str(script)!r}, run_name="__main__")
"""
    res = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, timeout=120
    )
    assert res.returncode == 2, res.stderr
    assert 'pip install -e ".[bench]"' in res.stderr
    assert "SMOKE RUN" not in res.stdout  # nothing measured


def test_bench_latency_streaming_time_is_never_negative(tmp_path):
    # bench_latency once subtracted two noisy wall times (-6.65 ms per file);
    # now the time is taken inside one run: positive even for 2 files
    sys.path.insert(0, str(ROOT / "benchmarks"))
    try:
        import bench_latency
    finally:
        sys.path.remove(str(ROOT / "benchmarks"))
    echo = [
        sys.executable,
        "-c",
        "import sys\nfor l in sys.stdin: print(l, end='', flush=True)",
    ]
    for n in (2, 50):
        per_file = bench_latency._streaming(echo, [f"f{i}.wav" for i in range(n)], None)
        assert 0 < per_file < 1
    with pytest.raises(RuntimeError, match="streaming failed"):
        bench_latency._streaming([sys.executable, "-c", "pass"], ["a", "b"], None)
