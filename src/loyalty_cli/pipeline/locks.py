"""Locks: one run of a pipeline at a time, and one run at a time publishing into an output folder."""

from __future__ import annotations

import json
import os
import socket
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from loyalty_cli.errors import DataError, ExitCode, LoyaltyError
from loyalty_cli.pipeline.staging import now


class LockedError(LoyaltyError):
    """Another run of the same pipeline holds its lock."""

    exit_code = ExitCode.LOCKED


BUSY = (
    "Another run of this pipeline is in progress",
    "Wait for it to finish: the lock is released when its process ends.",
)


def output_lock_path(output_dir: Path) -> Path:
    """The lock of an output folder, beside it: runs of different pipelines that share the folder take turns."""
    return output_dir.parent / f".{output_dir.name}.loyalty.lock"


@contextmanager
def pipeline_lock(path: Path, busy: tuple[str, str] = BUSY) -> Iterator[None]:
    """Hold ``path`` as a lock for the block: an operating-system lock (``flock``) on the file, released by the
    system when the process ends however it ends, so a lock file left by a killed run, another host or a
    full disk never blocks. The JSON inside (pid, host, started) only names the holder in the message of
    the :class:`LockedError` another run gets (``busy``: its message and hint)."""
    fd = _take_lock(path, busy)
    try:
        holder = {"pid": os.getpid(), "host": socket.gethostname(), "started": now()}
        try:
            os.ftruncate(fd, 0)
            os.pwrite(fd, json.dumps(holder).encode(), 0)
        except OSError:  # a full disk: the lock holds all the same, only its message names nobody
            pass
        yield
    finally:
        try:
            path.unlink(missing_ok=True)  # while still holding it (see _take_lock)
        except OSError:  # pragma: no cover - left behind, it blocks nobody
            pass
        os.close(fd)


def _take_lock(path: Path, busy: tuple[str, str]) -> int:
    import fcntl

    for _ in range(10):
        try:
            fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o644)
        except OSError as exc:
            raise DataError(
                f"Could not create the lock file {path}: {exc.strerror or exc}",
                hint="The pipeline's folder must be writable by the user who runs it.",
            ) from None
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            holder = _holder(fd)
            os.close(fd)
            raise LockedError(f"{busy[0]} (lock {path}{holder})", hint=busy[1]) from None
        except OSError as exc:
            os.close(fd)
            raise DataError(f"Could not lock {path}: {exc.strerror or exc}", hint="Try again.") from None
        # the run that held it may have removed the file before we locked it: then lock the new one
        try:
            if os.path.samestat(os.fstat(fd), os.stat(path)):
                return fd
        except FileNotFoundError:
            pass
        os.close(fd)
    raise LockedError(f"Could not take the lock {path}", hint="Try again.")  # pragma: no cover


def _holder(fd: int) -> str:
    """``, process 12 on host since ...`` from a lock file's JSON; nothing when it is empty or garbage."""
    try:
        holder = json.loads(os.pread(fd, 4096, 0).decode("utf-8", "replace"))
    except (OSError, ValueError):
        return ""
    if not isinstance(holder, dict) or not isinstance(holder.get("pid"), int):
        return ""
    host, started = holder.get("host"), holder.get("started")
    return (
        f", process {holder['pid']}"
        + (f" on {host}" if isinstance(host, str) else "")
        + (f" since {started}" if isinstance(started, str) else "")
    )
