"""Faults, properties, concurrency and network isolation of the estimators.

The safety of model files (refused pickles, tampering) is tested in
``test_persistence.py``.
"""

import pickle
import socket
import warnings
from concurrent.futures import ThreadPoolExecutor

import numpy as np
import pytest
import torch
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from hypothesis.extra.numpy import arrays
from numpy.testing import assert_allclose, assert_array_equal

import skvae
import skvae._training as training
from skvae import VAEClassifier, VAETransformer
from skvae.exceptions import TrainingDiverged

pytestmark = pytest.mark.filterwarnings("ignore::sklearn.exceptions.ConvergenceWarning")

N_FEATURES = 5


@pytest.fixture(scope="module")
def data():
    rng = np.random.RandomState(0)
    return rng.normal(size=(200, N_FEATURES)) @ rng.normal(size=(N_FEATURES,) * 2)


@pytest.fixture(scope="module")
def model(data):
    return VAETransformer(
        n_components=2, hidden_layer_sizes=(16,), max_iter=10, random_state=0
    ).fit(data)


# ---------------------------------------------------------------- faults
def test_nan_loss_is_caught_at_the_step_and_weights_stay_finite(data, monkeypatch):
    """A loss that turns NaN mid-epoch stops training before the optimizer
    applies it; the estimator raises with advice and keeps finite weights."""
    from skvae._vae import VAE

    real = VAE.loss_terms
    calls = {"n": 0}

    def poisoned(self, x, eps, *args):
        calls["n"] += 1
        rec, kl = real(self, x, eps, *args)
        if calls["n"] == 5:  # the 5th step of training
            rec = rec * float("nan")
        return rec, kl

    monkeypatch.setattr(VAE, "loss_terms", poisoned)
    est = VAETransformer(
        n_components=2, hidden_layer_sizes=(16,), batch_size=32, max_iter=5
    )
    with pytest.raises(TrainingDiverged, match="epoch 1.*lower learning_rate_init"):
        est.fit(data)
    assert calls["n"] == 5  # detected at once: no further steps ran
    for p in est.module_.parameters():
        assert torch.isfinite(p).all()
    Z = est.transform(data)
    assert np.isfinite(Z).all()


def test_divergence_in_later_epoch_restores_best_weights(data, monkeypatch):
    from skvae._vae import VAE

    real = VAE.loss_terms
    calls = {"n": 0}

    def poisoned(self, x, eps, *args):
        calls["n"] += 1
        rec, kl = real(self, x, eps, *args)
        if calls["n"] > 7 * 4:  # 4 steps per epoch: epoch 8 diverges
            rec = rec + float("inf")
        return rec, kl

    monkeypatch.setattr(VAE, "loss_terms", poisoned)
    est = VAETransformer(
        n_components=2,
        hidden_layer_sizes=(16,),
        batch_size=64,
        max_iter=20,
        random_state=0,
    )
    with pytest.raises(TrainingDiverged, match="epoch 8"):
        est.fit(data)
    monkeypatch.setattr(VAE, "loss_terms", real)
    ref = VAETransformer(
        n_components=2,
        hidden_layer_sizes=(16,),
        batch_size=64,
        max_iter=7,
        random_state=0,
    ).fit(data)
    # the best epoch of the diverged run is epoch 7 (loss still decreasing)
    assert_allclose(est.transform(data), ref.transform(data), rtol=1e-6)


# ---------------------------------------------------------------- properties
finite_rows = arrays(
    np.float64,
    st.tuples(st.integers(1, 40), st.just(N_FEATURES)),
    elements=st.floats(-1e3, 1e3, allow_nan=False, width=32),
)


@settings(
    max_examples=30,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture],
)
@given(X=finite_rows, dtype=st.sampled_from([np.float32, np.float64]))
def test_property_outputs_have_shapes_dtypes_and_are_finite(model, X, dtype):
    X = X.astype(dtype)
    Z = model.transform(X)
    assert Z.shape == (len(X), 2)
    assert Z.dtype == dtype
    assert np.isfinite(Z).all()
    R = model.inverse_transform(Z)
    assert R.shape == X.shape
    assert R.dtype == dtype
    assert np.isfinite(R).all()
    s = model.score_samples(X)
    assert s.shape == (len(X),)
    assert np.isfinite(s).all()


@settings(
    max_examples=30,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture],
)
@given(X=finite_rows, batch=st.integers(1, 7), seed=st.integers(0, 2**16))
def test_property_transform_invariant_to_batch_size_and_row_order(
    model, X, batch, seed
):
    perm = np.random.RandomState(seed).permutation(len(X))
    full = model.transform(X)
    small = pickle.loads(pickle.dumps(model)).set_params(inference_batch_size=batch)
    assert_allclose(small.transform(X), full, rtol=1e-5, atol=1e-5)
    assert_allclose(model.transform(X[perm]), full[perm], rtol=1e-5, atol=1e-5)
    assert_allclose(
        model.score_samples(X[perm]), model.score_samples(X)[perm], rtol=1e-6
    )


