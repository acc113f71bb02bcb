"""One table of bad or unusual inputs and what each must do.

Every row either raises a clear error naming the problem (``raises``), or
has a defined, checked behaviour (``behaves``): nothing is silently dropped
or changed. The number of rows is the count reported for the issue.
"""

import atexit
import functools
import os
import shutil
import struct
import tempfile
import threading
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import scipy.sparse as sp
from conftest import require_optional
from sklearn.exceptions import NotFittedError
from sklearn.utils._param_validation import InvalidParameterError

from skvae import VAEClassifier, VAETransformer

pytestmark = pytest.mark.filterwarnings("ignore::sklearn.exceptions.ConvergenceWarning")

RNG = np.random.RandomState(0)
X = RNG.normal(size=(60, 4))
FAST = dict(n_components=2, hidden_layer_sizes=(8,), max_iter=3, random_state=0)


def _fitted():
    return VAETransformer(**FAST).fit(X)


@dataclass
class Case:
    id: str
    call: Any  # () -> result
    raises: Any = None  # (exception type, regex) or None
    behaves: Any = None  # result -> None, asserting the defined behaviour


def _finite_2d(shape):
    def check(out):
        assert out.shape == shape
        assert np.isfinite(out).all()

    return check


def _constant_column_reconstructed(_):
    Xc = X.copy()
    Xc[:, 1] = 7.5
    # kept, not dropped: unit scale (no division by zero), and reproduced
    # exactly by reconstructions and samples
    est = VAETransformer(**FAST).fit(Xc)
    assert est.scale_[1] == 1.0
    R = est.inverse_transform(est.transform(Xc))
    np.testing.assert_array_equal(R[:, 1], 7.5)
    np.testing.assert_array_equal(est.sample(20, random_state=0)[:, 1], 7.5)
    assert np.ptp(R[:, 0]) > 0  # the other features are still modelled


def _no_feature_names(est):
    # integer column labels are not feature names (sklearn's rule)
    assert not hasattr(est, "feature_names_in_")
    assert est.n_features_in_ == 4


def _pandas():
    return require_optional("pandas")


def _polars():
    return require_optional("polars")


def _codes_of(data, cls=VAETransformer):
    """Outputs of a model fitted on ``data``, and of one fitted on X itself.

    A transformer gives its codes, a classifier (fitted on X[:, 0] > 0) its
    probabilities; the data are X rescaled or shifted, so the two must agree.
    """
    y = X[:, 0] > 0
    if cls is VAETransformer:
        return (
            VAETransformer(**FAST).fit_transform(data),
            VAETransformer(**FAST).fit_transform(X.astype(data.dtype)),
        )
    return (
        cls(**FAST).fit(data, y).predict_proba(data),
        cls(**FAST).fit(X.astype(data.dtype), y).predict_proba(X.astype(data.dtype)),
    )


def _same_codes(pair):
    codes, plain = pair
    assert len(np.unique(codes, axis=0)) == len(codes)  # not one code for all
    np.testing.assert_allclose(codes, plain, atol=1e-5)


def _fitted_classifier():
    return VAEClassifier(**FAST).fit(X, X[:, 0] > 0)


def _loud(est):
    """``est`` with its decoder's last layer amplified 1000 times, so that
    latent codes near the float32 limit overflow it."""
    import torch

    with torch.no_grad():
        est.module_.output.weight.mul_(1000.0)
    return est


def _little_memory(call, available=2**30):
    """``call()`` as if only ``available`` bytes of memory were free."""
    from unittest import mock

    with mock.patch("skvae._base._available_memory", return_value=available):
        return call()


def _cats_and_dogs():
    """String labels with -1 (an int) for the unlabelled rows, in one object
    array, as sklearn's SelfTrainingClassifier takes them."""
    y = np.array(["cat", "dog"] * 30, dtype=object)
    y[::3] = -1
    return VAEClassifier(**FAST).fit(X, y)


