"""Saving and loading fitted models: pickle/joblib/skops states
(``skvae/_serialize.py``), the weights format (``skvae/_format.py``), the
weights-only files of ``skvae.save`` / ``skvae.load``
(``skvae/_persistence.py``) and atomic writes (``skvae/_atomic.py``).
GPU-to-CPU loading is in ``test_device.py``."""

import io
import json
import os
import pickle
import warnings

import joblib
import numpy as np
import pytest
import torch
from conftest import require_optional
from numpy.testing import assert_array_equal
from safetensors.torch import load_file, save_file
from sklearn.decomposition import PCA

import skvae
from skvae import VAEClassifier, VAETransformer
from skvae._format import FORMAT, FORMAT_VERSION, decode, encode
from skvae._serialize import build_module
from skvae.exceptions import InconsistentVersionWarning

pytestmark = pytest.mark.filterwarnings("ignore::sklearn.exceptions.ConvergenceWarning")

N_FEATURES = 5
FAST = dict(hidden_layer_sizes=(32,), max_iter=30, batch_size=32, random_state=0)
CLF = dict(n_components=1, hidden_layer_sizes=(64, 64), random_state=0, n_threads=1)


@pytest.fixture(scope="module")
def data():
    rng = np.random.RandomState(0)
    return rng.normal(size=(200, N_FEATURES)) @ rng.normal(size=(N_FEATURES,) * 2)


@pytest.fixture(scope="module")
def model(data):
    return VAETransformer(
        n_components=2, hidden_layer_sizes=(16,), max_iter=10, random_state=0
    ).fit(data)


@pytest.fixture(scope="module")
def labelled(data):
    """Two classes, a third of the rows unlabelled (-1)."""
    y = (data[:, 0] > np.median(data[:, 0])).astype(int)
    y_partial = y.copy()
    y_partial[::3] = -1
    return data.astype(np.float32), y_partial


def _outputs(est, X):
    return {
        "transform": est.transform(X),
        "score_samples": est.score_samples(X),
        "sample": est.sample(5, random_state=1),
    }


def _assert_same_outputs(a, b, X):
    for name, value in _outputs(a, X).items():
        assert_array_equal(value, _outputs(b, X)[name], err_msg=name)


# ---------------------------------------------------------------- pickle, joblib
def test_joblib_round_trip_is_exact(model, data, tmp_path):
    path = tmp_path / "vae.joblib"
    joblib.dump(model, path)
    loaded = joblib.load(path)
    _assert_same_outputs(loaded, model, data)
    assert_array_equal(
        loaded.sample(4, random_state=0), model.sample(4, random_state=0)
    )
    assert loaded.get_params() == model.get_params()


def test_pickle_holds_weights_bytes_and_loads_where_saved_device_is_missing(
    model, data
):
    fake = pickle.loads(pickle.dumps(model))
    # pretend it was trained on a GPU: the pickle must still load on this CPU
    fake.device_ = torch.device("cuda", 3)
    state = fake.__getstate__()
    assert state["device_"] == "cuda:3"
    content = decode(state["_module"])
    assert content.module_config == model.module_.config()
    assert_array_equal(content.module["loc"], model.module_.loc.numpy())
    loaded = pickle.loads(pickle.dumps(fake))
    if torch.cuda.device_count() <= 3:
        assert loaded.device_ == torch.device("cpu")
    assert_array_equal(loaded.transform(data), model.transform(data))


def test_pickle_is_small_without_training_state(data):
    cold = VAETransformer(n_components=2, **FAST).fit(data)
    warm = VAETransformer(n_components=2, warm_start=True, **FAST).fit(data)
    assert "_optimizer_state" not in cold.__getstate__()
    assert "_optimizer_state" in warm.__getstate__()
    n_params = sum(p.numel() for p in cold.module_.parameters())
    # weights (float32) plus a small overhead; Adam state would add 2x
    assert len(pickle.dumps(cold)) < 4 * n_params * 1.5 + 20_000
    assert len(pickle.dumps(warm)) > 4 * n_params * 2.5


