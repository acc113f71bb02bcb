"""Out-of-core training: feature rows that do not fit in memory.

The rows live in shards on disk (``.npy`` files here; any format you can
read a block of works). Two ways to train on them with ``partial_fit``, one
epoch over the rows it is given per call:

1. Dask: the shards become one lazy Dask array, one block per shard, and
   ``dask_ml.wrappers.Incremental`` calls ``partial_fit`` block by block on
   the workers (the model travels between them with its optimizer state).
   The fitted model then transforms the array lazily, block by block.
2. Plain NumPy, no Dask: memory-map each shard and call ``partial_fit`` on
   slices of it, for several epochs.

``partial_fit`` learns the standardisation from its first call: make the
first block representative (shuffle rows across shards when writing them).

Run: ``python examples/dask_incremental.py`` (needs ``pip install
"skvae[dask]"``; about a minute on 2 cores).
"""

import argparse
import os
import tempfile
import time
import warnings
from pathlib import Path

import dask
import dask.array as da
import numpy as np
from dask.distributed import Client, LocalCluster
from dask_ml.wrappers import Incremental
from sklearn.exceptions import ConvergenceWarning

from skvae import VAETransformer

N_FEATURES = 40


def connect():
    """The cluster named by DASK_SCHEDULER_ADDRESS, else a local one."""
    if os.environ.get("DASK_SCHEDULER_ADDRESS"):
        return Client()
    cluster = LocalCluster(n_workers=2, threads_per_worker=1, dashboard_address=None)
    return Client(cluster)


def write_shards(folder, n_shards=8, rows=20_000, seed=0):
    """Stand-in for features extracted earlier: log-mel-like rows on a
    low-dimensional manifold, ``rows`` per shard."""
    mixing = np.random.RandomState(42).normal(size=(6, N_FEATURES))
    paths = []
    for i in range(n_shards):
        rng = np.random.RandomState(seed + i)
        z = rng.normal(size=(rows, 6))
        X = np.tanh(z) @ mixing * 8.0 - 40.0 + rng.normal(size=(rows, N_FEATURES))
        path = Path(folder) / f"features-{seed + i:03d}.npy"
        np.save(path, X.astype(np.float32))
        paths.append(path)
    return paths


def lazy_rows(paths):
    """One Dask array over all shards, one block per shard, read lazily.

    Each block is loaded by the worker that needs it (``dask.delayed``), so
    the files must be reachable from the workers (shared or object storage).
    """
    blocks = []
    for path in paths:
        shape = np.load(path, mmap_mode="r").shape  # reads the header only
        load = dask.delayed(np.load)(path)
        blocks.append(da.from_delayed(load, shape=shape, dtype=np.float32))
    return da.concatenate(blocks)


def make_vae():
    return VAETransformer(
        n_components=6,
        hidden_layer_sizes=(128,),
        batch_size=256,
        learning_rate_init=1e-3,
        random_state=0,
    )


def train_with_dask(paths, X_val, epochs, out_dir):
    with connect() as client:
        print(f"Dask workers: {len(client.ncores())}")
        X = lazy_rows(paths)
        print(f"training data: {X.shape} in {X.numblocks[0]} blocks of {X.chunksize}")
        inc = Incremental(make_vae(), random_state=0)  # blocks in random order
        start = time.perf_counter()
        inc.fit(X)  # one pass: one partial_fit per block
        print(f"  pass 1: held-out ELBO {inc.estimator_.score(X_val):8.2f}")
        for epoch in range(2, epochs + 1):
            inc.partial_fit(X)  # one more pass, from where it stopped
            print(f"  pass {epoch}: held-out ELBO {inc.estimator_.score(X_val):8.2f}")
        seconds = time.perf_counter() - start
        print(f"  {epochs * X.shape[0] / seconds:,.0f} rows/s")

        vae = inc.estimator_
        # lazy transform, block by block on the workers; spelling out the
        # output chunks keeps Z.shape right before computing (dask-ml's own
        # inc.transform(X) gives the same values)
        Z = X.map_blocks(
            vae.transform, chunks=(X.chunks[0], (vae.n_components,)), dtype=X.dtype
        )
        print(f"  lazy codes: {Z}")
        da.to_npy_stack(out_dir, Z)  # written one block per file
        print(f"  codes written to {out_dir}/ ({len(os.listdir(out_dir)) - 1} files)")
    return vae


def train_streaming(paths, X_val, epochs, batch_rows=5_000):
    """No Dask: memory-mapped shards, batches of rows, repeated partial_fit."""
    vae = make_vae()
    rng = np.random.RandomState(0)
    start = time.perf_counter()
    n_rows = 0
    for epoch in range(1, epochs + 1):
        for i in rng.permutation(len(paths)):
            rows = np.load(paths[i], mmap_mode="r")  # nothing read yet
            for s in range(0, rows.shape[0], batch_rows):
                vae.partial_fit(rows[s : s + batch_rows])  # reads this batch
                n_rows += min(batch_rows, rows.shape[0] - s)
        print(f"  epoch {epoch}: held-out ELBO {vae.score(X_val):8.2f}")
    print(f"  {n_rows / (time.perf_counter() - start):,.0f} rows/s")
    return vae


if __name__ == "__main__":  # worker processes import this file
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--epochs", type=int, default=3, help="passes over the shards (default: 3)"
    )
    args = parser.parse_args()
    warnings.filterwarnings("ignore", category=ConvergenceWarning)  # fixed epochs
    epochs = args.epochs
    with tempfile.TemporaryDirectory() as tmp:
        paths = write_shards(tmp)
        (val_path,) = write_shards(tmp, n_shards=1, rows=5_000, seed=100)
        X_val = np.load(val_path)

        print("1. Dask: Incremental over a Dask array")
        train_with_dask(paths, X_val, epochs, os.path.join(tmp, "codes"))
        print("2. No Dask: repeated partial_fit over memory-mapped batches")
        train_streaming(paths, X_val, epochs)

        in_memory = np.concatenate([np.load(p) for p in paths])
        start = time.perf_counter()
        full = make_vae().set_params(max_iter=epochs, tol=0.0).fit(in_memory)
        seconds = time.perf_counter() - start
        print("3. For reference, in-memory fit for the same number of epochs")
        print(f"  held-out ELBO {full.score(X_val):8.2f}")
        print(f"  {epochs * in_memory.shape[0] / seconds:,.0f} rows/s")
