"""Latency where a person waits: skvae predict on one file, and streaming.

Cold ``skvae predict MODEL one.wav`` against ``import sklearn``, streaming
files per second through ``skvae predict MODEL -``, and the wall time of
``skvae train`` (issue 17). Run from the repository root::

    SKVAE_DATA=../shared/data python benchmarks/bench_latency.py [--model DIR]

Protocol and results: ``benchmarks/README.md``.
"""

import contextlib
import os
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

import _common
import numpy as np

GOAL_COLD_RATIO, GOAL_FILES_PER_S = 1.5, 200.0


def _timed(argv, *, env, stdin=None):
    start = time.perf_counter()
    subprocess.run(argv, env=env, stdin=stdin, stdout=subprocess.DEVNULL, check=True)
    return time.perf_counter() - start


def _streaming(argv, paths, env):
    """Seconds per file of ``argv`` answering ``paths`` written to its stdin.

    Timed inside one run: the first path is written alone and answered
    (start-up), then the others at once, timed until the last answer. No two
    noisy wall times are subtracted, so the result is never negative.
    """
    proc = subprocess.Popen(
        argv,
        env=env,
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
    )

    def feed(lines, close):
        # a process that died early closes its end: the check below says so
        with contextlib.suppress(BrokenPipeError):
            proc.stdin.write("".join(f"{p}\n" for p in lines))
            proc.stdin.flush()
            if close:
                proc.stdin.close()

    feed(paths[:1], close=False)
    lines = [proc.stdout.readline()]
    start = time.perf_counter()
    writer = threading.Thread(target=feed, args=(paths[1:], True))

    writer.start()
    lines += proc.stdout.readlines()
    seconds = time.perf_counter() - start
    writer.join()
    if proc.wait() != 0 or len(lines) != len(paths) or not lines[0]:
        raise RuntimeError(f"streaming failed: {len(lines)} lines for {len(paths)}")
    return seconds / (len(paths) - 1)


def _audio_files(args, folder, n):
    """n audio files (FSDD, else generated) and a 0.6 s 48 kHz recording."""
    from skvae.datasets import find_fsdd_home, make_spoken_digits
    from skvae.features import load_audio, write_wav

    home = None if args.quick else find_fsdd_home(args.data_home)
    if home is not None:
        files = sorted(
            str(p) for p in (Path(home) / "fsdd" / "recordings").glob("*.wav")
        )
        files = (files * (n // len(files) + 1))[:n]
        data = f"fsdd (--data-home {home})"
    else:
        corpus = make_spoken_digits(
            2, max(1, n // 20), random_state=0, out_dir=folder / "generated"
        )
        files = list(corpus.filenames)
        files = (files * (n // len(files) + 1))[:n]
        data = "generated"
    y, sr = load_audio(files[0], sr=48000)
    y = np.resize(y, int(0.6 * sr))  # 0.6 s, looped if shorter
    one = write_wav(folder / "one_48k.wav", y, sr)
    return files, str(one), data, home


def main():
    parser = _common.make_parser(__doc__)
    _common.add_data_home(parser)
    _common.add_quick(
        parser, "a quick model, no warm-up, 1 repeat, 20 files streamed once"
    )
    parser.add_argument(
        "--model",
        metavar="DIR",
        help="a trained model: skip 'skvae train' (and its timing)",
    )
    parser.add_argument(
        "--repeats",
        type=int,
        default=7,
        help="timed runs of each cold command, after one warm-up (default: 7)",
    )
    parser.add_argument(
        "--n-files",
        type=int,
        default=1000,
        help="file paths streamed to 'skvae predict MODEL -' (default: 1000)",
    )
    args = parser.parse_args()
    if args.n_files < 2 or args.repeats < 1:
        parser.error("--n-files must be at least 2 and --repeats at least 1")
    if args.quick:
        print(_common.SMOKE_RUN)
        args.repeats, args.n_files = 1, 20
    py = sys.executable
    skvae = [py, "-m", "skvae"]
    load = os.getloadavg()[0] if hasattr(os, "getloadavg") else float("nan")
    print(f"load average at start: {load:.2f}; {os.cpu_count()} CPUs")
    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        env = dict(os.environ, SKVAE_CACHE_DIR=str(tmp / "cache"))
        files, one, data, home = _audio_files(args, tmp, args.n_files)
        print(f"data: {data}; one file: 0.6 s at 48 kHz")
        train_s = None
        model = args.model
        if model is None:
            model = str(tmp / "run")
            train = [*skvae, "train", "--out", model, "-q"]
            if args.quick:
                train += ["generated", "--quick", "--synth-speakers", "2"]
                train += ["--synth-repeats", "3", "--n-check", "1", "--no-report"]
                train += ["--no-speaker-eval"]
            elif home is not None:
                train += ["fsdd", "--offline", "--data-home", str(home)]
            train_s = _timed(train, env=env)
        commands = {
            "python -c 'import sklearn'": [py, "-c", "import sklearn"],
            "python -c 'import sklearn, torch'": [py, "-c", "import sklearn, torch"],
            "skvae predict MODEL one.wav": [*skvae, "predict", model, one],
            "skvae predict --no-cache MODEL one.wav": [
                *skvae,
                "predict",
                "--no-cache",
                model,
                one,
            ],
        }
        if not args.quick:  # warm-up: file cache, prediction cache
            for argv in commands.values():
                _timed(argv, env=env)
        times = {name: [] for name in commands}
        for _ in range(args.repeats):
            for name, argv in commands.items():
                times[name].append(_timed(argv, env=env))
        stream = [*skvae, "predict", model, "-"]
        n_streams = 1 if args.quick else 3
        per_file = statistics.median(
            _streaming(stream, files, env) for _ in range(n_streams)
        )
    n = len(files)
    rate = f"{1 / per_file:.0f} files/s"
    floor = statistics.median(times["python -c 'import sklearn'"])
    print()
    print(
        f"| command ({args.repeats} runs) | median (s) | min (s) | / import sklearn |"
    )
    print("|---|---|---|---|")
    for name, ts in times.items():
        med = statistics.median(ts)
        print(f"| `{name}` | {med:.2f} | {min(ts):.2f} | {med / floor:.2f}x |")
    print(
        f"| `skvae predict MODEL -`, {n} files: per file after start-up | "
        f"{per_file * 1000:.2f} ms | | {rate} |"
    )
    if train_s is not None:
        print(f"| main job `skvae train` (1 run) | {train_s:.1f} | | |")
    end = os.getloadavg()[0] if hasattr(os, "getloadavg") else float("nan")
    print(f"\nload average at the end: {end:.2f}")
    if args.quick:
        print(_common.SMOKE_RUN)
        return 0
    cold = statistics.median(times["skvae predict MODEL one.wav"]) / floor
    verdicts = [
        (
            f"cold predict <= {GOAL_COLD_RATIO}x import sklearn",
            cold <= GOAL_COLD_RATIO,
            f"{cold:.2f}x",
        ),
        (
            f"streaming >= {GOAL_FILES_PER_S:.0f} files/s",
            1 / per_file >= GOAL_FILES_PER_S,
            rate,
        ),
    ]
    for goal, met, value in verdicts:
        print(f"goal: {goal}: {'met' if met else 'NOT met'} ({value})")
    return 0


if __name__ == "__main__":
    sys.exit(main())
