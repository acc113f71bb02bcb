"""Spoken digits from new voices: held-out FSDD speakers and cross-corpus tests.

Accuracy of digit recognisers on voices and recordings they were not trained
on (issue 15): leave-one-speaker-out on FSDD, FSDD -> generated eSpeak NG
voices and back, and the official split with few labels and noise, for rows
with speaker CMVN, VAEs, FactorizedVAE, generated voices and voice
augmentation. ``--validate`` scores the candidate settings on validation
columns instead. Run from the repository root::

    SKVAE_DATA=../shared/data nice python benchmarks/bench_generalization.py

Corpora, rows, columns, how each setting was chosen and results:
``benchmarks/README.md``.
"""

import os
import time
import warnings

os.environ.setdefault("OMP_NUM_THREADS", "1")

import _common
import numpy as np
from joblib import Parallel, delayed
from sklearn.preprocessing import StandardScaler
from sklearn.svm import SVC

from skvae import FactorizedVAE, VAETransformer
from skvae.augment import VoiceConversionSampler, VoicePerturbation
from skvae.datasets import make_spoken_digits
from skvae.evaluation import add_noise, stratified_subset
from skvae.features import GroupStandardScaler, SpeechFeatures

N_FRAMES, N_MFCC = 32, 20
FEATURES = dict(
    kind="mfcc",
    sr=8000,
    n_mfcc=N_MFCC,
    n_mels=40,
    n_frames=N_FRAMES,
    top_db=30,
    preemphasis=0.97,
)
VAE = dict(
    n_components=16,
    hidden_layer_sizes=(256, 128),
    beta=1.0,
    corruption_std=1.0,
    max_iter=60,
    n_threads=1,
)
GEN_SEED = 15
GEN = dict(n_speakers=96, n_repeats=3)
GEN_SPLIT = dict(test=32, val=16, train=48)  # voices, disjoint
QUICK_GEN = dict(n_speakers=12, n_repeats=2)
QUICK_GEN_SPLIT = dict(test=4, val=4, train=4)
# Voice perturbation (skvae.augment.VoicePerturbation): every candidate
# copy of every utterance is rendered once per corpus (cached); a row keeps
# ``copies`` of the candidates of ``kinds`` per utterance, drawn at random
# (fixed seed), as VoicePerturbation(n_copies=...) does. AUG_ROW is the
# setting of the reported rows, chosen with --validate.
AUG = dict(speed=(0.9, 1.1), vtlp=(0.9, 1.1, 1.2))
AUG_ROW = dict(kinds=("speed", "vtlp"), copies=2)
QUICK_AUG = dict(speed=(0.9,), vtlp=(1.1,))
# Voice conversion (skvae.augment.VoiceConversionSampler): copies per row
VC_COPIES = 1
FRACTIONS = (0.03, 0.10)
SNR = 10
NOISE_SEED = 0
GOALS = dict(loso=0.92, worst=0.85, cross_gain=0.10, official=0.99, f3=0.92, cost=3.0)

BASELINE = "speaker CMVN -> raw + SVC"
BEST_VAE = "speaker CMVN -> denoising VAE + SVC"

# FactorizedVAE (FHVAE) settings, chosen with --validate (see benchmarks/README.md)
FVAE = dict(
    n_components=16,
    n_group_components=8,
    discriminative_weight=10.0,
    group_latent_std=0.5,
    hidden_layer_sizes=(256, 128),
    max_iter=60,
    n_threads=1,
)

