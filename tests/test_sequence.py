"""SequenceVAE: the segment-level factorised VAE over variable-length sequences."""

import copy
import pickle

import numpy as np
import pytest
import sklearn
from sklearn.base import clone
from sklearn.exceptions import NotFittedError
from sklearn.pipeline import Pipeline
from sklearn.svm import SVC
from sklearn.utils.estimator_checks import (
    check_get_params_invariance,
    check_no_attributes_set_in_init,
    check_parameters_default_constructible,
    check_set_params,
)

import skvae
from skvae import SequenceVAE

N_FEAT = 6
# short fits: their ConvergenceWarning is expected
pytestmark = pytest.mark.filterwarnings("ignore::sklearn.exceptions.ConvergenceWarning")


def make_voices(n_speakers=6, n_repeats=6, seed=0):
    """Sequences of 3 'digits' by speakers: a digit is a run of 3 phones
    (fixed vectors, 4-8 frames each), a speaker adds a large offset to every
    frame (its voice). Returns sequences, digits and speakers."""
    rng = np.random.RandomState(seed)
    phones = rng.normal(0, 1.5, (6, N_FEAT))
    words = [(0, 1, 2), (3, 4, 5), (5, 0, 3)]
    voices = rng.normal(0, 3.0, (n_speakers, N_FEAT))
    X, digit, speaker = [], [], []
    for s in range(n_speakers):
        for d, word in enumerate(words):
            for _ in range(n_repeats):
                frames = [
                    np.repeat(phones[p][None], rng.randint(4, 9), axis=0) for p in word
                ]
                seq = np.concatenate(frames) + voices[s]
                X.append(seq + rng.normal(0, 0.2, seq.shape))
                digit.append(d)
                speaker.append(s)
    return X, np.array(digit), np.array(speaker)


SMALL = dict(
    n_components=3,
    n_sequence_components=2,
    segment_length=4,
    segment_shift=2,
    hidden_layer_sizes=(32,),
    n_positions=4,
    random_state=0,
)


FITTED = {
    **SMALL,
    "n_sequence_components": 4,
    "max_iter": 60,
    "learning_rate_init": 3e-3,
}


@pytest.fixture(scope="module")
def voices():
    return make_voices()


@pytest.fixture(scope="module")
def fitted(voices):
    X, _, _ = voices
    return SequenceVAE(**FITTED).fit(X)


def _mean_distance(Z, a, b):
    return float(np.mean(np.linalg.norm(Z[a][:, None] - Z[b][None], axis=-1)))


def _ratio(Z, digit, speaker):
    """Mean distance of one digit by two speakers over that of two digits by
    one speaker."""
    same_digit = [
        _mean_distance(Z, (digit == d) & (speaker == s), (digit == d) & (speaker == t))
        for d in range(3)
        for s in range(6)
        for t in range(s + 1, 6)
    ]
    same_speaker = [
        _mean_distance(Z, (digit == d) & (speaker == s), (digit == e) & (speaker == s))
        for s in range(6)
        for d in range(3)
        for e in range(d + 1, 3)
    ]
    return np.mean(same_digit) / np.mean(same_speaker)


def test_same_digit_of_two_speakers_closer_than_two_digits_of_one(voices, fitted):
    X, digit, speaker = voices
    assert _ratio(fitted.transform(X), digit, speaker) < 0.7
    # in the frames themselves the voice dominates (the ratio is over 1)
    raw = np.array([x[np.linspace(0, len(x) - 1, 8).astype(int)].ravel() for x in X])
    assert _ratio(raw, digit, speaker) > 1.0


