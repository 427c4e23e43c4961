"""``uplift``: did a campaign work? Treatment vs control over a window after the campaign start.

The lists come from the inputs (``tables["lists"]``: :class:`loyalty_cli.app.inputs.CampaignLists`), the
outcomes from the customer x day activity table over the window; the end of the data is the as-of date, or
the day after the last valid transaction line (:data:`LINES`: each customer's, collected in the same pass;
the latest taken here)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, timedelta
from typing import Any

import polars as pl

from loyalty_cli.app.inputs import CampaignLists, Inputs
from loyalty_cli.app.messages import Message, Messages
from loyalty_cli.errors import ConfigError, DataError, setting
from loyalty_cli.metrics import uplift as m_uplift
from loyalty_cli.stage1.plans import per_customer
from loyalty_cli.words import count


def _last_line_days(rows: pl.LazyFrame) -> pl.LazyFrame:
    """Each customer's day of their last valid line: the data ends the day after the latest of them when no
    as-of date is given (per customer, so that the Spark engine runs it on buckets of customers)."""
    return rows.group_by("customer_id").agg(pl.col("order_date").max().dt.date().alias("last"))


#: the plans over the transaction lines uplift reads besides the activity table (``InputSpec.lines``)
LINES = {"last": per_customer(_last_line_days)}


@dataclass(frozen=True)
class UpliftConfig:
    """``start``: the campaign start, the first day of the window; ``window``: its length in days; ``lists``:
    the treatment and control lists; ``confidence`` of the intervals; ``power`` of the minimum detectable
    effect; ``min_n``: segments with fewer customers in either group keep their counts only."""

    start: date
    lists: CampaignLists
    window: int = 30
    confidence: float = 0.95
    power: float = 0.8
    min_n: int = 30

    def __post_init__(self) -> None:
        if self.window < 1:
            raise ConfigError("window", f"must be at least 1 day, got {self.window}")
        if not 0.5 <= self.confidence <= 0.999:
            raise ConfigError("confidence", f"must be between 0.5 and 0.999, got {self.confidence}")
        if not 0.5 <= self.power <= 0.99:
            raise ConfigError("power", f"must be between 0.5 and 0.99, got {self.power}")
        if self.min_n < 1:
            raise ConfigError("min_n", f"must be at least 1, got {self.min_n}")

    @property
    def stats(self) -> m_uplift.UpliftConfig:
        return m_uplift.UpliftConfig(
            start=self.start, window_days=self.window, confidence=self.confidence, power=self.power, min_n=self.min_n
        )


@dataclass(frozen=True)
class UpliftResult:
    """``table``: one row per segment, ``(all)`` first (:func:`loyalty_cli.metrics.uplift.uplift_table` and the
    window's columns); ``outcomes``: each list customer's group and outcome, treatment first, by id;
    ``as_of``: the end of the data; ``by_segment``: the lists had a segment column."""

    table: pl.DataFrame
    outcomes: pl.DataFrame
    as_of: date
    window_end: date  # the last day of the window
    complete: bool  # the window has ended by the as-of date
    by_segment: bool
    messages: list[Message]


def uplift(inputs: Inputs, config: UpliftConfig) -> UpliftResult:
    stats_config, lists = config.stats, inputs.tables["lists"]
    end_of_data = _end_of_data(inputs, config)
    complete, observed = m_uplift.window_coverage(stats_config, end_of_data)
    last_window_day = stats_config.end - timedelta(days=1)
    days = count(config.window, "day")
    messages = Messages()
    if not complete:
        messages.warn(
            f"The window has not ended: the data (as of {end_of_data}) covers {observed} of its {days}. Results "
            f"are partial; rerun after {last_window_day} for the full window"
        )
    segment = "segment" if "segment" in lists.columns else None
    outcomes = _outcomes(inputs.activity, lists, stats_config, messages)
    stats_table = m_uplift.group_stats(outcomes.lazy(), by=segment).collect()
    table = m_uplift.uplift_table(stats_table, stats_config).with_columns(
        pl.lit(config.start).alias("window_start"),
        pl.lit(last_window_day).alias("window_end"),
        pl.lit(observed).alias("window_days_observed"),
        pl.lit(complete).alias("window_complete"),
    )
    overall = table.filter(pl.col("segment") == m_uplift.ALL).row(0, named=True)
    messages.note(
        f"Window: {days} ({config.start} to {last_window_day}), as of {end_of_data}; "
        f"{overall['treatment_customers']:,} treated, {count(overall['control_customers'], 'control customer')}"
    )
    for line in verdict_lines(overall, stats_config, days):
        messages.note(line, always=True)
    for warning in m_uplift.uplift_warnings(table, stats_table, stats_config):
        messages.warn(warning)
    if segment:
        small = table.filter((pl.col("segment") != m_uplift.ALL) & (pl.col("repurchase_verdict") == m_uplift.TOO_FEW))
        if small.height:
            messages.note(
                f"{count(small.height, 'segment')} with fewer than {setting('min_n')} "
                f"{count(config.min_n, 'customer')} in a group left empty"
            )
    return UpliftResult(
        table=table,
        outcomes=outcomes.sort("group", "customer_id", descending=[True, False]),
        as_of=end_of_data,
        window_end=last_window_day,
        complete=complete,
        by_segment=segment is not None,
        messages=messages.items,
    )


def _outcomes(
    activity: pl.DataFrame, lists: pl.DataFrame, config: m_uplift.UpliftConfig, messages: Messages
) -> pl.DataFrame:
    """Each list customer's outcome over the window, in the lists' order (a join's order varies, and with it the
    last digits of the sums over it); says how many of them have orders at all."""
    activity = activity.join(lists.select("customer_id"), on="customer_id", how="semi")
    seen = activity["customer_id"].n_unique()
    if seen == 0:
        messages.warn(
            f"None of the {count(lists.height, 'customer')} of the lists appear in the transactions: check that "
            "the lists' customer ids match the transactions' customer column"
        )
    else:
        messages.note(f"{seen:,} of {count(lists.height, 'list customer')} have orders in the transactions")
    return (
        m_uplift.campaign_outcomes(
            activity.lazy(), lists.lazy().with_row_index("_row"), start=config.start, end=config.end
        )
        .sort("_row")
        .drop("_row")
        .collect()
    )


def _end_of_data(inputs: Inputs, config: UpliftConfig) -> date:
    """The as-of date, or the day after the last transaction line; an error when the data has no line or ends
    before the campaign start."""
    last_day = inputs.tables["last"]["last"].max()
    if last_day is None:
        raise DataError(
            "No transactions in " + ", ".join(str(p) for p in inputs.scans["transactions"].paths[:3]),
            hint=f"Check the date and amount columns, and {setting('as_of')}.",
        )
    end_of_data = inputs.as_of or last_day + timedelta(days=1)
    if end_of_data <= config.start:
        raise DataError(
            f"The transactions end before the campaign start {config.start} (as of {end_of_data})",
            hint=f"Use an export that covers the days after the campaign start, or check {setting('start')}.",
        )
    return end_of_data


def verdict_lines(row: dict[str, Any], config: m_uplift.UpliftConfig, window: str) -> list[str]:
    """The overall comparison in words: the repurchase rates, the revenue per customer and (when the treatment
    bought significantly more) the incremental revenue, each with its interval and p-value."""
    conf = f"{config.confidence:.0%} CI"
    lines = []
    if row["repurchase_diff"] is not None:
        lines.append(
            f"Repurchase within {window}: treatment {row['treatment_repurchase_rate']:.1%} of "
            f"{row['treatment_customers']:,}, control {row['control_repurchase_rate']:.1%} of "
            f"{row['control_customers']:,}: {row['repurchase_diff'] * 100:+.1f} points ({conf} "
            f"{row['repurchase_diff_low'] * 100:+.1f} to {row['repurchase_diff_high'] * 100:+.1f}), "
            f"p = {row['repurchase_p_value']:.3g}: {row['repurchase_verdict']}"
        )
    if row["revenue_diff"] is not None:
        ci = (
            f" ({conf} {row['revenue_diff_low']:+,.2f} to {row['revenue_diff_high']:+,.2f}), "
            f"p = {row['revenue_p_value']:.3g}"
            if row["revenue_p_value"] is not None
            else ""
        )
        lines.append(
            f"Revenue per customer within {window}: treatment {row['treatment_revenue_per_customer']:,.2f}, control "
            f"{row['control_revenue_per_customer']:,.2f}: {row['revenue_diff']:+,.2f}{ci}: {row['revenue_verdict']}"
        )
        if row["revenue_verdict"].startswith("treatment"):
            n = row["treatment_customers"]
            lines.append(
                f"Incremental revenue: about {row['incremental_revenue']:+,.2f} ({conf} "
                f"{row['revenue_diff_low'] * n:+,.2f} to {row['revenue_diff_high'] * n:+,.2f}) from "
                f"{count(n, 'treated customer')}"
            )
    return lines