def _labelled_cats_and_dogs(clf):
    np.testing.assert_array_equal(clf.classes_, ["cat", "dog"])
    assert clf.n_labelled_ == 40
    assert set(clf.predict(X)) <= {"cat", "dog"}


def _n_components_set_after_fit():
    est = _fitted()
    before = est.transform(X)
    est.set_params(n_components=3)
    return before, est.transform(X), est.get_feature_names_out()


def _fitted_width_kept(result):
    before, after, names = result
    np.testing.assert_array_equal(after, before)  # the fitted network, as fitted
    assert list(names) == ["vaetransformer0", "vaetransformer1"]


def _warm_start_after(**changed):
    """A warm-started refit after ``set_params(**changed)``, and a fresh fit."""
    data = (X > 0).astype(float) if changed.get("likelihood") else X
    est = VAETransformer(**FAST, warm_start=True).fit(data)
    with pytest.warns(UserWarning, match="fitting a new network from scratch"):
        est.set_params(**changed).fit(data)
    return est, VAETransformer(**{**FAST, **changed}).fit(data), data


def _same_as_a_fresh_fit(result):
    est, fresh, data = result
    assert est.module_.config() == fresh.module_.config()
    np.testing.assert_array_equal(est.transform(data), fresh.transform(data))


def _many_threads(n_threads):
    import warnings

    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        est = VAETransformer(**FAST, n_threads=n_threads).fit(X)
        Z = est.transform(X)
    return Z, [str(w.message) for w in caught]


def _capped_at_the_cpus(result):
    from skvae._threads import available_cpus

    Z, messages = result
    assert np.isfinite(Z).all()
    capped = f"n_threads=1000000 is more than the {available_cpus()} CPU(s)"
    assert sum(m.startswith(capped) for m in messages) == 2  # fit and transform


def _reconstructions_shifted_by_1e8():
    est = VAETransformer(**FAST).fit(X + 1e8)
    plain = VAETransformer(**FAST).fit(X)
    return (
        est.inverse_transform(est.transform(X + 1e8)) - 1e8,
        plain.inverse_transform(plain.transform(X)),
    )


