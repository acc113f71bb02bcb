"""Behaviour of VAETransformer (``skvae/_transformer.py``): sklearn
integration, reproducibility, modelling, training through fit / partial_fit,
threads and errors.

Elsewhere: groups, conv encoder and denoising in ``test_groups.py``; pickle
and weights files in ``test_persistence.py``; devices in ``test_device.py``;
the training loop itself in ``test_training.py``.
"""

import subprocess
import sys
import warnings

import numpy as np
import pytest
import torch
from conftest import require_optional
from numpy.testing import assert_allclose, assert_array_equal
from sklearn.base import clone
from sklearn.datasets import make_blobs, make_swiss_roll
from sklearn.decomposition import PCA
from sklearn.exceptions import ConvergenceWarning, NotFittedError
from sklearn.linear_model import LogisticRegression
from sklearn.model_selection import GridSearchCV
from sklearn.pipeline import Pipeline
from sklearn.utils._param_validation import InvalidParameterError

import skvae._threads as threads
import skvae._training as training
from skvae import VAEClassifier, VAETransformer
from skvae.exceptions import TrainingDiverged

pytestmark = pytest.mark.filterwarnings("ignore::sklearn.exceptions.ConvergenceWarning")

FAST = dict(hidden_layer_sizes=(32,), max_iter=30, batch_size=32, random_state=0)


@pytest.fixture(scope="module")
def blobs():
    X, y = make_blobs(n_samples=300, n_features=8, centers=3, random_state=0)
    return X, y


@pytest.fixture(scope="module")
def fitted(blobs):
    return VAETransformer(n_components=2, **FAST).fit(blobs[0])


def _weights(est):
    return {k: v.clone() for k, v in est.module_.state_dict().items()}


# ---------------------------------------------------------------- sklearn API
def test_pipeline_with_logistic_regression(blobs):
    X, y = blobs
    pipe = Pipeline(
        [("vae", VAETransformer(n_components=2, **FAST)), ("clf", LogisticRegression())]
    )
    pipe.fit(X[::2], y[::2])
    assert pipe.score(X[1::2], y[1::2]) > 0.9  # chance is 1/3


def test_grid_search_parallel_selects_by_elbo(blobs):
    X, _ = blobs
    grid = GridSearchCV(
        VAETransformer(hidden_layer_sizes=(16,), max_iter=10, random_state=0),
        {"n_components": [1, 3], "beta": [1.0, 4.0]},
        cv=2,
        n_jobs=2,
    )
    grid.fit(X)
    scores = grid.cv_results_["mean_test_score"]
    assert scores.shape == (4,)
    assert np.all(np.isfinite(scores))
    # without `scoring`, GridSearchCV uses score() = mean ELBO (higher is better)
    assert grid.best_score_ == pytest.approx(scores.max())
    assert grid.best_estimator_.score(X) == pytest.approx(
        VAETransformer(hidden_layer_sizes=(16,), max_iter=10, random_state=0)
        .set_params(**grid.best_params_)
        .fit(X)
        .score(X)
    )


def test_clone_gives_unfitted_copy_with_same_params(fitted):
    c = clone(fitted)
    assert c.get_params() == fitted.get_params()
    assert not hasattr(c, "module_")
    with pytest.raises(NotFittedError):
        c.transform(np.zeros((2, 8)))


def test_set_output_pandas_and_feature_names(blobs):
    pd = require_optional("pandas")
    X, _ = blobs
    df = pd.DataFrame(X, columns=[f"f{i}" for i in range(X.shape[1])])
    vae = VAETransformer(n_components=3, **FAST).set_output(transform="pandas")
    out = vae.fit_transform(df)
    assert isinstance(out, pd.DataFrame)
    assert list(out.columns) == [
        "vaetransformer0",
        "vaetransformer1",
        "vaetransformer2",
    ]
    assert_array_equal(vae.feature_names_in_, df.columns)
    assert_array_equal(vae.get_feature_names_out(), out.columns)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_dtype_preserved(blobs, dtype):
    X = blobs[0].astype(dtype)
    vae = VAETransformer(n_components=2, **FAST).fit(X)
    Z = vae.transform(X)
    assert Z.dtype == dtype
    assert vae.inverse_transform(Z).dtype == dtype
    assert vae.score_samples(X).dtype == np.float64


