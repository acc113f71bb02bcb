"""skvae on Dask against the same work on one machine.

Grid search on a Dask ``LocalCluster`` against joblib's local processes, and
out-of-core training (``Incremental``, ``partial_fit`` over memory-mapped
batches) against in-memory ``fit``. Run from the repository root (needs the
``dask`` extra)::

    python benchmarks/bench_dask.py [--quick]

Protocol and results: ``benchmarks/README.md``.
"""

import contextlib
import json
import os
import statistics
import tempfile
import time
import warnings
from pathlib import Path

import _common
import dask
import dask.array as da
import joblib
import numpy as np
from dask.distributed import Client, LocalCluster
from dask_ml.wrappers import Incremental
from sklearn.datasets import load_digits
from sklearn.model_selection import GridSearchCV
from sklearn.pipeline import make_pipeline
from sklearn.svm import SVC

from skvae import VAETransformer


def quiet():
    warnings.filterwarnings("ignore")  # ConvergenceWarning: fixed epochs


# ---------------------------------------------------------------- grid search
def grid_search(n_jobs, max_iter):
    pipe = make_pipeline(
        VAETransformer(
            hidden_layer_sizes=(64,),
            max_iter=max_iter,
            batch_size=64,
            random_state=0,
            n_threads=1,
        ),
        SVC(),
    )
    params = {
        "vaetransformer__n_components": [4, 8],
        "vaetransformer__beta": [0.5, 1.0],
        "vaetransformer__learning_rate_init": [1e-3, 3e-3],
    }
    return GridSearchCV(pipe, params, cv=3, n_jobs=n_jobs)


def bench_grid(client, repeats, max_iter):
    X, y = load_digits(return_X_y=True)
    # warm both pools the same way (loky keeps its workers between calls):
    # the first fit in a process pays for importing torch and scikit-learn
    grid_search(2, 1).fit(X[:300], y[:300])
    with joblib.parallel_backend("dask"):
        grid_search(-1, 1).fit(X[:300], y[:300])
    local_times, dask_times = [], []
    for _ in range(repeats):  # alternate, so drifting load hits both
        start = time.perf_counter()
        local = grid_search(2, max_iter).fit(X, y)
        local_times.append(time.perf_counter() - start)
        start = time.perf_counter()
        with joblib.parallel_backend("dask"):
            remote = grid_search(-1, max_iter).fit(X, y)
        dask_times.append(time.perf_counter() - start)
    n_candidates = len(local.cv_results_["params"])
    diff = np.abs(
        local.cv_results_["mean_test_score"] - remote.cv_results_["mean_test_score"]
    ).max()
    return {
        "candidates": n_candidates,
        "fits": n_candidates * 3,
        "local_n_jobs2_s": statistics.median(local_times),
        "dask_2workers_s": statistics.median(dask_times),
        "local_times_s": local_times,
        "dask_times_s": dask_times,
        "same_best_params": local.best_params_ == remote.best_params_,
        "max_abs_score_diff": float(diff),
        "best_params": local.best_params_,
    }


# ---------------------------------------------------------------- out of core
def write_shards(folder, n_shards, rows, n_features=40, seed=0):
    mixing = np.random.RandomState(42).normal(size=(6, n_features))
    paths = []
    for i in range(n_shards):
        rng = np.random.RandomState(seed + i)
        X = np.tanh(rng.normal(size=(rows, 6))) @ mixing * 8.0 - 40.0
        X += rng.normal(size=X.shape)
        path = Path(folder) / f"shard-{seed + i:03d}.npy"
        np.save(path, X.astype(np.float32))
        paths.append(path)
    return paths


def lazy_rows(paths):
    blocks = []
    for path in paths:
        shape = np.load(path, mmap_mode="r").shape
        blocks.append(
            da.from_delayed(dask.delayed(np.load)(path), shape=shape, dtype=np.float32)
        )
    return da.concatenate(blocks)


def make_vae(**kw):
    return VAETransformer(
        n_components=6,
        hidden_layer_sizes=(128,),
        batch_size=256,
        random_state=0,
        n_threads=1,
        **kw,
    )


