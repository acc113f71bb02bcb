"""ONNX and TorchScript export of a fitted VAETransformer's encoder and decoder."""

import json
import os
import pickle
import sys

import numpy as np
import pytest
import torch
from conftest import require_optional
from numpy.testing import assert_allclose
from sklearn.exceptions import NotFittedError
from sklearn.pipeline import make_pipeline
from sklearn.utils._param_validation import InvalidParameterError

import skvae
from skvae import VAETransformer
from skvae._export import export_onnx, export_torchscript

pytestmark = pytest.mark.filterwarnings("ignore::sklearn.exceptions.ConvergenceWarning")


@pytest.fixture(scope="module")
def ort():
    require_optional("onnx")
    require_optional("onnxscript")
    return require_optional("onnxruntime")


@pytest.fixture(scope="module")
def data():
    rng = np.random.RandomState(0)
    # correlated features, far from zero mean and unit scale, so that the
    # standardisation inside the graph matters
    X = rng.normal(size=(300, 8)) @ rng.normal(size=(8, 8)) * 5.0 + 3.0
    return X.astype(np.float32)


@pytest.fixture(scope="module")
def fitted(data):
    return VAETransformer(n_components=3, max_iter=5, random_state=0).fit(data)


def _session(ort, model):
    return ort.InferenceSession(
        model.SerializeToString(), providers=["CPUExecutionProvider"]
    )


def _random_rows(n, width, seed, scale=1.0):
    return (np.random.RandomState(seed).normal(size=(n, width)) * scale).astype(
        np.float32
    )


# ---------------------------------------------------------------- ONNX
@pytest.mark.parametrize("exporter", ["dynamo", "torchscript"])
def test_onnx_encoder_reproduces_transform(ort, fitted, data, exporter):
    sess = _session(ort, export_onnx(fitted, None, part="encoder", exporter=exporter))
    (inp,) = sess.get_inputs()
    assert inp.name == "X" and inp.shape[1] == 8 and isinstance(inp.shape[0], str)
    assert sess.get_outputs()[0].name == "Z"
    # random inputs of several batch sizes (dynamic batch axis), in and far
    # outside the training range: float32 rounding differs between torch's
    # and onnxruntime's kernels in proportion to the size of the codes
    for n, seed, scale in [(1, 1, 1.0), (7, 2, 10.0), (1000, 3, 100.0)]:
        X = _random_rows(n, 8, seed, scale) + 3.0
        (Z,) = sess.run(None, {"X": X})
        assert Z.shape == (n, 3) and Z.dtype == np.float32
        assert_allclose(Z, fitted.transform(X), rtol=1e-5, atol=1e-5)
    # rows like the training data: within 1e-5 absolute
    noisy = data + _random_rows(*data.shape, seed=4)
    for rows in (data, noisy):
        (Z,) = sess.run(None, {"X": rows})
        assert_allclose(Z, fitted.transform(rows), rtol=0, atol=1e-5)


@pytest.mark.parametrize("exporter", ["dynamo", "torchscript"])
def test_onnx_decoder_reproduces_inverse_transform(ort, fitted, data, exporter):
    sess = _session(ort, export_onnx(fitted, None, part="decoder", exporter=exporter))
    assert [i.name for i in sess.get_inputs()] == ["Z"]
    assert [o.name for o in sess.get_outputs()] == ["X"]
    for n, seed in [(1, 4), (513, 5)]:
        Z = _random_rows(n, 3, seed, scale=2.0)
        (X,) = sess.run(None, {"Z": Z})
        assert X.shape == (n, 8)
        # outputs are in the caller's units (|x| up to ~50): relative tolerance
        assert_allclose(X, fitted.inverse_transform(Z), rtol=1e-5, atol=1e-5)
    # encoder then decoder, as transform then inverse_transform
    Z = fitted.transform(data)
    (X,) = sess.run(None, {"Z": Z})
    assert_allclose(X, fitted.inverse_transform(Z), rtol=1e-5, atol=1e-5)


def test_onnx_file_is_self_contained_with_metadata(ort, fitted, data, tmp_path):
    import onnx

    path = tmp_path / "encoder.onnx"
    model = export_onnx(fitted, path)
    assert os.listdir(tmp_path) == ["encoder.onnx"]  # no external-data sidecar
    onnx.checker.check_model(str(path))
    meta = {p.key: p.value for p in onnx.load(path).metadata_props}
    assert meta == {p.key: p.value for p in model.metadata_props}
    assert meta["producer"] == "skvae"
    assert meta["skvae_version"] == skvae.__version__
    assert meta["part"] == "encoder"
    assert (meta["input"], meta["output"]) == ("X", "Z")
    assert (meta["n_features_in"], meta["n_components"]) == ("8", "3")
    sess = ort.InferenceSession(str(path), providers=["CPUExecutionProvider"])
    (Z,) = sess.run(None, {"X": data})
    assert_allclose(Z, fitted.transform(data), atol=1e-5)


def test_metadata_describes_the_fitted_network(ort, fitted):
    """Parameters set after fit describe the next fit, not the exported one."""
    changed = pickle.loads(pickle.dumps(fitted))
    changed.set_params(n_components=5, likelihood="bernoulli")
    meta = {p.key: p.value for p in export_onnx(changed, None).metadata_props}
    assert (meta["n_components"], meta["likelihood"]) == ("3", "gaussian")


