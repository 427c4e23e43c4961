"""The per-customer summary: the only code that reads raw transaction lines at scale.

Stage 1 of every command. One lazy pass: lines -> orders -> customers. Every other metric starts from its
outputs, so this module keeps a narrow interface (it will also run on other engines):

- :func:`order_table`: lines collapsed to orders (by ``order_id`` when present, else by customer and
  timestamp), with the order's net value and whether it counts as a purchase.
- :func:`customer_summary`: one row per customer with at least one purchase;
  :func:`summary_with_no_purchase` adds, from the same plan, one row about the customers it leaves out
  (orders, but no purchase: only returns or cancellations), so that no total changes without a word.
- :func:`btyd_summary`: the frequency/recency/T/monetary view of the summary that BTYD models use.
- :func:`customer_activity`: one row per customer and day with orders (the customer x period activity
  table: retention, churn gaps and holdout checks group it by period).

Conventions (``docs`` and README repeat them):
- A *purchase* is an order whose net value is > 0, or exactly 0 without any negative line (a free order);
  an order netted to <= 0 by returns or cancellations is not a purchase. Negative orders (returns,
  ``C``-prefixed cancellations) still count against net spend.
- ``as_of`` is exclusive: lines dated on or after it are not in the data (the readers leave them out).
  ``recency_days`` = as_of - last purchase day, so a customer who bought the day before as_of has 1.
- Money is integer cents. The readers refuse a line beyond ``MAX_CENTS`` either way, so any sum of fewer than
  92 million lines fits in Int64 (an order, a customer-day). Sums that may span more cannot wrap around: a
  customer's spend is summed in Float64 (exact while below 2**53 cents, 90 trillion currency units; beyond
  that it loses cents, never its sign; as fast as Int64, where Int128 cost ~10% of the summary), and the
  totals of :func:`transaction_profile` in Int128.
"""

from __future__ import annotations

from datetime import date
from typing import NamedTuple

import polars as pl

DAY = pl.col("order_date").dt.date()
SPEND = pl.Float64  # the type of per-customer money sums (see the top)


def order_table(lines: pl.LazyFrame) -> pl.LazyFrame:
    """Orders: ``customer_id, order_date, value_cents, lines, is_purchase`` (+ category/channel/email).

    The category of an order is that of its largest line (ties: alphabetical), so it never depends on
    row order."""
    names = lines.collect_schema().names()
    key = ["customer_id", "order_id"] if "order_id" in names else ["customer_id", "order_date"]
    aggs = [
        pl.len().alias("lines"),
        pl.col("amount_cents").sum().alias("value_cents"),
        (pl.col("amount_cents") < 0).any().alias("has_return_line"),
    ]
    if "order_id" in names:
        aggs.append(pl.col("order_date").min())
    for col in ("category", "channel"):
        if col in names:
            aggs.append(
                pl.col(col).sort_by(["amount_cents", col], descending=[True, False], nulls_last=True).first().alias(col)
            )
    if "email" in names:
        aggs.append(pl.col("email").max())
    return (
        lines.group_by(key)
        .agg(aggs)
        .with_columns(
            ((pl.col("value_cents") > 0) | ((pl.col("value_cents") == 0) & ~pl.col("has_return_line"))).alias(
                "is_purchase"
            )
        )
    )


def _resolve_as_of(as_of: date | None) -> pl.Expr:
    """The as-of date as an expression: given, or the day after the last order in the data."""
    if as_of is not None:
        return pl.lit(as_of, dtype=pl.Date)
    return (pl.col("last_activity").max() + pl.duration(days=1)).cast(pl.Date)


def customer_summary(lines: pl.LazyFrame, *, as_of: date | None) -> pl.LazyFrame:
    """One row per customer with at least one purchase before ``as_of``.

    Columns: customer_id, [email], first_purchase, second_purchase, last_purchase, orders, purchase_days,
    net_spend, gross_spend, returns_value, return_orders, repeat_spend, mean_order_value,
    [first_category], [first_channel], as_of, recency_days, tenure_days.

    ``as_of=None`` means the day after the last order in the data (it is in the ``as_of`` column).
    Customers with orders but no purchase are not in it: :func:`summary_with_no_purchase` counts them."""
    return summary_with_no_purchase(lines, as_of=as_of)[0]


