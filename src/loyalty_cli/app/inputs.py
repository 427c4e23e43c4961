"""The one entrance for a command's inputs: :func:`load_inputs`.

Every command says what it reads in an :class:`InputSpec` (transactions through stage 1, surveys, contacts,
members, points) and gets an :class:`Inputs`: the collected tables, the rejected rows per kind, the scans
(how each file was read), the resolved as-of date as a value, and the notes, all as data. This is the seam
where the compute engine is chosen: nothing outside it reads transaction lines.

Here: the transactions, read through stage 1 (or for named plans only), on Polars or Spark. The other inputs
are read in :mod:`loyalty_cli.app.side_inputs`, a campaign's lists in :mod:`loyalty_cli.app.campaign_lists`.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from datetime import date
from typing import TYPE_CHECKING

import polars as pl

from loyalty_cli.app.campaign_lists import read_lists
from loyalty_cli.app.messages import Messages
from loyalty_cli.app.side_inputs import (
    describe_scan,
    joined,
    note_left_out,
    read_previous,
    read_sides,
    scanned_first,
)
from loyalty_cli.errors import DataError, setting
from loyalty_cli.io.readers import ReadOptions, Scan

if TYPE_CHECKING:
    from loyalty_cli.app.campaign_lists import CampaignLists
    from loyalty_cli.io.validate import BadRows
    from loyalty_cli.metrics.nps import NpsConfig
    from loyalty_cli.spark.session import SparkSettings
    from loyalty_cli.stage1 import Loaded
    from loyalty_cli.stage1.activity_parts import Activity
    from loyalty_cli.stage1.partitioned import Parts

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
    previous: str | None = None  # an earlier lifecycle output (a snapshot), read after the others
    options: ReadOptions = field(default_factory=ReadOptions)
    as_of: date | None = None
    on_bad_rows: BadRows = "error"
    activity: bool = False
    need_customers: bool = True
    # False: the command does not read stage 1's customer table (only the activity, the as-of date, the notes):
    # the inputs do not hold it (no ``tables["customers"]``; ``loaded.customers`` is empty, its columns kept), so it
    # is let go once read (4.8M customers: ~0.5 GB); a pipeline's shared read keeps it for the other steps
    customers: bool = True
    lines: Mapping[str, Callable[[pl.LazyFrame], pl.LazyFrame]] = field(default_factory=dict)
    # a campaign's treatment and control lists (``tables["lists"]``), read before the transactions
    lists: CampaignLists | None = None
    # False: no stage 1 (no customer tables, nor their note): the transactions give only ``activity`` (when
    # asked) and the ``lines`` plans, collected in one pass
    summary: bool = True
    # ``loyalty validate``: read only this kind, with ``options``, to check it: ``lines`` are plans over its
    # valid rows; every bad row is kept in ``rejects`` and lines repeated across files are recorded in the
    # scan, not raised
    check: str | None = None
    # per side kind, its own read options (its columns and file settings; default: the mapping file of
    # ``options`` only)
    side_options: Mapping[str, ReadOptions] = field(default_factory=dict)
    # how the survey answers are prepared (:func:`~loyalty_cli.metrics.nps.prepare_responses`; None: the defaults)
    survey_config: NpsConfig | None = None
    # True: the side kinds are read up to ``as_of`` as given (None: every row), not up to the transactions' as-of
    # date, and scanned (said, and checked by ``check_scan``) before the transactions are read
    sides_first: bool = False
    # per side kind, a check of its scan (e.g. of its columns) before any row of it is read: raises, or says
    check_scan: Mapping[str, Callable[[Scan, Messages], None]] = field(default_factory=dict)
    # the memory budget of reading the transactions, in bytes (None: none, one pass): beyond the working set
    # estimated from the files, stage 1 takes several passes over customer partitions, with the same tables (see
    # loyalty_cli.stage1.passes); ``on_pass(i, n)`` is told the start of each (0: the read that writes them)
    memory_limit: int | None = None
    on_pass: Callable[[int, int], None] | None = None
    # where stage 1 runs: None, Polars in this process; Spark settings (loyalty_cli.spark.SparkSettings): stage 1
    # on Spark, the customer-sized tables back here (the memory budget does not apply there)
    spark: SparkSettings | None = None

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
    passes: int = 1  # the transactions were read in this many passes over customer partitions (memory_limit)

    @property
    def customers(self) -> pl.DataFrame:
        return self.tables["customers"]

    @property
    def activity(self) -> pl.DataFrame:
        """The whole activity table (read in passes: its parts merged, once, when first asked for)."""
        if "activity" not in self.tables and self.loaded is not None and self.loaded.activity_parts is not None:
            self.tables["activity"] = self.loaded.activity_parts.collect()
        return self.tables["activity"]

    @property
    def activity_parts(self) -> Activity:
        """The activity table as the metrics take it without holding it whole: read in passes, its parts on disk
        (:class:`~loyalty_cli.stage1.activity_parts.ActivityParts`), one read at a time; else the table."""
        if self.loaded is not None and self.loaded.activity_parts is not None:
            return self.loaded.activity_parts
        return self.activity

    def get(self, kind: str) -> pl.DataFrame | None:
        if kind == "activity" and self.loaded is not None and self.loaded.activity_parts is not None:
            return self.activity
        return self.tables.get(kind)


def load_inputs(spec: InputSpec, messages: Messages | None = None) -> Inputs:
    """Read every input of ``spec`` once: stage 1 for the transactions (shared within a pipeline, see
    :func:`loyalty_cli.stage1.shared_reads`), then the other kinds in one pass. Says how each was read in
    ``messages`` as it goes; raises :class:`DataError` on bad rows under ``on_bad_rows="error"``."""
    messages = messages if messages is not None else Messages()
    tables: dict[str, pl.DataFrame] = {}
    scans: dict[str, Scan] = {}
    rejects: dict[str, pl.DataFrame] = {}
    if spec.check is not None:
        return _checked(spec, messages)
    tables.update(read_lists(spec.lists, messages))
    side = [kind for kind in SIDE_KINDS if spec.paths(kind)]
    scanned = scanned_first(spec, side, messages)
    loaded = _transactions(spec, messages) if spec.transactions and spec.summary else None
    passes = loaded.passes if loaded is not None else 1
    if loaded is not None:
        if spec.customers:
            tables["customers"] = loaded.customers
        if loaded.activity is not None:
            tables["activity"] = loaded.activity
        tables.update(loaded.lines)
        scans["transactions"] = loaded.scan
        rejects["transactions"] = joined(loaded.rejects)
    elif spec.transactions and spec.spark is not None:  # no stage 1: the plans only, run on Spark
        found, scans["transactions"], rejects["transactions"] = _spark_plans(spec, messages)
        tables.update(found)
    elif spec.transactions:  # no stage 1: the plans only
        found, scans["transactions"], rejects["transactions"], passes = _plans(spec, "transactions", messages)
        tables.update(found)
    as_of = loaded.as_of if loaded is not None and loaded.as_of is not None else spec.as_of
    if loaded is not None and not spec.customers:  # let go of the customer table (a shared read keeps its own)
        loaded = replace(loaded, customers=loaded.customers.clear())
    if side:
        read = read_sides(spec, side, as_of, messages, scanned)
        for kind, (rows, scan, rejected) in read.items():
            tables[kind], scans[kind], rejects[kind] = rows, scan, rejected
    if spec.previous is not None:
        tables["previous"] = read_previous(spec.previous, as_of)
    return Inputs(spec=spec, loaded=loaded, tables=tables, scans=scans, rejects=rejects, as_of=as_of, passes=passes)


def _plans(spec: InputSpec, kind: str, messages: Messages) -> tuple[dict[str, pl.DataFrame], Scan, pl.DataFrame, int]:
    """One kind read with ``spec.options`` for named plans over its valid rows, without stage 1: the activity
    table when asked, and the ``lines`` plans; collected in one pass with the rejected rows (and the passes
    taken: the transactions' activity table in several within ``memory_limit``). Under ``check`` every bad row
    is kept and lines repeated across files are recorded in the scan, not raised."""
    from loyalty_cli.io.readers import read_table
    from loyalty_cli.io.validate import collect_checked
    from loyalty_cli.stage1.customers import customer_activity

    scan = read_table(kind, spec.paths(kind), spec.options, as_of=None if kind == "contacts" else spec.as_of)
    describe_scan(scan, messages)
    checking = spec.check is not None
    passes = _activity_passes(spec, scan, messages) if kind == "transactions" and not checking else 1
    if passes > 1:
        parts = _partitioned_activity(spec, scan, passes)
        found = {**({"activity": parts.activity} if parts.activity is not None else {}), **parts.lines}
        note_left_out(scan, messages)
        return found, scan, joined(parts.rejects), passes
    plans = {**({"activity": customer_activity} if spec.activity else {}), **spec.lines}
    results, rejected = collect_checked(
        [scan],
        [plan(scan.rows) for plan in plans.values()],
        on_bad_rows="skip" if checking else spec.on_bad_rows,
        stop_on_overlap=not checking,
    )
    note_left_out(scan, messages)
    return dict(zip(plans, results, strict=True)), scan, joined(rejected), passes


def _activity_passes(spec: InputSpec, scan: Scan, messages: Messages) -> int:
    """The passes the transactions' activity table takes within ``memory_limit`` (1 without one, or without it)."""
    from loyalty_cli.stage1.load import passes_note
    from loyalty_cli.stage1.passes import estimate, plan_passes

    if spec.memory_limit is None or not spec.activity:
        return 1
    passes = plan_passes(estimate(scan, activity=True, summary=False), spec.memory_limit)
    messages.notes([passes_note(passes, spec.memory_limit)])
    return passes


def _partitioned_activity(spec: InputSpec, scan: Scan, passes: int) -> Parts:
    from loyalty_cli.stage1.partitioned import collect_partitioned

    return collect_partitioned(
        scan,
        passes=passes,
        as_of=spec.as_of,
        on_bad_rows=spec.on_bad_rows,
        summary=False,
        activity=True,
        lines=spec.lines,
        on_pass=spec.on_pass,
    )


def _checked(spec: InputSpec, messages: Messages) -> Inputs:
    """``check``: the one kind read for its plans, nothing else (transactions on Spark with ``spark``; the other
    kinds are read here, as every command reads them)."""
    kind = str(spec.check)
    if kind == "transactions" and spec.spark is not None:
        found, scan, rejected = _spark_plans(spec, messages)
    else:
        found, scan, rejected, _ = _plans(spec, kind, messages)
    return Inputs(spec=spec, loaded=None, tables=found, scans={kind: scan}, rejects={kind: rejected}, as_of=spec.as_of)


def _spark_plans(spec: InputSpec, messages: Messages) -> tuple[dict[str, pl.DataFrame], Scan, pl.DataFrame]:
    """:func:`_plans` for the transactions on Spark: the activity table when asked and the ``lines`` plans
    (per-customer plans only, see :func:`loyalty_cli.stage1.plans.per_customer`) of a load on Spark, whose customer
    tables are left unused; said as :func:`_plans` says it. Under ``check`` every bad row is kept and lines
    repeated across files are recorded in the scan, not raised."""
    from loyalty_cli.spark import load_transactions_spark

    checking = spec.check is not None
    loaded = load_transactions_spark(
        spec.transactions,
        spec.options,
        as_of=spec.as_of,
        on_bad_rows="skip" if checking else spec.on_bad_rows,
        activity=spec.activity,
        lines=spec.lines,
        on_scan=lambda scan: describe_scan(scan, messages),
        settings=spec.spark,
        **({"stop_on_overlap": False} if checking else {}),
    )
    note_left_out(loaded.scan, messages)
    found = {**({"activity": loaded.activity} if loaded.activity is not None else {}), **loaded.lines}
    return found, loaded.scan, joined(loaded.rejects)


def _transactions(spec: InputSpec, messages: Messages) -> Loaded:
    from loyalty_cli.stage1 import load_transactions
    from loyalty_cli.stage1.load import passes_note

    def on_pass(i: int, passes: int) -> None:
        if i == 0:  # before the long read: how it goes
            messages.notes([passes_note(passes, spec.memory_limit)])
        if spec.on_pass is not None:
            spec.on_pass(i, passes)

    common = {"as_of": spec.as_of, "on_bad_rows": spec.on_bad_rows, "activity": spec.activity, "lines": spec.lines}
    if spec.spark is not None:  # the engine's seam: only here does a command's stage 1 run elsewhere
        from loyalty_cli.spark import load_transactions_spark

        on_scan = lambda scan: describe_scan(scan, messages)  # noqa: E731
        loaded = load_transactions_spark(
            spec.transactions, spec.options, **common, on_scan=on_scan, settings=spec.spark
        )
    else:
        loaded = load_transactions(
            spec.transactions,
            spec.options,
            **common,
            on_scan=lambda scan: describe_scan(scan, messages),
            memory_limit=spec.memory_limit,
            on_pass=on_pass,
        )
    note_left_out(loaded.scan, messages)
    messages.notes([loaded.left_out_note()])
    if spec.need_customers and loaded.customers.is_empty():
        raise DataError(
            "No customer made a purchase before the as-of date in " + ", ".join(str(p) for p in loaded.scan.paths[:3]),
            hint=f"Check {setting('as_of')}, the date and amount columns, and the rejects file if rows were skipped.",
        )
    return loaded
