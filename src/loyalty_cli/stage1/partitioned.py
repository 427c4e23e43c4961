"""Stage 1 in passes over customer partitions: transactions larger than a memory budget, the same tables.

:func:`collect_partitioned` does what the one-pass read of :func:`loyalty_cli.stage1.load.load_transactions`
does, holding about 1/N of the lines' working set at a time, with the same results (same rows, order and types):

1. **One read of the files** writes the valid lines into N Parquet spill files, each holding the customers whose
   id hash falls in it, in a temporary folder of its own (:func:`loyalty_cli.io.tempfiles.owned_workspace`:
   removed at the end or on an interrupt, or by a later run when this one was killed). The rejected rows, the
   rows left out after the as-of date and the ``lines`` plans (over all the lines, as in one pass) are collected
   in the same ``collect_all`` as in one pass, so they come the same.
2. **Each spill file in turn** (all of a customer's lines are in one): its customer summary, its no-purchase row
   and its activity table, written sorted by customer beside it, so that a pass holds one part only. Lines
   repeated across files are checked there too (a line and its repeat share their customer); the parts' checks
   add up to the whole check, and its errors come in the one-pass order (repeats, short rows, bad rows).
3. **The parts merged** in customer order (a streaming merge of the sorted files, each part's own order kept).
   The as-of date, when not given, is the day after the last order of all the parts (the latest of the parts'),
   and each customer's recency and tenure are counted to it; the no-purchase rows are summed.

The tables hold the same rows, values and types as one pass. Their order is fixed here (by customer id, the
activity table by customer and day), not in one pass, where it is the group-by's (left as it is: sorting costs
0.2-0.5 s for 1M customers and 1-3 s for the activity table of 10M lines, 5-40% of stage 1, and a float sum of
``metrics.rfm.segment_summary`` over customers in id order changes in its last digits from run to run, as it
rarely does in the group-by's order).
"""

from __future__ import annotations

import shutil
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, replace
from datetime import date
from pathlib import Path

import polars as pl

from loyalty_cli.errors import LoyaltyError
from loyalty_cli.io.overlap import OverlapCheck, merged_summary
from loyalty_cli.io.readers import Scan
from loyalty_cli.io.rows import aligned
from loyalty_cli.io.tempfiles import owned_workspace
from loyalty_cli.io.validate import BadRows, collect_checked, raise_problems
from loyalty_cli.memory import format_size
from loyalty_cli.stage1.activity_parts import ActivityParts, part_of, parts_folder
from loyalty_cli.stage1.customers import at_as_of, combined_no_purchase, stage1_plans
from loyalty_cli.stage1.passes import count_lines

#: the temporary folders of the partitioned read: ``loyalty-spill-<host>-<pid>-<random>``
SPILL_KIND = "spill"
#: lz4 wrote and read the spill files ~25% faster than zstd (the default), for ~40% more disk
SPILL_COMPRESSION = "lz4"
#: the order of the tables the partitioned stage 1 returns
CUSTOMER_ORDER = ("customer_id",)
ACTIVITY_ORDER = ("customer_id", "day")
#: disk a spilled line takes per column, with room to spare (measured: ~4 bytes for 4 columns of generated lines)
SPILL_BYTES_PER_COLUMN = 10
_PART = "_part"

Plan = Callable[[pl.LazyFrame], pl.LazyFrame]


@dataclass(frozen=True)
class Parts:
    """What the partitioned stage 1 collected: the customer summary and its no-purchase row (``summary``), the
    activity table (``activity``, or ``activity_parts`` when kept in its parts; None for what was not asked), the
    ``lines`` plans and the rejected rows."""

    customers: pl.DataFrame | None
    no_purchase: pl.DataFrame | None
    activity: pl.DataFrame | None
    lines: dict[str, pl.DataFrame]
    rejects: list[pl.DataFrame]
    activity_parts: ActivityParts | None = None