def test_warm_start_survives_pickle(data):
    a = VAETransformer(n_components=2, warm_start=True, **{**FAST, "max_iter": 3})
    a.fit(data)
    b = pickle.loads(pickle.dumps(a))
    a.fit(data)
    b.fit(data)
    assert_array_equal(a.transform(data), b.transform(data))


def test_pickle_from_other_version_warns(model):
    state = model.__getstate__()
    state["_skvae_version"] = "0.0.1"
    fresh = VAETransformer.__new__(VAETransformer)
    with pytest.warns(
        InconsistentVersionWarning, match="saved with skvae 0.0.1 using skvae"
    ):
        fresh.__setstate__(state)
    buf = io.BytesIO()
    pickle.dump(model, buf)  # the current version loads without a warning
    buf.seek(0)
    with warnings.catch_warnings():
        warnings.simplefilter("error", InconsistentVersionWarning)
        pickle.load(buf)


def test_classifier_pickle_and_joblib_round_trip(labelled, tmp_path):
    X, y = labelled
    a = VAEClassifier(**CLF, max_iter=10).fit(X, y)
    joblib.dump(a, tmp_path / "clf.joblib")
    for other in (pickle.loads(pickle.dumps(a)), joblib.load(tmp_path / "clf.joblib")):
        assert_array_equal(other.predict_proba(X), a.predict_proba(X))
        assert_array_equal(
            other.sample(3, y=1, random_state=0)[0], a.sample(3, y=1, random_state=0)[0]
        )


# ---------------------------------------------------------------- weights files
def test_weights_only_round_trip_is_exact(model, data, tmp_path):
    path = model.save(tmp_path / "vae.safetensors")
    loaded = skvae.load(path)
    assert type(loaded) is VAETransformer
    assert loaded.get_params() == model.get_params()
    for attr in ("mean_", "scale_", "n_features_in_", "n_iter_", "history_"):
        assert_array_equal(
            np.asarray(getattr(loaded, attr), dtype=object),
            np.asarray(getattr(model, attr), dtype=object),
        )
    assert loaded.groups_ is None and loaded.group_prior_ is None
    _assert_same_outputs(loaded, model, data)


def test_save_function_and_method_write_the_same_file(model, tmp_path):
    from safetensors import safe_open

    files = [
        skvae.save(model, tmp_path / "a.safetensors"),
        model.save(tmp_path / "b.safetensors"),
    ]
    metas = []
    for path in files:
        with safe_open(path, framework="pt") as fh:
            metas.append(fh.metadata())
    assert metas[0] == metas[1]
    a, b = (load_file(path) for path in files)
    assert a.keys() == b.keys()
    assert all(torch.equal(a[k], b[k]) for k in a)


def test_classifier_weights_file_round_trip(labelled, tmp_path):
    """skvae.save / skvae.load keep classes (strings too) and every output."""
    X, y = labelled
    names = np.array(["-1", "left", "right"])[y + 1].astype(object)
    clf = VAEClassifier(**CLF, max_iter=5).fit(X, names)
    other = skvae.load(clf.save(tmp_path / "clf.safetensors"))
    assert type(other) is VAEClassifier
    assert_array_equal(other.classes_, ["left", "right"])
    assert other.n_labelled_ == clf.n_labelled_
    assert other.classification_weight_ == clf.classification_weight_
    assert_array_equal(other.predict_proba(X), clf.predict_proba(X))
    assert_array_equal(
        other.sample(4, y="left", random_state=0)[0],
        clf.sample(4, y="left", random_state=0)[0],
    )


def test_groups_persist_in_pickle_and_weights_file(data, tmp_path):
    X = data.astype(np.float32)
    groups = np.repeat(np.array(["ann", "bob", "cy"]), [50, 70, 80])
    vae = VAETransformer(2, hidden_layer_sizes=(32,), max_iter=20, random_state=0)
    vae.fit(X, groups=groups)
    for other in (
        pickle.loads(pickle.dumps(vae)),
        skvae.load(vae.save(tmp_path / "g.safetensors")),
    ):
        assert_array_equal(other.groups_, vae.groups_)
        assert_array_equal(other.group_prior_, vae.group_prior_)
        assert_array_equal(other.score_samples(X[:5]), vae.score_samples(X[:5]))
        Z = vae.transform(X[:5])
        assert_array_equal(
            other.inverse_transform(Z, groups="bob"),
            vae.inverse_transform(Z, groups="bob"),
        )


