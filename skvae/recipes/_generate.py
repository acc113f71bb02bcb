"""Generating utterances from a bundle, writing them, and recognising files."""

from pathlib import Path

from ._factories import _on_rows, recognizer_pipeline

_NO_GENERATOR = (
    "'{path}' holds no generator (it was not saved by 'skvae train'), so it "
    "cannot generate"
)


def can_generate(bundle):
    """Whether a saved model can generate utterances.

    Parameters
    ----------
    bundle : dict
        From :func:`load_recognizer`.

    Returns
    -------
    bool
        True for models saved by ``skvae train``; False for a plain
        pipeline.

    Examples
    --------
    >>> from skvae.recipes import can_generate
    >>> can_generate({"pipeline": None, "classes": [0, 1]})
    False
    """
    return "generator" in bundle or "latent_means" in bundle


def _rows_to_audio(features, rows, duration):
    """Log-mel rows -> waveforms lasting about ``duration`` seconds."""
    import numpy as np
    from sklearn.base import clone

    fe = features
    n_frames, n_mels = fe.n_frames, fe.n_mels
    hop = fe.hop_length_
    target = n_frames
    if np.isfinite(duration) and duration > 0:
        target = max(2, int(round(duration * fe.sr / hop)) + 1)
    if target != n_frames:
        old = np.linspace(0.0, 1.0, n_frames)
        new = np.linspace(0.0, 1.0, target)
        stretched = np.empty((len(rows), target * n_mels))
        for i, row in enumerate(rows):
            R = np.asarray(row, dtype=float).reshape(n_frames, n_mels)
            S = np.stack([np.interp(new, old, R[:, m]) for m in range(n_mels)], 1)
            stretched[i] = S.ravel()
        rows = stretched
        fe = clone(fe).set_params(n_frames=target, n_jobs=None).fit()
    return fe.inverse_transform(rows)


def generate_utterances(bundle, label, n, *, random_state=None, temperature=1.0):
    """Generate ``n`` new utterances of ``label`` with a saved model.

    The model's conditional VAE draws latent codes from the label's prior
    and decodes them with the label to log-mel rows (their means); rows are
    stretched to the label's median training duration and turned into audio
    by Griffin-Lim. Models without a conditional VAE draw codes from the
    Gaussian fitted to the label's training codes instead.

    Parameters
    ----------
    bundle : dict
        From :func:`load_recognizer` or :func:`recognizer_bundle`.
    label : object
        One of ``bundle["classes"]``.
    n : int
        Utterances to generate.
    random_state : int, numpy.random.Generator or None, default=None
        Seeds the draws; a Generator is used (and advanced) as is, so
        successive calls sharing one give different utterances.
    temperature : float, default=1.0
        Scale of the latent spread: <1 typical, >1 varied.

    Returns
    -------
    rows : ndarray of shape (n, n_features)
        The generated log-mel rows.
    waves : sequence of n ndarrays
        The waveforms, at the front end's ``sr``.

    Raises
    ------
    ValueError
        ``label`` is not a label of the model, or the model cannot generate
        (:func:`can_generate`).

    Examples
    --------
    >>> from skvae.recipes import generate_utterances, load_recognizer
    >>> bundle = load_recognizer("skvae-run")  # doctest: +SKIP
    >>> rows, waves = generate_utterances(bundle, 3, 2)  # doctest: +SKIP
    """
    import numpy as np

    if not can_generate(bundle):
        raise ValueError(_NO_GENERATOR.format(path=bundle.get("path", "")))
    classes = list(bundle["classes"])
    if label not in classes:
        raise ValueError(f"{label!r} is not a label of this model (labels: {classes})")
    rng = (
        random_state
        if isinstance(random_state, np.random.Generator)
        else np.random.default_rng(random_state)
    )
    k = classes.index(label)
    pipe = recognizer_pipeline(bundle["pipeline"])
    generator = bundle.get("generator")
    if generator is not None:
        rows, _ = generator.sample(
            n,
            y=np.full(n, label, dtype=np.asarray(generator.classes_).dtype),
            random_state=int(rng.integers(2**31 - 1)),
            observation_noise=False,
            temperature=temperature,
        )
    else:
        mean, cov = bundle["latent_means"][k], bundle["latent_covs"][k]
        L = np.linalg.cholesky(cov)
        Z = mean + temperature * rng.standard_normal((n, mean.size)) @ L.T
        rows = pipe.named_steps["vae"].inverse_transform(Z)
    waves = _rows_to_audio(pipe.named_steps["features"], rows, bundle["durations"][k])
    return rows, waves


