"""Connected digits: transcribing numbers read aloud (issue 25).

Digit accuracy (1 - edit distance / digits said) and whole-string accuracy
of ``make_transcriber`` on strings of 3-10 digits: FSDD speakers held out
one at a time (their digits joined, clean and at 10 dB SNR), and eSpeak NG
voices held out of training; against the segment-then-classify baseline
(``librosa.effects.split`` + the isolated-digit features and an SVC,
trained on the same speakers' digits, generated voices and perturbation) in
the same run; and the real-time factor on one core. ``--split validation``
is the protocol the settings were chosen on: the held-out speaker's
training-split recordings and 16 of the training voices; ``--split test``
uses the speaker's official test recordings and the 16 test voices
(:func:`skvae.recipes.split_voices`). Run from the repository root::

    SKVAE_DATA=../shared/data python benchmarks/bench_transcribe.py [--quick]
        [--split test|validation] [--speakers theo,nicolas] [--configs 0,1]

Data, baseline, protocol and results: ``benchmarks/README.md``.
"""

import json
import os
import time
import warnings

import _common
import numpy as np
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler
from sklearn.svm import SVC

from skvae.augment import VoicePerturbation
from skvae.datasets import find_fsdd_home, make_digit_strings
from skvae.evaluation import transcription_scores
from skvae.features import SpeechFeatures
from skvae.recipes import (
    TRAINING_STRINGS,
    TRANSCRIBER,
    load_predictor,
    make_transcriber,
    save_recognizer,
    split_voices,
    training_strings,
    transcriber_bundle,
)

SPEAKERS = ("george", "jackson", "lucas", "nicolas", "theo", "yweweler")
#: what each configuration changes in make_transcriber (0: the default)
CONFIGS = {
    0: ("default (log-mel frames, per-utterance CMVN)", {}),
    1: ("SequenceVAE z1 per segment", {"representation": "sequence-vae"}),
    2: ("no CMVN (plain log-mel frames)", {"cmvn": None}),
    3: ("stride 3, 96 units", {"stride": 3, "hidden_size": 96}),
}
#: training strings per fold: those of skvae train --task transcribe
SIZES = dict(TRAINING_STRINGS)
COUNTS = ("fsdd", "perturbed", "noisy", "espeak")
QUICK_SIZES = {**SIZES, "fsdd": 60, "perturbed": 20, "noisy": 20, "espeak": 40}
#: energy-based segmentation of the baseline (librosa.effects.split): 32 ms
#: frames every 8 ms (librosa's default 2048 samples are 256 ms at 8 kHz and
#: merge digits), and the threshold below the peak that gave the best mean
#: digit accuracy over the three validation sets among 30, 40, 50 and 60 dB
#: (0.354, 0.362, 0.376, 0.393; held-out speaker theo)
SPLIT_TOP_DB = 60
SPLIT_FRAMES = (256, 64)


def _accuracy(truth, pred):
    scores = transcription_scores([str(t) for t in truth], [str(p) for p in pred])
    return scores["digit_accuracy"], scores["string_accuracy"]


class SegmentThenClassify:
    """The baseline: energy-based word splitting, then an isolated-digit
    classifier (SpeechFeatures rows, standardised, RBF SVC) per segment."""

    def __init__(self, top_db=SPLIT_TOP_DB):
        self.top_db = top_db

    def fit(self, waves, digits, seed=0):
        perturb = VoicePerturbation(
            sr=8000, speed=(0.9, 1.1), vtlp=(0.9, 1.1), n_copies=1, random_state=seed
        )
        waves, digits = perturb.fit_resample(list(waves), np.asarray(digits))
        self.features_ = SpeechFeatures(sr=8000, level=-20.0).fit(waves)
        self.clf_ = make_pipeline(StandardScaler(), SVC(C=10.0))
        self.clf_.fit(self.features_.transform(waves), digits)
        return self

    def predict(self, waves):
        import librosa

        out = []
        for wave in waves:
            frame, hop = SPLIT_FRAMES
            spans = librosa.effects.split(
                wave, top_db=self.top_db, frame_length=frame, hop_length=hop
            )
            pieces = [wave[a:b] for a, b in spans if b - a >= 400]  # >= 50 ms
            if not pieces:
                out.append("")
                continue
            labels = self.clf_.predict(self.features_.transform(pieces))
            out.append("".join(str(int(d)) for d in labels))
        return out