def test_transform_is_deterministic(fitted, blobs):
    X = blobs[0]
    assert_array_equal(fitted.transform(X), fitted.transform(X))
    assert_array_equal(fitted.score_samples(X), fitted.score_samples(X))


def test_transform_independent_of_inference_batch_size(fitted, blobs):
    X = blobs[0]
    small = clone(fitted).set_params(inference_batch_size=7)
    small.__dict__.update({k: v for k, v in fitted.__dict__.items() if k.endswith("_")})
    small._score_seed = fitted._score_seed
    # equal up to float32 rounding of the network's matrix products
    assert_allclose(small.transform(X), fitted.transform(X), rtol=1e-5, atol=1e-6)
    assert_allclose(small.score_samples(X), fitted.score_samples(X), rtol=1e-6)


@pytest.mark.parametrize("grouped", [False, True])
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_score_samples_returns_the_codes_of_its_one_encoder_pass(
    blobs, dtype, grouped, monkeypatch
):
    X = blobs[0].astype(dtype)
    groups = np.arange(len(X)) % 2 if grouped else None
    vae = VAETransformer(2, **dict(FAST, max_iter=3)).fit(X, groups=groups)
    passes = []
    encode = type(vae.module_).encode
    monkeypatch.setattr(
        type(vae.module_), "encode", lambda m, *a: passes.append(1) or encode(m, *a)
    )
    for k in (None, 4):
        passes.clear()
        scores, codes = vae.score_samples(X, n_importance_samples=k, return_codes=True)
        assert len(passes) == 1  # one chunk, one encoder pass (every group too)
        assert codes.dtype == dtype
        assert_array_equal(codes, vae.transform(X))
        assert_array_equal(scores, vae.score_samples(X, n_importance_samples=k))


# ---------------------------------------------------------------- reproducibility
def test_same_seed_gives_bitwise_identical_weights_and_outputs(blobs):
    X = blobs[0]
    a = VAETransformer(n_components=2, **FAST).fit(X)
    b = VAETransformer(n_components=2, **FAST).fit(X)
    for (ka, va), (kb, vb) in zip(
        a.module_.state_dict().items(), b.module_.state_dict().items()
    ):
        assert ka == kb
        assert torch.equal(va, vb)
    assert_array_equal(a.transform(X), b.transform(X))
    assert_array_equal(a.sample(5, random_state=1), b.sample(5, random_state=1))
    c = VAETransformer(n_components=2, **{**FAST, "random_state": 1}).fit(X)
    assert not np.array_equal(a.transform(X), c.transform(X))


def test_fit_does_not_touch_global_rng_state(blobs):
    torch_state = torch.get_rng_state()
    np_state = np.random.get_state()
    vae = VAETransformer(n_components=2, **FAST).fit(blobs[0])
    vae.sample(3, random_state=0)
    vae.score_samples(blobs[0], n_importance_samples=4)
    assert torch.equal(torch.get_rng_state(), torch_state)
    assert np.random.get_state()[1].tolist() == np_state[1].tolist()


# ---------------------------------------------------------------- modelling
def test_reconstructs_swiss_roll_better_than_pca():
    rng = np.random.RandomState(0)
    roll, _ = make_swiss_roll(n_samples=2000, noise=0.05, random_state=0)
    # embed the 2-D manifold (3-D roll) nonlinearly... linearly into 10-D
    X = roll @ rng.normal(size=(3, 10))
    vae = VAETransformer(
        n_components=2,
        hidden_layer_sizes=(128, 64),
        max_iter=150,
        learning_rate_init=3e-3,
        random_state=0,
    ).fit(X)
    err_vae = np.mean((vae.inverse_transform(vae.transform(X)) - X) ** 2)
    pca = PCA(n_components=2).fit(X)
    err_pca = np.mean((pca.inverse_transform(pca.transform(X)) - X) ** 2)
    assert err_vae < 0.5 * err_pca