# name -> spec. cmvn: speaker CMVN first; rep: the representation (see
# make_rep), params: its settings over the defaults; synth: the generated
# training voices join the FSDD training rows; candidate: a setting tried by
# --validate only (not in the reported table unless --rows names it).
# with speaker CMVN, the FactorizedVAE is denoising as the VAETransformer
# (chosen with --validate: better on both validation columns)
DENOISING = {"corruption_std": 1.0}
ROWS = {
    "raw + SVC": dict(cmvn=False, rep="raw"),
    BASELINE: dict(cmvn=True, rep="raw"),
    BEST_VAE: dict(cmvn=True, rep="dvae"),
    "FactorizedVAE + SVC": dict(cmvn=False, rep="fvae"),
    "speaker CMVN -> denoising FactorizedVAE + SVC": dict(
        cmvn=True, rep="fvae", params=DENOISING
    ),
    # extra training speakers: generated voices, perturbed or converted copies
    "speaker CMVN -> raw + SVC, + generated voices": dict(
        cmvn=True, rep="raw", synth=True
    ),
    "speaker CMVN -> denoising VAE + SVC, + generated voices": dict(
        cmvn=True, rep="dvae", synth=True
    ),
    "speaker CMVN -> denoising FactorizedVAE + SVC, + generated voices": dict(
        cmvn=True, rep="fvae", params=DENOISING, synth=True
    ),
    "speaker CMVN -> raw + SVC, + voice perturbation": dict(
        cmvn=True, rep="raw", aug=True
    ),
    "speaker CMVN -> denoising VAE + SVC, + voice perturbation": dict(
        cmvn=True, rep="dvae", aug=True
    ),
    "speaker CMVN -> denoising FactorizedVAE + SVC, + voice perturbation": dict(
        cmvn=True, rep="fvae", params=DENOISING, aug=True
    ),
    "speaker CMVN -> raw + SVC, + voice conversion": dict(
        cmvn=True, rep="raw", vc=True
    ),
    "speaker CMVN -> raw + SVC, + generated voices + voice perturbation": dict(
        cmvn=True, rep="raw", synth=True, aug=True
    ),
    "speaker CMVN -> denoising VAE + SVC, + generated voices + voice "
    "perturbation": dict(cmvn=True, rep="dvae", synth=True, aug=True),
    # candidate settings, compared with --validate only
    "speaker CMVN -> raw + SVC, + speed perturbation (2 copies)": dict(
        cmvn=True, rep="raw", aug=dict(kinds=("speed",), copies=2), candidate=True
    ),
    "speaker CMVN -> raw + SVC, + VTLP (2 copies)": dict(
        cmvn=True, rep="raw", aug=dict(kinds=("vtlp",), copies=2), candidate=True
    ),
    "speaker CMVN -> raw + SVC, + VTLP (3 copies)": dict(
        cmvn=True, rep="raw", aug=dict(kinds=("vtlp",), copies=3), candidate=True
    ),
    "speaker CMVN -> raw + SVC, + speed and VTLP (5 copies)": dict(
        cmvn=True,
        rep="raw",
        aug=dict(kinds=("speed", "vtlp"), copies=5),
        candidate=True,
    ),
    "speaker CMVN -> raw + SVC (C=10)": dict(
        cmvn=True, rep="raw", svc={"C": 10.0}, candidate=True
    ),
    "speaker CMVN -> denoising VAE + SVC (C=10)": dict(
        cmvn=True, rep="dvae", svc={"C": 10.0}, candidate=True
    ),
    "FactorizedVAE (z2 2-D) + SVC": dict(
        cmvn=False, rep="fvae", params={"n_group_components": 2}, candidate=True
    ),
    "FactorizedVAE (z2 16-D) + SVC": dict(
        cmvn=False, rep="fvae", params={"n_group_components": 16}, candidate=True
    ),
    "FactorizedVAE (denoising) + SVC": dict(
        cmvn=False, rep="fvae", params={"corruption_std": 1.0}, candidate=True
    ),
    "speaker CMVN -> FactorizedVAE (not denoising) + SVC": dict(
        cmvn=True, rep="fvae", candidate=True
    ),
    "FactorizedVAE (alpha 0) + SVC": dict(
        cmvn=False, rep="fvae", params={"discriminative_weight": 0.0}, candidate=True
    ),
}
VAE_REPS = {"dvae", "fvae"}  # representations that are (or contain) a VAE


def make_rep(rep, seed, max_iter, params=None):
    """An unsupervised representation and whether it takes ``groups``."""
    params = {**(params or {}), "max_iter": max_iter, "random_state": seed}
    if rep == "raw":
        return StandardScaler(), False
    if rep == "dvae":
        return VAETransformer(**{**VAE, **params}), False
    if rep == "fvae":
        return FactorizedVAE(**{**FVAE, **params}), True
    raise ValueError(f"unknown representation {rep!r}")


