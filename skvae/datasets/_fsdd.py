"""The Free Spoken Digit Dataset (FSDD)."""

import contextlib
import hashlib
import os
import re
import shutil
import tarfile
import tempfile
import urllib.error
from collections import namedtuple
from http.client import HTTPException
from numbers import Integral
from pathlib import Path

import numpy as np
from sklearn.utils import Bunch
from sklearn.utils._param_validation import Interval, StrOptions, validate_params

from ._base import _data_home_path, _download, _sha256

__all__ = ["fetch_fsdd", "find_fsdd_home"]

# fmt: off
DIGIT_NAMES = ("zero", "one", "two", "three", "four", "five", "six", "seven",
               "eight", "nine")
# fmt: on

RemoteArchive = namedtuple(
    "RemoteArchive",
    ["url", "sha256", "filename", "recordings_sha256"],
    defaults=(None,),
)

#: The pinned FSDD release, checked by the digest of its recordings
#: (:func:`_recordings_digest`): GitHub's tag archives have no stable bytes.
FSDD_ARCHIVE = RemoteArchive(
    url=(
        "https://github.com/Jakobovski/free-spoken-digit-dataset/archive/"
        "refs/tags/v1.0.10.tar.gz"
    ),
    sha256=None,
    filename="free-spoken-digit-dataset-1.0.10.tar.gz",
    recordings_sha256=(
        "dbd573d7cafe79c4b49f65718115e1304e24e067fa39eff18a660dc6cb9c360f"
    ),
)

_FSDD_SR = 8000
_SUBSET = {True: "test", False: "train"}  # by ``index < 5``
_NAME_RE = re.compile(r"^(\d)_([A-Za-z0-9+\-]+)_(\d+)\.wav$")

_DESCR = """\
.. _fsdd_dataset:

Free Spoken Digit Dataset (FSDD)
--------------------------------

Recordings of the English digits 0 to 9, said 50 times each by 6 male
speakers of several accents (george, jackson, lucas, nicolas, theo,
yweweler): 3,000 mono 16-bit WAV files at 8 kHz, 0.14 s to 2.3 s long,
1,312 s in all, named ``{digit}_{speaker}_{index}.wav``. The official split
puts ``index`` 0-4 in the test set (300) and 5-49 in the training set
(2,700). For speaker-independent evaluation use ``speaker`` as the groups
of :class:`~sklearn.model_selection.LeaveOneGroupOut`.

Source: Zohar Jackson et al., "Free Spoken Digit Dataset",
https://github.com/Jakobovski/free-spoken-digit-dataset (versioned on Zenodo
and by git tags). License: Creative Commons Attribution-ShareAlike 4.0.
"""


def _has_recordings(folder):
    rec = Path(folder) / "recordings"
    return rec.is_dir() and any(rec.glob("*.wav"))


def _missing_recordings(names):
    """The names missing from the full speaker x digit x index grid of ``names``."""
    takes, n_index = {}, 0
    for name in names:
        match = _NAME_RE.match(name)
        if match is not None:
            digit, speaker, index = match.groups()
            takes.setdefault(speaker, set()).add((int(digit), int(index)))
            n_index = max(n_index, int(index) + 1)
    return [
        f"{digit}_{speaker}_{index}.wav"
        for speaker in sorted(takes)
        for digit in range(10)
        for index in range(n_index)
        if (digit, index) not in takes[speaker]
    ]


def _is_complete(folder):
    rec = Path(folder) / "recordings"
    names = [p.name for p in rec.glob("*.wav")] if rec.is_dir() else []
    return bool(names) and not _missing_recordings(names)


#: what a failed download raises when the network is not there
_NETWORK_ERRORS = (urllib.error.URLError, ConnectionError, TimeoutError, HTTPException)


def _download_or_explain(folder, archive, data_home):
    """Download FSDD; on failure remove the folders made, explain network errors."""
    created = [p for p in (folder.parent, folder) if not p.exists()]
    try:
        _download_fsdd(folder, archive)
    except BaseException as exc:
        for path in reversed(created):
            with contextlib.suppress(OSError):
                path.rmdir()  # only if empty: never a user's file
        if isinstance(exc, _NETWORK_ERRORS):
            reason = getattr(exc, "reason", None) or exc
            where = "on this machine" if data_home is None else "in data_home="
            where += "" if data_home is None else repr(os.fspath(data_home))
            raise ConnectionError(
                f"FSDD was not found {where} and could not be downloaded from "
                f"{archive.url} ({reason}): pass data_home= (or set $SKVAE_DATA "
                "to) a folder that holds fsdd/recordings/*.wav, or download it "
                "when online."
            ) from exc
        raise