def summary_with_no_purchase(lines: pl.LazyFrame, *, as_of: date | None) -> tuple[pl.LazyFrame, pl.LazyFrame]:
    """:func:`customer_summary`, and one row about the customers it leaves out: those with orders before
    ``as_of`` but no purchase (only returns or cancellations, or orders refunded in full):
    ``customers, return_orders, net_cents`` (Int128) and ``net_value`` (money, <= 0).

    Both come from one plan: collected together (``pl.collect_all``) they share the customer group-by, so the
    lines are read once. With them, the summary's totals add up to the whole data's (net revenue, return
    orders: :func:`transaction_profile`)."""
    summary, no_purchase, _ = summary_parts(lines, as_of=as_of)
    return summary, no_purchase


class Stage1Plans(NamedTuple):
    """The plans of :func:`stage1_plans`: collected together, the lines are read once."""

    summary: pl.LazyFrame
    no_purchase: pl.LazyFrame
    end: pl.LazyFrame
    activity: pl.LazyFrame | None


def stage1_plans(lines: pl.LazyFrame, *, as_of: date | None, activity: bool) -> Stage1Plans:
    """Every stage-1 table of ``lines`` from one order table: :func:`summary_parts`' three plans and, when
    ``activity``, :func:`customer_activity`'s.

    Two plans built over the lines each group them into orders, and Polars shares no part of them (projection
    pushdown makes the two order tables differ), so the lines were read, checked and grouped twice: 10M lines,
    3.85 s (7.7 s of CPU) for the summary and the activity table, against 2.6 s (5.1 s of CPU) with one order
    table. Collected together (``pl.collect_all``), the plans share it."""
    orders = order_table(lines)
    if activity:
        orders = orders.cache()  # one order table for both consumers (see above)
    summary, no_purchase, end = _summary_of_orders(orders, as_of=as_of)
    return Stage1Plans(summary, no_purchase, end, _activity_of_orders(orders) if activity else None)


def summary_parts(lines: pl.LazyFrame, *, as_of: date | None) -> tuple[pl.LazyFrame, pl.LazyFrame, pl.LazyFrame]:
    """:func:`summary_with_no_purchase`, and one row from the same plan: ``as_of``, the as-of date used (given,
    or the day after the last order of these lines, also when its customer made no purchase; null without
    orders). The partitioned stage 1 takes the latest of its parts' (:func:`at_as_of`)."""
    return _summary_of_orders(order_table(lines), as_of=as_of)


