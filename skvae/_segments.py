"""Sequences cut into segments and segment codes pooled: the NumPy part of
:class:`~skvae.SequenceVAE`, shared with its torch-free encoder."""

import numpy as np

__all__ = ["cut_segments", "pool_segments"]


def _check_sequences(X, n_features=None, name="X", owner="SequenceVAE"):
    """X as a list of finite float32 arrays of shape (n_frames_i, n_features)."""
    if isinstance(X, np.ndarray) and X.dtype != object and X.ndim != 3:
        raise ValueError(
            f"{name} must be a list of (n_frames, n_features) arrays, one per "
            f"sequence; got an array of shape {X.shape} (for one sequence, pass [X])."
        )
    if isinstance(X, str | bytes) or not hasattr(X, "__len__"):
        raise TypeError(f"{name} must be a list of 2-D arrays, got {type(X).__name__}.")
    if len(X) == 0:
        raise ValueError(f"{name} holds no sequence.")
    out = []
    for i, seq in enumerate(X):
        a = np.asarray(seq)
        if a.ndim != 2 or a.shape[0] < 1 or a.dtype.kind not in "fiub":
            raise ValueError(
                f"sequence {i} of {name} must be a numeric (n_frames >= 1, "
                f"n_features) array, got shape {a.shape} and dtype {a.dtype}."
            )
        width = out[0].shape[1] if out and n_features is None else n_features
        if width is not None and a.shape[1] != width:
            raise ValueError(
                f"sequence {i} of {name} has {a.shape[1]} features, but "
                f"{owner} is expecting {width} features (as sequence 0"
                f"{' and fit' if n_features is not None else ''})."
            )
        with np.errstate(over="ignore"):
            a = a.astype(np.float32, copy=False)
        if not np.isfinite(a).all():
            raise ValueError(
                f"sequence {i} of {name} contains NaN or infinity (or values too "
                "large for float32)."
            )
        out.append(a)
    return out


def _segment_starts(n_frames, length, shift):
    """First frames of the segments of a sequence: every ``shift`` frames, the
    last one ending at the last frame (one segment when it is short)."""
    if n_frames <= length:
        return np.zeros(1, dtype=np.int64)
    starts = np.arange(-(-(n_frames - length) // shift) + 1, dtype=np.int64) * shift
    starts[-1] = n_frames - length
    return starts


def _resample(Z, counts, n_out):
    """Each run of ``counts`` rows of Z linearly resampled to ``n_out[i]`` rows
    (ends kept); returns the new rows and their run index."""
    offsets = np.r_[0, np.cumsum(counts)[:-1]]
    run = np.repeat(np.arange(len(counts)), n_out)
    first = np.r_[0, np.cumsum(n_out)[:-1]]
    step = np.arange(run.size) - first[run]
    pos = step * ((counts[run] - 1) / np.maximum(n_out[run] - 1, 1))
    i0 = np.floor(pos).astype(np.int64)
    i1 = np.minimum(i0 + 1, counts[run] - 1)
    w = (pos - i0)[:, None]
    return (1 - w) * Z[offsets[run] + i0] + w * Z[offsets[run] + i1], run


def cut_segments(seqs, length, shift):
    """Segments of ``length`` frames of every sequence, flattened time-major.

    Returns ``(rows, seq, n_valid, counts)``: the segment rows (float32), the
    sequence of each, its real frames (a short sequence is padded with its
    last frame) and the segments per sequence.
    """
    lengths = np.array([len(s) for s in seqs])
    starts = [_segment_starts(n, length, shift) for n in lengths]
    counts = np.array([len(s) for s in starts])
    padded = [
        s if len(s) >= length else np.pad(s, ((0, length - len(s)), (0, 0)), "edge")
        for s in seqs
    ]
    offsets = np.r_[0, np.cumsum([len(p) for p in padded])[:-1]]
    seq = np.repeat(np.arange(len(seqs)), counts)
    first = offsets[seq] + np.concatenate(starts)
    frames = np.concatenate(padded)[first[:, None] + np.arange(length)]
    n_valid = np.minimum(lengths[seq], length)
    return frames.reshape(len(first), -1), seq, n_valid, counts


def pool_segments(Z, counts, pooling, n_positions):
    """One float32 row per run of ``counts`` segment codes: the trajectory
    resampled to ``n_positions`` points (time-major), its mean, or its mean
    and standard deviation."""
    Z = np.asarray(Z, dtype=np.float64)
    if pooling == "resample":
        rows, _ = _resample(Z, counts, np.full(len(counts), n_positions))
        return rows.reshape(len(counts), -1).astype(np.float32)
    starts = np.r_[0, np.cumsum(counts)[:-1]]
    mean = np.add.reduceat(Z, starts) / counts[:, None]
    if pooling == "mean":
        return mean.astype(np.float32)
    var = np.add.reduceat(Z**2, starts) / counts[:, None] - mean**2
    return np.c_[mean, np.sqrt(np.maximum(var, 0))].astype(np.float32)
