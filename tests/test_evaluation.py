"""skvae.evaluation: data helpers, baselines, protocols, the report's figures.

The helpers replace copies in benchmarks/ and examples/; the reference
functions below are those copies, verbatim in what they compute, so a
benchmark that switches to skvae.evaluation prints the same numbers.
"""

import warnings

import numpy as np
import pytest
import sklearn
from sklearn.decomposition import PCA
from sklearn.exceptions import ConvergenceWarning
from sklearn.linear_model import LogisticRegression
from sklearn.model_selection import train_test_split
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler
from sklearn.svm import SVC

from skvae.evaluation import (
    OUTLIER_KINDS,
    add_noise,
    baseline_scores,
    evaluate_recognizer,
    few_label_scores,
    format_summary,
    generated_rate,
    generation_check,
    hide_labels,
    latent_map,
    leave_one_speaker_out,
    make_outlier_clips,
    recognizer_accuracies,
    speaker_held_out,
    stratified_subset,
)
from skvae.features import GroupStandardScaler
from skvae.recipes import RecognizerPipeline, make_recognizer

FAST = dict(
    n_components=4,
    hidden_layer_sizes=(32,),
    n_mels=16,
    n_frames=16,
    max_iter=2,
    augment=None,
)


def _waves(n=6, seed=0):
    rng = np.random.RandomState(seed)
    return [
        (np.sin(np.arange(m) / 5.0) * rng.uniform(0.1, 1)).astype(np.float32)
        for m in rng.randint(400, 1200, size=n)
    ]


# --------------------------------------------------------------------------
# the copies in benchmarks/ and examples/ (what they compute)
# --------------------------------------------------------------------------
def _pink_copy(n, rng):  # bench_generative.pink
    spec = np.fft.rfft(rng.standard_normal(n))
    f = np.arange(spec.shape[0], dtype=np.float64)
    f[0] = 1.0
    return np.fft.irfft(spec / np.sqrt(f), n)


def _add_noise_generative(wave, snr_db, rng, kind="white"):  # bench_generative
    noise = rng.standard_normal(wave.shape[0])
    if kind == "pink":
        noise = _pink_copy(wave.shape[0], rng)
    power = np.mean(wave.astype(np.float64) ** 2)
    noise *= np.sqrt(power / 10 ** (snr_db / 10) / np.mean(noise**2))
    return (wave + noise).astype(np.float32)


def _add_noise_recognition(waves, snr_db, seed):  # bench_recognition
    rng = np.random.default_rng(seed)
    out = np.empty(len(waves), dtype=object)
    for i, w in enumerate(waves):
        power = np.mean(np.square(w, dtype=np.float64))
        std = np.sqrt(power / 10 ** (snr_db / 10))
        out[i] = (w + rng.normal(0.0, std, w.shape)).astype(np.float32)
    return out


def _outliers_generative(waves_te, rng, sr=8000):  # bench_generative
    clips, kinds = [], []
    for kind in ["white noise", "pink noise", "tone", "chirp", "reversed speech"]:
        for _ in range(60):
            ref = waves_te[rng.randint(len(waves_te))]
            n = ref.shape[0]
            t = np.arange(n) / sr
            if kind == "white noise":
                x = rng.standard_normal(n)
            elif kind == "pink noise":
                x = _pink_copy(n, rng)
            elif kind == "tone":
                x = np.sin(2 * np.pi * rng.uniform(100, 3500) * t)
            elif kind == "chirp":
                f0, f1 = rng.uniform(100, 3500, size=2)
                x = np.sin(2 * np.pi * (f0 * t + (f1 - f0) * t**2 / (2 * t[-1])))
            else:
                x = ref[::-1].copy()
            rms_ref = np.sqrt(np.mean(ref.astype(np.float64) ** 2))
            x = x * rms_ref / np.sqrt(np.mean(x**2))
            clips.append(x.astype(np.float32))
            kinds.append(kind)
    return clips, np.array(kinds)


