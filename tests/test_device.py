"""Devices: the CPU path and the device logic everywhere, CUDA end to end on a GPU.

CI has no GPU: the device logic is checked there by patching what torch
reports, and GPU-trained models are imitated by pickled states that claim a
CUDA device. The tests marked ``requires_cuda`` run the real thing when
``torch.cuda.is_available()`` and are skipped otherwise.
"""

import pickle

import numpy as np
import pytest
import torch
from conftest import require_optional
from numpy.testing import assert_allclose, assert_array_equal

import skvae
import skvae._device as devices
import skvae._serialize as serialize
from skvae import VAETransformer

pytestmark = pytest.mark.filterwarnings("ignore::sklearn.exceptions.ConvergenceWarning")

FAST = dict(n_components=2, hidden_layer_sizes=(16,), max_iter=5, random_state=0)

requires_cuda = pytest.mark.skipif(
    not torch.cuda.is_available(),
    reason="needs a CUDA GPU: torch.cuda.is_available() is False on this machine",
)
no_cuda = pytest.mark.skipif(
    torch.cuda.is_available(), reason="checks the behaviour of a machine without GPU"
)


@pytest.fixture(scope="module")
def X():
    rng = np.random.RandomState(0)
    return rng.normal(size=(240, 6)) @ rng.normal(size=(6, 6)) + 2.0


def _outputs(est, X):
    """Everything a fitted model computes, for comparisons."""
    Z = est.transform(X)
    return {
        "transform": Z,
        "inverse_transform": est.inverse_transform(Z),
        "sample": est.sample(5, random_state=0),
        "score_samples": est.score_samples(X),
        "iwae": est.score_samples(X, n_importance_samples=4),
        "score": np.array(est.score(X)),
    }


def _as_if_trained_on(est, device, cuda_generator=True):
    """Pickled state of ``est`` as a model trained on ``device`` would have it.

    A CUDA noise generator's state is 16 bytes (seed and Philox offset),
    unlike the CPU generator's; a GPU-trained ``partial_fit`` or
    ``warm_start`` model carries it in its pickle.
    """
    state = est.__getstate__()
    state["device_"] = torch.device(device)
    if cuda_generator and "_generator_states" in state:
        gens = list(state["_generator_states"])
        gens[1] = torch.zeros(16, dtype=torch.uint8)
        state["_generator_states"] = gens
    return state


def _load_state(state):
    est = VAETransformer.__new__(VAETransformer)
    est.__setstate__(pickle.loads(pickle.dumps(state)))
    return est


# ---------------------------------------------------------------- device logic
def test_device_resolution():
    assert devices.resolve_device("auto").type == (
        "cuda" if torch.cuda.is_available() else devices.resolve_device("auto").type
    )
    assert devices.resolve_device("cpu") == torch.device("cpu")
    with pytest.raises(ValueError, match="not a valid torch device"):
        devices.resolve_device("gpu0")


def test_device_available(monkeypatch):
    assert devices.device_available(torch.device("cpu"))
    monkeypatch.setattr(torch.cuda, "is_available", lambda: True)
    monkeypatch.setattr(torch.cuda, "device_count", lambda: 2)
    assert devices.device_available(torch.device("cuda", 1))
    assert not devices.device_available(torch.device("cuda", 2))
    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    assert not devices.device_available(torch.device("cuda"))
    assert not devices.device_available(torch.device("meta"))


@no_cuda
def test_auto_is_cpu_here_and_equals_cpu(X, monkeypatch):
    monkeypatch.setattr(torch.backends.mps, "is_available", lambda: False)
    assert devices.resolve_device("auto") == torch.device("cpu")
    auto = VAETransformer(device="auto", **FAST).fit(X)
    cpu = VAETransformer(device="cpu", **FAST).fit(X)
    assert auto.device_ == torch.device("cpu")
    for name, value in _outputs(auto, X).items():
        assert_array_equal(value, _outputs(cpu, X)[name], err_msg=name)