def _recordings_digest(folder):
    """SHA-256 of the sorted ``"{name} {file sha256}\\n"`` lines of ``*.wav``."""
    digest = hashlib.sha256()
    for path in sorted(Path(folder).glob("*.wav")):
        digest.update(f"{path.name} {_sha256(path)}\n".encode())
    return digest.hexdigest()


def _download_fsdd(folder, archive):
    """Download, verify and unpack the recordings into ``folder/recordings``."""
    if archive.sha256 is None and archive.recordings_sha256 is None:
        raise OSError(
            f"FSDD is not in {folder} and cannot be downloaded: this version of "
            "skvae has no pinned checksum for its archive. Download "
            f"{archive.url} yourself and unpack its recordings/ folder into "
            f"{Path(folder) / 'recordings'}."
        )
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    tar_path = folder / archive.filename
    if not (tar_path.exists() and _sha256(tar_path) == archive.sha256):
        _download(archive.url, tar_path, archive.sha256)
    staging = Path(tempfile.mkdtemp(prefix=".recordings.", dir=folder))
    try:
        n = _extract_recordings(tar_path, staging)
        if n == 0:
            raise OSError(f"the archive {tar_path} holds no recordings/*.wav")
        if archive.recordings_sha256 is not None:
            actual = _recordings_digest(staging)
            if actual != archive.recordings_sha256:
                tar_path.unlink(missing_ok=True)
                raise OSError(
                    f"checksum mismatch for the recordings of {archive.url}: "
                    f"expected content sha256 {archive.recordings_sha256}, got "
                    f"{actual}. The download was discarded."
                )
        target = folder / "recordings"
        if not _has_recordings(folder):  # else a concurrent call finished first
            if target.exists():  # left over, without any .wav: replace it
                shutil.rmtree(target)
            os.replace(staging, target)
    finally:
        if staging.exists():
            shutil.rmtree(staging)
    tar_path.unlink(missing_ok=True)


def _extract_recordings(tar_path, dest):
    """Copy regular ``{root}/recordings/{FSDD name}.wav`` members to ``dest``.

    Only the bare, checked name is used, links skipped: nothing lands elsewhere.
    """
    count = 0
    with tarfile.open(tar_path, "r:*") as tar:
        for member in tar:
            parts = member.name.split("/")
            if (
                not member.isfile()
                or len(parts) != 3
                or parts[0] in ("", ".", "..")
                or parts[1] != "recordings"
                or not _NAME_RE.match(parts[2])
            ):
                continue
            src = tar.extractfile(member)
            with src, open(Path(dest) / parts[-1], "wb") as out:
                shutil.copyfileobj(src, out)
            count += 1
    return count


