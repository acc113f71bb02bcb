"""SpeechFeatures: log-mel / MFCC rows and frames, and back to audio."""

import subprocess
import sys
import warnings

import librosa
import numpy as np
import pytest
import soundfile as sf
from numpy.testing import assert_allclose, assert_array_equal
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler
from sklearn.utils._param_validation import InvalidParameterError

from skvae.features import AudioReadError, SpeechFeatures, extract_features

SR = 8000
N_FFT, HOP = 256, 80  # the defaults at 8 kHz


def tone(freq=440.0, sr=SR, duration=0.5, amp=0.5):
    t = np.arange(int(sr * duration)) / sr
    return (amp * np.sin(2 * np.pi * freq * t)).astype(np.float32)


def chirp(sr=SR, duration=0.6):
    t = np.arange(int(sr * duration)) / sr
    return (0.4 * np.sin(2 * np.pi * (200 * t + 1500 * t**2))).astype(np.float32)


def noise(n, seed=0):
    return (0.1 * np.random.default_rng(seed).standard_normal(n)).astype(np.float32)


def dominant_freq(y, sr):
    spec = np.abs(np.fft.rfft(y * np.hanning(y.size)))
    return np.argmax(spec) * sr / y.size


def librosa_logmel(y, n_mels=40, **kw):
    S = librosa.feature.melspectrogram(
        y=y.astype(np.float64), sr=SR, n_fft=N_FFT, hop_length=HOP, n_mels=n_mels, **kw
    )
    return librosa.power_to_db(S, top_db=None)


# --------------------------------------------------------------------------
# agreement with librosa
# --------------------------------------------------------------------------
def test_logmel_frames_match_librosa():
    y = chirp()
    frames, utt = SpeechFeatures(sr=SR).transform_frames([y])
    assert_allclose(frames, librosa_logmel(y).T, atol=2e-3)
    assert_array_equal(utt, 0)


def test_mfcc_frames_match_librosa():
    y = chirp()
    fe = SpeechFeatures(sr=SR, kind="mfcc", n_mfcc=20, fmin=50.0, fmax=3800.0)
    frames, _ = fe.transform_frames([y])
    ref = librosa.feature.mfcc(S=librosa_logmel(y, fmin=50.0, fmax=3800.0), n_mfcc=20)
    assert_allclose(frames, ref.T, atol=5e-3)


def test_deltas_match_librosa_nearest():
    y = chirp()
    fe = SpeechFeatures(sr=SR, kind="mfcc", delta_order=2, delta_width=5)
    frames, _ = fe.transform_frames([y])
    static, _ = SpeechFeatures(sr=SR, kind="mfcc").transform_frames([y])
    S = static.T.astype(np.float64)
    d1 = librosa.feature.delta(S, width=5, order=1, mode="nearest")
    d2 = librosa.feature.delta(S, width=5, order=2, mode="nearest")
    assert frames.shape == (static.shape[0], 39)
    assert_allclose(frames, np.vstack([S, d1, d2]).T, atol=1e-4)


@pytest.mark.parametrize(
    ("sr", "n_fft", "n_mels", "fmin", "fmax"),
    [
        (8000, 256, 40, 0.0, 4000.0),
        (16000, 512, 80, 20.0, 7600.0),
        (22050, 1023, 64, 0.0, 8000.0),
    ],
)
def test_fit_stores_librosas_analysis_arrays(sr, n_fft, n_mels, fmin, fmax):
    from scipy.fft import dct

    params = dict(sr=sr, n_fft=n_fft, n_mels=n_mels, fmin=fmin, fmax=fmax)
    fe = SpeechFeatures(kind="mfcc", n_mfcc=13, **params).fit()
    mel = librosa.filters.mel(
        sr=sr, n_fft=n_fft, n_mels=n_mels, fmin=fmin, fmax=fmax, dtype=np.float64
    )
    assert_array_equal(fe.mel_basis_, mel)
    assert_array_equal(fe.window_, librosa.filters.get_window("hann", n_fft))
    ref = dct(np.eye(n_mels), type=2, norm="ortho", axis=0)[:13]
    assert_allclose(fe.dct_matrix_, ref, atol=1e-12)
    assert SpeechFeatures(**params).fit().dct_matrix_ is None  # log-mel


def test_fitted_front_end_transforms_the_same_after_pickling():
    """What fit stores travels with the model: the features are the same
    after a pickle round trip, and equal librosa's mel spectrogram."""
    import pickle

    X = [chirp(), tone(300.0), noise(900)]
    for kind in ("logmel", "mfcc"):
        fe = SpeechFeatures(sr=SR, kind=kind, n_frames=20).fit(X)
        loaded = pickle.loads(pickle.dumps(fe))
        assert_array_equal(loaded.mel_basis_, fe.mel_basis_)
        assert_array_equal(loaded.transform(X), fe.transform(X))
        unfitted = SpeechFeatures(**fe.get_params())  # computes the arrays itself
        assert_array_equal(unfitted.transform(X), fe.transform(X))
    frames, _ = loaded.set_params(kind="logmel").fit().transform_frames([chirp()])
    assert_allclose(frames, librosa_logmel(chirp()).T, atol=2e-3)


