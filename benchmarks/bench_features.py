"""Feature-extraction throughput on all FSDD recordings, as a multiple of real time.

Wall time from the 3,000 file paths to a feature matrix: a plain librosa
loop against ``SpeechFeatures(n_jobs=1)`` and ``n_jobs=2`` (issue 3). Run
from the repository root::

    SKVAE_DATA=../shared/data python benchmarks/bench_features.py [--check] [--quick]

Protocol and results: ``benchmarks/README.md``.
"""

import os
import sys
import time

import _common
import numpy as np
import soundfile as sf

from skvae.features import SpeechFeatures

PARAMS = dict(sr=8000, kind="mfcc", n_mfcc=13, n_mels=40, n_fft=256, hop_length=80)
GOAL_RTF, GOAL_SPEEDUP = 1000.0, 1.7


def librosa_loop(files):
    import librosa

    out = []
    for f in files:
        y, sr = librosa.load(f, sr=None)
        out.append(
            librosa.feature.mfcc(
                y=y,
                sr=sr,
                n_mfcc=PARAMS["n_mfcc"],
                n_fft=PARAMS["n_fft"],
                hop_length=PARAMS["hop_length"],
                n_mels=PARAMS["n_mels"],
            )
        )
    return out


def main(argv=None):
    parser = _common.make_parser(__doc__)
    _common.add_data_home(parser)
    _common.add_quick(parser, "100 files, 1 round")
    parser.add_argument(
        "--repeats",
        type=int,
        default=7,
        help="timed rounds of each configuration (default: 7; the librosa loop "
        "runs in the first 3 only)",
    )
    parser.add_argument(
        "--check", action="store_true", help="exit with status 1 if a goal is missed"
    )
    args = parser.parse_args(argv)
    if args.quick:
        print(_common.SMOKE_RUN)
        args.repeats, args.check = 1, False

    files = sorted(_common.load_fsdd(args.data_home).filenames)
    if args.quick:
        files = files[:100]
    audio_s = sum(sf.info(f).duration for f in files)
    print(f"{len(files)} files, {audio_s:.1f} s of audio; {os.cpu_count()} CPUs")
    print("load average before: {:.2f} {:.2f} {:.2f}".format(*os.getloadavg()))

    fe1 = SpeechFeatures(**PARAMS, n_jobs=1)
    fe2 = SpeechFeatures(**PARAMS, n_jobs=2)
    librosa_loop(files[:20])  # warm-up: imports, numba
    fe1.transform(files[:20])  # warm-up: filterbank
    t0 = time.perf_counter()
    fe2.transform(files)  # cold: starts the worker processes
    cold = time.perf_counter() - t0

    runs = {
        "librosa loop (baseline)": lambda: librosa_loop(files),
        "SpeechFeatures n_jobs=1": lambda: fe1.transform(files),
        "SpeechFeatures n_jobs=2": lambda: fe2.transform(files),
    }
    times = {name: [] for name in runs}
    outputs = {}
    for r in range(args.repeats):
        for name, fn in runs.items():
            if name.startswith("librosa") and r >= 3:  # slow; 3 runs suffice
                continue
            t0 = time.perf_counter()
            outputs[name] = fn()
            times[name].append(time.perf_counter() - t0)
    Z1, Z2 = outputs["SpeechFeatures n_jobs=1"], outputs["SpeechFeatures n_jobs=2"]
    assert np.array_equal(Z1, Z2), "n_jobs changed the output"

    print(
        f"\n{'configuration':36s} {'best s':>8s} {'median s':>9s} {'x real time':>12s}"
    )
    rows = [(name, min(t), float(np.median(t))) for name, t in times.items()]
    rows.insert(2, ("SpeechFeatures n_jobs=2, cold pool", cold, cold))
    for name, best, median in rows:
        print(f"{name:36s} {best:8.3f} {median:9.3f} {audio_s / best:12.0f}")
    base, best1, best2 = (min(t) for t in times.values())
    speedup, rtf2 = best1 / best2, audio_s / best2
    print(f"\nn_jobs=2 speed-up over n_jobs=1: {speedup:.2f}x")
    print(f"n_jobs=1 over the librosa loop: {base / best1:.2f}x")
    print("load average after: {:.2f} {:.2f} {:.2f}".format(*os.getloadavg()))
    if args.quick:
        print(_common.SMOKE_RUN)
        return
    ok = rtf2 >= GOAL_RTF and speedup >= GOAL_SPEEDUP
    print(
        f"goals (>= {GOAL_RTF:.0f}x real time with n_jobs=2, speed-up >= "
        f"{GOAL_SPEEDUP}): {'met' if ok else 'MISSED'}"
    )
    if args.check and not ok:
        sys.exit(1)


if __name__ == "__main__":
    main()
