"""Audio reading and writing: formats, bit depths, resampling, broken files."""

import pickle
import struct

import numpy as np
import pytest
import soundfile as sf
from numpy.testing import assert_allclose, assert_array_equal

from skvae.audio import (
    AudioReadError,
    _parse_wav,
    _read_soundfile,
    check_utterances,
    load_audio,
    write_wav,
)

SR = 8000


def tone(freq=440.0, sr=SR, duration=0.25, amp=0.5):
    t = np.arange(int(sr * duration)) / sr
    return (amp * np.sin(2 * np.pi * freq * t)).astype(np.float32)


def dominant_freq(y, sr):
    spec = np.abs(np.fft.rfft(y * np.hanning(y.size)))
    return np.argmax(spec) * sr / y.size


def wav_bytes(data, *, sr=SR, bits=16, channels=1, declared=None, fmt_tag=1):
    """A minimal RIFF/WAVE file; ``declared`` overrides the data chunk size."""
    block = channels * bits // 8
    byte_rate = (sr * block) & 0xFFFFFFFF
    fmt = struct.pack("<HHIIHH", fmt_tag, channels, sr, byte_rate, block, bits)
    size = len(data) if declared is None else declared
    return (
        b"RIFF"
        + struct.pack("<I", 4 + 8 + len(fmt) + 8 + len(data))
        + b"WAVE"
        + b"fmt "
        + struct.pack("<I", len(fmt))
        + fmt
        + b"data"
        + struct.pack("<I", size)
        + data
    )


# --------------------------------------------------------------------------
# formats and bit depths
# --------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("fmt", "subtype", "atol"),
    [
        ("WAV", "PCM_U8", 1 / 128),
        ("WAV", "PCM_16", 1 / 2**15),
        ("WAV", "PCM_24", 1 / 2**23),
        ("WAV", "PCM_32", 1e-7),
        ("WAV", "FLOAT", 0),
        ("WAV", "DOUBLE", 1e-7),
        ("WAVEX", "PCM_16", 1 / 2**15),
        ("WAVEX", "PCM_24", 1 / 2**23),
        ("WAV", "ULAW", 0.02),
        ("WAV", "IMA_ADPCM", 0.05),
        ("FLAC", "PCM_16", 1 / 2**15),
        ("FLAC", "PCM_24", 1 / 2**23),
        ("AIFF", "PCM_16", 1 / 2**15),
    ],
)
def test_read_formats_and_bit_depths(tmp_path, fmt, subtype, atol):
    y = tone()
    path = tmp_path / f"x.{fmt.lower()}"
    sf.write(path, y, SR, format=fmt, subtype=subtype)
    out, sr = load_audio(path)
    assert sr == SR
    assert out.dtype == np.float32 and out.ndim == 1
    # decoded exactly as libsndfile decodes it ...
    ref, _ = sf.read(path, dtype="float32")
    assert_allclose(out, ref[: out.size], atol=1e-7)
    # ... which is the original up to quantisation
    if subtype != "IMA_ADPCM":
        assert out.size == y.size
        assert_allclose(out, y, atol=atol + 1e-7)


def test_read_ogg_vorbis(tmp_path):
    path = tmp_path / "x.ogg"
    sf.write(path, tone(1000.0, duration=0.5), SR, format="OGG", subtype="VORBIS")
    y, sr = load_audio(path)
    assert sr == SR
    assert abs(dominant_freq(y, sr) - 1000.0) < 10


@pytest.mark.parametrize("bits", [8, 16, 24, 32])
def test_fast_wav_reader_matches_libsndfile(tmp_path, bits):
    subtype = {8: "PCM_U8", 16: "PCM_16", 24: "PCM_24", 32: "PCM_32"}[bits]
    rng = np.random.default_rng(bits)
    y = rng.uniform(-1, 1, size=(500, 2))
    path = tmp_path / "x.wav"
    sf.write(path, y, SR, subtype=subtype)
    buf = path.read_bytes()
    fast, sr = _parse_wav(buf, str(path))
    slow, sr2 = _read_soundfile(buf, str(path))
    assert sr == sr2 == SR
    assert_array_equal(fast, slow)


def test_stereo_is_averaged_to_mono(tmp_path):
    left, right = tone(300.0), -0.5 * tone(300.0)
    path = tmp_path / "stereo.wav"
    sf.write(path, np.stack([left, right], axis=1), SR, subtype="FLOAT")
    y, _ = load_audio(path)
    assert_allclose(y, (left + right) / 2, atol=1e-7)


