"""Churn in a non-contractual shop (nobody says they left): active, lapsing and lapsed customers.

Stage 2: everything starts from the per-customer summary (:func:`~loyalty_cli.stage1.customers.
customer_summary`) and the customer x day activity table (:func:`~loyalty_cli.stage1.customers.
customer_activity`, for the gaps between purchase days); never from raw lines.

Definitions (the README repeats them; thresholds live in ``rules/churn.toml``, read by
:mod:`loyalty_cli.rules.churn`):

- *Days since the last purchase* is the summary's ``recency_days`` (as_of - last purchase day).
- A *gap* is the number of days between two consecutive purchase days of a customer. The customer's own
  inter-purchase time (IPT) is the median (or mean, ``[ipt] own``) of their gaps. It is used when they have
  at least ``[ipt] min_gaps`` gaps (default 2); otherwise the *population IPT* is used: the median, over
  every customer with at least one gap, of their own IPT (each repeat customer counts once).
- Each threshold (``[lapsing]``, ``[lapsed]``) is one of: ``multiplier`` x IPT (optionally bounded by
  ``min_days`` / ``max_days``), fixed ``days``, or ``percentile`` (the given percentile of the repeat
  customers' own IPT, the same for everyone).
- ``lapsed``: days since the last purchase > the lapsed threshold; else ``lapsing``: > the lapsing
  threshold; else ``active``. Exactly at a threshold is not beyond it. The ``reason`` column says which
  numbers decided.
- Churn rate by period: :mod:`loyalty_cli.metrics.churn_rates`.

Here: the status of each customer (:func:`churn_status`, :func:`status_of`) and the purchase days and own
IPT it is made from. Beside it: the status table kept narrow for millions of customers
(:mod:`loyalty_cli.metrics.churn_narrow`), value tiers, ranking and the summary per status
(:mod:`loyalty_cli.metrics.churn_ranking`), the model-based P(alive) and predicted value
(:mod:`loyalty_cli.metrics.churn_model`).
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from dataclasses import dataclass

import polars as pl

from loyalty_cli.rules.churn import STATUSES, ChurnRules, Threshold
from loyalty_cli.stage1.activity_parts import Activity, each_part, in_parts, stacked, with_customers

STATUS = pl.Enum(list(STATUSES))


def lacks_ipt(customers: pl.DataFrame, rules: ChurnRules) -> bool:
    """Whether ``rules`` cannot give anybody a status: a threshold needs the inter-purchase time (a multiplier
    or a percentile of it) and no customer bought on two different days, so there is none, not even the
    population's."""
    needs = any(t.kind in ("multiplier", "percentile") for t in (rules.lapsing, rules.lapsed))
    return needs and customers.height > 0 and not (customers["purchase_days"] >= 2).any()


# ---------------------------------------------------------------------------------------------- statuses
def _text(value: pl.Expr) -> pl.Expr:
    """A number in a sentence: one decimal, without a trailing .0."""
    return value.round(1).cast(pl.String).str.replace(r"\.0$", "")


def percentile_expr(rule: Threshold) -> pl.Expr:
    """A ``percentile`` threshold: of the repeat customers' own IPT (one value for everyone)."""
    return pl.col("own_ipt_days").filter(pl.col("gaps") >= 1).quantile(rule.value / 100, "linear")


def population_expr() -> pl.Expr:
    """The population IPT: the median of the repeat customers' own IPT."""
    return pl.col("own_ipt_days").filter(pl.col("gaps") >= 1).median()


def _threshold_expr(rule: Threshold, constant: float | None = None, *, fixed: bool = False) -> pl.Expr:
    """A threshold's days; ``fixed``: a percentile is ``constant`` (:class:`IptConstants`), not computed here."""
    if rule.kind == "days":
        return pl.lit(rule.value, dtype=pl.Float64)
    if rule.kind == "percentile":
        return pl.lit(constant, dtype=pl.Float64) if fixed else percentile_expr(rule)
    days = rule.value * pl.col("ipt_days")
    if rule.min_days is not None or rule.max_days is not None:
        days = days.clip(rule.min_days, rule.max_days)
    return days


