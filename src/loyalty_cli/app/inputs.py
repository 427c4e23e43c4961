"""The one entrance for a command's inputs: :func:`load_inputs`.

Every command says what it reads in an :class:`InputSpec` (transactions through stage 1, surveys, contacts,
members, points) and gets an :class:`Inputs`: the collected tables, the rejected rows per kind, the scans
(how each file was read), the resolved as-of date as a value, and the notes, all as data. This is the seam
where the compute engine is chosen: nothing outside it reads transaction lines.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date
from typing import TYPE_CHECKING

import polars as pl

from loyalty_cli.app.messages import Messages
from loyalty_cli.errors import DataError, setting
from loyalty_cli.io.readers import ReadOptions, Scan
from loyalty_cli.words import count

if TYPE_CHECKING:
    from loyalty_cli.io.validate import BadRows
    from loyalty_cli.stage1 import Loaded

#: the inputs besides the transactions, in the order they are read
SIDE_KINDS = ("surveys", "contacts", "members", "points")


@dataclass(frozen=True)
class InputSpec:
    """What a command reads. ``options``: the column mapping and file settings (the transactions' and, for
    the mapping file, every kind's); ``as_of``: exclusive end of the data (None: the day after the last
    transaction); ``activity``: also the customer x day activity table; ``need_customers``: stop with a clear
    error when nobody bought before the as-of date; ``lines``: named plans over the valid transaction lines
    (``rows -> LazyFrame``) collected in the same pass as stage 1, for the rare command that needs more than
    the customer tables (e.g. campaign windows)."""

    transactions: Sequence[str] = ()
    surveys: Sequence[str] = ()
    contacts: Sequence[str] = ()
    members: Sequence[str] = ()
    points: Sequence[str] = ()
    options: ReadOptions = field(default_factory=ReadOptions)
    as_of: date | None = None
    on_bad_rows: BadRows = "error"
    activity: bool = False
    need_customers: bool = True
    lines: Mapping[str, Callable[[pl.LazyFrame], pl.LazyFrame]] = field(default_factory=dict)

    def paths(self, kind: str) -> Sequence[str]:
        return getattr(self, kind)


@dataclass(frozen=True)
class Inputs:
    """A command's inputs, read and checked. ``tables``: ``customers`` and ``activity`` (stage 1), the
    side kinds that were read, and the named ``lines`` plans; ``rejects``: the rejected rows per kind (empty
    frames when none, only under ``on_bad_rows="skip"`` can there be any); ``as_of``: the date used."""

    spec: InputSpec
    loaded: Loaded | None
    tables: dict[str, pl.DataFrame]
    scans: dict[str, Scan]
    rejects: dict[str, pl.DataFrame]
    as_of: date | None

    @property
    def customers(self) -> pl.DataFrame:
        return self.tables["customers"]

    @property
    def activity(self) -> pl.DataFrame:
        return self.tables["activity"]

    def get(self, kind: str) -> pl.DataFrame | None:
        return self.tables.get(kind)


def load_inputs(spec: InputSpec, messages: Messages | None = None) -> Inputs:
    """Read every input of ``spec`` once: stage 1 for the transactions (shared within a pipeline, see
    :func:`loyalty_cli.stage1.shared_reads`), then the other kinds in one pass. Says how each was read in
    ``messages`` as it goes; raises :class:`DataError` on bad rows under ``on_bad_rows="error"``."""
    messages = messages if messages is not None else Messages()
    tables: dict[str, pl.DataFrame] = {}
    scans: dict[str, Scan] = {}
    rejects: dict[str, pl.DataFrame] = {}
    loaded = _transactions(spec, messages) if spec.transactions else None
    if loaded is not None:
        tables["customers"] = loaded.customers
        if loaded.activity is not None:
            tables["activity"] = loaded.activity
        tables.update(loaded.lines)
        scans["transactions"] = loaded.scan
        rejects["transactions"] = _joined(loaded.rejects)
    as_of = loaded.as_of if loaded is not None and loaded.as_of is not None else spec.as_of
    side = [kind for kind in SIDE_KINDS if spec.paths(kind)]
    if side:
        read = _side(spec, side, as_of, messages)
        for kind, (rows, scan, rejected) in read.items():
            tables[kind], scans[kind], rejects[kind] = rows, scan, rejected
    return Inputs(spec=spec, loaded=loaded, tables=tables, scans=scans, rejects=rejects, as_of=as_of)


def _joined(frames: Sequence[pl.DataFrame]) -> pl.DataFrame:
    found = [f for f in frames if f.height]
    return pl.concat(found, how="diagonal_relaxed") if found else pl.DataFrame()


def _transactions(spec: InputSpec, messages: Messages) -> Loaded:
    from loyalty_cli.stage1 import load_transactions

    loaded = load_transactions(
        spec.transactions,
        spec.options,
        as_of=spec.as_of,
        on_bad_rows=spec.on_bad_rows,
        activity=spec.activity,
        lines=spec.lines,
        on_scan=lambda scan: describe_scan(scan, messages),
    )
    note_left_out(loaded.scan, messages)
    messages.notes([loaded.left_out_note()])
    if spec.need_customers and loaded.customers.is_empty():
        raise DataError(
            "No customer made a purchase before the as-of date in " + ", ".join(str(p) for p in loaded.scan.paths[:3]),
            hint=f"Check {setting('as_of')}, the date and amount columns, and the rejects file if rows were skipped.",
        )
    return loaded


def _side(
    spec: InputSpec, kinds: Sequence[str], as_of: date | None, messages: Messages
) -> dict[str, tuple[pl.DataFrame, Scan, pl.DataFrame]]:
    """The other inputs, their columns detected or taken from the mapping file, read up to the as-of date
    and collected in one pass. Survey rows come prepared (:func:`prepare_responses`)."""
    from loyalty_cli.io import readers
    from loyalty_cli.io.validate import collect_checked

    options = ReadOptions(mapping_file=spec.options.mapping_file)
    scans: dict[str, Scan] = {}
    frames: list[pl.LazyFrame] = []
    for kind in kinds:
        paths = spec.paths(kind)
        if kind == "contacts":
            scan = readers.read_contacts(paths, options)
        else:
            read = {"surveys": readers.read_surveys, "members": readers.read_members, "points": readers.read_points}
            scan = read[kind](paths, options, as_of=as_of)
        frame = scan.rows
        if kind == "surveys":
            from loyalty_cli.metrics.nps import NpsConfig, prepare_responses

            frame = prepare_responses(frame, config=NpsConfig())
        describe_scan(scan, messages)
        scans[kind] = scan
        frames.append(frame)
    rows, rejected = collect_checked(list(scans.values()), frames, on_bad_rows=spec.on_bad_rows)
    for scan in scans.values():
        note_left_out(scan, messages)
    return {
        kind: (table, scan, _joined([bad]))
        for (kind, scan), table, bad in zip(scans.items(), rows, rejected, strict=True)
    }


def describe_scan(scan: Scan, messages: Messages) -> None:
    """How an input is read: its files, the column mapping, the date formats and the reader's notes."""
    files = scan.paths
    shown = str(files[0]) if len(files) == 1 else f"{count(len(files), 'file')} ({files[0]} ... {files[-1]})"
    messages.note(f"Reading {scan.table} from {shown}")
    messages.note("Columns: " + "; ".join(scan.mapping.describe()))
    for name, fmt in scan.date_formats.items():
        messages.note(f"Dates in {scan.mapping.columns[name]!r} read as {fmt}")
    messages.notes(scan.notes)


def note_left_out(scan: Scan, messages: Messages) -> None:
    """After collecting: how many rows were dated on or after the as-of date (left out, not bad), and how many
    lines repeated across files the keep-first overlap policy left out."""
    from loyalty_cli.io.overlap import overlap_note

    messages.notes([scan.left_out_note()])
    if scan.overlap is not None and scan.overlap.found and scan.overlap.policy == "keep-first":
        messages.note(overlap_note(scan.overlap.found, scan.table))
