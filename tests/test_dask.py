"""skvae on Dask: distributed search, out-of-core training, parallel features.

A real ``dask.distributed.LocalCluster`` (two worker processes on loopback,
one thread each) is started once for the module and closed at its end. The
same recipes are the runnable examples ``examples/dask_*.py``.
"""

import pickle
import sys

import joblib
import numpy as np
import pytest
from conftest import require_optional
from numpy.testing import assert_array_equal
from sklearn.base import clone
from sklearn.linear_model import LogisticRegression
from sklearn.model_selection import GridSearchCV, RandomizedSearchCV
from sklearn.pipeline import make_pipeline

from skvae import VAETransformer

pytestmark = pytest.mark.filterwarnings("ignore::sklearn.exceptions.ConvergenceWarning")


da = require_optional("dask.array")
distributed = require_optional("distributed")
wrappers = require_optional("dask_ml.wrappers")
cloudpickle = require_optional("cloudpickle")


@pytest.fixture(scope="module")
def client():
    # functions of this module travel to the workers by value, so the workers
    # need not import the test module
    cloudpickle.register_pickle_by_value(sys.modules[__name__])
    cluster = distributed.LocalCluster(
        n_workers=2,
        threads_per_worker=1,
        processes=True,
        host="127.0.0.1",
        dashboard_address=None,
    )
    client = distributed.Client(cluster)
    try:
        yield client
    finally:
        client.close()
        cluster.close()
        cloudpickle.unregister_pickle_by_value(sys.modules[__name__])


@pytest.fixture(scope="module")
def blobs():
    from sklearn.datasets import make_blobs

    return make_blobs(n_samples=240, n_features=8, centers=3, random_state=0)


def _low_rank(n, seed=0, n_features=10, rank=2):
    """Rows near a ``rank``-dimensional subspace: a VAE learns them quickly."""
    rng = np.random.RandomState(seed)
    basis = np.random.RandomState(42).normal(size=(rank, n_features))
    X = rng.normal(size=(n, rank)) @ basis + 0.1 * rng.normal(size=(n, n_features))
    return (X * 3.0 + 1.0).astype(np.float32)


def _worker_threads():
    import torch

    import skvae._threads as threads

    return torch.get_num_threads(), threads.default_n_threads()


# ---------------------------------------------------------------- threads
def test_workers_do_not_oversubscribe_threads(client):
    # Dask's nanny starts each worker with OMP_NUM_THREADS=1 (config
    # distributed.nanny.pre-spawn-environ), which torch honours; skvae's
    # default (n_threads=None) follows torch, so a worker's task uses one core
    per_worker = client.run(_worker_threads)
    assert len(per_worker) == 2
    for torch_threads, skvae_threads in per_worker.values():
        assert torch_threads == 1
        assert skvae_threads == 1
    # and a fit inside a task trains with that count
    used = client.submit(_threads_seen_in_training, pure=False).result()
    assert used == [1, 1]


def _threads_seen_in_training():
    import numpy as np
    import torch

    import skvae._training as training
    from skvae import VAETransformer

    seen = []
    real = training.train_one_epoch

    def spy(*args, **kwargs):
        seen.append(torch.get_num_threads())
        return real(*args, **kwargs)

    training.train_one_epoch = spy
    try:
        X = np.random.RandomState(0).normal(size=(64, 4))
        VAETransformer(hidden_layer_sizes=(4,), max_iter=2).fit(X)
    finally:
        training.train_one_epoch = real
    return seen