def purchase_days(customers: pl.LazyFrame, activity: pl.LazyFrame, *, keep: Sequence[str] = ()) -> pl.LazyFrame:
    """Every purchase day of the ``customers``, sorted by customer and day: ``_i`` (the customer's row number in
    ``customers``), ``_day`` (days since the epoch, Int32) and the customer's columns ``keep``.

    Sorting two integers once is several times faster than windows over the customer id ordered by day; a
    neighbour row is the same customer's when ``_i`` is equal (:func:`same_customer`). ``customers`` is read once
    (numbers and ``keep`` come from the same rows), so a lazy input whose row order may change from one
    evaluation to the next gives the right columns all the same."""
    numbers = customers.select("customer_id", *(c for c in keep if c != "customer_id")).with_row_index("_i")
    return _numbered_days(numbers, activity, keep)


def _numbered_days(numbers: pl.LazyFrame, activity: pl.LazyFrame, keep: Sequence[str]) -> pl.LazyFrame:
    """:func:`purchase_days` of customers numbered already (``_i``, customer_id, ``keep``)."""
    # one Int64 key (customer in the high bits, day in the low ones): a third of the time of sorting by both
    key = pl.col("_i").cast(pl.Int64) * (1 << 32) + pl.col("_day")
    return (
        activity.filter(pl.col("purchases") > 0)
        .select("customer_id", "day")
        .join(numbers, on="customer_id", how="inner")
        .select("_i", pl.col("day").cast(pl.Int32).alias("_day"), *keep)
        .sort(key)
        .with_columns(pl.col("_i").set_sorted())  # so that a group-by by customer runs over the sorted runs
    )


def each_part_days(customers: pl.DataFrame, activity: Activity, *, keep: Sequence[str] = ()) -> Iterator[pl.DataFrame]:
    """:func:`purchase_days` of a collected customer table, one frame per part of ``activity`` (a table: one),
    collected as they are asked for: the customers' numbers (``_i``) are their rows in the whole table, each frame
    holds the customers of its part, sorted by customer and day."""
    numbers = customers.lazy().select("customer_id", *(c for c in keep if c != "customer_id")).with_row_index("_i")
    for mine, part in with_customers(numbers, activity):
        yield _numbered_days(mine, part, keep).collect()


def own_ipt(customers: pl.DataFrame, activity: Activity, *, how: str) -> pl.LazyFrame:
    """:func:`own_gaps` (``_i``, ``own_ipt_days``) of a collected customer table, part by part of ``activity``
    when it is in parts (one part's purchase days held at a time; each customer is in one part)."""
    if not in_parts(activity):
        return own_gaps(purchase_days(customers.lazy(), each_part(activity)[0]), how=how)
    numbers = customers.lazy().select("customer_id").with_row_index("_i")
    found = [
        own_gaps(_numbered_days(mine, part, ()), how=how).collect() for mine, part in with_customers(numbers, activity)
    ]
    return stacked(found).lazy()


def same_customer(offset: int) -> pl.Expr:
    """Whether the row ``offset`` rows before (after, when negative) is the same customer's (``_i``), in a frame
    sorted by ``_i``: false (never null) at either end."""
    return (pl.col("_i") == pl.col("_i").shift(offset)).fill_null(False)


def own_gaps(days: pl.LazyFrame, *, how: str, keep: Sequence[str] = ()) -> pl.LazyFrame:
    """Each customer's own inter-purchase time, ``own_ipt_days``: the median (``how``: or the mean) of the gaps
    between their purchase days, from :func:`purchase_days` (by ``_i``, with the columns ``keep``); null with one
    purchase day."""
    gap = pl.col("_gap")
    return (
        days.with_columns(pl.when(same_customer(1)).then(pl.col("_day") - pl.col("_day").shift(1)).alias("_gap"))
        .group_by("_i")
        .agg(
            *(pl.col(c).first() for c in keep), (gap.median() if how == "median" else gap.mean()).alias("own_ipt_days")
        )
    )


