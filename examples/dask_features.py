"""Speech features of many audio files, extracted in parallel on Dask.

Feature extraction is embarrassingly parallel over files: each Dask task
reads a batch of files and returns their feature rows. The rows come back
either to this process (``dask.bag``) or stay on the cluster as one lazy
Dask array that trains a VAE out of core (``dask.array`` and
``dask_ml.wrappers.Incremental``, see ``examples/dask_incremental.py``).

The same code runs on a laptop and on a cluster: ``Client()`` connects to
the scheduler in ``DASK_SCHEDULER_ADDRESS`` when it is set, else this script
starts a local cluster. On a cluster the paths must be readable by every
worker (shared or network file system).

Run: ``python examples/dask_features.py [FOLDER]`` with a folder of audio
files (searched recursively), or without one to generate 400 spoken digits
offline (needs ``pip install "skvae[dask,synth]"``; under a minute).
"""

import argparse
import os
import tempfile
import time

import dask
import dask.array as da
import dask.bag as db
import numpy as np
from dask.distributed import Client, LocalCluster
from dask_ml.wrappers import Incremental

from skvae import VAETransformer
from skvae.datasets import load_audio_folder, make_spoken_digits
from skvae.features import SpeechFeatures, extract_features

PARAMS = dict(sr=8000, kind="logmel", n_mels=40, n_frames=16)
FILES_PER_TASK = 50


def connect():
    """The cluster named by DASK_SCHEDULER_ADDRESS, else a local one."""
    if os.environ.get("DASK_SCHEDULER_ADDRESS"):
        return Client()
    cluster = LocalCluster(n_workers=2, threads_per_worker=1, dashboard_address=None)
    return Client(cluster)


def features_bag(paths):
    """Feature rows, gathered here: dask.bag over the paths."""
    bag = db.from_sequence(paths, partition_size=FILES_PER_TASK)
    # one file per call; each task handles FILES_PER_TASK of them
    return np.stack(bag.map(extract_features, **PARAMS).compute())


def features_array(paths):
    """Feature rows as a lazy Dask array, one block per batch of files."""
    fe = SpeechFeatures(**PARAMS).fit()
    n_out = len(fe.get_feature_names_out())
    blocks = []
    for start in range(0, len(paths), FILES_PER_TASK):
        batch = list(paths[start : start + FILES_PER_TASK])
        rows = dask.delayed(fe.transform)(batch)
        blocks.append(da.from_delayed(rows, (len(batch), n_out), np.float32))
    return da.concatenate(blocks)


if __name__ == "__main__":  # worker processes import this file
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "folder",
        nargs="?",
        help="folder of audio files, searched recursively (default: 400 "
        "spoken digits generated offline with eSpeak NG)",
    )
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        if args.folder is not None:
            paths = list(load_audio_folder(args.folder).filenames)
        else:
            corpus = make_spoken_digits(
                n_speakers=8, n_repeats=5, random_state=0, out_dir=tmp
            )
            paths = list(corpus.filenames)
        print(f"{len(paths)} audio files")

        start = time.perf_counter()
        local = SpeechFeatures(**PARAMS).transform(paths)
        print(f"in this process:     {time.perf_counter() - start:5.1f} s")

        with connect() as client:
            print(f"Dask workers: {len(client.ncores())}")
            client.run(SpeechFeatures(**PARAMS).transform, paths[:1])  # warm up
            start = time.perf_counter()
            rows = features_bag(paths)
            print(f"dask.bag:            {time.perf_counter() - start:5.1f} s")
            print(f"  same rows as in this process: {np.array_equal(rows, local)}")

            X = features_array(paths)
            print(f"lazy feature array: {X}")
            # larger blocks for training, kept in the workers' memory for the
            # passes below (if they do not fit, write them once with
            # da.to_npy_stack and read them back as in dask_incremental.py)
            X = X.rechunk((500, -1)).persist()
            # a VAE trained block by block where the features are made
            inc = Incremental(
                VAETransformer(n_components=8, hidden_layer_sizes=(64,)),
                random_state=0,
            )
            for epoch in range(1, 6):  # five passes over the blocks
                start = time.perf_counter()
                inc.partial_fit(X)
                seconds = time.perf_counter() - start
                # (the first pass also waits for the features and for the
                # workers to import torch)
                print(f"Incremental VAE, pass {epoch}: {seconds:5.1f} s")
            print(f"  ELBO per utterance: {inc.estimator_.score(local):.1f} nats")