class RowModel:
    """One row's pipeline: [speaker CMVN ->] representation -> SVC.

    The representation is fitted once (``fit``); ``features`` maps any set
    of rows with their speakers; the SVC is fitted by the caller, so that
    the few-label columns reuse one representation.
    """

    def __init__(self, spec, seed, max_iter):
        self.spec = spec
        self.rep, self.use_groups = make_rep(
            spec["rep"], seed, max_iter, spec.get("params")
        )

    def _norm(self, X, groups):
        if not self.spec["cmvn"]:
            return X
        return GroupStandardScaler().fit_transform(X, groups=groups)

    def fit(self, X, groups):
        X = self._norm(X, groups)
        if self.use_groups:
            self.rep.fit(X, groups=groups)
        else:
            self.rep.fit(X)
        return self

    def features(self, X, groups):
        X = self._norm(X, groups)
        if self.use_groups:
            return self.rep.transform(X, groups=groups)
        return self.rep.transform(X)


def split_sets(split, data):
    """Training and test rows of a split: ``(corpus, mask)`` each.

    ``split`` is a tuple: ("official",), ("loso", s), ("A",), ("B",),
    ("vloso", s, v) or ("vA",).
    """
    f, g = data["fsdd"], data["gen"]
    every = np.ones(len(f["y"]), bool)
    kind = split[0]
    if kind == "official":
        return ("fsdd", ~f["is_test"]), ("fsdd", f["is_test"])
    if kind == "loso":
        return ("fsdd", f["speaker"] != split[1]), ("fsdd", f["speaker"] == split[1])
    if kind == "vloso":
        train = (f["speaker"] != split[1]) & (f["speaker"] != split[2])
        return ("fsdd", train), ("fsdd", f["speaker"] == split[2])
    if kind == "A":
        return ("fsdd", every), ("gen", g["role"] == "test")
    if kind == "vA":
        return ("fsdd", every), ("gen", g["role"] == "val")
    if kind == "B":
        return ("gen", g["role"] == "train"), ("fsdd", every)
    raise ValueError(f"unknown split {split!r}")


def training_rows(spec, corpus, mask, data):
    """A row's training set: ``X, y, groups, origin, n_copies``.

    The rows of ``corpus`` in ``mask``; with ``spec["synth"]`` the generated
    training voices after them; with ``spec["aug"]`` the cached perturbed
    copies of every row (of both), grouped per source speaker and
    perturbation (``"speaker|vtlp=1.1"``, as
    ``ResamplingPipeline(augmented_groups="perturbation")`` names them).
    ``origin`` is the position of each row's source among the first
    ``mask.sum()`` rows (-1 for generated voices), for the few-label draws;
    ``n_copies`` the number of perturbed copies among the rows.
    """
    parts = [(corpus, mask)]
    if spec["synth"]:
        parts.append(("gen", data["gen"]["role"] == "train"))
    X, y, g, origin = [], [], [], []
    n_copies = 0
    for k, (name, m) in enumerate(parts):
        c = data[name]
        idx = np.flatnonzero(m)
        X.append(c["X"][idx])
        y.append(c["y"][idx])
        g.append(c["speaker"][idx])
        origin.append(np.arange(len(idx)) if k == 0 else np.full(len(idx), -1))
        if spec["aug"]:
            copies = data[f"{name}_aug"]
            pos = np.full(len(c["y"]), -1)
            pos[idx] = np.arange(len(idx))
            take = chosen_copies(copies, pos, spec["aug"])
            src = copies["src"][take]
            X.append(copies["X"][take])
            y.append(c["y"][src])
            g.append(np.char.add(c["speaker"][src], copies["kind"][take]))
            origin.append(pos[src] if k == 0 else np.full(len(src), -1))
            n_copies += len(src)
    return (*(np.concatenate(v) for v in (X, y, g, origin)), n_copies)


def chosen_copies(copies, pos, aug):
    """Indices of the copies a row takes: of each training source (``pos``
    >= 0), the first ``copies`` of its copies of the allowed ``kinds``, in
    the fixed random order ``key`` (as VoicePerturbation(n_copies=...)
    draws different candidates for each utterance)."""
    aug = AUG_ROW if aug is True else aug
    ok = np.isin(copies["family"], aug["kinds"]) & (pos[copies["src"]] >= 0)
    sel = np.flatnonzero(ok)
    order = sel[np.lexsort((copies["key"][sel], copies["src"][sel]))]
    src = copies["src"][order]
    first = np.r_[True, src[1:] != src[:-1]]
    start = np.maximum.accumulate(np.where(first, np.arange(len(order)), 0))
    return np.sort(order[np.arange(len(order)) - start < aug["copies"]])


