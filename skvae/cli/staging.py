"""Atomic folder swaps: a folder's new contents written aside, then swapped in."""

import contextlib
import os
from pathlib import Path


@contextlib.contextmanager
def _signals_held():
    """Hold SIGINT and SIGTERM back until the block ends (main thread, POSIX)."""
    import signal
    import threading

    if (
        not hasattr(signal, "pthread_sigmask")
        or threading.current_thread() is not threading.main_thread()
    ):
        yield
        return
    old = signal.pthread_sigmask(signal.SIG_BLOCK, {signal.SIGINT, signal.SIGTERM})
    try:
        yield
    finally:
        signal.pthread_sigmask(signal.SIG_SETMASK, old)


def _make_folder(path):
    """Create ``path`` and its missing parents; return those created."""
    p = path = Path(path)
    missing = []
    while not p.exists() and not p.is_symlink() and p.parent != p:
        missing.append(p)
        p = p.parent
    if not p.is_dir():
        raise NotADirectoryError(f"cannot create the folder '{path}': '{p}' is a file")
    created = []
    try:
        for d in reversed(missing):
            d.mkdir()
            created.append(d)
    except BaseException:
        _remove_empty(created)
        raise
    return created


def _remove_empty(folders):
    for d in reversed(folders):
        with contextlib.suppress(OSError):
            d.rmdir()  # only if empty


def _entries(folder):
    """Folders first, then files by name (model.skops after model.safetensors)."""
    return sorted(folder.iterdir(), key=lambda e: (not e.is_dir(), e.name))


def _merge(src, dst, *, check=False):
    """Move the files of ``src`` into ``dst`` (recursively), replacing their
    namesakes; ``check``: move nothing, refuse a file that would replace a folder."""
    for e in _entries(src):
        target = dst / e.name
        if check and target.exists() and target.is_dir() != e.is_dir():
            kind = "folder" if target.is_dir() else "file"
            raise IsADirectoryError(
                f"cannot write '{target}': a {kind} of that name is in the way"
            )
        if e.is_dir() and target.is_dir():
            _merge(e, target, check=check)
        elif not check:
            os.replace(e, target)


@contextlib.contextmanager
def staged_folder(path):
    """Write a folder's new contents aside, then swap them in at once.

    Yields an empty hidden folder inside ``path`` (created if needed). When
    the block ends normally, each file written there replaces its namesake
    in ``path`` (sub-folders too; SIGINT and SIGTERM held back meanwhile),
    other files stay. When it raises, what it wrote and the folders created
    are removed. ``NotADirectoryError``: ``path`` or a parent is a file;
    ``IsADirectoryError``: a new file would replace a folder, or vice versa.

    Parameters
    ----------
    path : str or os.PathLike
        The output folder (e.g. the ``--out`` of ``skvae train``).

    Yields
    ------
    staging : pathlib.Path
        The folder to write into.

    Examples
    --------
    >>> import os, tempfile
    >>> from pathlib import Path
    >>> from skvae.cli.staging import staged_folder
    >>> out = Path(tempfile.mkdtemp()) / "run"
    >>> with staged_folder(out) as tmp:
    ...     _ = (tmp / "a.txt").write_text("new")
    >>> (out / "a.txt").read_text(), os.listdir(out)
    ('new', ['a.txt'])
    """
    import shutil
    import tempfile

    path = Path(path)
    created = _make_folder(path)  # NotADirectoryError if path or a parent is a file
    try:
        staging = Path(tempfile.mkdtemp(dir=path, prefix=".skvae-partial-"))
    except BaseException:
        _remove_empty(created)
        raise
    try:
        yield staging
        _merge(staging, path, check=True)
        with _signals_held():
            try:
                _merge(staging, path)
            finally:
                shutil.rmtree(staging, ignore_errors=True)
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
        _remove_empty(created)
        raise