def _outliers_example(waves_test, rng):  # examples/outliers.py
    clips, kinds = [], []
    for kind in ["white noise", "tone", "reversed speech", "speech in noise"]:
        for _ in range(50):
            ref = waves_test[rng.randint(len(waves_test))].astype(np.float64)
            rms = np.sqrt(np.mean(ref**2))
            if kind == "white noise":
                x = rng.standard_normal(ref.size)
            elif kind == "tone":
                x = np.sin(
                    2 * np.pi * rng.uniform(100, 3500) * np.arange(ref.size) / 8000
                )
            elif kind == "reversed speech":
                x = ref[::-1]
            else:
                x = ref + rng.standard_normal(ref.size) * rms * 10 ** (5 / 20)
            clips.append((x * rms / np.sqrt(np.mean(x**2))).astype(np.float32))
            kinds.append(kind)
    return clips, np.array(kinds)


# --------------------------------------------------------------------------
# add_noise
# --------------------------------------------------------------------------
@pytest.mark.parametrize("kind", ["white", "pink"])
def test_add_noise_is_the_generative_benchmark_copy(kind):
    waves = _waves()
    ours_rng, copy_rng = np.random.RandomState(0), np.random.RandomState(0)
    for w in waves:
        snr = copy_rng.uniform(0, 20)  # the denoising example's interleaved draws
        assert snr == ours_rng.uniform(0, 20)
        expected = _add_noise_generative(w, snr, copy_rng, kind)
        got = add_noise(w, snr, kind=kind, random_state=ours_rng)
        assert got.dtype == np.float32
        np.testing.assert_array_equal(got, expected)


def test_add_noise_is_the_recognition_benchmark_copy():
    waves = np.empty(6, dtype=object)
    waves[:] = _waves()
    expected = _add_noise_recognition(waves, 10, seed=10)
    got = add_noise(waves, 10, exact_snr=False, random_state=np.random.default_rng(10))
    assert got.dtype == object and len(got) == 6
    for g, e in zip(got, expected):
        np.testing.assert_array_equal(g, e)


def test_add_noise_reaches_the_snr():
    wave = np.sin(np.arange(20000) / 3.0)
    for snr in (-5.0, 0.0, 10.0, 30.0):
        noise = add_noise(wave, snr, random_state=0).astype(np.float64) - wave
        measured = 10 * np.log10(np.mean(wave**2) / np.mean(noise**2))
        assert measured == pytest.approx(snr, abs=1e-4)  # float32 output
        noise = add_noise(wave, snr, exact_snr=False, random_state=0) - wave
        measured = 10 * np.log10(np.mean(wave**2) / np.mean(noise**2))
        assert measured == pytest.approx(snr, abs=0.1)  # in expectation


def test_add_noise_shapes_and_per_signal_snr():
    waves = _waves(3)
    out = add_noise(waves, [0.0, 10.0, 20.0], random_state=0)
    assert [len(o) for o in out] == [len(w) for w in waves]
    powers = [np.mean((o - w) ** 2) / np.mean(w**2) for o, w in zip(out, waves)]
    np.testing.assert_allclose(powers, [1.0, 0.1, 0.01], rtol=1e-4)
    X = np.ones((4, 50))
    assert add_noise(X, 5.0, random_state=0).shape == (4, 50)
    assert add_noise([1.0, -1.0, 1.0], 0.0, random_state=0).shape == (3,)
    a = add_noise(waves, 5.0, random_state=1)
    b = add_noise(waves, 5.0, random_state=1)
    for x, y in zip(a, b):
        np.testing.assert_array_equal(x, y)


@pytest.mark.parametrize(
    ("args", "kwargs", "match"),
    [
        ((np.ones(10), 5.0), {"kind": "brown"}, "kind must be"),
        ((np.ones(10), 5.0), {"kind": "pink", "exact_snr": False}, "pink"),
        ((np.ones((2, 2, 2)), 5.0), {}, "1-D or 2-D"),
        (([np.ones(3), np.ones(0)], 5.0), {}, "non-empty 1-D"),
        ((np.ones(10), np.nan), {}, "snr_db must be finite"),
        (([np.ones(3), np.ones(3)], [1.0, 2.0, 3.0]), {}, "broadcast"),
    ],
)
def test_add_noise_bad_input(args, kwargs, match):
    with pytest.raises(ValueError, match=match):
        add_noise(*args, **kwargs)