def convert_voices(X, y, groups, origin, seed, max_iter):
    """Add each row rendered in another training speaker's voice.

    ``VoiceConversionSampler`` with a ``FactorizedVAE`` (the FVAE settings)
    fitted on the training rows; a copy's group is its target voice
    (``"theo|converted"``), for speaker CMVN.
    """
    sampler = VoiceConversionSampler(
        FactorizedVAE(**{**FVAE, "max_iter": max_iter, "random_state": seed}),
        n_copies=VC_COPIES,
        random_state=seed,
    )
    X_new, y_new = sampler.fit_resample(X, y, groups=groups)
    src = sampler.sample_indices_
    # a copy's group: its target voice (rows of all sources in that voice)
    new_groups = groups[src].astype(object)
    for i, (kind, who) in enumerate(sampler.perturbations_):
        if kind != "original":
            new_groups[i] = f"{who}|converted"
    return X_new, y_new, new_groups.astype(str), origin[src]


def run_task(name, seed, split, data, max_iter, n_draws):
    """Fit one row on one split's training set; score its test sets."""
    warnings.filterwarnings("ignore", message=".*max_iter.*")
    spec = {"synth": False, "aug": False, **ROWS[name]}
    (c_tr, m_tr), (c_te, m_te) = split_sets(split, data)
    X_tr, y_tr, g_tr, origin, n_copies = training_rows(spec, c_tr, m_tr, data)
    te = data[c_te]
    X_te, y_te, g_te = te["X"][m_te], te["y"][m_te], te["speaker"][m_te]
    start = time.perf_counter()
    if spec.get("vc"):
        X_tr, y_tr, g_tr, origin = convert_voices(
            X_tr, y_tr, g_tr, origin, seed, max_iter
        )
    t_rep = time.perf_counter()
    model = RowModel(spec, seed, max_iter).fit(X_tr, g_tr)
    rep_seconds = time.perf_counter() - t_rep
    Z_tr = model.features(X_tr, g_tr)
    svc = spec.get("svc", {})
    clf = SVC(**svc).fit(Z_tr, y_tr)
    fit_seconds = time.perf_counter() - start
    if spec["aug"]:  # the copies' share of the (cached) perturbation time
        fit_seconds += data["aug_seconds_per_copy"] * n_copies
    Z_te = model.features(X_te, g_te)
    res = {"acc": clf.score(Z_te, y_te)}
    if split[0] == "official":
        res["snr"] = clf.score(model.features(data["fsdd"]["noisy"], g_te), y_te)
        # few labels: a subset of the FSDD training rows is labelled; the
        # SVC gets them and their perturbed copies (no generated voice)
        n_fsdd = int(m_tr.sum())
        for frac in FRACTIONS:
            accs = []
            for draw in range(n_draws):
                # at least one label per class (only --quick has so few rows)
                size = max(round(frac * n_fsdd), len(set(y_te)))
                lab = stratified_subset(y_tr[:n_fsdd], size, random_state=draw)
                rows = np.isin(origin, lab)
                clf = SVC(**svc).fit(Z_tr[rows], y_tr[rows])
                accs.append(clf.score(Z_te, y_te))
            res[f"f{round(frac * 100)}"] = accs
    return name, seed, split, res, (fit_seconds, rep_seconds)