def test_z2_identifies_speakers_and_swapping_it_changes_voice_not_digit(voices, fitted):
    X, digit, speaker = voices
    z2 = fitted.sequence_latent(X)
    centroids = np.array([z2[speaker == s].mean(0) for s in range(6)])
    nearest = np.argmin(np.linalg.norm(z2[:, None] - centroids[None], axis=-1), 1)
    assert np.mean(nearest == speaker) > 0.9
    # digit 0 of speaker 0 rendered in the voice of speaker 3's digit 1
    src = np.flatnonzero((digit == 0) & (speaker == 0))[:4]
    tgt = np.flatnonzero((digit == 1) & (speaker == 3))[:4]
    out = fitted.convert([X[i] for i in src], [X[i] for i in tgt])
    assert [o.shape for o in out] == [X[i].shape for i in src]
    voice = {
        s: np.mean([X[i].mean(0) for i in np.flatnonzero(speaker == s)], 0)
        for s in (0, 3)
    }
    for o in out:  # the level of every feature follows the target voice
        assert np.linalg.norm(o.mean(0) - voice[3]) < np.linalg.norm(
            o.mean(0) - voice[0]
        )
    # the content (voice removed) stays digit 0's
    Z = fitted.transform([o - voice[3] + voice[0] for o in out])
    Z_src = fitted.transform([X[i] for i in src])
    Z_other = fitted.transform(
        [X[i] for i in np.flatnonzero((digit == 1) & (speaker == 0))[:4]]
    )
    assert _mean_distance(
        np.r_[Z, Z_src], np.r_[[True] * 4, [False] * 4], np.r_[[False] * 4, [True] * 4]
    ) < _mean_distance(
        np.r_[Z, Z_other],
        np.r_[[True] * 4, [False] * 4],
        np.r_[[False] * 4, [True] * 4],
    )


