"""The options of make_recognizer scored on validation voices.

``skvae.recipes.make_recognizer()`` is what ``skvae train`` fits; this
scores its default against voice perturbation, per-utterance CMVN and MFCC
on two validation columns (FSDD george, and 16 generated validation voices)
that touch no reported figure. Run from the repository root::

    SKVAE_DATA=../shared/data python benchmarks/bench_recognizer_defaults.py

Protocol and results: ``benchmarks/README.md``.
"""

import os
import sys
import time
import warnings

os.environ.setdefault("OMP_NUM_THREADS", "1")

import _common
import numpy as np

from skvae.augment import VoicePerturbation
from skvae.datasets import make_spoken_digits
from skvae.recipes import make_recognizer

GEN_SEED = 15  # bench_generalization's generated corpus and voice split
VAL_VOICES = slice(32, 48)  # its validation voices (test: 0-31, train: 48-95)
OPTIONS = {
    "default": {},
    "+ speed perturbation (0.9, 1.1)": {"augment": dict(speed=(0.9, 1.1))},
    "+ VTLP (0.9, 1.1)": {"augment": dict(speed=(), vtlp=(0.9, 1.1))},
    "per-utterance CMVN (mean)": {"features__cmvn": "mean"},
    "per-utterance CMVN (meanvar)": {"features__cmvn": "meanvar"},
    "MFCC": {"features__kind": "mfcc", "features__preemphasis": 0.97},
    "MFCC, per-utterance CMVN (mean)": {
        "features__kind": "mfcc",
        "features__preemphasis": 0.97,
        "features__cmvn": "mean",
    },
}


def _validation_sets(fsdd, gen):
    voices = np.array(sorted(set(gen.speaker)))
    order = np.random.default_rng(GEN_SEED).permutation(len(voices))
    val = np.isin(gen.speaker, voices[order[VAL_VOICES]])
    speaker = np.asarray(fsdd.speaker)
    X, y = np.asarray(fsdd.data, dtype=object), np.asarray(fsdd.target)
    gX = np.asarray(gen.data, dtype=object)[val]
    return (
        {
            "val george": (
                ~np.isin(speaker, ["george", "yweweler"]),
                X[speaker == "george"],
                y[speaker == "george"],
            ),
            "val FSDD -> gen": (speaker != "yweweler", gX, np.asarray(gen.target)[val]),
        },
        X,
        y,
    )


def _score(option, X, y, train, X_test, y_test, quick):
    params = dict(option)
    augment = params.pop("augment", None)
    Xt, yt = list(X[train]), y[train]
    start = time.perf_counter()
    if augment is not None:
        sampler = VoicePerturbation(sr=8000, random_state=0, **augment)
        Xt, yt = sampler.fit_resample(Xt, yt)
    pipe = make_recognizer(n_threads=1, max_iter=3 if quick else 300)
    if "features__kind" in params:
        params.setdefault("features__n_mfcc", 20)
    pipe.set_params(**params).fit(Xt, np.asarray(yt))
    accuracy = float(np.mean(pipe.predict(list(X_test)) == y_test))
    return accuracy, time.perf_counter() - start


def main():
    parser = _common.make_parser(__doc__)
    _common.add_data_home(parser)
    _common.add_quick(parser, "a fifth of the files, 3 epochs")
    args = parser.parse_args()
    if args.quick:
        print(_common.SMOKE_RUN)
    warnings.filterwarnings("ignore", message=".*used its epoch budget")
    fsdd = _common.load_fsdd(args.data_home, load_audio=True)
    gen = make_spoken_digits(96, 3, random_state=GEN_SEED)
    sets, X, y = _validation_sets(fsdd, gen)
    if args.quick:
        sets = {
            name: (train & (np.arange(len(y)) % 5 == 0), Xv[::10], yv[::10])
            for name, (train, Xv, yv) in sets.items()
        }
    print(f"load average at start: {os.getloadavg()[0]:.2f}")
    print("\n| option | " + " | ".join(sets) + " | mean | s/fit |")
    print("|---|" + "--:|" * (len(sets) + 2))
    results = {}
    for name, option in OPTIONS.items():
        scores = [
            _score(option, X, y, train, Xv, yv, args.quick)
            for train, Xv, yv in sets.values()
        ]
        accs = [a for a, _ in scores]
        results[name] = accs
        cells = " | ".join(f"{a:.3f}" for a in accs)
        seconds = np.mean([s for _, s in scores])
        print(f"| {name} | {cells} | {np.mean(accs):.3f} | {seconds:.0f} |", flush=True)
    if args.quick:
        print(_common.SMOKE_RUN)
        return 0
    default = results["default"]
    better = [
        name
        for name, accs in results.items()
        if all(a > d for a, d in zip(accs, default))
    ]
    print(
        "\noptions better than the default on both validation columns: "
        + (", ".join(better) if better else "none (the default is kept)")
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
