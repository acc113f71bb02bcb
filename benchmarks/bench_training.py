"""Training and inference speed of VAETransformer against its baselines.

Fit throughput against a hand-written torch loop and skorch, as a fraction
of the matmul peak; transform throughput; peak memory; scaling with n; fit
next to a competing process (default threads and ``n_threads="tune"``).
``--device cuda`` measures a GPU instead. Run from the repository root on an
otherwise idle machine (needs the ``bench`` extra: ``pip install -e
".[bench]"``)::

    python benchmarks/bench_training.py [--quick] [--device cuda]

Sections and results: ``benchmarks/README.md``.
"""

import contextlib
import importlib.util
import json
import multiprocessing as mp
import statistics
import subprocess
import sys
import time
import warnings

import _common
import numpy as np
import torch
from sklearn.decomposition import PCA
from torch import nn

from skvae import VAETransformer

warnings.simplefilter("ignore")  # ConvergenceWarning: we run fixed epochs

N_FEATURES, HIDDEN, N_COMPONENTS = 640, (256, 256), 16


def model_flops_per_sample(n_features=N_FEATURES, hidden=HIDDEN, d=N_COMPONENTS):
    """Training FLOPs per sample actually performed by the matrix products.

    2 FLOPs per multiply-add; forward, weight gradients and input gradients of
    every layer except the first (the data needs no gradient).
    """
    enc = [n_features, *hidden]
    layers = list(zip(enc[:-1], enc[1:])) + [(hidden[-1], d)] * 2
    dec = [d, *hidden[::-1], n_features]
    layers += list(zip(dec[:-1], dec[1:]))
    macs = sum(a * b for a, b in layers)
    first = n_features * hidden[0]
    return 2 * (macs + macs + (macs - first))


def matmul_peak(threads, n=1024, reps=30):
    """Best fp32 GEMM rate seen (a peak is the best the machine can do)."""
    torch.set_num_threads(threads)
    a, b = torch.randn(n, n), torch.randn(n, n)
    for _ in range(3):
        a @ b
    times = []
    for _ in range(reps):
        t = time.perf_counter()
        a @ b
        times.append(time.perf_counter() - t)
    return 2 * n**3 / min(times) / 1e9


def other_cpu_load(seconds=1.0):
    """CPU cores' worth of work done by other processes (to flag noisy runs)."""
    import psutil

    me = psutil.Process().pid
    procs = [p for p in psutil.process_iter() if p.pid != me]
    for p in procs:
        with contextlib.suppress(psutil.Error):
            p.cpu_percent(None)
    time.sleep(seconds)
    total = 0.0
    for p in procs:
        with contextlib.suppress(psutil.Error):
            total += p.cpu_percent(None)
    return total / 100


def check_quiet(section):
    load = other_cpu_load()
    if load > 0.2:
        print(
            f"  WARNING: other processes use {load:.1f} cores during '{section}': "
            "timings are not trustworthy; rerun on an idle machine.",
            flush=True,
        )
    return load


# ---------------------------------------------------------------- hand loop
class HandVAE(nn.Module):
    """The same model as skvae's, written directly."""

    def __init__(self, f=N_FEATURES, hidden=HIDDEN, d=N_COMPONENTS):
        super().__init__()
        h1, h2 = hidden
        self.enc = nn.Sequential(
            nn.Linear(f, h1), nn.ReLU(), nn.Linear(h1, h2), nn.ReLU()
        )
        self.mu = nn.Linear(h2, d)
        self.lv = nn.Linear(h2, d)
        self.dec = nn.Sequential(
            nn.Linear(d, h2), nn.ReLU(), nn.Linear(h2, h1), nn.ReLU(), nn.Linear(h1, f)
        )
        self.obs_lv = nn.Parameter(torch.zeros(f))

    def forward(self, x):
        h = self.enc(x)
        mu, lv = self.mu(h), self.lv(h)
        z = mu + torch.exp(0.5 * lv) * torch.randn_like(mu)
        return self.dec(z), mu, lv


