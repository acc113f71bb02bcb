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

from skvae import SequenceVAE, VAEClassifier, VAETransformer, save
from skvae._format import decode
from skvae._numpy_encoder import NumpyEncoder, NumpySequenceEncoder
from skvae.recipes import (
    PredictionCache,
    _model_file,
    _predictor,
    load_predictor,
    load_recognizer,
    make_recognizer,
    recognize_files,
    recognizer_bundle,
    save_recognizer,
)

SR = 8000
pytestmark = pytest.mark.filterwarnings("ignore:.*used its epoch budget")


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


def test_decode_reads_what_skvae_save_writes(tmp_path):
    X = _rows()
    vae = VAETransformer(n_components=2, hidden_layer_sizes=(8,), max_iter=2).fit(X)
    content = decode(save(vae, tmp_path / "v.safetensors").read_bytes())
    assert content.estimator == "VAETransformer"
    assert_array_equal(content.arrays["mean_"], vae.mean_)
    state = vae.module_.state_dict()
    assert_array_equal(content.module["mean_head.weight"], state["mean_head.weight"])


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
    pipe.set_params(model__vae__max_iter=10, model__clf__cv=2, features__n_frames=8)
    pipe.fit(X, y)
    path = save_recognizer(recognizer_bundle(pipe, y), root)
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
    full = recognize_files(load_recognizer(path)["recognizer"], files)
    bundle = load_predictor(path, cache=False)
    # the default recogniser's SequenceVAE becomes its NumPy encoder
    assert type(bundle["recognizer"]["model"]["vae"]) is NumpySequenceEncoder
    assert "generator" not in bundle and bundle["path"] == str(path)
    fast = recognize_files(bundle["recognizer"], files)
    assert_array_equal(fast.labels, full.labels)
    assert_allclose(fast.proba, full.proba, rtol=0, atol=1e-6)
    assert not cache.exists()  # cache=False neither reads nor writes


def test_cache_is_filled_then_read_instead_of_the_model(model, cache, monkeypatch):
    path, files = model
    first = recognize_files(load_predictor(path)["recognizer"], files)
    entries = list(cache.glob("*.pickle"))
    assert len(entries) == 1
    assert (cache.stat().st_mode & 0o777) == 0o700
    assert (entries[0].stat().st_mode & 0o777) == 0o600

    def no_model_file(*args, **kwargs):
        raise AssertionError("the model file was read despite the cache")

    monkeypatch.setattr(_model_file, "_load_file", no_model_file)
    again = recognize_files(load_predictor(path)["recognizer"], files)
    assert_array_equal(again.proba, first.proba)


def test_cache_entries_others_can_write_are_ignored(model, cache, monkeypatch):
    path, _ = model
    load_predictor(path)
    (entry,) = cache.glob("*.pickle")
    calls = []
    real = _model_file._load_file
    monkeypatch.setattr(
        _model_file, "_load_file", lambda *a, **k: calls.append(1) or real(*a, **k)
    )
    os.chmod(entry, 0o664)  # group-writable: someone else could have put it
    load_predictor(path)
    assert calls == [1]
    os.chmod(cache, 0o777)  # a folder others can write: nothing in it is used
    load_predictor(path)
    assert calls == [1, 1]


def test_damaged_cache_entry_is_replaced(model, cache):
    path, files = model
    expected = recognize_files(load_predictor(path)["recognizer"], files).proba
    (entry,) = cache.glob("*.pickle")
    entry.write_bytes(b"not a pickle")
    got = recognize_files(load_predictor(path)["recognizer"], files).proba
    assert_array_equal(got, expected)
    assert pickle.loads(entry.read_bytes())["recognizer"] is not None


def test_a_changed_model_file_is_not_served_from_the_cache(model, cache, tmp_path):
    path, files = model
    load_predictor(path)
    other = load_recognizer(path)
    pipe = other["recognizer"].set_params(model__clf__cv=3)
    y = [0] * 8 + [1] * 8
    pipe.fit([_tone(f, s) for f in (300.0, 900.0) for s in range(8)], y)
    copy = save_recognizer(recognizer_bundle(pipe, y), tmp_path)
    assert list(load_predictor(copy)["recognizer"].classes_) == [0, 1]
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


