"""skvae.recipes: the recogniser, its groups route, training, generating, files."""

import copy
import json
import pickle
import warnings
import zipfile
from pathlib import Path

import numpy as np
import pytest
import sklearn
from sklearn.base import clone
from sklearn.exceptions import ConvergenceWarning
from sklearn.linear_model import LogisticRegression
from sklearn.pipeline import Pipeline
from sklearn.svm import SVC

from skvae import SequenceVAE, VAETransformer
from skvae.augment import ResamplingPipeline, SyntheticVoices, VoicePerturbation
from skvae.features import GroupStandardScaler, write_wav
from skvae.recipes import (
    FILLER,
    SEQUENCE_VAE,
    RecognizerPipeline,
    as_utterances,
    can_generate,
    fit_recognizer,
    generate_utterances,
    load_recognizer,
    make_generator,
    make_recognizer,
    recognize_files,
    recognizer_bundle,
    save_recognizer,
    train_recognizer,
)

# small and fast: 16 x 16 log-mel rows, a 4-D code, 2 epochs, one thread
FAST = dict(
    n_components=4,
    hidden_layer_sizes=(32,),
    n_mels=16,
    n_frames=16,
    max_iter=2,
    n_threads=1,
    augment=None,  # tested on its own (test_synthetic_voices.py)
)


@pytest.fixture(autouse=True)
def _few_epochs_are_fine():
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        yield


@pytest.fixture(scope="module")
def digits(tmp_path_factory):
    """3 generated speakers x 10 digits x 2 repetitions, as WAV files too."""
    from skvae.datasets import make_spoken_digits

    folder = tmp_path_factory.mktemp("digits")
    return make_spoken_digits(3, 2, random_state=0, out_dir=folder)


@pytest.fixture(scope="module")
def front_end(digits):
    return make_recognizer(**FAST)["features"].fit(digits.data)


@pytest.fixture(scope="module")
def features(digits, front_end):
    # the default front end gives one array of frames per utterance
    return as_utterances(front_end.transform(digits.data))


@pytest.fixture(scope="module")
def bundle(digits, features, front_end):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        durations = np.array([len(w) / digits.sr for w in digits.data])
        return train_recognizer(
            features,
            digits.target,
            features=front_end,
            durations=durations,
            audio=digits.data,  # the default front end removes each mean (cmvn)
            **FAST,
        )


def _cmvn():
    with sklearn.config_context(enable_metadata_routing=True):
        scaler = GroupStandardScaler(min_group_size=2).set_fit_request(groups=True)
        return scaler.set_transform_request(groups=True)