def elbo_loss(x, out, mu, lv, obs_lv):
    nll = 0.5 * ((x - out) ** 2 * torch.exp(-obs_lv) + obs_lv + 1.8378770664).sum(1)
    kl = 0.5 * (mu**2 + lv.exp() - 1 - lv).sum(1)
    return (nll + kl).mean()


def hand_fit(X, batch_size, epochs):
    model = HandVAE()
    opt = torch.optim.Adam(model.parameters(), lr=1e-3)
    Xt = torch.from_numpy(X)
    n = len(Xt)
    for _ in range(epochs):
        perm = torch.randperm(n)
        for s in range(0, n, batch_size):
            xb = Xt[perm[s : s + batch_size]]
            out, mu, lv = model(xb)
            loss = elbo_loss(xb, out, mu, lv, model.obs_lv)
            opt.zero_grad(set_to_none=True)
            loss.backward()
            opt.step()
    return model


def skvae_fit(X, batch_size, epochs, threads):
    return VAETransformer(
        N_COMPONENTS,
        hidden_layer_sizes=HIDDEN,
        batch_size=batch_size,
        max_iter=epochs,
        tol=0.0,
        n_iter_no_change=10**6,
        n_threads=threads,
        random_state=0,
    ).fit(X)


def skorch_fit(X, batch_size, epochs):
    from skorch import NeuralNet

    class Net(NeuralNet):
        def get_loss(self, y_pred, y_true, X=None, training=False):
            out, mu, lv = y_pred
            return elbo_loss(X, out, mu, lv, self.module_.obs_lv)

    net = Net(
        HandVAE,
        criterion=nn.MSELoss,  # unused: get_loss computes the ELBO
        optimizer=torch.optim.Adam,
        lr=1e-3,
        batch_size=batch_size,
        max_epochs=epochs,
        train_split=None,
        iterator_train__shuffle=True,
        verbose=0,
    )
    return net.fit(X, None)


def fit_section(args, peaks):
    rng = np.random.RandomState(0)
    n = 8_000 if args.quick else 20_000
    X = rng.normal(size=(n, N_FEATURES)).astype(np.float32)
    epochs = 1 if args.quick else 2
    flops = model_flops_per_sample()
    rows = []
    for threads in (1, 2):
        torch.set_num_threads(threads)
        for batch in (128, 256):
            runners = {
                "hand": lambda b=batch: hand_fit(X, b, epochs),
                "skvae": lambda b=batch, t=threads: skvae_fit(X, b, epochs, t),
                "skorch": lambda b=batch: skorch_fit(X, b, epochs),
            }
            # warm-up (kernels, allocator)
            hand_fit(X[:2048], batch, 1)
            skvae_fit(X[:2048], batch, 1, threads)
            skorch_fit(X[:2048], batch, 1)
            times = {k: [] for k in runners}
            for r in range(args.rounds):
                order = list(runners) if r % 2 == 0 else list(runners)[::-1]
                for name in order:
                    torch.set_num_threads(threads)
                    t = time.perf_counter()
                    runners[name]()
                    times[name].append(time.perf_counter() - t)
            sps = {k: n * epochs / statistics.median(v) for k, v in times.items()}
            gflops = sps["skvae"] * flops / 1e9
            rows.append(
                dict(
                    threads=threads,
                    batch=batch,
                    hand=sps["hand"],
                    skvae=sps["skvae"],
                    skorch=sps["skorch"],
                    vs_hand=sps["skvae"] / sps["hand"],
                    vs_skorch=sps["skvae"] / sps["skorch"],
                    gflops=gflops,
                    peak_frac=gflops / peaks[threads],
                )
            )
            print(
                f"  threads={threads} batch={batch}: samples/s hand {sps['hand']:,.0f}"
                f"  skvae {sps['skvae']:,.0f}  skorch {sps['skorch']:,.0f}"
                f"  | skvae/hand {rows[-1]['vs_hand']:.3f}"
                f"  skvae/skorch {rows[-1]['vs_skorch']:.2f}"
                f"  | {gflops:.1f} GFLOP/s = {rows[-1]['peak_frac']:.0%} of peak",
                flush=True,
            )
    return rows