def test_sample_matches_training_moments():
    rng = np.random.RandomState(0)
    # correlated Gaussian data with distinct means and scales per feature
    A = rng.normal(size=(4, 6))
    X = rng.normal(size=(3000, 4)) @ A * np.arange(1, 7) + np.arange(6) * 10
    vae = VAETransformer(
        n_components=4,
        hidden_layer_sizes=(64,),
        max_iter=60,
        batch_size=64,
        random_state=0,
    ).fit(X)
    S = vae.sample(20000, random_state=0)
    std = X.std(axis=0)
    # stated tolerance: means within 0.1 standard deviation, variances within 15 %
    assert np.all(np.abs(S.mean(axis=0) - X.mean(axis=0)) < 0.1 * std)
    assert_allclose(S.var(axis=0), X.var(axis=0), rtol=0.15)
    # decoder means alone carry less variance than full draws
    M = vae.sample(20000, random_state=0, observation_noise=False)
    assert np.all(M.var(axis=0) <= S.var(axis=0) * 1.05)


def test_outlier_scores_lower_than_inliers(fitted, blobs):
    X = blobs[0]
    inlier = fitted.score_samples(X)
    outliers = X[:20] + 15 * np.random.RandomState(0).normal(size=(20, X.shape[1]))
    for k in (None, 16):
        s_out = fitted.score_samples(outliers, n_importance_samples=k)
        assert s_out.max() < np.percentile(inlier, 5)


def test_iwae_bound_tighter_than_elbo(fitted, blobs):
    X = blobs[0]
    elbo = fitted.score_samples(X).mean()
    iwae = fitted.score_samples(X, n_importance_samples=64).mean()
    assert iwae > elbo
    assert fitted.score(X) == pytest.approx(elbo)


def test_scores_are_densities_in_original_units(blobs):
    """Scaling X by c changes every log-density by exactly -n_features * log c."""
    X = blobs[0]
    a = VAETransformer(n_components=2, **FAST).fit(X)
    b = VAETransformer(n_components=2, **FAST).fit(X * 10.0)
    shift = X.shape[1] * np.log(10.0)
    assert_allclose(b.score_samples(X * 10.0), a.score_samples(X) - shift, rtol=1e-4)
    assert_allclose(
        b.inverse_transform(b.transform(X * 10)),
        10 * a.inverse_transform(a.transform(X)),
        rtol=1e-3,
        atol=1e-3,
    )


def test_standardize_false_changes_model(blobs):
    X = blobs[0] * 100
    on = VAETransformer(n_components=2, **FAST).fit(X)
    off = VAETransformer(n_components=2, standardize=False, **FAST).fit(X)
    assert_array_equal(off.mean_, 0)
    assert_array_equal(off.scale_, 1)
    assert_allclose(on.mean_, X.mean(axis=0))
    assert not np.allclose(on.transform(X), off.transform(X))


def test_bernoulli_likelihood_on_binary_data():
    rng = np.random.RandomState(0)
    protos = rng.rand(3, 20) > 0.5
    X = protos[rng.randint(3, size=600)] ^ (rng.rand(600, 20) < 0.05)
    X = X.astype(float)
    vae = VAETransformer(n_components=2, likelihood="bernoulli", **FAST).fit(X)
    P = vae.inverse_transform(vae.transform(X))
    assert P.min() >= 0 and P.max() <= 1
    assert np.mean((P > 0.5) == X) > 0.9
    S = vae.sample(10, random_state=0)
    assert set(np.unique(S)) <= {0.0, 1.0}
    # a Bernoulli log-likelihood of binary data is at most 0
    assert np.all(vae.score_samples(X, n_importance_samples=8) < 0)
    with pytest.raises(ValueError, match=r"needs X in \[0, 1\]"):
        vae.fit(X * 2)
    with pytest.raises(ValueError, match="standardize=True cannot"):
        VAETransformer(likelihood="bernoulli", standardize=True).fit(X)


