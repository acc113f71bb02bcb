"""One entry point for "FSDD, a folder, or the generated corpus"."""

import contextlib
import os
from functools import partial
from pathlib import Path

import numpy as np
from sklearn.utils import Bunch

from . import _fsdd  # module access: tests patch where FSDD is looked for

__all__ = ["load_corpus", "resolve_corpus", "split_corpus"]

GENERATED_KEYS = ("kind", "n_speakers", "n_repeats", "random_state")

_DESCR = """\
A speech corpus loaded by skvae.datasets.load_corpus: one utterance per
entry of ``data`` (audio file paths, or waveforms at ``sr``), its label in
``target``, its speaker in ``speaker`` (or None), and FSDD's official test
split in ``is_test`` (or None). ``spec`` reloads the same corpus:
``load_corpus(corpus.spec)``."""


def resolve_corpus(
    source=None,
    *,
    data_home=None,
    label_from="filename",
    n_speakers=12,
    n_repeats=20,
    random_state=0,
):
    """Say which corpus a source names, without loading it.

    Parameters
    ----------
    source, data_home, label_from, n_speakers, n_repeats, random_state
        As for :func:`load_corpus`.

    Returns
    -------
    spec : dict
        JSON-able ``{"kind": "fsdd" | "generated" | "folder", ...}``, with a
        ``"note"`` when the generated corpus stands in for a missing FSDD.

    Raises
    ------
    FileNotFoundError, NotADirectoryError
        ``source`` is a folder that does not exist, or a file.

    Examples
    --------
    >>> from skvae.datasets import resolve_corpus
    >>> resolve_corpus("generated", n_speakers=2, n_repeats=1)
    {'kind': 'generated', 'n_speakers': 2, 'n_repeats': 1, 'random_state': 0}
    """
    if isinstance(source, dict):
        return source
    values = ("generated", n_speakers, n_repeats, random_state)
    generated = dict(zip(GENERATED_KEYS, values))
    if source is None:
        home = _fsdd.find_fsdd_home(data_home)
        if home is not None:
            return {"kind": "fsdd", "data_home": str(home)}
        looked = ", ".join(str(h) for h in _fsdd.fsdd_search_paths(data_home))
        generated["note"] = (
            f"FSDD was not found offline (looked in {looked}; set SKVAE_DATA to "
            "the folder holding fsdd/recordings/), so a spoken-digit corpus was "
            "generated with eSpeak NG"
        )
        return generated
    if source == "fsdd":
        home = _fsdd.find_fsdd_home(data_home)
        return {
            "kind": "fsdd",
            "data_home": None if home is None else str(home),
            "data_home_arg": None if data_home is None else os.fspath(data_home),
        }
    if source == "generated":
        return generated
    path = Path(source).expanduser()
    if not path.exists():
        raise FileNotFoundError(
            f"data folder '{source}' does not exist. The data is a folder of "
            "labelled audio files, 'fsdd', 'generated', or nothing (FSDD if "
            "available offline, else generated)"
        )
    if not path.is_dir():
        raise NotADirectoryError(
            f"the data must be a folder of audio files, got the file '{source}'"
        )
    return {"kind": "folder", "path": str(path.resolve()), "label_from": label_from}


