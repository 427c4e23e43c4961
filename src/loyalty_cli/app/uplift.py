"""``uplift``: did a campaign work? Treatment vs control over a window after the campaign start.

The lists come from the inputs (``tables["lists"]``: :class:`loyalty_cli.app.campaign_lists.CampaignLists`), the
outcomes from the customer x day activity table over the window; the end of the data is the as-of date, or
the day after the last valid transaction line (:data:`LINES`: each customer's, collected in the same pass;
the latest taken here). Lists split into two or more treated arms give each arm against the control, with
Holm-adjusted p-values (:mod:`loyalty_cli.metrics.uplift_arms`); with a reward's cost (:mod:`loyalty_cli.app.
uplift_cost`), the return on it."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, timedelta
from typing import Any

import polars as pl

from loyalty_cli.app.campaign_lists import CampaignLists
from loyalty_cli.app.inputs import Inputs
from loyalty_cli.app.messages import Message, Messages
from loyalty_cli.app.uplift_cost import RewardCosts
from loyalty_cli.errors import ConfigError, DataError, setting
from loyalty_cli.metrics import uplift as m_uplift
from loyalty_cli.metrics import uplift_arms as m_arms
from loyalty_cli.stage1.activity_parts import first_day
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
    effect; ``min_n``: segments with fewer customers in either group keep their counts only; ``cost``: the
    reward's cost (:func:`loyalty_cli.app.uplift_cost.parse_cost`; None: no return computed)."""

    start: date
    lists: CampaignLists
    window: int = 30
    confidence: float = 0.95
    power: float = 0.8
    min_n: int = 30
    cost: RewardCosts | None = None

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
    window's columns); with two or more treated arms, one row per arm and segment, ``arm`` first
    (:func:`loyalty_cli.metrics.uplift_arms.arm_comparisons`); with a cost, the return columns after
    ``incremental_revenue`` (:func:`loyalty_cli.metrics.uplift_arms.reward_return`). ``outcomes``: each list
    customer's group (and arm) and outcome, treatment first (the arms in order), by id; ``as_of``: the end of the
    data; ``by_segment``: the lists had a segment column; ``arms``: the treated arms compared (empty: one
    treatment group, today's table); ``costed``: the table has the return columns."""

    table: pl.DataFrame
    outcomes: pl.DataFrame
    as_of: date
    window_end: date  # the last day of the window
    complete: bool  # the window has ended by the as-of date
    by_segment: bool
    messages: list[Message]
    arms: tuple[str, ...] = ()
    costed: bool = False


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
    treated, control_arm = _arms(lists)
    costs = _costs(config, treated, control_arm)
    outcomes = _outcomes(inputs.activity, lists, stats_config, messages)
    arms = tuple(treated) if len(treated) > 1 else ()
    if arms:
        table, stats_table = m_arms.arm_comparisons(outcomes.lazy(), arms, stats_config, by=segment)
    else:
        stats_table = m_uplift.group_stats(outcomes.lazy(), by=segment).collect()
        table = m_uplift.uplift_table(stats_table, stats_config)
    if costs is not None:
        per_row = [costs[a] for a in table[m_arms.ARM]] if arms else [next(iter(costs.values()))] * table.height
        table = m_arms.reward_return(table, stats_table["treatment_repurchasers"], per_row)
    table = table.with_columns(
        pl.lit(config.start).alias("window_start"),
        pl.lit(last_window_day).alias("window_end"),
        pl.lit(observed).alias("window_days_observed"),
        pl.lit(complete).alias("window_complete"),
    )
    _summarise(table, stats_table, arms, config, messages, window=(end_of_data, last_window_day, days))
    if segment:
        small = table.filter((pl.col("segment") != m_uplift.ALL) & (pl.col("repurchase_verdict") == m_uplift.TOO_FEW))
        if small.height:
            messages.note(
                f"{count(small['segment'].n_unique(), 'segment')} with fewer than {setting('min_n')} "
                f"{count(config.min_n, 'customer')} in a group left empty"
            )
    return UpliftResult(
        table=table,
        outcomes=_in_order(outcomes, [*treated, control_arm] if control_arm else []),
        as_of=end_of_data,
        window_end=last_window_day,
        complete=complete,
        by_segment=segment is not None,
        messages=messages.items,
        arms=arms,
        costed=costs is not None,
    )


def _arms(lists: pl.DataFrame) -> tuple[list[str], str | None]:
    """The treated arms of the lists in the order they come (``["treatment"]`` without arms) and the control arm's
    name (None without arms)."""
    if m_arms.ARM not in lists.columns:
        return [m_uplift.TREATMENT], None
    treated = lists.filter(pl.col("group") == m_uplift.TREATMENT)[m_arms.ARM].unique(maintain_order=True)
    control = lists.filter(pl.col("group") == m_uplift.CONTROL)[m_arms.ARM].unique(maintain_order=True)
    return treated.to_list(), control.item(0) if control.len() else None


def _costs(config: UpliftConfig, treated: list[str], control_arm: str | None) -> dict[str, m_arms.RewardCost] | None:
    if config.cost is None:
        return None
    return config.cost.for_arms(treated, control=control_arm, named=control_arm is not None)


def _in_order(outcomes: pl.DataFrame, arms: list[str]) -> pl.DataFrame:
    """The outcomes, treatment first, then by arm in the arms' order, then by id."""
    if not arms:
        return outcomes.sort("group", "customer_id", descending=[True, False])
    rank = pl.col(m_arms.ARM).replace_strict({a: i for i, a in enumerate(arms)}, return_dtype=pl.Int64)
    return outcomes.sort(pl.col("group"), rank, pl.col("customer_id"), descending=[True, False, False])


def _summarise(
    table: pl.DataFrame,
    stats_table: pl.DataFrame,
    arms: tuple[str, ...],
    config: UpliftConfig,
    messages: Messages,
    *,
    window: tuple[date, date, str],
) -> None:
    """The notes on the overall rows: the window and the groups, each comparison's verdicts (per arm), its
    warnings and the return on the reward."""
    end_of_data, last_window_day, days = window
    stats_config = config.stats
    overall = table.filter(pl.col("segment") == m_uplift.ALL)
    first = overall.row(0, named=True)
    if arms:
        groups = ", ".join(f"{n:,} in {a}" for a, n in zip(arms, overall["treatment_customers"], strict=True))
    else:
        groups = f"{first['treatment_customers']:,} treated"
    messages.note(
        f"Window: {days} ({config.start} to {last_window_day}), as of {end_of_data}; "
        f"{groups}, {count(first['control_customers'], 'control customer')}"
    )
    if arms:
        messages.note(
            f"Each of the {len(arms)} arms against the control group: p-values Holm-adjusted over the "
            f"{len(arms)} comparisons, repurchase and revenue each their own family; the verdicts use the adjusted "
            "p-values, the intervals are each comparison's own",
            always=True,
        )
    for i, row in enumerate(overall.iter_rows(named=True)):
        arm = arms[i] if arms else None
        for line in verdict_lines(row, stats_config, days, arm=arm):
            messages.note(line, always=True)
        if row.get("total_cost_amount") is not None:
            messages.note(return_line(row, stats_config, arm=arm), always=True)
        mine, mine_stats = table, stats_table
        if arm:  # the arm's rows, judged by the adjusted p-values as its verdicts are
            adjusted = [pl.col(name).alias(f"{metric}_p_value") for metric, name in m_arms.ADJUSTED.items()]
            mine = table.filter(pl.col(m_arms.ARM) == arm).with_columns(adjusted)
            mine_stats = stats_table.filter(pl.col(m_arms.ARM) == arm)
        for warning in m_uplift.uplift_warnings(mine, mine_stats, stats_config):
            messages.warn(f"{arm}: {warning}" if arm else warning)


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
    first = first_day(inputs.activity_parts)
    window_end = config.start + timedelta(days=config.window)  # the first day after the window
    if first is not None and first >= window_end:  # every outcome would be 0: a comparison of nothing
        raise DataError(
            f"The transactions start on {first}, after the campaign window ({config.start} to "
            f"{window_end - timedelta(days=1)})",
            hint=f"Use an export that covers the campaign window, or check {setting('start')}.",
        )
    return end_of_data


def verdict_lines(
    row: dict[str, Any], config: m_uplift.UpliftConfig, window: str, *, arm: str | None = None
) -> list[str]:
    """The overall comparison in words: the repurchase rates, the revenue per customer and (when the treatment
    bought significantly more) the incremental revenue, each with its interval and p-value. ``arm``: the treated
    arm of the row (its name for the treatment, and the Holm-adjusted p-values beside the p-values)."""
    conf = f"{config.confidence:.0%} CI"
    who = arm or "treatment"

    def tested(metric: str) -> str:
        adjusted = row.get(m_arms.ADJUSTED[metric]) if arm else None
        shown = f" (Holm-adjusted {adjusted:.3g})" if adjusted is not None else ""
        return f"p = {row[f'{metric}_p_value']:.3g}{shown}: {row[f'{metric}_verdict'].replace('treatment', who)}"

    lines = []
    if row["repurchase_diff"] is not None:
        lines.append(
            f"Repurchase within {window}: {who} {row['treatment_repurchase_rate']:.1%} of "
            f"{row['treatment_customers']:,}, control {row['control_repurchase_rate']:.1%} of "
            f"{row['control_customers']:,}: {row['repurchase_diff'] * 100:+.1f} points ({conf} "
            f"{row['repurchase_diff_low'] * 100:+.1f} to {row['repurchase_diff_high'] * 100:+.1f}), "
            + tested("repurchase")
        )
    if row["revenue_diff"] is not None:
        ci = (
            f" ({conf} {row['revenue_diff_low']:+,.2f} to {row['revenue_diff_high']:+,.2f}), " + tested("revenue")
            if row["revenue_p_value"] is not None
            else f": {row['revenue_verdict'].replace('treatment', who)}"
        )
        lines.append(
            f"Revenue per customer within {window}: {who} {row['treatment_revenue_per_customer']:,.2f}, control "
            f"{row['control_revenue_per_customer']:,.2f}: {row['revenue_diff']:+,.2f}{ci}"
        )
        if row["revenue_verdict"].startswith("treatment"):
            n = row["treatment_customers"]
            lines.append(
                f"Incremental revenue{f' of {arm}' if arm else ''}: about {row['incremental_revenue']:+,.2f} ({conf} "
                f"{row['revenue_diff_low'] * n:+,.2f} to {row['revenue_diff_high'] * n:+,.2f}) from "
                f"{count(n, 'treated customer')}"
            )
    return lines


def return_line(row: dict[str, Any], config: m_uplift.UpliftConfig, *, arm: str | None = None) -> str:
    """The return on the reward of a row with the return columns (:func:`~loyalty_cli.metrics.uplift_arms.
    reward_return`) in words: its cost, the incremental revenue, the net return and the return on cost, each with
    its interval."""
    conf = f"{config.confidence:.0%} CI"
    if row["cost_per"] == m_arms.PER_REDEMPTION:
        basis = f"{row['unit_cost_amount']:,.2f} per redemption, {count(row['redemptions'], 'redemption')}"
    else:
        basis = f"{row['unit_cost_amount']:,.2f} per customer treated, {count(row['treatment_customers'], 'customer')}"
    text = f"Return on {arm or 'the reward'} ({basis}): cost {row['total_cost_amount']:,.2f}"
    if row["incremental_revenue"] is None:
        return text + "; the revenue difference could not be estimated"

    def ranged(name: str, fmt: str) -> str:
        value, low, high = row[name], row[f"{name}_low"], row[f"{name}_high"]
        interval = f" ({conf} {low:{fmt}} to {high:{fmt}})" if low is not None and high is not None else ""
        return f"{value:{fmt}}{interval}"

    text += (
        f", incremental revenue {ranged('incremental_revenue', '+,.2f')}, net {ranged('net_return_amount', '+,.2f')}"
    )
    if row["return_on_cost"] is not None:
        text += f", return on cost {ranged('return_on_cost', '+.0%')}"
    return text