ESTIMATOR_CASES = [
    Case(
        "nan",
        lambda: VAETransformer(**FAST).fit(np.where(X > 2, np.nan, X)),
        raises=(ValueError, "Input X contains NaN"),
    ),
    Case(
        "inf",
        lambda: VAETransformer(**FAST).fit(np.where(X > 2, np.inf, X)),
        raises=(ValueError, "Input X contains infinity"),
    ),
    Case(
        "nan-at-transform",
        lambda: _fitted().transform(np.full((2, 4), np.nan)),
        raises=(ValueError, "Input X contains NaN"),
    ),
    Case(
        "nan-latent-at-inverse",
        lambda: _fitted().inverse_transform(np.full((2, 2), np.nan)),
        raises=(ValueError, "Input X contains NaN"),
    ),
    Case(
        "huge-values-1e30",
        lambda: VAETransformer(**FAST).fit_transform(X * 1e30),
        behaves=_finite_2d((60, 2)),
    ),
    Case(
        "beyond-float32-1e39",
        lambda: VAETransformer(**FAST).fit(X * 1e39),
        raises=(ValueError, "too large for float32"),
    ),
    Case(
        "float32-rows-times-1e-7",  # not "constant": standardised like any data
        lambda: _codes_of((X * 1e-7).astype(np.float32)),
        behaves=_same_codes,
    ),
    Case(
        "float64-rows-times-1e-16",
        lambda: _codes_of(X * 1e-16),
        behaves=_same_codes,
    ),
    Case(
        "float64-offset-1e8",  # centred in float64, then cast to float32
        lambda: _codes_of(X + 1e8),
        behaves=_same_codes,
    ),
    Case(
        "float64-offset-1e8-reconstructed",  # back to 1e8 + x in float64
        _reconstructions_shifted_by_1e8,
        behaves=lambda pair: np.testing.assert_allclose(*pair, atol=1e-5),
    ),
    Case(
        "classifier-float64-offset-1e8",
        lambda: _codes_of(X + 1e8, VAEClassifier),
        behaves=_same_codes,
    ),
    Case(
        "variance-overflow",
        lambda: VAETransformer(**FAST).fit(X * 1e300),
        raises=(ValueError, "mean or variance overflows"),
    ),
    Case("constant-column", lambda: None, behaves=_constant_column_reconstructed),
    Case(
        "single-sample",
        lambda: VAETransformer(**FAST).fit_transform(X[:1]),
        behaves=_finite_2d((1, 2)),
    ),
    Case(
        "more-latents-than-features",
        lambda: VAETransformer(**{**FAST, "n_components": 5}).fit(X),
        raises=(ValueError, "n_components=5 must be at most the number of features"),
    ),
    Case(
        "int-array",
        lambda: VAETransformer(**FAST).fit_transform((X * 10).astype(int)),
        behaves=_finite_2d((60, 2)),
    ),
    Case(
        "bool-array",
        lambda: VAETransformer(**FAST).fit_transform(X > 0),
        behaves=_finite_2d((60, 2)),
    ),
    Case(
        "object-numbers",
        lambda: VAETransformer(**FAST).fit_transform(X.astype(object)),
        behaves=_finite_2d((60, 2)),
    ),
    Case(
        "object-strings",
        lambda: VAETransformer(**FAST).fit(
            np.array([["a", "b"], ["c", "d"]], dtype=object)
        ),
        raises=(ValueError, "could not convert string to float"),
    ),
    Case(
        "string-array",
        lambda: VAETransformer(**FAST).fit(np.array([["1.5", "x"]] * 3)),
        raises=(ValueError, "could not convert string to float"),
    ),
    Case(
        "complex-array",
        lambda: VAETransformer(**FAST).fit(X + 1j),
        raises=(ValueError, "Complex data not supported"),
    ),
    Case(
        "sparse-matrix",
        lambda: VAETransformer(**FAST).fit(sp.csr_matrix(X)),
        raises=(TypeError, "Sparse data was passed"),
    ),
    Case(
        "ragged-list",
        lambda: VAETransformer(**FAST).fit([[1.0, 2.0], [3.0]]),
        raises=(ValueError, "inhomogeneous"),
    ),
    Case(
        "3d-array",
        lambda: VAETransformer(**FAST).fit(X.reshape(60, 2, 2)),
        raises=(ValueError, "Found array with dim 3"),
    ),
    Case(
        "1d-array",
        lambda: VAETransformer(**FAST).fit(X[:, 0]),
        raises=(ValueError, "Expected 2D array, got 1D array"),
    ),
    Case(
        "empty-rows",
        lambda: VAETransformer(**FAST).fit(X[:0]),
        raises=(ValueError, "0 sample"),
    ),
    Case(
        "empty-features",
        lambda: VAETransformer(**FAST).fit(X[:, :0]),
        raises=(ValueError, "0 feature"),
    ),
    Case(
        "wrong-n-features",
        lambda: _fitted().transform(X[:, :3]),
        raises=(ValueError, "X has 3 features, but VAETransformer is expecting 4"),
    ),
    Case(
        "wrong-latent-width",
        lambda: _fitted().inverse_transform(np.zeros((3, 3))),
        raises=(ValueError, "latent codes with n_components=2"),
    ),
    Case(
        "partial-fit-new-width",
        lambda: _fitted().partial_fit(X[:, :3]),
        raises=(ValueError, "X has 3 features"),
    ),
    Case(
        "pandas-names-kept",
        lambda: VAETransformer(**FAST).fit(
            _pandas().DataFrame(X, columns=list("abcd"))
        ),
        behaves=lambda est: np.testing.assert_array_equal(
            est.feature_names_in_, list("abcd")
        ),
    ),
    Case(
        "pandas-names-differ",
        lambda: (
            VAETransformer(**FAST)
            .fit(_pandas().DataFrame(X, columns=list("abcd")))
            .transform(_pandas().DataFrame(X, columns=list("abdc")))
        ),
        raises=(ValueError, "feature names should match"),
    ),
    Case(
        "pandas-fit-without-names",
        lambda: VAETransformer(**FAST).fit(_pandas().DataFrame(X)),
        behaves=lambda est: _no_feature_names(est),
    ),
    Case(
        "polars-names-differ",
        lambda: (
            VAETransformer(**FAST)
            .fit(_polars().DataFrame(X, schema=list("abcd")))
            .transform(_polars().DataFrame(X, schema=list("abce")))
        ),
        raises=(ValueError, "feature names should match"),
    ),
    Case(
        "sample-zero",
        lambda: _fitted().sample(0),
        raises=(ValueError, "n_samples must be at least 1, got 0"),
    ),
    Case(
        "sample-negative",
        lambda: _fitted().sample(-1),
        raises=(ValueError, "n_samples must be at least 1, got -1"),
    ),
    Case(
        "sample-float",
        lambda: _fitted().sample(2.5),
        raises=(TypeError, "n_samples must be an int"),
    ),
    Case(
        "invalid-device-string",
        lambda: VAETransformer(device="gpu9").fit(X),
        raises=(ValueError, "device='gpu9' is not a valid torch device"),
    ),
    Case(
        "invalid-device-type",
        lambda: VAETransformer(device=3).fit(X),
        raises=(InvalidParameterError, "'device' parameter"),
    ),
    Case(
        "unfitted-transform",
        lambda: VAETransformer().transform(X),
        raises=(NotFittedError, "not fitted yet"),
    ),
    Case(
        "bernoulli-out-of-range",
        lambda: VAETransformer(**FAST, likelihood="bernoulli").fit(X),
        raises=(ValueError, r"likelihood='bernoulli' needs X in \[0, 1\]"),
    ),
    Case(
        "inference-batch-size-negative-after-fit",  # was uninitialised memory
        lambda: _fitted().set_params(inference_batch_size=-1).transform(X),
        raises=(
            ValueError,
            r"'inference_batch_size' parameter of VAETransformer must be an int "
            r"in the range \[1, inf\)\. Got -1",
        ),
    ),
    Case(
        "inference-batch-size-negative-inverse",  # was NaN
        lambda: (
            _fitted()
            .set_params(inference_batch_size=-1)
            .inverse_transform(np.zeros((3, 2)))
        ),
        raises=(ValueError, "'inference_batch_size' parameter .* Got -1"),
    ),
    Case(
        "inference-batch-size-zero-after-fit",  # was a bare range() error
        lambda: _fitted_classifier().set_params(inference_batch_size=0).predict(X),
        raises=(ValueError, "'inference_batch_size' parameter .* Got 0"),
    ),
    Case(
        "sample-more-than-any-memory",
        lambda: _fitted().sample(10**12),
        raises=(MemoryError, r"sample\(n_samples=1000000000000\) would need about"),
    ),
    Case(
        "classifier-sample-more-than-free-memory",  # was 6 GB, then MemoryError
        lambda: _little_memory(lambda: _fitted_classifier().sample(250_000_000, y=1)),
        raises=(
            MemoryError,
            r"sample\(n_samples=250000000\) would need about 11\.2 GiB "
            r"\(250000000 rows of 4 float64 features\), more than the 1\.0 GiB",
        ),
    ),
    Case(
        "transformer-sample-more-than-free-memory",
        lambda: _little_memory(lambda: _fitted().sample(250_000_000)),
        raises=(MemoryError, "more than the 1.0 GiB of memory available"),
    ),
    Case(
        "string-labels-with-minus-one-unlabelled",
        _cats_and_dogs,
        behaves=_labelled_cats_and_dogs,
    ),
    Case(
        "n-components-set-after-fit",  # was three identical columns
        _n_components_set_after_fit,
        behaves=_fitted_width_kept,
    ),
    Case(
        "warm-start-after-hidden-layer-change",  # kept the old network
        lambda: _warm_start_after(hidden_layer_sizes=(5, 3)),
        behaves=_same_as_a_fresh_fit,
    ),
    Case(
        "warm-start-after-likelihood-change",  # Bernoulli from a Gaussian net
        lambda: _warm_start_after(likelihood="bernoulli"),
        behaves=_same_as_a_fresh_fit,
    ),
    Case(
        "warm-start-after-frame-shape-change",
        lambda: _warm_start_after(frame_shape=(2, 2)),
        behaves=_same_as_a_fresh_fit,
    ),
    Case(
        "partial-fit-after-n-components-change",
        lambda: _fitted().set_params(n_components=1).partial_fit(X),
        raises=(
            ValueError,
            r"partial_fit cannot change the fitted network: n_components=1 "
            r"\(fitted: 2\)",
        ),
    ),
    Case(
        "inverse-transform-beyond-float32",  # was NaN rows
        lambda: _fitted().inverse_transform(np.full((2, 2), 1e39)),
        raises=(ValueError, r"latent codes\) has values too large for float32"),
    ),
    Case(
        "inverse-transform-overflowing-decoder",
        lambda: _loud(_fitted()).inverse_transform(np.full((2, 2), 3e38)),
        raises=(ValueError, "inverse_transform gave non-finite values"),
    ),
    Case(
        "sample-temperature-inf",  # was NaN rows
        lambda: _fitted_classifier().sample(2, temperature=float("inf")),
        raises=(ValueError, "temperature must be a positive finite number, got inf"),
    ),
    Case(
        "sample-temperature-nan",
        lambda: _fitted_classifier().sample(2, temperature=float("nan")),
        raises=(ValueError, "temperature must be a positive finite number, got nan"),
    ),
    Case(
        "sample-temperature-overflowing-decoder",
        lambda: _loud(_fitted_classifier()).sample(2, temperature=1e38),
        raises=(ValueError, "sample gave non-finite values"),
    ),
    Case(
        "groups-with-nan",  # was "not seen in fit: [nan]; known ... nan"
        lambda: VAETransformer(**FAST).fit(
            X, groups=np.r_[np.ones(30), np.full(30, np.nan)]
        ),
        raises=(
            ValueError,
            r"groups contains missing values \(NaN or None\) in 30 row\(s\), "
            "the first at row 30",
        ),
    ),
    Case(
        "groups-with-none",
        lambda: VAETransformer(**FAST).fit(X, groups=np.array(["a", None] * 30)),
        raises=(ValueError, r"groups contains missing values \(NaN or None\)"),
    ),
    Case(
        "groups-nan-at-inference",
        lambda: (
            VAETransformer(**FAST)
            .fit(X, groups=np.arange(60) % 2)
            .inverse_transform(np.zeros((1, 2)), groups=np.nan)
        ),
        raises=(ValueError, "groups contains missing values"),
    ),
    Case(
        "groups-mixing-strings-and-numbers",
        lambda: VAETransformer(**FAST).fit(
            X, groups=np.array(["a", 1] * 30, dtype=object)
        ),
        raises=(ValueError, "groups mixes values that cannot be compared"),
    ),
    Case(
        "n-threads-a-million",  # was SIGSEGV or MemoryError
        lambda: _many_threads(10**6),
        behaves=_capped_at_the_cpus,
    ),
    Case(
        "bad-importance-samples",
        lambda: _fitted().score_samples(X, n_importance_samples=-3),
        raises=(ValueError, "n_importance_samples must be None or a positive int"),
    ),
]