# --------------------------------------------------------------------------
# stratified_subset, hide_labels
# --------------------------------------------------------------------------
@pytest.mark.parametrize("fraction", [0.03, 0.1, 0.5])
def test_stratified_subset_is_the_copies_draw(fraction):
    y = np.repeat(np.arange(10), 270)
    for draw in range(3):
        expected, _ = train_test_split(
            np.arange(len(y)), train_size=fraction, stratify=y, random_state=draw
        )
        got = stratified_subset(y, fraction, random_state=draw)
        np.testing.assert_array_equal(got, expected)  # same rows, same order
    # bench_generative's count: max(round(frac * n), n_classes) rows
    size = max(round(fraction * len(y)), 10)
    np.testing.assert_array_equal(
        stratified_subset(y, size, random_state=4),
        stratified_subset(y, fraction, random_state=4),
    )


def test_stratified_subset_keeps_class_proportions():
    y = np.r_[np.zeros(80, int), np.ones(20, int)]
    picked = stratified_subset(y, 0.25, random_state=0)
    assert len(set(picked)) == 25 and np.bincount(y[picked]).tolist() == [20, 5]
    picked = stratified_subset(y, n_per_class=7, random_state=0)
    assert np.bincount(y[picked]).tolist() == [7, 7]
    assert np.all(np.diff(picked) > 0)


@pytest.mark.parametrize(
    ("size", "kwargs", "match"),
    [
        (None, {}, "exactly one of"),
        (0.1, {"n_per_class": 2}, "exactly one of"),
        (1.5, {}, r"in \(0, 1\)"),
        (1, {}, r"must be in \[2, 100\)"),
        ("a", {}, "size must be"),
        (None, {"n_per_class": 30}, r"too few rows of class\(es\) \[1\]"),
        (None, {"n_per_class": 2.0}, "n_per_class must be an int"),
    ],
)
def test_stratified_subset_bad_input(size, kwargs, match):
    y = np.r_[np.zeros(80, int), np.ones(20, int)]
    with pytest.raises(ValueError, match=match):
        stratified_subset(y, size, **kwargs)


def test_hide_labels():
    y = np.array([3, 1, 4, 1, 5])
    np.testing.assert_array_equal(hide_labels(y, [0, 4]), [3, -1, -1, -1, 5])
    mask = np.array([False, True, False, False, False])
    np.testing.assert_array_equal(hide_labels(y, mask), [-1, 1, -1, -1, -1])
    words = hide_labels(np.array(["yes", "no"]), [1], missing_label="?")
    assert words.tolist() == ["?", "no"]
    with pytest.raises(ValueError, match="already holds missing_label=-1"):
        hide_labels([-1, 2], [0])


# --------------------------------------------------------------------------
# make_outlier_clips
# --------------------------------------------------------------------------
def test_outlier_clips_are_the_generative_benchmark_copy():
    waves = _waves(8)
    expected, expected_kinds = _outliers_generative(waves, np.random.RandomState(0))
    clips, kinds = make_outlier_clips(waves, random_state=np.random.RandomState(0))
    assert kinds.tolist() == expected_kinds.tolist()
    assert len(clips) == 300
    for got, exp in zip(clips, expected):
        np.testing.assert_array_equal(got, exp)


def test_outlier_clips_follow_the_example_copy():
    waves = _waves(8)
    kinds = ("white noise", "tone", "reversed speech", "speech in noise")
    expected, _ = _outliers_example(waves, np.random.RandomState(0))
    clips, got_kinds = make_outlier_clips(
        waves, kinds=kinds, n_per_kind=50, random_state=np.random.RandomState(0)
    )
    assert got_kinds.tolist() == [k for k in kinds for _ in range(50)]
    for got, exp in zip(clips, expected):  # the same draws, last-bit rounding
        np.testing.assert_allclose(got, exp, rtol=1e-5, atol=1e-6)


def test_outlier_clips_have_the_length_and_level_of_speech():
    waves = _waves(5)
    lengths = {len(w): np.sqrt(np.mean(w.astype(float) ** 2)) for w in waves}
    clips, kinds = make_outlier_clips(
        waves,
        kinds=(*OUTLIER_KINDS, "speech in noise"),
        n_per_kind=4,
        random_state=np.random.default_rng(0),
    )
    assert len(clips) == 24 and kinds[-1] == "speech in noise"
    for clip in clips:
        assert clip.dtype == np.float32 and len(clip) in lengths
        rms = np.sqrt(np.mean(clip.astype(float) ** 2))
        assert rms == pytest.approx(lengths[len(clip)], rel=1e-5)