def test_saved_file_has_default_permissions(model, tmp_path):
    umask = os.umask(0)
    os.umask(umask)
    path = model.save(tmp_path / "m.safetensors")
    assert path.stat().st_mode & 0o777 == 0o666 & ~umask


def test_weights_only_keeps_feature_names(tmp_path):
    pd = require_optional("pandas")
    df = pd.DataFrame(
        np.random.RandomState(0).normal(size=(40, 3)), columns=list("abc")
    )
    est = VAETransformer(n_components=1, hidden_layer_sizes=(4,), max_iter=2).fit(df)
    loaded = skvae.load(est.save(tmp_path / "m.safetensors"))
    assert_array_equal(loaded.feature_names_in_, ["a", "b", "c"])
    with pytest.raises(ValueError, match="feature names"):
        loaded.transform(df.rename(columns={"a": "z"}))


def test_file_layout_is_format_1(model, tmp_path):
    """The layout documented in skvae/_format.py: what other skvae versions
    rely on to read the file."""
    from safetensors import safe_open

    path = model.save(tmp_path / "m.safetensors")
    with safe_open(path, framework="pt") as fh:
        meta = fh.metadata()
        names = set(fh.keys())
    assert set(meta) == {
        "format",
        "format_version",
        "skvae_version",
        "estimator",
        "params",
        "fitted",
        "module_config",
    }
    assert (
        (meta["format"], meta["format_version"])
        == (FORMAT, "1")
        == (
            "skvae-weights",
            str(FORMAT_VERSION),
        )
    )
    assert meta["estimator"] == "VAETransformer"
    assert json.loads(meta["params"]) == {
        k: list(v) if isinstance(v, tuple) else v for k, v in model.get_params().items()
    }
    assert set(json.loads(meta["fitted"])) == {
        "n_features_in_",
        "n_iter_",
        "best_loss_",
        "best_validation_score_",
        "history_",
        "_score_seed",
        "groups_",
    }
    assert json.loads(meta["module_config"]) == model.module_.config()
    assert names == {"attr.mean_", "attr.scale_"} | {
        f"module.{k}" for k in model.module_.state_dict()
    }


def test_file_written_by_hand_in_format_1_loads(model, data, tmp_path):
    """A file built from the documented layout alone loads and reproduces the
    model."""
    tensors = {
        f"module.{k}": v.contiguous() for k, v in model.module_.state_dict().items()
    }
    tensors["attr.mean_"] = torch.from_numpy(model.mean_)
    tensors["attr.scale_"] = torch.from_numpy(model.scale_)
    params = {
        k: list(v) if isinstance(v, tuple) else v for k, v in model.get_params().items()
    }
    fitted = {
        "n_features_in_": model.n_features_in_,
        "n_iter_": model.n_iter_,
        "best_loss_": model.best_loss_,
        "best_validation_score_": None,
        "history_": model.history_,
        "_score_seed": model._score_seed,
        "groups_": None,
    }
    meta = {
        "format": "skvae-weights",
        "format_version": "1",
        "skvae_version": skvae.__version__,
        "estimator": "VAETransformer",
        "params": json.dumps(params),
        "fitted": json.dumps(fitted),
        "module_config": json.dumps(model.module_.config()),
    }
    save_file(tensors, tmp_path / "hand.safetensors", metadata=meta)
    _assert_same_outputs(skvae.load(tmp_path / "hand.safetensors"), model, data)


