"""Hyper-parameter search of a skvae pipeline on a Dask cluster.

``GridSearchCV`` runs its fits through joblib; inside
``joblib.parallel_backend("dask")`` they go to the workers of a Dask cluster
instead of local processes. Nothing else changes: same estimator, same
results for the same seeds.

The same script runs on a laptop and on a cluster: with
``DASK_SCHEDULER_ADDRESS`` set (e.g. ``tcp://scheduler:8786``) ``Client()``
connects to that scheduler, otherwise it starts a local cluster of worker
processes. Dask starts each worker with ``OMP_NUM_THREADS=1``, so torch uses
one core per worker thread and the machine is not oversubscribed.

Run: ``python examples/dask_grid_search.py`` (needs ``pip install
"skvae[dask]"``; about a minute on 2 cores).
"""

import argparse
import os
import time
import warnings

import joblib
import numpy as np
from dask.distributed import Client, LocalCluster
from sklearn.datasets import load_digits
from sklearn.exceptions import ConvergenceWarning
from sklearn.model_selection import GridSearchCV, train_test_split
from sklearn.pipeline import make_pipeline
from sklearn.svm import SVC

from skvae import VAETransformer


def connect():
    """The cluster named by DASK_SCHEDULER_ADDRESS, else a local one."""
    if os.environ.get("DASK_SCHEDULER_ADDRESS"):
        return Client()
    cluster = LocalCluster(n_workers=2, threads_per_worker=1, dashboard_address=None)
    return Client(cluster)


def quiet():
    """Short demo fits stop at max_iter: silence that warning."""
    warnings.filterwarnings("ignore", category=ConvergenceWarning)


if __name__ == "__main__":  # worker processes import this file
    argparse.ArgumentParser(description=__doc__.splitlines()[0]).parse_args()
    quiet()
    X, y = load_digits(return_X_y=True)
    X_train, X_test, y_train, y_test = train_test_split(
        X, y, test_size=0.3, stratify=y, random_state=0
    )
    pipe = make_pipeline(
        # n_threads=1: bitwise-reproducible fits whatever the cores per worker
        VAETransformer(
            hidden_layer_sizes=(64,),
            max_iter=30,
            batch_size=64,
            random_state=0,
            n_threads=1,
        ),
        SVC(),
    )
    params = {
        "vaetransformer__n_components": [8, 16],
        "vaetransformer__beta": [0.5, 1.0],
    }

    with connect() as client:
        client.run(quiet)  # the fits run (and warn) in the workers
        print(f"Dask workers: {len(client.ncores())}")
        start = time.perf_counter()
        with joblib.parallel_backend("dask"):
            grid = GridSearchCV(pipe, params, cv=3, n_jobs=-1).fit(X_train, y_train)
        print(f"Dask search:  {time.perf_counter() - start:5.1f} s")

    start = time.perf_counter()
    local = GridSearchCV(pipe, params, cv=3, n_jobs=1).fit(X_train, y_train)
    print(f"local search: {time.perf_counter() - start:5.1f} s")

    print(f"best parameters: {grid.best_params_}")
    print(f"test accuracy of the best pipeline: {grid.score(X_test, y_test):.3f}")
    same = grid.best_params_ == local.best_params_ and np.array_equal(
        grid.cv_results_["mean_test_score"], local.cv_results_["mean_test_score"]
    )
    print(f"same best parameters and scores as the local search: {same}")