def load_corpora(args, need_aug=False, n_jobs=1):
    """Features of FSDD (clean, and its official test set at 10 dB) and the
    generated corpus with its speakers' roles; extracted once."""
    fsdd = _common.load_fsdd(args.data_home, load_audio=True)
    keep = fsdd.index < 10 if args.quick else np.ones(len(fsdd.target), bool)
    fe = SpeechFeatures(**FEATURES)
    X = fe.fit_transform(fsdd.data[keep]).astype(np.float32)
    assert fe.get_feature_names_out()[N_MFCC] == "mfcc0_t1"  # frame-major rows
    is_test = fsdd.is_test[keep]
    noisy = fe.transform(
        add_noise(
            fsdd.data[keep][is_test],
            SNR,
            exact_snr=False,  # white noise of the power the SNR implies
            random_state=np.random.default_rng(NOISE_SEED + SNR),
        )
    ).astype(np.float32)
    f = dict(
        X=X,
        y=fsdd.target[keep],
        speaker=fsdd.speaker[keep].astype(str),
        is_test=is_test,
        noisy=noisy,
    )
    gen = make_spoken_digits(
        **(QUICK_GEN if args.quick else GEN), random_state=GEN_SEED
    )
    voices = np.array(sorted(set(gen.speaker)))
    order = np.random.default_rng(GEN_SEED).permutation(len(voices))
    sizes = QUICK_GEN_SPLIT if args.quick else GEN_SPLIT
    role_of, start = {}, 0
    for role, n in sizes.items():
        for v in voices[order[start : start + n]]:
            role_of[v] = role
        start += n
    speaker = gen.speaker.astype(str)
    g = dict(
        X=fe.transform(gen.data).astype(np.float32),
        y=gen.target,
        speaker=speaker,
        role=np.array([role_of[s] for s in speaker]),
    )
    data = dict(fsdd=f, gen=g)
    if need_aug:
        t0, n_total = time.perf_counter(), 0
        # FSDD: every utterance; generated: the training voices only
        for name, waves, rows in (
            ("fsdd", fsdd.data[keep], np.ones(len(f["y"]), bool)),
            ("gen", gen.data, g["role"] == "train"),
        ):
            data[f"{name}_aug"] = perturbed_copies(
                fe, waves, rows, QUICK_AUG if args.quick else AUG, n_jobs
            )
            n_total += len(data[f"{name}_aug"]["src"])
        data["aug_seconds_per_copy"] = (time.perf_counter() - t0) / n_total
    return data


def perturbed_copies(fe, waves, rows, aug, n_jobs):
    """Features of every candidate perturbed copy of ``waves[rows]``.

    Returns the copies' features ``X``, their source rows ``src`` (indices
    into ``waves``), their group suffix ``kind`` ("|speed=0.9"), their
    ``family`` ("speed", "vtlp") and a random ``key`` (seed 0) that orders
    the copies of each source for :func:`chosen_copies`.
    """
    idx = np.flatnonzero(rows)
    sampler = VoicePerturbation(
        sr=FEATURES["sr"], **aug, keep_original=False, random_state=0, n_jobs=n_jobs
    )
    copies, _ = sampler.fit_resample(waves[idx], np.zeros(len(idx), int))
    src = idx[sampler.sample_indices_]
    kind = np.array([f"|{k}={v:g}" for k, v in sampler.perturbations_])
    return dict(
        X=fe.transform(copies).astype(np.float32),
        src=src,
        kind=kind,
        family=np.array([k for k, _ in sampler.perturbations_]),
        key=np.random.default_rng(0).random(len(src)),
    )


def fmt(values, digits=3):
    v = np.asarray(values, dtype=float)
    return f"{v.mean():.{digits}f} ± {v.std():.{digits}f}"