@pytest.mark.parametrize(
    "change", [{"n_mels": 30}, {"fmin": 300.0}, {"fmax": 3000.0}, {"sr": 10000}]
)
def test_parameters_changed_after_fit_are_refused(change):
    # fmin, fmax and sr keep the arrays' shapes: compared by value, not shape
    fe = SpeechFeatures(sr=SR, n_mels=20).fit()
    with pytest.raises(ValueError, match="changed after fit"):
        fe.set_params(**change).transform([tone()])
    refit = fe.fit().transform([tone()])
    assert_allclose(refit, SpeechFeatures(**fe.get_params()).transform([tone()]))


def test_defaults_follow_sample_rate():
    fe = SpeechFeatures(sr=16000).fit()
    assert (fe.n_fft_, fe.hop_length_) == (512, 160)
    fe = SpeechFeatures(sr=8000).fit()
    assert (fe.n_fft_, fe.hop_length_) == (256, 80)
    fe = SpeechFeatures(sr=8000, n_fft=200, hop_length=50).fit()
    assert (fe.n_fft_, fe.hop_length_) == (200, 50)


def test_resampled_file_gives_same_features(tmp_path):
    """A 44.1 kHz file analysed at 8 kHz matches the same tone made at 8 kHz."""
    sf.write(tmp_path / "hi.wav", tone(440.0, sr=44100), 44100, subtype="PCM_24")
    sf.write(tmp_path / "lo.wav", tone(440.0, sr=8000), 8000, subtype="PCM_24")
    fe = SpeechFeatures(sr=SR, kind="mfcc", output="stats", stats=("mean",))
    hi, lo = fe.transform([tmp_path / "hi.wav", tmp_path / "lo.wav"])
    assert_allclose(hi, lo, atol=0.5)
    frames_hi, _ = fe.transform_frames([tmp_path / "hi.wav"])
    frames_lo, _ = fe.transform_frames([tmp_path / "lo.wav"])
    assert_allclose(frames_hi[5:-5], frames_lo[5:-5], atol=0.2)  # away from the ends
    fe = SpeechFeatures(sr=SR, output="stats", stats=("mean",))
    hi, lo = fe.transform([tmp_path / "hi.wav", tmp_path / "lo.wav"])
    loud = lo > lo.max() - 40  # bands that hold the tone
    assert_allclose(hi[loud], lo[loud], atol=0.5)


# --------------------------------------------------------------------------
# band limit: later input gets no more bandwidth than the training audio
# --------------------------------------------------------------------------
WIDE_SR = 48000
CLASS_FREQS = (300.0, 700.0, 1200.0, 2000.0)


def _wideband_source(k, seed):
    """Class k: a tone of frequency CLASS_FREQS[k], plus white noise that
    covers the whole band of a 48 kHz recording."""
    rng = np.random.default_rng(seed)
    t = np.arange(int(WIDE_SR * rng.uniform(0.3, 0.5))) / WIDE_SR
    freq = CLASS_FREQS[k] * (1 + 0.05 * rng.standard_normal())
    return 0.3 * np.sin(2 * np.pi * freq * t) + 0.05 * rng.standard_normal(t.size)


def _recordings(folder, k, seed):
    """A 48 kHz recording and its 8 kHz copy (soxr), as float WAV files."""
    y = _wideband_source(k, seed)
    narrow = librosa.resample(y, orig_sr=WIDE_SR, target_sr=SR, res_type="soxr_hq")
    wide_path, narrow_path = (
        folder / f"{k}_{seed}_48k.wav",
        folder / f"{k}_{seed}_8k.wav",
    )
    sf.write(wide_path, y, WIDE_SR, subtype="FLOAT")
    sf.write(narrow_path, narrow, SR, subtype="FLOAT")
    return wide_path, narrow_path


def test_band_limit_to_the_training_audio(tmp_path):
    """Fitted on 8 kHz files, applied to 48 kHz recordings: the features are
    those of their 8 kHz copies, and so are a classifier's predictions."""
    from sklearn.linear_model import LogisticRegression

    train = [
        (k, _recordings(tmp_path, k, 100 * k + i)) for k in range(4) for i in range(6)
    ]
    test = [
        (k, _recordings(tmp_path, k, 1000 + 10 * k + i))
        for k in range(4)
        for i in range(3)
    ]
    y_train, y_test = [k for k, _ in train], [k for k, _ in test]
    wide = [w for _, (w, _) in test]
    narrow = [n for _, (_, n) in test]

    fe = SpeechFeatures(sr=16000, n_frames=8)
    clf = make_pipeline(fe, StandardScaler(), LogisticRegression(max_iter=1000))
    clf.fit([n for _, (_, n) in train], y_train)
    assert fe.training_sr_ == SR
    with pytest.warns(UserWarning, match=r"12 of 12 .*band-limited to 4000 Hz"):
        Z_wide = fe.transform(wide)
    Z_narrow = fe.transform(narrow)  # at the training rate: no warning, as before
    assert_array_equal(Z_narrow, SpeechFeatures(sr=16000, n_frames=8).transform(narrow))
    assert_allclose(Z_wide, Z_narrow, atol=1e-3)
    with pytest.warns(UserWarning, match="band-limited"):
        predicted_wide = clf.predict(wide)
    assert_array_equal(predicted_wide, clf.predict(narrow))
    assert_array_equal(predicted_wide, y_test)

    # what it prevents: the upper mel bands, empty in training, now full
    clf.set_params(speechfeatures__band_limit=False)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        Z_full = fe.transform(wide)
        assert fe.training_sr_ == SR
        assert np.abs(Z_full - Z_narrow).max() > 30
        assert (clf.predict(wide) != y_test).mean() > 0.5


