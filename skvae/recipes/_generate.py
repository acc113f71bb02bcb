"""Generating utterances with a saved model, writing them, recognising files."""

from pathlib import Path

from ._rows import as_utterances, generator_features, is_sequence

_NO_GENERATOR = (
    "'{path}' holds no generator (it was not saved by 'skvae train'), so it "
    "cannot generate"
)


#: how generated and resynthesised log-mel frames become power spectra: the
#: pseudo-inverse, which the independent judge heard as well as NNLS on 300
#: validation files, at about half the time (benchmarks/bench_generative.py)
MEL_INVERSE = "pinv"
#: the most :func:`match_variance` multiplies a band's deviations by
MAX_VARIANCE_GAIN = 4.0
#: the default spread of the generator's latent draws, chosen with the
#: independent judge on validation files (benchmarks/bench_generative.py)
GENERATION_TEMPERATURE = 0.5


def resynthesize(bundle, X):
    """Copy synthesis: utterances through the generator's log-mel front end
    and back to audio, each at its own length.

    What the generator's features and their inversion keep of real speech
    (the ceiling of generation): the plain log-mel frames of
    :func:`generator_features`, at their natural length rather than
    resampled to ``n_frames``, turned back into audio as generated rows are.

    Parameters
    ----------
    bundle : dict
        From :func:`load_recognizer` or :func:`recognizer_bundle`.
    X : sequence of str, os.PathLike or 1-D array-like
        Audio files, or waveforms at the front end's ``sr``.

    Returns
    -------
    waves : list of ndarray
        float32 waveforms at the front end's ``sr``.

    Examples
    --------
    >>> import numpy as np
    >>> from skvae.recipes import make_recognizer, resynthesize
    >>> rec = make_recognizer(augment=None)
    >>> rec["features"].fit()  # doctest: +ELLIPSIS
    SpeechFeatures(...)
    >>> t = np.arange(4000) / 8000
    >>> wave = np.sin(2 * np.pi * 440 * t) * np.hanning(4000)
    >>> [len(w) for w in resynthesize({"recognizer": rec}, [wave])]  # trimmed
    [3600]
    """
    from sklearn.base import clone

    plain = generator_features(bundle["recognizer"]["features"])
    natural = clone(plain).set_params(output="sequence", n_jobs=None).fit()
    return natural.inverse_transform(
        list(natural.transform(X)), mel_inverse=MEL_INVERSE
    )


def can_generate(bundle):
    """Whether a bundle (:func:`load_recognizer`) holds a generator.

    Examples
    --------
    >>> from skvae.recipes import can_generate
    >>> can_generate({"recognizer": None})
    False
    """
    return bundle.get("generator") is not None


def _rows_to_audio(features, rows, duration):
    """Log-mel rows -> waveforms lasting about ``duration`` seconds (the rows'
    frames stretched to it, then the mel pseudo-inverse and Griffin-Lim)."""
    import numpy as np
    from scipy.interpolate import make_interp_spline
    from sklearn.base import clone

    fe, n_frames = features, features.n_frames
    target = n_frames
    if np.isfinite(duration) and duration > 0:
        target = max(2, int(round(duration * fe.sr / fe.hop_length_)) + 1)
    if target != n_frames:  # each mel band interpolated linearly in time
        R = np.asarray(rows, dtype=float).reshape(len(rows), n_frames, fe.n_mels)
        line = make_interp_spline(np.arange(n_frames), R, k=1, axis=1)
        rows = line(np.linspace(0.0, n_frames - 1, target)).reshape(len(rows), -1)
        fe = clone(fe).set_params(n_frames=target, n_jobs=None).fit()
    return fe.inverse_transform(rows, mel_inverse=MEL_INVERSE)


