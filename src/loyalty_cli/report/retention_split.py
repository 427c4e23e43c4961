"""The retention section's table by acquisition (the report's ``retention_by``): one row per group, its average
cohort at a few periods, then all customers (:mod:`loyalty_cli.metrics.retention_splits` holds the definitions)."""

from __future__ import annotations

from typing import Any

import polars as pl

from loyalty_cli.metrics.retention import AVERAGE
from loyalty_cli.metrics.retention_splits import split_label
from loyalty_cli.report.data import ReportData, ReportSettings
from loyalty_cli.report.format import fmt_int, fmt_money, fmt_pct, make_table

#: the money column shown at the last period
METRIC = "cumulative_revenue_per_customer"
#: the periods k shown per period length: about a month, a quarter, half a year and a year
STEPS = {"week": (1, 4, 13, 26, 52), "month": (1, 3, 6, 12), "quarter": (1, 2, 4)}


def retention_split_table(data: ReportData, settings: ReportSettings) -> dict[str, Any]:
    """Customer retention "on" period k at :data:`STEPS` and the cumulative revenue per acquired customer at the
    last of them, for each group's average cohort (largest groups first, ``(other)`` last), then all customers'
    (the split table's ``all`` group). One label per row (:func:`~loyalty_cli.metrics.retention_splits.split_label`:
    a data value spelt like a made-up group's label is quoted). Blank: no cohort of the group has lived through
    period k yet."""
    split = data.retention_split
    assert split is not None
    period = settings.retention_period
    ks = [k for k in STEPS[period] if k <= int(data.retention["period"].max() or 0)] or [0]
    last = ks[-1]
    by = split["by"][0]
    rows_of = split.with_columns(split_label().alias("_row"))  # unique per (split, group)
    sizes = (
        rows_of.filter((pl.col("cohort") != AVERAGE) & (pl.col("period") == 0))
        .group_by("_row", maintain_order=True)
        .agg(pl.col("cohort_customers").sum().cast(pl.Int64).alias("customers"))
    )
    averages = rows_of.filter((pl.col("cohort") == AVERAGE) & pl.col("period").is_in(ks))
    shares = averages.pivot(on="period", index="_row", values="retention")
    value = averages.filter(pl.col("period") == last).select("_row", pl.col(METRIC).alias("_value"))
    table = sizes.join(shares, on="_row", how="left", maintain_order="left").join(
        value, on="_row", how="left", maintain_order="left"
    )
    rows = [
        [str(row["_row"]), fmt_int(row["customers"]), *(fmt_pct(row[str(k)]) for k in ks), fmt_money(row["_value"])]
        for row in table.iter_rows(named=True)
    ]
    return make_table(
        f"Retention by {by}: each group's average cohort",
        [
            by,
            "customers",
            *(f"{period} {k}" for k in ks),
            settings.money.header(f"cumulative revenue per customer, {period} {last}"),
        ],
        rows,
        [False, *([True] * (len(ks) + 2))],
        f"Share of each group's customers who bought in {period} k after their first purchase (the group: the "
        "value on the first purchase order; member: enrolled at the as-of date). Groups of fewer customers than "
        "the report's minimum are folded into (other), customers without a value are in (missing); a value of the "
        "data spelt like one of these or like all is shown in double quotes. Blank: no cohort of the group has "
        "reached k yet.",
    )