@pytest.mark.parametrize(
    ("vae", "torch_vae"), [("sequence", SequenceVAE), ("flat", VAETransformer)]
)
def test_a_reject_option_keeps_the_torch_vae(tmp_path, cache, vae, torch_vae):
    """The reject option scores rows with the VAE's likelihood: torch's."""
    X = [_tone(f, s) for f in (300.0, 1500.0) for s in range(16)]
    pipe = make_recognizer(
        vae=vae, n_components=2, hidden_layer_sizes=(8,), reject=True, augment=None
    )
    pipe.set_params(model__estimator__vae__max_iter=5, model__estimator__clf__cv=2)
    pipe.set_params(features__n_frames=8, features__n_mels=16)
    y = np.repeat([0, 1], 16)
    pipe.fit(X, y)
    path = save_recognizer(recognizer_bundle(pipe, y), tmp_path)
    bundle = load_predictor(path)
    assert type(bundle["recognizer"]["model"].estimator_["vae"]) is torch_vae
    assert_array_equal(bundle["recognizer"].predict(X), pipe.predict(X))


def test_a_cached_prediction_imports_neither_torch_nor_librosa_nor_skops(model):
    path, files = model
    load_predictor(path)  # fills the session's cache (SKVAE_CACHE_DIR)
    code = (
        "import sys\n"
        "from skvae.recipes import load_predictor, recognize_files\n"
        f"res = recognize_files(load_predictor({str(path)!r})['recognizer'], "
        f"{files!r})\n"
        "assert len(res.files) == len(res.labels) > 0\n"
        "heavy = ('torch', 'librosa', 'numba', 'skops')\n"
        "bad = [m for m in heavy if m in sys.modules]\n"
        "assert not bad, bad\n"
    )
    subprocess.run([sys.executable, "-c", code], check=True)


# --------------------------------------------------------------------------
# review of issue 17: inputs as the VAE takes them
# --------------------------------------------------------------------------
def test_numpy_encoder_refuses_rows_beyond_float32_as_the_vae(tmp_path):
    """float64 rows that overflow float32 once standardised: the VAE raises
    ValueError; the encoder must not answer NaN codes instead."""
    X = _rows(dtype=np.float64)
    vae = VAETransformer(n_components=2, hidden_layer_sizes=(8,), max_iter=2).fit(X)
    enc = _encoder(vae, tmp_path)
    big = X.copy()
    big[0, 0] = 1e300
    for est in (vae, enc):
        with pytest.raises(ValueError, match="too large for float32"):
            est.transform(big)
    near = X.copy()
    near[0, 0] = 1e30  # large but representable once standardised
    assert_allclose(enc.transform(near), vae.transform(near), rtol=1e-5, atol=1e-6)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_numpy_encoder_rounds_the_exact_codes_once(dtype, tmp_path):
    """The dense layers run in float64 and the codes are rounded to float32
    once: the float32 codes nearest the exact ones (1 ulp), not float32
    products, whose rounding adds to torch's (probabilities of FSDD
    recognisers then differed by up to 1.2e-6 from the VAE's)."""
    import torch

    from skvae._vae import _forward_float64

    X = _rows(200, 40, dtype=dtype)
    vae = VAETransformer(n_components=4, hidden_layer_sizes=(128, 64), max_iter=3)
    vae.set_params(random_state=0).fit(X)
    m = vae.module_
    with torch.no_grad():
        if dtype == np.float64:
            xs = torch.from_numpy(((X - vae.mean_) / vae.scale_).astype(np.float32))
        else:
            xs = m.standardize(torch.from_numpy(X))
        h = _forward_float64(m.encoder, xs.double())
        head = m.mean_head
        exact = torch.nn.functional.linear(h, head.weight.double(), head.bias.double())
    Z = _encoder(vae, tmp_path).transform(X)
    assert Z.dtype == dtype
    np.testing.assert_array_max_ulp(
        Z.astype(np.float32), exact.numpy().astype(np.float32), maxulp=1
    )


def test_numpy_encoder_keeps_the_vaes_feature_names(tmp_path):
    pd = pytest.importorskip("pandas")
    X = _rows()
    df = pd.DataFrame(X, columns=[f"mel{i}" for i in range(X.shape[1])])
    vae = VAETransformer(n_components=2, hidden_layer_sizes=(8,), max_iter=2).fit(df)
    enc = _encoder(vae, tmp_path)
    assert_array_equal(enc.feature_names_in_, vae.feature_names_in_)
    with pytest.raises(ValueError, match="feature names should match"):
        enc.transform(df.rename(columns={"mel0": "other"}))
    with pytest.warns(UserWarning, match="valid feature names"):
        enc.transform(X)
    out = enc.set_output(transform="pandas").transform(df)
    ref = vae.set_output(transform="pandas").transform(df)
    assert (
        list(out.columns) == list(ref.columns) == ["vaetransformer0", "vaetransformer1"]
    )
    assert_allclose(out.to_numpy(), ref.to_numpy(), rtol=1e-5, atol=1e-6)