def _summary_of_orders(orders: pl.LazyFrame, *, as_of: date | None) -> tuple[pl.LazyFrame, pl.LazyFrame, pl.LazyFrame]:
    """:func:`summary_parts` of the lines' :func:`order_table`."""
    # Performance notes (10M lines, streaming engine): the plan is lines -> orders (group-by) -> one window
    # (the customer's first purchase) -> customers (group-by with simple when/then aggregations only).
    # - Days and timestamps are carried as plain integers (days since epoch, the datetime's physical
    #   value): a window or n_unique over Int32/Int64 is several times faster than over Date/Datetime
    #   (2.5 s -> 0.4 s for the window); they become Date again on the ~1M customer rows at the end.
    # - One window, not a join: joining first purchases back onto the orders made the streaming engine
    #   compute the orders twice; aggregations that broadcast inside agg (pday > pday.min()) are slower.
    schema = orders.collect_schema()
    names = schema.names()
    ts_type = schema["order_date"]
    firsts = [c for c in ("category", "channel") if c in names]
    purchase = pl.col("is_purchase")
    value = pl.col("value_cents")
    wide = value.cast(SPEND)  # summed over a customer's orders: cannot wrap (see the top)
    per_order = [pl.when(purchase).then(DAY.cast(pl.Int32)).alias("pday")]  # purchase day, as days since epoch
    if firsts or getattr(ts_type, "time_zone", None):
        # The first purchase *order* is needed (or local days may not follow timestamps): window over the
        # timestamp, and the first purchase day is the day of the first purchase timestamp.
        per_order.append(pl.when(purchase).then(pl.col("order_date").to_physical()).alias("pts"))
        windows = [pl.col("pts").min().over("customer_id").alias("first_ts")]
        first_day = pl.col("first_ts").cast(ts_type).dt.date().cast(pl.Int32)
    else:  # naive timestamps: the day of the first purchase timestamp is the first purchase day
        windows = [pl.col("pday").min().over("customer_id").alias("first_day")]
        first_day = pl.col("first_day")
    if "email" in names:  # the most recent email: its timestamp per customer
        per_order.append(pl.col("order_date").to_physical().alias("ts"))
        windows.append(
            pl.when(pl.col("email").is_not_null()).then(pl.col("ts")).max().over("customer_id").alias("email_ts")
        )
    repeat = pl.col("pday") > first_day  # a purchase on a day after the first purchase day
    aggs: list[pl.Expr] = [
        pl.col("pday").min().alias("first_purchase"),
        pl.when(repeat).then(pl.col("pday")).min().alias("second_purchase"),
        pl.col("pday").max().alias("last_purchase"),
        purchase.sum().cast(pl.UInt32).alias("orders"),
        (pl.col("pday").n_unique() - (pl.col("pday").null_count() > 0)).cast(pl.UInt32).alias("purchase_days"),
        wide.sum().alias("net_cents"),
        pl.when(purchase).then(wide).sum().alias("gross_cents"),
        pl.when(value < 0).then(-value).cast(SPEND).sum().alias("returns_cents"),
        (value < 0).sum().cast(pl.UInt32).alias("return_orders"),
        pl.when(repeat).then(wide).sum().alias("repeat_cents"),  # repeat implies a purchase
    ]
    if as_of is None:
        aggs.append(pl.col("order_date").max().alias("last_activity"))
    for col in firsts:  # of the first purchase order (ties at the same timestamp: alphabetical)
        aggs.append(pl.when(pl.col("pts") == pl.col("first_ts")).then(pl.col(col)).min().alias(f"first_{col}"))
    if "email" in names:
        aggs.append(pl.when(pl.col("ts") == pl.col("email_ts")).then(pl.col("email")).max().alias("email"))
    customers = orders.with_columns(per_order).with_columns(windows).group_by("customer_id").agg(aggs)
    money = [
        (pl.col(f"{c}_cents") / 100).round(2).alias(name)
        for c, name in (
            ("net", "net_spend"),
            ("gross", "gross_spend"),
            ("returns", "returns_value"),
            ("repeat", "repeat_spend"),
        )
    ]
    leading = ["customer_id", "email"] if "email" in names else ["customer_id"]
    extra = [f"first_{c}" for c in firsts]
    no_purchase = customers.filter(pl.col("first_purchase").is_null()).select(
        pl.len().cast(pl.UInt32).alias("customers"),
        pl.col("return_orders").sum().cast(pl.UInt32).alias("return_orders"),
        pl.col("net_cents").cast(pl.Int128).sum().alias("net_cents"),  # whole cents (see the top): exact
    )
    summary = (
        customers.with_columns(_resolve_as_of(as_of).alias("as_of"))
        .filter(pl.col("first_purchase").is_not_null())
        .with_columns(
            *money,
            (pl.col("net_cents") / pl.col("orders") / 100).alias("mean_order_value"),
            *_days_to(pl.col("as_of")),
        )
        .select(
            *leading,
            *(pl.col(c).cast(pl.Date) for c in ("first_purchase", "second_purchase", "last_purchase")),
            "orders",
            "purchase_days",
            "net_spend",
            "gross_spend",
            "returns_value",
            "return_orders",
            "repeat_spend",
            "mean_order_value",
            *extra,
            "as_of",
            "recency_days",
            "tenure_days",
        )
    )
    end = customers.select(_resolve_as_of(as_of).alias("as_of"))
    return summary, no_purchase.with_columns(_net_value()), end


def _net_value() -> pl.Expr:
    return (pl.col("net_cents") / 100).round(2).alias("net_value")


def _days_to(as_of: pl.Expr) -> list[pl.Expr]:
    """``recency_days`` and ``tenure_days``: days from the last and the first purchase to ``as_of`` (Int32; the
    purchase days as days since the epoch or as dates)."""
    day_number = as_of.cast(pl.Int32)
    return [
        (day_number - pl.col("last_purchase").cast(pl.Int32)).alias("recency_days"),  # Int32 - Int32: Int32
        (day_number - pl.col("first_purchase").cast(pl.Int32)).alias("tenure_days"),
    ]


def at_as_of(summary: pl.LazyFrame, as_of: date) -> pl.LazyFrame:
    """A customer summary's columns that depend on the as-of date (``as_of``, ``recency_days``, ``tenure_days``)
    for another as-of date: a part's summary at the date of all the parts (the partitioned stage 1)."""
    day = pl.lit(as_of, dtype=pl.Date)
    return summary.with_columns(day.alias("as_of"), *_days_to(day))


