"""The options of make_recognizer scored on validation voices.

``skvae.recipes.make_recognizer()`` is what ``skvae train`` fits; this
scores its default against other heads, no VAE step, per-utterance CMVN,
voice perturbation, generated training voices, a denoising VAE, MFCC and
the SequenceVAE (issue 22) on two validation columns (FSDD george, and 16
generated validation voices) that touch no reported figure. Run from the
repository root::

    SKVAE_DATA=../shared/data nice -n 10 python benchmarks/bench_recognizer_defaults.py

``--options seq`` runs only the SequenceVAE options and their twins
without a VAE.

Protocol and results: ``benchmarks/README.md``.
"""

import os
import sys
import time
import warnings

os.environ.setdefault("OMP_NUM_THREADS", "1")

import _common
import numpy as np
from joblib import Parallel, delayed
from sklearn.base import clone
from sklearn.pipeline import Pipeline
from sklearn.preprocessing import StandardScaler
from sklearn.svm import SVC

from skvae import SequenceVAE, recipes
from skvae.augment import VoicePerturbation
from skvae.datasets import make_spoken_digits
from skvae.recipes import make_recognizer

GEN_SEED = 15  # bench_generalization's generated corpus and voice split
VAL_VOICES = slice(32, 48)  # its validation voices (test: 0-31, train: 48-95)
TRAIN_VOICES = slice(48, 96)  # its training voices
# voice perturbation: bench_generalization's AUG / AUG_ROW (two copies of
# every training utterance, drawn among these five)
AUG = dict(speed=(0.9, 1.1), vtlp=(0.9, 1.1, 1.2), n_copies=2)
MFCC = dict(kind="mfcc", n_mfcc=20, preemphasis=0.97)
HEADS = {
    "calibrated OvR SVC": "ovr",  # make_recognizer's head
    # one-vs-one vote, Platt probabilities (deprecated in scikit-learn 1.9)
    "SVC(probability=True)": "ovo",
    # the same calibration as the default's, over one-vs-one SVC(): its
    # argmax is SVC's vote (temperature scaling keeps the order; sigmoid
    # on scikit-learn < 1.8 need not)
    "calibrated OvO SVC": "ovocal",
}
REPS = {
    None: "no VAE",
    "vae16": "VAE16",
    "dvae32": "denoising VAE32",
    "seqvae": "SequenceVAE",
}
# SequenceVAE -> StandardScaler -> head, on the front end's sequences
# (output="sequence"), fitted with the training labels (label term). Chosen
# on the validation columns (examples of the search: benchmarks/README.md).
SEQUENCE_VAE = {
    **recipes.SEQUENCE_VAE,  # make_recognizer(vae="sequence")'s settings
    "n_components": 16,
    "n_threads": 1,
    "random_state": 0,
}


class Option:
    """One recogniser: front end, representation, head and training data."""

    def __init__(self, rep, head, cmvn=None, aug=False, gen=False, mfcc=False):
        self.rep, self.head, self.cmvn = rep, head, cmvn
        self.aug, self.gen, self.mfcc = aug, gen, mfcc

    def key(self):
        return (self.rep, self.head, self.cmvn, self.aug, self.gen, self.mfcc)

    def but(self, **changes):
        return Option(**{**self.__dict__, **changes})

    @property
    def front_end(self):
        output = "sequence" if self.rep == "seqvae" else "resample"
        return ("mfcc" if self.mfcc else "logmel", self.cmvn, output)

    def name(self):
        fe = "MFCC" if self.mfcc else "log-mel"
        if self.cmvn:
            fe += f", CMVN {self.cmvn}"
        scaled = self.rep in ("dvae32", "seqvae")
        rep = REPS[self.rep] + (" -> scaler" if scaled else "")
        head = {v: k for k, v in HEADS.items()}[self.head]
        extra = "".join(
            s for s, on in ((" + gen voices", self.gen), (" + perturb", self.aug)) if on
        )
        return f"{fe} -> {rep} -> {head}{extra}"


#: make_recognizer's default before issue 22 (flat VAE16 on plain log-mel),
#: where the staged search starts
FORMER = dict(vae="flat", cmvn=None)
DEFAULT = Option("vae16", "ovr")
# the SequenceVAE options: per-utterance CMVN (mean), the default's head,
# without and with generated voices and voice perturbation
SEQ = [
    Option("seqvae", "ovr", cmvn="mean", gen=g, aug=a)
    for g, a in ((False, False), (True, False), (False, True), (True, True))
]


