"""Temporary files of our own: named for their host and process (:func:`owner_tag`), so that stale ones (the
process gone) are removed by a later run (:func:`remove_stale`) while those of a run going on are left alone;
a temporary folder of one kind is made by :func:`owned_workspace`; SIGTERM unwinds like Ctrl-C while they exist
(:func:`terminate_as_interrupt`); a failed write is a :class:`DataError` naming the file (:func:`write_error`)."""

from __future__ import annotations

import errno
import os
import re
import shutil
import signal
import socket
import tempfile
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from loyalty_cli.errors import DataError, LoyaltyError

# --- telling stale temporary files from ones in use -----------------------------------

_HOST = re.sub(r"[^A-Za-z0-9]+", "_", socket.gethostname())[:32] or "host"
#: a temporary file beside an output: ``.NAME.loyalty-<host>-<pid>-<random>.tmp``
TEMP_FILE = re.compile(r"^\..+\.loyalty-(?P<host>[A-Za-z0-9_]+)-(?P<pid>\d+)-[A-Za-z0-9_]+\.tmp$")


def owner_tag() -> str:
    """``<host>-<pid>`` of this process, put in the name of every temporary file or folder we make, so that a
    later run can tell one whose process is gone (stale: removed) from one in use by a run at the same moment."""
    return f"{_HOST}-{os.getpid()}"


def owner_gone(host: str, pid: int) -> bool:
    """True when the process ``pid`` of ``host`` no longer exists. Another host's process cannot be seen (a
    shared folder), so it counts as alive, as does one of another user (no permission to signal it)."""
    if host != _HOST or pid <= 0 or pid == os.getpid() or os.name != "posix":  # Windows' os.kill would end it
        return False
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return True
    except OSError:
        return False
    return False


def remove_stale(folder: Path, pattern: re.Pattern[str]) -> list[Path]:
    """Remove the files and folders in ``folder`` whose name matches ``pattern`` (with groups ``host`` and
    ``pid``: see :func:`owner_tag`) and whose process is gone; returns them. Those of live processes, other
    hosts and names without an owner are left alone; failures are ignored (another run may be at it too)."""
    removed: list[Path] = []
    try:
        entries = list(os.scandir(folder))
    except OSError:
        return removed
    for entry in entries:
        match = pattern.match(entry.name)
        if match is None or not owner_gone(match["host"], int(match["pid"])):
            continue
        try:
            if entry.is_dir(follow_symlinks=False):
                shutil.rmtree(entry.path)
            else:
                os.unlink(entry.path)
        except OSError:
            continue
        removed.append(Path(entry.path))
    return removed


def workspace_pattern(kind: str) -> re.Pattern[str]:
    """The names of the temporary folders of one ``kind`` (see :func:`owned_workspace`)."""
    return re.compile(rf"^loyalty-{re.escape(kind)}-(?P<host>[A-Za-z0-9_]+)-(?P<pid>\d+)-[A-Za-z0-9_]+$")


def owned_workspace(kind: str, purpose: str) -> tempfile.TemporaryDirectory[str]:
    """A new temporary folder ``loyalty-<kind>-<host>-<pid>-<random>`` in the system's temporary folder (TMPDIR),
    removed when its ``with`` block ends or is interrupted; those of the same kind left by runs killed before they
    cleaned up are removed first. ``purpose`` words what it holds in the error when it cannot be made."""
    try:
        remove_stale(Path(tempfile.gettempdir()), workspace_pattern(kind))
        return tempfile.TemporaryDirectory(prefix=f"loyalty-{kind}-{owner_tag()}-")
    except OSError as exc:
        raise LoyaltyError(
            f"Could not create a temporary folder for {purpose}: {exc.strerror or exc}",
            hint="Point TMPDIR at a writable folder with some free space.",
        ) from None


@contextmanager
def terminate_as_interrupt() -> Iterator[None]:
    """While files are written: SIGTERM (``kill``, a cron timeout) raises KeyboardInterrupt like Ctrl-C, so the
    temporary files are removed on the way out (exit 130). Only in the main thread and only while SIGTERM has
    its default action: a handler set by the program (``loyalty run``) or the caller is left alone."""
    if threading.current_thread() is not threading.main_thread() or signal.getsignal(signal.SIGTERM) != signal.SIG_DFL:
        yield
        return

    def handler(signum: int, frame: object) -> None:
        raise KeyboardInterrupt

    signal.signal(signal.SIGTERM, handler)
    try:
        yield
    finally:
        signal.signal(signal.SIGTERM, signal.SIG_DFL)


def write_error(path: Path, exc: OSError) -> DataError:
    """``Could not write PATH: <the system's reason>`` with a hint for the usual causes."""
    reason = exc.strerror or str(exc)
    if exc.errno in (errno.ENOSPC, getattr(errno, "EDQUOT", errno.ENOSPC)):
        hint = "Free some space (or raise the quota), or write to another disk; the old file, if any, is unchanged."
    elif exc.errno in (errno.EROFS, errno.EACCES, errno.EPERM):
        hint = "Write to a folder this user can write to (not a read-only disk); the old file, if any, is unchanged."
    else:
        hint = "Check the output path, that its folder is writable and that the disk has space."
    return DataError(f"Could not write {path}: {reason}", hint=hint)