@validate_params(
    {
        "data_home": [str, os.PathLike, None],
        "subset": [StrOptions({"all", "train", "test"})],
        "load_audio": ["boolean"],
        "sr": [Interval(Integral, 1, None, closed="left"), None],
        "return_X_y": ["boolean"],
        "download_if_missing": ["boolean"],
    },
    prefer_skip_nested_validation=True,
)
def fetch_fsdd(
    data_home=None,
    *,
    subset="all",
    load_audio=False,
    sr=None,
    return_X_y=False,
    download_if_missing=True,
):
    """Load the Free Spoken Digit Dataset (downloading it if needed).

    Uses ``data_home/fsdd/recordings/*.wav`` when present, else downloads
    the pinned release, verifies and unpacks it; a failed download leaves
    nothing behind. See ``DESCR``.

    Parameters
    ----------
    data_home : str or os.PathLike, default=None
        Folder holding (or to hold) ``fsdd/``. None: where
        :func:`find_fsdd_home` finds it, else :func:`get_data_home`.
    subset : {"all", "train", "test"}, default="all"
        The official split: ``index`` 0-4 test, 5-49 training.
    load_audio : bool, default=False
        Put waveforms (1-D float32) in ``data`` instead of file paths.
    sr : int or None, default=None
        Rate of the loaded waveforms (``load_audio=True`` only); None: 8000.
    return_X_y : bool, default=False
        Return ``(data, target)`` instead of a Bunch.
    download_if_missing : bool, default=True
        If False, raise ``OSError`` instead of downloading.

    Returns
    -------
    data : :class:`~sklearn.utils.Bunch`
        One entry per utterance, sorted by speaker, digit and index:
        ``data`` (paths, or waveforms with ``load_audio``), ``filenames``,
        ``target`` (digit 0-9), ``speaker`` (e.g. "jackson"), ``index``
        (repetition 0-49), ``is_test`` (index < 5), ``target_names`` ("zero"
        to "nine"), ``sr`` (of the files or ``data``) and ``DESCR``.

    (data, target) : tuple if ``return_X_y`` is True

    Raises
    ------
    ConnectionError
        FSDD is not on the machine and cannot be downloaded (no network).
    OSError
        FSDD is not there and ``download_if_missing=False``, the copy there
        is incomplete (delete it to download again), or a checksum failed.
    ValueError
        A file in the recordings folder is not named like FSDD's.

    See Also
    --------
    make_spoken_digits : A generated, offline corpus shaped like this one.
    load_audio_folder : The same for a folder of your own recordings.

    Examples
    --------
    >>> from skvae.datasets import fetch_fsdd
    >>> fsdd = fetch_fsdd(subset="test")  # doctest: +SKIP
    >>> fsdd.data.shape, fsdd.speaker[0], fsdd.target[0]  # doctest: +SKIP
    ((300,), 'george', 0)
    """
    if sr is not None and not load_audio:
        raise ValueError("sr applies to loaded waveforms: pass load_audio=True")
    home = find_fsdd_home() if data_home is None else None
    if home is None:
        home = Path(_data_home_path(data_home))
    folder = home / "fsdd"
    if not _has_recordings(folder):
        if not download_if_missing:
            raise OSError(
                f"FSDD not found in {folder / 'recordings'} and "
                "download_if_missing=False: pass data_home= (or set $SKVAE_DATA "
                "to) a folder that holds fsdd/recordings/*.wav"
            )
        _download_or_explain(folder, FSDD_ARCHIVE, data_home)

    records = []
    for path in (folder / "recordings").glob("*.wav"):
        match = _NAME_RE.match(path.name)
        if match is None:
            raise ValueError(
                f"unexpected file {path} in the FSDD recordings: names must be "
                "{digit}_{speaker}_{index}.wav"
            )
        digit, speaker, index = match.groups()
        records.append((speaker, int(digit), int(index), str(path)))
    missing = _missing_recordings(Path(r[3]).name for r in records)
    if missing:
        raise OSError(
            f"the FSDD copy in {folder / 'recordings'} is incomplete: it has "
            f"{len(records)} recordings and lacks {len(missing)} (e.g. "
            f"{', '.join(missing[:3])}); delete {folder} to download FSDD "
            "again, or pass data_home= a folder with a complete copy"
        )
    records = sorted(r for r in records if subset in ("all", _SUBSET[r[2] < 5]))
    speaker = np.array([r[0] for r in records], dtype=object)
    target = np.array([r[1] for r in records], dtype=int)
    index = np.array([r[2] for r in records], dtype=int)
    filenames = np.array([r[3] for r in records], dtype=object)
    is_test = index < 5

    data, out_sr = filenames, _FSDD_SR
    if load_audio:
        from ..audio import load_audio as load

        data = np.empty(len(filenames), dtype=object)
        for i, path in enumerate(filenames):
            data[i], out_sr = load(path, sr=sr)

    if return_X_y:
        return data, target
    return Bunch(
        data=data,
        filenames=filenames,
        target=target,
        speaker=speaker,
        index=index,
        is_test=is_test,
        target_names=np.array(DIGIT_NAMES),
        sr=int(out_sr),
        DESCR=_DESCR,
    )


def fsdd_search_paths(data_home=None):
    """Where FSDD is looked for: ``data_home``, else ``$SKVAE_DATA``, sklearn's."""
    if data_home is not None:
        return [Path(data_home).expanduser()]
    sklearn_home = os.environ.get("SCIKIT_LEARN_DATA") or "~/scikit_learn_data"
    homes = [os.environ.get("SKVAE_DATA"), sklearn_home]
    return list(dict.fromkeys(Path(h).expanduser() for h in homes if h))


def find_fsdd_home(data_home=None):
    """The first data home holding a complete FSDD copy, or None (no download).

    Parameters
    ----------
    data_home : str or os.PathLike, default=None
        Look only here. None: ``$SKVAE_DATA``, then scikit-learn's data home.

    Returns
    -------
    data_home : pathlib.Path or None

    Examples
    --------
    >>> import tempfile
    >>> from skvae.datasets import find_fsdd_home
    >>> find_fsdd_home(tempfile.mkdtemp()) is None
    True
    """
    for home in fsdd_search_paths(data_home):
        if _is_complete(home / "fsdd"):
            return home
    return None