def print_goals(summary, rep_time):
    """Print each goal of issue 15 with met / not met."""
    base = summary[BASELINE]
    vae_rows = {k: v for k, v in summary.items() if ROWS[k]["rep"] in VAE_REPS}
    print("Goals (issue 15):")

    def report(text, rows):
        met = ", ".join(rows) if rows else None
        print(f"- {text}: {'MET by ' + met if met else 'NOT met'}")

    report(
        f"LOSO mean >= {GOALS['loso']} and worst >= {GOALS['worst']} with a VAE "
        f"(baseline {base['loso']:.3f} / {base['worst']:.3f})",
        [
            f"{k} ({v['loso']:.3f} / {v['worst']:.3f})"
            for k, v in vae_rows.items()
            if v["loso"] >= GOALS["loso"] and v["worst"] >= GOALS["worst"]
        ],
    )
    if vae_rows:
        best = max(vae_rows, key=lambda k: vae_rows[k]["loso"])
        print(
            f"  best VAE row on LOSO: {best} {vae_rows[best]['loso']:.3f} / "
            f"{vae_rows[best]['worst']:.3f}"
        )
    target = base["A"] + GOALS["cross_gain"]
    report(
        f"FSDD -> gen >= baseline + {GOALS['cross_gain']:.2f} = {target:.3f}",
        [f"{k} ({v['A']:.3f})" for k, v in summary.items() if v.get("A", 0) >= target],
    )
    # generated training voices come from the same synthesiser as the test
    # voices: say what the goal looks like without them
    plain = {k: v for k, v in summary.items() if not ROWS[k].get("synth")}
    top = max(plain, key=lambda k: plain[k].get("A", 0))
    print(
        f"  without generated training voices, best: {top} {plain[top]['A']:.3f} "
        f"({'met' if plain[top]['A'] >= target else 'not met'})"
    )
    report(
        f"official >= {GOALS['official']} and 3% labels >= {GOALS['f3']} with a VAE",
        [
            f"{k} ({v['official']:.3f} / {v['f3']:.3f})"
            for k, v in vae_rows.items()
            if v["official"] >= GOALS["official"] and v["f3"] >= GOALS["f3"]
        ],
    )
    for key in ("official", "f3"):
        top = max(summary, key=lambda k: summary[k][key])
        print(f"  best {key}: {top} {summary[top][key]:.3f}")
    # the new estimator's fit time against VAETransformer's on the same rows
    # (same front end and extra rows): representation fit only, LOSO sets
    pairs = []
    for k in summary:
        spec = ROWS[k]
        if spec["rep"] != "fvae" or spec.get("candidate"):
            continue
        for j in summary:
            other = ROWS[j]
            if other["rep"] == "dvae" and all(
                other.get(f) == spec.get(f) for f in ("cmvn", "synth", "aug", "vc")
            ):
                pairs.append((k, j, np.mean(rep_time[k]) / np.mean(rep_time[j])))
    report(
        f"FactorizedVAE fit <= {GOALS['cost']:.0f}x VAETransformer's on the same rows",
        [f"{k}: {r:.2f}x {j}" for k, j, r in pairs if r <= GOALS["cost"]],
    )
    for k, j, r in pairs:
        if r > GOALS["cost"]:
            print(f"  {k}: {r:.2f}x {j}")
    if not pairs:
        print("  (no FactorizedVAE row with a matching VAETransformer row run)")


