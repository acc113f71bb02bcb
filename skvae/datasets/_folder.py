"""Load a folder of the user's own recordings."""

import os
from numbers import Integral
from pathlib import Path

import numpy as np
from sklearn.utils import Bunch
from sklearn.utils._param_validation import Interval, StrOptions, validate_params

__all__ = ["load_audio_folder"]

AUDIO_EXTENSIONS = (".wav", ".flac", ".ogg", ".oga", ".aiff", ".aif", ".mp3")


def _label_of(path, root, label_from):
    if callable(label_from):
        return label_from(str(path))
    if label_from == "parent":
        if path.parent == root:
            raise ValueError(
                f"label_from='parent' needs files in sub-folders of {root}, one "
                f"per label; {path.name} is at the top level"
            )
        return path.parent.name
    return path.stem.split("_", 1)[0]


@validate_params(
    {
        "path": [str, os.PathLike],
        "label_from": [StrOptions({"filename", "parent"}), callable, None],
        "extensions": [tuple, list],
        "load_audio": ["boolean"],
        "sr": [Interval(Integral, 1, None, closed="left"), None],
        "return_X_y": ["boolean"],
    },
    prefer_skip_nested_validation=True,
)
def load_audio_folder(
    path,
    *,
    label_from="filename",
    extensions=AUDIO_EXTENSIONS,
    load_audio=False,
    sr=None,
    return_X_y=False,
):
    """Load a folder of recordings (searched recursively) with their labels.

    Parameters
    ----------
    path : str or os.PathLike
        The folder.
    label_from : {"filename", "parent"}, callable or None, default="filename"
        The label: the file name before the first "_" (``7_jackson_32.wav``:
        "7"), the parent folder's name (``dog/001.wav``: "dog"),
        ``label_from(path_str)``, or None (no labels). All-integer labels
        become ints.
    extensions : tuple of str, default=(".wav", ".flac", ".ogg", ...)
        File name endings to take (case-insensitive).
    load_audio : bool, default=False
        Put waveforms (:func:`skvae.audio.load_audio`) in ``data``, not paths.
    sr : int or None, default=None
        Rate of the loaded waveforms; None keeps each file's (the Bunch's
        ``sr`` is then None if they differ).
    return_X_y : bool, default=False
        Return ``(data, target)`` instead of a Bunch.

    Returns
    -------
    data : :class:`~sklearn.utils.Bunch`
        One entry per file sorted by relative path: ``data`` (paths or
        waveforms), ``filenames``, ``target`` and sorted ``target_names`` (or
        None), ``speaker`` (with ``label_from="filename"``, the second "_"
        field when every name has three, as FSDD's; else None), ``sr`` (of
        loaded ``data``, or None) and ``DESCR``.

    (data, target) : tuple if ``return_X_y`` is True

    Raises
    ------
    FileNotFoundError
        ``path`` is not a folder.
    ValueError
        The folder holds no matching audio files.

    Examples
    --------
    >>> import os, tempfile
    >>> import numpy as np
    >>> from skvae.datasets import load_audio_folder
    >>> from skvae.audio import write_wav
    >>> with tempfile.TemporaryDirectory() as tmp:
    ...     for name in ["3_ann_0.wav", "3_bob_0.wav", "7_ann_0.wav"]:
    ...         _ = write_wav(os.path.join(tmp, name), np.zeros(800), 8000)
    ...     bunch = load_audio_folder(tmp)
    >>> bunch.target, list(bunch.speaker)
    (array([3, 3, 7]), ['ann', 'bob', 'ann'])
    """
    root = Path(path)
    if not root.is_dir():
        raise FileNotFoundError(f"no such folder: {root}")
    exts = tuple(e.lower() for e in extensions)
    files = sorted(
        (p for p in root.rglob("*") if p.is_file() and p.name.lower().endswith(exts)),
        key=lambda p: p.relative_to(root).as_posix(),
    )
    if not files:
        raise ValueError(f"no audio files ({', '.join(exts)}) found in {root}")
    filenames = np.array([str(p) for p in files], dtype=object)

    target = target_names = speaker = None
    if label_from is not None:
        labels = [_label_of(p, root, label_from) for p in files]
        if all(isinstance(lab, str) and lab.lstrip("-").isdigit() for lab in labels):
            target = np.array([int(lab) for lab in labels])
        else:
            target = np.array(labels, dtype=object)
        target_names = np.array(sorted(set(target.tolist())))
    if label_from == "filename":
        fields = [p.stem.split("_") for p in files]
        if all(len(f) >= 3 for f in fields):
            speaker = np.array([f[1] for f in fields], dtype=object)

    data, out_sr = filenames, None
    if load_audio:
        from ..audio import load_audio as load

        data = np.empty(len(files), dtype=object)
        rates = set()
        for i, p in enumerate(filenames):
            data[i], rate = load(p, sr=sr)
            rates.add(rate)
        out_sr = rates.pop() if len(rates) == 1 else None

    if return_X_y:
        return data, target
    return Bunch(
        data=data,
        filenames=filenames,
        target=target,
        target_names=target_names,
        speaker=speaker,
        sr=out_sr,
        DESCR=f"Audio files loaded from {root} (labels from {label_from!r}).",
    )