def front_end(kind, cmvn, output="resample"):
    """make_recognizer's front end, with MFCC, per-utterance CMVN or its
    frames as sequences (``output="sequence"``)."""
    fe = clone(make_recognizer(**FORMER)["features"])
    if kind == "mfcc":
        fe.set_params(**MFCC)
    return fe.set_params(cmvn=cmvn, output=output)


def make_model(option, max_iter):
    """The rows model (what follows the front end) of an option.

    Built from make_recognizer's own steps: its VAE (early stopping, one
    torch thread) and its calibrated one-vs-rest SVC.
    """
    default = make_recognizer(n_threads=1, max_iter=max_iter, **FORMER)["model"]
    if option.head == "ovr":
        head = clone(default["clf"])
    elif option.head == "ovocal":
        head = clone(default["clf"]).set_params(estimator=SVC())
    else:
        head = SVC(probability=True, random_state=0)
    if option.rep is None:
        steps = [("scaler", StandardScaler())]
    elif option.rep == "seqvae":  # fitted with y: the label term
        params = {**SEQUENCE_VAE, "max_iter": min(max_iter, SEQUENCE_VAE["max_iter"])}
        steps = [("vae", SequenceVAE(**params)), ("scaler", StandardScaler())]
    elif option.rep == "vae16":
        steps = [("vae", clone(default["vae"]))]
    else:  # denoising VAE32, standardised codes
        vae = clone(default["vae"]).set_params(n_components=32, corruption_std=1.0)
        steps = [("vae", vae), ("scaler", StandardScaler())]
    return Pipeline(steps + [("clf", head)])


def load_data(args):
    """Waveforms, labels and the column masks; perturbed copies rendered once.

    Returns a dict with the waveforms of every source set (``fsdd``, the
    generated ``val`` and ``train`` voices, ``aug_fsdd`` and ``aug_train``:
    the perturbed copies of FSDD without yweweler and of the generated
    training voices), their labels, each copy's source, the columns, and
    the seconds per utterance of generating, perturbing and featurising.
    """
    fsdd = _common.load_fsdd(args.data_home, load_audio=True)
    t0 = time.perf_counter()
    gen = make_spoken_digits(96, 3, random_state=GEN_SEED)
    gen_seconds = (time.perf_counter() - t0) / len(gen.target)
    voices = np.array(sorted(set(gen.speaker)))
    order = np.random.default_rng(GEN_SEED).permutation(len(voices))
    val = np.isin(gen.speaker, voices[order[VAL_VOICES]])
    train = np.isin(gen.speaker, voices[order[TRAIN_VOICES]])
    speaker = np.asarray(fsdd.speaker).astype(str)
    keep = np.ones(len(speaker), bool)
    if args.quick:  # a tenth of FSDD and of the generated voices
        keep = np.arange(len(speaker)) % 10 == 0
        val &= np.arange(len(val)) % 10 == 0
        train &= np.arange(len(train)) % 10 == 0
    waves = {
        "fsdd": np.asarray(fsdd.data, dtype=object)[keep],
        "val": np.asarray(gen.data, dtype=object)[val],
        "train": np.asarray(gen.data, dtype=object)[train],
    }
    labels = {
        "fsdd": np.asarray(fsdd.target)[keep],
        "val": np.asarray(gen.target)[val],
        "train": np.asarray(gen.target)[train],
    }
    speaker = speaker[keep]
    # the copies: FSDD without yweweler (no column trains on it) and the
    # generated training voices, two per utterance (random_state=0)
    t0, src = time.perf_counter(), {}
    for name, rows in (("fsdd", speaker != "yweweler"), ("train", None)):
        idx = np.arange(len(labels[name])) if rows is None else np.flatnonzero(rows)
        sampler = VoicePerturbation(
            sr=8000, **AUG, keep_original=False, random_state=0, n_jobs=args.n_jobs
        )
        copies, _ = sampler.fit_resample(list(waves[name][idx]), labels[name][idx])
        waves[f"aug_{name}"] = np.asarray(copies, dtype=object)
        src[name] = idx[sampler.sample_indices_]
        labels[f"aug_{name}"] = labels[name][src[name]]
    n_copies = sum(len(s) for s in src.values())
    aug_seconds = (time.perf_counter() - t0) / n_copies
    columns = {
        "val george": (~np.isin(speaker, ["george", "yweweler"]), speaker == "george"),
        "val FSDD -> gen": (speaker != "yweweler", None),
    }
    return dict(
        waves=waves,
        labels=labels,
        src=src,
        columns=columns,
        gen_seconds=gen_seconds,
        aug_seconds=aug_seconds,
        n_copies=n_copies,
    )