def main(argv=None):
    parser = _common.make_parser(__doc__)
    _common.add_data_home(parser)
    _common.add_quick(parser, "a fifth of FSDD, 12 voices, 3 epochs, 1 seed")
    parser.add_argument(
        "--seeds", type=int, default=None, help="VAE seeds (default: 2; --quick 1)"
    )
    parser.add_argument(
        "--max-iter",
        type=int,
        default=None,
        help=f"VAE epochs (default: {VAE['max_iter']}; --quick 3)",
    )
    parser.add_argument(
        "--rows",
        default=None,
        help="comma-separated row numbers (1-based) or exact names "
        "(default: all); --list-rows prints them",
    )
    parser.add_argument(
        "--list-rows", action="store_true", help="print the rows and exit"
    )
    parser.add_argument(
        "--validate",
        action="store_true",
        help="validation columns instead of the reported ones (how settings "
        "were chosen)",
    )
    parser.add_argument(
        "--n-jobs",
        type=int,
        default=2,
        help="processes that run the fits in parallel (default: 2)",
    )
    args = parser.parse_args(argv)
    names = list(ROWS)
    if args.list_rows:
        for i, name in enumerate(names, 1):
            mark = " (candidate: --validate)" if ROWS[name].get("candidate") else ""
            print(f"{i}: {name}{mark}")
        return
    if args.rows:
        chosen = []
        for item in args.rows.split(","):
            item = item.strip()
            if item.isdigit() and 1 <= int(item) <= len(names):
                chosen.append(names[int(item) - 1])
            elif item in ROWS:
                chosen.append(item)
            else:
                parser.error(f"--rows: no row {item!r} (see --list-rows)")
        names = list(dict.fromkeys(chosen))
    elif not args.validate:
        names = [name for name in names if not ROWS[name].get("candidate")]
    n_seeds = args.seeds or (1 if args.quick else 2)
    max_iter = args.max_iter or (3 if args.quick else VAE["max_iter"])
    n_draws = 1 if args.quick else 5

    if args.quick:
        print(_common.SMOKE_RUN, flush=True)
    load_avg = os.getloadavg()
    start = time.perf_counter()
    need_aug = any(ROWS[name].get("aug") for name in names)
    data = load_corpora(args, need_aug, args.n_jobs)
    t_features = time.perf_counter() - start
    speakers = sorted(set(data["fsdd"]["speaker"]))
    if args.validate:
        splits = [
            ("vloso", s, speakers[(i + 1) % len(speakers)])
            for i, s in enumerate(speakers)
        ] + [("vA",)]
    else:
        splits = [("loso", s) for s in speakers] + [("A",), ("B",), ("official",)]

    tasks = []
    for name in names:
        spec = {"synth": False, **ROWS[name]}
        seeds = range(n_seeds) if spec["rep"] != "raw" else [0]
        for seed in seeds:
            for split in splits:
                if split[0] == "B" and spec["synth"]:
                    continue  # its training set is the generated voices already
                tasks.append((name, seed, split))
    # VAE rows first, so the parallel workers finish together
    tasks.sort(key=lambda t: ROWS[t[0]]["rep"] == "raw")
    results = Parallel(n_jobs=args.n_jobs)(
        delayed(run_task)(name, seed, split, data, max_iter, n_draws)
        for name, seed, split in tasks
    )

    table, fit_time, rep_time = {}, {}, {}
    for name, seed, split, res, seconds in results:
        row = table.setdefault(name, {})
        kind = split[0]
        if kind in ("loso", "vloso"):
            row.setdefault("per_speaker", {}).setdefault(split[-1], {})[seed] = res[
                "acc"
            ]
            fit_time.setdefault(name, []).append(seconds[0])
            rep_time.setdefault(name, []).append(seconds[1])
        elif kind == "official":
            row.setdefault("official", []).append(res["acc"])
            row.setdefault("snr", []).append(res["snr"])
            for frac in FRACTIONS:
                key = f"f{round(frac * 100)}"
                row.setdefault(key, []).extend(res[key])
        else:
            row.setdefault(kind, []).append(res["acc"])

    summary, lines = {}, []
    for name in names:
        row = table[name]
        spk = sorted(row["per_speaker"])
        per = np.array(
            [
                [row["per_speaker"][s][k] for k in sorted(row["per_speaker"][s])]
                for s in spk
            ]
        )
        loso = per.mean(axis=0)
        worst = int(np.argmin(per.mean(axis=1)))
        s = dict(loso=loso.mean(), worst=per[worst].mean())
        cells = [name, fmt(loso), f"{spk[worst]} {fmt(per[worst])}"]
        keys = ["vA"] if args.validate else ["A", "B", "official", "f3", "f10", "snr"]
        for key in keys:
            if key in row:
                s[key] = float(np.mean(row[key]))
                cells.append(fmt(row[key]))
            else:
                cells.append("-")
        cells.append(f"{np.mean(fit_time[name]):.1f}")
        summary[name] = s
        lines.append(cells)
    if args.validate:
        header = ["row", "val LOSO mean", "val LOSO worst", "val FSDD -> gen", "s/fit"]
    else:
        header = [
            "row",
            "LOSO mean",
            "LOSO worst speaker",
            "FSDD -> gen",
            "gen -> FSDD",
            "official",
            "3% labels",
            "10% labels",
            f"{SNR} dB SNR",
            "s/fit",
        ]
    total = time.perf_counter() - start
    f, g = data["fsdd"], data["gen"]
    print(
        f"Generalisation to new voices: FSDD {len(f['y'])} utterances "
        f"({len(speakers)} speakers); generated {len(g['y'])} utterances "
        + ", ".join(f"{(g['role'] == r).sum()} {r}" for r in ("test", "val", "train"))
        + f" ({len(set(g['speaker']))} voices); features {f['X'].shape[1]} = "
        f"{N_FRAMES} frames x {N_MFCC} MFCC ({t_features:.1f} s). VAE: "
        f"{VAE['n_components']} latents, {max_iter} epochs, {n_seeds} seed(s); "
        f"few labels: {n_draws} draw(s). Cells: mean ± std over seeds (and "
        "label draws); s/fit: seconds to fit on a LOSO training set."
    )
    print()
    print("| " + " | ".join(header) + " |")
    print("|" + "|".join(["---"] + ["--:"] * (len(header) - 1)) + "|")
    for cells in lines:
        print("| " + " | ".join(cells) + " |")
    print()
    if args.quick:
        print(_common.SMOKE_RUN)
    elif not args.validate and BASELINE in summary:
        print_goals(summary, rep_time)
    print(
        f"Total wall time {total:.0f} s with --n-jobs {args.n_jobs}; load average "
        f"at start {load_avg[0]:.2f} {load_avg[1]:.2f} {load_avg[2]:.2f} on "
        f"{os.cpu_count()} CPUs."
    )


if __name__ == "__main__":
    main()