def test_auto_prefers_cuda_then_mps(monkeypatch):
    monkeypatch.setattr(torch.cuda, "is_available", lambda: True)
    assert devices.resolve_device("auto") == torch.device("cuda")
    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    monkeypatch.setattr(torch.backends.mps, "is_available", lambda: True)
    assert devices.resolve_device("auto") == torch.device("mps")
    monkeypatch.setattr(torch.backends.mps, "is_available", lambda: False)
    assert devices.resolve_device("auto") == torch.device("cpu")


def test_cuda_index_beyond_the_devices_present(monkeypatch):
    monkeypatch.setattr(torch.cuda, "is_available", lambda: True)
    monkeypatch.setattr(torch.cuda, "device_count", lambda: 1)
    assert devices.resolve_device("cuda:0") == torch.device("cuda", 0)
    with pytest.raises(RuntimeError, match="1 CUDA device"):
        devices.resolve_device("cuda:3")


def test_invalid_device_string(X):
    with pytest.raises(ValueError, match="not a valid torch device"):
        VAETransformer(device="banana").fit(X)


def test_torch_device_objects_are_accepted(X):
    est = VAETransformer(device=torch.device("cpu"), **FAST).fit(X)
    assert est.device_ == torch.device("cpu")


@no_cuda
@pytest.mark.parametrize("device", ["cuda", "cuda:0", torch.device("cuda", 1)])
@pytest.mark.parametrize("method", ["fit", "partial_fit"])
def test_cuda_without_gpu_is_a_clear_error_and_fits_nothing(X, device, method):
    est = VAETransformer(device=device, **FAST)
    with pytest.raises(RuntimeError, match="CUDA is not available.*device='cpu'"):
        getattr(est, method)(X)
    assert not hasattr(est, "module_")


# ------------------------------------------------ trained on a GPU, loaded on a CPU
@pytest.mark.parametrize("how", ["fit", "partial_fit", "warm_start"])
def test_model_from_a_gpu_loads_and_runs_on_cpu(X, how):
    if how == "fit":
        est = VAETransformer(**FAST).fit(X)
    elif how == "partial_fit":
        est = VAETransformer(**FAST).partial_fit(X).partial_fit(X)
    else:
        est = VAETransformer(warm_start=True, **FAST).fit(X)
    state = _as_if_trained_on(est, "cuda:0")
    assert isinstance(state["_module"], bytes)  # the weights format: no device
    if torch.cuda.is_available():
        pytest.skip("loads onto the GPU here; covered by the requires_cuda tests")
    loaded = _load_state(state)
    assert loaded.device_ == torch.device("cpu")
    assert all(p.device.type == "cpu" for p in loaded.module_.parameters())
    for name, value in _outputs(loaded, X).items():
        assert_array_equal(value, _outputs(est, X)[name], err_msg=name)
    assert loaded.get_params() == est.get_params()


@no_cuda
@pytest.mark.parametrize("how", ["partial_fit", "warm_start"])
def test_training_continues_on_cpu_after_gpu(X, how):
    # the optimizer state moves to the CPU; the CUDA noise stream cannot, so
    # training continues with fresh generators seeded from random_state
    if how == "partial_fit":
        est = VAETransformer(**FAST).partial_fit(X)
    else:
        est = VAETransformer(warm_start=True, **FAST).fit(X)
    loaded = _load_state(_as_if_trained_on(est, "cuda"))
    assert loaded._optimizer is not None
    before = {k: v.clone() for k, v in loaded.module_.state_dict().items()}
    n_iter = loaded.n_iter_
    if how == "partial_fit":
        loaded.partial_fit(X)
    else:
        loaded.fit(X)  # warm start keeps device_, so no CUDA is needed
    assert loaded.n_iter_ > n_iter
    assert loaded.device_ == torch.device("cpu")
    changed = any(
        not torch.equal(before[k], v) for k, v in loaded.module_.state_dict().items()
    )
    assert changed
    assert np.isfinite(loaded.score(X))


@no_cuda
def test_refit_of_a_gpu_model_on_cpu_only_machine_says_why(X):
    est = VAETransformer(device="cuda", **FAST)
    cpu_fitted = VAETransformer(**FAST).fit(X)
    state = _as_if_trained_on(cpu_fitted, "cuda")
    state["device"] = "cuda"
    loaded = _load_state(state)
    assert loaded.get_params() == est.get_params()
    loaded.transform(X)  # inference works on the CPU
    with pytest.raises(RuntimeError, match="CUDA is not available"):
        loaded.fit(X)  # a fresh fit honours device="cuda"
    loaded.set_params(device="auto").fit(X)
    assert loaded.device_ == torch.device("cpu")