def match_variance(rows, target, n_mels, *, max_gain=MAX_VARIANCE_GAIN):
    """Global variance compensation: stretch each mel band of each row about
    its mean over time, so that its variance over time is ``target``'s.

    A decoder mean is an average, smoother in time than any real utterance;
    statistical parametric speech synthesis restores the lost contrast this
    way (Toda and Tokuda, "A speech parameter generation algorithm
    considering global variance for HMM-based speech synthesis", 2007).

    Parameters
    ----------
    rows : ndarray of shape (n_rows, n_frames * n_mels)
        Log-mel rows.
    target : array-like of shape (n_mels,)
        The variance over time each band should have.
    n_mels : int
    max_gain : float, default=MAX_VARIANCE_GAIN
        The most a band's deviations are multiplied by (a flat band is not
        blown up).

    Returns
    -------
    rows : ndarray of shape (n_rows, n_frames * n_mels)

    Examples
    --------
    >>> import numpy as np
    >>> from skvae.recipes import match_variance
    >>> rows = np.array([[1.0, 0.0, 3.0, 0.0]])  # 2 frames x 2 bands
    >>> match_variance(rows, [4.0, 0.0], n_mels=2)
    array([[0., 0., 4., 0.]])
    """
    import numpy as np

    R = np.asarray(rows, dtype=np.float64)
    R = R.reshape(len(R), -1, n_mels)
    mean = R.mean(axis=1, keepdims=True)
    var = R.var(axis=1, keepdims=True)
    target = np.asarray(target, dtype=np.float64)
    with np.errstate(divide="ignore", invalid="ignore"):
        gain = np.sqrt(target / var)
    gain = np.where(np.isfinite(gain), np.minimum(gain, max_gain), 1.0)
    return (mean + (R - mean) * gain).reshape(len(R), -1)


def generate_utterances(
    bundle,
    label,
    n,
    *,
    random_state=None,
    temperature=GENERATION_TEMPERATURE,
    match_variances=True,
):
    """Generate ``n`` new utterances of ``label`` with a saved model.

    The conditional VAE decodes latent codes drawn from the label's prior to
    log-mel rows; each mel band's variance over time is matched to the
    label's training utterances (:func:`match_variance`, when the bundle
    has ``"band_variances"``); the rows are stretched to the label's median
    training duration and turned into audio by the mel pseudo-inverse and
    Griffin-Lim.

    Parameters
    ----------
    bundle : dict
        From :func:`load_recognizer` or :func:`recognizer_bundle`.
    label : object
        One of ``bundle["recognizer"].classes_``.
    n : int
        Utterances to generate.
    random_state : int, numpy.random.Generator or None, default=None
        Seeds the draws; a Generator is used (and advanced) as is.
    temperature : float, default=GENERATION_TEMPERATURE (0.5)
        Scale of the latent spread: <1 typical, >1 varied. The default was
        chosen with an independent recogniser on validation files.
    match_variances : bool, default=True
        Restore each band's contrast over time (:func:`match_variance`);
        with it an independent recogniser heard 0.70 of generated digits
        against 0.56 without, on validation files.

    Returns
    -------
    rows : ndarray of shape (n, n_features)
        The generated log-mel rows (``ValueError``: unknown label, or no
        generator).
    waves : sequence of n ndarrays
        The waveforms, at the front end's ``sr``.

    Examples
    --------
    >>> from skvae.recipes import generate_utterances, load_recognizer
    >>> bundle = load_recognizer("skvae-run")  # doctest: +SKIP
    >>> rows, waves = generate_utterances(bundle, 3, 2)  # doctest: +SKIP
    """
    import numpy as np

    if not can_generate(bundle):
        raise ValueError(_NO_GENERATOR.format(path=bundle.get("path", "")))
    classes = list(bundle["recognizer"].classes_)
    if label not in classes:
        raise ValueError(f"{label!r} is not a label of this model (labels: {classes})")
    rng = np.random.default_rng(random_state)  # a Generator is returned as is
    generator = bundle["generator"]
    rows, _ = generator.sample(
        n,
        y=np.full(n, label, dtype=np.asarray(generator.classes_).dtype),
        random_state=int(rng.integers(2**31 - 1)),
        observation_noise=False,
        temperature=temperature,
    )
    k = classes.index(label)
    fe = generator_features(bundle["recognizer"]["features"])  # plain log-mel
    variances = bundle.get("band_variances")
    if match_variances and variances is not None:
        rows = match_variance(rows, variances[k], fe.n_mels)
    waves = _rows_to_audio(fe, rows, bundle["durations"][k])
    return rows, waves