@functools.cache
def _files():
    """Audio files of every kind of trouble, written once to a temp folder."""
    import soundfile as sf

    folder = Path(tempfile.mkdtemp(prefix="skvae-bad-audio-"))
    atexit.register(shutil.rmtree, folder, True)
    t = np.arange(8000) / 8000
    tone = (0.5 * np.sin(2 * np.pi * 300 * t)).astype(np.float32)
    sf.write(folder / "ok.wav", tone, 8000)
    good = (folder / "ok.wav").read_bytes()
    (folder / "empty.wav").write_bytes(b"")
    (folder / "truncated.wav").write_bytes(good[:30])
    (folder / "cut-data.wav").write_bytes(good[: len(good) // 2])
    (folder / "text.wav").write_text("this is not audio\n" * 20)
    sf.write(folder / "zero.wav", np.zeros(0, np.float32), 8000)
    sf.write(folder / "flac-named.wav", tone, 8000, format="FLAC")
    huge = bytearray(good)  # a data chunk that claims ~4 GiB
    i = huge.find(b"data")
    huge[i + 4 : i + 8] = struct.pack("<I", 0xFFFFFFF0)
    (folder / "huge-header.wav").write_bytes(bytes(huge))
    for rate in (1, 0xFFFFFFFF):  # header sample rates that make no sense
        odd = bytearray(good)
        i = odd.find(b"fmt ")
        odd[i + 12 : i + 16] = struct.pack("<I", rate)
        (folder / f"sr-{rate}.wav").write_bytes(bytes(odd))
    if hasattr(os, "mkfifo"):
        os.mkfifo(folder / "fifo.wav")  # no writer: opening it would block
    return {p.stem: str(p) for p in folder.iterdir()} | {
        "missing": str(folder / "missing.wav"),
        "tone": tone,
    }


def _fe():
    from skvae.features import SpeechFeatures

    return SpeechFeatures(sr=8000, n_mels=8, n_frames=4)


def _returns_within(seconds, fn, fifo=None):
    """Call ``fn()``; fail, not hang, if it is still running after ``seconds``."""
    outcome = {}

    def target():
        try:
            outcome["value"] = fn()
        except BaseException as exc:  # handed to the caller
            outcome["error"] = exc

    thread = threading.Thread(target=target, daemon=True)
    thread.start()
    thread.join(seconds)
    if thread.is_alive():
        if fifo is not None:  # release the blocked reader
            os.close(os.open(fifo, os.O_WRONLY | os.O_NONBLOCK))
        raise TimeoutError(f"still running after {seconds} s")
    if "error" in outcome:
        raise outcome["error"]
    return outcome["value"]


def _load_audio(source, **kwargs):
    from skvae.features import load_audio

    return load_audio(source, **kwargs)


def _read_fifo():
    if "fifo" not in _files():
        pytest.skip("no FIFOs on this system")
    fifo = _files()["fifo"]
    return _returns_within(20, lambda: _fe().transform([fifo]), fifo=fifo)


def _read_device(device):
    if not os.path.exists(device):
        pytest.skip(f"no {device} on this system")
    return _returns_within(20, lambda: _fe().transform([device]))


def _one_finite_row(out):
    assert out.shape == (1, 32)
    assert np.isfinite(out).all()


def _audio_error(reason):
    from skvae.features import AudioReadError

    return (AudioReadError, reason)


FRONT_END_CASES = [
    Case(
        "audio-missing-file",
        lambda: _fe().transform([_files()["missing"]]),
        raises=_audio_error(r"missing\.wav': file does not exist"),
    ),
    Case(
        "audio-empty-file",
        lambda: _fe().transform([_files()["empty"]]),
        raises=_audio_error(r"empty\.wav': empty file \(0 bytes\)"),
    ),
    Case(
        "audio-truncated-header",
        lambda: _fe().transform([_files()["truncated"]]),
        raises=_audio_error(r"truncated\.wav': truncated"),
    ),
    Case(
        "audio-truncated-data",
        lambda: _fe().transform([_files()["cut-data"]]),
        raises=_audio_error(r"cut-data\.wav': truncated: the header declares"),
    ),
    Case(
        "audio-zero-length",
        lambda: _fe().transform([_files()["zero"]]),
        raises=_audio_error(r"zero\.wav': the file holds no audio samples"),
    ),
    Case(
        "audio-not-audio",
        lambda: _fe().transform([_files()["text"]]),
        raises=_audio_error(r"text\.wav': not a recognised audio format"),
    ),
    Case(
        "audio-multi-gigabyte-header",
        lambda: _fe().transform([_files()["huge-header"]]),
        raises=_audio_error(r"declares 4294967280 bytes of audio data but only"),
    ),
    Case(
        "audio-fifo-without-writer",  # would block forever in open()
        _read_fifo,
        raises=_audio_error(r"fifo\.wav': not a regular file but a FIFO"),
    ),
    Case(
        "audio-dev-zero",  # would be read until MemoryError
        lambda: _read_device("/dev/zero"),
        raises=_audio_error(r"/dev/zero': not a regular file but a character"),
    ),
    Case(
        "audio-larger-than-max-bytes",
        lambda: _load_audio(_files()["ok"], max_bytes=1000),
        raises=_audio_error(r"ok\.wav': the file has \d+ bytes, more than max_bytes"),
    ),
    Case(
        "audio-header-sample-rate-1",  # would resample into 5 GB at 8 kHz
        lambda: _fe().transform([_files()["sr-1"]]),
        raises=_audio_error(r"sr-1\.wav': implausible sample rate 1 Hz"),
    ),
    Case(
        "audio-header-sample-rate-2**32-1",  # would give one silent sample
        lambda: _fe().transform([_files()["sr-4294967295"]]),
        raises=_audio_error(r"implausible sample rate 4294967295 Hz"),
    ),
    Case(
        "audio-mislabelled-extension",  # the content decides, not the name
        lambda: _fe().transform([_files()["flac-named"]]),
        behaves=_one_finite_row,
    ),
    Case(
        "audio-error-names-row",
        lambda: _fe().transform([_files()["ok"], _files()["text"]]),
        raises=_audio_error(r"^X\[1\]: cannot read audio file"),
    ),
    Case(
        "waveform-nan",
        lambda: _fe().transform([np.array([0.1, np.nan] * 200, np.float32)]),
        raises=(ValueError, r"X\[0\]: waveform contains NaN or infinite values"),
    ),
    Case(
        "waveform-2d-in-list",
        lambda: _fe().transform([np.stack([_files()["tone"]] * 2)]),
        raises=(ValueError, "a waveform must be 1-D"),
    ),
    Case(
        "no-utterances",
        lambda: _fe().transform([]),
        raises=(ValueError, "X holds no utterances"),
    ),
    Case(
        "silent-audio",
        lambda: _fe().transform([np.zeros(4000, np.float32)]),
        behaves=lambda out: np.testing.assert_allclose(out, -100.0),
    ),
    Case(
        "clipped-audio",
        lambda: _fe().transform([np.clip(3 * _files()["tone"], -1, 1)]),
        behaves=_one_finite_row,
    ),
    Case(
        "shorter-than-one-frame",
        lambda: _fe().transform([_files()["tone"][:10]]),
        behaves=_one_finite_row,
    ),
    Case(
        "very-long-utterance",  # two minutes
        lambda: _fe().transform([np.tile(_files()["tone"], 120)]),
        behaves=_one_finite_row,
    ),
    Case(
        "paths-and-arrays-mixed",  # each row read as what it is, order kept
        lambda: (
            _fe().transform([_files()["ok"], _files()["tone"]]),
            _fe().transform([_files()["tone"]]),
        ),
        behaves=lambda r: np.testing.assert_allclose(r[0][1], r[1][0], atol=1e-4),
    ),
]


def _group_scaler():
    from skvae.features import GroupStandardScaler

    return GroupStandardScaler()


def _unit_std(out):
    np.testing.assert_allclose(out.std(axis=0), 1.0, rtol=1e-6)


FRONT_END_CASES += [
    Case(
        "group-scaler-std-1e-20",  # not "constant": scaled like any data
        lambda: _group_scaler().fit_transform(X * 1e-20),
        behaves=_unit_std,
    ),
    Case(
        "group-scaler-float32-rows-times-1e-7",
        lambda: _group_scaler().fit_transform((X * 1e-7).astype(np.float32)),
        behaves=lambda out: np.testing.assert_allclose(out.std(axis=0), 1.0, rtol=1e-4),
    ),
]


def _wideband_after_narrowband():
    """Fitted on an 8 kHz file, given a 48 kHz recording with a 6 kHz tone."""
    import soundfile as sf

    folder = Path(_files()["ok"]).parent
    t = np.arange(48000) / 48000
    fade = np.hanning(t.size)  # no clicks, which spread below 4 kHz
    low = 0.3 * fade * np.sin(2 * np.pi * 300 * t)
    high = 0.3 * fade * np.sin(2 * np.pi * 6000 * t)
    sf.write(folder / "low.wav", low, 48000, subtype="FLOAT")
    sf.write(folder / "wide.wav", low + high, 48000, subtype="FLOAT")
    fe = _fe().set_params(sr=16000).fit([_files()["ok"]])  # 8 kHz
    with pytest.warns(UserWarning, match="2 of 2 .* band-limited to 4000 Hz"):
        return fe.transform([folder / "wide.wav", folder / "low.wav"])


def _band_limited(out):
    # the 6 kHz tone is gone: the same features as the 300 Hz tone alone
    np.testing.assert_allclose(out[0], out[1], atol=0.01)


def _gain_normalised(out):
    np.testing.assert_allclose(
        out[1:], np.broadcast_to(out[0], out[1:].shape), atol=1e-3
    )


FRONT_END_CASES += [
    Case(
        "audio-wider-band-than-training",  # would fill bands never seen
        _wideband_after_narrowband,
        behaves=_band_limited,
    ),
    Case(
        "waveform-gain-with-level",  # the recording level does not matter
        lambda: (
            _fe()
            .set_params(level=-20.0)
            .transform([_files()["tone"] * g for g in (1.0, 0.1, 1e-4, 2.0)])
        ),
        behaves=_gain_normalised,
    ),
]


def _fetch_fsdd_from(files=(), offline=True):
    """fetch_fsdd on a fresh data home holding these recordings, offline."""
    import urllib.error
    from unittest import mock

    from skvae.datasets import _fsdd, fetch_fsdd

    home = Path(tempfile.mkdtemp(prefix="skvae-data-home-"))
    atexit.register(shutil.rmtree, home, True)
    for name in files:
        (home / "fsdd" / "recordings").mkdir(parents=True, exist_ok=True)
        shutil.copy(_files()["ok"], home / "fsdd" / "recordings" / name)
    error = urllib.error.URLError("offline")
    with mock.patch.object(_fsdd, "_download", side_effect=error):
        return fetch_fsdd(home)


DATASET_CASES = [
    Case(
        "fetch-fsdd-offline",  # one sentence, not a urllib traceback
        _fetch_fsdd_from,
        raises=(ConnectionError, r"could not be downloaded .*data_home=.*SKVAE_DATA"),
    ),
    Case(
        "fetch-fsdd-incomplete-copy",  # two recordings are not FSDD
        lambda: _fetch_fsdd_from(["0_george_0.wav", "1_george_0.wav"]),
        raises=(OSError, r"incomplete: it has 2 recordings and lacks 8"),
    ),
]

CASES = ESTIMATOR_CASES + FRONT_END_CASES + DATASET_CASES


def test_table_size():
    """The issue asks for at least 30 distinct cases."""
    assert len({c.id for c in CASES}) == len(CASES) >= 30


@pytest.mark.parametrize("case", CASES, ids=[c.id for c in CASES])
def test_bad_input(case):
    assert (case.raises is None) != (case.behaves is None), "one expectation per row"
    if case.raises is not None:
        exc, match = case.raises
        with pytest.raises(exc, match=match):
            case.call()
    else:
        case.behaves(case.call())