# ---------------------------------------------------------------- search
def test_distributed_grid_search_equals_local(client, blobs):
    X, y = blobs
    # n_threads=1 makes every fit bitwise reproducible whatever the number of
    # cores a process sees: the local run (this process, 2 cores) and the
    # Dask workers (1 thread each) then sum floats in the same order
    vae = VAETransformer(hidden_layer_sizes=(16,), max_iter=8, random_state=0)
    pipe = make_pipeline(vae.set_params(n_threads=1), LogisticRegression())
    grid = {
        "vaetransformer__n_components": [1, 2],
        "vaetransformer__beta": [0.5, 4.0],
    }
    local = GridSearchCV(pipe, grid, cv=3, n_jobs=1).fit(X, y)
    with distributed.get_task_stream(client) as stream, joblib.parallel_backend("dask"):
        remote = GridSearchCV(pipe, grid, cv=3, n_jobs=-1).fit(X, y)
    # the 4 x 3 fits ran as tasks on both workers
    assert len({task["worker"] for task in stream.data}) == 2
    assert remote.best_params_ == local.best_params_
    for key in ("mean_test_score", "split0_test_score", "split2_test_score"):
        assert_array_equal(remote.cv_results_[key], local.cv_results_[key])
    assert remote.best_score_ == local.best_score_
    assert_array_equal(
        remote.best_estimator_[0].transform(X), local.best_estimator_[0].transform(X)
    )


def test_randomized_search_by_elbo_on_dask(client, blobs):
    # no classifier: the search ranks candidates by the VAE's own ELBO
    from scipy.stats import loguniform

    X, _ = blobs
    vae = VAETransformer(hidden_layer_sizes=(16,), max_iter=8, n_threads=1)
    space = {"n_components": [1, 3], "learning_rate_init": loguniform(1e-4, 1e-2)}

    def search():
        return RandomizedSearchCV(
            vae.set_params(random_state=0), space, n_iter=3, cv=2, random_state=0
        )

    local = search().fit(X)
    with joblib.parallel_backend("dask"):
        remote = search().fit(X)
    assert remote.best_params_ == local.best_params_
    assert_array_equal(
        remote.cv_results_["mean_test_score"], local.cv_results_["mean_test_score"]
    )


def test_estimators_pickle_small(blobs):
    X, _ = blobs
    params = dict(n_components=2, hidden_layer_sizes=(16,), max_iter=3)
    # what a search sends to a worker: parameters only
    assert len(pickle.dumps(clone(VAETransformer(**params)))) < 2_000
    small = VAETransformer(**params).fit(X)
    big = VAETransformer(**params).fit(np.tile(X, (10, 1)))
    n_weights = sum(p.numel() for p in small.module_.parameters())
    for est in (small, big):
        state = est.__getstate__()
        assert "_optimizer_state" not in state and "_generator_states" not in state
    # no training data inside: the size does not grow with the rows
    assert abs(len(pickle.dumps(big)) - len(pickle.dumps(small))) < 200
    assert len(pickle.dumps(small)) < 4 * n_weights + 10_000
    # continuations (warm_start, partial_fit, hence Incremental) keep the
    # optimizer so that training can go on where it stopped, on any worker
    part = VAETransformer(**params).partial_fit(X)
    assert "_optimizer_state" in part.__getstate__()


# ---------------------------------------------------------------- out of core
def _incremental_vae(**kw):
    return VAETransformer(
        n_components=2,
        hidden_layer_sizes=(16,),
        batch_size=50,
        learning_rate_init=3e-3,
        random_state=0,
        **kw,
    )


def test_incremental_trains_over_blocks_and_transforms_lazily(client):
    X = _low_rank(4000)
    X_test = _low_rank(500, seed=1)
    dX = da.from_array(X, chunks=(500, X.shape[1]))
    assert dX.numblocks[0] == 8
    # n_threads=1: bitwise comparable with the same calls made here (below)
    inc = wrappers.Incremental(_incremental_vae(n_threads=1), shuffle_blocks=False)
    inc.fit(dX)
    est = inc.estimator_
    # one partial_fit (one epoch over one block) per block, in order
    assert est.n_iter_ == 8
    loss = [h["loss"] for h in est.history_]
    assert np.mean(loss[-2:]) < np.mean(loss[:2]) - 1.0
    # held-out ELBO: better after all blocks than after the first one
    first_only = _incremental_vae(n_threads=1).partial_fit(X[:500])
    assert est.score(X_test) > first_only.score(X_test) + 1.0
    # the blocks trained on the workers equal the same partial_fit calls
    # made here, bitwise: the model moved between processes intact
    local = _incremental_vae(n_threads=1)
    for i in range(8):
        local.partial_fit(X[i * 500 : (i + 1) * 500])
    assert_array_equal(local.transform(X_test), est.transform(X_test))

    Z = inc.transform(dX)
    assert isinstance(Z, da.Array)  # lazy: nothing computed yet
    assert_array_equal(Z.compute(), est.transform(X))
    # with the output chunks spelled out (dask-ml 2025.1 keeps the input's
    # column chunks, so Z.shape above reads (4000, 10) until computed)
    Z2 = dX.map_blocks(
        est.transform, chunks=(dX.chunks[0], (est.n_components,)), dtype=dX.dtype
    )
    assert Z2.shape == (4000, 2)
    assert_array_equal(Z2[:, 1].compute(), est.transform(X)[:, 1])


