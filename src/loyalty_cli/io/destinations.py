"""Where the bytes of an output go, and what is kept of the file they replace.

A regular file (or a new name) is replaced atomically, a symbolic link's target rather than the link; anything
else that can be written (a FIFO, a device such as ``/dev/null``, ``/dev/stdout``) is written straight through
(:func:`destination`). A new file gets the mode of the file it replaces, else what ``open`` would give
(:func:`file_mode`); a file replaced is kept aside by a copy where no hard link can be made (:func:`copy_aside`).
"""

from __future__ import annotations

import errno
import os
import re
import shutil
import stat
from contextlib import suppress
from pathlib import Path

_DESCRIPTOR = re.compile(r"^/(?:proc/[^/]+|dev)/fd/\d+$")  # /dev/stdout -> /proc/self/fd/1


def _names_a_descriptor(path: Path) -> bool:
    """``/dev/stdout``, ``/dev/fd/N``, ``/proc/self/fd/N`` or a link to one: an open file of this process (a
    pipe, a terminal, or a file the shell opened for it), written to where it is."""
    current = os.path.abspath(path)
    for _ in range(40):
        if _DESCRIPTOR.match(current):
            return True
        try:
            link = os.readlink(current)
        except OSError:
            return False
        current = os.path.normpath(os.path.join(os.path.dirname(current), link))
    return False


def destination(path: Path) -> tuple[Path, bool]:
    """Where the bytes for ``path`` go and whether they go straight there: a regular file (or a new name) is
    replaced atomically, a symbolic link's target rather than the link; anything else that can be written (a
    FIFO, a device such as /dev/null, /dev/stdout) is written straight through, never replaced."""
    if _names_a_descriptor(path):
        return path, True
    real = Path(os.path.realpath(path)) if path.is_symlink() else path
    try:
        st = real.stat()
    except FileNotFoundError:
        return real, False
    if stat.S_ISDIR(st.st_mode):
        raise IsADirectoryError(errno.EISDIR, os.strerror(errno.EISDIR), str(path))
    return real, not stat.S_ISREG(st.st_mode)


def file_mode(target: Path) -> int:
    """The mode the written file gets: that of the file it replaces, else what ``open`` would give
    (0o666 less the umask). ``mkstemp`` alone would leave every output readable by its owner only."""
    try:
        st = target.stat()
    except FileNotFoundError:
        st = None
    if st is not None and stat.S_ISREG(st.st_mode):
        return stat.S_IMODE(st.st_mode)
    umask = os.umask(0o022)
    os.umask(umask)
    return 0o666 & ~umask


def copy_aside(path: Path, copy: Path) -> None:
    """Copy the file (or symbolic link) at ``path`` to the new name ``copy`` in its folder: its bytes, flushed to
    disk, with its mode and times (and its owner and group where this user may set them)."""
    if path.is_symlink():
        os.symlink(os.readlink(path), copy)
        return
    st = os.stat(path)
    with open(path, "rb") as src, open(os.open(copy, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600), "wb") as dst:
        shutil.copyfileobj(src, dst, 1 << 20)
        dst.flush()
        os.fsync(dst.fileno())
    shutil.copystat(path, copy)
    try:
        os.chown(copy, st.st_uid, st.st_gid)
    except OSError:
        with suppress(OSError):
            os.chown(copy, -1, st.st_gid)  # a group of this user's
