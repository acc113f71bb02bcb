"""README.md's code runs when pasted, and the files it names exist.

Every ```python block of README.md is saved as a script and run, as a user
would run it, in an empty working folder (with FSDD from ``$SKVAE_DATA``).
To keep the suite short, two interpreters run them, with
:func:`skvae.datasets.fetch_fsdd` answering 240 of FSDD's 3,000 files
(repetition 0 as the test split, 5-7 for training, every speaker and digit);
everything else is the README's own code.
"""

import json
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
README = (ROOT / "README.md").read_text()
BLOCKS = re.findall(r"^```python\n(.*?)^```", README, re.S | re.M)

# Runs each script given on its command line as ``python script.py`` would
# (``__main__``, its folder as working folder; Dask's spawned worker
# processes import it as ``__mp_main__``) and prints one JSON line for each.
SNIPPET_RUNNER = r"""
import json, os, runpy, sys, time, traceback
import numpy as np
import sklearn
import skvae.datasets

_fetch = skvae.datasets.fetch_fsdd

def fetch_fsdd(*args, **kwargs):
    bunch = _fetch(*args, **kwargs)
    keep = (bunch.index == 0) | ((bunch.index >= 5) & (bunch.index < 8))
    n = len(keep)
    for key, value in list(bunch.items()):
        if isinstance(value, np.ndarray) and value.shape[:1] == (n,):
            bunch[key] = value[keep]
    return bunch

if __name__ == "__main__":
    skvae.datasets.fetch_fsdd = fetch_fsdd
    claims = sys.argv[1]  # a folder: each block is run by whoever claims it first
    for i, path in enumerate(sys.argv[2:]):
        try:
            os.close(os.open(os.path.join(claims, str(i)), os.O_CREAT | os.O_EXCL))
        except FileExistsError:
            continue  # the other interpreter runs it
        os.chdir(os.path.dirname(path))
        start, error = time.perf_counter(), None
        try:
            runpy.run_path(path, run_name="__main__")
        except BaseException:
            error = traceback.format_exc()[-3000:]
        sklearn.set_config(enable_metadata_routing=False)
        seconds = time.perf_counter() - start
        print(json.dumps(dict(path=path, error=error, seconds=seconds)), flush=True)
"""


def test_readme_has_python_blocks():
    assert len(BLOCKS) >= 10


@pytest.fixture(scope="module")
def snippet_runs(fsdd_home, tmp_path_factory):
    paths = []
    for i, block in enumerate(BLOCKS):
        folder = tmp_path_factory.mktemp(f"snippet{i}")
        (folder / "snippet.py").write_text(block)
        paths.append(str(folder / "snippet.py"))
    runner = tmp_path_factory.mktemp("runner") / "run_snippets.py"
    runner.write_text(SNIPPET_RUNNER)
    env = {**os.environ, "SKVAE_DATA": str(fsdd_home), "OMP_NUM_THREADS": "1"}
    env["PYTHONWARNINGS"] = "ignore"
    # two interpreters, one per core, each taking the next unclaimed block
    claims = tmp_path_factory.mktemp("claims")
    procs = [
        subprocess.Popen(
            [sys.executable, str(runner), str(claims), *paths],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
            env=env,
        )
        for _ in range(2)
    ]
    runs = {}
    for proc in procs:
        out, err = proc.communicate(timeout=600)
        assert proc.returncode == 0, err[-3000:]
        for line in out.splitlines():
            if line.startswith('{"path'):
                run = json.loads(line)
                runs[paths.index(run["path"])] = run
    return runs


@pytest.mark.slow
@pytest.mark.parametrize("i", range(len(BLOCKS)), ids=lambda i: f"block{i}")
def test_python_block_runs_when_pasted(i, snippet_runs):
    run = snippet_runs.get(i, {"error": "did not run"})
    assert run["error"] is None, f"README block {i}:\n{BLOCKS[i]}\n{run['error']}"


# user files in the README's examples, not files of this repository
USER_FILES = {"my_recording.wav", "model.joblib", "model.skops", "model.safetensors"}
PATH_TOKEN = re.compile(r"^[\w.-]+(/[\w.*-]+)*/?$")
PATH_SUFFIXES = (".py", ".md", ".sh", ".txt", ".toml", ".cfg", ".yml")


def _named_paths(text):
    tokens = re.findall(r"`([^`\s]+)`", text) + re.findall(r"\]\(([^)#:]+)\)", text)
    for token in tokens:
        if not PATH_TOKEN.match(token) or token in USER_FILES or "*" in token:
            continue
        if token.startswith(("skvae-run", "..")):
            continue  # what `skvae train` writes; folders outside the checkout
        if token.endswith(PATH_SUFFIXES) or "/" in token:
            yield token


@pytest.mark.parametrize("readme", ["README.md", "benchmarks/README.md"])
def test_named_files_exist(readme):
    # a path counts if it exists from the repository root or, for the module
    # files of the layout list (``_vae.py``, ``features/_audio.py``), below
    # some folder of the repository
    tracked = set()
    for folder, dirs, files in os.walk(ROOT):
        dirs[:] = [d for d in dirs if not d.startswith((".git", "__", ".pytest"))]
        rel = Path(folder).relative_to(ROOT).as_posix()
        tracked |= {f"{rel}/", *(f"{rel}/{f}" for f in files)}
    tracked = {t.removeprefix("./") for t in tracked}
    missing = sorted(
        {
            token
            for token in _named_paths((ROOT / readme).read_text())
            if not any(t == token or t.endswith("/" + token) for t in tracked)
        }
    )
    assert missing == [], f"{readme} names files that do not exist: {missing}"