def churn_status(customers: pl.LazyFrame, activity: Activity, *, rules: ChurnRules) -> pl.LazyFrame:
    """One row per customer: status (active/lapsing/lapsed) with the reason and the numbers behind it.

    Columns: customer_id, [email], status, reason, recency_days, gaps, own_ipt_days, ipt_days, ipt_source
    (own/population), lapsing_after_days, lapsed_after_days, orders, purchase_days, net_spend,
    repeat_spend, mean_order_value, first_purchase, last_purchase, as_of. Status is null only when a threshold cannot
    be computed (no customer has two purchase days, so there is no population IPT)."""
    # The gaps between a customer's purchase days from their days in order (see purchase_days); a window over
    # the customer id ordered by day cost 3x as much, sorting inside the group-by more still.
    if in_parts(activity):  # its parts one at a time, on the collected customers
        return status_of(customers.collect(), activity, rules=rules)
    activity = each_part(activity)[0]
    own = own_gaps(purchase_days(customers, activity, keep=["customer_id"]), how=rules.own_ipt, keep=["customer_id"])
    return status_with_gaps(customers.join(own.drop("_i"), on="customer_id", how="left"), rules=rules)


def status_of(
    customers: pl.DataFrame,
    activity: Activity,
    *,
    rules: ChurnRules,
    days: pl.LazyFrame | None = None,
    keep: Sequence[str] = (),
    reasons: bool = True,
    own: pl.LazyFrame | None = None,
) -> pl.LazyFrame:
    """:func:`churn_status` of a collected customer table, faster: its rows keep their order however often it is
    read, so they are numbered by position (``_i``) and the purchase days need no customer id (10M lines: 2.7 s
    against 3.7 s). ``days``: its :func:`purchase_days` when computed already; ``keep``: e.g. ``_i``, last;
    ``reasons=False``: without the ``reason`` column; ``own``: its :func:`own_ipt` when computed already. The
    activity in parts is read one part at a time (:func:`own_ipt`)."""
    if own is None:
        own = own_gaps(days, how=rules.own_ipt) if days is not None else own_ipt(customers, activity, how=rules.own_ipt)
    # the customers' own IPT in their rows' order, beside their columns: not joined, which copied every column
    # (4.8M customers: ~0.5 GB)
    rows = pl.LazyFrame({"_i": pl.int_range(customers.height, dtype=pl.get_index_type(), eager=True)})
    own_column = rows.join(own, on="_i", how="left", maintain_order="left").collect()["own_ipt_days"]
    numbered = customers.lazy().with_row_index("_i").with_columns(own_column)
    return status_with_gaps(numbered, rules=rules, keep=keep, reasons=reasons)


def reason(rules: ChurnRules) -> pl.Expr:
    """The ``reason`` column of :func:`churn_status`, from its other columns (status, recency_days, the
    thresholds, ipt_source, ipt_days, gaps): added to a table already sorted, the texts are not moved by the
    sort (10M lines: ~100 MB of them)."""
    days = pl.col("recency_days")
    lapsing_text = pl.format(
        f"lapsing threshold {rules.lapsing.describe()} = {{}} days", _text(pl.col("lapsing_after_days"))
    )
    lapsed_text = pl.format(
        f"lapsed threshold {rules.lapsed.describe()} = {{}} days", _text(pl.col("lapsed_after_days"))
    )
    since = pl.format("{} days since the last purchase", days)
    text = (
        pl.when(pl.col("status") == "lapsed")
        .then(pl.format("{} > {}", since, lapsed_text))
        .when(pl.col("status") == "lapsing")
        .then(pl.format("{} > {}, <= {}", since, lapsing_text, lapsed_text))
        .when(pl.col("status") == "active")
        .then(pl.format("{} <= {}", since, lapsing_text))
    )
    if rules.uses_ipt:
        plural = pl.when(pl.col("gaps") == 1).then(pl.lit("gap")).otherwise(pl.lit("gaps"))
        ipt_text = (
            pl.when(pl.col("ipt_source") == "own")
            .then(
                pl.format(
                    f"; IPT = own {rules.own_ipt} gap {{}} days ({{}} {{}})",
                    _text(pl.col("ipt_days")),
                    pl.col("gaps"),
                    plural,
                )
            )
            .otherwise(
                pl.format(
                    f"; IPT = population {{}} days (own: {{}} {{}}, fewer than {rules.min_gaps})",
                    _text(pl.col("ipt_days")),
                    pl.col("gaps"),
                    plural,
                )
            )
        )
        text = pl.concat_str(text, ipt_text)
    return text.alias("reason")


#: rows whose reasons are written at a time by :func:`with_reasons`
REASON_ROWS = 131_072