def transform_section(args):
    torch.set_num_threads(2)
    rng = np.random.RandomState(0)
    X = rng.normal(size=(2_000 if args.quick else 20_000, N_FEATURES)).astype(
        np.float32
    )
    vae = skvae_fit(X, 256, 1, None)
    pca = PCA(N_COMPONENTS, random_state=0).fit(X)
    Xbig = np.tile(X, (5, 1))
    module = vae.module_

    def raw():
        with torch.inference_mode():
            return module.encode_mean(torch.from_numpy(Xbig)).numpy()

    runners = {
        "raw": raw,
        "skvae": lambda: vae.transform(Xbig),
        "pca": lambda: pca.transform(Xbig),
    }
    for f in runners.values():
        f()
    times = {k: [] for k in runners}
    for r in range(max(args.rounds, 5)):
        order = list(runners) if r % 2 == 0 else list(runners)[::-1]
        for name in order:
            t = time.perf_counter()
            runners[name]()
            times[name].append(time.perf_counter() - t)
    med = {k: statistics.median(v) for k, v in times.items()}
    n = len(Xbig)
    print(
        f"  {n:,} rows: samples/s raw module {n / med['raw']:,.0f}  skvae "
        f"{n / med['skvae']:,.0f}  PCA {n / med['pca']:,.0f}  | skvae time / raw "
        f"{med['skvae'] / med['raw']:.3f}  "
        f"skvae time / PCA {med['skvae'] / med['pca']:.2f}",
        flush=True,
    )
    return dict(
        raw=n / med["raw"],
        skvae=n / med["skvae"],
        pca=n / med["pca"],
        ratio_raw=med["skvae"] / med["raw"],
    )


# ---------------------------------------------------------------- memory
_RSS_CODE = r"""
import json, sys, threading, time, warnings
warnings.simplefilter("ignore")
import numpy as np, psutil, torch
from skvae import VAETransformer
proc = psutil.Process()
torch.set_num_threads(2)
warm = np.random.default_rng(1).standard_normal((64, 40), dtype=np.float32)
VAETransformer(2, hidden_layer_sizes=(8,), max_iter=1).fit(warm)
n = int(sys.argv[1])
before_data = proc.memory_info().rss
X = np.random.default_rng(0).standard_normal((n, 40), dtype=np.float32)
before_fit = proc.memory_info().rss
peak = [before_fit]
stop = False
def poll():
    while not stop:
        peak[0] = max(peak[0], proc.memory_info().rss)
        time.sleep(0.002)
th = threading.Thread(target=poll); th.start()
vae = VAETransformer(16, hidden_layer_sizes=(64, 32), max_iter=1, batch_size=256,
                     n_threads=2).fit(X)
stop = True; th.join()
model = sum(p.numel() * 4 for p in vae.module_.parameters())
print(json.dumps(dict(input=X.nbytes, before_data=before_data, before_fit=before_fit,
                      peak=peak[0], model=model)))
"""


def memory_section(args):
    n = 100_000 if args.quick else 1_000_000
    out = subprocess.run(
        [sys.executable, "-c", _RSS_CODE, str(n)],
        capture_output=True,
        text=True,
        check=True,
    )
    m = json.loads(out.stdout.strip().splitlines()[-1])
    extra = (m["peak"] - m["before_fit"]) / m["input"]
    total = (m["peak"] - m["before_data"]) / m["input"]
    print(
        f"  fit on {n:,} x 40 float32 ({m['input'] / 2**20:.0f} MiB): peak RSS above "
        f"the process before the data = {total:.2f}x the input; fit's own extra "
        f"peak = {extra:.2f}x the input; model {m['model'] / 2**10:.0f} KiB",
        flush=True,
    )
    return dict(total_multiple=total, extra_multiple=extra, **m)