def test_band_limit_of_waveforms_and_mixed_rates(tmp_path):
    y8 = chirp()
    sf.write(tmp_path / "8k.wav", y8, SR, subtype="FLOAT")
    sf.write(tmp_path / "22k.wav", tone(sr=22050), 22050, subtype="FLOAT")
    fe = SpeechFeatures(sr=16000).fit([tmp_path / "22k.wav", tmp_path / "8k.wav"])
    assert fe.training_sr_ == SR  # the lowest rate seen, from the headers
    # a waveform is at sr=16000: more bandwidth than the training audio
    y16 = librosa.resample(y8, orig_sr=SR, target_sr=16000, res_type="soxr_hq")
    y16 += tone(6000.0, sr=16000, duration=0.6, amp=0.1)  # above 4 kHz
    with pytest.warns(UserWarning, match="1 of 2 utterances"):
        Z = fe.transform([y16, tmp_path / "8k.wav"])
    assert np.abs(Z[0] - Z[1]).mean() < 0.5  # the 6 kHz tone is gone
    full = fe.set_params(band_limit=False).transform([y16])[0]
    assert np.abs(full - Z[1]).max() > 20
    # fitted on waveforms (at sr) or on files at or above sr: nothing to limit
    assert SpeechFeatures(sr=SR).fit([y8]).training_sr_ == SR
    assert SpeechFeatures(sr=SR).fit([tmp_path / "22k.wav"]).training_sr_ == SR
    assert SpeechFeatures(sr=SR).fit().training_sr_ is None
    # fit reads headers: a bad file is named there
    (tmp_path / "bad.wav").write_text("not audio")
    with pytest.raises(AudioReadError, match=r"X\[1\].*bad\.wav.*not a recognised"):
        SpeechFeatures(sr=SR).fit([tmp_path / "8k.wav", tmp_path / "bad.wav"])


@pytest.mark.fsdd
@pytest.mark.slow
def test_recogniser_fitted_on_fsdd_works_on_wideband_recordings(fsdd_home, tmp_path):
    """FSDD is 8 kHz; its test files recorded at 48 kHz (soxr copies plus
    content above 4 kHz, as a wideband microphone picks up) are recognised
    as the 8 kHz files are."""
    from sklearn.svm import SVC

    from skvae.datasets import fetch_fsdd

    fsdd = fetch_fsdd(fsdd_home, download_if_missing=False)
    train = fsdd.data[~fsdd.is_test][::3]
    test = fsdd.data[fsdd.is_test][::3]
    rng = np.random.default_rng(0)
    wide = []
    for i, path in enumerate(test):
        y, _ = sf.read(path, dtype="float64")
        y = librosa.resample(y, orig_sr=SR, target_sr=WIDE_SR, res_type="soxr_hq")
        hiss = np.fft.rfft(rng.standard_normal(y.size))
        hiss[np.fft.rfftfreq(y.size, 1 / WIDE_SR) < 4500] = 0  # above 4.5 kHz
        hiss = np.fft.irfft(hiss, y.size)
        y += hiss * (0.1 * np.std(y) / np.std(hiss))
        wide.append(tmp_path / f"{i}.wav")
        sf.write(wide[-1], y, WIDE_SR, subtype="FLOAT")
    clf = make_pipeline(SpeechFeatures(sr=16000), StandardScaler(), SVC())
    clf.fit(train, fsdd.target[~fsdd.is_test][::3])
    predicted = clf.predict(test)
    with pytest.warns(UserWarning, match="band-limited to 4000 Hz"):
        predicted_wide = clf.predict(wide)
    assert (predicted == fsdd.target[fsdd.is_test][::3]).mean() > 0.8
    assert (predicted_wide == predicted).mean() >= 0.98
    clf.set_params(speechfeatures__band_limit=False)
    assert (clf.predict(wide) == predicted).mean() < 0.5


# --------------------------------------------------------------------------
# gain normalisation
# --------------------------------------------------------------------------
def _with_silence(y):
    z = np.zeros(800, np.float32)
    return np.concatenate([z, y, z])


@pytest.mark.parametrize(
    "params",
    [
        {},
        {"cmvn": "mean"},
        {"kind": "mfcc", "cmvn": "meanvar", "top_db": 30, "preemphasis": 0.97},
        {"output": "stats", "delta_order": 1},
    ],
)
def test_level_makes_features_independent_of_the_gain(params):
    y = _with_silence(chirp() + noise(4800))  # digital silence at both ends
    gains = [np.float32(0.1), np.float32(1 / np.abs(y).max()), np.float32(1e-3)]
    fe = SpeechFeatures(sr=SR, level=-20.0, **params)
    Z = fe.transform([y] + [y * g for g in gains])
    for row in Z[1:]:
        assert_allclose(row, Z[0], atol=1e-3)
    # without it, the gain shows (also through CMVN: the log floor)
    Z = fe.set_params(level=None).transform([y] + [y * g for g in gains])
    assert np.abs(Z[3] - Z[0]).max() > 1.0


