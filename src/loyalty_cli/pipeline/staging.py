"""Staging and publishing: a run writes into a staging folder beside the output folder and moves its outputs
into place only when every step succeeded; files of earlier runs that no run owns any more are removed."""

from __future__ import annotations

import hashlib
import os
import shutil
import stat
import tempfile
from datetime import UTC, datetime
from pathlib import Path

from loyalty_cli.errors import DataError
from loyalty_cli.pipeline.config import Pipeline, PipelineError


def staged_path(folder: Path, relative: str) -> Path:
    """``folder / relative``, checked to stay inside ``folder`` once links are followed (the run-time side of the
    load-time check on a step's output)."""
    path = folder / relative
    if not Path(os.path.realpath(path)).is_relative_to(os.path.realpath(folder)):
        raise PipelineError(
            f"Cannot write {path}: {relative!r} is outside the output folder {folder}",
            hint="Name a file or a folder inside output_dir, with no link out of it.",
        )
    return path


def fixed_folder(pipeline: Pipeline) -> Path:
    """The part of ``output_dir`` before its first placeholder (the pipeline's folder when it starts with one):
    known before the inputs are read, it holds the summary of a run that failed before its folder was known."""
    template = pipeline.output_dir
    head = template[: template.find("{")] if "{" in template else template + "/"
    return (pipeline.folder / head[: head.rfind("/") + 1]).resolve()


def file_facts(path: Path) -> dict[str, object]:
    """Size and SHA-256 of a file (streamed)."""
    digest = hashlib.sha256()
    with path.open("rb") as fh:
        for chunk in iter(lambda: fh.read(1 << 20), b""):
            digest.update(chunk)
    return {"path": str(path), "bytes": path.stat().st_size, "sha256": digest.hexdigest()}


def now(timespec: str = "seconds") -> str:
    """The time now in UTC, ISO 8601 to the second (or ``timespec``)."""
    return datetime.now(UTC).isoformat(timespec=timespec)


def _staging_key(pipeline: Pipeline) -> str:
    """Names this pipeline's staging folders, apart from those of other pipelines writing beside it."""
    return hashlib.sha256(str(pipeline.file).encode()).hexdigest()[:12]


def new_staging(pipeline: Pipeline, output_dir: Path) -> Path:
    """A fresh, empty staging folder beside ``output_dir`` (so on the same file system) for a run's outputs.
    Staging folders that runs of this pipeline left there are removed first: the caller holds the lock, so
    their runs are dead."""
    key = _staging_key(pipeline)
    parent = output_dir.parent
    parent.mkdir(parents=True, exist_ok=True)
    for dead in parent.glob(f".*.loyalty-staging-{key}-*"):
        shutil.rmtree(dead, ignore_errors=True)
    return Path(tempfile.mkdtemp(prefix=f".{output_dir.name}.loyalty-staging-{key}-", dir=parent))


def staged_files(staging: Path) -> list[Path]:
    """The files in a staging folder, relative to it, sorted."""
    return sorted(p.relative_to(staging) for p in staging.rglob("*") if p.is_file() or p.is_symlink())


def check_publish(staging: Path, output_dir: Path) -> None:
    """Raise before anything moves if a staged file would replace a folder or go under a file."""
    for rel in staged_files(staging):
        target = output_dir / rel
        blocker = next((output_dir / up for up in reversed(rel.parents[:-1]) if (output_dir / up).is_file()), None)
        if blocker is None and target.is_dir():  # a folder, or a link to one
            blocker = target
        if blocker is not None:
            raise DataError(
                f"Cannot write {target}: {blocker} is {'a folder' if blocker.is_dir() else 'a file'}",
                hint="Move it away, or change the step's output.",
            )