def _toy(n=60):
    rng = np.random.RandomState(0)
    X = rng.normal(size=(n, 4))
    y = np.arange(n) % 2
    speaker = np.repeat(["ann", "bob", "cyd"], n // 3)
    # each speaker has its own offset: only per-speaker normalisation removes it
    X += 5.0 * (speaker == "bob")[:, None] + 2.0 * y[:, None]
    return X, y, speaker


# --------------------------------------------------------------------------
# make_recognizer / make_generator
# --------------------------------------------------------------------------
def test_make_recognizer_steps_and_parameters():
    pipe = make_recognizer(n_components=8, n_mels=20, n_frames=10, cv=3, random_state=4)
    # the default augments: generated voices saying each label
    assert isinstance(pipe, ResamplingPipeline)
    assert [name for name, _ in pipe.steps] == ["voices", "features", "model"]
    voices = pipe["voices"]
    assert isinstance(voices, SyntheticVoices)
    assert (voices.voices, voices.n_repeats) == (48, 3)
    assert voices.sr == 8000 and voices.random_state == 4
    assert clone(pipe).get_params()["voices__voices"] == 48
    both = make_recognizer(augment="voices+perturb", random_state=4)
    assert [name for name, _ in both.steps][:2] == ["voices", "perturb"]
    perturb = both["perturb"]
    assert isinstance(perturb, VoicePerturbation)
    assert (perturb.speed, perturb.vtlp) == ((0.9, 1.1), (0.9, 1.1, 1.2))
    assert (perturb.n_copies, perturb.sr, perturb.random_state) == (2, 8000, 4)
    plain = make_recognizer(augment=None)
    assert isinstance(plain, RecognizerPipeline) and isinstance(plain, Pipeline)
    assert [name for name, _ in plain.steps] == ["features", "model"]
    for augment, names in (("voices", ["voices"]), ("perturb", ["perturb"])):
        steps = make_recognizer(augment=augment).steps
        assert [name for name, _ in steps] == [*names, "features", "model"]
    assert [name for name, _ in pipe["model"].steps] == ["vae", "scale", "clf"]
    fe, vae, clf = pipe["features"], pipe["model"]["vae"], pipe["model"]["clf"]
    assert (fe.kind, fe.n_mels, fe.n_frames, fe.sr, fe.top_db) == (
        "logmel",
        20,
        10,
        8000,
        30.0,
    )
    assert (fe.cmvn, fe.output) == ("mean", "sequence")
    assert isinstance(vae, SequenceVAE)
    assert vae.n_components == 8 and vae.random_state == 4
    assert vae.hidden_layer_sizes == SEQUENCE_VAE["hidden_layer_sizes"]
    assert clf.cv == 3 and clf.ensemble is False
    assert clone(pipe).get_params()["model__vae__n_components"] == 8
    rej = make_recognizer(reject=True, target_false_rejection=0.1, random_state=4)
    # the reject option's filler class: other words by generated voices
    assert [name for name, _ in rej.steps] == ["voices", "filler", "features", "model"]
    assert rej["filler"].get_params()["n_samples"] == FILLER["n_samples"] == 1000
    assert rej["model"].filler_label == "auto"
    plain = make_recognizer(reject=True, augment=None)
    assert isinstance(plain, RecognizerPipeline)
    assert [name for name, _ in plain.steps] == ["features", "model"]
    assert plain["model"].filler_label is None
    with pytest.raises(ValueError, match="reject=True cannot be combined with pert"):
        make_recognizer(reject=True, augment="voices+perturb")
    with pytest.raises(ValueError, match="filler class that only the reject option"):
        make_recognizer(augment="voices+filler")
    with pytest.raises(ValueError, match="augment must be one of"):
        make_recognizer(augment="more")
    assert rej["model"].target_false_rejection == 0.1
    assert [name for name, _ in rej["model"].estimator.steps] == ["vae", "clf"]
    rej = make_recognizer(reject=True, vae="sequence")["model"].estimator
    assert [name for name, _ in rej.steps] == ["vae", "scale", "clf"]
    # the flat VAE: early stopping, its own default widths, or the ones given
    flat = make_recognizer(vae="flat", n_components=8, random_state=4)["model"]["vae"]
    assert isinstance(flat, VAETransformer) and flat.early_stopping
    assert (flat.n_components, flat.random_state) == (8, 4)
    assert flat.hidden_layer_sizes == (256, 128)
    for kind in ("flat", "sequence"):
        vae = make_recognizer(vae=kind, hidden_layer_sizes=(64,))["model"]["vae"]
        assert vae.hidden_layer_sizes == (64,)


def test_make_generator_parameters():
    gen = make_generator(n_components=3, max_iter=7, random_state=2)
    assert (gen.n_components, gen.max_iter, gen.random_state) == (3, 7, 2)
    assert gen.early_stopping


def test_recognizer_on_paths_and_on_waveforms(digits):
    pipe = make_recognizer(cv=2, **FAST).fit(digits.filenames, digits.target)
    from_files = pipe.predict(digits.filenames[:10])
    from_waves = pipe.predict(list(digits.data[:10]))
    np.testing.assert_array_equal(from_files, from_waves)
    proba = pipe.predict_proba(digits.filenames[:10])
    np.testing.assert_allclose(proba.sum(axis=1), 1.0)
    assert 0.0 <= pipe.score(digits.filenames, digits.target) <= 1.0


def test_default_recognizer_refuses_groups(digits):
    pipe = make_recognizer(cv=2, **FAST)
    with pytest.raises(ValueError, match="groups were given to fit, but no step"):
        pipe.fit(digits.filenames, digits.target, groups=digits.speaker)
    pipe.fit(digits.filenames, digits.target)
    with pytest.raises(ValueError, match="groups were given to predict"):
        pipe.predict(digits.filenames[:5], groups=digits.speaker[:5])


# --------------------------------------------------------------------------
# RecognizerPipeline: groups through metadata routing
# --------------------------------------------------------------------------
def test_groups_reach_the_steps_that_request_them():
    X, y, speaker = _toy()
    pipe = RecognizerPipeline([("cmvn", _cmvn()), ("svc", SVC())])
    pipe.fit(X, y, groups=speaker)
    # the same as normalising by hand, per speaker, then the SVC
    Xn = X.copy()
    for s in np.unique(speaker):
        rows = speaker == s
        Xn[rows] = (X[rows] - X[rows].mean(0)) / X[rows].std(0)
    svc = SVC().fit(Xn, y)
    np.testing.assert_array_equal(pipe.predict(X, groups=speaker), svc.predict(Xn))
    assert pipe.score(X, y, groups=speaker) == svc.score(Xn, y)
    np.testing.assert_allclose(
        pipe.decision_function(X, groups=speaker), svc.decision_function(Xn)
    )
    # the global setting is left as it was
    assert sklearn.get_config()["enable_metadata_routing"] is False


def test_groups_change_the_answer_where_they_matter():
    X, y, speaker = _toy()
    pipe = RecognizerPipeline([("cmvn", _cmvn()), ("lr", LogisticRegression())])
    pipe.fit(X, y, groups=speaker)
    right = pipe.score(X, y, groups=speaker)
    wrong = pipe.score(X, y, groups=np.full(len(y), "ann"))  # one voice for all
    assert right > wrong


def test_without_groups_it_is_a_plain_pipeline():
    X, y, _ = _toy()
    ours = RecognizerPipeline([("lr", LogisticRegression())])
    theirs = Pipeline([("lr", LogisticRegression())])
    ours.fit(X, y)
    theirs.fit(X, y)
    np.testing.assert_allclose(ours.predict_proba(X), theirs.predict_proba(X))
    np.testing.assert_allclose(ours.predict_log_proba(X), theirs.predict_log_proba(X))
    # step parameters still travel the non-routing way
    ours.fit(X, y, lr__sample_weight=np.ones(len(y)))


def test_methods_follow_the_last_step():
    X, y, _ = _toy()
    pipe = RecognizerPipeline([("svc", SVC())]).fit(X, y)
    assert not hasattr(pipe, "predict_proba")  # SVC without probability=True
    assert not hasattr(pipe, "transform")
    scaler_only = RecognizerPipeline([("cmvn", _cmvn())])
    X, _, speaker = _toy()
    Z = scaler_only.fit(X, groups=speaker).transform(X, groups=speaker)
    np.testing.assert_allclose(Z[speaker == "bob"].mean(0), 0.0, atol=1e-12)


def test_unrequested_groups_in_a_routed_step_are_refused():
    X, y, speaker = _toy()
    with sklearn.config_context(enable_metadata_routing=True):
        vae = VAETransformer(2, max_iter=1).set_fit_request(groups=False)
    pipe = RecognizerPipeline([("vae", vae), ("svc", SVC())])
    with pytest.raises(ValueError, match=r"no step of this pipeline \(vae, svc\)"):
        pipe.fit(X, y, groups=speaker)


def test_recognizer_pipeline_pickles_with_its_requests():
    X, y, speaker = _toy()
    pipe = RecognizerPipeline([("cmvn", _cmvn()), ("svc", SVC())])
    pipe.fit(X, y, groups=speaker)
    again = pickle.loads(pickle.dumps(pipe))
    assert type(again) is RecognizerPipeline
    np.testing.assert_array_equal(
        again.predict(X, groups=speaker), pipe.predict(X, groups=speaker)
    )


# --------------------------------------------------------------------------
# training steps
# --------------------------------------------------------------------------
@pytest.mark.parametrize("reject", [False, True])
def test_fit_recognizer_equals_fitting_on_the_audio(
    digits, features, front_end, reject
):
    # explicit: with reject, "auto" would pick the flat VAE on other rows
    params = dict(FAST, cv=2, reject=reject, vae="sequence", cmvn="mean")
    on_rows = fit_recognizer(features, digits.target, features=front_end, **params)
    on_audio = make_recognizer(**params).fit(digits.data, digits.target)
    assert on_rows["features"] is front_end  # fitted once, not copied
    X = digits.data[:8]
    np.testing.assert_allclose(on_rows.predict_proba(X), on_audio.predict_proba(X))
    np.testing.assert_array_equal(on_rows.predict(X), on_audio.predict(X))
    if reject:
        assert on_rows["model"].threshold_ == on_audio["model"].threshold_
        np.testing.assert_allclose(on_rows.score_samples(X), on_audio.score_samples(X))


def test_augmenting_recogniser_trains_on_the_added_utterances(
    digits, features, front_end, monkeypatch
):
    """The samplers add their utterances at fit time only, the front-end
    route (fit_recognizer, what skvae train uses) adds the same ones, and
    the saved model is the recogniser without its samplers."""
    import skvae.recipes._factories as factories

    monkeypatch.setitem(factories.GENERATED_VOICES, "voices", 2)
    monkeypatch.setitem(factories.GENERATED_VOICES, "n_repeats", 1)
    params = dict(FAST, cv=2, augment="voices+perturb")
    n = len(digits.target)
    on_audio = make_recognizer(**params).fit(digits.data, digits.target)
    # n, + 2 voices x 10 digits, then 2 perturbed copies of all
    n_train = 3 * (n + 20)
    assert len(on_audio["perturb"].sample_indices_) == n_train
    assert on_audio["model"]["scale"].n_samples_seen_ == n_train
    assert on_audio.predict(digits.data[:8]).shape == (8,)  # samplers skipped
    on_rows = fit_recognizer(
        features, digits.target, features=front_end, audio=digits.data, **params
    )
    assert on_rows["model"]["scale"].n_samples_seen_ == n_train
    X = digits.data[:8]
    np.testing.assert_allclose(
        on_rows.predict_proba(X), on_audio.predict_proba(X), atol=1e-6
    )
    with pytest.raises(ValueError, match=r"augments its training audio \(voices, "):
        fit_recognizer(features, digits.target, features=front_end, **params)
    bundle = recognizer_bundle(on_rows, digits.target)
    assert type(bundle["recognizer"]) is RecognizerPipeline
    assert [name for name, _ in bundle["recognizer"].steps] == ["features", "model"]
    np.testing.assert_array_equal(bundle["recognizer"].predict(X), on_rows.predict(X))
    model = on_rows["model"]
    assert getattr(model, "estimator_", model)["vae"].verbose == 0


def test_fit_recognizer_calibrates_with_the_folds_the_labels_allow(digits, features):
    # 6 utterances per digit: cv=5 is kept; 2 per digit: cv becomes 2
    fe = make_recognizer()["features"]
    pipe = fit_recognizer(features, digits.target, features=fe, **FAST)
    assert pipe["model"]["clf"].cv == 5
    few = np.r_[np.flatnonzero(digits.index == 0), np.flatnonzero(digits.index == 1)]
    few = few[np.isin(digits.speaker[few], digits.speaker[:1])]
    pipe = fit_recognizer(features[few], digits.target[few], features=fe, **FAST)
    assert pipe["model"]["clf"].cv == 2


@pytest.mark.parametrize(
    ("y", "match"),
    [
        (np.zeros(6, dtype=int), "single label"),
        (np.array([0, 0, 1, 1, 1, 2]), "at least 2 training utterances; got 1"),
    ],
)
def test_fit_recognizer_needs_two_utterances_per_label(y, match):
    F = np.random.RandomState(0).normal(size=(len(y), 8))
    with pytest.raises(ValueError, match=match):
        fit_recognizer(F, y, features=make_recognizer()["features"], **FAST)


def test_train_recognizer_bundle(bundle, digits, features, front_end):
    assert bundle["format"] == "skvae-recognizer" and bundle["format_version"] == 1
    assert set(bundle) == {
        "format", "format_version", "recognizer", "generator", "durations",
        "band_variances", "metadata",
    }  # fmt: skip
    np.testing.assert_array_equal(bundle["recognizer"].classes_, np.arange(10))
    # each digit's median duration
    for k in range(10):
        waves = digits.data[digits.target == k]
        median = np.median([len(w) / digits.sr for w in waves])
        assert bundle["durations"][k] == pytest.approx(median)
    gen = bundle["generator"]
    assert gen.n_components == 4 and gen.n_iter_ == 2
    meta = bundle["metadata"]
    assert meta["params"] == FAST and meta["epochs"] == 2
    assert {"train_seconds"} <= set(meta)
    assert "generator" not in train_recognizer(
        features, digits.target, features=front_end, generator=False, **FAST
    )


def test_recognizer_bundle_without_durations_uses_the_row_length(bundle):
    plain = recognizer_bundle(bundle["recognizer"], np.arange(60) % 10)
    fe = bundle["recognizer"]["features"]
    assert np.all(plain["durations"] == (fe.n_frames - 1) * (fe.sr // 100) / fe.sr)
    assert "generator" not in plain and not can_generate(plain)


# --------------------------------------------------------------------------
# generating
# --------------------------------------------------------------------------
def test_generate_utterances(bundle):
    rows, waves = generate_utterances(bundle, 3, 2, random_state=0)
    assert rows.shape == (2, 16 * 16) and len(waves) == 2
    target = bundle["durations"][3] * 8000
    assert all(abs(len(w) - target) < 0.2 * target for w in waves)
    again, _ = generate_utterances(bundle, 3, 2, random_state=0)
    np.testing.assert_array_equal(rows, again)
    rng = np.random.default_rng(0)
    first, _ = generate_utterances(bundle, 3, 2, random_state=rng)
    second, _ = generate_utterances(bundle, 3, 2, random_state=rng)
    np.testing.assert_array_equal(first, rows)  # an int seed is default_rng's
    assert not np.allclose(first, second)  # a shared Generator moves on


def test_generate_errors(bundle):
    with pytest.raises(ValueError, match="11 is not a label of this model"):
        generate_utterances(bundle, 11, 1)
    plain = {"recognizer": bundle["recognizer"], "path": "p"}
    assert not can_generate(plain)
    with pytest.raises(ValueError, match="'p' holds no generator"):
        generate_utterances(plain, 3, 1)


# --------------------------------------------------------------------------
# saving, loading, recognising files
# --------------------------------------------------------------------------
def test_save_and_load_round_trip(bundle, digits, tmp_path):
    path = save_recognizer(bundle, tmp_path)  # a folder: folder/model.skops
    assert path == tmp_path / "model.skops"
    for where in (tmp_path, path):
        loaded = load_recognizer(where, require_generator=True)
        assert loaded["path"] == str(path)
        np.testing.assert_allclose(
            loaded["recognizer"].predict_proba(digits.data[:5]),
            bundle["recognizer"].predict_proba(digits.data[:5]),
        )
    # the generator generates the same utterances, the metadata is kept
    rows, _ = generate_utterances(loaded, 3, 2, random_state=0)
    again, _ = generate_utterances(bundle, 3, 2, random_state=0)
    np.testing.assert_array_equal(rows, again)
    assert loaded["metadata"] == bundle["metadata"]
    # no step takes groups, as make_recognizer made it
    with pytest.raises(ValueError, match="groups were given to fit"):
        clone(loaded["recognizer"]).fit(
            digits.data, digits.target, groups=digits.speaker
        )
    # with the reject option too
    rec = make_recognizer(reject=True, cv=2, **FAST).fit(digits.data, digits.target)
    path = save_recognizer({**bundle, "recognizer": rec}, tmp_path / "reject.skops")
    loaded = load_recognizer(path)["recognizer"]
    np.testing.assert_array_equal(loaded.predict(digits.data), rec.predict(digits.data))
    np.testing.assert_allclose(
        loaded.score_samples(digits.data), rec.score_samples(digits.data)
    )


def test_the_model_file_loads_without_pickle(bundle, digits, tmp_path, monkeypatch):
    import zipfile

    path = save_recognizer(bundle, tmp_path / "m.skops")
    assert zipfile.is_zipfile(path)  # a skops archive, not a pickle

    def refuse(*args, **kwargs):
        raise AssertionError("pickle was used")

    for name in ("load", "loads", "Unpickler"):
        monkeypatch.setattr(pickle, name, refuse)
    loaded = load_recognizer(path)
    assert loaded["recognizer"].predict(digits.data[:3]).shape == (3,)
    assert isinstance(loaded["generator"], type(bundle["generator"]))


class _Untrusted:
    """A type a model file must not hold."""

    def __init__(self):
        self.payload = 1


class _UntrustedClassifier(LogisticRegression):
    """A classifier type a model file must not hold."""


def test_a_model_file_with_untrusted_types_is_refused(bundle, tmp_path):
    import skops.io

    from skvae.recipes import trusted_types

    path = tmp_path / "crafted.skops"
    content = {"format": "skvae-recognizer", "format_version": 1, "x": _Untrusted()}
    path.write_bytes(skops.io.dumps(content))
    with pytest.raises(
        ValueError,
        match=r"holds types skvae does not trust \(.*test_recipes._Untrusted\)",
    ):
        load_recognizer(path)
    # derived from skvae's public estimators: every one a user can put in a
    # recogniser, and only real classes
    import importlib

    names = trusted_types()
    for cls in ("VAETransformer", "VAEClassifier", "FactorizedVAE"):
        assert any(n.endswith(f".{cls}") for n in names), cls
    for cls in ("RejectOptionClassifier", "SpeechFeatures", "GroupStandardScaler"):
        assert any(n.endswith(f".{cls}") for n in names), cls
    assert "skvae.recipes.RecognizerPipeline" in names
    for name in names:
        module, _, cls = name.rpartition(".")
        try:
            assert isinstance(getattr(importlib.import_module(module), cls), type)
        except AttributeError:  # sklearn's calibrators differ across versions
            assert module.startswith("sklearn."), name


def test_load_recognizer_says_why_it_cannot_load(bundle, tmp_path):
    import skops.io

    with pytest.raises(FileNotFoundError, match="does not exist"):
        load_recognizer(tmp_path / "nothing")
    empty_folder = tmp_path / "report"
    empty_folder.mkdir()
    with pytest.raises(FileNotFoundError, match="holds no model.skops"):
        load_recognizer(empty_folder)
    whole = save_recognizer(bundle, tmp_path / "whole.skops")
    data = whole.read_bytes()
    for name, content, match in [
        ("truncated.skops", data[: len(data) // 2], "damaged or truncated"),
        ("empty.skops", b"", "the file is empty"),
        ("garbage.skops", b"\x00not a model at all", "not a model.skops skops archive"),
        ("old.joblib", pickle.dumps(bundle), "not a model.skops skops archive"),
    ]:
        (tmp_path / name).write_bytes(content)
        with pytest.raises(ValueError, match=f"'{tmp_path / name}': .*{match}"):
            load_recognizer(tmp_path / name)
    weights = tmp_path / "model.safetensors"
    bundle["generator"].save(weights)
    with pytest.raises(ValueError, match="weights-only file of a VAE alone"):
        load_recognizer(weights)
    other = tmp_path / "other.skops"
    X, y, _ = _toy()
    for obj in ({"some": "dict"}, LogisticRegression().fit(X, y)):
        other.write_bytes(skops.io.dumps(obj))
        with pytest.raises(ValueError, match="is not a model saved by 'skvae train'"):
            load_recognizer(other)
    newer = tmp_path / "newer.skops"
    newer.write_bytes(
        skops.io.dumps({"format": "skvae-recognizer", "format_version": 99})
    )
    with pytest.raises(ValueError, match="saved by a newer skvae"):
        load_recognizer(newer)


def _node(tree, key):
    """The skops schema node stored under ``key`` (depth first), or None."""
    if isinstance(tree, dict):
        content = tree.get("content")
        if isinstance(content, dict) and key in content:
            return content, key
        children = list(tree.values())
    elif isinstance(tree, list):
        children = tree
    else:
        return None
    for child in children:
        found = _node(child, key)
        if found is not None:
            return found
    return None


def _json(value):
    return {
        "__class__": "str",
        "__module__": "builtins",
        "__loader__": "JsonNode",
        "content": json.dumps(value),
        "is_json": True,
        "__id__": 1,
    }


def _edit(path, out, key, edit):
    """A copy of the skops file ``path`` whose node ``key`` is ``edit(node)``
    (None: removed): still a valid skops file."""
    with zipfile.ZipFile(path) as z:
        files = {n: z.read(n) for n in z.namelist()}
    schema = json.loads(files["schema.json"])
    parent, name = _node(schema, key)
    new = edit(parent[name])
    if new is None:
        del parent[name]
    else:
        parent[name] = new
    files["schema.json"] = json.dumps(schema).encode()
    with zipfile.ZipFile(out, "w") as z:
        for name, data in files.items():
            z.writestr(name, data)
    return out


def _steps_edited(content):
    def edit(node):
        node = json.loads(json.dumps(node))
        node["content"]["content"]["steps"]["content"] = content
        return node

    return edit


@pytest.mark.parametrize(
    ("key", "edit", "why"),
    [
        ("format_version", lambda n: _json("1"), "format_version is '1'"),
        ("format_version", lambda n: _json(0), "unknown format_version 0"),
        ("_module", lambda n: _json("not bytes"), "damaged"),
        ("recognizer", lambda n: _json(None), "the recognizer is NoneType"),
        ("recognizer", _steps_edited([]), "not a pipeline of a 'features' step"),
        # steps that are not (name, estimator) pairs
        ("recognizer", _steps_edited([_json(1), _json(2)]), "not a pipeline of"),
        ("classes_", lambda n: None, "AttributeError"),
        ("durations", lambda n: _json([1.0]), "durations are not one number"),
        ("metadata", lambda n: _json([1]), "metadata is not a dict"),
        ("generator", lambda n: _json("x"), "generator is a str"),
    ],
)
def test_an_edited_model_file_is_damaged_not_an_unexpected_error(
    bundle, tmp_path, key, edit, why
):
    # fault 3: an edited file that is still valid skops
    whole = save_recognizer(bundle, tmp_path / "whole.skops")
    edited = _edit(whole, tmp_path / "edited.skops", key, edit)
    with pytest.raises(ValueError, match=r"the model '.*edited.skops'.*damaged") as e:
        load_recognizer(edited)
    assert why in str(e.value)


@pytest.mark.parametrize("model", ["passthrough", None, 3])
def test_a_model_step_that_is_no_estimator_is_damaged(bundle, tmp_path, model):
    import skops.io

    rec = copy.deepcopy(bundle["recognizer"])
    rec.steps = [rec.steps[0], ("model", model)]
    path = tmp_path / "edited.skops"
    path.write_bytes(skops.io.dumps({**bundle, "recognizer": rec}))
    with pytest.raises(ValueError, match="damaged .*not a pipeline of"):
        load_recognizer(path)


def test_an_edited_reject_threshold_is_damaged(digits, features, front_end, tmp_path):
    # a NaN threshold would silently reject nothing (fault 1 through the file)
    import skops.io

    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        rec = fit_recognizer(
            features,
            digits.target,
            features=front_end,
            reject=True,
            vae="sequence",
            cmvn="mean",
            **FAST,
        )
    good = recognizer_bundle(rec, digits.target)
    assert np.isfinite(
        load_recognizer(save_recognizer(good, tmp_path))["recognizer"][
            "model"
        ].threshold_
    )
    rec["model"].threshold_ = float("nan")
    path = tmp_path / "edited.skops"
    path.write_bytes(skops.io.dumps(recognizer_bundle(rec, digits.target)))
    with pytest.raises(ValueError, match="damaged .*threshold_ is nan"):
        load_recognizer(path)


def _with(bundle, recognizer):
    """``bundle`` with another fitted recogniser."""
    durations = np.ones(len(recognizer.classes_))
    variances = np.ones((len(recognizer.classes_), 4))
    return {
        **bundle,
        "recognizer": recognizer,
        "durations": durations,
        "band_variances": variances,
    }


def test_save_recognizer_refuses_up_front_what_it_could_not_load(bundle, tmp_path):
    from skvae import FactorizedVAE

    rec = bundle["recognizer"]
    X, y, speaker = _toy()
    # fault 5: a step with metadata requests (GroupStandardScaler with groups)
    cmvn = RecognizerPipeline([("cmvn", _cmvn()), ("svc", SVC())]).fit(
        X, y, groups=speaker
    )
    with_cmvn = RecognizerPipeline([rec.steps[0], ("model", cmvn)])
    with pytest.raises(ValueError, match=r"step recognizer\['model'\]\['cmvn'\]"):
        save_recognizer(_with(bundle, with_cmvn), tmp_path)
    # fault 4: a FactorizedVAE step saves and loads (or is refused by name)
    fhvae = FactorizedVAE(2, hidden_layer_sizes=(8,), max_iter=1, random_state=0)
    rows = np.random.RandomState(0).normal(size=(12, 256))
    model = Pipeline([("vae", fhvae), ("lr", LogisticRegression())])
    model.fit(rows, np.arange(12) % 2)
    with_fhvae = RecognizerPipeline([rec.steps[0], ("model", model)])
    path = save_recognizer(_with(bundle, with_fhvae), tmp_path)
    loaded = load_recognizer(path)["recognizer"]
    assert type(loaded["model"]["vae"]) is FactorizedVAE
    np.testing.assert_allclose(
        loaded["model"].predict_proba(rows), model.predict_proba(rows)
    )
    # an unknown type, refused before anything is written
    odd = RecognizerPipeline([rec.steps[0], ("model", _UntrustedClassifier())])
    odd["model"].fit(rows, np.arange(12) % 2)
    with pytest.raises(ValueError, match=r"recognizer\['model'\] \(_UntrustedClass"):
        save_recognizer(_with(bundle, odd), tmp_path / "odd.skops")
    assert not (tmp_path / "odd.skops").exists()


def test_save_recognizer_is_atomic(bundle, tmp_path, monkeypatch):
    import skops.io

    path = save_recognizer(bundle, tmp_path)
    before = path.read_bytes()

    def interrupted(obj, **kwargs):
        raise KeyboardInterrupt

    monkeypatch.setattr(skops.io, "dumps", interrupted)
    with pytest.raises(KeyboardInterrupt):
        save_recognizer(bundle, tmp_path)
    assert path.read_bytes() == before
    assert sorted(p.name for p in tmp_path.iterdir()) == ["model.skops"]


def test_recognize_files_goes_on_past_unreadable_ones(bundle, digits, tmp_path):
    good = tmp_path / "audio"
    good.mkdir()
    for i in range(3):
        write_wav(good / f"{i}.wav", digits.data[i], digits.sr)
    bad = tmp_path / "broken.wav"
    bad.write_bytes(b"not audio")
    res = recognize_files(bundle["recognizer"], [bad, good])
    assert res.files == [str(good / f"{i}.wav") for i in range(3)]  # folder expanded
    assert [path for path, _ in res.errors] == [str(bad)]
    np.testing.assert_allclose(res.proba, bundle["recognizer"].predict_proba(res.files))
    np.testing.assert_array_equal(res.classes, np.arange(10))
    np.testing.assert_array_equal(res.labels, bundle["recognizer"].predict(res.files))
    empty = recognize_files(bundle["recognizer"], [bad])
    assert empty.files == [] and empty.proba.shape == (0, 10)


# --------------------------------------------------------------------------
# recording level and bandwidth (issue 14, items 2 and 4)
# --------------------------------------------------------------------------
def test_predictions_do_not_depend_on_the_recording_level(bundle, digits):
    pipe = bundle["recognizer"]
    assert pipe["features"].level == -20.0  # make_recognizer's default
    waves = [np.asarray(w, dtype=np.float32) for w in digits.data]
    quiet = [0.1 * w for w in waves]  # -20 dB
    peak = [w / np.abs(w).max() for w in waves]  # peak-normalised
    fe = pipe["features"]
    F = fe.transform(waves)
    for other in (quiet, peak):
        G = fe.transform(other)
        assert len(G) == len(F)
        for g, f in zip(G, F):
            np.testing.assert_allclose(g, f, atol=1e-3)
    expected = pipe.predict(waves)
    np.testing.assert_array_equal(pipe.predict(quiet), expected)
    np.testing.assert_array_equal(pipe.predict(peak), expected)


def _wideband_copies(files, folder, seed=0):
    """48 kHz copies of files with hiss above 4.5 kHz (what a wideband
    microphone adds), and 8 kHz copies of those."""
    from skvae.features import load_audio

    rng = np.random.RandomState(seed)
    wide, narrow = [], []
    for f in files:
        y, sr = load_audio(f, sr=48000)
        spec = np.fft.rfft(rng.standard_normal(y.size))
        spec[np.fft.rfftfreq(y.size, 1 / sr) < 4500] = 0
        hiss = np.fft.irfft(spec, y.size)
        y = y + hiss * 0.5 * np.sqrt(np.mean(y**2) / np.mean(hiss**2))
        wide.append(write_wav(folder / f"48k_{Path(f).name}", y, sr))
        y8, sr8 = load_audio(wide[-1], sr=8000)
        narrow.append(write_wav(folder / f"8k_{Path(f).name}", y8, sr8))
    return wide, narrow


def test_trained_on_8khz_audio_it_hears_48khz_copies_alike(digits, tmp_path):
    files = np.asarray(digits.filenames, dtype=object)
    train = digits.speaker != digits.speaker[-1]  # the last speaker is new
    # analysed at 16 kHz: room above 4 kHz; the sequence VAE trained for its
    # recipe's epochs (after 2, one of 20 answers sits on a decision boundary)
    params = dict(FAST, sr=16000, max_iter=SEQUENCE_VAE["max_iter"])
    fe = make_recognizer(**params)["features"].fit(files[train])
    F = as_utterances(fe.transform(files))
    pipe = fit_recognizer(F[train], digits.target[train], features=fe, cv=2, **params)
    assert pipe["features"].training_sr_ == 8000  # learned from the 8 kHz files
    for got, want in zip(pipe["features"].transform(files[~train]), F[~train]):
        np.testing.assert_allclose(got, want)
    wide, narrow = _wideband_copies(files[~train], tmp_path)
    with pytest.warns(UserWarning, match="band-limited to 4000 Hz"):
        at_48k = pipe.predict(wide)
    np.testing.assert_array_equal(at_48k, pipe.predict(narrow))


# --------------------------------------------------------------------------
# writing files
# --------------------------------------------------------------------------
def test_write_utterances_as_read_back(tmp_path):
    from skvae.features import load_audio
    from skvae.recipes import write_utterances

    waves = [0.01 * np.sin(np.arange(800) / 3.0), np.zeros(400)]
    paths = write_utterances(waves, tmp_path, "three", 8000, start=4)
    assert [Path(p).name for p in paths] == ["three_skvae_4.wav", "three_skvae_5.wav"]
    y, sr = load_audio(paths[0])
    assert sr == 8000 and abs(np.abs(y).max() - 0.99) < 1e-3  # peak-normalised


# --- the options of make_recognizer: vae, cmvn, head ----------------------------

OPTION_FAST = dict(
    n_components=4, hidden_layer_sizes=(32,), n_mels=16, n_threads=1, augment=None
)


@pytest.mark.parametrize("vae", ["flat", "sequence", None])
@pytest.mark.parametrize("head", ["ovr", "ovo"])
def test_each_vae_and_head_fits_and_predicts_waveforms(digits, vae, head):
    rec = make_recognizer(vae=vae, head=head, max_iter=2, cv=2, **OPTION_FAST)
    steps = [name for name, _ in rec["model"].steps]
    assert steps == {"flat": ["vae", "clf"], "sequence": ["vae", "scale", "clf"]}.get(
        vae, ["scale", "clf"]
    )
    assert rec["features"].output == ("sequence" if vae == "sequence" else "resample")
    clf = rec["model"]["clf"]
    inner = getattr(clf, "estimator", clf)
    assert isinstance(inner, SVC) == (head == "ovo")
    rec.fit(digits.data, digits.target)
    pred = rec.predict(digits.data[:7])
    if head == "ovo" and hasattr(clf, "calibrated_classifiers_"):
        # the one-vs-one vote is kept: the answer is that of the plain SVC
        svc = clf.calibrated_classifiers_[0].estimator
        codes = rec["model"][:-1].transform(rec["features"].transform(digits.data[:7]))
        np.testing.assert_array_equal(svc.predict(codes), pred)
    proba = rec.predict_proba(digits.data[:7])
    assert pred.shape == (7,) and set(pred) <= set(range(10))
    assert proba.shape == (7, 10)
    np.testing.assert_allclose(proba.sum(axis=1), 1.0, atol=1e-6)
    # the same utterances as files give the same answers as waveforms
    assert_equal = np.testing.assert_array_equal
    assert_equal(rec.predict(digits.filenames[:7]), pred)


def test_the_defaults_are_todays_recogniser():
    import inspect

    params = inspect.signature(make_recognizer).parameters
    assert params["vae"].default == "auto" and params["cmvn"].default == "auto"
    assert params["head"].default == "ovr"
    assert params["hidden_layer_sizes"].default is None
    rec = make_recognizer()
    assert isinstance(rec["model"]["vae"], SequenceVAE)
    for name, value in SEQUENCE_VAE.items():
        assert rec["model"]["vae"].get_params()[name] == value
    assert rec["features"].cmvn == "mean" and rec["features"].output == "sequence"
    # with the reject option, "auto" is the flat VAE on plain log-mel, with
    # the generated voices and the filler words (benchmarks/bench_openset.py)
    rejecting = make_recognizer(reject=True)
    assert isinstance(rejecting["model"].estimator["vae"], VAETransformer)
    assert rejecting["features"].cmvn is None
    assert rejecting["features"].output == "resample"
    assert [n for n, _ in rejecting.steps[:2]] == ["voices", "filler"]


@pytest.mark.parametrize(
    "augment, expected",
    [(None, None), ("voices", "voices"), ("filler", None), ("voices+filler", "voices")],
)
def test_without_filler(augment, expected):
    from skvae.recipes import without_filler

    assert without_filler(augment) == expected


def test_the_sequence_vae_takes_its_settings_from_one_place(monkeypatch):
    from skvae import SequenceVAE
    from skvae.recipes import SEQUENCE_VAE

    vae = make_recognizer(vae="sequence", n_components=5)["model"]["vae"]
    assert isinstance(vae, SequenceVAE) and vae.n_components == 5
    for name, value in SEQUENCE_VAE.items():
        assert getattr(vae, name) == value
    monkeypatch.setitem(SEQUENCE_VAE, "segment_length", 12)
    monkeypatch.setitem(SEQUENCE_VAE, "max_iter", 7)
    vae = make_recognizer(vae="sequence")["model"]["vae"]
    assert vae.segment_length == 12 and vae.max_iter == 7
    # a smaller max_iter (a quick run) wins
    assert make_recognizer(vae="sequence", max_iter=2)["model"]["vae"].max_iter == 2


@pytest.mark.parametrize("cmvn", ["mean", "meanvar"])
def test_cmvn_normalises_each_utterance(digits, cmvn):
    rec = make_recognizer(cmvn=cmvn, vae=None, n_mels=16, n_frames=8)
    F = rec["features"].fit(digits.data[:4]).transform(digits.data[:4])
    frames = F.reshape(4, 8, 16)
    # the resampled frames of each utterance have (about) zero mean per band
    assert np.abs(frames.mean(axis=1)).max() < 0.5 * np.abs(frames).max()
    assert rec["features"].cmvn == cmvn


@pytest.mark.parametrize(
    "kwargs, match",
    [
        (dict(vae="rnn"), "vae must be one of"),
        (dict(cmvn="var"), "cmvn must be one of"),
        (dict(head="crammer"), "head must be one of"),
        (dict(vae=None, reject=True), "reject=True needs a VAE step"),
    ],
)
def test_bad_options_are_named(kwargs, match):
    with pytest.raises(ValueError, match=match):
        make_recognizer(**kwargs)


def test_reject_option_with_the_sequence_vae(digits):
    from skvae import RejectOptionClassifier

    rec = make_recognizer(vae="sequence", reject=True, max_iter=2, cv=2, **OPTION_FAST)
    assert isinstance(rec["model"], RejectOptionClassifier)
    rec.fit(digits.data, digits.target)
    assert np.isfinite(rec["model"].threshold_)
    pred = rec.predict(digits.data[:5])
    assert set(pred) <= set(range(10)) | {-1}
    res = recognize_files(rec, digits.filenames[:5])
    assert res.scores.shape == (5,) and res.threshold == rec["model"].threshold_


@pytest.mark.parametrize(
    ("vae", "cmvn"), [("sequence", "mean"), ("sequence", None), (None, None)]
)
def test_train_save_load_generate_with_each_vae(digits, vae, cmvn, tmp_path):
    from skvae.recipes import is_sequence

    params = dict(vae=vae, cmvn=cmvn, max_iter=2, **OPTION_FAST)
    fe = make_recognizer(**params)["features"].fit(digits.data)
    F = fe.transform(digits.data)
    assert isinstance(F, list) == (vae == "sequence") == is_sequence(fe)
    audio = digits.data if cmvn else None  # only cmvn needs the audio
    bundle = train_recognizer(F, digits.target, features=fe, audio=audio, **params)
    rec = bundle["recognizer"]
    assert bundle["metadata"]["epochs"] == (None if vae is None else 2)
    # the generator is fitted on plain rows of n_frames frames
    assert bundle["generator"].n_features_in_ == fe.n_frames * fe.n_mels
    path = save_recognizer(bundle, tmp_path)
    loaded = load_recognizer(path, require_generator=True)
    np.testing.assert_array_equal(
        loaded["recognizer"].predict(digits.data), rec.predict(digits.data)
    )
    rows, waves = generate_utterances(loaded, 3, 2, random_state=0)
    assert rows.shape == (2, fe.n_frames * fe.n_mels) and len(waves) == 2
    assert all(np.isfinite(w).all() and w.size > 0 for w in waves)
    # recognised from the waveforms, through the recogniser's own front end
    assert loaded["recognizer"].predict(waves).shape == (2,)


def test_flat_rows_equal_the_resampling_front_end(digits):
    from skvae.recipes import flat_rows, generator_rows

    seq = make_recognizer(vae="sequence", cmvn=None, n_mels=16, n_frames=8)
    seq = seq["features"]
    flat = make_recognizer(vae="flat", cmvn=None, n_mels=16, n_frames=8)["features"]
    X = digits.data[:6]
    F_seq = seq.fit(X).transform(X)
    F_flat = flat.fit(X).transform(X)
    np.testing.assert_allclose(flat_rows(seq, F_seq), F_flat, rtol=1e-5, atol=1e-4)
    assert flat_rows(flat, F_flat) is F_flat or np.array_equal(
        flat_rows(flat, F_flat), F_flat
    )
    # with cmvn, the generator's rows come from plain log-mel of the audio
    norm = make_recognizer(vae="sequence", cmvn="mean", n_mels=16, n_frames=8)
    fe = norm["features"].fit(X)
    rows = generator_rows(fe, fe.transform(X), X)
    np.testing.assert_allclose(rows, F_flat, rtol=1e-5, atol=1e-4)
    with pytest.raises(ValueError, match="needs the training audio"):
        generator_rows(fe, fe.transform(X))


def test_train_recognizer_with_cmvn_fits_the_generator_on_plain_rows(digits):
    params = dict(vae="flat", cmvn="meanvar", max_iter=2, **OPTION_FAST)
    fe = make_recognizer(**params)["features"].fit(digits.data)
    F = fe.transform(digits.data)
    bundle = train_recognizer(
        F, digits.target, features=fe, audio=digits.data, **params
    )
    _, waves = generate_utterances(bundle, 1, 1, random_state=0)
    assert np.isfinite(waves[0]).all()
    with pytest.raises(ValueError, match="needs the training audio"):
        train_recognizer(F, digits.target, features=fe, **params)


def test_fit_recognizer_refuses_a_front_end_of_other_parameters(digits, features):
    # the default front end gives sequences; with reject, "auto" is the flat VAE
    with pytest.raises(ValueError, match="features has output='sequence'"):
        fit_recognizer(
            features,
            digits.target,
            features=make_recognizer()["features"],
            reject=True,
            **FAST,
        )


# --------------------------------------------------------------------------
# variance matching of generated rows (issue 23)
# --------------------------------------------------------------------------
def test_match_variance_sets_each_bands_variance_over_time():
    from skvae.recipes import MAX_VARIANCE_GAIN, match_variance

    rng = np.random.default_rng(0)
    rows = rng.normal(size=(3, 8 * 4))  # 8 frames x 4 bands
    target = np.array([2.0, 0.5, 1.0, 1e6])
    out = match_variance(rows, target, n_mels=4).reshape(3, 8, 4)
    before = rows.reshape(3, 8, 4)
    np.testing.assert_allclose(out.mean(axis=1), before.mean(axis=1))
    np.testing.assert_allclose(out.var(axis=1)[:, :3], np.tile(target[:3], (3, 1)))
    # the gain is capped: a huge target multiplies by MAX_VARIANCE_GAIN at most
    np.testing.assert_allclose(
        out.var(axis=1)[:, 3], MAX_VARIANCE_GAIN**2 * before.var(axis=1)[:, 3]
    )
    flat = np.ones((1, 8 * 4))  # a flat band stays flat
    np.testing.assert_array_equal(match_variance(flat, target, n_mels=4), flat)


def test_generation_matches_the_labels_band_variances(bundle):
    from skvae.recipes import generate_utterances, generator_features

    n_mels = generator_features(bundle["recognizer"]["features"]).n_mels
    target = bundle["band_variances"]
    assert target.shape == (10, n_mels) and np.all(target > 0)

    def gap(rows, k):
        var = rows.reshape(len(rows), -1, n_mels).var(axis=1)
        return np.abs(np.log(var / target[k])).mean()

    for k in (2, 7):
        matched, _ = generate_utterances(bundle, k, 4, random_state=0)
        plain, _ = generate_utterances(
            bundle, k, 4, random_state=0, match_variances=False
        )
        assert gap(matched, k) < gap(plain, k)


def test_a_model_file_refuses_band_variances_that_do_not_fit(bundle, tmp_path):
    bad = {**bundle, "band_variances": bundle["band_variances"][:3]}
    with pytest.raises(ValueError, match="band variances are not one row per label"):
        save_recognizer(bad, tmp_path / "bad.skops")
    # older model files have none: they load, and generate without matching
    old = {k: v for k, v in bundle.items() if k != "band_variances"}
    loaded = load_recognizer(save_recognizer(old, tmp_path / "old.skops"))
    assert "band_variances" not in loaded
    from skvae.recipes import generate_utterances

    rows, _ = generate_utterances(loaded, 3, 2, random_state=0)
    plain, _ = generate_utterances(bundle, 3, 2, random_state=0, match_variances=False)
    np.testing.assert_allclose(rows, plain)


# --------------------------------------------------------------------------
# the reject option's threshold on held-out speakers (issue 24)
# --------------------------------------------------------------------------
def test_generated_rows_get_their_voice_as_group(digits, monkeypatch):
    from skvae.recipes import GENERATED_VOICES
    from skvae.recipes._train import _augmented

    monkeypatch.setitem(GENERATED_VOICES, "voices", 2)
    monkeypatch.setitem(GENERATED_VOICES, "n_repeats", 1)
    monkeypatch.setitem(FILLER, "n_samples", 10)
    rec = make_recognizer(reject=True, **{**FAST, "augment": "voices+filler"})
    fe = rec["features"].fit(digits.data)
    F = fe.transform(digits.data)
    F_all, y_all, groups = _augmented(
        rec, F, digits.target, digits.data, fe, digits.speaker
    )
    n = len(digits.target)
    assert len(F_all) == len(y_all) == len(groups) == n + 2 * 10 + 10
    assert list(groups[:n]) == list(digits.speaker)  # the speakers kept
    voices = {v["name"] for v in rec["voices"].voices_}
    assert {g for g in groups[n : n + 20]} == {f"voice={v}" for v in voices}
    assert all(g.startswith(("filler=", "noise=")) for g in groups[n + 20 :])
    assert set(y_all[n + 20 :]) == {-2}
    with pytest.raises(ValueError, match="groups has 3 entries"):
        _augmented(rec, F, digits.target, digits.data, fe, ["a", "b", "c"])


def test_fit_recognizer_with_groups_holds_out_whole_speakers(digits):
    from sklearn.model_selection import GroupShuffleSplit

    front_end = make_recognizer(reject=True, **FAST)["features"].fit(digits.data)
    F = front_end.transform(digits.data)
    rec = fit_recognizer(
        F, digits.target, features=front_end, groups=digits.speaker, reject=True,
        random_state=0, **FAST,
    )  # fmt: skip
    model = rec["model"]
    split = GroupShuffleSplit(1, test_size=0.2, random_state=0)
    _, test = next(split.split(F, digits.target, digits.speaker))
    assert len(set(digits.speaker[test])) >= 1
    assert model.calibration_scores_.size == len(test)
    # without groups: 20 % of the utterances
    rec = fit_recognizer(
        F, digits.target, features=front_end, reject=True, random_state=0, **FAST
    )
    assert rec["model"].calibration_scores_.size == round(0.2 * len(F))
