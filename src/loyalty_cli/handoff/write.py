"""Writing a list for an email tool, or as it is.

:func:`write_list` takes a list as a command made it (our column names, one row per customer) and writes what the
tool's importer takes (:class:`ListSpec` says how):

- **Screening** (:mod:`loyalty_cli.handoff.screening`): consent, usable emails, duplicate emails; every dropped
  row goes to the ``.dropped.csv`` file beside the output with its reason.
- **Control group** (optional): a deterministic share of the screened list (see :mod:`loyalty_cli.handoff.control`)
  is written to ``<stem>.control<suffix>`` instead.
- **Arms** (optional, instead of a holdout share): the screened list split into named arms by shares with the same
  hash (:mod:`loyalty_cli.handoff.arms`), each arm in ``<stem>.<arm><suffix>`` with an ``arm`` column, and nothing
  at ``<stem><suffix>`` itself (each arm gets its own email); the arm ``control`` is the control group.
- **Columns** (:mod:`loyalty_cli.handoff.columns`): for a target, the id, email, tag and the fields a template
  uses (plus the columns asked for), not the whole analysis table; numbers rounded for reading (money to cents).
- **Formatting** (:mod:`loyalty_cli.handoff.formatting`): the tool's header names and date formats, the tag
  column, formula-like text cleaned and logged to ``<stem>.changes.csv`` (importer targets) or given the OWASP
  apostrophe (the generic CSV: :func:`csv_bytes`).
- **Size**: CSV files over the target's limit (Klaviyo 50 MB, Braze 500 MB, HubSpot 512 MB; MB = 10^6
  bytes) are split at row boundaries into ``<stem>.part01<suffix>``, ``.part02`` ... each with the header
  (:func:`split_csv`).
- **Manifest**: ``<stem>.manifest.json`` lists every file written (rows, bytes, SHA-256), the counts, what was
  dropped and why, and the control split (share, seed, hash method, counts) or the arms (names, shares, seed,
  counts, each arm's files: the treated arms' files under ``treatment``, the control arm's under ``control``);
  ``loyalty uplift`` reads it back
  (:mod:`loyalty_cli.handoff.readback`).
- **One set**: the files are written together (temporary files first, renamed into place only when all are
  written: a failure leaves the earlier set complete), and files of an earlier set of the same name that the new
  one does not write (its parts, control group, dropped rows, changes; for a plain list, :func:`write_plain_list`,
  its manifest too) are removed and reported: those its manifest lists
  (:func:`~loyalty_cli.handoff.sets.set_members`); files only named like them are left, with a note.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import polars as pl

from loyalty_cli.errors import ConfigError, UsageError, setting
from loyalty_cli.handoff.arms import Arms, ArmSplit, split_list
from loyalty_cli.handoff.columns import list_columns
from loyalty_cli.handoff.control import CONTROL, Split, check_share
from loyalty_cli.handoff.formatting import format_for_target
from loyalty_cli.handoff.screening import attach_contacts, screen_rows
from loyalty_cli.handoff.sets import set_members, sibling
from loyalty_cli.handoff.targets import MB, Target, get_target
from loyalty_cli.io.formulas import neutralise_formulas
from loyalty_cli.io.precision import readable_numbers
from loyalty_cli.io.rows import Rows
from loyalty_cli.io.writers import FileSet, csv_ready, output_format
from loyalty_cli.io.writers import write_table as _write_table

# --- CSV bytes and size splitting ---------------------------------------------------------------------


def csv_bytes(df: pl.DataFrame, *, neutralise: bool) -> bytes:
    """UTF-8 CSV (no BOM: some importers read it into the first header), numbers rounded for reading
    (:func:`~loyalty_cli.io.precision.readable_numbers`: money to cents). ``neutralise``: the spreadsheet
    apostrophe of :func:`loyalty_cli.io.formulas.neutralise_formulas` (the generic target)."""
    df = csv_ready(readable_numbers(df))
    if neutralise:
        df = neutralise_formulas(df)
    return df.write_csv().encode("utf-8")


def split_csv(data: bytes, max_bytes: int | None) -> list[tuple[bytes, int]]:
    """Split CSV bytes at row boundaries into parts of at most ``max_bytes``, each starting with the header;
    returns (bytes, rows) per part.

    A row ends at a newline outside quotes (an even number of ``"`` before it: quotes inside a field are
    doubled), so quoted text with line breaks stays whole. The loop runs once per part, not per row."""
    buf = np.frombuffer(data, dtype=np.uint8)
    quotes = np.flatnonzero(buf == ord('"'))
    newlines = np.flatnonzero(buf == ord("\n"))
    ends = newlines[np.searchsorted(quotes, newlines) % 2 == 0] + 1  # exclusive end of each record
    if ends.size == 0:
        return [(data, 0)]
    header_end = int(ends[0])
    rows_end = ends[1:]
    if max_bytes is None or len(data) <= max_bytes or rows_end.size == 0:
        return [(data, int(rows_end.size))]
    capacity = max_bytes - header_end
    longest = int(np.diff(np.concatenate([[header_end], rows_end])).max())
    if capacity < longest:
        raise UsageError(
            f"{setting('max_file_mb')} {max_bytes / MB:g} is too small: the header and the longest row take "
            f"{header_end + longest:,} bytes",
            hint="Give a larger size limit.",
        )
    parts: list[tuple[bytes, int]] = []
    header = data[:header_end]
    start, first = header_end, 0  # byte offset and index of the part's first row
    while first < rows_end.size:
        last = int(np.searchsorted(rows_end, start + capacity, side="right"))  # rows first..last-1 fit
        end = int(rows_end[last - 1])
        parts.append((header + data[start:end], last - first))
        start, first = end, last
    return parts


@dataclass(frozen=True)
class ListSpec:
    """How to write a customer list. All optional: with none set, the list is written as it is."""

    target: str | None = None
    holdout_share: float | None = None
    seed: str | None = None
    max_file_mb: float | None = None
    fmt: str | None = None
    tag: str | None = None  # the segment/stage/action column
    tag_value: str | None = None  # a fixed tag when the list has no such column
    value: str | None = None  # duplicates keep the customer with the highest value
    contacts: pl.DataFrame | None = None  # customer_id + email / email_consent
    columns: tuple[str, ...] = ()  # more columns for a target (names; "all": every column), see handoff.columns
    arms: Arms | None = None  # a split into named arms (instead of holdout_share), see handoff.arms

    @property
    def active(self) -> bool:
        return self.target is not None or self.holdout_share is not None or self.arms is not None

    def check(self, output: str | None) -> None:
        """Options that cannot work, found before any data is read."""
        if self.contacts is not None and self.target is None:
            raise UsageError(
                f"{setting('contacts')} needs {setting('target')}",
                hint=f"e.g. {setting('target')} generic {setting('contacts')} contacts.csv",
            )
        if self.columns and self.target is None:
            raise UsageError(
                f"{setting('columns')} needs {setting('target')}",
                hint="Without a target the list has every column of the command's table.",
            )
        if not self.active:
            for name, given in (("seed", self.seed), ("max_file_mb", self.max_file_mb)):
                if given is not None:
                    raise UsageError(
                        f"{setting(name)} needs {setting('target')} or {setting('holdout_share')}"
                        + (f" (or {setting('arms')})" if name == "seed" else ""),
                        hint=f"e.g. {setting('target')} klaviyo {setting('holdout_share')} 0.1 {setting('seed')} "
                        "spring-2025",
                    )
            return
        if not output or output == "-":
            raise UsageError(
                f"{setting('arms')} needs -o FILE"
                if self.arms is not None and self.target is None
                else f"{setting('target')} and {setting('holdout_share')} need -o FILE",
                hint="They write several files beside it (control group or arms, dropped rows, manifest).",
            )
        kind = output_format(output, self.fmt)
        target = get_target(self.target) if self.target else None
        if target is not None and target.importer and kind != "csv":
            raise UsageError(f"{target.label} imports CSV files, not {kind}", hint="Use -o NAME.csv.")
        if kind == "xlsx":
            raise UsageError(
                "A list for an email tool or with a control group is written as CSV or Parquet, not as an Excel file",
                hint="Email tools import CSV, and uplift reads the groups back: use -o NAME.csv. Without "
                f"{setting('target')} and {setting('holdout_share')}, -o NAME.xlsx writes the list as it is.",
            )
        if self.max_file_mb is not None:
            if self.max_file_mb <= 0:
                raise ConfigError("max_file_mb", "must be > 0")
            if kind != "csv":
                raise UsageError(f"{setting('max_file_mb')} splits CSV files only", hint="Use -o NAME.csv.")
        self._check_split()

    def _check_split(self) -> None:
        """The holdout share or the arms (not both), and the seed they need."""
        if self.holdout_share is not None and self.arms is not None:
            raise UsageError(
                f"{setting('holdout_share')} and {setting('arms')} cannot be used together",
                hint=f"The arm named control is the control group: e.g. {setting('arms')} treatment,control "
                f"{setting('arm_shares')} 0.9,0.1 holds out the same customers as {setting('holdout_share')} 0.1 "
                "with the same seed.",
            )
        split = "holdout_share" if self.holdout_share is not None else "arms" if self.arms is not None else None
        if self.holdout_share is not None:
            check_share(self.holdout_share)
        if split is not None and (self.seed is None or not str(self.seed).strip()):
            raise UsageError(
                f"{setting(split)} needs {setting('seed')}",
                hint=f"Any word or number, e.g. {setting('seed')} spring-2025: the same seed gives the same "
                "split; use a new one per campaign for a fresh split.",
            )
        if split is None and self.seed is not None:
            raise UsageError(
                f"{setting('seed')} needs {setting('holdout_share')} (or {setting('arms')})",
                hint=f"e.g. {setting('holdout_share')} 0.1 {setting('seed')} spring-2025",
            )

    def max_bytes(self, target: Target | None) -> int | None:
        mb = self.max_file_mb if self.max_file_mb is not None else (target.max_mb if target else None)
        return int(mb * MB) if mb is not None else None


@dataclass(frozen=True)
class WrittenFile:
    path: Path
    rows: int
    bytes: int
    sha256: str | None = None

    def to_dict(self, folder: Path) -> dict[str, Any]:
        entry: dict[str, Any] = {"path": _relative(self.path, folder), "rows": self.rows, "bytes": self.bytes}
        if self.sha256 is not None:
            entry["sha256"] = self.sha256
        return entry


@dataclass
class ListReport:
    """What :func:`write_list` wrote and why rows were left out."""

    target: Target | None
    rows_in: int
    treatment: list[WrittenFile] = field(default_factory=list)
    control: list[WrittenFile] = field(default_factory=list)
    dropped: dict[str, int] = field(default_factory=dict)
    dropped_path: Path | None = None
    changes: int = 0
    changes_path: Path | None = None
    split: Split | None = None
    arms: ArmSplit | None = None
    arm_files: dict[str, list[WrittenFile]] = field(default_factory=dict)  # each arm's files, in the arms' order
    manifest: Path | None = None
    removed: list[Path] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    columns: list[str] = field(default_factory=list)  # the list's header (a target's names)

    @property
    def written(self) -> int:
        return sum(f.rows for f in self.treatment) + sum(f.rows for f in self.control)


def _relative(path: Path, folder: Path) -> str:
    try:
        return str(path.relative_to(folder))
    except ValueError:
        return str(path)


def _part_paths(path: Path, n: int) -> list[Path]:
    if n == 1:
        return [path]
    width = max(2, len(str(n)))
    return [path.with_name(f"{path.stem}.part{i:0{width}d}{path.suffix}") for i in range(1, n + 1)]


def _add_csv_parts(files: FileSet, data: bytes, path: Path, max_bytes: int | None) -> list[WrittenFile]:
    parts = split_csv(data, max_bytes)
    written = []
    for (part, rows), target in zip(parts, _part_paths(path, len(parts)), strict=True):
        done = files.add(target, lambda fh, part=part: fh.write(part))
        written.append(WrittenFile(target, rows, done.bytes, done.sha256))
    return written


def _add_one(
    files: FileSet, df: pl.DataFrame, path: Path, *, target: Target | None, fmt: str | None, max_bytes: int | None
) -> list[WrittenFile]:
    kind = output_format(path, fmt)
    if kind == "csv":
        return _add_csv_parts(files, csv_bytes(df, neutralise=not (target and target.importer)), path, max_bytes)
    done = files.add_table(path, df, fmt=fmt)
    return [WrittenFile(path, df.height, done.bytes, done.sha256)]


def write_plain_list(
    table: pl.DataFrame | Rows, output: str | Path, *, fmt: str | None = None
) -> tuple[Path | None, list[Path], list[str]]:
    """A list without hand-off options: the table as it is (``-`` = stdout), and the files of an earlier set of
    the same name (:func:`set_members`: control group, parts, dropped rows, changes, manifest, as its manifest
    lists them) removed with it, in one commit. Returns the path written (None for stdout), the files removed,
    and notes (files named like the set's but not an earlier run's, left as they are)."""
    if str(output) == "-":
        return _write_table(table, output, fmt=fmt), [], []
    path = Path(output)
    members = set_members(path)
    with FileSet() as files:
        files.add_table(path, table, fmt=fmt)
        removed = files.commit(remove=[p for p in members.ours if p != path])
    note = members.left_note({path})
    return path, removed, [note] if note else []


def write_list(table: pl.DataFrame, output: str | Path, spec: ListSpec) -> ListReport:
    """Screen, split and format ``table`` for ``spec.target`` and write it (see the module docstring).

    The files are written as one set (:class:`~loyalty_cli.io.writers.FileSet`): all of them, or, after an
    error or an interrupt, none, the earlier set left complete. Files of an earlier set of the same name that
    this one does not write are removed (``report.removed``)."""
    path = Path(output)
    spec.check(str(output))
    target = get_target(spec.target) if spec.target else None
    report = ListReport(target=target, rows_in=table.height)
    rows = table
    dropped = None
    if target is not None:
        rows, dropped = _screen(rows, spec, target, report)
        rows = rows.select(
            list_columns(rows.columns, tag=spec.tag, tag_value=spec.tag_value, value=spec.value, asked=spec.columns)
        )
    frames, report.split, report.arms = split_list(
        rows, path, holdout_share=spec.holdout_share, arms=spec.arms, seed=str(spec.seed)
    )
    max_bytes = spec.max_bytes(target)
    with FileSet() as files:
        if dropped is not None:
            report.dropped_path = sibling(path, "dropped", ".csv")
            files.add_table(report.dropped_path, dropped)
        logs = []
        for name, where, frame in frames:
            out = frame
            if target is not None:
                out, log = format_for_target(frame, target, tag=spec.tag, tag_value=spec.tag_value)
                logs.append(log)
            written = _add_one(files, out, where, target=target, fmt=spec.fmt, max_bytes=max_bytes)
            report.columns = report.columns or out.columns
            (report.control if name == CONTROL else report.treatment).extend(written)
            if report.arms is not None:
                report.arm_files[name] = written
        log = pl.concat(logs) if logs else None
        if log is not None and log.height:
            report.changes, report.changes_path = log.height, sibling(path, "changes", ".csv")
            files.add_table(report.changes_path, log)
        report.manifest = sibling(path, "manifest", ".json")
        text = _manifest_text(path, report, max_bytes)
        files.add(report.manifest, lambda fh: fh.write(text.encode("utf-8")))
        keep = {f.path for f in (*report.treatment, *report.control)}
        keep |= {p for p in (report.dropped_path, report.changes_path, report.manifest) if p is not None}
        members = set_members(path)
        report.removed = files.commit(remove=[p for p in members.ours if p not in keep])
    note = members.left_note(keep)
    if note:
        report.notes.append(note)
    return report


def _screen(
    rows: pl.DataFrame, spec: ListSpec, target: Target, report: ListReport
) -> tuple[pl.DataFrame, pl.DataFrame | None]:
    """The rows that go to ``target`` (after ``spec.contacts``, when given) and the dropped rows (None when none
    were), their counts and notes added to ``report``."""
    if spec.contacts is not None:
        rows = attach_contacts(rows, spec.contacts)
    screened = screen_rows(rows, target=target, value=spec.value)
    report.dropped = screened.dropped_counts()
    if not screened.has_email:
        report.notes.append(
            "The list has no email column: no email checks or de-duplication"
            + (f" ({target.label} identifies rows by {target.id_header})" if target.name == "braze" else "")
        )
    if screened.consent_column:
        report.notes.append(f"Consent from column {screened.consent_column!r}: rows without a clear yes left out")
    return screened.rows, screened.dropped if screened.dropped.height else None


def _manifest_text(path: Path, report: ListReport, max_bytes: int | None) -> str:
    folder = path.parent
    target = report.target
    manifest: dict[str, Any] = {
        "output": _relative(path, folder),
        "target": target.name if target else None,
        "rows_in": report.rows_in,
        "rows_written": report.written,
        "files": {
            "treatment": [f.to_dict(folder) for f in report.treatment],
            "control": [f.to_dict(folder) for f in report.control],
            "dropped": _relative(report.dropped_path, folder) if report.dropped_path else None,
            "changes": _relative(report.changes_path, folder) if report.changes_path else None,
        },
        "dropped": report.dropped,
        "cleaned_cells": report.changes,
        "max_file_bytes": max_bytes,
        "holdout": report.split.to_dict() if report.split else None,
        "arms": None,
    }
    if report.arms is not None:
        files = {arm: [_relative(f.path, folder) for f in written] for arm, written in report.arm_files.items()}
        manifest["arms"] = report.arms.to_dict(files)
    if target is not None:
        manifest["format"] = {
            "email_column": target.email_header,
            "id_column": target.id_header,
            "date_format": target.date_format,
            "datetime_format": target.datetime_format,
            "encoding": "utf-8",
        }
    return json.dumps(manifest, indent=2, ensure_ascii=False) + "\n"
