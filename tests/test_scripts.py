"""The scripts in examples/ and benchmarks/ run on the public API.

They are run by people as ``python examples/x.py`` and
``python benchmarks/bench_x.py``: each must parse its command line (``--help``)
with skvae installed, without editing ``sys.path`` and without importing a
private skvae module.
"""

import ast
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


@pytest.mark.parametrize(
    "path",
    sorted((ROOT / "benchmarks").glob("bench_*.py")),
    ids=lambda p: p.name,
)
def test_benchmark_help(path):
    res = subprocess.run(
        [sys.executable, str(path), "--help"],
        capture_output=True,
        text=True,
        cwd=ROOT,
        timeout=120,
    )
    assert res.returncode == 0, res.stderr
    assert res.stdout.startswith("usage:")
    # the description is whole sentences, not a first line cut mid-sentence
    description = res.stdout.split("\n\n")[1]
    assert description.rstrip().endswith("."), description


@pytest.mark.slow
def test_bench_generalization_quick(fsdd_home):
    # the smoke run: every row, every column, a table and no verdict
    res = subprocess.run(
        [
            sys.executable,
            str(ROOT / "benchmarks" / "bench_generalization.py"),
            "--quick",
            "--n-jobs",
            "1",
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
    table = [line for line in out.splitlines() if line.startswith("| ")]
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
    table = _smoke("bench_recognizer_defaults.py", "--data-home", str(fsdd_home))
    assert table[0].startswith("| option | val george | val FSDD -> gen")
    assert len(table) == 1 + 7  # the header and one line per option