@pytest.mark.slow
def test_incremental_several_passes_with_shuffled_blocks(client):
    X = _low_rank(3000)
    X_test = _low_rank(500, seed=1)
    dX = da.from_array(X, chunks=(600, X.shape[1]))
    inc = wrappers.Incremental(_incremental_vae(), random_state=0)
    inc.fit(dX)
    one_pass = inc.estimator_.score(X_test)
    for _ in range(2):  # each partial_fit call is one more pass over the blocks
        inc.partial_fit(dX)
    assert inc.estimator_.n_iter_ == 15
    assert inc.estimator_.score(X_test) > one_pass


def test_streaming_partial_fit_without_dask(tmp_path):
    # the Dask-free route: batches read from a memory-mapped .npy file
    X = _low_rank(3000)
    X_test = _low_rank(500, seed=1)
    np.save(tmp_path / "features.npy", X)
    rows = np.load(tmp_path / "features.npy", mmap_mode="r")
    vae = _incremental_vae()
    scores = []
    for _ in range(3):
        for start in range(0, rows.shape[0], 500):
            vae.partial_fit(rows[start : start + 500])
        scores.append(vae.score(X_test))
    assert vae.n_iter_ == 18
    assert scores[-1] > scores[0]


# ---------------------------------------------------------------- features
@pytest.mark.slow
def test_parallel_feature_extraction_on_the_cluster(client, tmp_path):
    db = require_optional("dask.bag")
    from skvae.features import SpeechFeatures, extract_features, write_wav

    sr = 8000
    rng = np.random.RandomState(0)
    paths = []
    for i in range(8):
        t = np.arange(sr // 4 + 200 * i) / sr
        y = np.sin(2 * np.pi * (200 + 50 * i) * t) + 0.05 * rng.normal(size=t.size)
        paths.append(str(write_wav(tmp_path / f"u{i}.wav", 0.5 * y, sr)))
    params = dict(sr=sr, n_mels=20, n_frames=8)
    expected = SpeechFeatures(**params).transform(paths)
    # one file per task
    rows = db.from_sequence(paths, npartitions=4).map(extract_features, **params)
    assert_array_equal(np.stack(rows.compute()), expected)
    # one batch of files per task, with the transformer
    fe = SpeechFeatures(**params)
    blocks = db.from_sequence(paths, partition_size=3).map_partitions(
        lambda part: [fe.transform(list(part))]
    )
    assert_array_equal(np.vstack(blocks.compute()), expected)


def test_partial_fit_does_not_reprobe_threads_on_every_call(monkeypatch):
    # a stream of partial_fit calls (Incremental, or the loop above) keeps one
    # ThreadTuner: a fresh one per call re-timed 1 and 2 threads on every
    # batch, which cost up to 10x on a machine with a busy core
    import torch

    import skvae._base as transformer_module

    made = []

    class CountingTuner(transformer_module.ThreadTuner):
        def __init__(self, *args, **kwargs):
            made.append(1)
            super().__init__(*args, **kwargs)

    monkeypatch.setattr(transformer_module, "ThreadTuner", CountingTuner)
    before = torch.get_num_threads()
    torch.set_num_threads(2)
    try:
        vae = _incremental_vae(n_threads="tune")
        X = _low_rank(1000)
        for start in range(0, 1000, 250):
            vae.partial_fit(X[start : start + 250])
        assert torch.get_num_threads() == 2  # restored after each call
    finally:
        torch.set_num_threads(before)
    assert len(made) == 1
    assert "_tuner" not in vae.__getstate__()  # timings stay on this machine