def test_resampling_to_target_rate(tmp_path):
    path = tmp_path / "hi.wav"
    sf.write(path, tone(440.0, sr=44100, duration=0.5), 44100, subtype="PCM_24")
    y, sr = load_audio(path, sr=8000)
    assert sr == 8000
    assert abs(y.size - 4000) <= 1
    assert abs(dominant_freq(y, sr) - 440.0) < 5
    y_native, sr_native = load_audio(path)
    assert sr_native == 44100 and y_native.size == 22050


def test_mislabelled_extension_is_read_by_content(tmp_path):
    path = tmp_path / "really_flac.wav"
    sf.write(path, tone(), SR, format="FLAC")
    y, sr = load_audio(path)
    assert sr == SR and y.size == tone().size


def test_unknown_data_size_reads_to_end_of_file(tmp_path):
    pcm = (tone() * 32767).astype("<i2").tobytes()
    path = tmp_path / "stream.wav"
    path.write_bytes(wav_bytes(pcm, declared=0xFFFFFFFF))
    y, _ = load_audio(path)
    assert y.size == tone().size


# --------------------------------------------------------------------------
# broken files: an error naming the file and the reason, never a silent drop
# --------------------------------------------------------------------------
def _broken(tmp_path, kind):
    path = tmp_path / f"{kind}.wav"
    pcm = (tone() * 32767).astype("<i2").tobytes()
    if kind == "missing":
        pass
    elif kind == "empty":
        path.write_bytes(b"")
    elif kind == "truncated":
        path.write_bytes(wav_bytes(pcm)[: 44 + 100])
    elif kind == "zero_length":
        path.write_bytes(wav_bytes(b""))
    elif kind == "header_only":
        path.write_bytes(wav_bytes(pcm)[:20])
    elif kind == "not_audio":
        path.write_text("this is a text file, not audio\n" * 10)
    elif kind == "huge_header":  # claims 2 GiB of samples, holds 100 bytes
        path.write_bytes(wav_bytes(pcm[:100], declared=2**31))
    elif kind == "nan":
        sf.write(path, np.array([0.1, np.nan, 0.2] * 100), SR, subtype="FLOAT")
    elif kind == "directory":
        path.mkdir()
    elif kind == "truncated_flac":
        path = tmp_path / "truncated.flac"
        sf.write(path, np.random.default_rng(0).uniform(-1, 1, 40000), SR)
        path.write_bytes(path.read_bytes()[:3000])
    return path


@pytest.mark.parametrize(
    ("kind", "reason"),
    [
        ("missing", "does not exist"),
        ("empty", "empty file"),
        ("truncated", "truncated"),
        ("zero_length", "no audio samples"),
        ("header_only", "truncated"),
        ("not_audio", "not a recognised audio format"),
        ("huge_header", "truncated"),
        ("nan", "NaN"),
        ("directory", "directory"),
        ("truncated_flac", "truncated or corrupt"),
    ],
)
def test_broken_files_raise_naming_path_and_reason(tmp_path, kind, reason):
    path = _broken(tmp_path, kind)
    with pytest.raises(AudioReadError, match=reason) as info:
        load_audio(path)
    assert str(path) in str(info.value)
    assert info.value.path == str(path)
    assert isinstance(info.value, ValueError) and isinstance(info.value, OSError)


def _call_with_timeout(fn, fifo=None, timeout=20.0):
    """Run ``fn()`` in a thread; fail (not hang) if it does not return.

    A reader blocked on a FIFO without writer is released by opening the
    FIFO for writing.
    """
    import os
    import threading

    outcome = {}

    def target():
        try:
            outcome["value"] = fn()
        except BaseException as exc:  # handed to the test
            outcome["error"] = exc

    thread = threading.Thread(target=target, daemon=True)
    thread.start()
    thread.join(timeout)
    if thread.is_alive():
        if fifo is not None:
            os.close(os.open(fifo, os.O_WRONLY | os.O_NONBLOCK))
        pytest.fail(f"still blocked after {timeout} s")
    if "error" in outcome:
        raise outcome["error"]
    return outcome["value"]


@pytest.mark.skipif(not hasattr(__import__("os"), "mkfifo"), reason="no FIFOs")
def test_fifo_without_writer_is_refused_at_once(tmp_path):
    import os

    fifo = tmp_path / "pipe.wav"
    os.mkfifo(fifo)
    with pytest.raises(AudioReadError, match=r"pipe\.wav.*not a regular file.*FIFO"):
        _call_with_timeout(lambda: load_audio(fifo), fifo=fifo)


@pytest.mark.parametrize("device", ["/dev/zero", "/dev/urandom", "/dev/null"])
def test_devices_are_refused_without_reading(device):
    import os

    if not os.path.exists(device):
        pytest.skip(f"no {device}")
    with pytest.raises(AudioReadError, match="character device") as info:
        _call_with_timeout(lambda: load_audio(device))
    assert info.value.path == device