def combined_no_purchase(rows: list[pl.DataFrame]) -> pl.DataFrame:
    """The row of :func:`summary_with_no_purchase` about the customers of several parts that share none: the
    counts and the net cents summed, the net value from the sum."""
    both = pl.concat(rows, how="vertical")
    return both.select(
        pl.col("customers").sum().cast(pl.UInt32),
        pl.col("return_orders").sum().cast(pl.UInt32),
        pl.col("net_cents").sum().cast(pl.Int128),
    ).with_columns(_net_value())


def btyd_summary(customers: pl.LazyFrame, *, unit_days: float = 1.0, end: date | None = None) -> pl.LazyFrame:
    """BTYD inputs from the customer summary (lifetimes' conventions, one purchase per customer-day):

    frequency = purchase days - 1; recency = last - first purchase; T = end - first purchase, where
    ``end`` is the last day observed (default: the day before as_of); all divided by ``unit_days``
    (7 for weeks). monetary_value = mean spend of the repeat purchase days, 0 when frequency = 0."""
    return customers.select("customer_id", *btyd_columns(unit_days=unit_days, end=end))


def btyd_columns(*, unit_days: float = 1.0, end: date | None = None) -> list[pl.Expr]:
    """The columns of :func:`btyd_summary` as expressions over the summary's columns."""
    end_expr = pl.lit(end, dtype=pl.Date) if end is not None else (pl.col("as_of") - pl.duration(days=1))
    freq = pl.col("purchase_days").cast(pl.Int64) - 1
    return [
        freq.alias("frequency"),
        ((pl.col("last_purchase") - pl.col("first_purchase")).dt.total_days() / unit_days).alias("recency"),
        ((end_expr - pl.col("first_purchase")).dt.total_days() / unit_days).alias("T"),
        pl.when(freq > 0).then(pl.col("repeat_spend") / freq).otherwise(0.0).alias("monetary_value"),
    ]


def customer_activity(lines: pl.LazyFrame) -> pl.LazyFrame:
    """One row per customer and day with any order: ``customer_id, day, purchases, net_cents``.

    ``purchases`` counts the day's purchase orders (0 on a day with only returns or cancellations);
    ``net_cents`` is the net value of all the day's orders, returns included, so summing it over a period
    gives that period's net revenue. A *purchase day* is a row with ``purchases > 0``, as in
    :func:`customer_summary`. Days are the local calendar days of the order timestamps."""
    return _activity_of_orders(order_table(lines))


def _activity_of_orders(orders: pl.LazyFrame) -> pl.LazyFrame:
    """:func:`customer_activity` of the lines' :func:`order_table`."""
    return orders.group_by("customer_id", DAY.alias("day")).agg(
        pl.col("is_purchase").sum().cast(pl.UInt32).alias("purchases"),
        pl.col("value_cents").sum().alias("net_cents"),
    )


def transaction_profile(lines: pl.LazyFrame) -> pl.LazyFrame:
    """One row describing valid transaction lines: lines, orders, purchases, returns, customers, dates, and the
    customers with no purchase (only returns: the customer summary leaves them out) with their net value."""
    orders = order_table(lines)
    no_purchase = (
        orders.group_by("customer_id")
        .agg(pl.col("is_purchase").any().alias("bought"), pl.col("value_cents").cast(pl.Int128).sum().alias("net"))
        .filter(~pl.col("bought"))
        .select(
            pl.len().alias("no_purchase_customers"),
            (pl.col("net").sum() / 100).alias("no_purchase_net"),
        )
    )
    totals = orders.select(
        pl.col("lines").sum().alias("lines"),
        pl.len().alias("orders"),
        pl.col("is_purchase").sum().alias("purchase_orders"),
        (pl.col("value_cents") < 0).sum().alias("return_orders"),
        ((-pl.col("value_cents")).filter(pl.col("value_cents") < 0).cast(pl.Int128).sum() / 100).alias("returns_value"),
        (pl.col("value_cents").cast(pl.Int128).sum() / 100).alias("net_revenue"),
        pl.col("customer_id").n_unique().alias("customers"),
        pl.col("customer_id").filter(pl.col("is_purchase")).n_unique().alias("buying_customers"),
        pl.col("order_date").min().dt.date().alias("first_date"),
        pl.col("order_date").max().dt.date().alias("last_date"),
    )
    first = ["lines", "orders", "purchase_orders", "return_orders", "returns_value", "net_revenue", "customers"]
    return pl.concat([totals, no_purchase], how="horizontal").select(
        *first, "buying_customers", "no_purchase_customers", "no_purchase_net", "first_date", "last_date"
    )