def collect_partitioned(
    scan: Scan,
    *,
    passes: int,
    as_of: date | None,
    on_bad_rows: BadRows = "error",
    summary: bool = True,
    activity: bool = False,
    lines: Mapping[str, Plan] | None = None,
    on_pass: Callable[[int, int], None] | None = None,
    keep_parts: bool = False,
) -> Parts:
    """Stage 1 over ``scan`` in ``passes`` passes (see the top). ``on_pass(i, passes)`` is called before the read
    that writes the partitions (``i`` = 0) and before each pass over one (1 to ``passes``). ``keep_parts``: the
    activity table is left in its parts on disk (:class:`ActivityParts`, in a folder of its own, removed once it
    is dropped), not merged."""
    named = dict(lines or {})
    kept = parts_folder() if activity and keep_parts else None
    try:
        return _collect(scan, passes, as_of, on_bad_rows, summary, activity, named, on_pass, kept)
    except BaseException:
        if kept is not None:
            shutil.rmtree(kept, ignore_errors=True)
        raise


def _collect(
    scan: Scan,
    passes: int,
    as_of: date | None,
    on_bad_rows: BadRows,
    summary: bool,
    activity: bool,
    named: dict[str, Plan],
    on_pass: Callable[[int, int], None] | None,
    kept: Path | None,
) -> Parts:
    check = scan.overlap if scan.overlap is not None and scan.overlap.tagged is not None else None  # per part
    with owned_workspace(SPILL_KIND, "the partitioned read") as tmp:
        folder = Path(tmp)
        _check_space(scan, folder)
        spills = [folder / f"lines_{i}.parquet" for i in range(passes)]
        if on_pass is not None:
            on_pass(0, passes)
        frames = [plan(scan.rows) for plan in named.values()]
        found, rejects = _spill(scan, check, spills, frames, on_bad_rows=on_bad_rows)
        if check is not None:  # the problems of the read wait for the repeats, which come first
            _raise_after_repeats(scan, check, spills, rejects, on_bad_rows=on_bad_rows)
        ends: list[date] = []
        no_purchase: list[pl.DataFrame] = []
        repeats: list[pl.DataFrame] = []
        for i, spill in enumerate(spills):
            if on_pass is not None:
                on_pass(i + 1, passes)
            out = _pass(spill, folder, i, check, as_of=as_of, summary=summary, activity=activity, kept=kept)
            if summary:
                no_purchase.append(out["no_purchase"])
                ends.extend(d for d in out["end"]["as_of"] if d is not None)
            if check is not None:
                repeats.append(out["repeats"])
            spill.unlink()
        if check is not None:
            check.settle(merged_summary(repeats))
            raise_problems([scan], rejects, on_bad_rows=on_bad_rows)  # only the repeats are left to raise
        end = as_of if as_of is not None else max(ends, default=None)
        customers = _merged(folder, "customers", passes, end if as_of is None else None) if summary else None
        table = _merged(folder, "activity", passes, None) if activity and kept is None else None
    return Parts(
        customers=customers,
        no_purchase=combined_no_purchase(no_purchase) if summary else None,
        activity=table,
        lines=dict(zip(named, found, strict=True)),
        rejects=rejects,
        activity_parts=_kept(kept, passes) if kept is not None else None,
    )


def _spill(
    scan: Scan,
    check: OverlapCheck | None,
    spills: Sequence[Path],
    frames: Sequence[pl.LazyFrame],
    *,
    on_bad_rows: BadRows,
) -> tuple[list[pl.DataFrame], list[pl.DataFrame]]:
    """The read: the valid lines into the spill files by customer hash, collected with ``frames`` and the rejected
    rows. With ``check`` (the scan's lines repeated across files, checked per part) the lines keep the rank of
    their file and the read's problems wait (the repeats come first: see :func:`_raise_after_repeats`); else they
    are raised here."""
    rows = scan.rows if check is None else check.tagged
    assert rows is not None  # a check made per part has its tagged lines
    keyed = rows.with_columns(part_of(len(spills)).alias(_PART))
    sinks = [
        keyed.filter(pl.col(_PART) == i).drop(_PART).sink_parquet(path, compression=SPILL_COMPRESSION, lazy=True)
        for i, path in enumerate(spills)
    ]
    reading = scan if check is None else replace(scan, overlap=None)  # shares ``left_out`` with the scan
    out, rejects = collect_checked([reading], [*frames, *sinks], on_bad_rows=on_bad_rows, check=check is None)
    return out[: len(frames)], rejects


