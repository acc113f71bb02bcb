"""SpeechFeatures(output="sequence"): one array of frames per utterance."""

import numpy as np
import pytest
from numpy.testing import assert_allclose, assert_array_equal
from sklearn.base import clone

from skvae.features import SpeechFeatures, extract_features

SR, HOP = 8000, 80  # hop: the default 10 ms at 8 kHz


def utterances(lengths=(4000, 1234, 2801, 80, 6000), seed=0):
    rng = np.random.default_rng(seed)
    t = [np.arange(n) / SR for n in lengths]
    return [
        (0.3 * np.sin(2 * np.pi * rng.uniform(200, 2000) * ti)).astype(np.float32)
        + 0.01 * rng.standard_normal(ti.size).astype(np.float32)
        for ti in t
    ]


@pytest.mark.parametrize(
    "params",
    [
        {},
        {"kind": "mfcc", "delta_order": 2, "cmvn": "meanvar", "context": 1},
        {"preemphasis": 0.97, "level": -20.0},
    ],
)
def test_sequences_are_the_frames_of_each_utterance(params):
    X = utterances()
    fe = SpeechFeatures(sr=SR, n_mels=16, output="sequence", n_frames=7, **params)
    seqs = fe.fit_transform(X)
    assert isinstance(seqs, list) and len(seqs) == len(X)
    # natural length, n_frames ignored
    assert [S.shape[0] for S in seqs] == [1 + y.size // HOP for y in X]
    names = fe.get_feature_names_out()
    assert_array_equal(names, fe.get_frame_feature_names_out())
    assert all(S.dtype == np.float32 and S.shape[1] == names.size for S in seqs)
    frames, utt = fe.transform_frames(X)
    for i, S in enumerate(seqs):  # in input order
        assert_array_equal(S, frames[utt == i])


def test_longer_utterance_more_frames_and_order_kept():
    a, b = utterances((1600, 4000))
    fe = SpeechFeatures(sr=SR, n_mels=8, output="sequence")
    short, long_ = fe.transform([a, b])
    assert long_.shape[0] > short.shape[0]
    swapped = fe.transform([b, a])
    assert_array_equal(swapped[0], long_)
    assert_array_equal(swapped[1], short)
    # the function form gives the one array
    assert_array_equal(extract_features(b, sr=SR, n_mels=8, output="sequence"), long_)


def test_n_jobs_gives_identical_arrays(monkeypatch):
    from skvae.features import _spectral

    monkeypatch.setattr(_spectral, "_CHUNK_SIZE", 2)  # several chunks, in parallel
    X = utterances()
    fe = SpeechFeatures(sr=SR, n_mels=12, delta_order=1, output="sequence")
    one = fe.transform(X)
    two = clone(fe).set_params(n_jobs=2).transform(X)
    assert len(one) == len(two) == len(X)
    for S1, S2 in zip(one, two):
        assert_array_equal(S1, S2)


@pytest.mark.parametrize("kind", ["logmel", "mfcc"])
def test_resample_is_linear_interpolation_of_the_sequence(kind):
    X = utterances()
    n_out = 9
    fe = SpeechFeatures(sr=SR, kind=kind, n_mels=10, n_mfcc=6, n_frames=n_out)
    rows = fe.transform(X).reshape(len(X), n_out, -1)
    seqs = fe.set_params(output="sequence").transform(X)
    for row, S in zip(rows, seqs):
        S = S.astype(np.float64)
        pos = np.linspace(0, S.shape[0] - 1, n_out)
        expected = np.column_stack(
            [np.interp(pos, np.arange(S.shape[0]), col) for col in S.T]
        )
        assert_allclose(row, expected, rtol=1e-5, atol=1e-3)


def test_inverse_transform_lengths_follow_the_frame_counts():
    X = utterances((4000, 1234, 2801))
    fe = SpeechFeatures(sr=SR, n_mels=40, output="sequence")
    seqs = fe.fit_transform(X)
    ys = fe.inverse_transform(seqs, n_iter=4)
    assert isinstance(ys, list) and len(ys) == len(X)
    for y, S in zip(ys, seqs):
        assert y.ndim == 1 and y.dtype == np.float32
        assert y.size == (S.shape[0] - 1) * HOP
        assert 1 + y.size // HOP == S.shape[0]  # transform gives the count back
        assert np.all(np.isfinite(y)) and np.abs(y).max() > 1e-3
    # the same waveform as the row path for the same frames
    row_fe = SpeechFeatures(sr=SR, n_mels=40, n_frames=seqs[1].shape[0])
    row = row_fe.inverse_transform(seqs[1].reshape(1, -1), n_iter=4)[0]
    assert_allclose(row, ys[1])


def test_inverse_transform_bad_input():
    fe = SpeechFeatures(sr=SR, n_mels=8, output="sequence").fit()
    good = np.zeros((5, 8))
    with pytest.raises(TypeError, match="list of \\(n_frames, 8\\) arrays"):
        fe.inverse_transform(np.zeros((2, 5, 8)))
    with pytest.raises(ValueError, match="X\\[1\\].*Expected 2D array"):
        fe.inverse_transform([good, np.zeros(8)])
    with pytest.raises(ValueError, match="X\\[1\\] has 7 columns.*expecting 8"):
        fe.inverse_transform([good, np.zeros((5, 7))])
    for bad in (np.nan, np.inf):
        S = good.copy()
        S[2, 3] = bad
        with pytest.raises(ValueError, match="X\\[0\\].*(NaN|infinity)"):
            fe.inverse_transform([S])
    with pytest.raises(ValueError, match="X\\[0\\].*minimum of 2"):
        fe.inverse_transform([np.zeros((1, 8))])
    with pytest.raises(ValueError, match="no delta_order, cmvn or context"):
        fe.set_params(cmvn="mean").inverse_transform([good])


def test_pandas_output_is_refused_clearly():
    from sklearn import config_context

    X = utterances((800, 500))
    fe = SpeechFeatures(sr=SR, n_mels=8, output="sequence")
    with pytest.raises(ValueError, match="set_output\\(transform='default'\\)"):
        clone(fe).set_output(transform="pandas").fit_transform(X)
    with config_context(transform_output="pandas"), pytest.raises(ValueError):
        fe.transform(X)
    rows = clone(fe).set_params(output="resample").set_output(transform="pandas")
    assert rows.transform(X).shape == (2, 32 * 8)  # fixed rows still work


def test_sequence_feeds_a_pipeline_step():
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import FunctionTransformer

    X = utterances()
    lengths = FunctionTransformer(lambda seqs: np.array([[len(S)] for S in seqs]))
    pipe = make_pipeline(SpeechFeatures(sr=SR, n_mels=8, output="sequence"), lengths)
    assert_array_equal(pipe.fit_transform(X).ravel(), [1 + y.size // HOP for y in X])
