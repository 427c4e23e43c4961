"""Stage 1, collected: read the transactions once and keep the customer table and the activity table.

Every transaction-based command starts here: :func:`load_transactions` reads the files (one pass, with the
rejected rows) and returns the customer summary and, when asked, the customer x day activity table. Stage 2
(scores, models, cohorts, lists) works on those DataFrames, whose size grows with customers, not rows.
Customers with orders but no purchase (only returns) are in no customer table: the same pass counts them and
their net value (:attr:`Loaded.no_purchase`), and :meth:`Loaded.left_out_note` says it, as the scan says the
rows dated on or after the as-of date.

Inside :func:`shared_reads` (``loyalty run``), loads are remembered: every step of a pipeline that reads the
same files with the same settings and as-of date gets the same tables without reading the files again.

With a memory budget (``memory_limit``), stage 1 runs in as many passes over customer partitions as the
working set estimated from the inputs needs (:mod:`loyalty_cli.stage1.passes`,
:mod:`loyalty_cli.stage1.partitioned`), with the same tables: the same rows, values and types. In passes they
come sorted by customer id (the activity table by customer and day); in one pass in the group-by's order, which
is not fixed (sorting them would cost 5-40% of stage 1 and changes the last digits of float sums downstream that
depend on row order: see the partitioned module).
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path

import polars as pl

from loyalty_cli.io.readers import ReadOptions, Scan, read_transactions
from loyalty_cli.io.sources import expand_inputs
from loyalty_cli.io.validate import BadRows, collect_checked
from loyalty_cli.memory import format_size
from loyalty_cli.stage1.activity_parts import Activity, ActivityParts
from loyalty_cli.stage1.customers import stage1_plans
from loyalty_cli.stage1.partitioned import collect_partitioned
from loyalty_cli.stage1.passes import estimate, plan_passes
from loyalty_cli.words import count


@dataclass(frozen=True)
class Loaded:
    """The transactions of one command: how they were read, the stage-1 tables and the rejected rows."""

    scan: Scan
    customers: pl.DataFrame  # customer_summary: one row per customer with a purchase before as_of
    activity: pl.DataFrame | None  # customer_activity: one row per customer and day with orders
    rejects: list[pl.DataFrame]
    # one row about the customers with orders but no purchase (only returns), in no table above:
    # customers, return_orders, net_cents, net_value (see summary_with_no_purchase)
    no_purchase: pl.DataFrame
    # named plans over the valid lines collected in the same pass (see load_transactions' ``lines``)
    lines: dict[str, pl.DataFrame] = field(default_factory=dict)
    passes: int = 1  # over customer partitions, for ``memory_limit`` (bytes; None: no budget)
    memory_limit: int | None = None
    # in passes, the activity table left in its parts on disk (``activity`` is None then): see activity_parts
    activity_parts: ActivityParts | None = None

    def activity_table(self) -> pl.DataFrame | None:
        """The whole activity table (its parts merged when it is in parts; None when not asked)."""
        return self.activity_parts.collect() if self.activity_parts is not None else self.activity

    def activity_source(self) -> Activity | None:
        """The activity table as the metrics take it: its parts when in parts, else the table (None: not asked)."""
        return self.activity_parts if self.activity_parts is not None else self.activity

    @property
    def as_of(self) -> date | None:
        """The as-of date used (given, or the day after the last transaction); None without customers."""
        return self.customers["as_of"][0] if self.customers.height else None

    def left_out_note(self) -> str | None:
        """How many customers had orders but no purchase (left out of the customer tables), and their net value."""
        row = self.no_purchase.row(0, named=True)
        return no_purchase_note(row["customers"], row["net_cents"])

    def passes_note(self) -> str | None:
        """``Stage 1 in 4 passes for a memory budget of 1.0 GB`` (None in one pass)."""
        return passes_note(self.passes, self.memory_limit)


def passes_note(passes: int, memory_limit: int | None) -> str | None:
    """``Stage 1 in 4 passes for a memory budget of 1.0 GB`` (None for one pass)."""
    if passes <= 1:
        return None
    budget = f" for a memory budget of {format_size(memory_limit)}" if memory_limit is not None else ""
    return f"Stage 1 in {passes} passes over customer partitions{budget}"


def no_purchase_note(customers: int, net_cents: int) -> str | None:
    """``33 customers with no purchase, only returns, left out: -10,411.24`` (None for nobody)."""
    if not customers:
        return None
    return f"{count(customers, 'customer')} with no purchase, only returns, left out: {net_cents / 100:,.2f}"


_cache: ContextVar[dict[tuple[object, ...], Loaded] | None] = ContextVar("loyalty_stage1_cache", default=None)


@contextmanager
def shared_reads() -> Iterator[dict[tuple[object, ...], Loaded]]:
    """Within this block, identical loads are read once (``loyalty run``)."""
    token = _cache.set({})
    try:
        yield _cache.get()  # type: ignore[misc]
    finally:
        _cache.reset(token)


def _key(
    inputs: Sequence[str | Path], options: ReadOptions, as_of: date | None, on_bad_rows: str
) -> tuple[object, ...]:
    files = []
    for path in expand_inputs(inputs):
        stat = path.stat()
        files.append((str(path.resolve()), stat.st_size, stat.st_mtime_ns))
    mapping = options.mapping_file
    on_disk = isinstance(mapping, Path) and mapping.is_file()  # a mapping given as data is in repr(options)
    mapping_state = (str(mapping), mapping.stat().st_mtime_ns) if on_disk else None  # type: ignore[union-attr]
    return (tuple(files), repr(options), mapping_state, as_of, on_bad_rows)


def _one_pass(
    scan: Scan,
    *,
    as_of: date | None,
    on_bad_rows: BadRows,
    activity: bool,
    lines: Mapping[str, Callable[[pl.LazyFrame], pl.LazyFrame]],
) -> tuple[pl.DataFrame, pl.DataFrame, pl.DataFrame | None, dict[str, pl.DataFrame], list[pl.DataFrame]]:
    """Stage 1 in one read, every table from one plan: the customers, the no-purchase row, the activity table
    (when asked), the ``lines`` plans and the rejected rows."""
    plans = stage1_plans(scan.rows, as_of=as_of, activity=activity)  # one plan: the lines are read once
    frames = [plans.summary, plans.no_purchase, *([plans.activity] if plans.activity is not None else [])]
    frames.extend(plan(scan.rows) for plan in lines.values())
    results, rejects = collect_checked([scan], frames, on_bad_rows=on_bad_rows)
    found = dict(zip(lines, results[3 if activity else 2 :], strict=True))
    return results[0], results[1], results[2] if activity else None, found, rejects


def load_transactions(
    inputs: Sequence[str | Path],
    options: ReadOptions | None = None,
    *,
    as_of: date | None,
    on_bad_rows: BadRows = "error",
    activity: bool = False,
    lines: Mapping[str, Callable[[pl.LazyFrame], pl.LazyFrame]] | None = None,
    on_scan: Callable[[Scan], None] | None = None,
    memory_limit: int | None = None,
    passes: int | None = None,
    on_pass: Callable[[int, int], None] | None = None,
) -> Loaded:
    """Read transactions once: the customer summary (and the activity table when ``activity``); ``lines``:
    more named plans over the valid lines, collected in the same pass (never shared within a pipeline).
    ``on_scan`` is called with the scan before the files are read (e.g. to say how the columns were mapped).
    ``memory_limit`` (bytes; None: no budget): stage 1 takes as many passes over customer partitions as the
    estimated working set needs (a budget none can meet is a ``ConfigError``); ``passes`` sets their number
    instead; ``on_pass(i, n)`` is told each one's start (see :func:`collect_partitioned`). The tables are the
    same in one pass or several (in passes sorted by customer id, and day), but in passes the activity table is
    left in its parts on disk (:attr:`Loaded.activity_parts`: :meth:`Loaded.activity_table` merges them)."""
    options = options or ReadOptions()
    cache = _cache.get() if not lines else None
    key = _key(inputs, options, as_of, on_bad_rows) if cache is not None else None
    if cache is not None and key in cache:  # a pipeline's loads always keep the activity table
        return cache[key]
    scan = read_transactions(inputs, options, as_of=as_of)
    if on_scan is not None:
        on_scan(scan)
    keep_activity = activity or cache is not None  # a pipeline keeps both: later steps may need the activity
    named = dict(lines or {})
    if passes is None:
        passes = plan_passes(estimate(scan, activity=keep_activity), memory_limit) if memory_limit is not None else 1
    if passes > 1:
        parts = collect_partitioned(
            scan,
            passes=passes,
            as_of=as_of,
            on_bad_rows=on_bad_rows,
            activity=keep_activity,
            lines=named,
            on_pass=on_pass,
            keep_parts=True,
        )
        assert parts.customers is not None and parts.no_purchase is not None
        found = (parts.customers, parts.no_purchase, parts.activity, parts.lines, parts.rejects)
        kept = parts.activity_parts
    else:
        found = _one_pass(scan, as_of=as_of, on_bad_rows=on_bad_rows, activity=keep_activity, lines=named)
        kept = None
    customers, no_purchase, table, collected, rejects = found
    loaded = Loaded(
        scan=scan,
        customers=customers,
        activity=table,
        rejects=rejects,
        no_purchase=no_purchase,
        lines=collected,
        passes=passes,
        memory_limit=memory_limit,
        activity_parts=kept,
    )
    if cache is not None and key is not None:
        cache[key] = loaded
        if as_of is None and loaded.as_of is not None:  # the same data under its resolved as-of date
            cache[_key(inputs, options, loaded.as_of, on_bad_rows)] = loaded
    return loaded