def test_build_module_copies_a_module_exactly(model):
    source = model.module_
    copy = build_module(type(source), source.config(), source.state_dict())
    assert copy is not source and copy.config() == source.config()
    for (ka, va), (kb, vb) in zip(
        source.state_dict().items(), copy.state_dict().items()
    ):
        assert ka == kb and torch.equal(va, vb)
    state = dict(source.state_dict())
    state.pop("loc")
    with pytest.raises(ValueError, match="tensors do not match the model"):
        build_module(type(source), source.config(), state)


# ---------------------------------------------------------------- refused files
class _Exploit:
    """Unpickling this object would create a marker file (code execution)."""

    def __init__(self, marker):
        self.marker = marker

    def __reduce__(self):
        return (open, (self.marker, "w"))


def test_tampered_file_with_pickle_payload_is_refused(tmp_path):
    marker = tmp_path / "pwned"
    path = tmp_path / "model.safetensors"
    path.write_bytes(pickle.dumps(_Exploit(str(marker))))
    with pytest.raises(ValueError, match="not a skvae weights file"):
        skvae.load(path)
    assert not marker.exists()
    # the same payload as a joblib file: refused too
    joblib.dump(_Exploit(str(marker)), path)
    with pytest.raises(ValueError, match="not a skvae weights file"):
        skvae.load(path)
    assert not marker.exists()


