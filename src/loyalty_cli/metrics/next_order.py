"""When each repeat customer is expected to order next, and the window to contact them.

Stage 2, from the per-customer summary alone (first and last purchase day, purchase days, as-of date): no
activity table. Method (the README's "Next order" section repeats it):

- **Model.** While a customer is active, their purchase days follow a Poisson process with a rate lambda of
  their own (exponential gaps between purchase days); across customers lambda ~ Gamma(r, alpha) (shape r, rate
  alpha). Customers also stop buying for good, as the BTYD model chosen says (BG/NBD by default, MBG/NBD or
  Pareto/NBD: :mod:`loyalty_cli.models`). All its parameters are fitted together by maximum likelihood on every
  customer's (x, t_x, T) in weeks, as ``loyalty cltv`` fits them (unique patterns weighted by their counts,
  L-BFGS-B on the log-parameters): one-time buyers are in the fit, because they are what tells stopping apart
  from buying slowly. At least :data:`MIN_REPEAT` repeat customers are required.
- **Why not r, alpha from the completed gaps alone** (x gaps summing to S = last - first, S | lambda ~
  Gamma(x, lambda), fitted over the repeat customers): the gaps that end inside the window of observation are
  the short ones (given x purchases in the window, their times are uniform whatever lambda: S says nothing
  more about lambda), so that fit makes everyone faster: on a seeded simulation of 20,000 customers whose mean
  gap while active is 40 days it gives 30 (tests/metrics/test_next_order.py). Adding the open gap (no purchase
  in the days since the last one) mends that only if nobody stops: real customers stop, a stopped customer
  then reads as a very slow one and the fit collapses (shape 0.06 on the shipped sample, simulated with
  0.6). Only a model of stopping tells the two apart, hence the BTYD model.
- **Per repeat customer** (x = purchase days - 1 >= 1; T = days from the first purchase to the last day of
  data, as_of - 1, the BTYD convention): if still active, lambda ~ Gamma(r + x, alpha + T). Its mean
  (r + x) / (alpha + T) = w x/T + (1 - w) r/alpha with w = T / (alpha + T): the customer's own rate shrunk
  toward the population's, the more the shorter their history; ``shrunk_gap_days`` is its reciprocal.
  ``own_gap_days`` = (last - first) / x, the mean of their completed gaps, is shown beside it.
- **Next order.** If still active, the time from the end of the last day of data to the next purchase is
  Lomax(shape r + x, scale alpha + T): P(later than t) = (scale / (scale + t)) ^ shape, quantile
  Q(q) = scale ((1 - q) ^ (-1 / shape) - 1). ``next_order_date`` is the median; the contact window
  ``contact_from`` .. ``contact_to`` is Q(0.25) .. Q(0.75): half of the next orders fall in it, a quarter
  before it. A time of t days falls on the day as_of - 1 + ceil(t), never before the as-of date. The median,
  not the mean: the mean, scale / (shape - 1), lies beyond Q(0.75) whenever shape < 2, as for a customer with
  one repeat purchase when r < 1, and tends to infinity as shape nears 1.
- **What it does not see.** Gaps are memoryless: the days since the last purchase count only through T, so
  there is no cadence (two customers with the same first purchase day and number of purchase days get the
  same dates, however their purchases were spaced) and a window always opens on or soon after the as-of date
  for frequent buyers. The dates hold **if the customer is still active**: ``p_alive`` (the model's P(alive))
  and ``expected_purchases_30d`` (expected purchases in the next 30 days, stopping included) stand beside them.
- **One-time buyers** get no date: ``loyalty second-purchase`` times them.
- **Due within N days** (:func:`due`): the window opens within the next N days (``contact_from`` <= as_of + N
  - 1, i.e. P(next order within N days | active) >= 25%) and P(alive) >= a floor (default 0.5: below it the
  customer is more likely gone than due; win-back lists are for them).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass

import numpy as np
import polars as pl

from loyalty_cli.errors import ModelError
from loyalty_cli.models import PurchaseModel, fit_purchase_model
from loyalty_cli.words import count

#: fewer repeat customers than this cannot say how fast customers buy
MIN_REPEAT = 30
#: the model's time unit in days (weeks, as ``loyalty cltv`` fits by default: the same P(alive))
UNIT_DAYS = 7
#: the horizon of ``expected_purchases_30d``, in days
HORIZON_DAYS = 30
#: the quantiles of the time to the next order: the window's start, the date, the window's end
FROM_Q, DATE_Q, TO_Q = 0.25, 0.5, 0.75
#: the columns the lifecycle and churn lists carry (:func:`loyalty_cli.app.next_order.with_next_order`)
DATE_COLUMNS = ("next_order_date", "contact_from", "contact_to")
#: a customer's BTYD inputs in whole days (:func:`btyd_days`): repeat purchase days x, recency t_x and age T
PATTERN = ("x", "t_x_days", "T_days")


def _pattern_columns() -> list[pl.Expr]:
    first = pl.col("first_purchase")
    return [
        (pl.col("purchase_days").cast(pl.Int64) - 1).alias("x"),
        (pl.col("last_purchase") - first).dt.total_days().alias("t_x_days"),
        ((pl.col("as_of") - first).dt.total_days() - 1).alias("T_days"),
    ]


def btyd_days(customers: pl.LazyFrame) -> pl.LazyFrame:
    """``customer_id`` and the BTYD inputs in days (lifetimes' conventions, as :func:`~loyalty_cli.stage1.
    customers.btyd_summary`): x = purchase days - 1, t_x_days = last - first purchase, T_days = (as_of - 1) -
    first purchase (the last day of data)."""
    return customers.select("customer_id", *_pattern_columns())


def patterns(customers: pl.LazyFrame) -> pl.LazyFrame:
    """The distinct (x, t_x_days, T_days) of the customers and how many share each (``customers``)."""
    return btyd_days(customers).group_by(PATTERN).agg(pl.len().alias("customers"))


def _in_units(grouped: pl.DataFrame, unit_days: float) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    x, t_x, t_end = (grouped[c].cast(pl.Float64).to_numpy() for c in PATTERN)
    return x, t_x / unit_days, t_end / unit_days


def fit_rate_model(
    grouped: pl.DataFrame, name: str = "bgnbd", *, unit_days: float = UNIT_DAYS, penalizer: float = 0.0
) -> PurchaseModel:
    """The BTYD model ``name`` fitted on :func:`patterns` (every customer, weighted), in units of ``unit_days``
    days, with ``penalizer`` (:mod:`loyalty_cli.models.fitting`). A :class:`ModelError` when fewer than
    :data:`MIN_REPEAT` customers bought on two days or the fit fails."""
    repeat = int(grouped.filter(pl.col("x") > 0)["customers"].sum())
    if repeat < MIN_REPEAT:
        raise ModelError(
            f"Only {count(repeat, 'customer')} bought on two different days: too few to tell how fast customers "
            f"buy again (at least {MIN_REPEAT} are needed)",
            hint="Use a longer history; second-purchase timing covers one-time buyers.",
        )
    x, t_x, t_end = _in_units(grouped, unit_days)
    weights = grouped["customers"].cast(pl.Float64).to_numpy()
    return fit_purchase_model(name, x, t_x, t_end, weights=weights, penalizer=penalizer)  # type: ignore[arg-type]


def model_columns(
    model: PurchaseModel, grouped: pl.DataFrame, *, unit_days: float = UNIT_DAYS, horizon_days: float = HORIZON_DAYS
) -> pl.DataFrame:
    """Per repeat pattern of :func:`patterns` (its keys): ``p_alive`` and ``expected_purchases_30d`` (the horizon
    in the name is :data:`HORIZON_DAYS`) from ``model``, fitted in units of ``unit_days`` days."""
    repeat = grouped.filter(pl.col("x") > 0)
    x, t_x, t_end = _in_units(repeat, unit_days)
    return repeat.select(PATTERN).with_columns(
        pl.Series("p_alive", model.p_alive(x, t_x, t_end), dtype=pl.Float64),
        pl.Series(
            "expected_purchases_30d",
            model.expected_purchases(horizon_days / unit_days, x, t_x, t_end),
            dtype=pl.Float64,
        ),
    )


def lomax_quantile(shape: pl.Expr, scale: pl.Expr, q: float) -> pl.Expr:
    """The ``q`` quantile of Lomax(shape, scale): scale ((1 - q) ^ (-1 / shape) - 1)."""
    return scale * ((-np.log1p(-q) / shape).exp() - 1.0)


def day_of(days: pl.Expr) -> pl.Expr:
    """The day on which a time ``days`` after the end of the last day of data falls: as_of - 1 + ceil(days)."""
    return pl.col("as_of") + pl.duration(days=days.ceil().cast(pl.Int64) - 1)


@dataclass(frozen=True)
class RatePrior:
    """The population's purchase rate while active, lambda ~ Gamma(``r``, ``alpha_days``) (rate per day)."""

    r: float
    alpha_days: float

    @classmethod
    def of(cls, model: PurchaseModel, *, unit_days: float = UNIT_DAYS) -> RatePrior:
        return cls(model.params["r"], model.params["alpha"] * unit_days)

    @property
    def typical_gap_days(self) -> float:
        """The reciprocal of the mean rate, alpha / r, in days."""
        return self.alpha_days / self.r

    @property
    def mean_gap_days(self) -> float | None:
        """The population's mean gap, alpha / (r - 1) days; None (infinite) when r <= 1."""
        return self.alpha_days / (self.r - 1) if self.r > 1 else None


def next_order_table(
    customers: pl.LazyFrame,
    prior: RatePrior,
    predictions: pl.LazyFrame | None = None,
    *,
    ordered: bool = True,
    carry: Sequence[str] = (),
) -> pl.LazyFrame:
    """One row per repeat customer (purchase days >= 2), soonest next order first (then by id; ``ordered=False``:
    in no order, for counts, which need no sort of every customer's row; ``carry``: columns of ``customers`` kept
    at the end): customer_id,
    [email], purchase_days, first_purchase, last_purchase, days_since_last, own_gap_days, shrunk_gap_days,
    next_order_date, contact_from, contact_to, [p_alive, expected_purchases_30d: from ``predictions``, the
    :func:`model_columns` of the same customers], net_spend, as_of. Gaps in days, rounded to 0.1."""
    names = customers.collect_schema().names()
    x = pl.col("purchase_days").cast(pl.Float64) - 1
    t_days = (pl.col("as_of") - pl.col("first_purchase")).dt.total_days().cast(pl.Float64) - 1
    shape, scale = pl.col("_shape"), pl.col("_scale")
    table = (
        customers.filter(pl.col("purchase_days") >= 2)
        .with_columns((x + prior.r).alias("_shape"), (t_days + prior.alpha_days).alias("_scale"))
        .with_columns(
            pl.col("recency_days").alias("days_since_last"),
            ((pl.col("last_purchase") - pl.col("first_purchase")).dt.total_days() / x).round(1).alias("own_gap_days"),
            (scale / shape).round(1).alias("shrunk_gap_days"),
            day_of(lomax_quantile(shape, scale, DATE_Q)).alias("next_order_date"),
            day_of(lomax_quantile(shape, scale, FROM_Q)).alias("contact_from"),
            day_of(lomax_quantile(shape, scale, TO_Q)).alias("contact_to"),
        )
    )
    model = []
    if predictions is not None:
        table = table.with_columns(_pattern_columns()).join(predictions, on=PATTERN, how="left")
        model = ["p_alive", "expected_purchases_30d"]
    lead = ["customer_id", "email"] if "email" in names else ["customer_id"]
    table = table.select(
        *lead,
        "purchase_days",
        "first_purchase",
        "last_purchase",
        "days_since_last",
        "own_gap_days",
        "shrunk_gap_days",
        "next_order_date",
        "contact_from",
        "contact_to",
        *model,
        "net_spend",
        "as_of",
        *carry,
    )
    return table.sort("next_order_date", "customer_id") if ordered else table


#: a customer's row in the customer summary (:func:`soonest_first`)
ROW = "_row"
#: the customer summary's columns that :func:`next_order_table` reads (and ``email``, when there)
TABLE_INPUTS = ("customer_id", "purchase_days", "first_purchase", "last_purchase", "recency_days", "net_spend", "as_of")


def table_inputs(customers: pl.DataFrame) -> pl.DataFrame:
    """The columns of ``customers`` that :func:`next_order_table` reads (no copy): what a slice of its rows
    gathers, not every column of the summary."""
    return customers.select(c for c in (*TABLE_INPUTS, "email") if c in customers.columns)


def soonest_first(
    customers: pl.DataFrame,
    prior: RatePrior,
    predictions: pl.LazyFrame | None = None,
    *,
    keep: Callable[[pl.LazyFrame], pl.LazyFrame] | None = None,
) -> pl.Series:
    """The rows of ``customers`` that :func:`next_order_table` lists (those ``keep`` keeps, e.g. :func:`due`;
    ``predictions`` when it reads them), in its order: their positions, soonest next order first, then by id.
    The table is then made a slice at a time as it is written (:class:`~loyalty_cli.io.rows.Rows`), not sorted
    whole (50M lines, 4.3M repeat customers, a 1 GB budget: the command's peak 1.38 -> 1.05 GB)."""
    table = next_order_table(customers.lazy().with_row_index(ROW), prior, predictions, ordered=False, carry=[ROW])
    if keep is not None:
        table = keep(table)
    ids = customers["customer_id"]
    # customers in id order (stage 1 in passes): a row's position is its id's rank, and no strings are sorted
    by_id = ROW if ids.is_sorted() and not ids.has_nulls() else "customer_id"
    return table.sort("next_order_date", by_id).select(ROW).collect().to_series()


def window_opens(within_days: int) -> pl.Expr:
    """Whether a customer's contact window opens within ``within_days`` days of the as-of date (by as_of +
    within_days - 1): the "due" rule of :func:`due`, :func:`due_counts` and the report."""
    return pl.col("contact_from") <= pl.col("as_of") + pl.duration(days=within_days - 1)


def due(table: pl.LazyFrame, *, within_days: int, min_p_alive: float = 0.0) -> pl.LazyFrame:
    """The customers of :func:`next_order_table` due within ``within_days`` days: the contact window opens by
    as_of + within_days - 1 (P(next order within them | active) >= 25%) and P(alive) >= ``min_p_alive`` (when
    the table has it)."""
    opens = window_opens(within_days)
    alive = pl.col("p_alive") >= min_p_alive if "p_alive" in table.collect_schema().names() else pl.lit(True)
    return table.filter(opens & alive)


def due_counts(table: pl.LazyFrame, *, days: tuple[int, ...] = (7, 14, 30), min_p_alive: float = 0.0) -> pl.LazyFrame:
    """One row per horizon of ``days``: ``within_days``, ``window_opens`` (the window opens within them) and
    ``due`` (also P(alive) >= ``min_p_alive``)."""
    names = table.collect_schema().names()
    alive = pl.col("p_alive") >= min_p_alive if "p_alive" in names else pl.lit(True)
    rows = [
        table.select(
            pl.lit(n, dtype=pl.Int64).alias("within_days"),
            window_opens(n).sum().alias("window_opens"),
            (window_opens(n) & alive).sum().alias("due"),
        )
        for n in days
    ]
    return pl.concat(rows)