def with_reasons(table: pl.DataFrame, rules: ChurnRules) -> pl.DataFrame:
    """``table`` (a status table without reasons, e.g. ranked) with the ``reason`` column last, written a slice
    of rows at a time: the texts of every branch are built for every row before one is kept, so at once they
    took several times the column's size (10M lines: RSS 518 MB after, against 406 MB in slices; the same texts)."""
    texts = [table.slice(start, REASON_ROWS).select(reason(rules)) for start in range(0, table.height, REASON_ROWS)]
    column = pl.concat(texts).rechunk() if texts else table.head(0).select(reason(rules))
    return table.with_columns(column.to_series())


#: the columns of :func:`churn_status` after the leading ones (id, email, status, reason), in order
STATUS_COLUMNS = (
    "recency_days",
    "gaps",
    "own_ipt_days",
    "ipt_days",
    "ipt_source",
    "lapsing_after_days",
    "lapsed_after_days",
    "orders",
    "purchase_days",
    "net_spend",
    "repeat_spend",
    "mean_order_value",
    "first_purchase",
    "last_purchase",
    "as_of",
)


@dataclass(frozen=True)
class IptConstants:
    """What a status takes from all customers at once: the population IPT and the thresholds that are a
    percentile of the own IPTs (None for a threshold of another kind)."""

    population_ipt: float | None
    lapsing: float | None = None
    lapsed: float | None = None


def with_ipt(frame: pl.LazyFrame, rules: ChurnRules, constants: IptConstants | None = None) -> pl.LazyFrame:
    """``frame`` (customers with ``purchase_days`` and ``own_ipt_days``) with gaps, own_ipt_days (null without a
    gap), population_ipt, ipt_days, ipt_source and both thresholds; the population IPT and percentiles from the
    rows of ``frame``, or ``constants`` (computed over all customers: the same numbers for any of their rows)."""
    frame = (
        frame.with_columns((pl.col("purchase_days").cast(pl.Int32) - 1).alias("gaps"))
        .with_columns(pl.when(pl.col("gaps") >= 1).then(pl.col("own_ipt_days")).alias("own_ipt_days"))
        .with_columns(
            (population_expr() if constants is None else pl.lit(constants.population_ipt, dtype=pl.Float64)).alias(
                "population_ipt"
            )
        )
    )
    own_enough = pl.col("gaps") >= rules.min_gaps
    fixed = constants is not None
    lapsing, lapsed = (constants.lapsing, constants.lapsed) if constants is not None else (None, None)
    return frame.with_columns(
        pl.when(own_enough).then(pl.col("own_ipt_days")).otherwise(pl.col("population_ipt")).alias("ipt_days"),
        pl.when(own_enough).then(pl.lit("own")).otherwise(pl.lit("population")).alias("ipt_source"),
    ).with_columns(
        # rounded so that the status here and the replay in churn_rates agree exactly at a threshold
        _threshold_expr(rules.lapsing, lapsing, fixed=fixed).round(6).alias("lapsing_after_days"),
        _threshold_expr(rules.lapsed, lapsed, fixed=fixed).round(6).alias("lapsed_after_days"),
    )


def status_expr() -> pl.Expr:
    """The status from recency_days and both thresholds (null without a threshold)."""
    days = pl.col("recency_days")
    status = (
        pl.when(pl.col("lapsed_after_days").is_null() | pl.col("lapsing_after_days").is_null())
        .then(None)
        .when(days > pl.col("lapsed_after_days"))
        .then(pl.lit("lapsed"))
        .when(days > pl.col("lapsing_after_days"))
        .then(pl.lit("lapsing"))
        .otherwise(pl.lit("active"))
    )
    return status.cast(STATUS).alias("status")


def status_with_gaps(
    customers: pl.LazyFrame, *, rules: ChurnRules, keep: Sequence[str] = (), reasons: bool = True
) -> pl.LazyFrame:
    """:func:`churn_status` of customers that have their ``own_ipt_days`` (:func:`own_gaps`) already, with their
    columns ``keep`` last; ``reasons=False``: without the ``reason`` column (:func:`reason` adds it)."""
    names = customers.collect_schema().names()
    leading = ["customer_id", "email"] if "email" in names else ["customer_id"]
    return (
        with_ipt(customers, rules)
        .with_columns(status_expr())
        .with_columns(*([reason(rules)] if reasons else []))
        .select(*leading, "status", *(["reason"] if reasons else []), *STATUS_COLUMNS, *keep)
    )
