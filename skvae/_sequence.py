"""SequenceVAE: a segment-level factorised VAE over variable-length sequences."""

from numbers import Integral, Real

import numpy as np
import torch
from sklearn.base import (
    ClassNamePrefixFeaturesOutMixin,
    TransformerMixin,
    _fit_context,
)
from sklearn.utils import check_random_state
from sklearn.utils._param_validation import Interval, StrOptions
from sklearn.utils.validation import check_is_fitted

from ._base import BaseVAE
from ._factorized import _GROUP_MEANS_LR_FACTOR, FactorizedVAE
from ._params import vae_parameters
from ._segments import (
    _check_sequences,
    _resample,
    _segment_starts,
    cut_segments,
    pool_segments,
)
from ._sequence_module import SequenceVAEModule
from ._serialize import _damaged, register_saveable
from ._validation import (
    _check_decoded,
    _check_float32_range,
    _check_no_missing,
    _is_constant,
    _mean_std,
    _one_per_row,
    _unique_groups,
)

__all__ = ["SequenceVAE"]

#: posterior draws of score_samples, shared by every segment
_N_SCORE_DRAWS = 8


@register_saveable
@vae_parameters(
    n_components=16,
    n_sequence_components=8,
    segment_length=10,
    segment_shift=5,
    discriminative_weight=10.0,
    sequence_latent_std=0.5,
    label_weight=0.0,
    corruption_std=0.0,
    pooling="resample",
    n_positions=8,
    _exclude=("frame_shape",),
)
class SequenceVAE(ClassNamePrefixFeaturesOutMixin, TransformerMixin, BaseVAE):
    """Segment-level factorised VAE for variable-length sequences (FHVAE).

    A factorized hierarchical VAE [1]_ over sequences of frames (e.g. the
    log-mel frames of utterances, ``SpeechFeatures(output="sequence")``).
    Each sequence is cut into segments of ``segment_length`` frames every
    ``segment_shift`` frames (the last ends at the last frame; a shorter
    sequence is one segment, padded and masked). Per segment::

        mu2 ~ N(0, I)                              one per sequence
        z2 ~ N(mu2, sequence_latent_std^2 I)       the segment's sequence latent
        z1 ~ N(0, I)                               the segment's content latent
        x ~ N(f(z1, z2), diag(sigma^2))            the segment's frames

    with encoders q(z2 | x) and q(z1 | x, z2) (1-D convolutions over the
    segment's frames). Training maximises the ELBO plus
    ``discriminative_weight`` times log p(sequence | z2): what a sequence's
    segments share (voice, channel, level) goes to z2, what changes within
    it (the phones) to z1. A new sequence's mu2 is inferred from its own
    segments, so no speaker label is needed at predict time. With
    ``groups`` (e.g. speakers, routed as metadata) in ``fit``, mu2 is tied
    per group instead of per sequence. With ``label_weight > 0``, labels
    ``y`` of ``fit`` (-1: unlabelled) add ``label_weight`` times log
    q(y | z1) of each segment (a linear softmax), so that z1 keeps what
    tells the labels apart.

    ``transform`` gives one fixed-size row per sequence from its z1
    trajectory (``pooling``), ready for a classifier in a ``Pipeline``;
    :meth:`transform_segments` the trajectory itself, :meth:`sequence_latent`
    the z2 of each sequence. No ``partial_fit``; ``warm_start=True``
    continues on the same training sequences (or groups).

    Parameters
    ----------
    n_components : int, default=16
        Dimension of the content latent z1 of a segment.
    n_sequence_components : int, default=8
        Dimension of the sequence latent z2.
    segment_length, segment_shift : int, default=10, 5
        Frames per segment and between segment starts (at most
        ``segment_length``).
    discriminative_weight : float, default=10.0
        Weight of log p(sequence | z2) (FHVAE's alpha); 0 turns it off.
    sequence_latent_std : float, default=0.5
        Spread of a segment's z2 around its sequence's mu2.
    label_weight : float, default=0.0
        Weight of the label term on z1 when ``fit`` gets ``y``; 0: ``y`` is
        ignored (unsupervised).
    corruption_std : float, default=0.0
        Gaussian noise on the standardised encoder inputs in training.
    pooling : {"resample", "mean", "meanstd"}, default="resample"
        Row of ``transform``: the z1 trajectory linearly resampled to
        ``n_positions`` points (order of events kept, time-major), its mean,
        or its mean and standard deviation.
    n_positions : int, default=8
        Points of ``pooling="resample"``.
    {shared_parameters}

    Attributes
    ----------
    module_ : skvae._sequence_module.SequenceVAEModule
        The fitted torch module (over flattened segments).
    groups_ : ndarray of shape (n_groups,) or None
        The sorted groups of ``fit``; None: mu2 per training sequence.
    classes_ : ndarray of shape (n_classes,) or None
        Labels of the label term; None without it.
    median_length_ : int
        Median frames of the training sequences (``sample``'s length).
    {shared_attributes}

    See Also
    --------
    FactorizedVAE : The same model over fixed-size rows, groups given.
    skvae.features.SpeechFeatures : ``output="sequence"`` gives its input.

    Notes
    -----
    ``n_features_in_`` counts the features of a frame; ``mean_`` and
    ``scale_`` are the per-frame statistics repeated over a segment's frames.
    Cost grows with the frames: every batch holds segments of one size, so
    no sequence is padded to the longest.

    References
    ----------
    .. [1] W.-N. Hsu, Y. Zhang and J. Glass, "Unsupervised Learning of
       Disentangled and Interpretable Representations from Sequential Data",
       NeurIPS 2017.

    Examples
    --------
    >>> import numpy as np
    >>> from skvae import SequenceVAE
    >>> rng = np.random.RandomState(0)
    >>> X = [rng.normal(size=(n, 6)) for n in (12, 30, 7, 21)]
    >>> vae = SequenceVAE(2, n_sequence_components=2, segment_length=4,
    ...                   segment_shift=2, n_positions=3, max_iter=2,
    ...                   random_state=0).fit(X)
    >>> vae.transform(X).shape  # 3 positions x 2 components
    (4, 6)
    >>> [z.shape for z in vae.transform_segments(X)]
    [(5, 2), (14, 2), (3, 2), (10, 2)]
    >>> [x.shape for x in vae.inverse_transform(vae.transform_segments(X))]
    [(12, 6), (30, 6), (8, 6), (22, 6)]
    >>> vae.sequence_latent(X).shape
    (4, 2)
    """

    _module_class = SequenceVAEModule
    _parameter_constraints: dict = {
        **{
            k: v
            for k, v in BaseVAE._parameter_constraints.items()
            if k != "frame_shape"
        },
        "n_sequence_components": [Interval(Integral, 1, None, closed="left")],
        "segment_length": [Interval(Integral, 1, None, closed="left")],
        "segment_shift": [Interval(Integral, 1, None, closed="left")],
        "discriminative_weight": [Interval(Real, 0, None, closed="left")],
        "sequence_latent_std": [Interval(Real, 0, None, closed="neither")],
        "label_weight": [Interval(Real, 0, None, closed="left")],
        "corruption_std": [Interval(Real, 0, None, closed="left")],
        "pooling": [StrOptions({"resample", "mean", "meanstd"})],
        "n_positions": [Interval(Integral, 1, None, closed="left")],
    }
    frame_shape = None  # segments set the network's frame shape

    # the group table, its optimizer and its estimates, as FactorizedVAE's
    _make_optimizer = FactorizedVAE._make_optimizer
    _set_group_means = FactorizedVAE._set_group_means
    _pooled = FactorizedVAE._pooled
    _content = FactorizedVAE._content
    _average_latent = FactorizedVAE._average_latent
    group_latents_ = FactorizedVAE.group_latents_
    group_sizes_ = FactorizedVAE.group_sizes_

    def _optimizer_for_fit(self):
        optimizer = BaseVAE._optimizer_for_fit(self)
        optimizer.param_groups[1]["lr"] = (
            self.learning_rate_init * _GROUP_MEANS_LR_FACTOR
        )
        return optimizer

    def _segments(self, seqs):
        """(segment rows, sequence of each, valid frames of each, counts)."""
        return cut_segments(seqs, self.segment_length, self.segment_shift)

    def _standardization(self, X):
        """Per-frame-feature statistics of the segment frames, tiled."""
        if not self._resolved_standardize():
            return np.zeros(X.shape[1]), np.ones(X.shape[1]), None
        frames = X.reshape(-1, X.shape[1] // self.segment_length)
        mean, scale = _mean_std(frames)
        constant = _is_constant(mean, scale, frames.shape[0])
        scale[constant] = 1
        _check_float32_range(np.r_[mean, scale], "X")
        L = self.segment_length
        return np.tile(mean, L), np.tile(scale, L), np.tile(constant, L)

    def _module_kwargs(self, X):
        return {
            "frame_shape": (self.segment_length, X.shape[1] // self.segment_length),
            "n_group_components": self.n_sequence_components,
            "n_groups": self._n_table,
            "group_latent_std": float(self.sequence_latent_std),
            "n_classes": 0 if self.classes_ is None else len(self.classes_),
        }

    def _architecture_changes(self):
        fitted = self.module_.config()
        wanted = {
            "n_components": self.n_components,
            "hidden_layer_sizes": list(self._hidden_sizes()),
            "activation": self.activation,
            "likelihood": self.likelihood,
            "n_group_components": self.n_sequence_components,
            "group_latent_std": self.sequence_latent_std,
        }
        changed = [k for k, v in wanted.items() if v != fitted[k]]
        if fitted["frame_shape"][0] != self.segment_length:
            changed.append("segment_length")
        return changed

    def _describe_changes(self, names):
        return ", ".join(names)

    @_fit_context(prefer_skip_nested_validation=True)
    def fit(self, X, y=None, *, groups=None):
        """Fit on sequences X (a list of (n_frames_i, n_features) arrays).

        Parameters
        ----------
        X : list of array-like of shape (n_frames_i, n_features)
        y : array-like of shape (n_sequences,), default=None
            Labels for the label term (-1: unlabelled); ignored when
            ``label_weight=0``.
        groups : array-like of shape (n_sequences,), default=None
            Group of each sequence (e.g. its speaker): mu2 is tied per
            group. None: one mu2 per sequence.

        Returns
        -------
        self : SequenceVAE
        """
        if self.likelihood != "gaussian":
            raise ValueError("SequenceVAE supports likelihood='gaussian' only.")
        if self.segment_shift > self.segment_length:
            raise ValueError(
                f"segment_shift={self.segment_shift} must be at most segment_length"
                f"={self.segment_length}, or frames between segments are skipped."
            )
        continuing = self._continues()
        seqs = _check_sequences(X, self.n_features_in_ if continuing else None)
        S, seq, n_valid, counts = self._segments(seqs)
        table, sizes = self._table(groups, counts, continuing)
        labels = self._labels(y, len(seqs), continuing)
        cond = np.c_[table[seq], n_valid, labels[seq]].astype(np.int64)
        if not continuing:
            self.n_features_in_ = seqs[0].shape[1]
        self._n_table = len(sizes)
        weights = float(self.discriminative_weight), float(self.label_weight)

        def before_training(module):
            module.discriminative_weight, module.label_weight = weights

        self._partial = False
        self._fit(
            S,
            continuing=continuing,
            max_epochs=self.max_iter,
            cond=cond,
            corruption_std=float(self.corruption_std),
            before_training=before_training,
            reset_kwargs={"group_sizes": sizes},
        )
        self.n_features_in_ = seqs[0].shape[1]  # _fit saw segment rows
        self._set_group_means(S, cond[:, 0])
        self.median_length_ = int(np.median([len(s) for s in seqs]))
        return self

    def _table(self, groups, counts, continuing):
        """mu2 table index of each sequence and segments per table entry."""
        n = len(counts)
        if groups is not None:
            groups = _one_per_row(groups, n, "groups", f"X has {n} sequences")
            _check_no_missing(groups, "groups")
        if continuing:
            n_table = self.module_.n_groups
            if (groups is None) != (self.groups_ is None) or (
                groups is None and n != n_table
            ):
                raise ValueError(
                    "warm_start=True continues on the same training sequences "
                    f"or groups: the fitted model has {n_table} "
                    f"{'sequences' if self.groups_ is None else 'groups'}; pass "
                    f"{'them' if self.groups_ is None else 'groups='} again."
                )
            index = np.arange(n) if groups is None else self._group_index(groups)
        elif groups is None:
            self.groups_, index, n_table = None, np.arange(n), n
        else:
            self.groups_, index = _unique_groups(groups)[:2]
            n_table = len(self.groups_)
        return index, np.bincount(index, weights=counts, minlength=n_table)

    def _labels(self, y, n, continuing):
        """Class index of each sequence (-1: none) for the label term."""
        if continuing:
            classes = self.classes_
        elif self.label_weight > 0 and y is not None:
            y = _one_per_row(y, n, "y", f"X has {n} sequences")
            known = ~((y == -1) if y.dtype.kind in "iuf" else np.zeros(n, bool))
            classes = np.unique(y[known])
            self.classes_ = classes if len(classes) > 1 else None
        else:
            self.classes_ = None
        if self.classes_ is None or y is None:
            return np.full(n, -1)
        y = np.asarray(y)
        index = np.searchsorted(self.classes_, y)
        index = np.clip(index, 0, len(self.classes_) - 1)
        return np.where(self.classes_[index] == y, index, -1)

    # inference -----------------------------------------------------------------
    def _validated(self, X):
        check_is_fitted(self)
        return _check_sequences(X, self.n_features_in_)

    def _encode(self, X, groups=None):
        """Segments, sequence of each, segment counts, z2 per sequence, z1."""
        seqs = self._validated(X)
        S, seq, n_valid, counts = self._segments(seqs)
        if groups is None:
            index, n_pool = seq, len(seqs)
        else:
            groups = _one_per_row(
                groups, len(seqs), "groups", f"X has {len(seqs)} sequences"
            )
            _check_no_missing(groups, "groups")
            inverse = _unique_groups(groups)[1]
            index, n_pool = inverse[seq], int(inverse.max()) + 1
        z2 = self._pooled(S, index, n_pool)[0][index]
        return S, seq, n_valid, counts, z2

    def transform_segments(self, X, groups=None):
        """The z1 trajectory of each sequence (means of q(z1 | x, z2)).

        Parameters
        ----------
        X : list of array-like of shape (n_frames_i, n_features)
        groups : array-like of shape (n_sequences,), default=None
            Sequences that share a voice (mu2 pooled over them); None: each
            sequence its own.

        Returns
        -------
        codes : list of ndarray of shape (n_segments_i, n_components)
            Segment ``j`` starts at frame ``j * segment_shift`` (the last at
            ``n_frames_i - segment_length``).
        """
        S, seq, _, counts, z2 = self._encode(X, groups)
        Z = self._content(S, z2)
        return np.split(Z, np.cumsum(counts)[:-1])

    def transform(self, X, groups=None):
        """One row per sequence: its z1 trajectory pooled (``pooling``).

        Parameters
        ----------
        X : list of array-like of shape (n_frames_i, n_features)
        groups : array-like of shape (n_sequences,), default=None
            As in :meth:`transform_segments`.

        Returns
        -------
        X_new : ndarray of shape (n_sequences, n_features_out), float32
        """
        S, seq, _, counts, z2 = self._encode(X, groups)
        Z = self._content(S, z2)
        return pool_segments(Z, counts, self.pooling, self.n_positions)

    def fit_transform(self, X, y=None, *, groups=None):
        """``fit(X, y, groups=groups).transform(X)``."""
        return self.fit(X, y, groups=groups).transform(X)

    def sequence_latent(self, X, groups=None):
        """The sequence latent of each sequence: the posterior mean of its mu2
        given its segments (``sum m_j / (N + sequence_latent_std^2)``).

        Returns
        -------
        latents : ndarray of shape (n_sequences, n_sequence_components)
        """
        _, seq, _, counts, z2 = self._encode(X, groups)
        return z2[np.r_[0, np.cumsum(counts)[:-1]]]

    def _latents_for(self, latents, n):
        """Sequence latents to decode with: (n, d2), default the average."""
        d2 = self.module_.n_group_components
        if latents is None:
            return np.repeat(self._average_latent()[None], n, axis=0)
        lat = np.asarray(latents, dtype=np.float64)
        lat = lat[None] if lat.ndim == 1 else lat
        if lat.ndim != 2 or lat.shape[1] != d2 or lat.shape[0] not in (1, n):
            raise ValueError(
                f"sequence latents must have shape ({d2},) or ({n}, {d2}); got "
                f"{np.shape(latents)}."
            )
        _check_float32_range(lat, "sequence latents")
        return np.broadcast_to(lat, (n, d2))

    def _render(self, codes, latents, n_frames):
        """Frames of each sequence from its z1 trajectory (resampled to the
        segments of its ``n_frames``) and its z2: overlap-added decodings."""
        L, shift = self.segment_length, self.segment_shift
        counts = np.array([len(c) for c in codes])
        starts = [_segment_starts(int(n), L, shift) for n in n_frames]
        n_seg = np.array([len(s) for s in starts])
        Z, seq = _resample(np.concatenate(codes).astype(np.float64), counts, n_seg)
        z2 = latents[seq]
        out = np.empty((len(Z), L * self.n_features_in_), dtype=np.float32)
        module = self.module_
        with self._inference_context():
            module.eval()
            for sl in self._chunks(len(Z)):
                zb = torch.from_numpy(Z[sl].astype(np.float32)).to(self.device_)
                cb = torch.from_numpy(z2[sl].astype(np.float32)).to(self.device_)
                out[sl] = module.reconstruct(zb, cb).cpu()
        _check_decoded(out, "inverse_transform")
        segs = out.reshape(len(Z), L, -1).astype(np.float64)
        frames = np.concatenate(starts)[:, None] + np.arange(L)
        offsets = np.r_[0, np.cumsum(n_frames)[:-1]]
        glob = offsets[seq][:, None] + frames
        keep = frames < np.asarray(n_frames)[seq][:, None]
        total = np.zeros((int(np.sum(n_frames)), segs.shape[2]))
        hits = np.zeros(len(total))
        np.add.at(total, glob[keep], segs[keep])
        np.add.at(hits, glob[keep], 1)
        return np.split(total / hits[:, None], offsets[1:])

    def inverse_transform(self, X, *, n_frames=None, sequence_latents=None):
        """Frames of natural length from content codes and a voice.

        Parameters
        ----------
        X : list of array-like of shape (n_segments_i, n_components), or \
ndarray of shape (n_sequences, n_positions * n_components)
            z1 trajectories (:meth:`transform_segments`), or the rows of
            ``transform`` with ``pooling="resample"``.
        n_frames : int or array-like of shape (n_sequences,), default=None
            Frames of each output; the codes are resampled in time to its
            segments. None: ``segment_length + (n_codes - 1) * segment_shift``.
        sequence_latents : array-like of shape (n_sequence_components,) or \
(n_sequences, n_sequence_components), default=None
            The voice (z2, e.g. from :meth:`sequence_latent`); None: the
            average of the training sequences'.

        Returns
        -------
        X_original : list of ndarray of shape (n_frames_i, n_features)
            Overlap-added decoder means (float64), in the units of fit.
        """
        check_is_fitted(self)
        d1 = self.module_.n_content
        if isinstance(X, np.ndarray) and X.ndim == 2 and X.dtype != object:
            if self.pooling != "resample" or X.shape[1] != self.n_positions * d1:
                raise ValueError(
                    f"X has {X.shape[1]} columns; inverse_transform takes z1 "
                    "trajectories, or rows of transform with pooling='resample' "
                    f"({self.n_positions * d1} columns)."
                )
            X = list(X.reshape(len(X), self.n_positions, d1))
        codes = _check_sequences(X, d1, name="X (codes)")
        counts = np.array([len(c) for c in codes])
        if n_frames is None:
            n_frames = self.segment_length + (counts - 1) * self.segment_shift
        n_frames = _one_per_row(n_frames, len(codes), "n_frames", "X has codes")
        if n_frames.dtype.kind not in "iu" or n_frames.min() < 1:
            raise ValueError("n_frames must hold positive integers.")
        return self._render(
            codes, self._latents_for(sequence_latents, len(codes)), n_frames
        )

    def convert(self, X, target=None, *, target_latents=None):
        """Re-render sequences in the voice of others (z2 swapped).

        Parameters
        ----------
        X : list of array-like of shape (n_frames_i, n_features)
        target : list of array-like, default=None
            One sequence (for all) or one per sequence of X whose z2 renders
            X's content; with neither target, X in its own voice.
        target_latents : array-like, default=None
            Sequence latents to render with instead.

        Returns
        -------
        X_new : list of ndarray of shape (n_frames_i, n_features)
        """
        if target is not None and target_latents is not None:
            raise ValueError("Pass at most one of target and target_latents.")
        seqs = self._validated(X)
        codes = self.transform_segments(seqs)
        if target is not None:
            target_latents = self.sequence_latent(target)
        elif target_latents is None:
            target_latents = self.sequence_latent(seqs)
        latents = self._latents_for(target_latents, len(seqs))
        return self._render(codes, latents, np.array([len(s) for s in seqs]))

    def sample(self, n_samples=1, *, n_frames=None, random_state=None):
        """Draw sequences from the prior: mu2 ~ N(0, I) per sequence, z1 ~ N(0, I)
        per segment, decoder means overlap-added.

        Parameters
        ----------
        n_samples : int, default=1
        n_frames : int or array-like of shape (n_samples,), default=None
            Frames of each; None: ``median_length_``.
        random_state : int, RandomState instance or None, default=None

        Returns
        -------
        X : list of ndarray of shape (n_frames_i, n_features)
        """
        check_is_fitted(self)
        if (
            isinstance(n_samples, bool)
            or not isinstance(n_samples, Integral)
            or n_samples < 1
        ):
            raise ValueError(f"n_samples must be a positive int, got {n_samples!r}.")
        rng = check_random_state(random_state)
        n_frames = _one_per_row(
            self.median_length_ if n_frames is None else n_frames,
            n_samples,
            "n_frames",
            f"n_samples={n_samples}",
        )
        L, shift = self.segment_length, self.segment_shift
        counts = [len(_segment_starts(int(n), L, shift)) for n in n_frames]
        d1, d2 = self.module_.n_content, self.module_.n_group_components
        codes = [rng.standard_normal((c, d1)) for c in counts]
        latents = rng.standard_normal((n_samples, d2))
        return self._render(codes, latents, n_frames)

    def score_samples(self, X):
        """Per-sequence ELBO (nats, in the units of X): the segments' bounds
        with z2's prior on the sequence's inferred mu2, plus log p(mu2).

        Returns
        -------
        scores : ndarray of shape (n_sequences,)
            Deterministic, whatever the other sequences of X.
        """
        S, seq, n_valid, counts, z2 = self._encode(X)
        module = self.module_
        d = module.n_components
        gen = torch.Generator().manual_seed(self._score_seed)
        eps = torch.randn(_N_SCORE_DRAWS, d, generator=gen).to(self.device_)
        per_segment = np.empty(len(S))
        with self._inference_context():
            module.eval()
            for sl in self._chunks(len(S)):
                xb = torch.from_numpy(S[sl]).to(self.device_)
                mu2 = torch.from_numpy(z2[sl].astype(np.float32)).to(self.device_)
                nv = torch.from_numpy(n_valid[sl]).to(self.device_)
                draws = [
                    module.segment_elbo(xb, e.expand(len(xb), d), mu2, nv).double()
                    for e in eps
                ]
                per_segment[sl] = torch.stack(draws).mean(0).cpu().numpy()
        log_scale = np.log(self.scale_[: self.n_features_in_])
        per_segment -= n_valid * log_scale.sum()  # density in the units of X
        z2_seq = z2[np.r_[0, np.cumsum(counts)[:-1]]]
        log_p_mu2 = -0.5 * (z2_seq**2 + np.log(2 * np.pi)).sum(1)
        return np.bincount(seq, weights=per_segment) + log_p_mu2

    def score(self, X, y=None):
        """Mean of :meth:`score_samples` over X; ``y`` is ignored."""
        return float(np.mean(self.score_samples(X)))

    # persistence ---------------------------------------------------------------
    def _weights_extra(self):
        groups, classes = self.groups_, self.classes_
        return {
            "groups_": None if groups is None else groups.tolist(),
            "classes_": None if classes is None else classes.tolist(),
            "median_length_": self.median_length_,
        }, {}

    def _restore_fitted(self, fitted, arrays):
        super()._restore_fitted(fitted, arrays)
        for name in ("groups_", "classes_"):
            value = fitted[name]
            setattr(self, name, None if value is None else np.asarray(value))
        self.median_length_ = fitted["median_length_"]

    def _check_restored(self):
        n_frame, module = self.n_features_in_, self.module_
        if module.frame_shape is None or module.frame_shape[1] != n_frame:
            _damaged("the network's frames do not match n_features_in_")
        self.n_features_in_ = module.n_features  # the base checks segment rows
        try:
            super()._check_restored()
        finally:
            self.n_features_in_ = n_frame
        if self.groups_ is not None and self.groups_.shape != (module.n_groups,):
            _damaged(f"groups_ must hold the network's {module.n_groups} groups")
        n_classes = 0 if self.classes_ is None else len(self.classes_)
        if n_classes != module.n_classes:
            _damaged(f"classes_ must hold the network's {module.n_classes} classes")
        if isinstance(self.median_length_, bool) or not isinstance(
            self.median_length_, Integral
        ):
            _damaged("median_length_ is not an integer")

    @property
    def _n_features_out(self):
        d1 = self.module_.n_content
        return {"resample": self.n_positions * d1, "mean": d1, "meanstd": 2 * d1}[
            self.pooling
        ]

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.input_tags.two_d_array = False
        tags.input_tags.three_d_array = True
        tags.input_tags.allow_nan = False
        return tags