def test_level_sets_the_active_rms():
    from skvae.features._spectrogram import active_rms, set_level

    y = _with_silence(tone(amp=0.5))
    assert_allclose(active_rms(y, HOP), 0.5 / np.sqrt(2), rtol=1e-3)  # not the zeros
    out = set_level(y * 0.01, -20.0, HOP)
    assert_allclose(active_rms(out, HOP), 0.1, rtol=1e-6)
    assert_array_equal(set_level(np.zeros(100), -20.0, HOP), 0.0)  # silence stays
    # the same features for the same level, whatever the input's gain
    a = SpeechFeatures(sr=SR, level=-30.0).transform([y])
    b = SpeechFeatures(sr=SR).transform([out * 10 ** (-10 / 20)])
    assert_allclose(a, b, atol=1e-3)


def test_inverse_transform_writes_at_the_level(tmp_path):
    """Generated audio comes out at the level, so that the file written
    gives back the features of the waveform."""
    from skvae.audio import load_audio, write_wav
    from skvae.features._spectrogram import active_rms

    fe = SpeechFeatures(sr=SR, level=-20.0, n_frames=40)
    Z = fe.transform([chirp() * 0.01])
    y = fe.inverse_transform(Z)[0]
    peak = np.abs(y).max()
    assert peak <= 0.99 + 1e-6
    if peak < 0.99 - 1e-6:  # at the level unless that would clip
        assert_allclose(active_rms(y, HOP), 0.1, rtol=1e-4)
    expected = fe.transform([y])
    back, _ = load_audio(write_wav(tmp_path / "gen.wav", y, SR, subtype="FLOAT"))
    assert_allclose(fe.transform([back]), expected, atol=1e-4)
    # 16-bit PCM adds its quantisation noise (near -100 dBFS) to silent bands
    back, _ = load_audio(write_wav(tmp_path / "gen16.wav", y, SR))
    heard = expected > -60
    assert_allclose(fe.transform([back])[heard], expected[heard], atol=0.25)
    # and so does a loud row, which would clip at the level
    loud = fe.inverse_transform(Z + 200.0)[0]
    assert np.abs(loud).max() <= 0.99 + 1e-6
    loud = fe.set_params(level=-3.0).inverse_transform(Z)  # peak above 0.99
    assert_allclose(np.abs(loud).max(), 0.99, rtol=1e-6)


# --------------------------------------------------------------------------
# fixed-size rows
# --------------------------------------------------------------------------
def test_resample_rows_are_time_major_and_keep_the_ends():
    y = chirp()
    fe = SpeechFeatures(sr=SR, n_mels=20, n_frames=10)
    row = fe.transform([y])[0]
    frames, _ = fe.transform_frames([y])
    grid = row.reshape(10, 20)  # (n_frames, n_features)
    assert_allclose(grid[0], frames[0], atol=1e-5)
    assert_allclose(grid[-1], frames[-1], atol=1e-5)
    pos = np.linspace(0, frames.shape[0] - 1, 10)
    for j in range(20):  # every feature is linearly interpolated in time
        assert_allclose(
            grid[:, j], np.interp(pos, np.arange(len(frames)), frames[:, j]), atol=1e-4
        )
    names = fe.get_feature_names_out().reshape(10, 20)
    assert names[3, 7] == "logmel7_t3"


def test_pad_crops_long_and_pads_short_with_silence():
    n_frames = 20
    fe = SpeechFeatures(sr=SR, n_mels=16, output="pad", n_frames=n_frames)
    long_y, short_y = tone(duration=0.5), tone(duration=0.05)
    rows = fe.transform([long_y, short_y]).reshape(2, n_frames, 16)
    frames, utt = fe.transform_frames([long_y, short_y])
    assert_allclose(rows[0], frames[utt == 0][:n_frames], atol=1e-6)
    n_short = int((utt == 1).sum())
    assert n_short == 1 + short_y.size // HOP < n_frames
    assert_allclose(rows[1, :n_short], frames[utt == 1], atol=1e-6)
    assert_array_equal(rows[1, n_short:], -100.0)  # 10 * log10(1e-10)


def test_pad_value_is_zero_after_cmvn_and_mfcc_silence():
    fe = SpeechFeatures(sr=SR, kind="mfcc", output="pad", n_frames=40, cmvn="mean")
    row = fe.transform([tone(duration=0.1)])[0].reshape(40, 13)
    assert_array_equal(row[-5:], 0.0)
    fe = SpeechFeatures(sr=SR, kind="mfcc", n_mels=40, output="pad", n_frames=40)
    row = fe.transform([tone(duration=0.1)])[0].reshape(40, 13)
    assert_allclose(row[-1], [-100.0 * np.sqrt(40)] + [0.0] * 12, atol=1e-3)


def test_stats_pooling():
    ys = [chirp(), tone()]
    stats = ("mean", "std", "min", "max", "median")
    fe = SpeechFeatures(sr=SR, kind="mfcc", output="stats", stats=stats)
    Z = fe.transform(ys)
    frames, utt = fe.transform_frames(ys)
    assert Z.shape == (2, 5 * 13)
    for i in range(2):
        F = frames[utt == i].astype(np.float64)
        expected = np.concatenate(
            [F.mean(0), F.std(0), F.min(0), F.max(0), np.median(F, 0)]
        )
        assert_allclose(Z[i], expected, rtol=1e-4, atol=1e-3)
    names = fe.get_feature_names_out()
    assert names[0] == "mfcc0_mean" and names[13 + 2] == "mfcc2_std"