# ---------------------------------------------------------------- scaling
def scaling_section(args):
    torch.set_num_threads(2)
    sizes = (10_000, 100_000) if args.quick else (10_000, 100_000, 1_000_000)
    rng = np.random.default_rng(0)
    rows = []
    for n in sizes:
        X = rng.standard_normal((n, 40), dtype=np.float32)
        est = VAETransformer(
            16,
            hidden_layer_sizes=(64, 32),
            max_iter=2,
            tol=0,
            n_threads=2,
            random_state=0,
        )
        t = time.perf_counter()
        est.fit(X)
        per_epoch = (time.perf_counter() - t) / 2
        rows.append(
            dict(n=n, seconds_per_epoch=per_epoch, us_per_row=per_epoch / n * 1e6)
        )
        print(
            f"  n={n:>9,}: {per_epoch:7.3f} s/epoch = {per_epoch / n * 1e6:.2f} us/row",
            flush=True,
        )
    return rows


# ---------------------------------------------------------------- contention
def _spin(stop_at):
    while time.time() < stop_at:
        pass


def contention_section(args):
    rng = np.random.RandomState(0)
    n = 8_000 if args.quick else 20_000
    X = rng.normal(size=(n, N_FEATURES)).astype(np.float32)
    epochs = 2

    def measure(f, threads):
        torch.set_num_threads(threads)
        t = time.perf_counter()
        f()
        return n * epochs / (time.perf_counter() - t)

    idle = {
        "hand 1 thread": measure(lambda: hand_fit(X, 256, epochs), 1),
        "hand 2 threads": measure(lambda: hand_fit(X, 256, epochs), 2),
        "skvae default": measure(lambda: skvae_fit(X, 256, epochs, None), 2),
        "skvae tune": measure(lambda: skvae_fit(X, 256, epochs, "tune"), 2),
    }
    ctx = mp.get_context("spawn")
    spinner = ctx.Process(target=_spin, args=(time.time() + 600,), daemon=True)
    spinner.start()
    time.sleep(0.5)
    try:
        busy = {
            "hand 2 threads": measure(lambda: hand_fit(X, 256, epochs), 2),
            "hand 1 thread": measure(lambda: hand_fit(X, 256, epochs), 1),
            "skvae default": measure(lambda: skvae_fit(X, 256, epochs, None), 2),
            "skvae tune": measure(lambda: skvae_fit(X, 256, epochs, "tune"), 2),
        }
    finally:
        spinner.terminate()
        spinner.join()
    for k in idle:
        print(
            f"  {k:15s}: idle {idle[k]:8,.0f}  one core busy {busy[k]:8,.0f} samples/s"
            f"  ({busy[k] / idle[k]:.2f}x)",
            flush=True,
        )
    # the default thread count follows the problem size, not the load (a
    # result independent of the load); n_threads="tune" times the steps
    ratio = busy["skvae tune"] / idle["skvae tune"]
    print(
        f"  skvae n_threads='tune' under contention keeps {ratio:.2f} of its idle "
        "speed (proportional to the lost core would be >= 0.50 on 2 cores)",
        flush=True,
    )
    return dict(idle=idle, busy=busy, skvae_ratio=ratio)


# ---------------------------------------------------------------- GPU
def _sync(device):
    if device.type == "cuda":
        torch.cuda.synchronize(device)


def _timed(f, device, rounds):
    f()  # warm-up: kernels, allocator, cuBLAS handles
    times = []
    for _ in range(rounds):
        _sync(device)
        t = time.perf_counter()
        f()
        _sync(device)
        times.append(time.perf_counter() - t)
    return statistics.median(times)


def hand_fit_on(X_dev, batch_size, epochs, device):
    """The hand loop with the data already on ``device`` (its best case)."""
    model = HandVAE().to(device)
    opt = torch.optim.Adam(model.parameters(), lr=1e-3)
    n = len(X_dev)
    for _ in range(epochs):
        perm = torch.randperm(n, device=device)
        for s in range(0, n, batch_size):
            xb = X_dev[perm[s : s + batch_size]]
            out, mu, lv = model(xb)
            loss = elbo_loss(xb, out, mu, lv, model.obs_lv)
            opt.zero_grad(set_to_none=True)
            loss.backward()
            opt.step()
    return model