def _raise_after_repeats(
    scan: Scan, check: OverlapCheck, spills: Sequence[Path], rejects: list[pl.DataFrame], *, on_bad_rows: BadRows
) -> None:
    """When the read found a problem to raise (short rows, or bad rows under ``error``): the repeats first, as one
    pass raises them (a duplicate export is the cause of both), found part by part; then the problem."""
    try:
        raise_problems([replace(scan, overlap=None)], rejects, on_bad_rows=on_bad_rows, stop_on_overlap=False)
    except LoyaltyError:
        summaries = [check.resolve(pl.scan_parquet(spill))[1].collect(engine="streaming") for spill in spills]
        check.settle(merged_summary(summaries))
        raise_problems([scan], rejects, on_bad_rows=on_bad_rows)
        raise


def _pass(
    spill: Path,
    folder: Path,
    i: int,
    check: OverlapCheck | None,
    *,
    as_of: date | None,
    summary: bool,
    activity: bool,
    kept: Path | None = None,
) -> dict[str, pl.DataFrame]:
    """Part ``i``'s tables: ``customers`` and ``activity`` written sorted into ``folder`` (the activity into
    ``kept`` when given: :func:`_part_file`);
    returned the small ones: ``no_purchase``, ``end`` (its as-of date) and ``repeats`` (its check of lines repeated
    across files)."""
    lines = pl.scan_parquet(spill)
    plans: dict[str, pl.LazyFrame] = {}
    if check is not None:
        lines, plans["repeats"] = check.resolve(lines)
    tables = stage1_plans(lines, as_of=as_of, activity=activity)
    if summary:
        plans["no_purchase"], plans["end"] = tables.no_purchase, tables.end
        plans["customers"] = _sunk(tables.summary.sort(CUSTOMER_ORDER), _part_file(folder, "customers", i))
    if tables.activity is not None:
        target = _part_file(kept or folder, "activity", i)
        plans["activity"] = _sunk(tables.activity.sort(ACTIVITY_ORDER), target)
    try:
        return dict(zip(plans, pl.collect_all(list(plans.values()), engine="streaming"), strict=True))
    except (pl.exceptions.PolarsError, OSError) as exc:
        raise _failed(folder, exc) from None


def _kept(folder: Path, passes: int) -> ActivityParts:
    return ActivityParts(folder, tuple(_part_file(folder, "activity", i) for i in range(passes)))


def _sunk(table: pl.LazyFrame, path: Path) -> pl.LazyFrame:
    return table.sink_parquet(path, compression=SPILL_COMPRESSION, lazy=True)


def _merged(folder: Path, name: str, passes: int, as_of: date | None) -> pl.DataFrame:
    """The parts' ``name`` tables merged in customer order (each part's own order kept: a customer is in one
    part); the summary's as-of columns counted to ``as_of`` when given."""
    frames = [pl.scan_parquet(_part_file(folder, name, i)) for i in range(passes)]
    while len(frames) > 1:  # a balanced tree of two-way merges
        pairs = [a.merge_sorted(b, key=CUSTOMER_ORDER[0]) for a, b in zip(frames[::2], frames[1::2], strict=False)]
        frames = pairs + ([frames[-1]] if len(frames) % 2 else [])
    merged = at_as_of(frames[0], as_of) if as_of is not None else frames[0]
    try:
        # the as-of date comes in one piece beside the other columns' chunks: cut alike, or every eager step of
        # stage 2 on the table would copy every column (io.rows.aligned)
        return aligned(merged.collect(engine="streaming"))
    except (pl.exceptions.PolarsError, OSError) as exc:
        raise _failed(folder, exc) from None


def _part_file(folder: Path, name: str, i: int) -> Path:
    return folder / f"{name}_{i}.parquet"


def _check_space(scan: Scan, folder: Path) -> None:
    """Stop before reading when the temporary folder's disk clearly cannot hold the spill files."""
    lines, _ = count_lines(scan.sources)
    columns = len(scan.mapping.columns) + (scan.overlap is not None)
    need = lines * columns * SPILL_BYTES_PER_COLUMN
    free = shutil.disk_usage(folder).free
    if need > free:
        raise LoyaltyError(
            f"Not enough free disk for the partitioned read in {folder.parent}: it writes about {format_size(need)} "
            f"of temporary files, and {format_size(free)} is free",
            hint="Point TMPDIR at a folder on a disk with more free space.",
        )


def _failed(folder: Path, exc: BaseException) -> LoyaltyError:
    reason = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
    return LoyaltyError(
        f"The partitioned read failed in its temporary folder {folder}: {reason}",
        hint="Point TMPDIR at a writable folder on a disk with more free space.",
    )