# --------------------------------------------------------------------------
# review of issue 17: the cache's guards
# --------------------------------------------------------------------------
class _Marker:
    """A pickle that creates a folder when it is loaded: proof of loading."""

    def __init__(self, folder):
        self.folder = str(folder)

    def __reduce__(self):
        return (os.mkdir, (self.folder,))


def _entry(cache, path):
    return cache / f"{_predictor._key(path.read_bytes())}{PredictionCache.suffix}"


def test_a_symlinked_cache_entry_is_never_loaded(model, cache, tmp_path):
    """An entry is loaded only if it is a regular file of the user (opened
    with O_NOFOLLOW): a link to a private file elsewhere is not followed."""
    path, files = model
    marker = tmp_path / "loaded"
    target = tmp_path / "elsewhere.pickle"
    target.write_bytes(pickle.dumps({"pipeline": _Marker(marker)}))
    os.chmod(target, 0o600)
    cache.mkdir(mode=0o700)
    _entry(cache, path).symlink_to(target)
    bundle = load_predictor(path)
    assert not marker.exists()
    assert type(bundle["recognizer"]["model"]["vae"]) is NumpySequenceEncoder
    assert not _entry(cache, path).is_symlink()  # replaced by a real entry


def test_a_fifo_in_place_of_a_cache_entry_does_not_block(model, cache):
    import signal

    path, _ = model
    cache.mkdir(mode=0o700)
    os.mkfifo(_entry(cache, path), 0o600)

    blocked = []

    def hung(*args):
        blocked.append(True)
        raise TimeoutError("opening the cache entry blocked")

    old = signal.signal(signal.SIGALRM, hung)
    signal.alarm(20)
    try:
        bundle = load_predictor(path)
    finally:
        signal.alarm(0)
        signal.signal(signal.SIGALRM, old)
    assert not blocked
    assert type(bundle["recognizer"]["model"]["vae"]) is NumpySequenceEncoder


def test_a_cache_folder_of_another_user_is_neither_read_nor_written(
    model, cache, monkeypatch
):
    path, _ = model
    load_predictor(path)
    (entry,) = cache.glob("*.pickle")
    entry.unlink()
    calls = []
    real = _model_file._load_file
    monkeypatch.setattr(
        _model_file, "_load_file", lambda *a, **k: calls.append(1) or real(*a, **k)
    )
    uid = os.getuid()
    monkeypatch.setattr(os, "getuid", lambda: uid + 1)  # as if owned by another
    load_predictor(path)
    assert calls == [1] and not list(cache.glob("*.pickle"))
    monkeypatch.setattr(os, "getuid", lambda: uid)
    load_predictor(path)  # written now
    monkeypatch.setattr(os, "getuid", lambda: uid + 1)
    load_predictor(path)  # but not read: the entry is not this user's
    assert calls == [1, 1, 1]


def test_the_entry_is_that_of_the_bytes_hashed(model, cache, monkeypatch, tmp_path):
    """A model file replaced between hashing and loading (skvae train
    swapping in a new model) must not be cached under the old content's key."""
    path, files = model
    old = tmp_path / "model.skops"
    old.write_bytes(path.read_bytes())
    other = load_recognizer(path)
    other["metadata"] = {"which": "new"}
    new = save_recognizer(other, tmp_path / "new.skops")
    real = _model_file._load_file

    def swapped(*args, **kwargs):
        os.replace(tmp_path / "swap", old)  # the file changes meanwhile
        return real(*args, **kwargs)

    (tmp_path / "swap").write_bytes(new.read_bytes())
    original = path.read_bytes()
    monkeypatch.setattr(_model_file, "_load_file", swapped)
    first = load_predictor(old)
    monkeypatch.setattr(_model_file, "_load_file", real)
    assert first.get("metadata") != {"which": "new"}  # what was hashed was loaded
    old.write_bytes(original)
    assert load_predictor(old).get("metadata") != {"which": "new"}
    old.write_bytes(new.read_bytes())
    assert load_predictor(old)["metadata"] == {"which": "new"}