def test_outlier_clips_bad_input():
    with pytest.raises(ValueError, match=r"unknown outlier kinds \['hum'\]"):
        make_outlier_clips(_waves(2), kinds=("hum",))
    with pytest.raises(ValueError, match="waveforms is empty"):
        make_outlier_clips([])


# --------------------------------------------------------------------------
# baselines and protocols on feature rows
# --------------------------------------------------------------------------
def _toy(n=90, seed=0):
    rng = np.random.RandomState(seed)
    y = np.arange(n) % 3
    X = rng.normal(size=(n, 6))
    X[:, :3] += 2.5 * np.eye(3)[y]
    speaker = np.repeat(["ann", "bob", "cyd"], n // 3)
    return X, y, speaker


def test_baseline_scores_are_the_pipelines_they_name():
    X, y, _ = _toy()
    scores = baseline_scores(
        X[:60],
        y[:60],
        X[60:],
        y[60:],
        classifier=SVC(),
        n_components=2,
        random_state=0,
        feature_name="log-mel",
    )
    pca = make_pipeline(StandardScaler(), PCA(2, random_state=0), SVC())
    raw = make_pipeline(StandardScaler(), SVC())
    assert scores == {
        "PCA (2-D) + SVC": pca.fit(X[:60], y[:60]).score(X[60:], y[60:]),
        "log-mel (6-D) + SVC": raw.fit(X[:60], y[:60]).score(X[60:], y[60:]),
    }


def test_leave_one_speaker_out():
    X, y, speaker = _toy()
    res = leave_one_speaker_out(SVC(), X, y, speaker)
    assert list(res.scores) == ["ann", "bob", "cyd"]
    test = speaker == "bob"
    expected = SVC().fit(X[~test], y[~test]).score(X[test], y[test])
    assert res.scores["bob"] == expected
    assert res.mean == pytest.approx(np.mean(list(res.scores.values())))
    assert res.worst == min(res.scores.values())
    assert res.scores[res.worst_speaker] == res.worst
    with pytest.raises(ValueError, match="needs 2 speakers"):
        leave_one_speaker_out(SVC(), X, y, np.full(len(y), "ann"))


def test_leave_one_speaker_out_routes_groups():
    X, y, speaker = _toy()
    X = X + 6.0 * (speaker == "cyd")[:, None]  # cyd's voice: a big offset
    with sklearn.config_context(enable_metadata_routing=True):
        cmvn = GroupStandardScaler().set_fit_request(groups=True)
        cmvn.set_transform_request(groups=True)
    pipe = RecognizerPipeline([("cmvn", cmvn), ("lr", LogisticRegression())])
    with_groups = leave_one_speaker_out(pipe, X, y, speaker, groups=True)
    plain = leave_one_speaker_out(LogisticRegression(), X, y, speaker)
    assert with_groups.scores["cyd"] > plain.scores["cyd"]


def test_few_label_scores():
    X, y, _ = _toy(300)
    scores = few_label_scores(
        PCA(3, random_state=0),
        X[:240],
        y[:240],
        X[240:],
        y[240:],
        size=0.05,
        n_draws=3,
    )
    assert set(scores) == {"representation", "raw"}
    pca = PCA(3, random_state=0).fit(X[:240])
    for draw in range(3):
        lab = stratified_subset(y[:240], 0.05, random_state=draw)
        clf = SVC().fit(pca.transform(X[:240])[lab], y[:240][lab])
        assert scores["representation"][draw] == clf.score(
            pca.transform(X[240:]), y[240:]
        )
    only = few_label_scores(
        PCA(3),
        X[:240],
        y[:240],
        X[240:],
        y[240:],
        n_draws=1,
        raw_baseline=False,
        classifier=LogisticRegression(),
    )
    assert list(only) == ["representation"] and only["representation"].shape == (1,)


def test_latent_map():
    rng = np.random.RandomState(0)
    Z, labels = rng.normal(size=(40, 4)), np.arange(40) % 4
    speakers = np.repeat(["a", "b"], 20)
    m = latent_map(Z, labels, speakers, max_points=30)
    assert m["method"] == "t-SNE" and m["points"].shape == (30, 2)
    assert len(m["labels"]) == len(m["speakers"]) == 30
    m = latent_map(Z[:5], labels[:5])
    assert m["method"] == "PCA" and m["speakers"] is None


def test_format_summary_and_generated_rate():
    evaluation = {
        "accuracy": {"VAE (16-D) + SVC": 0.9634, "PCA (16-D) + SVC": 0.95},
        "generated": [{"recognised": 9, "n": 10}, {"recognised": 7, "n": 10}],
    }
    held = {
        "label": "held-out speaker yweweler",
        "n_test": 500,
        "accuracy": {"VAE (16-D) + SVC": 0.652},
    }
    assert generated_rate(evaluation["generated"]) == (16, 20)
    assert format_summary(evaluation, {"text": "official split"}, held) == [
        "accuracy, official split:",
        "  VAE (16-D) + SVC             0.963",
        "  PCA (16-D) + SVC             0.950",
        "  the VAE pipeline wins, 0.963 vs 0.950 for PCA (16-D) + SVC (+0.013)",
        "accuracy, held-out speaker yweweler (500 test utterances, model trained "
        "without them):",
        "  VAE (16-D) + SVC             0.652",
        "generated utterances labelled right by skvae's own recogniser: 16/20 (80%)",
    ]


def test_compare_to_baselines_names_the_best_baseline_and_the_sign():
    from skvae.evaluation import compare_to_baselines

    lines = compare_to_baselines(
        {
            "official": {"VAE + SVC": 0.95, "PCA + SVC": 0.97, "raw + SVC": 0.99},
            "held out": {"VAE + SVC": 0.80, "PCA + SVC": 0.70, "raw + SVC": 0.75},
            "tie": {"VAE + SVC": 0.5, "raw + SVC": 0.5},
            "alone": {"VAE + SVC": 0.9},
        }
    )
    assert lines == [
        "official: the VAE pipeline loses, 0.950 vs 0.990 for raw + SVC (-0.040)",
        "held out: the VAE pipeline wins, 0.800 vs 0.750 for raw + SVC (+0.050)",
        "tie: the VAE pipeline ties, 0.500 vs 0.500 for raw + SVC (+0.000)",
    ]


# --------------------------------------------------------------------------
# the recogniser's evaluation (a small generated corpus)
# --------------------------------------------------------------------------
@pytest.fixture(scope="module")
def recognizer_run():
    from skvae.datasets import load_corpus, split_corpus
    from skvae.recipes import as_utterances, train_recognizer

    corpus = load_corpus("generated", n_speakers=3, n_repeats=2)
    train, test, _ = split_corpus(corpus, "random", random_state=0)
    features = make_recognizer(**FAST)["features"].fit(corpus.data[train])
    # the default front end: one array of frames per utterance
    F = as_utterances(features.transform(corpus.data))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        bundle = train_recognizer(
            F[train],
            corpus.target[train],
            features=features,
            durations=corpus.duration[train],
            audio=corpus.data[train],  # the generator's plain rows (cmvn)
            **FAST,
        )
    return corpus, F, train, test, bundle


def test_recognizer_accuracies(recognizer_run):
    corpus, F, train, test, bundle = recognizer_run
    y, rec = corpus.target, bundle["recognizer"]
    acc, pred = recognizer_accuracies(rec, F[train], y[train], F[test], y[test])
    name = "sequence VAE (4-D) + SVC"  # the default VAE
    assert list(acc) == [name, "PCA (4-D) + SVC", "log-mel (256-D) + SVC"]
    np.testing.assert_array_equal(pred, rec["model"].predict(F[test]))
    assert acc[name] == np.mean(pred == y[test])


def test_generation_check(recognizer_run):
    _, _, _, _, bundle = recognizer_run
    generated = generation_check(bundle, n_per_class=2, random_state=0)
    assert [g["label"] for g in generated] == list(range(10))
    for g in generated:
        assert g["rows"].shape == (2, 256) and len(g["waves"]) == 2
        assert 0 <= g["recognised"] <= g["n"] == 2
        assert g["recognised"] == np.sum(g["predicted"] == g["label"])
    again = generation_check(bundle, n_per_class=2, random_state=0)
    np.testing.assert_array_equal(again[3]["rows"], generated[3]["rows"])


@pytest.mark.parametrize("level", [-20.0, None])
def test_generation_check_counts_the_files_as_written(recognizer_run, tmp_path, level):
    """What 'skvae predict' says of the WAV files is what was counted, also
    for a front end without gain normalisation (level=None): the files are
    written peak-normalised."""
    import copy

    from skvae.recipes import recognize_files, write_utterances

    bundle = copy.deepcopy(recognizer_run[-1])
    rec = bundle["recognizer"]
    rec["features"].set_params(level=level)
    generated = generation_check(bundle, n_per_class=3, random_state=1)
    for g in generated:
        folder = tmp_path / str(g["label"])
        folder.mkdir()
        paths = write_utterances(g["waves"], folder, g["label"], 8000)
        res = recognize_files(rec, paths)
        heard = res.classes[res.proba.argmax(axis=1)]
        np.testing.assert_array_equal(heard, g["predicted"])
        assert g["recognised"] == np.sum(heard == g["label"])


def test_evaluate_recognizer(recognizer_run):
    corpus, F, train, test, bundle = recognizer_run
    ev = evaluate_recognizer(
        bundle, F, corpus.target, train, test, speaker=corpus.speaker, n_check=1
    )
    assert set(ev) == {
        "accuracy",
        "y_test",
        "y_pred",
        "latent",
        "reconstructions",
        "generated",
    }
    np.testing.assert_array_equal(ev["y_test"], corpus.target[test])
    assert len(ev["latent"]["points"]) == len(test)
    assert len(ev["latent"]["speakers"]) == len(test)
    assert 1 <= len(ev["reconstructions"]) <= 5
    labels = [r["label"] for r in ev["reconstructions"]]
    assert len(set(labels)) == len(labels)
    assert sum(g["n"] for g in ev["generated"]) == 10


def test_speaker_held_out(recognizer_run):
    corpus, F, _, _, bundle = recognizer_run
    y, fe = corpus.target, bundle["recognizer"]["features"]
    assert speaker_held_out(F, y, None, features=fe, **FAST) is None
    assert (
        speaker_held_out(F, y, corpus.speaker, features=fe, min_speakers=4, **FAST)
        is None
    )
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        res = speaker_held_out(
            F, y, corpus.speaker, features=fe, random_state=3, **FAST
        )
        again = speaker_held_out(
            F, y, corpus.speaker, features=fe, random_state=3, **FAST
        )
    assert again == res  # one seed for the speaker, the recogniser, the baselines
    assert len(res["held_out"]) == 1
    assert res["n_test"] == int(np.sum(corpus.speaker == res["held_out"][0]))
    assert res["label"] == f"held-out speaker {res['held_out'][0]}"
    assert list(res["accuracy"])[0] == "sequence VAE (4-D) + SVC"
    assert res["epochs"] == 2


@pytest.mark.filterwarnings("ignore:.*used its epoch budget")
@pytest.mark.parametrize(
    "vae, name",
    [
        ("sequence", "sequence VAE (3-D) + SVC"),
        ("flat", "VAE (3-D) + SVC"),
        (None, "no VAE: log-mel + SVC"),
    ],
)
def test_recognizer_accuracies_name_the_vae_and_use_flat_rows(vae, name):
    from skvae.datasets import make_spoken_digits
    from skvae.evaluation import recognizer_accuracies
    from skvae.recipes import make_recognizer

    d = make_spoken_digits(3, 2, random_state=0)
    rec = make_recognizer(
        vae=vae, n_components=3, n_mels=16, n_frames=8, max_iter=2, cv=2, n_threads=1
    ).fit(d.data, d.target)
    F = rec["features"].transform(d.data)
    acc, pred = recognizer_accuracies(rec, F, d.target, F, d.target)
    assert list(acc)[0] == name
    assert list(acc)[2] == "log-mel (128-D) + SVC"  # 8 frames x 16 bands
    np.testing.assert_array_equal(pred, rec.predict(d.data))
    assert acc[name] == np.mean(pred == d.target)