def publish(staging: Path, output_dir: Path, replaces: object = None) -> list[Path]:
    """Move every file of ``staging`` to the same place under ``output_dir`` (each an atomic rename on one
    file system; a replaced file's permissions carry over; a symbolic link's target is replaced and the link
    kept, as ``-o`` does), remove the files of the run it ``replaces`` (see :func:`remove_stale`) that it did
    not write, make the changes durable, remove the staging folder. Other files of ``output_dir`` are left
    alone."""
    moved: list[Path] = []
    folders: set[Path] = set()
    try:
        for rel in staged_files(staging):
            source, target = staging / rel, output_dir / rel
            target.parent.mkdir(parents=True, exist_ok=True)
            real = Path(os.path.realpath(target)) if target.is_symlink() else target
            try:
                before = real.stat()
            except FileNotFoundError:
                before = None
            if before is not None and stat.S_ISREG(before.st_mode):
                os.chmod(source, stat.S_IMODE(before.st_mode))
            _move(source, real)
            moved.append(target)
            folders.add(real.parent)
        folders.update(p.parent for p in remove_stale(output_dir, replaces, set(moved)))
        for folder in sorted(f for f in folders if f.is_dir()):
            _fsync_folder(folder)
    except OSError as exc:
        raise DataError(
            f"Could not move the outputs into {output_dir}: {exc.strerror or exc}",
            hint="Check that the output folder is writable and on the same disk as its parent folder.",
        ) from None
    shutil.rmtree(staging, ignore_errors=True)
    return moved


def _move(source: Path, target: Path) -> None:
    """Rename ``source`` over ``target``; when a link took ``target`` to another file system, write it there
    as every output is written (:func:`~loyalty_cli.io.writers.atomic_write`: a temporary file beside it,
    flushed, renamed): atomic all the same."""
    import errno

    try:
        os.replace(source, target)
        return
    except OSError as exc:
        if exc.errno != errno.EXDEV:
            raise
    from loyalty_cli.io.writers import atomic_write

    with source.open("rb") as src:
        atomic_write(target, lambda fh: shutil.copyfileobj(src, fh, 1 << 20))
    source.unlink()


def _fsync_folder(folder: Path) -> None:
    try:
        fd = os.open(folder, os.O_RDONLY)
    except OSError:  # pragma: no cover - some systems cannot open a folder
        return
    try:
        os.fsync(fd)
    except OSError:  # pragma: no cover
        pass
    finally:
        os.close(fd)


def last_ok_run(previous: object) -> dict[str, object] | None:
    """From the summary a run finds in its output folder: the run whose outputs are there (that one if it
    succeeded, else the one it named), as as-of date, start, end, inputs and the files it published."""
    if not isinstance(previous, dict):
        return None
    if previous.get("status") == "ok":
        steps = previous.get("steps")
        outputs = (
            [o for s in steps if isinstance(s, dict) for o in s.get("outputs") or []] if isinstance(steps, list) else []
        )
        return {
            **{key: previous.get(key) for key in ("as_of", "started_at", "ended_at", "inputs")},
            "outputs": sorted({o for o in outputs if isinstance(o, str)}),
        }
    carried = previous.get("last_ok_run")
    return carried if isinstance(carried, dict) else None


def published_runs(previous: object) -> dict[str, dict[str, object]]:
    """From the summary a run finds in its output folder: for each pipeline (by file) that publishes into the
    folder, its last successful run there (as :func:`last_ok_run` gives it): the one the summary is about, and
    the others it carried in ``other_pipelines``. Garbled entries are dropped."""
    if not isinstance(previous, dict):
        return {}
    carried = previous.get("other_pipelines")
    runs = {
        name: {**run, "outputs": sorted({o for o in run.get("outputs") or [] if isinstance(o, str)})}
        for name, run in (carried.items() if isinstance(carried, dict) else [])
        if isinstance(name, str) and isinstance(run, dict) and isinstance(run.get("outputs") or [], list)
    }
    owner = previous.get("pipeline")
    if isinstance(owner, str):
        runs.pop(owner, None)
        own = last_ok_run(previous)
        if own is not None and isinstance(own.get("outputs") or [], list):
            runs[owner] = {**own, "outputs": sorted({o for o in own.get("outputs") or [] if isinstance(o, str)})}
    return runs


def remove_stale(output_dir: Path, previous: object, current: set[Path]) -> list[Path]:
    """Remove the files an earlier run published (``previous``: their paths relative to ``output_dir``) that
    this run did not write, so that the folder holds one run's outputs (a rejects file of last night's run
    must not sit beside tonight's lists). Only plain files inside the folder; emptied folders go too."""
    removed: list[Path] = []
    for rel in previous if isinstance(previous, list) else []:
        if not isinstance(rel, str) or not rel or Path(rel).is_absolute() or ".." in Path(rel).parts:
            continue
        target = output_dir / rel
        if target in current or target.is_symlink() or not target.is_file():
            continue
        target.unlink()
        removed.append(target)
        for folder in target.parents:
            if folder == output_dir or not folder.is_relative_to(output_dir):
                break
            try:
                folder.rmdir()
            except OSError:  # not empty
                break
    return removed
