"""``retention``: acquisition cohorts, customer and revenue retention per cohort and period (the long table),
one row per cohort with the repeat purchase rate, and the cohort x period matrices asked for.

``by``: also the same tables split by acquisition (:mod:`loyalty_cli.metrics.retention_splits`, where the
definitions are): the category, channel or product of the first purchase order (``first_category``,
``first_channel``, ``first_product``), the first order's value of another transactions column (``first_<column>``
or the bare column, e.g. ``product_name``; ``category`` and ``channel`` mean ``first_category`` and
``first_channel``), or membership of the programme at the as-of date (``member``: needs the members file, read
as ``loyalty program`` reads it). First category and channel come from the customer summary (stage 1); another
column's first-order value is read in the same pass as stage 1, by a per-customer plan over the lines. Values
with fewer than ``min_customers`` customers are folded into one ``(other)`` group (named in a note), so the
groups still add up to every customer. The tables hold a data value as it is in ``split`` and say in ``group``
whether a row is a value or a made-up group (``other``, ``missing``, ``all``: every customer, the baseline), so a
value spelt ``all`` or ``(other)`` is never taken for one.

Warnings: a split column mostly empty (more than half the customers in ``(missing)``), and ``min_customers``
given without ``by`` (unused). A members file without ``by`` member is not read: the front end that was given
one says so (a pipeline gives its members to every step).

Where a split's values come from, the split tables' result and the split's note are in
:mod:`loyalty_cli.app.retention_split`.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import date
from functools import partial

import polars as pl

from loyalty_cli.app.inputs import Inputs
from loyalty_cli.app.messages import Message, Messages
from loyalty_cli.app.retention_split import SPLIT_LINES, RetentionSplit, first_values, split_note, split_source
from loyalty_cli.errors import ConfigError, DataError, UsageError, setting
from loyalty_cli.metrics.periods import TABLE_PERIODS, Period
from loyalty_cli.metrics.retention import (
    ALL,
    AVERAGE,
    cohort_retention,
    cohort_table,
    repeat_rate,
    retention_wide,
    retention_wide_all,
)
from loyalty_cli.metrics.retention_splits import (
    BY,
    EVERYONE,
    GROUP,
    LABELS,
    MEMBER,
    NO_VALUE,
    SPLIT,
    membership,
    split_customers,
    split_matrix,
    split_retention,
    split_sizes,
    split_wide,
)
from loyalty_cli.words import count

#: the matrices a front end can ask for (``show``) -> the metric of the long table each one is
MATRICES = {
    "on": "retention",
    "within": "retention_within",
    "counts": "active_customers",
    "revenue": "revenue_retention",
    "cumulative": "cumulative_revenue_per_customer",
}
#: split values with fewer customers are folded into (other) unless ``min_customers`` says otherwise
DEFAULT_MIN_CUSTOMERS = 30
#: more than this share of the customers in (missing): the split column is mostly empty (a warning)
MOSTLY_MISSING = 0.5


@dataclass(frozen=True)
class RetentionConfig:
    """``period``: cohort and period length; ``repeat_window``: days after the first purchase in which a second
    purchase day counts for the repeat purchase rate; ``horizon``: periods in the "within" window (None: the
    period's default); ``show``: the matrices (:data:`MATRICES`) to return; ``by``: also split by acquisition
    (see the top; None: no split); ``min_customers``: split values with fewer customers are folded into
    ``(other)`` (None: 30; given without ``by``, a warning says it is unused); ``by_setting``: the name of the
    setting ``by`` comes from, in messages (a report's ``retention_by``)."""

    period: str = "month"
    repeat_window: int = 90
    horizon: int | None = None
    show: Sequence[str] = ("on",)
    by: str | None = None
    min_customers: int | None = None
    by_setting: str = field(default="by", repr=False, compare=False)

    def __post_init__(self) -> None:
        if self.period not in TABLE_PERIODS:
            raise ConfigError("period", f"must be week, month or quarter, got {self.period!r}")
        if self.repeat_window < 1:
            raise ConfigError("repeat_window", f"must be at least 1 day, got {self.repeat_window}")
        if self.horizon is not None and self.horizon < 1:
            raise ConfigError("horizon", f"must be at least 1 {self.period}, got {self.horizon}")
        unknown = [s for s in self.show if s not in MATRICES]
        if "on-or-after" in unknown:
            raise ConfigError(
                "show",
                "'on-or-after' is gone: an open-ended 'on or after' cell changes with every later purchase",
                hint=f"Use {setting('show')} within: a purchase in any of the {setting('horizon')} periods from k, "
                "final once they are over.",
            )
        if unknown:
            raise ConfigError("show", f"{unknown[0]!r} is not a matrix", hint=f"Use {', '.join(MATRICES)}.")
        if self.min_customers is not None and self.min_customers < 1:
            raise ConfigError("min_customers", f"must be at least 1, got {self.min_customers}")
        if self.by is not None:
            split_source(self.by, name=self.by_setting)

    @property
    def folding(self) -> int:
        """The minimum group size used (``min_customers``, 30 when not given)."""
        return self.min_customers if self.min_customers is not None else DEFAULT_MIN_CUSTOMERS

    @property
    def needs_members(self) -> bool:
        """The split needs the programme's members file (``by`` is ``member``)."""
        return self.by == MEMBER

    def lines(self) -> dict[str, Callable[[pl.LazyFrame], pl.LazyFrame]]:
        """The plans over the transaction lines (``InputSpec.lines``) the split needs: the first order's value of
        its column when the customer summary lacks it (none otherwise)."""
        from loyalty_cli.spark import per_customer

        if self.by is None:
            return {}
        where, column = split_source(self.by)
        if where != "lines":
            return {}
        first = partial(first_values, column=column.removeprefix("first_"), by=self.by, name=self.by_setting)
        return {SPLIT_LINES: per_customer(first)}


@dataclass(frozen=True)
class RetentionResult:
    """``long``: one row per cohort and period k, then the average rows (:func:`cohort_retention`);
    ``cohorts``: one row per cohort, then one for all customers (:func:`cohort_table`); ``matrices``: the
    ``show`` matrices (cohort x period, the average row last) by name; ``repeat``: the repeat purchase rate per
    cohort label, the average row's (all customers) under ``average``; ``horizon``: periods in the "within"
    window as used."""

    long: pl.DataFrame
    cohorts: pl.DataFrame
    matrices: dict[str, pl.DataFrame]
    repeat: dict[str, float | None]
    as_of: date
    period: Period
    horizon: int
    repeat_window: int
    messages: list[Message]
    split: RetentionSplit | None = None

    @property
    def cohort_count(self) -> int:
        return self.cohorts.height - 1

    def matrix(self, name: str) -> pl.DataFrame:
        """The ``name`` matrix with each cohort's repeat purchase rate after its size: cohort, cohort_customers,
        ``repeat_<window>d``, then the periods."""
        matrix = self.matrices[name]
        rate = pl.col("cohort").replace_strict(self.repeat, default=None, return_dtype=pl.Float64)
        return matrix.select(*matrix.columns[:2], rate.alias(f"repeat_{self.repeat_window}d"), *matrix.columns[2:])

    def wide(self) -> pl.DataFrame:
        """Every metric of the long table as a cohort x period matrix, stacked (:func:`retention_wide_all`); with a
        split, of the split long table, keyed by split and cohort."""
        if self.split is not None:
            return split_wide(self.split.long, period=self.period)
        return retention_wide_all(self.long, period=self.period)

    @property
    def table(self) -> pl.DataFrame:
        """The long table a front end writes: the split one with a split, else :attr:`long`."""
        return self.split.long if self.split is not None else self.long


def retention(inputs: Inputs, config: RetentionConfig, messages: Messages | None = None) -> RetentionResult:
    """The retention tables of ``inputs`` (customers and activity); ``messages``: where the notes go as they
    come (the result holds them all the same)."""
    period: Period = config.period  # type: ignore[assignment]
    customers = inputs.customers.lazy()
    messages = messages if messages is not None else Messages()
    # The long table is collected first: built again inside one collect_all with the cohort table, its plan
    # was evaluated twice (1M lines: 27 s against 16 s before 'within'; collected first, the cohort table
    # takes under a second).
    long = cohort_retention(customers, inputs.activity_parts, period=period, horizon=config.horizon).collect()
    repeat = repeat_rate(customers, window_days=config.repeat_window, period=period)
    cohorts = cohort_table(long.lazy(), repeat).collect()
    all_row = cohorts.row(cohorts.height - 1, named=True)
    assert all_row["cohort"] == ALL
    as_of_day, within, window = long["as_of"][0], long["horizon"][0], config.repeat_window
    messages.note(
        f"As of {as_of_day} (data before that day); {count(all_row['customers'], 'customer')} in "
        f"{count(cohorts.height - 1, f'{period}ly cohort')}; blank cells: periods not over yet (never counted as 0)"
    )
    if "within" in config.show:
        messages.note(
            f"Within: a purchase in any of the {count(within, period)} from k; a cell is blank until "
            f"its last {period} (k+{within - 1}) is over"
        )
    rate = all_row["repeat_rate"]
    messages.note(
        f"Repeat purchase rate within {count(window, 'day')} of the first purchase: "
        + (
            f"{rate:.1%} ({all_row['repeat_customers']:,} of {count(all_row['window_closed'], 'customer')} "
            f"whose {count(window, 'day')} are over)"
            if rate is not None
            else f"none yet (no customer's {count(window, 'day')} are over)"
        )
    )
    rates = dict(zip(cohorts["cohort"].to_list(), cohorts["repeat_rate"].to_list(), strict=True))
    rates[AVERAGE] = rates.pop(ALL, None)
    matrices = {name: retention_wide(long, MATRICES[name], period=period) for name in config.show}
    split = None
    if config.by is not None:
        split = _split(inputs, config, long, matrices, within, messages)
    elif config.min_customers is not None:
        messages.warn(
            f"{setting('min_customers')} {config.min_customers} is not used without {setting('by')}: it sizes the "
            "groups of a split"
        )
    return RetentionResult(
        long=long,
        cohorts=cohorts,
        matrices=matrices,
        repeat=rates,
        as_of=as_of_day,
        period=period,
        horizon=within,
        repeat_window=window,
        messages=messages.items,
        split=split,
    )


def _split(
    inputs: Inputs,
    config: RetentionConfig,
    whole: pl.DataFrame,
    matrices: dict[str, pl.DataFrame],
    horizon: int,
    messages: Messages,
) -> RetentionSplit:
    """The retention tables split by ``config.by`` (``whole``, ``matrices``: the unsplit ones, every customer's
    rows: the ``all`` group), with a note on what the split is and what was folded, and a warning when most
    customers have no value."""
    assert config.by is not None
    period: Period = config.period  # type: ignore[assignment]
    where, column = split_source(config.by)
    named = config.by_setting
    customers = inputs.customers.lazy()
    values = None
    if where == MEMBER:
        members = inputs.get("members")
        if members is None:
            raise UsageError(
                f"{setting(named)} member needs the programme's members file",
                hint=f"Give it with {setting('members')} FILE (customer_id, enrolled_at), as for loyalty program.",
            )
        assert inputs.as_of is not None
        values = membership(customers, members.lazy(), as_of=inputs.as_of)
    elif where == "lines":
        values = inputs.tables[SPLIT_LINES].lazy()
    elif column not in inputs.customers.columns:
        plain = column.removeprefix("first_")
        raise DataError(
            f"{setting(named)} {config.by}: the transactions have no {plain} column",
            hint=f"Name it with {setting(plain + '_col')} COLUMN (its value on the first order is used)."
            if plain == "category"
            else "Map a channel column in rules/columns.toml.",
        )
    split = split_customers(customers, column, min_customers=config.folding, values=values)
    long, sizes, missing = pl.collect_all(
        [
            split_retention(split, inputs.activity_parts, by=column, period=period, horizon=horizon),
            split_sizes(split),
            split.select(pl.col("value").null_count().alias("missing")),
        ]
    )
    everyone = whole.select(
        pl.lit(column).alias(BY), pl.lit(None, dtype=pl.String).alias(SPLIT), pl.lit(EVERYONE).alias(GROUP), pl.all()
    )
    long = pl.concat([long, everyone], how="vertical_relaxed")
    split_matrices = {}
    for name, matrix in matrices.items():
        periods = matrix.columns[2:]
        overall = matrix.filter(pl.col("cohort") == AVERAGE).select(
            pl.lit(None, dtype=pl.String).alias(SPLIT),
            pl.lit(EVERYONE).alias(GROUP),
            pl.lit(inputs.customers.height, dtype=pl.UInt32).alias("customers"),
            *periods,
        )
        by_value = split_matrix(long, MATRICES[name], sizes, period=period)
        split_matrices[name] = pl.concat([by_value, overall], how="vertical_relaxed")
    messages.note(split_note(config.by, column, sizes, config.folding, inputs.as_of))
    without, everyone_count = int(missing["missing"][0]), inputs.customers.height
    if everyone_count and without / everyone_count > MOSTLY_MISSING:
        messages.warn(
            f"{setting(named)} {config.by}: {count(without, 'customer')} of {everyone_count:,} "
            f"({without / everyone_count:.0%}) have no value on their first purchase order ({LABELS[NO_VALUE]}): the "
            "split says little about them; check that the column is filled in"
        )
    return RetentionSplit(by=column, long=long, sizes=sizes, matrices=split_matrices, min_customers=config.folding)
