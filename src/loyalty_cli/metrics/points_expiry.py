"""Points about to expire, from a points ledger (``customer_id, at, points, type``: earn +, redeem and expire -,
adjust signed, as :func:`loyalty_cli.io.readers.read_points` gives it) and the programme's expiry rule
(:class:`loyalty_cli.rules.programme.Expiry`).

Definitions (the README repeats them). Only ledger rows before ``as_of`` count. A customer's balance is the
sum of their rows. The window is ``(as_of, as_of + within_days]``: an expiry on the as-of date itself is not
in it (the list is of points still to expire), one on the window's last day is.

- **inactivity**: the whole balance expires ``days`` after the day of the customer's last row of an activity
  type (earn, redeem, adjust by default; an expire row is not activity): ``expiry_date = last_activity +
  days``. Listed when the balance is positive and the expiry date falls in the window.
- **fixed**: each earning (an earn row or a positive adjust) expires ``days`` after its day; redemptions,
  expiries and negative adjusts use the oldest points first. With cumulative sums: an earning's points left are
  ``min(points, max(0, earned up to and including it - everything used))``. Several earnings may expire in the
  window on different days: the list gives the first day (``event_date``) and the points that expire on it
  (``points_expiring``: what an email says expires on that date), and the points left of every earning whose
  expiry falls in the window (``points_expiring_in_window``) with the last such day (``last_event_date``).
  ``last_activity`` is the day of the last earn, redeem or adjust row (an expire row is not activity).

Under the inactivity policy a customer has one expiry date: ``points_expiring`` = ``points_expiring_in_window``
= the balance, ``last_event_date`` = ``event_date``. What expires is never more than the balance (the points
left of the earnings sum to it), so no cap is needed.

Either way, positive balances whose expiry date is on or before ``as_of`` with no expire row for them (the
ledger does not apply the rule, or is behind) are counted apart (:func:`overdue_points`), never listed.
"""

from __future__ import annotations

from datetime import date, timedelta

import polars as pl

from loyalty_cli.rules.programme import Expiry

#: the columns of the points-expiring list, in order
COLUMNS = (
    "customer_id",
    "event_date",
    "days_until",
    "points_expiring",
    "points_expiring_in_window",
    "last_event_date",
    "points_balance",
    "last_activity",
)


def _day(col: str = "at") -> pl.Expr:
    return pl.col(col).cast(pl.Date)


def _before(points: pl.LazyFrame, as_of: date) -> pl.LazyFrame:
    return points.filter(_day() < as_of)


def _lots(points: pl.LazyFrame, *, as_of: date, expiry: Expiry) -> pl.LazyFrame:
    """Per customer and expiry date: the points that expire then and are not used (``left``), with the
    customer's ``balance`` and ``last_activity`` (the day of their last row of an activity type: never an
    expire row)."""
    rows = _before(points, as_of)
    days = pl.duration(days=expiry.days)
    active = pl.col("type").is_in(list(expiry.activity))
    if expiry.policy == "inactivity":
        return (
            rows.group_by("customer_id")
            .agg(
                _day().filter(active).max().alias("last_activity"),
                pl.col("points").sum().alias("balance"),
            )
            .with_columns((pl.col("last_activity") + days).alias("expiry_date"), pl.col("balance").alias("left"))
        )
    # fixed: earnings in time order (a stable order for ties), used first in, first out
    gained = pl.col("points") > 0
    used = rows.group_by("customer_id").agg(
        (-pl.col("points").filter(~gained).sum()).alias("used"),
        pl.col("points").sum().alias("balance"),
        _day().filter(active).max().alias("last_activity"),
    )
    lots = (
        rows.filter(gained)
        .sort("customer_id", "at", "points")
        .with_columns(pl.col("points").cum_sum().over("customer_id").alias("_through"))
        .join(used, on="customer_id", how="left")
        .with_columns(
            pl.min_horizontal(pl.col("points"), (pl.col("_through") - pl.col("used")).clip(lower_bound=0)).alias(
                "left"
            ),
            (_day() + days).alias("expiry_date"),
        )
    )
    return lots.select("customer_id", "expiry_date", "left", "balance", "last_activity")


def expiring_points(points: pl.LazyFrame, *, as_of: date, within_days: int, expiry: Expiry) -> pl.LazyFrame:
    """One row per customer with points expiring in ``(as_of, as_of + within_days]`` (see the module docstring):
    :data:`COLUMNS`, ``event_date`` the first expiry date in the window, ``days_until`` its days after
    ``as_of``, ``points_expiring`` the points that expire on ``event_date``, ``points_expiring_in_window`` those
    that expire in the whole window, ``last_event_date`` the last expiry date in it, ``points_balance`` the
    balance today; soonest first, then the most points expiring then, then the customer id."""
    end = as_of + timedelta(days=within_days)
    window = (pl.col("expiry_date") > as_of) & (pl.col("expiry_date") <= end) & (pl.col("left") > 0)
    first = pl.col("expiry_date").min()
    return (
        _lots(points, as_of=as_of, expiry=expiry)
        .filter(window & (pl.col("balance") > 0))
        .group_by("customer_id")
        .agg(
            first.alias("event_date"),
            pl.col("left").filter(pl.col("expiry_date") == first).sum().alias("points_expiring"),
            pl.col("left").sum().alias("points_expiring_in_window"),
            pl.col("expiry_date").max().alias("last_event_date"),
            pl.col("balance").first().alias("points_balance"),
            pl.col("last_activity").first(),
        )
        .with_columns((pl.col("event_date") - pl.lit(as_of)).dt.total_days().cast(pl.Int32).alias("days_until"))
        .select(COLUMNS)
        .sort(["event_date", "points_expiring", "customer_id"], descending=[False, True, False])
    )


def overdue_points(points: pl.LazyFrame, *, as_of: date, expiry: Expiry) -> pl.LazyFrame:
    """One row: ``overdue_customers, overdue_points``: positive balances with points whose expiry date (by the
    rule) is before ``as_of`` and still on the ledger (no expire row took them: a ledger that does not apply the
    rule, or is behind); ``today_customers, today_points``: those whose expiry date is ``as_of`` itself (not in
    the window, which starts the day after)."""
    lots = _lots(points, as_of=as_of, expiry=expiry).filter(
        (pl.col("expiry_date") <= as_of) & (pl.col("left") > 0) & (pl.col("balance") > 0)
    )
    day = pl.col("expiry_date")
    # the points left of the earnings sum to the balance: neither count can exceed it
    per_customer = lots.group_by("customer_id").agg(
        pl.col("left").filter(day < as_of).sum().alias("overdue"),
        pl.col("left").filter(day == as_of).sum().alias("today"),
    )
    overdue, today = pl.col("overdue"), pl.col("today")
    return per_customer.select(
        (overdue > 0).sum().cast(pl.Int64).alias("overdue_customers"),
        overdue.sum().cast(pl.Float64).alias("overdue_points"),
        (today > 0).sum().cast(pl.Int64).alias("today_customers"),
        today.sum().cast(pl.Float64).alias("today_points"),
    )