def _isolated_digits(home, speakers, voices, subset, seed):
    """Isolated digits of FSDD ``speakers`` and eSpeak ``voices``."""
    from skvae.audio import load_audio
    from skvae.datasets import fetch_fsdd

    fsdd = fetch_fsdd(home, subset=subset)
    keep = np.isin(fsdd.speaker, speakers)
    waves = [load_audio(p, sr=8000)[0] for p in np.asarray(fsdd.data)[keep]]
    digits = list(np.asarray(fsdd.target)[keep])
    said = make_digit_strings(
        len(voices) * 10,
        lengths=(1, 1),
        speakers=voices,
        style="digits",
        oh=0.0,
        random_state=seed,
    )
    return waves + list(said.data), digits + [int(t) for t in said.target]


def _ten_second_files(home, speaker, seed, n=10):
    """``n`` waveforms of about 10 s: strings of one speaker, joined."""
    strings = make_digit_strings(
        4 * n,
        source="fsdd",
        speakers=[speaker],
        lengths=(6, 10),
        data_home=home,
        random_state=seed,
    )
    waves, cur = [], []
    for w in strings.data:
        cur.append(w)
        if sum(len(c) for c in cur) >= 10 * 8000:
            waves.append(np.concatenate(cur)[: 10 * 8000])
            cur = []
    return waves[:n]


def _real_time_factor(model, waves):
    """Median seconds per file / 10 s, on one thread, with the NumPy
    predictor that 'skvae transcribe' uses and with torch."""
    import tempfile

    import torch
    from threadpoolctl import threadpool_limits

    with tempfile.TemporaryDirectory() as tmp:
        save_recognizer(transcriber_bundle(model), tmp)
        fast = load_predictor(tmp, cache=False)["recognizer"]  # as skvae transcribe
    out = {}
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        with threadpool_limits(1):
            for name, m in (("numpy", fast), ("torch", model)):
                m.predict(waves[:1])  # warm-up
                times = []
                for w in waves:
                    t = time.perf_counter()
                    m.predict([w])
                    times.append(time.perf_counter() - t)
                out[name] = float(np.median(times)) / (len(waves[0]) / 8000)
    finally:
        torch.set_num_threads(before)
    return out