def test_size_limits(tmp_path):
    from skvae.audio import MAX_BYTES

    assert MAX_BYTES == 2**30
    path = write_wav(tmp_path / "one_second.wav", tone(duration=1.0), SR)  # 16 kB
    with pytest.raises(AudioReadError, match=r"16044 bytes, more than max_bytes=16000"):
        load_audio(path, max_bytes=16000)
    # 8000 samples are 32 kB as float32
    with pytest.raises(AudioReadError, match="32000 bytes as float32"):
        load_audio(path, max_bytes=20000)
    assert load_audio(path, max_bytes=32000)[0].size == 8000
    # a compressed file is bounded by its decoded size, not its file size
    flac = tmp_path / "quiet.flac"
    sf.write(flac, np.zeros(SR * 60), SR)  # a minute of silence: tiny
    assert flac.stat().st_size < 20000
    with pytest.raises(AudioReadError, match=r"quiet\.flac.*1920000 bytes as float32"):
        load_audio(flac, max_bytes=10**6)
    # resampling is bounded too (soxr computes in float64)
    with pytest.raises(AudioReadError, match="resampling its 8000 samples"):
        load_audio(path, sr=48000, max_bytes=100_000)
    for bad, error in [(0, ValueError), (1.5, TypeError), (True, TypeError)]:
        with pytest.raises(error, match="max_bytes"):
            load_audio(path, max_bytes=bad)


def test_files_larger_than_the_default_limit_are_not_read(tmp_path):
    big = tmp_path / "big.wav"
    with open(big, "wb") as fh:  # sparse: takes no disk space
        fh.write(wav_bytes(b"\0\0" * 100))
        fh.truncate(2**30 + 1)
    with pytest.raises(AudioReadError, match=r"1073741825 bytes, more than max_bytes"):
        load_audio(big)


@pytest.mark.parametrize("rate", [1, 999, 768_001, 2**32 - 1])
def test_implausible_header_sample_rate_is_refused(tmp_path, rate):
    """A corrupt rate would resample 200 bytes into gigabytes (sr=1) or
    into a single sample (sr=2**32 - 1)."""
    from skvae.features import SpeechFeatures

    path = tmp_path / "odd_rate.wav"
    path.write_bytes(wav_bytes((tone() * 32767).astype("<i2").tobytes()[:200], sr=rate))
    match = rf"odd_rate\.wav.*implausible sample rate {rate} Hz"
    with pytest.raises(AudioReadError, match=match):
        load_audio(path)
    with pytest.raises(AudioReadError, match=match):
        SpeechFeatures(sr=8000).transform([path])
    # the same through libsndfile (AIFF)
    aiff = tmp_path / "odd_rate.aiff"
    if rate < 2**31:
        sf.write(aiff, np.zeros(100), rate, format="AIFF")
        with pytest.raises(AudioReadError, match=rf"implausible sample rate {rate}"):
            load_audio(aiff)


@pytest.mark.parametrize("rate", [1000, 768_000])
def test_extreme_plausible_rates_are_read(tmp_path, rate):
    path = tmp_path / "edge.wav"
    sf.write(path, np.zeros(100), rate)
    assert load_audio(path)[1] == rate


def test_audio_read_error_pickles_with_its_attributes():
    err = AudioReadError("/x/y.wav", "truncated", index=3)
    back = pickle.loads(pickle.dumps(err))
    assert (back.path, back.reason, back.index) == ("/x/y.wav", "truncated", 3)
    assert (
        str(back) == str(err) == ("X[3]: cannot read audio file '/x/y.wav': truncated")
    )


# --------------------------------------------------------------------------
# waveforms
# --------------------------------------------------------------------------
def test_waveform_input_needs_sr_and_is_validated():
    y, sr = load_audio([0.0, 0.5, -0.5], sr=SR)
    assert y.dtype == np.float32 and sr == SR
    with pytest.raises(ValueError, match="sr must be given"):
        load_audio(np.zeros(10))
    with pytest.raises(ValueError, match="NaN or infinite"):
        load_audio(np.array([0.0, np.inf]), sr=SR)
    with pytest.raises(ValueError, match="1-D"):
        load_audio(np.zeros((2, 10)), sr=SR)
    with pytest.raises(ValueError, match="empty"):
        load_audio(np.zeros(0), sr=SR)
    with pytest.raises(TypeError, match="real numbers"):
        load_audio(np.zeros(4, dtype=complex), sr=SR)
    with pytest.raises(ValueError, match="positive int"):
        load_audio(np.zeros(4), sr=0)