def test_feature_names_with_deltas_and_context():
    fe = SpeechFeatures(
        sr=SR, kind="mfcc", n_mfcc=4, delta_order=1, context=1, n_frames=3
    )
    frame_names = fe.get_frame_feature_names_out()
    assert list(frame_names[:9]) == [
        "mfcc0_c-1",
        "mfcc1_c-1",
        "mfcc2_c-1",
        "mfcc3_c-1",
        "mfcc0_d1_c-1",
        "mfcc1_d1_c-1",
        "mfcc2_d1_c-1",
        "mfcc3_d1_c-1",
        "mfcc0_c+0",
    ]
    names = fe.get_feature_names_out()
    assert names.size == 3 * 3 * 8 == fe.transform([tone()]).shape[1]
    assert names[24 * 2 + 8 + 4] == "mfcc0_d1_c+0_t2"
    assert len(set(names)) == names.size


def test_set_output_pandas():
    fe = SpeechFeatures(sr=SR, n_mels=8, n_frames=4).set_output(transform="pandas")
    df = fe.fit_transform([tone(), chirp()])
    assert df.shape == (2, 32) and df.columns[9] == "logmel1_t1"


# --------------------------------------------------------------------------
# frame-level processing
# --------------------------------------------------------------------------
def test_frames_and_utterance_index():
    ys = [tone(duration=0.3), chirp(), tone(duration=0.01)]
    frames, utt = SpeechFeatures(sr=SR, n_mels=12).transform_frames(ys)
    assert_array_equal(np.bincount(utt), [1 + y.size // HOP for y in ys])
    assert frames.shape == (utt.size, 12) and frames.dtype == np.float32
    assert np.all(np.diff(utt) >= 0)


def test_cmvn():
    ys = [chirp(), tone() * 0.01]
    fe = SpeechFeatures(sr=SR, kind="mfcc", cmvn="meanvar")
    frames, utt = fe.transform_frames(ys)
    for i in range(2):
        assert_allclose(frames[utt == i].mean(0), 0.0, atol=1e-4)
        assert_allclose(frames[utt == i].std(0), 1.0, atol=1e-3)
    # a level change is removed by mean normalisation of log features
    quiet, _ = fe.set_params(cmvn="mean").transform_frames([noise(4000) * 0.1])
    loud, _ = fe.transform_frames([noise(4000)])
    assert_allclose(quiet, loud, atol=1e-3)
    # silence: zero variance is left unscaled, no NaN
    silent, _ = fe.set_params(cmvn="meanvar").transform_frames([np.zeros(800)])
    assert_array_equal(silent, 0.0)


@pytest.mark.parametrize("cmvn", ["mean", "meanvar"])
def test_cmvn_makes_constant_features_exactly_zero(cmvn):
    """A feature constant over an utterance is 0, not its mean's rounding
    error: digital silence, with deltas and context, and the padding."""
    fe = SpeechFeatures(sr=SR, kind="mfcc", cmvn=cmvn, delta_order=2, context=2)
    silent, _ = fe.transform_frames([np.zeros(1200), np.zeros(5, np.int16)])
    assert_array_equal(silent, 0.0)
    # half silence, half tone: nothing is constant, nothing is zeroed
    frames, _ = fe.transform_frames([np.r_[np.zeros(2000), tone(duration=0.25)]])
    assert (frames.std(axis=0) > 0.01).all()
    pad = fe.set_params(output="pad", n_frames=50).transform([tone(duration=0.1)])
    assert_array_equal(pad.reshape(50, -1)[-30:], 0.0)


def test_context_stacking():
    y = chirp()
    base, _ = SpeechFeatures(sr=SR, n_mels=6).transform_frames([y])
    stacked, _ = SpeechFeatures(sr=SR, n_mels=6, context=2).transform_frames([y])
    assert stacked.shape == (base.shape[0], 5 * 6)
    padded = np.pad(base, ((2, 2), (0, 0)), mode="edge")
    for k in range(5):  # block k holds the frame at offset k - 2
        assert_array_equal(stacked[:, 6 * k : 6 * k + 6], padded[k : k + base.shape[0]])


def test_trimming_and_preemphasis():
    y = np.concatenate(
        [np.zeros(4000, np.float32), tone(duration=0.3), np.zeros(4000, np.float32)]
    )
    fe = SpeechFeatures(sr=SR, top_db=30)
    frames, _ = fe.transform_frames([y])
    assert abs(frames.shape[0] - (1 + 2400 // HOP)) <= 4
    # a silent utterance is kept whole, not emptied
    frames, _ = fe.transform_frames([np.zeros(800, np.float32)])
    assert frames.shape[0] == 11
    # pre-emphasis boosts high frequencies relative to low ones
    mix = tone(200.0) + tone(3000.0)
    plain = SpeechFeatures(sr=SR, output="stats", stats=("mean",)).transform([mix])[0]
    emph = SpeechFeatures(sr=SR, output="stats", stats=("mean",), preemphasis=0.97)
    emph = emph.transform([mix])[0]
    assert (emph - plain)[-5:].mean() > (emph - plain)[:5].mean() + 10


def test_defined_behaviour_for_awkward_utterances():
    fe = SpeechFeatures(sr=SR, kind="mfcc", delta_order=2, cmvn="meanvar")
    one_sample = np.array([0.3], dtype=np.float32)
    silent = np.zeros(2000, np.float32)
    clipped = np.clip(tone(amp=3.0), -1, 1)
    long = noise(SR * 60)  # a minute
    Z = fe.transform([one_sample, silent, clipped, long])
    assert Z.shape == (4, 32 * 39) and np.isfinite(Z).all()
    frames, utt = fe.transform_frames([one_sample])
    assert frames.shape[0] == 1


# --------------------------------------------------------------------------
# inputs, errors, parallelism
# --------------------------------------------------------------------------
def test_paths_and_waveforms_mixed_give_the_same_rows(tmp_path):
    y = chirp()
    sf.write(tmp_path / "c.wav", y, SR, subtype="FLOAT")
    fe = SpeechFeatures(sr=SR, kind="mfcc")
    Z = fe.transform([tmp_path / "c.wav", y, str(tmp_path / "c.wav")])
    assert_array_equal(Z[0], Z[1])
    assert_array_equal(Z[0], Z[2])
    assert_array_equal(extract_features(y, sr=SR, kind="mfcc"), Z[0])


def test_bad_row_raises_naming_row_and_path(tmp_path):
    good = tmp_path / "good.wav"
    sf.write(good, tone(), SR)
    bad = tmp_path / "bad.wav"
    bad.write_bytes(good.read_bytes()[:200])
    fe = SpeechFeatures(sr=SR)
    with pytest.raises(AudioReadError, match=r"X\[1\].*bad\.wav.*truncated") as info:
        fe.transform([good, bad, good])
    assert info.value.index == 1
    with pytest.raises(ValueError, match=r"X\[2\]: waveform contains NaN"):
        fe.transform([tone(), tone(), np.array([0.0, np.nan, 0.0])])


def test_n_jobs_gives_identical_output(tmp_path):
    """Several chunks of utterances, run by 1 and by 2 workers."""
    from skvae.features._spectral import _CHUNK_SIZE

    ys = [chirp(duration=0.05 + 0.001 * i) for i in range(2 * _CHUNK_SIZE + 10)]
    sf.write(tmp_path / "bad.wav", np.zeros(0), SR)
    fe = SpeechFeatures(sr=SR, kind="mfcc", delta_order=1)
    Z1 = fe.set_params(n_jobs=1).transform(ys)
    Z2 = fe.set_params(n_jobs=2).transform(ys)
    assert_array_equal(Z1, Z2)
    F1, u1 = fe.set_params(n_jobs=1).transform_frames(ys)
    F2, u2 = fe.set_params(n_jobs=2).transform_frames(ys)
    assert_array_equal(F1, F2)
    assert_array_equal(u1, u2)
    # errors keep their type and message across worker processes
    bad_at = _CHUNK_SIZE + 5  # in the second chunk
    with pytest.raises(AudioReadError, match=rf"X\[{bad_at}\].*bad\.wav"):
        fe.transform(ys[:bad_at] + [tmp_path / "bad.wav"] + ys[:20])


def test_rows_do_not_depend_on_batch_composition():
    ys = [chirp(), tone(), noise(3000)]
    fe = SpeechFeatures(sr=SR)
    Z = fe.transform(ys)
    Z_rev = fe.transform(ys[::-1])[::-1]
    assert_array_equal(Z, Z_rev)
    assert_array_equal(fe.transform(ys[1:2])[0], Z[1])


@pytest.mark.parametrize(
    ("params", "match"),
    [
        ({"kind": "mfcc", "n_mfcc": 50, "n_mels": 40}, "n_mfcc"),
        ({"fmax": 5000.0}, "Nyquist"),
        ({"fmin": 3000.0, "fmax": 2000.0}, "fmin"),
        ({"delta_width": 4}, "odd"),
        ({"output": "stats", "stats": ("mean", "mode")}, "stats"),
        ({"output": "stats", "stats": ()}, "stats"),
    ],
)
def test_inconsistent_parameters(params, match):
    fe = SpeechFeatures(sr=SR, **params)
    with pytest.raises(ValueError, match=match):
        fe.fit([tone()])
    with pytest.raises(ValueError, match=match):
        fe.transform([tone()])


@pytest.mark.parametrize(
    "params",
    [
        {"kind": "spectrogram"},
        {"sr": 0},
        {"n_mels": 0},
        {"delta_order": 3},
        {"cmvn": "var"},
    ],
)
def test_invalid_parameters(params):
    with pytest.raises(InvalidParameterError):
        SpeechFeatures(**params).fit([tone()])


def test_tags_say_stateless_and_path_input():
    tags = SpeechFeatures().__sklearn_tags__()
    assert tags.requires_fit is False
    assert tags.input_tags.string and tags.input_tags.two_d_array
    assert not tags.input_tags.allow_nan
    # no fit needed
    assert SpeechFeatures(sr=SR).transform([tone()]).shape == (1, 32 * 40)


# --------------------------------------------------------------------------
# back to audio
# --------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("kind", "output", "preemphasis"),
    [("logmel", "resample", None), ("logmel", "pad", 0.97), ("mfcc", "resample", None)],
)
def test_inverse_transform_of_a_tone_keeps_its_pitch(kind, output, preemphasis):
    fe = SpeechFeatures(
        sr=SR,
        kind=kind,
        n_mels=80,
        n_mfcc=80,
        output=output,
        n_frames=40,
        preemphasis=preemphasis,
    )
    row = fe.transform([tone(700.0)])
    y = fe.inverse_transform(row)
    assert y.shape == (1, 39 * HOP) and y.dtype == np.float32
    assert abs(dominant_freq(y[0], SR) - 700.0) < 40
    assert 0.1 < np.abs(y).max() < 2.0


def test_inverse_transform_through_a_pipeline(tmp_path):
    from skvae.features import load_audio, write_wav

    pipe = make_pipeline(SpeechFeatures(sr=SR, n_frames=20), StandardScaler())
    Z = pipe.fit_transform([tone(500.0), chirp(), tone(1500.0)])
    y = pipe.inverse_transform(Z)  # e.g. rows decoded by a VAE
    path = write_wav(tmp_path / "gen.wav", y[2], SR, normalize=True)
    back, sr = load_audio(path)
    assert sr == SR and back.size == 19 * HOP
    assert abs(dominant_freq(back, SR) - 1500.0) < 60


def test_inverse_transform_errors():
    with pytest.raises(ValueError, match="delta_order"):
        SpeechFeatures(sr=SR, delta_order=1).inverse_transform(np.zeros((1, 32 * 80)))
    with pytest.raises(ValueError, match="output='resample' or 'pad'"):
        SpeechFeatures(sr=SR, output="stats").inverse_transform(np.zeros((1, 80)))
    with pytest.raises(ValueError, match="expecting 1280 features"):
        SpeechFeatures(sr=SR).inverse_transform(np.zeros((1, 10)))


# --------------------------------------------------------------------------
# import hygiene
# --------------------------------------------------------------------------
def test_front_end_never_imports_torch():
    code = (
        "import sys, numpy as np\n"
        "import skvae.features, skvae.datasets\n"
        "from skvae.features import SpeechFeatures\n"
        "from skvae.datasets import fetch_fsdd, make_spoken_digits, load_audio_folder\n"
        "SpeechFeatures(sr=8000).fit_transform([np.zeros(800)])\n"
        "assert 'torch' not in sys.modules, 'torch was imported'\n"
    )
    subprocess.run([sys.executable, "-c", code], check=True)


def test_worker_module_imports_neither_sklearn_nor_librosa():
    """The parallel workers import only numpy for WAV files: fast start-up."""
    code = (
        "import sys\n"
        "import skvae.features._spectrogram\n"
        "heavy = ('sklearn', 'librosa', 'torch', 'scipy', 'soundfile')\n"
        "bad = [m for m in heavy if m in sys.modules]\n"
        "assert not bad, bad\n"
    )
    subprocess.run([sys.executable, "-c", code], check=True)


def test_long_audio_is_processed_in_blocks(monkeypatch):
    """Bounded memory for long audio: the FFT runs over blocks of frames."""
    from skvae.features import _spectrogram

    ys = [noise(40000), noise(3000, seed=1), noise(500, seed=2), noise(9000, seed=3)]
    fe = SpeechFeatures(sr=SR, kind="mfcc")
    whole, _ = fe.transform_frames(ys)
    monkeypatch.setattr(_spectrogram, "_BLOCK_ELEMENTS", N_FFT * 7)
    monkeypatch.setattr(_spectrogram, "_BATCH_SAMPLES", 5000)
    monkeypatch.setattr(_spectrogram, "_WORKSPACE_MAX_BYTES", 20000)
    blocked, _ = fe.transform_frames(ys)
    # other block sizes are other matrix products, whose rounding some BLAS
    # kernels change (the last bit of a float64): equal up to that
    assert_allclose(whole, blocked, rtol=1e-6, atol=1e-5)


def test_rows_do_not_depend_on_batching_bit_for_bit(monkeypatch):
    """In float64, before the cast to float32 that hides most rounding: an
    utterance's frames are the same alone or batched with others, also for
    a one-frame utterance and one longer than a block, on any BLAS kernel."""
    from skvae.features import _spectrogram

    monkeypatch.setattr(_spectrogram, "_BLOCK_ELEMENTS", N_FFT * 9)
    ys = [noise(40, seed=1), chirp(), noise(3000, seed=2), tone(duration=0.02)]
    for kind in ("logmel", "mfcc"):
        plan = SpeechFeatures(sr=SR, kind=kind)._plan()
        batched, _ = _spectrogram._frames_chunk(ys, 0, plan)
        shuffled, _ = _spectrogram._frames_chunk(ys[::-1] + ys, 0, plan)
        for i, y in enumerate(ys):
            alone = _spectrogram._frames_chunk([y], 0, plan)[0][0]
            assert_array_equal(batched[i], alone)
            assert_array_equal(shuffled[len(ys) - 1 - i], alone)
            assert_array_equal(shuffled[len(ys) + i], alone)


_OTHER_BLAS_KERNEL_SCRIPT = """
import numpy as np
from skvae.features import SpeechFeatures

t = np.arange(800) / 8000
short = (0.5 * np.sin(2 * np.pi * 440 * t)).astype(np.float32)
fe = SpeechFeatures(sr=8000, kind="mfcc", output="pad", n_frames=40, cmvn="mean")
assert not fe.transform([short])[0].reshape(40, 13)[-5:].any(), "pad not 0"
fe.set_params(cmvn="meanvar", delta_order=2, context=1)
silent, _ = fe.transform_frames([np.zeros(800)])
assert not silent.any(), "silence not 0 after CMVN"
"""


@pytest.mark.parametrize("coretype", ["Haswell", "Prescott"])
def test_exact_zeros_with_other_blas_kernels(coretype):
    """What the front end promises bit for bit holds with other OpenBLAS
    kernels than this CPU's (as on an AVX2-only machine): numpy's OpenBLAS
    picks its kernel from OPENBLAS_CORETYPE."""
    import os

    env = dict(os.environ, OPENBLAS_CORETYPE=coretype)
    subprocess.run(
        [sys.executable, "-c", _OTHER_BLAS_KERNEL_SCRIPT], check=True, env=env
    )


def test_dataframe_column_of_waveforms():
    import pandas as pd

    df = pd.DataFrame({"audio": [tone(), chirp()], "label": [0, 1]})
    fe = SpeechFeatures(sr=SR, n_mels=8, n_frames=4)
    expected = fe.transform([tone(), chirp()])
    assert_array_equal(fe.transform(df[["audio"]]), expected)
    assert_array_equal(fe.transform(df["audio"]), expected)


def test_thread_safe_for_threaded_schedulers():
    """Dask's threaded scheduler may call transform from several threads."""
    from concurrent.futures import ThreadPoolExecutor

    ys = [chirp(duration=0.1 + 0.01 * i) for i in range(40)]
    fe = SpeechFeatures(sr=SR, kind="mfcc")
    expected = fe.transform(ys)
    with ThreadPoolExecutor(4) as pool:
        rows = list(pool.map(lambda y: extract_features(y, sr=SR, kind="mfcc"), ys))
        batches = list(pool.map(fe.transform, [ys[:20], ys[20:]] * 4))
    assert_array_equal(np.vstack(rows), expected)
    for k, batch in enumerate(batches):
        assert_array_equal(batch, expected[:20] if k % 2 == 0 else expected[20:])


@pytest.mark.parametrize("seed", range(4))
def test_trim_is_librosas_bit_for_bit(seed):
    """The front end trims silence as librosa.effects.trim does, without it:
    the same cut on signals with silence, fades, float32 and float64, and
    lengths from one sample to several frames."""
    from types import SimpleNamespace

    from skvae.features._spectrogram import _trim

    rng = np.random.default_rng(seed)
    for _ in range(200):
        n = int(rng.integers(1, 6000))
        y = rng.normal(size=n) * np.exp(rng.normal(size=n).cumsum() / 40)
        if rng.random() < 0.4:
            y[: rng.integers(0, n)] = 0.0
        if rng.random() < 0.5:
            y = y.astype(np.float32)
        plan = SimpleNamespace(
            n_fft=int(rng.choice([200, 256, 400])),
            hop_length=int(rng.choice([80, 100, 128])),
            top_db=float(rng.choice([10.5, 30.0, 60.0])),
        )
        ref, _ = librosa.effects.trim(
            y, top_db=plan.top_db, frame_length=plan.n_fft, hop_length=plan.hop_length
        )
        assert_array_equal(_trim(y, plan), ref if ref.size else y)


@pytest.mark.parametrize("orig_sr", [48000, 44100, 22050, 16000, 11025, 4000])
def test_resampling_is_librosas_bit_for_bit(orig_sr):
    """Files at another rate are resampled as librosa.resample(res_type=
    "soxr_hq") does (the same soxr call and length fix), without librosa."""
    from skvae.audio import resample

    rng = np.random.default_rng(orig_sr)
    for n in (1, 2, 5, 99, 1000, 12345):
        y = rng.normal(size=n).astype(np.float32)
        ref = librosa.resample(
            y.astype(np.float64), orig_sr=orig_sr, target_sr=SR, res_type="soxr_hq"
        )
        assert_array_equal(resample(y, orig_sr, SR), ref.astype(np.float32))


def test_fitted_front_end_transforms_without_librosa(tmp_path):
    """A fitted front end, loaded in a fresh process, extracts features
    (resampling, trimming, deltas, level) without importing librosa or
    numba: only fit and inverse_transform use librosa."""
    import pickle

    path = tmp_path / "wide.wav"
    t = np.arange(4800) / 48000
    sf.write(path, (0.3 * np.sin(2 * np.pi * 300 * t)).astype(np.float32), 48000)
    fe = SpeechFeatures(sr=SR, kind="mfcc", delta_order=2, level=-20.0, top_db=40)
    expected = fe.fit([tone()]).transform([path])
    (tmp_path / "fe.pkl").write_bytes(pickle.dumps(fe))
    code = (
        "import pickle, sys\n"
        f"fe = pickle.loads(open({str(tmp_path / 'fe.pkl')!r}, 'rb').read())\n"
        f"X = fe.transform([{str(path)!r}])\n"
        "assert 'librosa' not in sys.modules, 'librosa was imported'\n"
        "assert 'numba' not in sys.modules, 'numba was imported'\n"
        "sys.stdout.buffer.write(X.tobytes())\n"
    )
    out = subprocess.run([sys.executable, "-c", code], check=True, capture_output=True)
    assert_array_equal(np.frombuffer(out.stdout, np.float32), expected.ravel())