# ---------------------------------------------------------------- training
def test_partial_fit_runs_one_epoch_per_call(blobs):
    X = blobs[0]
    vae = VAETransformer(n_components=2, hidden_layer_sizes=(32,), random_state=0)
    losses = []
    for i in range(15):
        vae.partial_fit(X)
        assert vae.n_iter_ == i + 1
        losses.append(vae.loss_curve_[-1])
    assert losses[-1] < losses[0]
    # statistics frozen after the first call
    mean = vae.mean_.copy()
    vae.partial_fit(X + 5)
    assert_array_equal(vae.mean_, mean)
    with pytest.raises(ValueError, match="features"):
        vae.partial_fit(X[:, :3])


def test_warm_start_continues_training(blobs):
    X = blobs[0]
    vae = VAETransformer(
        n_components=2, warm_start=True, **{**FAST, "max_iter": 5}
    ).fit(X)
    w = _weights(vae)
    vae.fit(X)
    assert vae.n_iter_ == 10
    assert any(not torch.equal(w[k], v) for k, v in vae.module_.state_dict().items())
    cold = VAETransformer(n_components=2, **{**FAST, "max_iter": 5}).fit(X)
    cold.fit(X)
    assert cold.n_iter_ == 5


def test_kl_warmup_ramps_beta(blobs):
    vae = VAETransformer(
        n_components=2, beta=2.0, kl_warmup=4, **{**FAST, "max_iter": 6}
    ).fit(blobs[0])
    assert [h["beta"] for h in vae.history_] == [0.5, 1.0, 1.5, 2.0, 2.0, 2.0]
    for key in ("loss", "reconstruction", "kl"):
        assert all(np.isfinite(h[key]) for h in vae.history_)


def test_convergence_stops_early_and_warns_otherwise(blobs):
    X = blobs[0]
    with warnings.catch_warnings():
        warnings.simplefilter("error", ConvergenceWarning)
        vae = VAETransformer(
            n_components=2,
            hidden_layer_sizes=(16,),
            tol=10.0,
            n_iter_no_change=2,
            max_iter=100,
            random_state=0,
        ).fit(X)
    assert vae.n_iter_ == 3
    with pytest.warns(ConvergenceWarning, match="max_iter=3") as record:
        VAETransformer(n_components=2, max_iter=3, random_state=0).fit(X)
    assert record[0].filename == __file__  # points at the caller's fit
    # says what happened, in terms that fit a VAE (not sklearn's "consider a
    # larger max_iter", which the README calls wrong for VAEs)
    message = str(record[0].message)
    assert "larger max_iter" not in message
    assert "training loss still improved by more than tol=0.0001" in message
    assert "in the last 3 epochs" in message and "early_stopping=True" in message
    with pytest.warns(ConvergenceWarning, match="validation score still improved"):
        VAETransformer(
            n_components=2, max_iter=3, early_stopping=True, random_state=0
        ).fit(X)


def test_early_stopping_restores_best_weights():
    rng = np.random.RandomState(0)
    # few rows, a big network and a high learning rate: it overfits fast
    X = rng.normal(size=(60, 30))
    vae = VAETransformer(
        n_components=8,
        hidden_layer_sizes=(256,),
        learning_rate_init=1e-2,
        early_stopping=True,
        validation_fraction=0.3,
        n_iter_no_change=15,
        max_iter=300,
        tol=0.0,
        random_state=0,
    ).fit(X)
    scores = vae.validation_scores_
    best = int(np.argmax(scores))
    assert best < vae.n_iter_ - 1  # training went on past the best epoch
    assert vae.best_validation_score_ == pytest.approx(max(scores))
    assert scores[-1] < max(scores)


def test_divergence_raises_and_keeps_finite_weights(blobs):
    X = blobs[0]
    vae = VAETransformer(
        n_components=2,
        hidden_layer_sizes=(16,),
        learning_rate_init=1e12,
        max_iter=50,
        random_state=0,
    )
    with pytest.raises(TrainingDiverged, match="lower learning_rate_init"):
        vae.fit(X)
    for p in vae.module_.parameters():
        assert torch.isfinite(p).all()


