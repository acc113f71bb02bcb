"""Prediction without torch: NumpyEncoder, load_predictor and its cache."""

import os
import pickle
import subprocess
import sys

import numpy as np
import pytest
import soundfile as sf
from numpy.testing import assert_allclose, assert_array_equal
from sklearn.base import clone

from skvae import VAEClassifier, VAETransformer, save
from skvae._numpy_encoder import NumpyEncoder, read_numpy
from skvae.recipes import (
    _predictor,
    load_predictor,
    load_recognizer,
    make_recognizer,
    recognize_files,
    save_recognizer,
)

SR = 8000
pytestmark = pytest.mark.filterwarnings("ignore:.*before the loss converged")


def _rows(n=80, d=12, seed=0, dtype=np.float32):
    rng = np.random.default_rng(seed)
    return (rng.normal(size=(n, d)) * rng.uniform(0.5, 3, d) + 5).astype(dtype)


def _encoder(vae, tmp_path):
    return NumpyEncoder(save(vae, tmp_path / "vae.safetensors")).fit()


ACTIVATIONS = ["relu", "tanh", "logistic", "elu", "gelu", "silu"]


@pytest.mark.parametrize("activation", ACTIVATIONS)
def test_numpy_encoder_gives_the_vaes_posterior_means(activation, tmp_path):
    X = _rows()
    vae = VAETransformer(
        n_components=3,
        hidden_layer_sizes=(16, 8),
        activation=activation,
        max_iter=5,
        random_state=0,
    ).fit(X)
    enc = _encoder(vae, tmp_path)
    for rows in (X, X.astype(np.float64), _rows(7, seed=3)):
        Z = enc.transform(rows)
        assert Z.dtype == rows.dtype
        assert_allclose(Z, vae.transform(rows), rtol=1e-5, atol=1e-6)
    assert_array_equal(enc.get_feature_names_out(), vae.get_feature_names_out())
    assert enc.n_features_in_ == 12 and enc.n_components_ == 3


def test_numpy_encoder_of_a_group_conditioned_decoder(tmp_path):
    """A speaker-conditioned decoder does not condition the encoder."""
    X = _rows()
    groups = np.repeat(["a", "b"], 40)
    vae = VAETransformer(n_components=2, hidden_layer_sizes=(8,), max_iter=3)
    vae.set_params(random_state=0).fit(X, groups=groups)
    assert_allclose(_encoder(vae, tmp_path).transform(X), vae.transform(X), atol=1e-5)


def test_numpy_encoder_refuses_what_it_cannot_run(tmp_path):
    X = _rows(60, 8)
    conv = VAETransformer(
        n_components=2, hidden_layer_sizes=(4, 8), frame_shape=(4, 2), max_iter=2
    ).fit(X)
    with pytest.raises(ValueError, match="convolutional"):
        _encoder(conv, tmp_path)
    clf = VAEClassifier(n_components=2, hidden_layer_sizes=(8,), max_iter=2)
    clf.fit(X, np.arange(60) % 2)
    with pytest.raises(ValueError, match="only a VAETransformer"):
        _encoder(clf, tmp_path)
    with pytest.raises(ValueError, match="not a skvae weights file"):
        NumpyEncoder(b"\x10\x00\x00\x00\x00\x00\x00\x00{not json").fit()
    with pytest.raises(ValueError, match="not a skvae weights file"):
        NumpyEncoder(b"").fit()


def test_numpy_encoder_checks_its_input_and_clones_with_its_weights(tmp_path):
    X = _rows()
    vae = VAETransformer(n_components=2, hidden_layer_sizes=(8,), max_iter=2).fit(X)
    enc = _encoder(vae, tmp_path)
    with pytest.raises(ValueError, match="12 features"):
        enc.transform(X[:, :5])
    bad = X.copy()
    bad[3, 1] = np.nan
    with pytest.raises(ValueError, match="NaN"):
        enc.transform(bad)
    with pytest.raises(Exception, match="not fitted"):
        NumpyEncoder(enc.weights).transform(X)
    again = clone(enc).fit()
    assert_array_equal(again.transform(X), enc.transform(X))
    copy = pickle.loads(pickle.dumps(enc))
    assert_array_equal(copy.transform(X), enc.transform(X))


def test_read_numpy_reads_what_skvae_save_writes(tmp_path):
    X = _rows()
    vae = VAETransformer(n_components=2, hidden_layer_sizes=(8,), max_iter=2).fit(X)
    content = read_numpy(save(vae, tmp_path / "v.safetensors").read_bytes())
    assert content["estimator"] == "VAETransformer"
    assert_array_equal(content["arrays"]["mean_"], vae.mean_)
    state = vae.module_.state_dict()
    assert_array_equal(content["module"]["mean_head.weight"], state["mean_head.weight"])


# --------------------------------------------------------------------------
# a small recogniser of tones, saved as skvae train saves one
# --------------------------------------------------------------------------
def _tone(freq, seed, sr=SR):
    rng = np.random.default_rng(seed)
    t = np.arange(int(0.3 * sr)) / sr
    y = np.sin(2 * np.pi * freq * (1 + 0.02 * rng.normal()) * t)
    return (0.3 * y + 0.01 * rng.normal(size=t.size)).astype(np.float32)


@pytest.fixture(scope="module")
def model(tmp_path_factory):
    root = tmp_path_factory.mktemp("predictor")
    freqs = {"low": 300.0, "mid": 700.0, "high": 1500.0}
    X = [_tone(f, s) for f in freqs.values() for s in range(12)]
    y = np.repeat(list(freqs), 12)
    pipe = make_recognizer(n_components=4, hidden_layer_sizes=(16,), n_mels=16)
    pipe.set_params(vae__max_iter=10, clf__cv=2, features__n_frames=8)
    pipe.fit(X, y)
    path = save_recognizer({"pipeline": pipe, "classes": pipe.classes_}, root)
    files = []
    for k, f in enumerate(freqs.values()):
        for s in (100, 101):
            file = root / f"{k}_{s}.wav"
            sf.write(file, np.repeat(_tone(f, s), 2), 2 * SR)  # 16 kHz files
            files.append(str(file))
    return path, files