def test_weights_file_of_a_gpu_model_loads_on_cpu(X, tmp_path):
    est = VAETransformer(**FAST).fit(X)
    gpu_like = _load_state(_as_if_trained_on(est, "cpu"))
    gpu_like.device_ = torch.device("cuda", 0)  # only the record of the device
    path = skvae.save(gpu_like, tmp_path / "vae.safetensors")
    loaded = skvae.load(path, device="cpu")
    assert loaded.device_ == torch.device("cpu")
    for name, value in _outputs(loaded, X).items():
        assert_array_equal(value, _outputs(est, X)[name], err_msg=name)


# ---------------------------------------------------------------- real GPU
@requires_cuda
def test_cuda_end_to_end(X):
    est = VAETransformer(device="cuda", early_stopping=True, **FAST).fit(X)
    assert est.device_.type == "cuda"
    assert all(p.device.type == "cuda" for p in est.module_.parameters())
    out = _outputs(est, X)
    assert out["transform"].shape == (X.shape[0], 2)
    assert out["sample"].shape == (5, X.shape[1])
    assert np.all(np.isfinite(out["score_samples"]))
    assert np.all(np.isfinite(out["iwae"]))
    # partial_fit on the GPU
    inc = VAETransformer(device="cuda", **FAST).partial_fit(X).partial_fit(X)
    assert inc.device_.type == "cuda" and inc.n_iter_ == 2
    # the same seed on the same GPU gives the same model (cuBLAS may pick
    # other kernels from run to run, hence a tolerance)
    again = VAETransformer(device="cuda", early_stopping=True, **FAST).fit(X)
    assert_allclose(again.transform(X), out["transform"], rtol=1e-4, atol=1e-4)


@requires_cuda
def test_auto_picks_cuda_when_present(X):
    assert devices.resolve_device("auto").type == "cuda"
    est = VAETransformer(device="auto", **FAST).fit(X)
    assert est.device_.type == "cuda"


@requires_cuda
@pytest.mark.parametrize("how", ["fit", "partial_fit"])
def test_gpu_trained_model_loaded_on_cpu_matches(X, how, monkeypatch, tmp_path):
    est = VAETransformer(device="cuda", **FAST)
    est = est.fit(X) if how == "fit" else est.partial_fit(X).partial_fit(X)
    blob = pickle.dumps(est)
    # load as on a machine without a GPU
    monkeypatch.setattr(serialize, "device_available", lambda d: d.type == "cpu")
    loaded = pickle.loads(blob)
    assert loaded.device_ == torch.device("cpu")
    gpu, cpu = _outputs(est, X), _outputs(loaded, X)
    for name in ("transform", "inverse_transform", "score_samples", "score"):
        assert_allclose(cpu[name], gpu[name], rtol=1e-4, atol=1e-4, err_msg=name)
    # sampling draws z and noise on the CPU either way: same draws
    assert_allclose(cpu["sample"], gpu["sample"], rtol=1e-4, atol=1e-4)
    if how == "partial_fit":
        loaded.partial_fit(X)  # training goes on, on the CPU
        assert loaded.n_iter_ == 3
    # and the weights-only file
    path = skvae.save(est, tmp_path / "vae.safetensors")
    assert_allclose(
        skvae.load(path, device="cpu").transform(X), gpu["transform"], atol=1e-4
    )


@requires_cuda
def test_gpu_model_exports_to_onnx(X):
    ort = require_optional("onnxruntime")
    est = VAETransformer(device="cuda", **FAST).fit(X)
    model = skvae.export_onnx(est, None)
    assert est.module_.mean_head.weight.device.type == "cuda"  # left on the GPU
    sess = ort.InferenceSession(
        model.SerializeToString(), providers=["CPUExecutionProvider"]
    )
    X32 = X.astype(np.float32)
    (Z,) = sess.run(None, {"X": X32})
    assert_allclose(Z, est.transform(X32), rtol=1e-4, atol=1e-4)