def test_verbose_shows_progress(blobs, capsys):
    VAETransformer(n_components=2, verbose=1, **{**FAST, "max_iter": 3}).fit(blobs[0])
    err = capsys.readouterr().err
    assert "VAE" in err and "3/3" in err and "loss=" in err


# ---------------------------------------------------------------- threads
def test_thread_count_used_inside_and_restored(blobs, monkeypatch):
    seen = []
    real = training.train_one_epoch

    def spy(*args, **kwargs):
        seen.append(torch.get_num_threads())
        return real(*args, **kwargs)

    monkeypatch.setattr(training, "train_one_epoch", spy)
    before = torch.get_num_threads()
    VAETransformer(n_components=2, n_threads=1, **{**FAST, "max_iter": 2}).fit(blobs[0])
    assert seen == [1, 1]
    assert torch.get_num_threads() == before


def test_tune_uses_the_tuner_and_restores(blobs, monkeypatch):
    made = []
    real = threads.ThreadTuner

    def spy(*args, **kwargs):
        made.append(real(*args, **kwargs))
        return made[-1]

    monkeypatch.setattr("skvae._base.ThreadTuner", spy)
    before = torch.get_num_threads()
    VAETransformer(n_components=2, n_threads="tune", **FAST).fit(blobs[0])
    assert torch.get_num_threads() == before
    assert len(made) == (1 if threads.default_n_threads() > 1 else 0)
    VAETransformer(n_components=2, **FAST).fit(blobs[0])
    VAETransformer(n_components=2, n_threads=1, **FAST).fit(blobs[0])
    assert len(made) <= 1  # the default and an int never tune


def test_default_fit_does_not_follow_the_load(blobs, monkeypatch):
    """Fault 11: n_threads=None took its thread count from timed steps, and 1
    and 2 threads round differently, so one random_state gave another model
    on a busy machine. The default count now comes from the problem size and
    the CPUs: a busy CPU and a clock that favours one thread change nothing,
    and the default fit equals the fit with that count given explicitly."""
    X = blobs[0]
    kw = dict(n_components=2, hidden_layer_sizes=(256, 128), max_iter=2, random_state=0)
    monkeypatch.setattr(threads, "WORK_PER_THREAD", 2**20)  # a small net earns 2
    est = VAETransformer(**kw).fit(X)
    quiet = est.transform(X)
    n = est._fit_threads(X)
    assert n == threads.default_n_threads()  # a network this size earns every CPU
    clock = {"t": 0.0}

    def one_thread_looks_fastest():
        clock["t"] += 1.0 if torch.get_num_threads() == 1 else 50.0
        return clock["t"]

    monkeypatch.setattr(threads.time, "perf_counter", one_thread_looks_fastest)
    busy = subprocess.Popen([sys.executable, "-c", "while True: pass"])
    try:
        loaded = VAETransformer(**kw).fit(X).transform(X)
    finally:
        busy.kill()
        busy.wait()
    assert_array_equal(loaded, quiet)
    assert_array_equal(VAETransformer(n_threads=n, **kw).fit(X).transform(X), quiet)


@pytest.mark.parametrize("cls", [VAETransformer, VAEClassifier])
def test_fits_are_bitwise_reproducible_for_a_fixed_thread_count(blobs, cls):
    """What random_state promises, and what it does not.

    With an int and a fixed n_threads, two fits are bitwise equal. Different
    thread counts agree to float32 rounding only: MKL on an Intel Xeon (the
    GPU machine's CPU) gives other last bits for some matrix products with 2
    threads than with 1, so n_threads="tune", whose thread tuner follows the
    machine's load, promises no bitwise equality.
    """
    X, y = blobs
    kw = dict(n_components=2, hidden_layer_sizes=(64, 32), max_iter=3, random_state=0)
    fits = {}
    for n_threads in (1, 2):
        a, b = (cls(n_threads=n_threads, **kw).fit(X, y) for _ in range(2))
        wa, wb = _weights(a), _weights(b)
        assert all(torch.equal(wa[k], wb[k]) for k in wa)
        fits[n_threads] = a
    out = {
        n: est.transform(X) if cls is VAETransformer else est.predict_proba(X)
        for n, est in fits.items()
    }
    assert_allclose(out[1], out[2], rtol=1e-4, atol=1e-5)