def bench_incremental(client, n_shards, rows, epochs):
    results = {}
    with tempfile.TemporaryDirectory() as tmp:
        paths = write_shards(tmp, n_shards, rows)
        (val,) = write_shards(tmp, 1, 5000, seed=1000)
        X_val = np.load(val)
        n_rows = n_shards * rows
        total = n_rows * epochs

        X = np.concatenate([np.load(p) for p in paths])
        make_vae(max_iter=1).fit(X[:1000])  # warm up this process
        start = time.perf_counter()
        vae = make_vae(max_iter=epochs, tol=0.0).fit(X)
        seconds = time.perf_counter() - start
        results["in_memory_fit"] = (total / seconds, vae.score(X_val))
        del X

        def incremental(scheduler=None):
            dX = lazy_rows(paths)
            inc = Incremental(make_vae(), random_state=0)
            config = dask.config.set(scheduler=scheduler) if scheduler else None
            with config or contextlib.nullcontext():
                start = time.perf_counter()
                inc.fit(dX)
                for _ in range(epochs - 1):
                    inc.partial_fit(dX)
                seconds = time.perf_counter() - start
            return total / seconds, inc.estimator_.score(X_val)

        results["incremental_cluster"] = incremental()
        results["incremental_threads"] = incremental("threads")

        vae = make_vae()
        start = time.perf_counter()
        for _ in range(epochs):
            for path in paths:
                shard = np.load(path, mmap_mode="r")
                for s in range(0, shard.shape[0], rows // 4):
                    vae.partial_fit(shard[s : s + rows // 4])
        seconds = time.perf_counter() - start
        results["partial_fit_loop"] = (total / seconds, vae.score(X_val))
    return {
        "rows": n_rows,
        "blocks": n_shards,
        "epochs": epochs,
        "rows_per_s": {k: v[0] for k, v in results.items()},
        "heldout_elbo": {k: v[1] for k, v in results.items()},
    }


def main(argv=None):
    parser = _common.make_parser(__doc__)
    _common.add_quick(parser, "1 repeat, 3 epochs, fewer rows")
    parser.add_argument(
        "--json", metavar="FILE", help="also write the results to this file"
    )
    args = parser.parse_args(argv)
    quiet()
    repeats, max_iter = (1, 3) if args.quick else (3, 20)
    n_shards, rows, epochs = (4, 5_000, 2) if args.quick else (8, 25_000, 3)

    print(f"CPUs: {os.cpu_count()}, load average: {os.getloadavg()[0]:.2f}")
    if args.quick:
        print(_common.SMOKE_RUN, flush=True)
    start = time.perf_counter()
    cluster = LocalCluster(
        n_workers=2,
        threads_per_worker=1,
        processes=True,
        host="127.0.0.1",
        dashboard_address=None,
    )
    client = Client(cluster)
    client.run(quiet)
    startup = time.perf_counter() - start
    print(f"LocalCluster(2 workers x 1 thread) start-up: {startup:.1f} s")
    try:
        grid = bench_grid(client, repeats, max_iter)
        inc = bench_incremental(client, n_shards, rows, epochs)
    finally:
        client.close()
        cluster.close()

    print(
        f"\n1. Grid search, {grid['candidates']} candidates x 3 folds "
        f"({grid['fits']} fits), median of {repeats}"
    )
    print(f"   local GridSearchCV(n_jobs=2): {grid['local_n_jobs2_s']:6.1f} s")
    print(f"   Dask LocalCluster, 2 workers: {grid['dask_2workers_s']:6.1f} s")
    ratio = grid["dask_2workers_s"] / grid["local_n_jobs2_s"]
    print(f"   ratio Dask / local:           {ratio:6.2f}")
    print(
        f"   same best parameters: {grid['same_best_params']}, "
        f"max |score difference|: {grid['max_abs_score_diff']:.1e}"
    )
    print(
        f"\n2. Out-of-core training, {inc['rows']:,} rows x 40 features in "
        f"{inc['blocks']} blocks, {inc['epochs']} epochs"
    )
    base = inc["rows_per_s"]["in_memory_fit"]
    for name, rate in inc["rows_per_s"].items():
        elbo = inc["heldout_elbo"][name]
        print(
            f"   {name:20s} {rate:9,.0f} rows/s  x{rate / base:4.2f}"
            f"  held-out ELBO {elbo:8.2f}"
        )
    if args.quick:
        print(_common.SMOKE_RUN)
    summary = {
        "smoke_run": args.quick,
        "cluster_startup_s": startup,
        "grid": grid,
        "incremental": inc,
        "grid_ratio_dask_over_local": ratio,
    }
    if args.json:
        Path(args.json).write_text(json.dumps(summary, indent=2, default=str))


if __name__ == "__main__":
    main()
