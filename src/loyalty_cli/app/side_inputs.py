"""The inputs besides the transactions (surveys, contacts, members, points), as
:func:`~loyalty_cli.app.inputs.load_inputs` reads them: scanned, said and checked before any row is read, then
collected in one pass (:func:`scanned_first`, :func:`read_sides`); a previous lifecycle snapshot
(:func:`read_previous`); and what every read of an input shares, the transactions' too: how it is said
(:func:`describe_scan`, :func:`note_left_out`) and its rejected rows joined (:func:`joined`)."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date
from typing import TYPE_CHECKING

import polars as pl

from loyalty_cli.app.messages import Messages
from loyalty_cli.errors import DataError, setting
from loyalty_cli.io.readers import ReadOptions, Scan
from loyalty_cli.words import count

if TYPE_CHECKING:
    from loyalty_cli.app.inputs import InputSpec


def joined(frames: Sequence[pl.DataFrame]) -> pl.DataFrame:
    found = [f for f in frames if f.height]
    return pl.concat(found, how="diagonal_relaxed") if found else pl.DataFrame()


def read_sides(
    spec: InputSpec,
    kinds: Sequence[str],
    as_of: date | None,
    messages: Messages,
    scanned: dict[str, tuple[Scan, pl.LazyFrame]] | None = None,
) -> dict[str, tuple[pl.DataFrame, Scan, pl.DataFrame]]:
    """The other inputs, their columns detected or taken from the mapping file, read up to the as-of date
    and collected in one pass. Survey rows come prepared (:func:`prepare_responses`). ``scanned``: the scans
    made already (:attr:`InputSpec.sides_first`)."""
    from loyalty_cli.io.validate import collect_checked

    scanned = scanned if scanned is not None else _scan_side(spec, kinds, as_of, messages)
    scans = {kind: scan for kind, (scan, _) in scanned.items()}
    frames = [frame for _, frame in scanned.values()]
    rows, rejected = collect_checked(list(scans.values()), frames, on_bad_rows=spec.on_bad_rows)
    for scan in scans.values():
        note_left_out(scan, messages)
    return {
        kind: (table, scan, joined([bad]))
        for (kind, scan), table, bad in zip(scans.items(), rows, rejected, strict=True)
    }


def scanned_first(
    spec: InputSpec, kinds: Sequence[str], messages: Messages
) -> dict[str, tuple[Scan, pl.LazyFrame]] | None:
    """The side kinds scanned before the transactions, up to the as-of date given (:attr:`InputSpec.sides_first`);
    else None: they are scanned after the transactions, up to the transactions' as-of date."""
    return _scan_side(spec, kinds, spec.as_of, messages) if kinds and spec.sides_first else None


def _scan_side(
    spec: InputSpec, kinds: Sequence[str], as_of: date | None, messages: Messages
) -> dict[str, tuple[Scan, pl.LazyFrame]]:
    """Each other input's scan (its read options: :attr:`InputSpec.side_options`, else the mapping file) and
    rows to collect, said and checked (:attr:`InputSpec.check_scan`) before any row is read."""
    from loyalty_cli.io import readers

    # the mapping file, and what to do with lines repeated across files (checked in a points ledger)
    default = ReadOptions(mapping_file=spec.options.mapping_file, on_overlap=spec.options.on_overlap)
    scanned: dict[str, tuple[Scan, pl.LazyFrame]] = {}
    for kind in kinds:
        paths, options = spec.paths(kind), spec.side_options.get(kind, default)
        if kind == "contacts":
            scan = readers.read_contacts(paths, options)
        else:
            read = {"surveys": readers.read_surveys, "members": readers.read_members, "points": readers.read_points}
            scan = read[kind](paths, options, as_of=as_of)
        frame = scan.rows
        if kind == "surveys":
            from loyalty_cli.metrics.nps import NpsConfig, prepare_responses

            frame = prepare_responses(frame, config=spec.survey_config or NpsConfig())
        describe_scan(scan, messages)
        if kind in spec.check_scan:
            spec.check_scan[kind](scan, messages)
        scanned[kind] = (scan, frame)
    return scanned


def read_previous(path: str, as_of: date | None) -> pl.DataFrame:
    """A previous lifecycle snapshot (an earlier ``loyalty lifecycle -o`` file, CSV, Parquet or JSON) as
    ``customer_id, previous_stage, previous_as_of``
    (:func:`~loyalty_cli.metrics.lifecycle_transitions.check_previous`)."""
    from pathlib import Path

    from loyalty_cli.errors import UsageError
    from loyalty_cli.io.snapshots import read_snapshot
    from loyalty_cli.metrics.lifecycle_transitions import check_previous

    file = Path(path)
    if not file.is_file():
        raise DataError(
            f"Previous snapshot not found: {file}",
            hint="Pass a file written by an earlier `loyalty lifecycle -o FILE`.",
        )
    try:
        frame = read_snapshot(file, text=("customer_id", "stage"))
    except UsageError as exc:
        raise UsageError(f"{setting('previous')}: {exc.message}", hint=exc.hint) from None
    except (pl.exceptions.PolarsError, OSError, ValueError) as exc:
        raise DataError(
            f"Could not read the previous snapshot {file}: {str(exc).splitlines()[0]}",
            hint="Pass a file written by `loyalty lifecycle -o` (.csv, .parquet or .json).",
        ) from None
    return check_previous(frame, source=str(file), as_of=as_of)


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