# ---------------------------------------------------------------- errors
@pytest.mark.parametrize(
    "X, match",
    [
        (np.array([[1.0, np.nan], [2.0, 3.0]]), "NaN"),
        (np.array([[1.0, np.inf], [2.0, 3.0]]), "infinity"),
        (np.empty((0, 3)), "0 sample"),
        (np.arange(5.0), "Expected 2D array, got 1D array"),
        (np.array([[1e300, 1.0], [-1e300, 2.0], [1e300, 3.0]]), "so large"),
    ],
    ids=["nan", "inf", "empty", "1d", "overflow"],
)
def test_bad_fit_input(X, match):
    with pytest.raises(ValueError, match=match):
        VAETransformer(n_components=1, **FAST).fit(X)


def test_wrong_number_of_features_at_transform(fitted):
    with pytest.raises(
        ValueError, match="X has 3 features, but VAETransformer is expecting 8 features"
    ):
        fitted.transform(np.zeros((2, 3)))
    with pytest.raises(ValueError, match="latent codes with n_components=2"):
        fitted.inverse_transform(np.zeros((2, 3)))


def test_use_before_fit():
    vae = VAETransformer()
    for call in (
        lambda: vae.transform(np.zeros((2, 2))),
        lambda: vae.inverse_transform(np.zeros((2, 2))),
        lambda: vae.sample(2),
        lambda: vae.score_samples(np.zeros((2, 2))),
        lambda: vae.score(np.zeros((2, 2))),
    ):
        with pytest.raises(NotFittedError, match="not fitted yet"):
            call()


@pytest.mark.parametrize(
    "params, match",
    [
        ({"n_components": 0}, "n_components"),
        ({"beta": -1}, "beta"),
        ({"activation": "swish"}, "activation"),
        ({"likelihood": "poisson"}, "likelihood"),
        ({"batch_size": 0}, "batch_size"),
        ({"learning_rate_init": 0.0}, "learning_rate_init"),
        ({"validation_fraction": 1.0}, "validation_fraction"),
        ({"device": 3}, "device"),
        ({"n_threads": 0}, "n_threads"),
    ],
)
def test_invalid_parameters(blobs, params, match):
    with pytest.raises(InvalidParameterError, match=match):
        VAETransformer(**params).fit(blobs[0])


@pytest.mark.parametrize(
    "params, match",
    [
        ({"n_components": 9}, "n_components=9 must be at most the number of features"),
        ({"hidden_layer_sizes": (8, 0)}, "positive integers"),
        ({"early_stopping": True}, "at least 2 samples"),
    ],
)
def test_parameters_invalid_for_the_data(blobs, params, match):
    X = blobs[0][:1] if "early_stopping" in params else blobs[0]
    with pytest.raises(ValueError, match=match):
        VAETransformer(**params).fit(X)


def test_sample_count_must_be_positive(fitted):
    for bad in (0, -1):
        with pytest.raises(ValueError, match="n_samples must be at least 1"):
            fitted.sample(bad)
    with pytest.raises(TypeError, match="n_samples must be an int"):
        fitted.sample(2.5)
    with pytest.raises(ValueError, match="n_importance_samples"):
        fitted.score_samples(np.zeros((2, 8)), n_importance_samples=0)


def test_fit_makes_no_copy_of_float32_input():
    """Standardisation happens per batch inside the module: NumPy allocates
    no array of the input's size during fit (tracemalloc sees NumPy memory)."""
    import tracemalloc

    X = np.random.RandomState(0).normal(size=(200_000, 40)).astype(np.float32)
    est = VAETransformer(n_components=2, hidden_layer_sizes=(16,), max_iter=1)
    est.fit(X[:500])  # first-call set-up (imports, caches) is not the point
    tracemalloc.start()
    try:
        est.fit(X)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert peak < 0.25 * X.nbytes, (peak, X.nbytes)