def gpu_sections(args):
    """Fit and transform on ``args.device`` against baselines in the same run."""
    device = torch.device(args.device)
    if device.type == "cuda" and not torch.cuda.is_available():
        raise SystemExit(f"--device {args.device}: torch.cuda.is_available() is False")
    name = torch.cuda.get_device_name(device) if device.type == "cuda" else ""
    print(f"device {device} {name}; CPU threads {torch.get_num_threads()}")
    results = {"device": str(device), "name": name}
    n_mm = 4096
    a = torch.randn(n_mm, n_mm, device=device)
    b = torch.randn(n_mm, n_mm, device=device)
    mm = _timed(lambda: a @ b, device, 10)
    results["matmul_tflops"] = 2 * n_mm**3 / mm / 1e12
    print(f"1. fp32 matmul peak ({n_mm}^3): {results['matmul_tflops']:.1f} TFLOP/s")
    rng = np.random.RandomState(0)
    n = 20_000 if args.quick else 200_000
    X = rng.normal(size=(n, N_FEATURES)).astype(np.float32)
    X_dev = torch.from_numpy(X).to(device)
    epochs = 1 if args.quick else 2
    print(f"2. fit throughput on {n:,} x {N_FEATURES} rows, {epochs} epochs")
    results["fit"] = []
    for batch in (256, 1024, 4096):
        hand = _timed(
            lambda b=batch: hand_fit_on(X_dev, b, epochs, device), device, args.rounds
        )
        est = VAETransformer(
            N_COMPONENTS,
            hidden_layer_sizes=HIDDEN,
            batch_size=batch,
            max_iter=epochs,
            tol=0.0,
            n_iter_no_change=10**6,
            random_state=0,
            device=args.device,
        )
        ours = _timed(lambda e=est: e.fit(X), device, args.rounds)
        row = dict(
            batch=batch,
            hand=n * epochs / hand,
            skvae=n * epochs / ours,
            ratio=hand / ours,
        )
        results["fit"].append(row)
        print(
            f"  batch={batch}: samples/s hand loop (data on GPU) {row['hand']:,.0f}"
            f"  skvae {row['skvae']:,.0f}  | skvae/hand {row['ratio']:.2f}",
            flush=True,
        )
    vae = est
    module = vae.module_
    Xbig = np.tile(X, (2, 1))

    def raw():
        with torch.inference_mode():
            return module.encode_mean(torch.from_numpy(Xbig).to(device)).cpu().numpy()

    t_raw = _timed(raw, device, max(args.rounds, 5))
    t_ours = _timed(lambda: vae.transform(Xbig), device, max(args.rounds, 5))
    results["transform"] = dict(
        raw=len(Xbig) / t_raw, skvae=len(Xbig) / t_ours, ratio=t_ours / t_raw
    )
    print(
        f"3. transform {len(Xbig):,} rows (host in, host out): samples/s raw module"
        f" {results['transform']['raw']:,.0f}  skvae"
        f" {results['transform']['skvae']:,.0f}  | skvae time / raw"
        f" {results['transform']['ratio']:.2f}",
        flush=True,
    )
    n_big = 100_000 if args.quick else 1_000_000
    Xb = np.random.default_rng(0).standard_normal((n_big, 40), dtype=np.float32)
    per_epoch = {}
    for dev in (args.device, "cpu"):
        est = VAETransformer(
            16,
            hidden_layer_sizes=(64, 32),
            max_iter=2,
            tol=0,
            random_state=0,
            device=dev,
            batch_size=1024,
        )
        per_epoch[dev] = _timed(lambda e=est: e.fit(Xb), torch.device(dev), 1) / 2
    results["epoch_seconds"] = per_epoch
    print(
        f"4. one epoch on {n_big:,} x 40 rows (64-32-16, batch 1024): "
        f"{args.device} {per_epoch[args.device]:.2f} s, CPU "
        f"{per_epoch['cpu']:.2f} s  | GPU speed-up "
        f"{per_epoch['cpu'] / per_epoch[args.device]:.1f}x",
        flush=True,
    )
    return results