def test_tampered_metadata_and_truncation_are_refused(model, tmp_path):
    good = model.save(tmp_path / "good.safetensors")
    raw = good.read_bytes()
    (tmp_path / "cut.safetensors").write_bytes(raw[: len(raw) // 2])
    with pytest.raises(ValueError, match="not a skvae weights file"):
        skvae.load(tmp_path / "cut.safetensors")
    save_file(load_file(good), tmp_path / "foreign.safetensors", metadata={"x": "y"})
    with pytest.raises(ValueError, match="not a skvae model file"):
        skvae.load(tmp_path / "foreign.safetensors")
    with pytest.raises(FileNotFoundError, match="No such model file"):
        skvae.load(tmp_path / "missing.safetensors")


def _rewrite(src, dst, **changes):
    """Copy weights file ``src`` to ``dst`` with metadata entries replaced."""
    from safetensors import safe_open

    with safe_open(src, framework="pt") as fh:
        meta = {**fh.metadata(), **changes}
    tensors = load_file(src)
    for key in [k for k, v in changes.items() if v is None]:
        meta.pop(key)
    save_file(tensors, dst, metadata=meta)
    return dst


def test_damaged_or_foreign_content_is_refused(model, tmp_path):
    good = model.save(tmp_path / "good.safetensors")
    cases = {
        "newer format": ({"format_version": "2"}, "newer than this skvae"),
        "unknown estimator": ({"estimator": "PCA"}, "unknown estimator 'PCA'"),
        "bad JSON": ({"fitted": "{"}, "damaged metadata"),
        "no params": ({"params": None}, "damaged metadata"),
        "fitted attribute missing": (
            {"fitted": json.dumps({"n_iter_": 1})},
            "damaged file",
        ),
        "wrong tensors": (
            {
                "module_config": json.dumps(
                    {**model.module_.config(), "n_components": 3}
                )
            },
            "tensors do not match the model",
        ),
    }
    for name, (changes, match) in cases.items():
        path = _rewrite(good, tmp_path / f"{name}.safetensors", **changes)
        with pytest.raises(ValueError, match=match):
            skvae.load(path)


def test_missing_group_prior_is_refused(data, tmp_path):
    vae = VAETransformer(2, hidden_layer_sizes=(8,), max_iter=2, random_state=0)
    vae.fit(data, groups=np.arange(len(data)) % 2)
    path = vae.save(tmp_path / "g.safetensors")
    tensors = load_file(path)
    del tensors["attr.group_prior_"]
    from safetensors import safe_open

    with safe_open(path, framework="pt") as fh:
        meta = fh.metadata()
    save_file(tensors, path, metadata=meta)
    with pytest.raises(ValueError, match=r"damaged file \(group_prior_ is missing\)"):
        skvae.load(path)


def test_weights_file_from_other_version_warns(model, tmp_path, monkeypatch):
    path = model.save(tmp_path / "m.safetensors")
    monkeypatch.setattr("skvae._serialize.__version__", "9.9.9")
    with pytest.warns(InconsistentVersionWarning, match="saved with skvae 0.1"):
        skvae.load(path)


def test_failed_save_leaves_the_old_file_and_no_partial_one(
    model, tmp_path, monkeypatch
):
    path = tmp_path / "m.safetensors"
    path.write_bytes(b"old")

    def broken(fd):
        raise OSError("disk full")

    monkeypatch.setattr(os, "fsync", broken)  # fails after the data is written
    with pytest.raises(OSError, match="disk full"):
        model.save(path)
    assert list(tmp_path.iterdir()) == [path]
    assert path.read_bytes() == b"old"


def test_atomic_write_keeps_the_mode_of_the_file_it_replaces(tmp_path):
    from skvae._atomic import write_atomic

    path = tmp_path / "secret.bin"
    path.write_bytes(b"old")
    path.chmod(0o600)
    write_atomic(path, b"new")
    assert path.read_bytes() == b"new"
    assert path.stat().st_mode & 0o777 == 0o600
    write_atomic(path, b"x", mode=0o640)
    assert path.stat().st_mode & 0o777 == 0o640
    assert sorted(tmp_path.iterdir()) == [path]


def test_skvae_load_reads_each_saveable_estimator_in_a_fresh_process(tmp_path):
    """skvae.load knows every estimator a weights file can hold without the
    user importing its class first (skvae train writes a SequenceVAE)."""
    import subprocess
    import sys

    code = (
        "import skvae._persistence\n"
        "from skvae._serialize import saveable_classes\n"
        "print(' '.join(sorted(saveable_classes())))\n"
    )
    out = subprocess.run(
        [sys.executable, "-c", code], check=True, capture_output=True, text=True
    ).stdout.split()
    assert out == ["FactorizedVAE", "SequenceVAE", "VAEClassifier", "VAETransformer"]


def test_what_cannot_be_saved(model, data, tmp_path):
    supported = r"\['FactorizedVAE', 'SequenceVAE', 'VAEClassifier', 'VAETransformer'\]"
    with pytest.raises(TypeError, match=rf"save supports {supported}, got PCA"):
        skvae.save(PCA(2).fit(data), tmp_path / "pca.safetensors")

    class MyVAE(VAETransformer):
        pass

    mine = MyVAE(**{**model.get_params(), "max_iter": 1}).fit(data)
    with pytest.raises(TypeError, match="got MyVAE"):
        mine.save(tmp_path / "mine.safetensors")
    seeded = VAETransformer(
        hidden_layer_sizes=(4,), max_iter=1, random_state=np.random.RandomState(0)
    ).fit(data)
    with pytest.raises(TypeError, match="random_state=RandomState.*JSON values"):
        seeded.save(tmp_path / "rs.safetensors")
    assert list(tmp_path.iterdir()) == []


def _edited(src, dst, key, edit):
    """Copy weights file ``src`` to ``dst`` with the JSON document ``key`` of
    its metadata replaced by ``edit(document)`` (a JSON value, or a string
    written as it is)."""
    from safetensors import safe_open

    with safe_open(src, framework="pt") as fh:
        meta = dict(fh.metadata())
    new = edit(json.loads(meta[key]))
    meta[key] = new if isinstance(new, str) else json.dumps(new)
    save_file(load_file(src), dst, metadata=meta)
    return dst


def _with(**items):
    return lambda doc: {**doc, **items}


def _without(name):
    return lambda doc: {k: v for k, v in doc.items() if k != name}


#: (metadata document, edit, error) of hand-edited weights files; each must
#: give the documented ValueError naming the problem, never a TypeError or
#: KeyError from deep inside, nor a model that loads and misbehaves later
EDITED_METADATA = {
    "params-a-list": ("params", lambda d: [1, 2], "params is not a JSON object"),
    "params-unknown-name": (
        "params",
        _with(bogus=1),
        "damaged file .*unexpected keyword argument 'bogus'",
    ),
    "params-wrong-type": (
        "params",
        _with(n_components="two"),
        "'n_components' parameter of VAETransformer must be",
    ),
    "params-inference-batch-size-negative": (
        "params",
        _with(inference_batch_size=-1),
        "'inference_batch_size' parameter of VAETransformer must be an int in "
        r"the range \[1, inf\). Got -1",
    ),
    "fitted-a-number": ("fitted", lambda d: 3, "fitted is not a JSON object"),
    "fitted-n-features-a-string": (
        "fitted",
        _with(n_features_in_="5"),
        "n_features_in_ is not an integer",
    ),
    "fitted-n-features-wrong": (
        "fitted",
        _with(n_features_in_=7),
        "n_features_in_=7, but the network has 5",
    ),
    "fitted-history-a-number": (
        "fitted",
        _with(history_=3),
        "history_ is not a list",
    ),
    "fitted-score-seed-missing": (
        "fitted",
        _without("_score_seed"),
        "_score_seed' is missing",
    ),
    "fitted-feature-names-wrong": (
        "fitted",
        _with(feature_names_in_=["a"]),
        "feature_names_in_ does not hold 5 names",
    ),
    "fitted-groups-without-conditioned-network": (
        "fitted",
        _with(groups_=["a", "b"]),
        "damaged file",
    ),
    "config-a-string": ("module_config", lambda d: "x", "damaged metadata"),
    "config-missing-entry": (
        "module_config",
        _without("n_components"),
        "module configuration is not valid",
    ),
    "config-wrong-type": (
        "module_config",
        _with(n_features="five"),
        "module configuration is not valid",
    ),
    "config-negative-width": (
        "module_config",
        _with(hidden_layer_sizes=[-4]),
        "module configuration is not valid",
    ),
    "config-huge-features": (  # refused before 4 TB are allocated
        "module_config",
        _with(n_features=10**12),
        "tensors do not match the model",
    ),
}


@pytest.mark.parametrize("case", list(EDITED_METADATA))
def test_edited_metadata_gives_a_value_error(model, tmp_path, case):
    key, edit, match = EDITED_METADATA[case]
    good = model.save(tmp_path / "good.safetensors")
    path = _edited(good, tmp_path / "edited.safetensors", key, edit)
    with pytest.raises(ValueError, match=match):
        skvae.load(path)


def test_format_version_that_is_not_a_number_is_refused(model, tmp_path):
    good = model.save(tmp_path / "good.safetensors")
    path = _rewrite(good, tmp_path / "v.safetensors", format_version="one")
    with pytest.raises(ValueError, match="damaged metadata .*format_version='one'"):
        skvae.load(path)


@pytest.mark.parametrize(
    "name, value, match",
    [
        ("module.encoder.0.weight", float("nan"), "'encoder.0.weight' holds NaN"),
        ("module.output.bias", float("inf"), "'output.bias' holds NaN or infinite"),
        ("attr.mean_", float("nan"), r"mean_ holds NaN"),
        ("attr.scale_", -1.0, "scale_ is not positive"),
    ],
)
def test_non_finite_weights_are_refused(model, tmp_path, name, value, match):
    tensors = load_file(model.save(tmp_path / "good.safetensors"))
    tensors[name] = tensors[name].clone()
    tensors[name].view(-1)[0] = value
    from safetensors import safe_open

    with safe_open(tmp_path / "good.safetensors", framework="pt") as fh:
        meta = fh.metadata()
    save_file(tensors, tmp_path / "bad.safetensors", metadata=meta)
    with pytest.raises(ValueError, match=match):
        skvae.load(tmp_path / "bad.safetensors")
    # a pickle of such a model is refused as well
    bad = pickle.loads(pickle.dumps(model))
    if name.startswith("module."):
        with torch.no_grad():
            bad.module_.get_parameter(name[len("module.") :]).view(-1)[0] = value
        with pytest.raises(ValueError, match=match):
            pickle.loads(pickle.dumps(bad))


@pytest.mark.parametrize(
    "classes, edit, match",
    [
        (["a", "b"], _with(classes_=["b", "a"]), "classes_ is not sorted"),
        (["a", "b"], _with(classes_=["a", "b", "c"]), "must hold the 2 classes"),
        (["a", "b"], _with(classes_dtype="no such dtype"), "damaged file"),
    ],
)
def test_edited_classes_are_refused(data, tmp_path, classes, edit, match):
    y = np.repeat(classes, len(data) // 2)
    clf = VAEClassifier(2, hidden_layer_sizes=(8,), max_iter=1, random_state=0)
    good = clf.fit(data, y).save(tmp_path / "clf.safetensors")
    path = _edited(good, tmp_path / "edited.safetensors", "fitted", edit)
    with pytest.raises(ValueError, match=match):
        skvae.load(path)


@pytest.mark.parametrize(
    "y",
    [
        np.array([3, 7], dtype=np.uint8),
        np.array([-2, 5], dtype=np.int8),
        np.array([0.0, 2.0], dtype=np.float32),
        np.array([False, True]),
        np.array(["cat", "dog"], dtype=object),
        np.array(["cat", "dog"]),
    ],
    ids=lambda y: str(y.dtype),
)
def test_classes_keep_their_dtype(data, tmp_path, y):
    labels = np.repeat(y, len(data) // 2)
    clf = VAEClassifier(2, hidden_layer_sizes=(8,), max_iter=1, random_state=0)
    clf.fit(data, labels)
    for other in (
        skvae.load(clf.save(tmp_path / "clf.safetensors")),
        pickle.loads(pickle.dumps(clf)),
    ):
        assert other.classes_.dtype == clf.classes_.dtype == y.dtype
        assert_array_equal(other.classes_, y)
        assert other.predict(data[:3]).dtype == y.dtype


# ---------------------------------------------------------------- skops states
def _torch_objects(obj, where="state"):
    """Paths of the torch objects (tensors, devices, generators...) in ``obj``."""
    if type(obj).__module__.split(".")[0] == "torch":
        return [where]
    if isinstance(obj, dict):
        items = obj.items()
    elif isinstance(obj, list | tuple):
        items = enumerate(obj)
    else:
        return []
    return [p for k, v in items for p in _torch_objects(v, f"{where}[{k!r}]")]


def _fitted_estimators(data, **params):
    X = data.astype(np.float32)
    y = (X[:, 0] > 0).astype(int)
    groups = np.arange(len(X)) % 3
    small = dict(hidden_layer_sizes=(8,), max_iter=3, random_state=0, **params)
    return {
        "VAETransformer": (
            VAETransformer(2, **small).fit(X, groups=groups),
            "transform",
        ),
        "VAEClassifier": (VAEClassifier(2, **small).fit(X, y), "predict_proba"),
        "FactorizedVAE": (
            skvae.FactorizedVAE(2, **small).fit(X, groups=groups),
            "transform",
        ),
    }


@pytest.mark.parametrize("name", ["VAETransformer", "VAEClassifier", "FactorizedVAE"])
def test_skops_round_trips_a_pipeline_with_a_vae_step(data, name):
    """Fault 4 of issue 21: a pipeline with a FactorizedVAE step (the VAEs in
    general) saves with skops and loads, trusting the VAE's class alone."""
    sio = require_optional("skops.io")
    from sklearn.pipeline import Pipeline
    from sklearn.preprocessing import StandardScaler

    est, method = _fitted_estimators(data)[name]
    pipe = Pipeline([("scale", StandardScaler().fit(data)), ("vae", est)])
    blob = sio.dumps(pipe)
    cls = type(est)
    path = f"{cls.__module__}.{cls.__name__}"
    assert sio.get_untrusted_types(data=blob) == [path]
    back = sio.loads(blob, trusted=[path])
    X = data.astype(np.float32)
    assert_array_equal(getattr(back, method)(X), getattr(pipe, method)(X))
    assert back[-1].device_ == torch.device("cpu")


@pytest.mark.parametrize("warm_start", [False, True])
def test_a_state_holds_no_torch_object(data, warm_start):
    for name, (est, _) in _fitted_estimators(data, warm_start=warm_start).items():
        state = est.__getstate__()
        assert _torch_objects(state) == [], name
        assert isinstance(state["_module"], bytes)
        assert ("_optimizer_state" in state) == warm_start


def test_training_goes_on_identically_after_skops(data):
    sio = require_optional("skops.io")
    a = VAETransformer(n_components=2, warm_start=True, **{**FAST, "max_iter": 3})
    a.partial_fit(data)
    blob = sio.dumps(a)  # with the optimizer and random streams, as arrays
    assert sio.get_untrusted_types(data=blob) == ["skvae._transformer.VAETransformer"]
    b = sio.loads(blob, trusted=["skvae._transformer.VAETransformer"])
    c = pickle.loads(pickle.dumps(a))
    for est in (a, b, c):
        est.partial_fit(data)
    assert_array_equal(b.transform(data), a.transform(data))
    assert_array_equal(c.transform(data), a.transform(data))


# ------------------------------------------------- damaged bytes, both readers
@pytest.mark.parametrize(
    "damage, match",
    [
        (lambda raw: raw[: len(raw) // 2], "not a skvae weights file"),
        (lambda raw: raw[:6], "not a skvae weights file"),
        (lambda raw: b"", "not a skvae weights file"),
        (lambda raw: pickle.dumps({"a": 1}), "not a skvae weights file"),
        (lambda raw: raw.replace(b"skvae-weights", b"skvae-weightz"), "not a skvae"),
        (
            lambda raw: raw.replace(b'"format_version":"1"', b'"format_version":"x"'),
            "damaged metadata",
        ),
        (lambda raw: raw.replace(b"attr.mean_", b"oops.mean_"), "unknown tensor"),
        (lambda raw: "text", "not bytes|damaged file"),
    ],
)
def test_damaged_bytes_give_a_clear_value_error_on_both_paths(model, damage, match):
    from skvae._numpy_encoder import NumpyEncoder

    raw = encode(model._to_weights())
    assert decode(raw).estimator == "VAETransformer"
    bad = damage(raw)
    with pytest.raises(ValueError, match=match):
        decode(bad)
    if isinstance(bad, bytes):  # the NumPy reader
        with pytest.raises(ValueError, match=match):
            NumpyEncoder(bad).fit()
    # the torch reader: the network of a pickled estimator
    state = model.__getstate__()
    state["_module"] = bad
    fresh = VAETransformer.__new__(VAETransformer)
    with pytest.raises(ValueError, match=match):
        fresh.__setstate__(state)


def test_an_edited_pickle_or_skops_state_is_damaged(model):
    """pickle and skops states are checked as weights files are: an edited
    scale_ would otherwise give NaN scores silently."""
    import copy

    import skops.io

    edited = copy.deepcopy(model)
    edited.scale_ = edited.scale_.copy()
    edited.scale_[0] = -1.0
    with pytest.raises(ValueError, match=r"damaged file \(scale_ is not positive"):
        pickle.loads(pickle.dumps(edited))
    trusted = [f"{type(model).__module__}.{type(model).__name__}"]
    with pytest.raises(ValueError, match=r"damaged file \(scale_ is not positive"):
        skops.io.loads(skops.io.dumps(edited), trusted=trusted)


def test_atomic_writes_follow_links_and_refuse_other_files(tmp_path):
    from skvae._atomic import write_atomic

    target = tmp_path / "target.bin"
    target.write_bytes(b"old")
    os.chmod(target, 0o6755)  # setuid/setgid bits are not copied
    link = tmp_path / "link.bin"
    link.symlink_to(target)
    write_atomic(link, b"new")
    assert link.is_symlink() and target.read_bytes() == b"new"
    assert target.stat().st_mode & 0o7777 == 0o755
    with pytest.raises(IsADirectoryError, match="not a regular file"):
        write_atomic(tmp_path, b"x")
    fifo = tmp_path / "fifo"
    os.mkfifo(fifo)
    with pytest.raises(IsADirectoryError, match="not a regular file"):
        write_atomic(fifo, b"x")
    assert fifo.exists() and not fifo.is_file()
