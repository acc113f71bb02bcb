"""Open-set recognition on spoken digits: rejecting words the recogniser does
not know.

ROC AUC and rejection rates of ``make_recognizer(reject=True)``'s score
against density and confidence baselines, for generated non-digit words,
reversed digits, noise and tones, and held-out digits (issue 16).
``--split validation`` runs the validation protocol the settings were
chosen on. Run from the repository root::

    SKVAE_DATA=../shared/data python benchmarks/bench_openset.py [--quick]
        [--split test|validation]

Data, baselines, metrics, how the score was chosen and results:
``benchmarks/README.md``.
"""

import os
import subprocess

os.environ.setdefault("OMP_NUM_THREADS", "1")
os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")
os.environ.setdefault("MKL_NUM_THREADS", "1")

import time
import warnings
from pathlib import Path

import _common
import numpy as np
from sklearn.base import clone
from sklearn.decomposition import PCA
from sklearn.ensemble import IsolationForest
from sklearn.linear_model import LogisticRegression
from sklearn.metrics import roc_auc_score
from sklearn.mixture import GaussianMixture
from sklearn.preprocessing import StandardScaler
from sklearn.svm import OneClassSVM

import skvae
from skvae import RejectOptionClassifier
from skvae.datasets import make_spoken_digits, make_spoken_words
from skvae.evaluation import make_outlier_clips
from skvae.recipes import make_recognizer

#: two disjoint halves of the 40 default words of make_spoken_words: one
#: to choose settings on (--split validation), one to report (--split test)
VALIDATION_WORDS = (
    "yes", "no", "up", "down", "left", "right", "stop", "go", "hello", "please",
    "cat", "dog", "bird", "house", "happy", "water", "apple", "table", "music",
    "morning",
)  # fmt: skip
TEST_WORDS = (
    "on", "off", "open", "close", "start", "help", "wait", "again", "forward",
    "follow", "learn", "visual", "window", "coffee", "green", "yellow", "marvin",
    "sheila", "computer", "thank you",
)  # fmt: skip
N_SPEAKERS = 8
CLIP_KINDS = ("white noise", "pink noise", "tone", "chirp")
#: the known digits of the held-out-digit protocol
HELD_OUT_SPLITS = ((0, 1, 2, 3, 4), (0, 2, 4, 6, 8))
TARGET = 0.05
GOALS = dict(auc=0.95, rejected=0.80)
UNKNOWN_KINDS = ("generated words", "reversed digits", "noise/tone")


def code_state():
    """Commit of the skvae imported, and whether it differs from it."""
    try:
        git = ["git", "-C", str(Path(skvae.__file__).resolve().parent)]
        head = subprocess.run(
            [*git, "rev-parse", "--short", "HEAD"], capture_output=True, text=True
        ).stdout.strip()
        dirty = subprocess.run(
            [*git, "status", "--porcelain", "."], capture_output=True, text=True
        ).stdout.split("\n")
    except OSError:
        return "unknown (no git)"
    changed = [line[3:] for line in dirty if line.strip()]
    return f"commit {head or '?'}" + (
        f", uncommitted changes in {', '.join(changed)}" if changed else ""
    )


def auc(known, unknown):
    """ROC AUC of known (positive, higher score) against unknown rows."""
    labels = np.r_[np.ones(len(known)), np.zeros(len(unknown))]
    return float(roc_auc_score(labels, np.r_[known, unknown]))


#: what make_recognizer(reject=True) resolves vae="auto" and cmvn="auto" to
REJECT_RECOGNISER = dict(vae="flat", cmvn=None)


def recogniser(quick):
    """The rows model of make_recognizer (VAE and classifier, after the front
    end), to wrap with reject=True's settings (see benchmarks/README.md)."""
    return make_recognizer(
        max_iter=5 if quick else 300, n_threads=1, **REJECT_RECOGNISER
    )["model"]


