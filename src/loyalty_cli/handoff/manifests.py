"""A list's manifest read back, for ``loyalty uplift``: the treatment and control files it records
(:func:`manifest_files`), checked against the rows and hashes it records (:func:`check_manifest`), and the test
arms it records (:func:`manifest_arms`). The manifest is the one :func:`loyalty_cli.handoff.write.write_list`
writes."""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from pathlib import Path

import polars as pl

from loyalty_cli import words
from loyalty_cli.errors import DataError, setting


@dataclass(frozen=True)
class ManifestFile:
    """A list file as its manifest records it (rows, bytes and sha256 may be missing in older manifests)."""

    path: Path
    rows: int | None
    bytes: int | None
    sha256: str | None


def read_manifest(manifest: Path) -> tuple[list[ManifestFile], list[ManifestFile]]:
    """The treatment and control files recorded in a list's manifest (paths relative to its folder)."""
    try:
        data = json.loads(manifest.read_text(encoding="utf-8"))
        files = data["files"]
        treatment, control = (
            [
                ManifestFile(manifest.parent / f["path"], f.get("rows"), f.get("bytes"), f.get("sha256"))
                for f in files[group]
            ]
            for group in ("treatment", "control")
        )
    except FileNotFoundError:
        raise DataError(
            f"File not found: {manifest}", hint="Pass the .manifest.json written beside the list."
        ) from None
    except (ValueError, KeyError, TypeError, AttributeError):
        raise DataError(
            f"{manifest} is not a list manifest written by loyalty",
            hint="Pass the .manifest.json written beside the list, or "
            f"{setting('treatment')} and {setting('control')}.",
        ) from None
    if not control:
        raise DataError(
            f"The manifest {manifest} records no control group",
            hint=f"Write the list with {setting('holdout_share')} and {setting('seed')}, or pass "
            f"{setting('control')} FILE.",
        )
    return treatment, control


def manifest_files(manifest: Path) -> tuple[list[str], list[str]]:
    """The treatment and control files recorded in a list's manifest, as paths."""
    treatment, control = read_manifest(manifest)
    return [str(f.path) for f in treatment], [str(f.path) for f in control]


def _sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def _count_rows(path: Path) -> int:
    if path.suffix.lower() in (".parquet", ".pq"):
        import pyarrow.parquet as pq

        return int(pq.read_metadata(path).num_rows)
    return int(pl.scan_csv(path, infer_schema=False, glob=False).select(pl.len()).collect().item())


def check_manifest(manifest: Path) -> str:
    """Check that the treatment and control files are those the manifest recorded: each file's size and SHA-256
    (manifests written since hashes were added) and its row count. A file that differs is a :class:`DataError`
    naming it (a list rewritten without its control group, a file edited or cut); returns a note saying what
    was checked (for an older manifest without hashes: that the hash check was skipped)."""
    treatment, control = read_manifest(manifest)
    files = [*treatment, *control]
    hint = (
        "The lists and the manifest must come from one run: write the list again with "
        f"{setting('holdout_share')} and {setting('seed')} (the same seed gives the same split), or compare the "
        f"files as they are with {setting('treatment')} and {setting('control')}."
    )
    for f in files:
        try:
            size = f.path.stat().st_size
        except OSError:
            raise DataError(f"{f.path}, listed in the manifest {manifest}, is missing", hint=hint) from None
        changed = f.bytes is not None and size != f.bytes
        if not changed and f.sha256 is not None:
            try:
                changed = _sha256(f.path) != f.sha256
            except OSError as exc:
                raise DataError(f"Could not read {f.path}: {exc.strerror or exc}", hint=hint) from None
        if changed:
            raise DataError(
                f"{f.path} has changed since the manifest {manifest} was written (its content does not match "
                "the size and SHA-256 recorded there)",
                hint=hint,
            )
        if f.rows is not None:
            try:
                rows = _count_rows(f.path)
            except (pl.exceptions.PolarsError, OSError, ValueError):
                continue  # read_lists says what is wrong with the file
            if rows != f.rows:
                raise DataError(
                    f"{f.path} has {rows:,} {'row' if rows == 1 else 'rows'}, but the manifest {manifest} records "
                    f"{f.rows:,}: the file has changed since the list was written",
                    hint=hint,
                )
    if all(f.sha256 is not None for f in files):
        return f"Checked the {words.count(len(files), 'list file')} against {manifest}: rows and SHA-256 match"
    return (
        f"The manifest {manifest} records no content hashes (an older version wrote it): the hash check was "
        "skipped; row counts match"
    )


def manifest_arms(manifest: Path) -> tuple[list[tuple[str, list[str]]], str] | None:
    """The arms a manifest records (its ``arms`` entry, written by a split into arms: each arm's name and files,
    paths relative to its folder, in the order given) and the control arm's name; None for a manifest without
    arms. The arms' files must be the files the manifest records under treatment and control (those that
    :func:`check_manifest` checks), and one arm must be the control."""
    treatment, control = read_manifest(manifest)
    hint = "Pass the .manifest.json written beside the list, as it was written."
    try:
        entry = json.loads(manifest.read_text(encoding="utf-8")).get("arms")
        if entry is None:
            return None
        arms = [(str(a["name"]), [str(manifest.parent / f) for f in a["files"]]) for a in entry["arms"]]
        control_arm = entry.get("control")
    except (ValueError, KeyError, TypeError, AttributeError):
        raise DataError(f"The arms recorded in {manifest} cannot be read", hint=hint) from None
    if control_arm is None or control_arm not in {name for name, _ in arms}:
        raise DataError(
            f"The arms of {manifest} have no control arm: each arm is compared with the control group",
            hint=f"Split the list with an arm named control, e.g. {setting('arms')} reward_a,reward_b,control.",
        )
    recorded = {f.path for f in (*treatment, *control)}
    named = {Path(f) for _, files in arms for f in files}
    if named != recorded:
        raise DataError(f"The arms of {manifest} name other files than its file list records", hint=hint)
    return arms, str(control_arm)
