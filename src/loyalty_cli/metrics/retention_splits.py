"""Retention by acquisition: the cohort retention of :mod:`loyalty_cli.metrics.retention`, split by what
customers bought first, where they bought it, or whether they are programme members.

Every customer gets one *split value*, fixed at acquisition (it never moves a customer between groups later):

- ``first_category``, ``first_channel``: the category / channel of the customer's **first purchase order**, as
  the customer summary keeps them (stage 1, :func:`loyalty_cli.stage1.customers.order_table`): an order's value
  is that of its **largest line** (ties: alphabetical; a line without a value only when it is the largest), and
  of several purchase orders at the same first timestamp, the alphabetically first value.
- ``first_product`` and ``first_<column>`` (or a bare transactions column, e.g. ``product_name``): the same rule
  over that column, by :func:`first_order_values`, which runs stage 1's order table over it (one rule, one
  place). ``loyalty products`` names a first product by the same largest line, except that it first sums the
  lines of one product within an order (an order with the same product on several lines, or returned in part).
- ``member``: ``members`` for a customer enrolled in the programme before the as-of date
  (:func:`loyalty_cli.metrics.program.member_table`), else ``non-members``: membership *at the as-of date*, not
  at the first purchase (a customer who joined later is a member).
- A customer without a value (the largest line of the first order has none) is in ``(missing)``.

**Minimum size**: a value with fewer than ``min_customers`` customers (over all cohorts) is folded, with every
other small value, into one ``(other)`` group, so that every customer is still in exactly one group and the
groups add up to all customers. ``(other)`` is kept whatever its size (its size is shown, and the values it
holds are named in a note).

**Made-up groups**: ``(other)``, ``(missing)`` and all customers are not values of the data, and a data value
may be spelt like them (a channel called ``all``). So the tables never hold them as values: ``split`` holds the
data value exactly as read, and ``group`` says what the row is: ``value`` (``split`` is the value), ``other``,
``missing`` or ``all`` (``split`` is null). A front end that shows one label per row uses :func:`split_label`:
the made-up rows as ``(other)``, ``(missing)`` and ``all``, a data value as it is, unless it is spelt like one of
those labels or starts with a double quote: then it is shown in double quotes (inner quotes doubled), so no two
rows share a label.

Per split value, the long table of :func:`~loyalty_cli.metrics.retention.cohort_retention` with the split as
an extra group key: one row per (split, group, cohort, period k), then each split's ``average`` rows (pooled over the
split's cohorts whose cell k is over, customer-weighted, true zeros included), with the same definitions and
columns (customer retention "on" and "within", revenue retention, cumulative revenue per acquired customer).
Computed in one pass with the split among the group keys, not once per value.
"""

from __future__ import annotations

from datetime import date

import polars as pl

from loyalty_cli.metrics.periods import Period
from loyalty_cli.metrics.program import MEMBERS, OTHERS, member_table
from loyalty_cli.metrics.retention import AVERAGE, cohort_retention, retention_wide, retention_wide_all
from loyalty_cli.metrics.second_purchase import MISSING
from loyalty_cli.stage1.activity_parts import Activity

OTHER = "(other)"  # the label of the group of the values below the minimum size
SPLIT = "split"  # the split value's column in the tables (null in a made-up group's rows)
GROUP = "group"  # what a row of the tables is: one of GROUPS
VALUE, FOLDED, NO_VALUE, EVERYONE = "value", "other", "missing", "all"
#: the ``group`` of a row -> its label where a front end shows one (a data value: ``split``, see split_label)
LABELS = {FOLDED: OTHER, NO_VALUE: MISSING, EVERYONE: "all"}
GROUPS = (VALUE, *LABELS)
BY = "by"  # the column that names what the table is split by
MEMBER = "member"  # --by member: membership at the as-of date
#: the splits the customer summary holds (stage 1 keeps the first order's category and channel)
SUMMARY_SPLITS = ("first_category", "first_channel")
#: transactions columns that identify a customer, an order or a moment, or hold money: no groups
NOT_SPLITS = ("customer_id", "order_date", "amount", "amount_cents", "order_id", "order_key", "email")