def test_errors_name_the_model_file_not_a_private_copy(cache, tmp_path):
    damaged = tmp_path / "model.skops"
    damaged.write_bytes(b"PK\x03\x04" + b"\x00" * 64)
    with pytest.raises(ValueError) as info:
        load_predictor(damaged)
    assert str(damaged) in str(info.value) and "skvae-" not in str(info.value)
    assert not list(cache.glob("*.pickle"))


def test_no_home_folder_or_an_unwritable_cache_still_predicts(
    model, monkeypatch, tmp_path
):
    from pathlib import Path

    path, files = model
    expected = recognize_files(load_predictor(path, cache=False)["recognizer"], files)
    monkeypatch.delenv("SKVAE_CACHE_DIR", raising=False)
    monkeypatch.delenv("XDG_CACHE_HOME", raising=False)

    def no_home():
        raise RuntimeError("Could not determine home directory.")

    monkeypatch.setattr(Path, "home", staticmethod(no_home))
    got = recognize_files(load_predictor(path)["recognizer"], files)
    assert_array_equal(got.proba, expected.proba)
    blocker = tmp_path / "a-file"
    blocker.write_text("")
    monkeypatch.setenv("SKVAE_CACHE_DIR", str(blocker / "cache"))  # cannot exist
    got = recognize_files(load_predictor(path)["recognizer"], files)
    assert_array_equal(got.proba, expected.proba)


def test_a_relative_xdg_cache_home_is_ignored(monkeypatch, tmp_path):
    monkeypatch.delenv("SKVAE_CACHE_DIR", raising=False)
    monkeypatch.setenv("HOME", str(tmp_path))
    monkeypatch.setenv("XDG_CACHE_HOME", "relative/cache")
    assert _predictor.cache_dir() == tmp_path / ".cache" / "skvae" / "predictors"
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "xdg"))
    assert _predictor.cache_dir() == tmp_path / "xdg" / "skvae" / "predictors"