# --------------------------------------------------------------------------
def detectors(F_tr, y_tr, rej, quick):
    """Score functions (higher = more like the known words) on log-mel rows."""
    fitted = rej.estimator_
    scaler = StandardScaler().fit(F_tr)
    S_tr = scaler.transform(F_tr)
    t0 = time.perf_counter()
    lr = LogisticRegression(max_iter=2000).fit(S_tr, y_tr)
    svc = clone(make_recognizer(**REJECT_RECOGNISER)["model"]["clf"]).fit(S_tr, y_tr)
    pca = PCA(16, random_state=0).fit(S_tr)
    gmm = GaussianMixture(10, covariance_type="diag", random_state=0).fit(S_tr)
    ocsvm = OneClassSVM().fit(S_tr)
    iforest = IsolationForest(random_state=0).fit(S_tr)
    seconds = time.perf_counter() - t0

    def log_max(model, X):
        return np.log(np.maximum(model.predict_proba(X).max(axis=1), 1e-300))

    out = {
        "skvae: VAE ELBO + classifier confidence (default)": rej.score_samples,
        "skvae: VAE ELBO alone": fitted.named_steps["vae"].score_samples,
        "skvae: classifier confidence alone": lambda F: log_max(fitted, F),
        "LogisticRegression max probability": lambda F: log_max(
            lr, scaler.transform(F)
        ),
        "SVC max probability (calibrated)": lambda F: log_max(svc, scaler.transform(F)),
        "PCA(16) log-likelihood": lambda F: pca.score_samples(scaler.transform(F)),
        "GaussianMixture(10, diag) log-likelihood": lambda F: gmm.score_samples(
            scaler.transform(F)
        ),
        "OneClassSVM": lambda F: ocsvm.score_samples(scaler.transform(F)),
        "IsolationForest": lambda F: iforest.score_samples(scaler.transform(F)),
    }
    return out, seconds


def evaluate(score, F_known, y_known, unknown, predict):
    """AUC, rejection at 95 % kept and accuracy on the kept known rows."""
    s_known = score(F_known)
    cut = np.quantile(s_known, TARGET)  # keeps 95 % of the known rows
    kept = s_known >= cut
    res = {"accuracy kept": float(np.mean(predict[kept] == y_known[kept]))}
    pooled = []
    for kind, F_u in unknown.items():
        s_u = score(F_u)
        res[kind] = (auc(s_known, s_u), float(np.mean(s_u < cut)))
        pooled.append(s_u)
    s_all = np.concatenate(pooled)
    res["all unknown"] = (auc(s_known, s_all), float(np.mean(s_all < cut)))
    return res


def held_out_digits(F_tr, y_tr, F_te, y_te, quick, split_rows):
    """Recognisers trained on 5 digits, tested on the other 5 (real voices)."""
    for digits in HELD_OUT_SPLITS:
        known_tr, known_te = np.isin(y_tr, digits), np.isin(y_te, digits)
        rej = RejectOptionClassifier(
            recogniser(quick), cv=0.2, refit=False, random_state=0
        )
        t0 = time.perf_counter()
        rej.fit(F_tr[known_tr], y_tr[known_tr])
        fit_s = time.perf_counter() - t0
        dets, _ = detectors(F_tr[known_tr], y_tr[known_tr], rej, quick)
        predict = rej.estimator_.predict(F_te[known_te])
        name = "".join(map(str, digits))
        for det, score in dets.items():
            res = evaluate(
                score,
                F_te[known_te],
                y_te[known_te],
                {"unknown digits": F_te[~known_te]},
                predict,
            )
            split_rows.setdefault(det, {})[name] = res
        pred = rej.predict(F_te)
        kept = known_te & (pred != -1)
        print(
            f"  known digits {name}: fit {fit_s:.0f} s; learned threshold "
            f"rejects {np.mean(pred[known_te] == -1):.3f} of the known test "
            f"digits and {np.mean(pred[~known_te] == -1):.3f} of the unknown "
            f"ones; accuracy on the kept known ones "
            f"{np.mean(pred[kept] == y_te[kept]):.3f} "
            f"(without rejection {np.mean(predict == y_te[known_te]):.3f})",
            flush=True,
        )