@pytest.fixture
def cache(tmp_path, monkeypatch):
    folder = tmp_path / "cache"
    monkeypatch.setenv("SKVAE_CACHE_DIR", str(folder))
    return folder


def test_predictor_predicts_as_the_full_model(model, cache):
    path, files = model
    full = recognize_files(load_recognizer(path)["pipeline"], files)
    bundle = load_predictor(path, cache=False)
    assert type(bundle["pipeline"].named_steps["vae"]) is NumpyEncoder
    assert "generator" not in bundle and bundle["path"] == str(path)
    fast = recognize_files(bundle["pipeline"], files)
    assert_array_equal(fast.labels, full.labels)
    assert_allclose(fast.proba, full.proba, rtol=0, atol=1e-6)
    assert not cache.exists()  # cache=False neither reads nor writes


def test_cache_is_filled_then_read_instead_of_the_model(model, cache, monkeypatch):
    path, files = model
    first = recognize_files(load_predictor(path)["pipeline"], files)
    entries = list(cache.glob("*.pickle"))
    assert len(entries) == 1
    assert (cache.stat().st_mode & 0o777) == 0o700
    assert (entries[0].stat().st_mode & 0o777) == 0o600

    def no_model_file(*args, **kwargs):
        raise AssertionError("the model file was read despite the cache")

    monkeypatch.setattr(_predictor, "_load_bundle", no_model_file)
    again = recognize_files(load_predictor(path)["pipeline"], files)
    assert_array_equal(again.proba, first.proba)


def test_cache_entries_others_can_write_are_ignored(model, cache, monkeypatch):
    path, _ = model
    load_predictor(path)
    (entry,) = cache.glob("*.pickle")
    calls = []
    real = _predictor._load_bundle
    monkeypatch.setattr(
        _predictor, "_load_bundle", lambda *a, **k: calls.append(1) or real(*a, **k)
    )
    os.chmod(entry, 0o664)  # group-writable: someone else could have put it
    load_predictor(path)
    assert calls == [1]
    os.chmod(cache, 0o777)  # a folder others can write: nothing in it is used
    load_predictor(path)
    assert calls == [1, 1]


def test_damaged_cache_entry_is_replaced(model, cache):
    path, files = model
    expected = recognize_files(load_predictor(path)["pipeline"], files).proba
    (entry,) = cache.glob("*.pickle")
    entry.write_bytes(b"not a pickle")
    got = recognize_files(load_predictor(path)["pipeline"], files).proba
    assert_array_equal(got, expected)
    assert pickle.loads(entry.read_bytes())["pipeline"] is not None


def test_a_changed_model_file_is_not_served_from_the_cache(model, cache, tmp_path):
    path, files = model
    load_predictor(path)
    other = load_recognizer(path)
    pipe = other["pipeline"].set_params(clf__cv=3)
    pipe.fit([_tone(f, s) for f in (300.0, 900.0) for s in range(8)], [0] * 8 + [1] * 8)
    copy = save_recognizer({"pipeline": pipe, "classes": pipe.classes_}, tmp_path)
    assert list(load_predictor(copy)["classes"]) == [0, 1]
    assert len(list(cache.glob("*.pickle"))) == 2


def test_cache_keeps_the_most_recent_entries(model, cache, monkeypatch, tmp_path):
    monkeypatch.setattr(_predictor, "CACHE_MAX_ENTRIES", 2)
    path, _ = model
    data = path.read_bytes()
    for k in range(4):  # four different files (a byte appended to the zip)
        (tmp_path / f"m{k}").mkdir()
        (tmp_path / f"m{k}" / "model.skops").write_bytes(data + bytes([k]))
        load_predictor(tmp_path / f"m{k}")
    assert len(list(cache.glob("*.pickle"))) == 2


def test_a_reject_option_keeps_the_torch_vae(tmp_path, cache):
    """The reject option scores rows with the VAE's likelihood: torch's."""
    X = [_tone(f, s) for f in (300.0, 1500.0) for s in range(16)]
    pipe = make_recognizer(n_components=2, hidden_layer_sizes=(8,), reject=True)
    pipe.set_params(estimator__vae__max_iter=5, estimator__clf__cv=2)
    pipe.set_params(estimator__features__n_frames=8, estimator__features__n_mels=16)
    pipe.fit(X, np.repeat([0, 1], 16))
    path = save_recognizer({"pipeline": pipe, "classes": pipe.classes_}, tmp_path)
    bundle = load_predictor(path)
    vae = bundle["pipeline"].estimator_.named_steps["vae"]
    assert type(vae) is VAETransformer
    assert_array_equal(bundle["pipeline"].predict(X), pipe.predict(X))


def test_a_cached_prediction_imports_neither_torch_nor_librosa_nor_skops(model):
    path, files = model
    load_predictor(path)  # fills the session's cache (SKVAE_CACHE_DIR)
    code = (
        "import sys\n"
        "from skvae.recipes import load_predictor, recognize_files\n"
        f"res = recognize_files(load_predictor({str(path)!r})['pipeline'], "
        f"{files!r})\n"
        "assert len(res.files) == len(res.labels) > 0\n"
        "heavy = ('torch', 'librosa', 'numba', 'skops')\n"
        "bad = [m for m in heavy if m in sys.modules]\n"
        "assert not bad, bad\n"
    )
    subprocess.run([sys.executable, "-c", code], check=True)
