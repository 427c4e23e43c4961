"""Products: what customers buy first, what they buy next, and the next product to offer each customer.

Stage 2 over the transaction lines with their *item* (a product, or its category at the coarser level):
:func:`item_lines`, a per-customer plan read in the same pass as the lines. From them, :func:`order_table`,
:func:`customer_table`, :func:`purchase_items` (the items of purchase orders) and :func:`edge_items` (first and
last items) feed the tables of :mod:`loyalty_cli.metrics.first_products` (first item, next items, next best item)
and :mod:`loyalty_cli.metrics.product_baskets` (pairs, replenishment cycle).

Definitions (the README repeats them):

- Orders, purchases and days as in stage 1 (:mod:`loyalty_cli.stage1.customers`): lines collapse to orders by
  order id (else by customer and timestamp); an order's time is that of its first line; a *purchase* is an
  order with net value > 0, or exactly 0 without a negative line; days are the calendar days of order times.
- An item is *bought* in a purchase order when its net value in that order is > 0, or exactly 0 without a
  negative line (a free item): an item returned within the same order is not bought. A later return (a ``C``
  invoice) does not undo a purchase; it counts in net value. Lines without an item count in order values,
  never as an item.
- **First item**: the item of the largest line of the first purchase order (ties: alphabetical; purchase
  orders at the same first time: the alphabetically first of their items), the rule of stage 1's
  ``first_category``. **Last item**: the same for the last purchase order. A customer whose first purchase
  order's largest line has no item has no first item (left out of the first-item table, counted).
- ``second_day``: the first purchase day after the first purchase day; ``gap_days`` = second - first day;
  ``observed_days`` = (as_of - 1) - first day, as in ``loyalty second-purchase``.
- **Repurchase rate in 365 days**: among customers *observed 365 days* (observed_days >= 365: the 365 days
  after their first purchase day all lie before the as-of date), the share with gap_days <= 365 (any item).
  Wilson interval.
- **365-day value**: net value (returns included) of every order on the first purchase day and the 365 days
  after it (day 0 to day 365, both included: 366 calendar days, the definition of ``second-purchase``'s value
  by timing), over the same observed customers; mean with a Student t interval (mean +- t(n - 1) s / sqrt n).
  Intervals are left empty below ``min_n`` observed customers. A correlation, not the effect of an item.
- **Next item**: the items bought on the second purchase day (each counted once per customer), per first item:
  ``customers`` (support) who bought it next, ``share`` of the first item's repeaters (customers with a second
  purchase day, whenever it came: several items on one day make shares add up to more than 1), ``base_share``
  the same share among the repeaters of every first item, and ``lift`` = share / base_share. The top ``top`` per
  first item, by support, then lift, then name.
- **Next best item** per customer: from the customer's last item, the best-ranked of that item's top ``top``
  next items (as first item) the customer has not bought yet; none when the last item was never a first item
  or every one of its next items was bought already.

Keys (performance): items are numbered in alphabetical order (``i``: :func:`item_codes`), and customers are
grouped by a 64-bit hash of their id (``c``); :func:`customer_table` says when two ids share a hash
(``shared_hash``, from a second hash), and the caller then runs again with the ids themselves (``exact=True``).
Sums of cents are integers, so every figure is the same whatever the order of the rows.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from statistics import NormalDist
from typing import Literal

import polars as pl

ALL = "(all)"  # the first-item table's row of every customer
VALUE_DAYS = 365
CUSTOMER = "customer_id"
ORDER = "order_key"
SECOND_SEED = 7  # the seed of the second hash of the customer ids, that tells two ids with one hash apart
Level = Literal["product", "category"]


@dataclass(frozen=True)
class ProductConfig:
    """``level``: items are products or categories; ``top``: next items kept per first item; ``min_n``: observed
    customers below which the intervals are empty; ``min_support``: orders a pair (and each of its items) needs;
    ``confidence`` of the intervals."""

    level: Level = "product"
    top: int = 10
    min_n: int = 30
    min_support: int = 10
    confidence: float = 0.95

    @property
    def z(self) -> float:
        return NormalDist().inv_cdf(0.5 + self.confidence / 2)


# ------------------------------------------------------------------------------------------- plans over lines
def item_lines(lines: pl.LazyFrame, *, level: Level = "product") -> pl.LazyFrame:
    """The valid transaction lines as the product tables read them (per customer: a line's row depends on that
    line only): ``customer_id, order_key`` (a 64-bit hash of the order id, or of the timestamp without one:
    orders are told apart within a customer), ``item`` (the product or category; null without one),
    ``order_date, amount_cents``. Not grouped: summing lines per order and item in the read took twice its time
    and three times its memory (most lines are the only line of their item in their order)."""
    names = lines.collect_schema().names()
    key = pl.col("order_id") if "order_id" in names else pl.col("order_date")
    return lines.select(CUSTOMER, key.hash().alias(ORDER), pl.col(level).alias("item"), "order_date", "amount_cents")


def item_names(lines: pl.LazyFrame, column: str = "product_name") -> pl.LazyFrame:
    """``product, <column>, lines``: how many lines give each product each name (``column``: or e.g. each
    category), over all the lines: not a per-customer plan; no rows without both columns. :func:`name_table`
    picks one per product."""
    if not {"product", column} <= set(lines.collect_schema().names()):
        return pl.LazyFrame(schema={"product": pl.String, column: pl.String, "lines": pl.Int64})
    return (
        lines.filter(pl.col("product").is_not_null() & pl.col(column).is_not_null())
        .group_by("product", column)
        .agg(pl.len().cast(pl.Int64).alias("lines"))
    )


def customer_ids(lines: pl.LazyFrame) -> pl.LazyFrame:
    """``customer_id`` and, with an email column, ``email``: the email of the customer's latest line that has one
    (ties: the largest), as the customer summary keeps it (per customer)."""
    if "email" not in lines.collect_schema().names():
        return lines.group_by(CUSTOMER).agg()
    email = pl.col("email")
    latest = email.sort_by(email.is_not_null(), "order_date", email, nulls_last=False).last()
    return lines.group_by(CUSTOMER).agg(latest)


def name_table(names: pl.LazyFrame, column: str = "product_name") -> pl.LazyFrame:
    """``item, name``: the name (``column``: or e.g. the category) most lines give each product (ties:
    alphabetical), from :func:`item_names` (also several of its tables, e.g. one per pass over customer
    partitions)."""
    return (
        names.group_by("product", column)
        .agg(pl.col("lines").sum())
        .sort("product", "lines", column, descending=[False, True, False])
        .group_by("product", maintain_order=True)
        .agg(pl.col(column).first())
        .select(pl.col("product").alias("item"), pl.col(column).alias("name"))
    )


# ------------------------------------------------------------------------------------ orders and customers
def item_codes(items: pl.LazyFrame) -> pl.LazyFrame:
    """``item, i``: every item numbered from 0 in alphabetical order (so that ``i`` sorts and breaks ties as the
    names do)."""
    return items.select("item").unique().drop_nulls().sort("item").with_row_index("i")


def keyed_items(items: pl.LazyFrame, codes: pl.LazyFrame, *, exact: bool = False) -> pl.LazyFrame:
    """:func:`item_lines` by numbers: ``c``, the customer (a 64-bit hash of the id; the id itself when ``exact``),
    ``c2`` (a second hash of it), ``order_key``, ``i`` (:func:`item_codes`), ``order_date, amount_cents``."""
    customer = pl.col(CUSTOMER) if exact else pl.col(CUSTOMER).hash()
    return items.join(codes, on="item", how="left").select(
        customer.alias("c"),
        pl.col(CUSTOMER).hash(seed=SECOND_SEED).alias("c2"),
        ORDER,
        "i",
        "order_date",
        "amount_cents",
    )


def _is_purchase(value: pl.Expr, negative: pl.Expr) -> pl.Expr:
    return (value > 0) | ((value == 0) & ~negative)


def order_table(keyed: pl.LazyFrame) -> pl.LazyFrame:
    """One row per order: ``c, order_key, o`` (the order's number), ``ts, day`` (Int32 days since the epoch),
    ``order_cents, is_purchase, items`` (distinct items), ``netted`` (a negative line, or an item on several
    lines: its lines are summed per item), ``c2_min, c2_max`` (a second hash of the customer ids: two values when
    two ids share the first)."""
    amount, item = pl.col("amount_cents"), pl.col("i")
    return (
        keyed.group_by("c", ORDER)
        .agg(
            pl.col("order_date").min().alias("ts"),
            amount.sum().alias("order_cents"),
            (amount < 0).any().alias("negative"),
            item.drop_nulls().n_unique().cast(pl.UInt32).alias("items"),
            item.count().cast(pl.UInt32).alias("item_lines"),
            pl.col("c2").min().alias("c2_min"),
            pl.col("c2").max().alias("c2_max"),
        )
        .with_row_index("o")
        .select(
            "o",
            "c",
            ORDER,
            "ts",
            pl.col("ts").dt.date().cast(pl.Int32).alias("day"),
            "order_cents",
            _is_purchase(pl.col("order_cents"), pl.col("negative")).alias("is_purchase"),
            "items",
            (pl.col("negative") | (pl.col("item_lines") > pl.col("items"))).alias("netted"),
            "c2_min",
            "c2_max",
        )
    )


def customer_table(orders: pl.LazyFrame, *, as_of: date | None = None) -> pl.LazyFrame:
    """One row per customer with a purchase: ``c, shared_hash, first_ts, last_ts, first_day,
    second_day, last_day, orders, net_cents, value_365d_cents, as_of, gap_days, observed_days`` (days as dates).
    ``as_of``: the exclusive end of the data, or None: the day after the last order (also one that is no
    purchase)."""
    # One window (the first purchase day) and one group-by of plain aggregations over integer days, as stage 1
    # does (aggregations that broadcast a group's minimum inside ``agg`` are several times slower).
    purchase, day = pl.col("is_purchase"), pl.col("day")
    pday, first = pl.when(purchase).then(day), pl.col("first")
    in_year = (day >= first) & (day <= first + VALUE_DAYS)
    customers = (
        orders.with_columns(pday.alias("pday"), pl.when(purchase).then(pl.col("ts")).alias("pts"))
        .with_columns(pl.col("pday").min().over("c").alias("first"))
        .group_by("c")
        .agg(
            (pl.col("c2_min").min() != pl.col("c2_max").max()).alias("shared_hash"),
            pl.col("pts").min().alias("first_ts"),
            pl.col("pts").max().alias("last_ts"),
            pl.col("pday").min().alias("first_day"),
            pl.when(pl.col("pday") > first).then(pl.col("pday")).min().alias("second_day"),
            pl.col("pday").max().alias("last_day"),
            purchase.sum().cast(pl.UInt32).alias("orders"),
            pl.col("order_cents").sum().alias("net_cents"),
            pl.when(in_year).then(pl.col("order_cents")).sum().alias("value_365d_cents"),
            pl.col("ts").max().alias("last_order_ts"),
        )
    )
    end = (
        pl.lit(as_of, dtype=pl.Date)
        if as_of is not None
        else (pl.col("last_order_ts").max().dt.date() + pl.duration(days=1))
    )
    return (
        customers.with_columns(end.alias("as_of"))
        .filter(pl.col("first_ts").is_not_null())
        .with_columns(
            (pl.col("second_day") - pl.col("first_day")).alias("gap_days"),
            (pl.col("as_of").cast(pl.Int32) - pl.col("first_day") - 1).alias("observed_days"),
            *(pl.col(d).cast(pl.Date) for d in ("first_day", "second_day", "last_day")),
        )
        .drop("last_order_ts")
    )


def purchase_items(keyed: pl.LazyFrame, orders: pl.LazyFrame, customers: pl.LazyFrame) -> pl.LazyFrame:
    """The items of purchase orders (``keyed``: :func:`keyed_items`), one row per line, or per item in a
    ``netted`` order: ``c, o, i, day, amount_cents`` (its largest line), ``bought`` (see the top), ``items`` (of
    the order), ``netted`` and whether the order is the customer's ``first``, ``last``, or on the ``second``
    purchase day."""
    flags = customers.select("c", "first_ts", "last_ts", pl.col("second_day").cast(pl.Int32))
    purchases = (
        orders.filter(pl.col("is_purchase"))
        .join(flags, on="c", how="inner")
        .select(
            "c",
            ORDER,
            "o",
            "day",
            "items",
            "netted",
            (pl.col("ts") == pl.col("first_ts")).alias("first"),
            (pl.col("ts") == pl.col("last_ts")).alias("last"),
            (pl.col("day") == pl.col("second_day")).fill_null(False).alias("second"),
        )
    )
    rows = keyed.join(purchases, on=["c", ORDER], how="inner").drop(ORDER, "c2", "order_date")
    # Most orders have one line per item and none negative: each of their lines with an item is bought. The others'
    # lines are summed per item (the largest line kept, for the first and last items).
    amount = pl.col("amount_cents")
    plain = rows.filter(~pl.col("netted")).with_columns(pl.col("i").is_not_null().alias("bought"))
    netted = (
        rows.filter(pl.col("netted"))
        .group_by("o", "i")
        .agg(
            pl.exclude("amount_cents").first(),
            amount.max(),
            (_is_purchase(amount.sum(), (amount < 0).any()) & pl.col("i").is_not_null().first()).alias("bought"),
        )
    )
    return pl.concat([plain, netted], how="diagonal")


def edge_items(bought: pl.LazyFrame) -> pl.LazyFrame:
    """``c, first_i, last_i``: the items of the first and the last purchase order (see the top): of each such
    order, the alphabetically first item among its largest lines (an item before none)."""
    edge = bought.filter(pl.col("first") | pl.col("last"))
    largest = edge.group_by("o").agg(pl.col("amount_cents").max().alias("largest"))
    tops = (
        edge.join(largest, on="o", how="inner")
        .filter(pl.col("amount_cents") == pl.col("largest"))
        .group_by("o")
        .agg(pl.col("c").first(), pl.col("i").min(), pl.col("first").first(), pl.col("last").first())
    )
    return tops.group_by("c").agg(
        pl.col("i").filter(pl.col("first")).min().alias("first_i"),
        pl.col("i").filter(pl.col("last")).min().alias("last_i"),
    )


def decoded(
    table: pl.LazyFrame, codes: pl.LazyFrame, columns: dict[str, str], names: pl.LazyFrame | None = None
) -> pl.LazyFrame:
    """``table`` with each code column of ``columns`` (code -> output name) replaced by the item, in place (the
    first item table's null code: ``(all)``), and ``<output>_name`` after it when ``names`` (:func:`name_table`)
    are given."""
    order: list[str] = []
    for column in table.collect_schema().names():
        out = columns.get(column)
        order += [column] if out is None else [out, *([f"{out}_name"] if names is not None else [])]
    for code, out in columns.items():
        found = codes.select(pl.col("i").alias(code), pl.col("item").alias(out))
        if names is not None:
            found = found.join(
                names.select(pl.col("item").alias(out), pl.col("name").alias(f"{out}_name")), on=out, how="left"
            )
        table = table.join(found, on=code, how="left", maintain_order="left")
        if code == "i" and out.startswith("first_"):
            table = table.with_columns(pl.col(out).fill_null(ALL))
    return table.select(order)