def as_objects(seqs):
    """A list of (n_frames_i, n_features) arrays as a 1-D object array (so
    that masks and concatenation work as on rows)."""
    out = np.empty(len(seqs), dtype=object)
    for i, seq in enumerate(seqs):
        out[i] = seq
    return out


class Features:
    """Front-end rows (or sequences, as object arrays) of every source set,
    computed once per front end."""

    def __init__(self, data, n_jobs):
        self.data, self.n_jobs, self.cache, self.seconds = data, n_jobs, {}, {}

    def __call__(self, front):
        if front not in self.cache:
            fe = front_end(*front).set_params(n_jobs=self.n_jobs)
            fe.fit(self.data["waves"]["fsdd"][:10])  # waveforms: training_sr_ = sr
            t0, n = time.perf_counter(), 0
            rows = {}
            for name, waves in self.data["waves"].items():
                rows[name] = fe.transform(list(waves))
                if front[2] == "sequence":
                    rows[name] = as_objects(rows[name])
                n += len(waves)
            self.seconds[front] = (time.perf_counter() - t0) / n
            self.cache[front] = rows
        return self.cache[front]


def training_set(option, column, data, rows):
    """Training rows, labels and extra seconds (generation, perturbation)."""
    train_mask, _ = data["columns"][column]
    labels = data["labels"]
    X, y = [rows["fsdd"][train_mask]], [labels["fsdd"][train_mask]]
    extra = 0.0
    if option.gen:
        X.append(rows["train"])
        y.append(labels["train"])
        extra += data["gen_seconds"] * len(labels["train"])
    if option.aug:
        take = train_mask[data["src"]["fsdd"]]
        X.append(rows["aug_fsdd"][take])
        y.append(labels["aug_fsdd"][take])
        n = int(take.sum())
        if option.gen:
            X.append(rows["aug_train"])
            y.append(labels["aug_train"])
            n += len(labels["aug_train"])
        extra += data["aug_seconds"] * n
    return np.concatenate(X), np.concatenate(y), extra


def test_set(column, data, rows):
    _, test_mask = data["columns"][column]
    if test_mask is None:
        return rows["val"], data["labels"]["val"]
    return rows["fsdd"][test_mask], data["labels"]["fsdd"][test_mask]


def fit_score(option, X, y, X_test, y_test, max_iter):
    """Fit an option's rows model; its accuracy and seconds to fit."""
    warnings.filterwarnings("ignore", message=".*used its epoch budget")
    warnings.filterwarnings("ignore", message=".*max_iter.*")
    warnings.filterwarnings("ignore", message=".*probability. parameter was deprec")
    model = make_model(option, max_iter)
    if option.rep == "seqvae":  # sequences: lists of arrays
        X, X_test = list(X), list(X_test)
    start = time.perf_counter()
    model.fit(X, y)
    seconds = time.perf_counter() - start
    return float(np.mean(model.predict(X_test) == y_test)), seconds