def load_corpus(
    source=None,
    *,
    data_home=None,
    label_from="filename",
    n_speakers=12,
    n_repeats=20,
    random_state=0,
    download_if_missing=True,
):
    """Load FSDD, a folder of recordings, or the generated corpus as one Bunch.

    The fields are the same for every source (what ``skvae train [DATA]``
    loads).

    Parameters
    ----------
    source : None, "fsdd", "generated", str, os.PathLike or dict, default=None
        None: FSDD if already here (:func:`find_fsdd_home`), else generated.
        ``"fsdd"``; ``"generated"`` (:func:`make_spoken_digits`); a folder
        (:func:`load_audio_folder`); or the ``spec`` of a loaded corpus.
    data_home : str, os.PathLike or None, default=None
        Where FSDD is looked for or downloaded to.
    label_from : {"filename", "parent"}, default="filename"
        For a folder: labels from file names (``7_alice_0.wav``: label 7,
        speaker alice) or sub-folder names.
    n_speakers, n_repeats : int, default=12, 20
        Size of the generated corpus (``n_speakers * n_repeats * 10``).
    random_state : int, default=0
        Seed of the generated corpus.
    download_if_missing : bool, default=True
        If False, raise ``OSError`` instead of downloading FSDD.

    Returns
    -------
    corpus : :class:`~sklearn.utils.Bunch`
        ``data`` (paths, or 1-D float32 waveforms at ``sr``), ``target``,
        ``speaker`` (or None), ``is_test`` (official split, or None), ``sr``
        (None for files), ``duration`` (seconds, NaN if unknown),
        ``n_speakers`` (0 if unknown), ``name``, ``description`` (one line),
        ``source`` (folder or "generated"), ``spec`` (JSON-able:
        ``load_corpus(corpus.spec)`` reloads it), ``note`` (why this corpus
        was chosen, or "") and ``DESCR``.

    Raises
    ------
    OSError
        A folder that does not exist; FSDD is not on this machine and cannot
        (or may not) be downloaded.
    ImportError
        The generated corpus needs eSpeak NG (``pip install "skvae[synth]"``).
    ValueError
        A folder without audio files, or a spec of an unknown kind.

    See Also
    --------
    split_corpus : The held-out test set of a corpus.
    fetch_fsdd, load_audio_folder, make_spoken_digits : The sources.

    Examples
    --------
    >>> from skvae.datasets import load_corpus
    >>> corpus = load_corpus("generated", n_speakers=2, n_repeats=1)
    >>> print(corpus.description)
    generated spoken digits (eSpeak NG): 20 utterances, 2 speakers, 10 labels
    (generated)
    >>> corpus.data.shape, corpus.sr, corpus.spec["kind"]
    ((20,), 8000, 'generated')
    """
    spec = resolve_corpus(
        source,
        data_home=data_home,
        label_from=label_from,
        n_speakers=n_speakers,
        n_repeats=n_repeats,
        random_state=random_state,
    )
    kind = spec.get("kind")
    loaders = {"generated": _load_generated, "folder": _load_folder}
    loaders["fsdd"] = partial(_load_fsdd, download_if_missing=download_if_missing)
    if kind not in loaders:
        raise ValueError(
            f"unknown corpus kind {kind!r} in {spec!r}: expected 'fsdd', "
            "'generated' or 'folder'"
        )
    bunch, name, source, spec = loaders[kind](spec)
    generated = kind == "generated"  # waveforms; files for the others
    data, sr = (bunch.data, bunch.sr) if generated else (bunch.filenames, None)
    note = spec.pop("note", "")
    speaker, target = bunch.speaker, np.asarray(bunch.target)
    n_speakers = 0 if speaker is None else len(set(speaker.tolist()))
    parts = [f"{len(target):,} utterances"]
    if speaker is not None:
        parts.append(f"{n_speakers} speakers")
    parts.append(f"{len(np.unique(target))} labels")
    return Bunch(
        data=data,
        target=target,
        speaker=speaker,
        is_test=bunch.get("is_test"),
        sr=sr,
        name=name,
        source=source,
        spec=spec,
        note=note,
        duration=_durations(data, sr),
        n_speakers=n_speakers,
        description=f"{name}: {', '.join(parts)} ({source})",
        DESCR=_DESCR,
    )


def _load_fsdd(spec, download_if_missing):
    """The Bunch, name, source and spec of a corpus (one loader per kind)."""
    from ._fsdd import fetch_fsdd

    home = spec.get("data_home") or spec.get("data_home_arg")
    try:
        bunch = fetch_fsdd(home, download_if_missing=download_if_missing)
    except OSError as exc:
        raise OSError(
            f"FSDD is not available: {exc} (set SKVAE_DATA to a folder holding "
            "fsdd/recordings/, or use the generated corpus instead)"
        ) from exc
    folder = Path(bunch.filenames[0]).parent
    spec = {"kind": "fsdd", "data_home": str(folder.parents[1])}
    return bunch, "FSDD (Free Spoken Digit Dataset)", str(folder), spec