def test_batch_gives_the_codes_of_one_by_one(voices, fitted):
    X = voices[0][:7] + [np.ones((2, N_FEAT))]  # one shorter than a segment
    batch = fitted.transform(X)
    alone = np.vstack([fitted.transform([x]) for x in X])
    np.testing.assert_allclose(batch, alone, rtol=1e-5, atol=1e-5)
    scores = fitted.score_samples(X)
    np.testing.assert_allclose(
        scores, np.r_[[fitted.score_samples([x])[0] for x in X]], rtol=1e-6
    )
    segments = fitted.transform_segments(X)
    assert [len(z) for z in segments] == [
        1 if len(x) <= 4 else 1 + -(-(len(x) - 4) // 2) for x in X
    ]


@pytest.mark.parametrize(
    "pooling, width", [("resample", 4 * 3), ("mean", 3), ("meanstd", 6)]
)
def test_pooling_widths_and_names(voices, fitted, pooling, width):
    X = voices[0][:5]
    vae = copy.deepcopy(fitted).set_params(pooling=pooling)  # read at transform
    assert vae.transform(X).shape == (5, width)
    assert len(vae.get_feature_names_out()) == width
    if pooling == "mean":  # the mean of the trajectory
        Z = fitted.transform_segments(X)
        np.testing.assert_allclose(
            vae.transform(X), [z.mean(0) for z in Z], rtol=1e-5, atol=1e-6
        )


def test_inverse_transform_and_sample_have_natural_lengths(voices, fitted):
    X = voices[0][:3]
    codes = fitted.transform_segments(X)
    back = fitted.inverse_transform(codes, n_frames=[len(x) for x in X])
    assert [b.shape for b in back] == [x.shape for x in X]
    # reconstruction is nearer to the input than the other sequences are
    err = [np.mean((b - x) ** 2) for b, x in zip(back, X)]
    assert np.mean(err) < np.var(np.concatenate(X))
    rows = fitted.inverse_transform(fitted.transform(X), n_frames=20)
    assert [r.shape for r in rows] == [(20, N_FEAT)] * 3
    samples = fitted.sample(4, n_frames=[5, 9, 30, 2], random_state=0)
    assert [s.shape[0] for s in samples] == [5, 9, 30, 2]
    again = fitted.sample(4, n_frames=[5, 9, 30, 2], random_state=0)
    np.testing.assert_array_equal(np.concatenate(samples), np.concatenate(again))
    assert len(fitted.sample(2)[0]) == fitted.median_length_


def test_score_samples_prefers_its_own_data(voices, fitted):
    X = voices[0][:20]
    noise = [np.random.RandomState(i).normal(0, 5, x.shape) for i, x in enumerate(X)]
    assert np.all(fitted.score_samples(X) > fitted.score_samples(noise))
    assert fitted.score(X) == pytest.approx(np.mean(fitted.score_samples(X)))


def test_reproducible_and_persistent(voices, fitted, tmp_path):
    X = voices[0]
    again = SequenceVAE(**FITTED).fit(X)
    np.testing.assert_array_equal(again.transform(X), fitted.transform(X))
    other = pickle.loads(pickle.dumps(fitted))
    np.testing.assert_array_equal(other.transform(X), fitted.transform(X))
    skvae.save(fitted, tmp_path / "seq.skvae")
    loaded = skvae.load(tmp_path / "seq.skvae")
    np.testing.assert_array_equal(loaded.transform(X), fitted.transform(X))
    np.testing.assert_array_equal(loaded.score_samples(X), fitted.score_samples(X))
    assert loaded.median_length_ == fitted.median_length_


def test_warm_start_continues_on_the_same_sequences(voices):
    X = voices[0][:30]
    vae = SequenceVAE(**SMALL, max_iter=2, warm_start=True)
    vae.fit(X)
    vae.fit(X)
    assert vae.n_iter_ == 4
    with pytest.raises(ValueError, match="same training sequences"):
        vae.fit(X[:10])


def test_groups_tie_the_sequence_latent_per_speaker(voices):
    X, digit, speaker = voices
    vae = SequenceVAE(**SMALL, max_iter=3)
    vae.fit(X, groups=speaker)
    np.testing.assert_array_equal(vae.groups_, np.arange(6))
    assert vae.group_latents_.shape == (6, 2)
    with sklearn.config_context(enable_metadata_routing=True):
        step = SequenceVAE(**SMALL, max_iter=3)
        step = step.set_fit_request(groups=True).set_transform_request(groups=True)
        pipe = Pipeline([("vae", step), ("svc", SVC())])
        pipe.fit(X, digit, groups=speaker)
        assert pipe.predict(X[:4]).shape == (4,)


def test_label_term_uses_labels_and_skips_unlabelled(voices):
    X, digit, _ = voices
    y = digit.copy()
    y[::2] = -1
    vae = SequenceVAE(**SMALL, max_iter=2, label_weight=5.0)
    vae.fit(X, y)
    np.testing.assert_array_equal(vae.classes_, [0, 1, 2])
    assert vae.module_.n_classes == 3
    assert SequenceVAE(**SMALL, max_iter=2).fit(X, y).classes_ is None


@pytest.mark.parametrize(
    "X, match",
    [
        (np.zeros((5, N_FEAT)), "list of \\(n_frames, n_features\\) arrays"),
        ([np.zeros((5, N_FEAT)), np.zeros((4, 3))], "sequence 1 of X has 3 features"),
        ([np.full((5, N_FEAT), np.nan)], "sequence 0 of X contains NaN"),
        ([np.zeros((0, N_FEAT))], "sequence 0 of X must be"),
        ([], "holds no sequence"),
    ],
)
def test_bad_input(X, match):
    with pytest.raises(ValueError, match=match):
        SequenceVAE(**SMALL, max_iter=1).fit(X)


def test_errors_after_fit(voices, fitted):
    with pytest.raises(NotFittedError):
        SequenceVAE().transform(voices[0])
    with pytest.raises(ValueError, match="expecting 6 features"):
        fitted.transform([np.zeros((9, 4))])
    with pytest.raises(ValueError, match="segment_shift=5 must be at most"):
        SequenceVAE(segment_length=4, segment_shift=5).fit(voices[0])
    with pytest.raises(ValueError, match="inverse_transform takes z1"):
        fitted.inverse_transform(np.zeros((2, 5)))
    with pytest.raises(ValueError, match="sequence latents must have shape"):
        fitted.inverse_transform(
            fitted.transform_segments(voices[0][:2]), sequence_latents=np.zeros(5)
        )


def test_sklearn_checks_that_apply():
    # check_estimator feeds 2-D arrays; a SequenceVAE takes lists of them (its
    # tags say so), so the checks that need no data are run here
    est = SequenceVAE()
    name = type(est).__name__
    check_parameters_default_constructible(name, est)
    check_no_attributes_set_in_init(name, est)
    check_get_params_invariance(name, est)
    check_set_params(name, est)
    assert clone(est).get_params() == est.get_params()
    assert "frame_shape" not in est.get_params()
    assert not est.__sklearn_tags__().input_tags.two_d_array


@pytest.mark.parametrize("pooling", ["resample", "mean", "meanstd"])
def test_numpy_encoder_gives_the_codes_without_torch(voices, fitted, pooling):
    from skvae._format import encode
    from skvae._numpy_encoder import NumpySequenceEncoder

    X = voices[0][:9] + [np.ones((2, N_FEAT))]
    vae = copy.deepcopy(fitted).set_params(pooling=pooling)  # read at transform
    enc = NumpySequenceEncoder(encode(vae._to_weights())).fit()
    np.testing.assert_allclose(enc.transform(X), vae.transform(X), atol=1e-5)
    assert list(enc.get_feature_names_out()) == list(vae.get_feature_names_out())
    with pytest.raises(ValueError, match="expecting 6 features"):
        enc.transform([np.zeros((4, 3))])