class Bench:
    """Runs options (both columns each, in parallel) and prints their rows."""

    def __init__(self, data, args, max_iter):
        self.data, self.args, self.max_iter = data, args, max_iter
        self.features = Features(data, args.n_jobs)
        self.results = {}  # key -> (option, accs, seconds per fit)
        self.choices = []  # the setting each stage kept

    def run(self, options):
        options = [o for o in options if o.key() not in self.results]
        options = list({o.key(): o for o in options}.values())
        if not options:
            return
        tasks, extras = [], []
        for option in options:
            rows = self.features(option.front_end)
            for column in self.data["columns"]:
                X, y, extra = training_set(option, column, self.data, rows)
                X_test, y_test = test_set(column, self.data, rows)
                tasks.append((option, X, y, X_test, y_test))
                # the main job also featurises its training audio
                extra += self.features.seconds[option.front_end] * len(y)
                extras.append(extra)
        out = Parallel(n_jobs=self.args.n_jobs)(
            delayed(fit_score)(o, X, y, Xt, yt, self.max_iter)
            for o, X, y, Xt, yt in tasks
        )
        n_cols = len(self.data["columns"])
        for k, option in enumerate(options):
            part = out[k * n_cols : (k + 1) * n_cols]
            accs = [a for a, _ in part]
            seconds = float(
                np.mean([s + e for (_, s), e in zip(part, extras[k * n_cols :])])
            )
            self.results[option.key()] = (option, accs, seconds)
            cells = " | ".join(f"{a:.3f}" for a in accs)
            print(
                f"| {option.name()} | {cells} | {np.mean(accs):.3f} | {seconds:.0f} |",
                flush=True,
            )

    def mean(self, option):
        return float(np.mean(self.results[option.key()][1]))

    def best(self, options):
        return max(options, key=self.mean)


QUICK = [  # --quick: one option of each kind (every code path), no choice made
    DEFAULT,
    Option("vae16", "ovo"),
    Option(None, "ovocal"),
    Option(None, "ovo", cmvn="mean"),
    Option("vae16", "ovo", aug=True),
    Option(None, "ovr", cmvn="mean", aug=True, gen=True),
    Option("dvae32", "ovo", aug=True, mfcc=True),
    SEQ[3],  # the SequenceVAE, with the option above as its twin
]


def with_twins(options):
    """Each option, then the same without its VAE step."""
    return [o for option in options for o in (option, option.but(rep=None))]


def staged(bench):
    """The options, in stages: each stage keeps the best setting of the last.

    A setting is chosen by the mean over both columns of its rows with and
    without the VAE (so that the choice favours neither).
    """
    pair = [Option("vae16", "ovr"), Option(None, "ovr")]

    def both(option):  # the option with its VAE16 and without a VAE
        return [option.but(rep="vae16"), option.but(rep=None)]

    def pick(candidates):  # candidates: settings, each a pair of options
        for c in candidates:
            bench.run(c)
        chosen = max(candidates, key=lambda c: np.mean([bench.mean(o) for o in c]))
        bench.choices.append(chosen[0].but(rep=None).name())
        return chosen

    # a-c: the head, VAE16 and no VAE
    best = pick([[o.but(head=h) for o in pair] for h in ("ovr", "ovocal", "ovo")])[0]
    # d: per-utterance CMVN
    best = pick([both(best)] + [both(best.but(cmvn=c)) for c in ("mean", "meanvar")])[0]
    # e-f: voice perturbation, generated training voices, both
    aug = [
        both(best.but(aug=a, gen=g))
        for a, g in ((False, False), (True, False), (False, True), (True, True))
    ]
    best = pick(aug)[0]
    # g: a denoising VAE32 with the best augmentation
    bench.run([best.but(rep="dvae32")])
    # h: MFCC for the best option so far and its twin
    top = bench.best([o for o, _, _ in bench.results.values()])
    mfcc = [top.but(mfcc=True), top.but(mfcc=True, rep=None)]
    if top.rep is None:
        mfcc.append(top.but(mfcc=True, rep="vae16"))
    bench.run(mfcc)


def seq_verdict(bench, run_missing=True):
    """Print whether the best SequenceVAE option beats its twin without a VAE
    on both columns (the twin is run if missing and ``run_missing``)."""
    results = bench.results
    seq = [o for o, _, _ in results.values() if o.rep == "seqvae"]
    if not seq:
        return
    columns = list(bench.data["columns"])

    def cells(option):
        accs = results[option.key()][1]
        return ", ".join(f"{c} {a:.3f}" for c, a in zip(columns, accs))

    def beats(option):
        a, b = results[option.key()][1], results[option.but(rep=None).key()][1]
        return all(x > y for x, y in zip(a, b))

    best = bench.best(seq)
    twin = best.but(rep=None)
    if twin.key() not in results:
        if not run_missing:
            return
        bench.run([twin])
    verdict = "beats it" if beats(best) else "does NOT beat it"
    print(
        f"best SequenceVAE option: {best.name()} ({cells(best)}); against the "
        f"same without its VAE step, {twin.name()} ({cells(twin)}): the "
        f"SequenceVAE {verdict} on both columns"
    )
    paired = [o for o in seq if o.but(rep=None).key() in results]
    winners = [o.name() for o in paired if beats(o)]
    print(
        f"SequenceVAE options that beat their twin without a VAE on both "
        f"columns: {', '.join(winners) if winners else 'none'} "
        f"(of {len(paired)})"
    )