def test_concurrent_writes_and_reads_see_whole_entries(cache):
    """Entries are renamed into place: a reader sees the old entry, the new
    one or none, never a partial one, and eviction by other writers does not
    break a write."""
    import threading

    from sklearn.dummy import DummyClassifier

    clf = DummyClassifier().fit([[0], [1]], [0, 1])
    bundle = {"recognizer": clf, "padding": b"x" * 200_000}
    results, failures = [], []

    def write(k):
        for i in range(30):
            if not PredictionCache(cache).write(f"{k}-{i % 3}", bundle):
                failures.append((k, i))

    def read():
        for i in range(90):
            got = PredictionCache(cache).read(f"{i % 2}-{i % 3}")
            results.append(got is None or got["padding"] == bundle["padding"])

    threads = [threading.Thread(target=write, args=(k,)) for k in range(2)]
    threads += [threading.Thread(target=read) for _ in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert all(results) and not failures
    assert not [p for p in cache.iterdir() if p.name.startswith(".tmp")]


def test_temporary_files_of_dead_writers_are_removed(cache):
    import time

    from sklearn.dummy import DummyClassifier

    cache.mkdir(mode=0o700)
    stale, fresh = cache / ".tmp-dead", cache / ".tmp-writing"
    stale.write_bytes(b"half a pickle")
    fresh.write_bytes(b"being written")
    hours_ago = time.time() - 2 * 3600
    os.utime(stale, (hours_ago, hours_ago))
    clf = DummyClassifier().fit([[0], [1]], [0, 1])
    assert PredictionCache(cache).write("k", {"recognizer": clf})
    assert not stale.exists() and fresh.exists()


def test_the_key_follows_the_code(model, cache, monkeypatch):
    """An entry is never unpickled into code that changed: the key holds a
    hash of skvae's source files."""
    path, _ = model
    load_predictor(path)
    calls = []
    real = _model_file._load_file
    monkeypatch.setattr(
        _model_file, "_load_file", lambda *a, **k: calls.append(1) or real(*a, **k)
    )
    load_predictor(path)
    assert calls == []  # the same code: a hit
    code = _predictor._code_key()
    monkeypatch.setattr(_predictor, "_code_key", lambda: code + b"edited")
    load_predictor(path)
    assert calls == [1] and len(list(cache.glob("*.pickle"))) == 2


def test_a_marker_is_created_only_in_a_private_folder_never_through_a_link(
    cache, tmp_path, monkeypatch
):
    """Fault 2: the "first generation" marker of skvae sample / train is made
    like a cache entry (O_NOFOLLOW | O_CREAT | O_EXCL in a checked folder)."""
    folder = PredictionCache(cache)
    assert not folder.has(".marker") and folder.touch(".marker")
    assert folder.has(".marker") and folder.touch(".marker")  # exists: fine
    assert (cache.stat().st_mode & 0o777) == 0o700
    target = tmp_path / "victim"
    (cache / ".planted").symlink_to(target)
    assert not folder.touch(".planted") and not target.exists()
    assert not folder.has(".planted")
    os.chmod(cache, 0o777)  # others can write the folder: nothing made or trusted
    assert not folder.touch(".other") and not (cache / ".other").exists()
    assert not folder.has(".marker")
    os.chmod(cache, 0o700)
    uid = os.getuid()
    monkeypatch.setattr(os, "getuid", lambda: uid + 1)  # owned by someone else
    assert not folder.touch(".third") and not (cache / ".third").exists()


# --------------------------------------------------------------------------
# review of issue 17: recognize_files, batch and file by file
# --------------------------------------------------------------------------
def test_a_bad_file_in_a_batch_keeps_the_order_and_the_rows(model, tmp_path):
    """One unreadable file makes recognize_files read the batch file by file:
    the rows of the others are those of the batch read, bit for bit, and
    every file keeps its place."""
    path, files = model
    pipe = load_predictor(path, cache=False)["recognizer"]
    batch = recognize_files(pipe, files)
    bad = tmp_path / "bad.wav"
    bad.write_bytes(b"RIFF....WAVE")
    mixed = [files[0], str(bad), *files[1:4], str(tmp_path / "missing.wav"), *files[4:]]
    res = recognize_files(pipe, mixed)
    assert res.files == files and len(res.errors) == 2
    assert [e[0] for e in res.errors] == [str(bad), str(tmp_path / "missing.wav")]
    assert [read for read, _ in res.order] == [True, False, True, True, True, False] + [
        True
    ] * (len(files) - 4)
    in_order = [res.files[i] if read else res.errors[i][0] for read, i in res.order]
    assert in_order == mixed
    assert_array_equal(res.proba, batch.proba)
    assert_array_equal(res.labels, batch.labels)


def test_paths_no_file_can_have_are_reported_not_raised(model, tmp_path):
    """Lines of 'skvae predict MODEL -' can hold anything: a name longer than
    the system allows or a NUL byte is an unreadable file, not the end of
    the stream."""
    path, files = model
    pipe = load_predictor(path, cache=False)["recognizer"]
    odd = [str(tmp_path / ("n" * 300 + ".wav")), str(tmp_path / "a\x00b.wav")]
    res = recognize_files(pipe, [files[0], *odd, files[1]])
    assert res.files == files[:2]
    assert [e[0] for e in res.errors] == odd
    assert "NUL" in res.errors[1][1]
    assert [read for read, _ in res.order] == [True, False, False, True]


@pytest.mark.parametrize("vae", ["sequence", "flat", None])
def test_predictor_of_each_vae_option_predicts_as_the_full_model(vae, tmp_path, cache):
    """A SequenceVAE becomes its NumPy encoder, a VAETransformer its
    NumpyEncoder; without a VAE nothing changes."""
    freqs = (300.0, 700.0, 1500.0)
    X = [_tone(f, s) for f in freqs for s in range(10)]
    y = np.repeat([0, 1, 2], 10)
    pipe = make_recognizer(
        vae=vae, n_components=3, hidden_layer_sizes=(8,), n_mels=16, max_iter=3, cv=2
    ).fit(X, y)
    path = save_recognizer(recognizer_bundle(pipe, y), tmp_path)
    full = load_recognizer(path)["recognizer"]
    torch_vae = {"sequence": SequenceVAE, "flat": VAETransformer}.get(vae)
    if vae is not None:
        assert type(full["model"]["vae"]) is torch_vae
    bundle = load_predictor(path)
    model = bundle["recognizer"]["model"]
    if vae is None:
        assert "vae" not in model.named_steps
    else:
        encoder = {"sequence": NumpySequenceEncoder, "flat": NumpyEncoder}[vae]
        assert type(model["vae"]) is encoder
    new = [_tone(f, s) for f in freqs for s in (50, 51)]
    assert_array_equal(bundle["recognizer"].predict(new), full.predict(new))
    assert_allclose(
        bundle["recognizer"].predict_proba(new), full.predict_proba(new), atol=1e-6
    )
    # the cached predictor answers the same
    again = load_predictor(path)
    assert_array_equal(again["recognizer"].predict(new), full.predict(new))