def judge(fit, tr, mem, cont):
    """Whether each goal is met, from the sections' results."""
    peak_frac = next(
        r["peak_frac"] for r in fit if r["threads"] == 1 and r["batch"] == 256
    )
    return {
        "fit >= 0.95x hand loop (all configs)": min(r["vs_hand"] for r in fit) >= 0.95,
        "fit >= 1.3x skorch (all configs)": min(r["vs_skorch"] for r in fit) >= 1.3,
        "fit >= 85% of matmul peak (batch 256, 1 thread)": peak_frac >= 0.85,
        "transform within 1.1x of the raw module call": tr["ratio_raw"] <= 1.1,
        "peak RSS of fit <= 2x input + model": mem["peak"] - mem["before_data"]
        <= 2 * mem["input"] + mem["model"],
        "no collapse under a competing process (n_threads='tune')": cont["skvae_ratio"]
        >= 0.5,
    }


def main(argv=None):
    parser = _common.make_parser(__doc__)
    _common.add_quick(parser, "fewer rows and epochs")
    parser.add_argument(
        "--rounds",
        type=int,
        default=3,
        help="alternating timed rounds per configuration (default: 3)",
    )
    parser.add_argument(
        "--json", metavar="FILE", help="also write the results to this file"
    )
    parser.add_argument(
        "--device",
        default="cpu",
        help="'cpu' (default) for the CPU sections, or a torch device such as "
        "'cuda' for the GPU sections",
    )
    args = parser.parse_args(argv)
    print(f"torch {torch.__version__}, {torch.get_num_threads()} threads available")
    if args.device != "cpu":
        if args.quick:
            print(_common.SMOKE_RUN, flush=True)
        results = gpu_sections(args)
        if args.json:
            with open(args.json, "w") as fh:
                json.dump(dict(smoke_run=args.quick, gpu=results), fh, indent=1)
        return
    missing = [m for m in ("skorch", "psutil") if importlib.util.find_spec(m) is None]
    if missing:
        parser.exit(
            2,
            f"bench_training.py needs {' and '.join(missing)} (the 'bench' extra): "
            'pip install -e ".[bench]"\n',
        )
    if args.quick:
        print(_common.SMOKE_RUN, flush=True)
    loads = {"start": check_quiet("start")}
    print("1. fp32 matmul peak (1024^3 sgemm)")
    peaks = {t: matmul_peak(t) for t in (1, 2)}
    print(f"  1 thread {peaks[1]:.1f} GFLOP/s, 2 threads {peaks[2]:.1f} GFLOP/s")
    print(
        f"2. fit throughput, {N_FEATURES}-{HIDDEN[0]}-{HIDDEN[1]}-{N_COMPONENTS} "
        f"Gaussian VAE ({model_flops_per_sample() / 1e6:.2f} MFLOP per sample)"
    )
    fit = fit_section(args, peaks)
    loads["fit"] = check_quiet("fit throughput")
    print("3. transform throughput")
    tr = transform_section(args)
    loads["transform"] = check_quiet("transform")
    print("4. peak memory of fit")
    mem = memory_section(args)
    print("5. scaling of fit time with n (40 features, 64-32-16 model)")
    scale = scaling_section(args)
    loads["scaling"] = check_quiet("scaling")
    print("6. fit next to a competing CPU-bound process")
    cont = contention_section(args)
    goals = None if args.quick else judge(fit, tr, mem, cont)
    if args.quick:
        print(_common.SMOKE_RUN)
    else:
        print("Goals:")
        for k, ok in goals.items():
            print(f"  [{'met' if ok else 'NOT met'}] {k}")
    if args.json:
        with open(args.json, "w") as fh:
            json.dump(
                dict(
                    smoke_run=args.quick,
                    other_load=loads,
                    peaks=peaks,
                    fit=fit,
                    transform=tr,
                    memory=mem,
                    scaling=scale,
                    contention=cont,
                    goals=goals,
                ),
                fh,
                indent=1,
            )


if __name__ == "__main__":
    main()
