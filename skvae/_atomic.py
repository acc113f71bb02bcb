"""Atomic file writes: a file holds its old content or all of the new one."""

import contextlib
import os
import tempfile
from pathlib import Path

__all__ = ["atomic_file", "write_atomic"]


@contextlib.contextmanager
def atomic_file(path, *, mode=None):
    """Yield a binary file, written beside ``path`` and renamed over it when
    the block ends (removed if it raises). A link is followed; a path that
    exists but is no regular file (a folder, a device) is refused. ``mode``:
    permission bits; None: those of the file replaced (without setuid/setgid
    bits), else ``0o666`` less the umask."""
    path = Path(os.path.realpath(path))  # a link keeps pointing at the file
    if path.exists() and not path.is_file():
        raise IsADirectoryError(f"'{path}' exists and is not a regular file")
    if mode is None:
        try:
            mode = os.stat(path).st_mode & 0o777
        except OSError:
            umask = os.umask(0)
            os.umask(umask)
            mode = 0o666 & ~umask
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.")
    try:
        os.close(fd)
        os.chmod(tmp, mode)  # mkstemp's is 0o600
        with open(tmp, "wb") as fh:
            yield fh
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        raise


def write_atomic(path, data, *, mode=None):
    """Write the bytes ``data`` to ``path`` atomically; return the Path.

    Examples
    --------
    >>> import os, tempfile
    >>> write_atomic(os.path.join(tempfile.mkdtemp(), "a.bin"), b"xy").read_bytes()
    b'xy'
    """
    with atomic_file(path, mode=mode) as fh:
        fh.write(data)
    return Path(path)