def write_utterances(waves, folder, label, sr, *, start=0):
    """Write generated utterances as WAV files named ``LABEL_skvae_I.wav``.

    Each is peak-normalised (:func:`skvae.features.write_wav` with
    ``normalize=True``) and written as 16-bit PCM: what ``skvae sample`` and
    the report write, and what the generation check reads back to count the
    utterances the recogniser recognises (so that the count is that of the
    files, not of the waveforms in memory).

    Parameters
    ----------
    waves : sequence of 1-D arrays
        Waveforms at ``sr`` (:func:`generate_utterances`).
    folder : str or os.PathLike
        An existing folder.
    label : object
        Their label; its ``str`` starts the file names, so that
        :func:`skvae.datasets.load_audio_folder` reads it back.
    sr : int
        Sample rate.
    start : int, default=0
        Number of the first file.

    Returns
    -------
    paths : list of str
        The files written, in the order of ``waves``.

    Examples
    --------
    >>> import tempfile
    >>> import numpy as np
    >>> from skvae.recipes import write_utterances
    >>> waves = [np.sin(np.arange(800) / 4.0).astype(np.float32)] * 2
    >>> with tempfile.TemporaryDirectory() as tmp:
    ...     paths = write_utterances(waves, tmp, 3, 8000)
    ...     [p.rsplit("/", 1)[-1] for p in paths]
    ['3_skvae_0.wav', '3_skvae_1.wav']
    """
    from ..features import write_wav

    folder = Path(folder)
    return [
        write_wav(folder / f"{label}_skvae_{start + i}.wav", w, sr, normalize=True)
        for i, w in enumerate(waves)
    ]


# --------------------------------------------------------------------------
# recognising files
# --------------------------------------------------------------------------
def _unnamable(path):
    """Why ``path`` cannot name a file at all, or None: a path with a NUL
    byte (possible in a line of ``skvae predict MODEL -``) makes the
    operating system's calls raise ValueError, not a reading error."""
    return "the path contains a NUL byte" if "\x00" in path else None


def recognize_files(pipeline, paths, *, expand_folders=True):
    """Labels and class probabilities of audio files, past unreadable ones.

    Parameters
    ----------
    pipeline : fitted classifier
        A recogniser (``bundle["pipeline"]``) whose first step, named
        ``"features"``, reads audio, with or without reject option; or any
        classifier taking paths.
    paths : sequence of str or os.PathLike
        Audio files (any sample rate) or folders (searched for audio files).
    expand_folders : bool, default=True
        Search folders for audio files; False reports a folder as a file
        that cannot be read (one answer per path, as ``skvae predict MODEL
        -`` gives).

    Returns
    -------
    result : Bunch
        ``files`` (list of the paths read, folders expanded), ``labels``
        (ndarray of shape (len(files),): the predicted labels, the reject
        label where a reject option rejects), ``proba`` (ndarray of shape
        (len(files), n_classes): probabilities among the known labels),
        ``classes``, ``scores`` (the in-vocabulary scores of a reject
        option, else None), ``threshold`` and ``reject_label`` (of the
        reject option, else None), ``errors`` (list of ``(path, reason)``
        of the files that could not be read) and ``order`` (one ``(read,
        i)`` per file, in the order read: ``files[i]`` where ``read``, else
        ``errors[i]``).

    Examples
    --------
    >>> from skvae.recipes import load_recognizer, recognize_files
    >>> pipe = load_recognizer("skvae-run")["pipeline"]  # doctest: +SKIP
    >>> res = recognize_files(pipe, ["a.wav", "recordings/"])  # doctest: +SKIP
    >>> res.classes[res.proba.argmax(axis=1)]  # doctest: +SKIP
    """
    import numpy as np
    from sklearn.utils import Bunch

    from ..features import AudioReadError

    files = []
    for item in paths:
        p = Path(item)
        try:
            is_dir = p.is_dir()
        except (OSError, ValueError):  # a name too long, a NUL byte, ...
            is_dir = False  # reported as unreadable below
        if is_dir and expand_folders:
            from ..datasets import load_audio_folder  # the downloaders: lazily

            try:
                files.extend(load_audio_folder(p, label_from=None).filenames)
            except ValueError:
                files.append(str(p))  # reported as unreadable
        else:
            files.append(str(p))
    from .. import RejectOptionClassifier

    inner = recognizer_pipeline(pipeline)
    features = getattr(inner, "named_steps", {}).get("features")
    rows, ok, errors, order = [], [], [], []
    named = [_unnamable(path) is None for path in files]
    if features is not None and files and all(named):
        try:  # all at once (the common case), else file by file below
            rows = list(features.transform(files))
            ok, order = list(files), [(True, i) for i in range(len(files))]
        except AudioReadError:
            rows = []
    if not ok:
        for path in files:
            try:
                reason = _unnamable(path)
                if reason is not None:
                    raise AudioReadError(path, reason)
                row = path if features is None else features.transform([path])[0]
                rows.append(row)
                order.append((True, len(ok)))
                ok.append(path)
            except AudioReadError as exc:
                order.append((False, len(errors)))
                errors.append((exc.path, exc.reason))
    classes = pipeline.classes_
    reject = isinstance(pipeline, RejectOptionClassifier)
    model = pipeline if features is None else _on_rows(pipeline)
    X = rows if features is None or not ok else np.vstack(rows)
    proba = np.empty((0, len(classes)))
    labels = np.empty(0, dtype=np.asarray(classes).dtype)
    scores = np.empty(0) if reject else None
    if ok:
        proba = model.predict_proba(X)
        labels = model.predict(X)
        if reject:
            scores = model.score_samples(X)
    return Bunch(
        files=ok,
        labels=labels,
        proba=proba,
        classes=classes,
        scores=scores,
        threshold=pipeline.threshold_ if reject else None,
        reject_label=pipeline.reject_label_ if reject else None,
        errors=errors,
        order=order,
    )
