"""Log-mel and MFCC features as a scikit-learn transformer."""

import functools
import math
import warnings
from numbers import Integral, Real

import numpy as np
from joblib import Parallel, delayed, effective_n_jobs
from sklearn.base import BaseEstimator, TransformerMixin, _fit_context
from sklearn.utils._param_validation import Interval, StrOptions
from sklearn.utils._set_output import _get_output_config
from sklearn.utils.validation import check_array, check_is_fitted

from ..audio import AudioReadError, check_utterances, get_samplerate
from . import _spectrogram

__all__ = ["SpeechFeatures", "extract_features"]

_CHUNK_SIZE = 256  # utterances per joblib task; fixed, so n_jobs never changes output
_MAX_PEAK = 0.99  # inverse_transform with level: the highest peak it gives


class SpeechFeatures(TransformerMixin, BaseEstimator):
    """Log-mel or MFCC features of utterances, as fixed-size rows or sequences.

    Each utterance (file path or waveform) is loaded as mono at ``sr``,
    levelled, trimmed, pre-emphasised, framed into log-mel dB (or MFCCs),
    extended with deltas, normalised (CMVN), context-stacked and made one
    fixed-size float32 row as ``output`` says (:meth:`transform_frames`: the
    frames). ``fit`` stores the training bandwidth and librosa's window, mel
    filterbank and DCT matrix; ``transform`` is NumPy over them (no librosa,
    no numba). An unfitted ``transform`` computes them and has no band limit.

    Parameters
    ----------
    kind : {"logmel", "mfcc"}, default="logmel"
        Log-mel dB (``10 * log10(max(mel power, 1e-10))``) or their MFCCs
        (orthonormal DCT-II, as ``librosa.feature.mfcc``).
    sr : int, default=16000
        Analysis rate: files are resampled to it, waveforms are at it.
    band_limit : bool, default=True
        Input above ``training_sr_`` is resampled through ``training_sr_``
        (no more bandwidth than in training), with a warning.
    n_fft : int or None, default=None
        FFT size and Hann window length (centred frames); None: the power of
        two at or above 25 ms (512 at 16 kHz).
    hop_length : int or None, default=None
        Samples between frames; None: 10 ms (``sr // 100``).
    n_mels : int, default=40
        Mel bands (Slaney scale and normalisation, as librosa).
    n_mfcc : int, default=13
        MFCCs for ``kind="mfcc"``; at most ``n_mels``.
    fmin : float, default=0.0
        Lowest filterbank frequency in Hz.
    fmax : float or None, default=None
        Highest filterbank frequency; None: ``sr / 2``.
    preemphasis : float or None, default=None
        Coefficient of ``y[n] - coef * y[n-1]``, e.g. 0.97; None or 0: none.
    top_db : float or None, default=None
        Trim ends quieter than ``top_db`` dB below the peak
        (``librosa.effects.trim``); None: none.
    level : float or None, default=None
        Scale each utterance (first) so that the RMS of its active part
        (``hop_length`` blocks within 30 dB of the loudest) is ``level``
        dBFS, e.g. -20.0, making features gain-independent; silence stays
        silent. None: none.
    delta_order : {0, 1, 2}, default=0
        Append deltas up to this order (``librosa.feature.delta``,
        ``mode="nearest"``): ``[static, delta, delta-delta]``.
    delta_width : int, default=9
        Odd number of frames the deltas span.
    cmvn : {"mean", "meanvar"} or None, default=None
        Per-utterance mean (and variance) normalisation of each feature; one
        constant over the utterance (std < 1e-8) becomes 0. None: none.
    context : int, default=0
        Stack each frame with ``context`` frames each side (edges repeated),
        offsets ``-context`` to ``+context`` in order.
    output : {"resample", "pad", "stats", "sequence"}, default="resample"
        Fixed-size row: the frames linearly interpolated to ``n_frames``
        (ends kept), or the first ``n_frames`` padded with silence's
        features, both flattened time-major; or ``stats`` pooled over time.
        "sequence": a list of each utterance's frames, of its own length
        (no pandas output), e.g. for a sequence model.
    n_frames : int, default=32
        Frames per row for "resample" and "pad"; ignored by the others.
    stats : tuple of str, default=("mean", "std")
        Statistics for ``output="stats"`` among "mean", "std", "min", "max",
        "median", concatenated in this order.
    n_jobs : int or None, default=None
        joblib jobs over chunks of 256 utterances, one thread each (BLAS
        too); the output does not depend on it.

    Attributes
    ----------
    n_fft_, hop_length_ : int
        The resolved FFT size and hop length.
    training_sr_ : int or None
        Lowest native rate of the ``fit`` audio (``sr`` for waveforms), at
        most ``sr``; None when ``fit`` got no ``X``.
    window_ : ndarray of shape (n_fft_,)
        Periodic Hann window (``librosa.filters.get_window``).
    mel_basis_ : ndarray of shape (n_mels, 1 + n_fft_ // 2)
        Mel filterbank (``librosa.filters.mel``, float64).
    dct_matrix_ : ndarray of shape (n_mfcc, n_mels) or None
        Orthonormal DCT-II to MFCCs; None for ``kind="logmel"``.

    See Also
    --------
    extract_features : The same features for one utterance, as a function.
    skvae.audio.load_audio : How utterances are read.
    librosa.feature.melspectrogram, librosa.feature.mfcc : The reference.

    Notes
    -----
    An utterance gives ``1 + n_samples // hop_length`` frames; silence gives
    -100 dB. An unreadable file raises :class:`skvae.audio.AudioReadError`
    naming its row, a non-finite waveform ``ValueError``: no row is dropped.

    Examples
    --------
    >>> import numpy as np
    >>> from skvae.features import SpeechFeatures
    >>> sr = 8000
    >>> t = np.arange(sr // 2) / sr
    >>> X = [np.sin(2 * np.pi * 440 * t), np.sin(2 * np.pi * 880 * t[:3000])]
    >>> fe = SpeechFeatures(sr=sr, n_mels=20, n_frames=16)
    >>> Z = fe.fit_transform(X)
    >>> Z.shape, Z.dtype
    ((2, 320), dtype('float32'))
    >>> fe.training_sr_  # waveforms are at sr: the full band was seen
    8000
    >>> fe.get_feature_names_out()[:2]
    array(['logmel0_t0', 'logmel1_t0'], dtype=object)
    >>> frames, utterance = fe.transform_frames(X)
    >>> frames.shape, np.bincount(utterance)
    ((89, 20), array([51, 38]))
    >>> seqs = fe.set_params(output="sequence").transform(X)
    >>> [S.shape for S in seqs]  # one array per utterance, of its length
    [(51, 20), (38, 20)]
    """

    _parameter_constraints: dict = {
        "kind": [StrOptions({"logmel", "mfcc"})],
        "sr": [Interval(Integral, 1, None, closed="left")],
        "band_limit": ["boolean"],
        "n_fft": [Interval(Integral, 2, None, closed="left"), None],
        "hop_length": [Interval(Integral, 1, None, closed="left"), None],
        "n_mels": [Interval(Integral, 1, None, closed="left")],
        "n_mfcc": [Interval(Integral, 1, None, closed="left")],
        "fmin": [Interval(Real, 0, None, closed="left")],
        "fmax": [Interval(Real, 0, None, closed="neither"), None],
        "preemphasis": [Interval(Real, 0, 1, closed="left"), None],
        "top_db": [Interval(Real, 0, None, closed="neither"), None],
        "level": [Interval(Real, -100, 0, closed="both"), None],
        "delta_order": [Interval(Integral, 0, 2, closed="both")],
        "delta_width": [Interval(Integral, 3, None, closed="left")],
        "cmvn": [StrOptions({"mean", "meanvar"}), None],
        "context": [Interval(Integral, 0, None, closed="left")],
        "output": [StrOptions({"resample", "pad", "stats", "sequence"})],
        "n_frames": [Interval(Integral, 1, None, closed="left")],
        "stats": [tuple, list],
        "n_jobs": [Integral, None],
    }

    def __init__(
        self,
        *,
        kind="logmel",
        sr=16000,
        band_limit=True,
        n_fft=None,
        hop_length=None,
        n_mels=40,
        n_mfcc=13,
        fmin=0.0,
        fmax=None,
        preemphasis=None,
        top_db=None,
        level=None,
        delta_order=0,
        delta_width=9,
        cmvn=None,
        context=0,
        output="resample",
        n_frames=32,
        stats=("mean", "std"),
        n_jobs=None,
    ):
        self.kind = kind
        self.sr = sr
        self.band_limit = band_limit
        self.n_fft = n_fft
        self.hop_length = hop_length
        self.n_mels = n_mels
        self.n_mfcc = n_mfcc
        self.fmin = fmin
        self.fmax = fmax
        self.preemphasis = preemphasis
        self.top_db = top_db
        self.level = level
        self.delta_order = delta_order
        self.delta_width = delta_width
        self.cmvn = cmvn
        self.context = context
        self.output = output
        self.n_frames = n_frames
        self.stats = stats
        self.n_jobs = n_jobs

    def _resolved(self):
        """Validate the parameters and return the derived n_fft, hop_length."""
        self._validate_params()
        sr = int(self.sr)
        n_fft = self.n_fft
        if n_fft is None:
            n_fft = 1 << max(1, math.ceil(math.log2(0.025 * sr)))
        hop = self.hop_length if self.hop_length is not None else max(1, sr // 100)
        nyquist = sr / 2
        fmax = nyquist if self.fmax is None else float(self.fmax)
        if fmax > nyquist:
            raise ValueError(
                f"fmax={fmax} is above the Nyquist frequency sr/2={nyquist}"
            )
        if self.fmin >= fmax:
            raise ValueError(f"fmin={self.fmin} must be below fmax={fmax}")
        if self.kind == "mfcc" and self.n_mfcc > self.n_mels:
            raise ValueError(
                f"n_mfcc={self.n_mfcc} must not exceed n_mels={self.n_mels}"
            )
        if self.delta_width % 2 == 0:
            raise ValueError(f"delta_width must be odd; got {self.delta_width}")
        stats = tuple(self.stats)
        if self.output == "stats":
            bad = [s for s in stats if s not in _spectrogram.STATS]
            if bad or not stats or len(set(stats)) != len(stats):
                raise ValueError(
                    f"stats must be distinct names among {_spectrogram.STATS}; "
                    f"got {self.stats!r}"
                )
        return int(n_fft), int(hop), fmax, stats

    def _analysis_arrays(self, n_fft, fmax):
        """The window, mel filterbank and DCT matrix (librosa and scipy)."""
        import librosa
        from scipy.fft import dct

        window = librosa.filters.get_window("hann", n_fft, fftbins=True)
        mel_basis = librosa.filters.mel(
            sr=self.sr,
            n_fft=n_fft,
            n_mels=self.n_mels,
            fmin=self.fmin,
            fmax=fmax,
            dtype=np.float64,
        )
        dct_matrix = None
        if self.kind == "mfcc":
            dct_matrix = dct(np.eye(self.n_mels), type=2, norm="ortho", axis=0)
            dct_matrix = np.ascontiguousarray(dct_matrix[: self.n_mfcc])
        return np.asarray(window, dtype=np.float64), mel_basis, dct_matrix

    def _analysis_key(self, n_fft, fmax):
        """The parameters the analysis arrays are computed from."""
        n_mfcc = self.n_mfcc if self.kind == "mfcc" else None
        return self.sr, n_fft, self.n_mels, self.fmin, fmax, n_mfcc

    def _plan(self):
        n_fft, hop, fmax, stats = self._resolved()
        if hasattr(self, "mel_basis_"):
            arrays = self.window_, self.mel_basis_, self.dct_matrix_
            if self._analysis_key(n_fft, fmax) != self._fitted_key:
                raise ValueError(
                    f"the parameters of this {type(self).__name__} changed after "
                    "fit (sr, n_fft, n_mels, fmin, fmax, kind or n_mfcc): fit it again"
                )
        else:
            arrays = self._analysis_arrays(n_fft, fmax)
        band_sr = getattr(self, "training_sr_", None) if self.band_limit else None
        params = {k: getattr(self, k) for k in _spectrogram.Plan.PARAMS}
        return _spectrogram.Plan(
            *arrays,
            hop_length=hop,
            stats=stats,
            band_sr=band_sr if band_sr is not None and band_sr < self.sr else None,
            **params,
        )

    @_fit_context(prefer_skip_nested_validation=True)
    def fit(self, X=None, y=None):
        """Learn ``training_sr_`` (from file headers) and the analysis arrays."""
        self.n_fft_, self.hop_length_, fmax, _ = self._resolved()
        self.training_sr_ = None
        if X is not None:
            rates = [int(self.sr)]  # waveforms are at sr
            for i, item in enumerate(check_utterances(X)):
                try:
                    rates += [get_samplerate(item)] if isinstance(item, str) else []
                except AudioReadError as exc:
                    raise exc.with_index(i) from exc
            self.training_sr_ = min(rates)
        arrays = self._analysis_arrays(self.n_fft_, fmax)
        self.window_, self.mel_basis_, self.dct_matrix_ = arrays
        self._fitted_key = self._analysis_key(self.n_fft_, fmax)
        return self

    def _run(self, X, chunk_fn, stacklevel):
        sources = check_utterances(X)
        plan = self._plan()
        bounds = range(0, len(sources), _CHUNK_SIZE)
        tasks = [(sources[i : i + _CHUNK_SIZE], i) for i in bounds]
        if len(tasks) == 1 or effective_n_jobs(self.n_jobs) == 1:
            results = [chunk_fn(items, start, plan) for items, start in tasks]
        else:  # the tasks are already chunks: no auto-batching, all queued
            results = Parallel(n_jobs=self.n_jobs, batch_size=1, pre_dispatch="all")(
                delayed(chunk_fn)(items, start, plan) for items, start in tasks
            )
        n_limited = sum(r[-1] for r in results)
        if n_limited:
            warnings.warn(
                f"{n_limited} of {len(sources)} utterances have a higher sample "
                f"rate than {plan.band_sr} Hz, the lowest of the audio "
                f"{type(self).__name__} was fitted on: they were band-limited to "
                f"{plan.band_sr / 2:g} Hz, the bandwidth of the training audio "
                "(band_limit=False analyses them in their full band)",
                UserWarning,
                stacklevel=stacklevel,
            )
        return [r[:-1] for r in results]

    def transform(self, X):
        """Extract one fixed-size row of features per utterance.

        Parameters
        ----------
        X : sequence or array-like
            Utterances, one per row (paths and/or waveforms at ``sr``), as
            :func:`skvae.audio.check_utterances` takes them.

        Returns
        -------
        X_new : ndarray of shape (n_utterances, n_features_out), dtype float32
            For ``output="sequence"``, a list of float32 arrays of shape
            (n_frames_i, n_frame_features): :meth:`transform_frames` split.

        Warns
        -----
        UserWarning
            When utterances were band-limited (see ``band_limit``).
        """
        check_is_fitted(self)
        if self.output != "sequence":
            return np.vstack([r for (r,) in self._run(X, _spectrogram.rows_chunk, 4)])
        container = _get_output_config("transform", self)["dense"]
        if container != "default":
            raise ValueError(
                f"output='sequence' gives arrays of different lengths, not a "
                f"{container} container: use set_output(transform='default')"
            )
        results = self._run(X, _spectrogram.frames_chunk, 4)
        return [S for F, n in results for S in np.split(F, np.cumsum(n)[:-1])]

    def transform_frames(self, X):
        """Extract the frame features of every utterance, for frame-level models.

        Parameters
        ----------
        X : sequence or array-like
            Utterances, one per row, as for :meth:`transform`.

        Returns
        -------
        frames : ndarray of shape (n_frames_total, n_frame_features), float32
            All utterances' frames in order, after deltas, CMVN and context.
        utterance : ndarray of shape (n_frames_total,), dtype intp
            The row of ``X`` of each frame (non-decreasing).
        """
        check_is_fitted(self)
        results = self._run(X, _spectrogram.frames_chunk, 3)
        frames = np.vstack([f for f, _ in results])
        counts = np.concatenate([c for _, c in results])
        return frames, np.repeat(np.arange(counts.size), counts)

    def inverse_transform(self, X, *, n_iter=32, random_state=0, mel_inverse="nnls"):
        """Turn feature rows back into waveforms (mel inverse and Griffin-Lim).

        Uses ``librosa.feature.inverse.mel_to_stft`` (or the mel filter
        bank's pseudo-inverse) and ``librosa.griffinlim``, then undoes
        pre-emphasis. Only for ``output``
        "resample", "pad" or "sequence" without deltas, CMVN or context.

        Parameters
        ----------
        X : array-like of shape (n_rows, n_features_out)
            Rows as returned by :meth:`transform`, or generated like them;
            for "sequence", a list of (n_frames_i, n_mels or n_mfcc) arrays.
        n_iter : int, default=32
            Griffin-Lim iterations.
        random_state : int, RandomState instance or None, default=0
            Seed of Griffin-Lim's random initial phase.
        mel_inverse : {"nnls", "pinv"}, default="nnls"
            From mel power to linear power: non-negative least squares
            (``mel_to_stft``), or the filter bank's pseudo-inverse clipped at
            zero, several times faster. On 300 FSDD files an independent
            recogniser heard both alike (``benchmarks/bench_generative.py``).

        Returns
        -------
        waveforms : ndarray of shape (n_rows, (n_frames - 1) * hop_length)
            float32 at ``sr``; with ``level``, at that level (lower if the
            peak would pass 0.99), so they survive :func:`~skvae.audio.write_wav`.
            For "sequence", a list of ``(n_frames_i - 1) * hop_length`` long.
        """
        check_is_fitted(self)
        n_fft, hop, fmax, _ = self._resolved()
        if self.output == "stats" or self.delta_order or self.cmvn or self.context:
            raise ValueError(
                "inverse_transform needs output='resample' or 'pad' (or "
                "'sequence') and no delta_order, cmvn or context; got "
                f"output={self.output!r}, delta_order={self.delta_order}, "
                f"cmvn={self.cmvn!r}, context={self.context}"
            )
        if mel_inverse not in ("nnls", "pinv"):
            raise ValueError(
                f"mel_inverse must be 'nnls' or 'pinv'; got {mel_inverse!r}"
            )
        n_feat = self.n_mfcc if self.kind == "mfcc" else self.n_mels
        args = n_iter, random_state, n_fft, hop, fmax, mel_inverse
        if self.output == "sequence":
            if not isinstance(X, list | tuple):
                raise TypeError(
                    f"output='sequence': X must be a list of (n_frames, {n_feat}) "
                    f"arrays, one per utterance; got {type(X).__name__}"
                )
            out = []
            for i, S in enumerate(X):
                try:  # 2-D, finite, at least 2 frames
                    S = check_array(S, dtype=np.float64, ensure_min_samples=2)
                except ValueError as exc:
                    raise ValueError(f"X[{i}]: {exc}") from None
                if S.shape[1] != n_feat:
                    raise ValueError(
                        f"X[{i}] has {S.shape[1]} columns, but {type(self).__name__}"
                        f" is expecting {n_feat} ({self.kind} features per frame)"
                    )
                out.append(self._invert_frames(S, *args))
            return out
        X = check_array(X, dtype=[np.float64, np.float32])
        if X.shape[1] != self.n_frames * n_feat:
            raise ValueError(
                f"X has {X.shape[1]} features, but {type(self).__name__} is "
                f"expecting {self.n_frames * n_feat} features as input "
                f"(n_frames={self.n_frames} x {n_feat})"
            )
        if self.n_frames < 2:
            raise ValueError("inverse_transform needs n_frames >= 2")
        out = np.empty((X.shape[0], (self.n_frames - 1) * hop), dtype=np.float32)
        for i, row in enumerate(X.astype(np.float64)):
            out[i] = self._invert_frames(row.reshape(self.n_frames, n_feat), *args)
        return out

    def _invert_frames(self, F, n_iter, random_state, n_fft, hop, fmax, mel_inverse):
        """One utterance's (n_t, n_feat) float64 frames to its float32 waveform."""
        import librosa
        from scipy.signal import lfilter

        S = F.T
        if self.kind == "mfcc":
            M = librosa.feature.inverse.mfcc_to_mel(S, n_mels=self.n_mels)
        else:
            M = librosa.db_to_power(S)
        if mel_inverse == "pinv":
            basis = _mel_pinv(self.sr, n_fft, self.n_mels, self.fmin, fmax)
            mag = np.sqrt(np.maximum(basis @ M, 0.0))
        else:
            mag = librosa.feature.inverse.mel_to_stft(
                M, sr=self.sr, n_fft=n_fft, power=2.0, fmin=self.fmin, fmax=fmax
            )
        y = librosa.griffinlim(
            mag,
            n_iter=n_iter,
            hop_length=hop,
            n_fft=n_fft,
            length=(F.shape[0] - 1) * hop,  # the span of n_t centred frames
            random_state=random_state,
        )
        if self.preemphasis:  # undo y[n] - coef * y[n - 1]
            y = lfilter([1.0], [1.0, -self.preemphasis], y)
        if self.level is not None:
            y = _spectrogram.set_level(y, self.level, hop)
            peak = np.abs(y).max()
            if peak > _MAX_PEAK:  # keep it writable as PCM, unclipped
                y *= _MAX_PEAK / peak
        return y.astype(np.float32)

    def get_frame_feature_names_out(self):
        """Names of the columns of :meth:`transform_frames`, e.g. ``mfcc3_d1_c-1``.

        Returns
        -------
        names : ndarray of str objects
        """
        self._resolved()
        base = "mfcc" if self.kind == "mfcc" else "logmel"
        n = self.n_mfcc if self.kind == "mfcc" else self.n_mels
        names = [f"{base}{i}" for i in range(n)]
        for order in range(1, self.delta_order + 1):
            names += [f"{base}{i}_d{order}" for i in range(n)]
        if self.context:
            c = self.context
            names = [f"{name}_c{k:+d}" for k in range(-c, c + 1) for name in names]
        return np.asarray(names, dtype=object)

    def get_feature_names_out(self, input_features=None):
        """Names of the output features (the columns of :meth:`transform`).

        Parameters
        ----------
        input_features : None
            Ignored: the input are utterances.

        Returns
        -------
        names : ndarray of str objects
            Frame names with ``_t{j}`` (e.g. ``mfcc3_t12``) or ``_{stat}``;
            for "sequence", those of :meth:`get_frame_feature_names_out`.
        """
        _, _, _, stats = self._resolved()
        frame = self.get_frame_feature_names_out()
        if self.output == "sequence":  # the columns of each utterance's array
            return frame
        if self.output == "stats":
            names = [f"{name}_{s}" for s in stats for name in frame]
        else:
            names = [f"{name}_t{j}" for j in range(self.n_frames) for name in frame]
        return np.asarray(names, dtype=object)

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.requires_fit = False
        tags.input_tags.two_d_array = True  # rows of equal-length waveforms
        tags.input_tags.string = True  # file paths
        tags.input_tags.allow_nan = False
        tags.target_tags.required = False
        tags.transformer_tags.preserves_dtype = ["float32"]
        return tags


@functools.lru_cache(maxsize=8)
def _mel_pinv(sr, n_fft, n_mels, fmin, fmax):
    """Pseudo-inverse of librosa's mel filter bank (cached per geometry)."""
    import librosa

    basis = librosa.filters.mel(sr=sr, n_fft=n_fft, n_mels=n_mels, fmin=fmin, fmax=fmax)
    return np.linalg.pinv(basis)


def extract_features(source, **params):
    """``SpeechFeatures(**params).transform([source])[0]``, e.g. for ``dask.bag``.

    Parameters
    ----------
    source : str, os.PathLike or array-like of shape (n_samples,)
        An audio file or a waveform at ``sr``.
    **params
        Parameters of :class:`SpeechFeatures`.

    Returns
    -------
    row : ndarray of shape (n_features_out,), dtype float32
        For ``output="sequence"``, the (n_frames, n_frame_features) frames.

    Examples
    --------
    >>> import numpy as np
    >>> from skvae.features import extract_features
    >>> y = np.random.default_rng(0).standard_normal(4000)
    >>> extract_features(y, sr=8000, kind="mfcc", output="stats").shape
    (26,)
    """
    return SpeechFeatures(**params).transform([source])[0]