# --------------------------------------------------------------------------
def main(argv=None):
    parser = _common.make_parser(__doc__)
    _common.add_data_home(parser)
    _common.add_quick(parser, "300 training rows, 5 epochs, few clips")
    parser.add_argument(
        "--split",
        choices=("test", "validation"),
        default="test",
        help="test: the reported numbers (FSDD test split, the test half of "
        "the words); validation: the protocol the settings were chosen on "
        "(training rows of index 10-49, known rows of index 5-9, the other "
        "words, other seeds)",
    )
    args = parser.parse_args(argv)
    warnings.filterwarnings("ignore", category=UserWarning)  # ConvergenceWarning
    import torch

    torch.set_num_threads(1)
    start = time.perf_counter()
    print(f"{os.cpu_count()} CPUs; torch {torch.__version__}; quick={args.quick}")
    if args.quick:
        print(_common.SMOKE_RUN)
    print(f"code: {code_state()}; split: {args.split}")
    print("load average at start: {:.2f} {:.2f} {:.2f}".format(*os.getloadavg()))

    fsdd = _common.load_fsdd(args.data_home, load_audio=True)
    validation = args.split == "validation"
    if validation:
        train, known = fsdd.index >= 10, (fsdd.index >= 5) & (fsdd.index < 10)
        words, seed = VALIDATION_WORDS, 1
    else:
        train, known = fsdd.index >= 5, fsdd.index < 5
        words, seed = TEST_WORDS, 2
    n_speakers, n_clips = N_SPEAKERS, 50
    if args.quick:  # 300 training rows, all known rows, few unknowns
        train &= np.arange(fsdd.target.size) % 9 == 0
        words, n_speakers, n_clips = words[:5], 2, 10

    t0 = time.perf_counter()
    # the recogniser's front end, fitted on the training audio (its
    # bandwidth); every other clip goes through it as it is
    front_end = make_recognizer(**REJECT_RECOGNISER)["features"].fit(fsdd.data[train])
    F = front_end.transform(fsdd.data)
    gen_words = make_spoken_words(words, n_speakers, random_state=seed)
    gen_digits = make_spoken_digits(n_speakers, 1, random_state=seed)
    clips, _ = make_outlier_clips(
        fsdd.data[known], kinds=CLIP_KINDS, n_per_kind=n_clips, random_state=seed
    )
    reversed_known = [w[::-1].copy() for w in fsdd.data[known]]
    unknown = {
        "generated words": front_end.transform(gen_words.data),
        "reversed digits": front_end.transform(reversed_known),
        "noise/tone": front_end.transform(clips),
    }
    F_gen_digits = front_end.transform(gen_digits.data)
    F_tr, y_tr = F[train], fsdd.target[train]
    F_te, y_te = F[known], fsdd.target[known]
    print(
        f"{y_tr.size} training rows, {y_te.size} known test rows; unknown: "
        + ", ".join(f"{k} {len(v)}" for k, v in unknown.items())
        + f" ({len(words)} words x {n_speakers} speakers); control: "
        f"{len(F_gen_digits)} generated digits; {F.shape[1]} features per row "
        f"({time.perf_counter() - t0:.0f} s)",
        flush=True,
    )
    data_s = time.perf_counter() - t0

    # the recogniser with the reject option
    t0 = time.perf_counter()
    rej = RejectOptionClassifier(recogniser(args.quick), cv=0.2, random_state=0)
    rej.fit(F_tr, y_tr)
    fit_s = time.perf_counter() - t0
    vae = rej.estimator_.named_steps["vae"]
    print(
        f"recogniser with reject option fitted in {fit_s:.0f} s (two fits: "
        f"hold-out and refit; {vae.n_iter_} VAE epochs in the refit); "
        f"threshold {rej.threshold_:.3f}",
        flush=True,
    )
    dets, base_s = detectors(F_tr, y_tr, rej, args.quick)
    print(f"baselines fitted in {base_s:.0f} s", flush=True)
    predict = rej.estimator_.predict(F_te)
    acc_all = float(np.mean(predict == y_te))
    results = {
        name: evaluate(score, F_te, y_te, unknown, predict)
        for name, score in dets.items()
    }

    # the deployed threshold
    pred = rej.predict(F_te)
    kept = pred != -1
    deployed = {
        "known kept": float(kept.mean()),
        "accuracy kept": float(np.mean(pred[kept] == y_te[kept])),
    }
    for kind, F_u in unknown.items():
        deployed[kind] = float(np.mean(rej.predict(F_u) == -1))
    s_known = rej.score_samples(F_te)
    s_gen_digits = rej.score_samples(F_gen_digits)
    control = (
        float(np.mean(s_gen_digits < rej.threshold_)),
        auc(s_known, s_gen_digits),
    )

    print("\nheld-out digits (real speakers, words never trained on):", flush=True)
    split_rows = {}
    t0 = time.perf_counter()
    held_out_digits(F_tr, y_tr, F_te, y_te, args.quick, split_rows)
    held_s = time.perf_counter() - t0

    # ---------------------------------------------------------------- tables
    print(
        "\nROC AUC known vs unknown / fraction of the unknowns rejected at the "
        "threshold keeping 95 % of the known test words / the recogniser's "
        f"accuracy on those kept (without rejection: {acc_all:.3f}). "
        "Held-out digits: mean over the two splits.\n"
    )
    header = ["detector", *UNKNOWN_KINDS, "all unknown", "held-out digits"]
    header += ["accuracy on kept known"]
    print("| " + " | ".join(header) + " |")
    print("|---|" + "--:|" * (len(header) - 1))
    for name, res in results.items():
        cells = [
            f"{res[k][0]:.3f} / {res[k][1]:.2f}"
            for k in (*UNKNOWN_KINDS, "all unknown")
        ]
        held = [r["unknown digits"] for r in split_rows[name].values()]
        cells.append(
            f"{np.mean([h[0] for h in held]):.3f} / {np.mean([h[1] for h in held]):.2f}"
        )
        cells.append(f"{res['accuracy kept']:.3f}")
        print(f"| {name} | " + " | ".join(cells) + " |")
    print("\nheld-out digits per split (AUC / rejected at 95 % kept):")
    for name, per in split_rows.items():
        print(
            f"  {name}: "
            + "; ".join(
                "known {}: {:.3f} / {:.2f}".format(k, *r["unknown digits"])
                for k, r in per.items()
            )
        )
    print(
        f"\nskvae at its learned threshold (target {TARGET:.0%} false "
        f"rejection): known test words kept {deployed['known kept']:.3f}, "
        f"accuracy on them {deployed['accuracy kept']:.3f} (without "
        f"rejection {acc_all:.3f}); rejected: "
        + ", ".join(f"{k} {deployed[k]:.3f}" for k in UNKNOWN_KINDS)
    )
    print(
        f"control, known digits said by the {n_speakers} generated speakers: "
        f"{control[0]:.3f} rejected; ROC AUC against the FSDD test digits "
        f"{control[1]:.3f} (1.0 = the synthetic voice alone gives them away)"
    )

    if not args.quick:
        ours = results["skvae: VAE ELBO + classifier confidence (default)"]
        baselines = {k: v for k, v in results.items() if not k.startswith("skvae")}
        best_name, best = max(
            baselines.items(), key=lambda kv: kv[1]["generated words"][0]
        )
        best_auc = best["generated words"][0]
        auc_w, rej_w = ours["generated words"]
        goals = [
            (
                f"ROC AUC, known digits vs generated words >= {GOALS['auc']} and "
                f"above every baseline (best: {best_name} {best_auc:.4f})",
                f"{auc_w:.4f}",
                auc_w >= GOALS["auc"] and auc_w > best_auc,
            ),
            (
                "generated words rejected at 95 % of known kept >= "
                f"{GOALS['rejected']}",
                f"{rej_w:.3f}",
                rej_w >= GOALS["rejected"],
            ),
            (
                f"accuracy on kept known words >= without rejection ({acc_all:.3f}), "
                "at the learned threshold and at 95 % kept",
                f"{deployed['accuracy kept']:.3f} / {ours['accuracy kept']:.3f}",
                min(deployed["accuracy kept"], ours["accuracy kept"]) >= acc_all,
            ),
        ]
        print("\n| goal | skvae | met? |\n|---|--:|---|")
        for goal, value, met in goals:
            print(f"| {goal} | {value} | {'yes' if met else 'NO'} |")
    print(
        f"\ntimes: data and features {data_s:.0f} s; recogniser {fit_s:.0f} s; "
        f"baselines {base_s:.0f} s; held-out digits {held_s:.0f} s"
    )
    print("load average at end: {:.2f} {:.2f} {:.2f}".format(*os.getloadavg()))
    print(f"wall time: {time.perf_counter() - start:.0f} s")
    if args.quick:
        print(_common.SMOKE_RUN)


if __name__ == "__main__":
    main()