def verdicts(bench):
    """Print which options beat the default, and whether the VAE earns its place."""
    results = bench.results
    print("\nkept by each stage (mean of its rows with VAE16 and without a VAE):")
    for k, choice in enumerate(bench.choices, 1):
        print(f"{k}. {choice}")
    default = results[DEFAULT.key()][1]
    better = [
        o.name()
        for o, accs, _ in results.values()
        if all(a > d for a, d in zip(accs, default))
    ]
    print(
        "\noptions better than the former default on both validation columns: "
        + (", ".join(better) if better else "none")
    )
    top = bench.best([o for o, _, _ in results.values()])
    print(f"best option (mean of the columns): {top.name()} ({bench.mean(top):.3f})")
    vae = [o for o, _, _ in results.values() if o.rep is not None]
    best_vae = bench.best(vae)
    twin = best_vae.but(rep=None)
    if twin.key() not in results:
        bench.run([twin])
    a, b = results[best_vae.key()][1], results[twin.key()][1]
    verdict = (
        "beats it on both columns"
        if all(x > y for x, y in zip(a, b))
        else "does NOT beat it on both columns"
    )
    print(
        f"best VAE option: {best_vae.name()} ({bench.mean(best_vae):.3f}); "
        f"against the same without its VAE step, {twin.name()} "
        f"({bench.mean(twin):.3f}): the VAE {verdict}"
    )
    seq_verdict(bench)


def main():
    parser = _common.make_parser(__doc__)
    _common.add_data_home(parser)
    _common.add_quick(
        parser, "a tenth of FSDD and of the generated voices, 3 epochs, 8 options"
    )
    parser.add_argument(
        "--options",
        choices=("all", "seq", "seq-plain", "seq-perturb", "seq-aug"),
        default="all",
        help="all: the staged options, then the SequenceVAE ones (default); seq: "
        "only the SequenceVAE options and their twins without a VAE; seq-plain: "
        "those without voice perturbation (the perturbed twins take minutes a "
        "fit); seq-perturb: the one with perturbation alone; seq-aug: the two "
        "with perturbation (without and with generated voices)",
    )
    parser.add_argument(
        "--n-jobs",
        type=int,
        default=2,
        help="processes that run the fits (default: 2; 1 when others run heavy work)",
    )
    args = parser.parse_args()
    if args.quick:
        print(_common.SMOKE_RUN)
    start = time.perf_counter()
    load = os.getloadavg()
    data = load_data(args)
    bench = Bench(data, args, 3 if args.quick else 300)
    print(
        f"load average at start: {load[0]:.2f}; {os.cpu_count()} CPUs, --n-jobs "
        f"{args.n_jobs}; perturbed copies: {data['n_copies']} "
        f"({data['aug_seconds'] * 1000:.1f} ms each); generated utterances "
        f"{data['gen_seconds'] * 1000:.1f} ms each"
    )
    print("\n| option | " + " | ".join(data["columns"]) + " | mean | s/fit |")
    print("|---|" + "--:|" * (len(data["columns"]) + 2))
    if args.quick:
        bench.run(QUICK if args.options == "all" else with_twins(SEQ))
        print()
        seq_verdict(bench, run_missing=False)
        print(_common.SMOKE_RUN)
        return 0
    if args.options.startswith("seq"):
        chosen = {
            "seq": SEQ,
            "seq-plain": SEQ[:2],
            "seq-perturb": SEQ[2:3],
            "seq-aug": SEQ[2:],
        }
        bench.run(with_twins(chosen[args.options]))
        print()
        seq_verdict(bench)
    else:
        staged(bench)
        bench.run(with_twins(SEQ))
        verdicts(bench)
    print(f"\ntotal {time.perf_counter() - start:.0f} s")
    return 0


if __name__ == "__main__":
    sys.exit(main())