def write_utterances(waves, folder, label, sr, *, start=0):
    """Write generated utterances as WAV files named ``LABEL_skvae_I.wav``.

    Each is peak-normalised and written as 16-bit PCM
    (:func:`skvae.features.write_wav` with ``normalize=True``).

    Parameters
    ----------
    waves : sequence of 1-D arrays
        Waveforms at ``sr`` (:func:`generate_utterances`).
    folder : str or os.PathLike
        An existing folder.
    label : object
        Their label (``str(label)`` starts the file names).
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
    ...     [p.rsplit("/", 1)[-1] for p in write_utterances(waves, tmp, 3, 8000)]
    ['3_skvae_0.wav', '3_skvae_1.wav']
    """
    from ..features import write_wav

    names = [Path(folder) / f"{label}_skvae_{start + i}.wav" for i in range(len(waves))]
    return [write_wav(p, w, sr, normalize=True) for p, w in zip(names, waves)]


def recognize_files(recognizer, paths, *, expand_folders=True):
    """Labels and class probabilities of audio files, past unreadable ones.

    The front end reads the files at once (file by file only when one of
    them cannot be read); the rows model answers all their rows at once.

    Parameters
    ----------
    recognizer : RecognizerPipeline
        Fitted (``bundle["recognizer"]``), with or without reject option.
    paths : sequence of str or os.PathLike
        Audio files (any sample rate) or folders (searched for audio files).
    expand_folders : bool, default=True
        Search folders for audio files; False reports a folder as a file
        that cannot be read (one answer per path).

    Returns
    -------
    result : Bunch
        ``files`` (the paths read), ``labels``, ``proba``, ``classes``,
        ``scores``, ``threshold`` and ``reject_label`` (of a reject option,
        else None), ``errors`` (``(path, reason)`` of unreadable files) and
        ``order`` (one ``(read, i)`` per file as given: ``files[i]`` if
        ``read``, else ``errors[i]``).

    Examples
    --------
    >>> from skvae.recipes import load_recognizer, recognize_files
    >>> rec = load_recognizer("skvae-run")["recognizer"]  # doctest: +SKIP
    >>> res = recognize_files(rec, ["a.wav", "recordings/"])  # doctest: +SKIP
    >>> res.labels  # doctest: +SKIP
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
    features, model = recognizer["features"], recognizer["model"]
    rows, ok, errors, order = [], [], [], []
    if files and not any("\x00" in f for f in files):
        try:  # all at once (the common case), else file by file below
            rows = [features.transform(files)]
            ok, order = list(files), [(True, i) for i in range(len(files))]
        except AudioReadError:
            pass
    if not ok:
        for path in files:
            try:
                if "\x00" in path:  # the OS would raise ValueError
                    raise AudioReadError(path, "the path contains a NUL byte")
                rows.append(features.transform([path]))
                order.append((True, len(ok)))
                ok.append(path)
            except AudioReadError as exc:
                order.append((False, len(errors)))
                errors.append((exc.path, exc.reason))
    classes = recognizer.classes_
    reject = hasattr(model, "threshold_")
    proba = np.empty((0, len(classes)))
    labels = np.empty(0, dtype=np.asarray(classes).dtype)
    scores = np.empty(0) if reject else None
    if ok:
        if is_sequence(features):  # lists of per-utterance frames
            X = as_utterances([frames for part in rows for frames in part])
        else:
            X = np.vstack(rows)
        if reject:
            labels, proba, scores = model.predict_with_score(X)
        else:
            proba = model.predict_proba(X)
            labels = classes[proba.argmax(axis=1)]
    return Bunch(
        files=ok,
        labels=labels,
        proba=proba,
        classes=classes,
        scores=scores,
        threshold=model.threshold_ if reject else None,
        reject_label=model.reject_label_ if reject else None,
        errors=errors,
        order=order,
    )