@settings(max_examples=8, deadline=None)
@given(seed=st.integers(0, 2**31 - 2), n=st.integers(2, 30))
def test_property_same_random_state_same_model(seed, n):
    X = np.random.RandomState(n).normal(size=(n, 3))
    kw = dict(n_components=1, hidden_layer_sizes=(4,), max_iter=2, random_state=seed)
    a = VAETransformer(**kw).fit(X)
    b = VAETransformer(**kw).fit(X)
    assert_array_equal(a.transform(X), b.transform(X))
    assert_array_equal(a.sample(3, random_state=seed), b.sample(3, random_state=seed))


# ---------------------------------------------------------------- concurrency
def test_transform_from_many_threads_equals_serial(model, data):
    X = np.tile(data, (20, 1))
    serial = model.transform(X)
    scores = model.score_samples(X[:500])
    with ThreadPoolExecutor(max_workers=8) as pool:
        futures = [pool.submit(model.transform, X) for _ in range(16)]
        futures += [pool.submit(model.score_samples, X[:500]) for _ in range(8)]
        results = [f.result() for f in futures]
    for r in results[:16]:
        assert_array_equal(r, serial)
    for r in results[16:]:
        assert_array_equal(r, scores)


def test_explicit_thread_count_is_safe_across_threads(data):
    est = VAETransformer(
        n_components=2, hidden_layer_sizes=(8,), max_iter=2, n_threads=1, random_state=0
    ).fit(data)
    before = torch.get_num_threads()
    serial = est.transform(data)
    with ThreadPoolExecutor(max_workers=4) as pool:
        results = list(pool.map(lambda _: est.transform(data), range(12)))
    for r in results:
        assert_array_equal(r, serial)
    assert torch.get_num_threads() == before


def test_predict_proba_from_many_threads_equals_serial_and_keeps_the_model():
    """Prediction changes nothing shared: 400 calls from 4 threads give the
    serial answer, the weights stay float32 and training can continue."""
    X = np.random.RandomState(0).normal(size=(200, 4))
    y = X[:, 0] > 0
    clf = VAEClassifier(
        2, hidden_layer_sizes=(8,), max_iter=2, warm_start=True, random_state=0
    ).fit(X, y)
    serial = clf.predict_proba(X)
    with ThreadPoolExecutor(max_workers=4) as pool:
        results = list(pool.map(lambda _: clf.predict_proba(X), range(400)))
    for r in results:
        assert_array_equal(r, serial)
    assert {p.dtype for p in clf.module_.parameters()} == {torch.float32}
    clf.fit(X, y)  # a warm start on the same weights
    assert clf.n_iter_ == 4


# ---------------------------------------------------------------- network
def test_no_network_access_during_fit_predict_and_save(data, tmp_path, monkeypatch):
    def refuse(*args, **kwargs):
        raise AssertionError(f"network access attempted: {args}")

    monkeypatch.setattr(socket.socket, "connect", refuse)
    monkeypatch.setattr(socket, "create_connection", refuse)
    est = VAETransformer(n_components=2, hidden_layer_sizes=(8,), max_iter=2).fit(data)
    est.transform(data)
    est.sample(2)
    skvae.load(est.save(tmp_path / "m.safetensors"))
    # the speech front end and the offline corpus too
    from skvae.datasets import make_spoken_digits
    from skvae.features import SpeechFeatures, write_wav

    corpus = make_spoken_digits(n_speakers=1, n_repeats=1, random_state=0)
    write_wav(tmp_path / "a.wav", corpus.data[0], corpus.sr)
    fe = SpeechFeatures(sr=8000, n_mels=8, n_frames=4)
    rows = fe.transform([tmp_path / "a.wav", *corpus.data[:3]])
    fe.inverse_transform(rows[:1])


def test_keyboard_interrupt_message_and_state(data, monkeypatch):
    real = training.train_one_epoch
    calls = {"n": 0}

    def interrupted(*args, **kwargs):
        calls["n"] += 1
        if calls["n"] == 3:
            raise KeyboardInterrupt
        return real(*args, **kwargs)

    monkeypatch.setattr(training, "train_one_epoch", interrupted)
    with warnings.catch_warnings(record=True) as rec:
        warnings.simplefilter("always")
        est = VAETransformer(
            n_components=2, hidden_layer_sizes=(8,), max_iter=10, random_state=0
        ).fit(data)
    msgs = [str(w.message) for w in rec]
    assert any("interrupted by the user after 2 epoch(s)" in m for m in msgs)
    assert any("best weights so far (epoch 2)" in m for m in msgs)
    assert est.n_iter_ == 2
    assert np.isfinite(est.transform(data)).all()