def test_opset_is_honoured(ort, fitted):
    model = export_onnx(fitted, None, opset=17, exporter="torchscript")
    assert {o.domain: o.version for o in model.opset_import}[""] == 17


def test_feature_names_are_recorded(ort, data):
    pd = require_optional("pandas")
    df = pd.DataFrame(data, columns=[f"mel{i}" for i in range(8)])
    vae = VAETransformer(n_components=2, hidden_layer_sizes=(8,), max_iter=2)
    model = export_onnx(vae.fit(df), None, exporter="torchscript")
    meta = {p.key: p.value for p in model.metadata_props}
    assert json.loads(meta["feature_names_in"]) == list(df.columns)


def test_bernoulli_and_constant_features_export(ort):
    rng = np.random.RandomState(0)
    B = (rng.uniform(size=(200, 6)) > 0.5).astype(np.float32)
    bern = VAETransformer(
        n_components=2, hidden_layer_sizes=(8,), likelihood="bernoulli", max_iter=3
    ).fit(B)
    sess = _session(ort, export_onnx(bern, None, part="decoder"))
    Z = _random_rows(50, 2, 0)
    (X,) = sess.run(None, {"Z": Z})
    assert X.min() >= 0 and X.max() <= 1  # the sigmoid is in the graph
    assert_allclose(X, bern.inverse_transform(Z), atol=1e-6)

    C = rng.normal(size=(200, 5)).astype(np.float32)
    C[:, 2] = 7.25  # a constant feature is reproduced exactly
    const = VAETransformer(n_components=2, hidden_layer_sizes=(8,), max_iter=3).fit(C)
    sess = _session(ort, export_onnx(const, None, part="decoder"))
    (X,) = sess.run(None, {"Z": Z})
    assert_allclose(X, const.inverse_transform(Z), rtol=1e-5, atol=1e-5)
    assert np.all(X[:, 2] == np.float32(7.25))


def test_export_leaves_the_estimator_alone(ort, fitted, data):
    before = fitted.transform(data)
    params = [p.clone() for p in fitted.module_.parameters()]
    export_onnx(fitted, None)
    export_torchscript(fitted)
    assert all(p.requires_grad for p in fitted.module_.parameters())
    for a, b in zip(params, fitted.module_.parameters()):
        assert torch.equal(a, b)
    np.testing.assert_array_equal(fitted.transform(data), before)


def test_float64_fitted_model_exports_float32_graph(ort, data):
    X64 = data.astype(np.float64)
    vae = VAETransformer(n_components=2, hidden_layer_sizes=(8,), max_iter=2).fit(X64)
    sess = _session(ort, export_onnx(vae, None))
    assert sess.get_inputs()[0].type == "tensor(float)"
    (Z,) = sess.run(None, {"X": X64.astype(np.float32)})
    assert_allclose(Z, vae.transform(X64), atol=1e-5)


def test_export_errors(ort, fitted):
    with pytest.raises(NotFittedError):
        export_onnx(VAETransformer(), None)
    with pytest.raises(InvalidParameterError, match="'part' parameter"):
        export_onnx(fitted, None, part="both")
    with pytest.raises(InvalidParameterError, match="'estimator' parameter"):
        export_onnx(make_pipeline(fitted), None)
    with pytest.raises(InvalidParameterError, match="'exporter' parameter"):
        export_onnx(fitted, None, exporter="tf")
    with pytest.raises(NotFittedError):
        export_torchscript(VAETransformer())


def test_missing_onnx_gives_install_hint(fitted, monkeypatch):
    monkeypatch.setitem(sys.modules, "onnx", None)  # import onnx -> ImportError
    with pytest.raises(ImportError, match=r'pip install "skvae\[onnx\]"'):
        export_onnx(fitted, None)


def test_missing_onnxscript_gives_install_hint(fitted, monkeypatch):
    require_optional("onnx")
    monkeypatch.setitem(sys.modules, "onnxscript", None)
    with pytest.raises(ImportError, match=r"onnxscript.*skvae\[onnx\]"):
        export_onnx(fitted, None, exporter="dynamo")


def test_public_names():
    assert skvae.export_onnx is export_onnx
    assert skvae.export_torchscript is export_torchscript
    assert {"export_onnx", "export_torchscript"} <= set(skvae.__all__)


# ---------------------------------------------------------------- TorchScript
# torch 2.13 marks torch.jit.load as deprecated (DeprecationWarning from torch)
@pytest.mark.filterwarnings("ignore:`torch.jit.load` is deprecated:DeprecationWarning")
@pytest.mark.parametrize("part", ["encoder", "decoder"])
def test_torchscript_round_trip(fitted, data, part, tmp_path):
    path = tmp_path / f"{part}.pt"
    module = export_torchscript(fitted, path, part=part)
    extra = {"skvae.json": ""}
    loaded = torch.jit.load(str(path), _extra_files=extra)
    assert json.loads(extra["skvae.json"])["part"] == part
    if part == "encoder":
        inputs, reference = data, fitted.transform(data)
    else:
        inputs = _random_rows(40, 3, 0)
        reference = fitted.inverse_transform(inputs)
    for m in (module, loaded):
        with torch.no_grad():
            out = m(torch.from_numpy(inputs)).numpy()
        assert_allclose(out, reference, rtol=1e-6, atol=1e-6)
    with torch.no_grad():  # any batch size, one row included
        assert loaded(torch.from_numpy(inputs[:1])).shape[0] == 1