def main():
    parser = _common.make_parser(__doc__)
    _common.add_data_home(parser)
    _common.add_quick(parser, "two speakers' folds, tiny training, 2 epochs")
    parser.add_argument(
        "--split",
        choices=("test", "validation"),
        default="test",
        help="test: official test recordings and test voices; validation: "
        "training recordings and validation voices (default test)",
    )
    parser.add_argument("--speakers", default=None, help="held-out speakers (comma)")
    parser.add_argument("--configs", default="0", help="CONFIGS keys (comma)")
    parser.add_argument("--n-test", type=int, default=200, help="strings per test set")
    parser.add_argument("--max-iter", type=int, default=None, help="most epochs")
    parser.add_argument(
        "--n-strings",
        type=int,
        default=None,
        help="training strings per fold, in the default's proportions "
        "(default: those of skvae train --task transcribe, 3000)",
    )
    parser.add_argument("--out", default=None, help="also write the rows as JSON here")
    args = parser.parse_args()
    if args.quick:
        print(_common.SMOKE_RUN)
    _common.load_fsdd(args.data_home)  # exits with advice if FSDD is missing
    home = find_fsdd_home(args.data_home)
    speakers = args.speakers.split(",") if args.speakers else list(SPEAKERS)
    if args.quick:
        speakers = speakers[:2]
    configs = [int(c) for c in args.configs.split(",")]
    train_voices, test_voices = split_voices()
    subset = "test"
    if args.split == "validation":
        # 16 of the training voices and the speaker's training recordings
        rng = np.random.RandomState(25)
        val = sorted(rng.choice(train_voices, 16, replace=False).tolist())
        train_voices, test_voices = sorted(set(train_voices) - set(val)), val
        subset = "train"
    sizes = QUICK_SIZES if args.quick else SIZES
    if args.n_strings and not args.quick:
        total = sum(SIZES[k] for k in COUNTS)
        sizes = {**SIZES, **{k: SIZES[k] * args.n_strings // total for k in COUNTS}}
    n_test = 10 if args.quick else args.n_test
    epochs = 2 if args.quick else args.max_iter or TRANSCRIBER["max_iter"]
    print(
        f"split {args.split}; held-out speakers {speakers}; "
        f"{sum(sizes[k] for k in COUNTS)} training strings per fold "
        f"({ {k: sizes[k] for k in COUNTS} }, noise at {sizes['snr_db']} dB); "
        f"{len(train_voices)} training voices, {len(test_voices)} held out; "
        f"test strings of 3-10 digits, {n_test} per set",
        flush=True,
    )
    rows = []
    for k, speaker in enumerate(speakers):
        others = [s for s in SPEAKERS if s != speaker]
        seed = 100 + k
        X, y, _, _ = training_strings(
            home,
            speakers=others,
            espeak_voices=train_voices,
            sizes=sizes,
            random_state=seed,
        )
        common = {"lengths": (3, 10), "sr": 8000}
        fsdd = {**common, "source": "fsdd", "speakers": [speaker], "subset": subset}
        tests = {
            "speaker": make_digit_strings(
                n_test, **fsdd, data_home=home, random_state=seed + 1
            ),
            "speaker 10 dB": make_digit_strings(
                n_test, **fsdd, data_home=home, snr_db=10.0, random_state=seed + 2
            ),
            "voices": make_digit_strings(
                n_test, **common, speakers=test_voices, random_state=seed + 3
            ),
        }
        start = time.perf_counter()
        base_x, base_y = _isolated_digits(home, others, train_voices, "train", seed)
        baseline = SegmentThenClassify().fit(base_x, base_y, seed=seed)
        row = {
            "held_out": speaker,
            "config": "baseline",
            "fit_seconds": time.perf_counter() - start,
        }
        for name, strings in tests.items():
            row[name] = _accuracy(strings.target, baseline.predict(list(strings.data)))
        rows.append(row)
        print(json.dumps(row), flush=True)
        for c in configs:
            label, params = CONFIGS[c]
            model = make_transcriber(random_state=seed, max_iter=epochs, **params)
            start = time.perf_counter()
            with warnings.catch_warnings():
                warnings.simplefilter("ignore", UserWarning)
                model.fit(X, y)
            row = {
                "held_out": speaker,
                "config": f"{c}: {label}",
                "fit_seconds": time.perf_counter() - start,
                "epochs": model["model"].n_iter_,
            }
            for name, strings in tests.items():
                row[name] = _accuracy(strings.target, model.predict(list(strings.data)))
            if c == configs[0] and k == 0 and "vae" not in model.named_steps:
                waves = _ten_second_files(
                    home, speaker, seed, n=3 if args.quick else 10
                )
                row["real_time_factor"] = _real_time_factor(model, waves)
                row["load_average"] = os.getloadavg()[0]
            rows.append(row)
            print(json.dumps(row), flush=True)
    print(f"\nsummary ({args.split} split; mean over held-out speakers):")
    print(
        "| model | speaker: digits | whole | 10 dB: digits | whole | "
        "voices: digits | whole |"
    )
    print("|---|--:|--:|--:|--:|--:|--:|")
    for name in dict.fromkeys(r["config"] for r in rows):
        sel = [r for r in rows if r["config"] == name]
        cells = []
        for test in ("speaker", "speaker 10 dB", "voices"):
            cells += [
                f"{np.mean([r[test][0] for r in sel]):.3f}",
                f"{np.mean([r[test][1] for r in sel]):.3f}",
            ]
        print(f"| {name} | " + " | ".join(cells) + " |")
    rtf = [r["real_time_factor"] for r in rows if "real_time_factor" in r]
    if rtf:
        print(
            f"real-time factor on one thread (10 s files): NumPy "
            f"{rtf[0]['numpy']:.4f}, torch {rtf[0]['torch']:.4f}"
        )
    if args.out:
        with open(args.out, "w") as fh:
            json.dump(rows, fh, indent=1)
    if args.quick:
        print(_common.SMOKE_RUN)


if __name__ == "__main__":
    main()