def first_order_values(lines: pl.LazyFrame, column: str) -> pl.LazyFrame:
    """``customer_id, first_<column>``: the ``column`` value (as text) of each customer's first purchase order,
    by stage 1's rule (see the top): a per-customer plan over the transaction lines, one row per customer with
    a purchase."""
    from loyalty_cli.stage1.customers import order_table

    names = lines.collect_schema().names()
    order = ["order_id"] if "order_id" in names else []
    # stage 1's order table picks the order's category (its largest line's, ties alphabetical): given the
    # column as the category, it picks the column's value by the same rule
    value = pl.col(column).cast(pl.String).alias("category")
    orders = order_table(lines.select("customer_id", "order_date", "amount_cents", *order, value))
    first = pl.col("order_date") == pl.col("order_date").min()
    return (
        orders.filter(pl.col("is_purchase"))
        .group_by("customer_id")
        .agg(pl.col("category").filter(first).min().alias(f"first_{column}"))
    )


def membership(customers: pl.LazyFrame, members: pl.LazyFrame, *, as_of: date) -> pl.LazyFrame:
    """``customer_id, member``: ``members`` for each customer enrolled before ``as_of``, else ``non-members``."""
    enrolled = member_table(members, as_of=as_of).select("customer_id", pl.lit(MEMBERS).alias(MEMBER))
    return (
        customers.select("customer_id")
        .join(enrolled, on="customer_id", how="left")
        .with_columns(pl.col(MEMBER).fill_null(pl.lit(OTHERS)))
    )


def split_label(split: pl.Expr | str = SPLIT, group: pl.Expr | str = GROUP) -> pl.Expr:
    """The row's label where one is shown (see the top): a made-up group's (``(other)``, ``(missing)``,
    ``all``), else the data value, double-quoted (inner quotes doubled) when it is spelt like a made-up label or
    starts with a double quote."""
    value = pl.col(split) if isinstance(split, str) else split
    kind = pl.col(group) if isinstance(group, str) else group
    quoted = pl.concat_str(pl.lit('"'), value.str.replace_all('"', '""', literal=True), pl.lit('"'))
    clashes = value.is_in(list(LABELS.values())) | value.str.starts_with('"')
    made_up = kind.replace_strict(LABELS, default=None, return_dtype=pl.String)
    return pl.when(kind == VALUE).then(pl.when(clashes).then(quoted).otherwise(value)).otherwise(made_up)


def split_customers(
    customers: pl.LazyFrame, column: str, *, min_customers: int, values: pl.LazyFrame | None = None
) -> pl.LazyFrame:
    """``customers`` with ``value`` (the ``column`` as text, null when empty), ``group`` (``value``; ``missing``
    for no value; ``other`` when fewer than ``min_customers`` customers have the value, or no value) and
    ``split`` (the value of a ``value`` group, else null). ``values``: a table of ``customer_id`` and ``column``
    to join when ``customers`` lacks it (:func:`first_order_values`, :func:`membership`)."""
    if values is not None:
        customers = customers.join(values.select("customer_id", column), on="customer_id", how="left")
    value = pl.col("value")
    group = (
        pl.when(pl.len().over("value") < min_customers)
        .then(pl.lit(FOLDED))
        .when(value.is_null())
        .then(pl.lit(NO_VALUE))
        .otherwise(pl.lit(VALUE))
    )
    return (
        customers.with_columns(pl.col(column).cast(pl.String).alias("value"))
        .with_columns(group.alias(GROUP))
        .with_columns(pl.when(pl.col(GROUP) == VALUE).then(value).alias(SPLIT))
    )


