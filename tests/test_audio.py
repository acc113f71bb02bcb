"""Audio reading and writing: formats, bit depths, resampling, broken files."""

import pickle
import struct

import numpy as np
import pytest
import soundfile as sf
from numpy.testing import assert_allclose, assert_array_equal

from skvae.features import AudioReadError, load_audio, write_wav
from skvae.features._audio import _check_sources, _parse_wav, _read_soundfile

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
    fmt = struct.pack("<HHIIHH", fmt_tag, channels, sr, sr * block, block, bits)
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
        _check_sources(X)


def test_containers(tmp_path):
    import pandas as pd

    paths = [str(tmp_path / "a.wav"), tmp_path / "b.wav"]
    out = _check_sources(paths)
    assert out == [str(p) for p in paths]
    assert _check_sources(pd.DataFrame({"path": paths}))[1] == str(paths[1])
    assert _check_sources(pd.Series([str(p) for p in paths])) == out
    rows = _check_sources(np.ones((3, 5)))
    assert len(rows) == 3 and rows[0].shape == (5,)
    mixed = _check_sources([paths[0], np.ones(4)])  # defined: each row by type
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
