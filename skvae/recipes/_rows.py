"""Flat log-mel rows from any recogniser front end (for the generator, the
baselines and the report)."""


def is_sequence(features):
    """Whether a front end gives per-utterance frame arrays, not rows.

    Examples
    --------
    >>> from skvae.recipes import is_sequence, make_recognizer
    >>> is_sequence(make_recognizer()["features"])
    True
    >>> is_sequence(make_recognizer(vae="flat")["features"])
    False
    """
    return getattr(features, "output", None) == "sequence"


def as_utterances(F):
    """Front-end output as something ``F[indices]`` indexes: an ndarray of
    rows as is, a list of per-utterance frame arrays as a 1-D object ndarray.

    Examples
    --------
    >>> import numpy as np
    >>> from skvae.recipes import as_utterances
    >>> F = as_utterances([np.zeros((3, 2)), np.zeros((5, 2))])
    >>> F.shape, F[[1]][0].shape
    ((2,), (5, 2))
    """
    import numpy as np

    if isinstance(F, np.ndarray):
        return F
    out = np.empty(len(F), dtype=object)
    for i, frames in enumerate(F):
        out[i] = frames
    return out


def flat_rows(features, F):
    """Fixed-size rows of ``features.n_frames`` frames from a front end's output.

    Rows (``output="resample"``) are returned as they are; per-utterance
    frame arrays (``output="sequence"``) are each linearly resampled in time
    to ``features.n_frames`` frames, the rows ``output="resample"`` gives.

    Parameters
    ----------
    features : SpeechFeatures
        The front end ``F`` came from.
    F : ndarray of shape (n_utterances, n_features) or sequence of ndarray
        ``features.transform`` of some utterances.

    Returns
    -------
    rows : ndarray of shape (n_utterances, n_frames * n_frame_features)

    Examples
    --------
    >>> import numpy as np
    >>> from skvae.recipes import flat_rows, make_recognizer
    >>> fe = make_recognizer(vae="sequence", n_mels=4, n_frames=3)["features"]
    >>> flat_rows(fe, [np.arange(10.0).reshape(5, 2)])
    array([[0., 1., 4., 5., 8., 9.]])
    """
    import numpy as np

    from ..features._spectrogram import _resample_time

    if not is_sequence(features):
        return np.asarray(F)
    rows = [_resample_time(np.asarray(f), features.n_frames).ravel() for f in F]
    if not rows:
        return np.empty((0, 0))
    return np.stack(rows)


def is_plain_logmel(features):
    """Whether a front end's rows are log-mel rows it can turn into audio."""
    return not is_sequence(features) and not getattr(features, "cmvn", None)


def generator_features(features):
    """The front end of the generator: ``features`` giving plain log-mel rows.

    The generator is fitted on, and decodes to, rows of ``features.n_frames``
    log-mel frames without per-utterance normalisation, so that
    ``inverse_transform`` turns them into audio. A front end that gives such
    rows is returned as it is; else a copy with ``output="resample"`` and
    ``cmvn=None``, fitted without audio (enough to turn rows into audio).

    Examples
    --------
    >>> from skvae.recipes import generator_features, make_recognizer
    >>> fe = make_recognizer(vae="sequence", cmvn="mean")["features"]
    >>> gen = generator_features(fe)
    >>> gen.output, gen.cmvn, gen.n_frames
    ('resample', None, 32)
    """
    from sklearn.base import clone

    if is_plain_logmel(features):
        return features
    return clone(features).set_params(output="resample", cmvn=None).fit()


def generator_rows(features, F, audio=None):
    """The rows the generator is fitted on, for utterances whose front-end
    output is ``F``.

    Plain log-mel rows are ``F``; without per-utterance normalisation,
    :func:`flat_rows` of ``F`` (the same rows); with it, the rows of
    :func:`generator_features` (fitted on ``audio``) of ``audio``.

    Parameters
    ----------
    features : SpeechFeatures
        The fitted front end ``F`` came from.
    F : ndarray or sequence of ndarray
        ``features.transform(audio)``.
    audio : sequence or None, default=None
        The utterances (paths or waveforms); needed with ``cmvn``.

    Returns
    -------
    rows : ndarray of shape (n_utterances, n_frames * n_mels)
        ``ValueError`` if the front end normalises and ``audio`` is None.
    """
    if not getattr(features, "cmvn", None):
        return flat_rows(features, F)
    if audio is None:
        raise ValueError(
            f"the front end normalises each utterance (cmvn={features.cmvn!r}), "
            "so the generator needs the training audio to get plain log-mel "
            "rows: pass audio= (or generator=False)"
        )
    plain = generator_features(features).set_params(n_jobs=features.n_jobs)
    return plain.fit(audio).transform(audio)