def split_sizes(split: pl.LazyFrame) -> pl.LazyFrame:
    """One row per group, in the order the tables show them (most customers first, ``other`` last): ``split,
    group, customers, values`` (the values it holds: its own, or those folded into ``other``, largest first;
    null: no value)."""
    per_value = split.group_by(SPLIT, GROUP, "value").agg(pl.len().alias("n"))
    return (
        per_value.sort("n", "value", descending=[True, False], nulls_last=True)
        .group_by(SPLIT, GROUP, maintain_order=True)
        .agg(pl.col("n").sum().cast(pl.UInt32).alias("customers"), pl.col("value").alias("values"))
        .sort(pl.col(GROUP) == FOLDED, "customers", SPLIT, descending=[False, True, False], nulls_last=True)
    )


def split_retention(
    split: pl.LazyFrame,
    activity: Activity,
    *,
    by: str,
    period: Period = "month",
    horizon: int | None = None,
) -> pl.LazyFrame:
    """The long retention table per group (``split``: :func:`split_customers`): ``by`` (what it is split by),
    ``split``, ``group``, then the columns of :func:`~loyalty_cli.metrics.retention.cohort_retention`: each
    group's cohorts by period, then its ``average`` rows. Groups in the order of :func:`split_sizes`. The
    cohorts are keyed by the group's number in that order (a null ``split`` is no join key)."""
    keys = [SPLIT, GROUP]
    order = split_sizes(split).select(*keys).with_row_index("_g")
    numbered = split.join(order, on=keys, how="left", nulls_equal=True).drop("value", *keys)
    long = cohort_retention(numbered, activity, period=period, horizon=horizon, by="_g")
    return (
        long.join(order, on="_g", how="left")
        .sort("_g", pl.col("cohort_start").is_null(), "cohort_start", "period")
        .select(pl.lit(by).alias(BY), *keys, pl.exclude("_g", *keys))
    )


def split_matrix(long: pl.DataFrame, metric: str, sizes: pl.DataFrame, *, period: Period = "month") -> pl.DataFrame:
    """One metric of each group's ``average`` rows as a group x period matrix: ``split, group, customers`` (all
    the group's customers, from :func:`split_sizes`), ``m0, m1, ...``. A reshape of collected results."""
    keys = [SPLIT, GROUP]
    order = sizes.select(*keys, "customers").with_row_index("_g")
    averages = long.filter((pl.col("cohort") == AVERAGE) & (pl.col(GROUP) != EVERYONE))
    numbered = averages.join(order.select(*keys, "_g"), on=keys, how="left", nulls_equal=True)
    wide = retention_wide(numbered.drop("cohort", BY, *keys).rename({"_g": "cohort"}), metric, period=period)
    periods = wide.columns[2:]
    return order.join(wide.rename({"cohort": "_g"}), on="_g", how="left", maintain_order="left").select(
        *keys, "customers", *periods
    )


def split_wide(long: pl.DataFrame, *, period: Period = "month") -> pl.DataFrame:
    """Every metric of the split long table as a (split, group, cohort) x period matrix, stacked: ``metric, by,
    split, group, cohort, cohort_customers, m0, m1, ...``
    (:func:`~loyalty_cli.metrics.retention.retention_wide_all` keyed by the row's group and cohort)."""
    keys = [SPLIT, GROUP, "cohort"]
    rows = long.select(keys).unique(maintain_order=True).with_row_index("_k")
    keyed = long.join(rows, on=keys, how="left", nulls_equal=True, maintain_order="left")
    wide = retention_wide_all(keyed.drop(*keys).rename({"_k": "cohort"}), period=period)
    by = pl.lit(long[BY][0] if long.height else None, dtype=pl.String)
    labelled = wide.rename({"cohort": "_k"}).join(rows, on="_k", how="left", maintain_order="left")
    return labelled.select("metric", by.alias(BY), *keys, pl.exclude("metric", "_k", *keys))