def _load_generated(spec):
    try:
        import espeakng_loader  # noqa: F401
    except ImportError as exc:
        raise ImportError(
            "the generated corpus needs eSpeak NG: "
            'pip install "skvae[synth]" (or use a folder of recordings or FSDD)'
        ) from exc
    from ._synth import make_spoken_digits

    bunch = make_spoken_digits(
        spec["n_speakers"], spec["n_repeats"], random_state=spec["random_state"]
    )
    out = {k: spec[k] for k in GENERATED_KEYS}
    out["note"] = spec.get("note", "")
    return bunch, "generated spoken digits (eSpeak NG)", "generated", out


def _load_folder(spec):
    from ._folder import load_audio_folder

    path = Path(spec["path"])
    if not path.is_dir():
        raise FileNotFoundError(f"data folder '{path}' does not exist")
    bunch = load_audio_folder(path, label_from=spec["label_from"])
    return bunch, f"folder {path.name}", str(path), dict(spec)


def _durations(data, sr):
    """Duration in seconds of every utterance (NaN where unknown)."""
    out = np.full(len(data), np.nan)
    if sr is not None:
        for i, x in enumerate(data):
            out[i] = len(x) / sr
        return out
    import soundfile

    for i, path in enumerate(data):
        with contextlib.suppress(Exception):  # a duration is optional
            out[i] = soundfile.info(path).duration
    return out


def split_corpus(corpus, how="auto", *, test_size=0.25, random_state=0):
    """Train and test indices of a corpus, and what the split was.

    Parameters
    ----------
    corpus : Bunch
        From :func:`load_corpus`.
    how : {"auto", "official", "speaker", "random"}, default="auto"
        ``is_test``; whole speakers held out; utterances at random
        (stratified when every label has two). ``"auto"``: official for
        FSDD, else speaker with two or more speakers, else random.
    test_size : float, default=0.25
        Fraction of speakers or utterances held out.
    random_state : int, default=0
        Seed of the ``"speaker"`` and ``"random"`` draws.

    Returns
    -------
    train, test : ndarray of int
        Sorted indices into the corpus.
    info : dict
        JSON-able ``kind`` (split used), ``test_size``, ``seed``, ``text``.

    Raises
    ------
    ValueError
        ``how`` is unknown or impossible (no official split, < 2 speakers).

    Examples
    --------
    >>> from skvae.datasets import load_corpus, split_corpus
    >>> corpus = load_corpus("generated", n_speakers=4, n_repeats=1)
    >>> train, test, info = split_corpus(corpus)
    >>> info["kind"], len(train), len(test)
    ('speaker', 30, 10)
    """
    from sklearn.model_selection import (
        GroupShuffleSplit,
        ShuffleSplit,
        StratifiedShuffleSplit,
    )

    kinds = ("auto", "official", "speaker", "random")
    if how not in kinds:
        raise ValueError(f"how must be one of {kinds}, got {how!r}")
    y = np.asarray(corpus.target)
    n = len(y)
    is_fsdd = corpus.spec.get("kind") == "fsdd"
    if how == "auto":
        how = "speaker" if corpus.n_speakers >= 2 else "random"
        how = "official" if is_fsdd else how
    if how == "official":
        if corpus.is_test is None:
            raise ValueError(f"split 'official': {corpus.name} has no official split")
        test = np.flatnonzero(corpus.is_test)
        train = np.flatnonzero(~corpus.is_test)
        text = "official split"
        if is_fsdd:
            text += " (repetitions 0-4 of every speaker and digit)"
    elif how == "speaker":
        if corpus.n_speakers < 2:
            raise ValueError(
                f"split 'speaker': {corpus.name} has {corpus.n_speakers} known speakers"
            )
        gss = GroupShuffleSplit(1, test_size=test_size, random_state=random_state)
        train, test = next(gss.split(np.zeros(n), y, corpus.speaker))
        held = sorted(set(corpus.speaker[test].tolist()))
        text = f"speaker-independent: held-out speakers {', '.join(held)}"
    else:
        _, counts = np.unique(y, return_counts=True)
        splitter_class = StratifiedShuffleSplit if counts.min() >= 2 else ShuffleSplit
        splitter = splitter_class(1, test_size=test_size, random_state=random_state)
        train, test = next(splitter.split(np.zeros(n), y))
        text = "random stratified split"
    train, test = np.sort(train), np.sort(test)
    info = {
        "kind": how,
        "test_size": test_size,
        "seed": random_state,
        "text": f"{text}: {len(train):,} train, {len(test):,} test",
    }
    return train, test, info