def test_integer_waveforms_are_scaled_as_pcm():
    y, _ = load_audio(np.array([-32768, 0, 16384], dtype=np.int16), sr=SR)
    assert_allclose(y, [-1.0, 0.0, 0.5])
    y, _ = load_audio(np.array([0, 128, 255], dtype=np.uint8), sr=SR)
    assert_allclose(y, [-1.0, 0.0, 127 / 128])


@pytest.mark.parametrize(
    ("X", "error", "match"),
    [
        ("a.wav", TypeError, "single path"),
        (np.zeros(100), ValueError, "Reshape your data"),
        ([0.1, 0.2], ValueError, "flat sequence of numbers"),
        ([], ValueError, "no utterances"),
        (np.zeros((3, 0)), ValueError, "0 feature"),
        (np.zeros((2, 2, 2)), ValueError, "1-D .* or 2-D"),
        ([np.zeros(10), None], TypeError, r"X\[1\]"),
        ([np.zeros(10), np.array([1.0, np.nan])], ValueError, r"X\[1\].*NaN"),
        ([np.zeros((2, 5))], ValueError, r"X\[0\].*1-D"),
        (np.zeros((2, 3), dtype=complex), ValueError, "Complex"),
    ],
)
def test_bad_containers(X, error, match):
    with pytest.raises(error, match=match):
        check_utterances(X)


def test_containers(tmp_path):
    import pandas as pd

    paths = [str(tmp_path / "a.wav"), tmp_path / "b.wav"]
    out = check_utterances(paths)
    assert out == [str(p) for p in paths]
    assert check_utterances(pd.DataFrame({"path": paths}))[1] == str(paths[1])
    assert check_utterances(pd.Series([str(p) for p in paths])) == out
    rows = check_utterances(np.ones((3, 5)))
    assert len(rows) == 3 and rows[0].shape == (5,)
    mixed = check_utterances([paths[0], np.ones(4)])  # defined: each row by type
    assert mixed[0] == paths[0] and mixed[1].dtype == np.float32


# --------------------------------------------------------------------------
# writing
# --------------------------------------------------------------------------
@pytest.mark.parametrize("subtype", ["PCM_16", "PCM_24", "FLOAT"])
def test_write_wav_round_trip(tmp_path, subtype):
    y = tone()
    path = write_wav(tmp_path / "out.wav", y, SR, subtype=subtype)
    back, sr = load_audio(path)
    assert sr == SR
    assert_allclose(back, y, atol=2**-15)


def test_write_wav_clips_and_normalizes(tmp_path):
    y = np.array([0.0, 2.0, -3.0, 0.5])
    back, _ = load_audio(write_wav(tmp_path / "clip.wav", y, SR))
    assert_allclose(back, [0.0, 1.0, -1.0, 0.5], atol=2**-15)
    back, _ = load_audio(write_wav(tmp_path / "norm.wav", y, SR, normalize=True))
    assert_allclose(np.abs(back).max(), 0.99, atol=1e-4)
    silent, _ = load_audio(
        write_wav(tmp_path / "s.wav", np.zeros(8), SR, normalize=True)
    )
    assert not silent.any()
    with pytest.raises(ValueError, match="NaN"):
        write_wav(tmp_path / "nan.wav", [0.0, np.nan], SR)
    with pytest.raises(ValueError, match="sr"):
        write_wav(tmp_path / "x.wav", y, 0)


def test_reading_a_wav_file_imports_only_numpy(tmp_path):
    """skvae.audio is the one public audio module of features, datasets and
    augment: reading a WAV file (and its rate) needs numpy alone."""
    import subprocess
    import sys

    path = write_wav(tmp_path / "a.wav", tone(), SR)
    code = (
        "import sys\n"
        "from skvae.audio import get_samplerate, load_audio\n"
        f"y, sr = load_audio({path!r})\n"
        f"assert sr == get_samplerate({path!r}) == {SR} and y.size == {SR // 4}\n"
        "heavy = ('torch', 'librosa', 'sklearn', 'soundfile', 'scipy', 'soxr')\n"
        "assert not [m for m in heavy if m in sys.modules], sys.modules.keys()\n"
    )
    subprocess.run([sys.executable, "-c", code], check=True)


def test_features_and_datasets_use_the_public_audio_module():
    import skvae.augment._waveform
    import skvae.datasets
    import skvae.features
    from skvae import audio

    assert skvae.features.load_audio is audio.load_audio
    assert skvae.features.write_wav is audio.write_wav
    assert skvae.features.AudioReadError is audio.AudioReadError
    assert skvae.augment._waveform.resample is audio.resample
