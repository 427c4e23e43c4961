"""``plan-test``: how many customers each arm of a reward test needs, from the shop's own baseline.

**The baseline**, from the history (the same outcomes ``loyalty uplift`` measures, :func:`loyalty_cli.metrics.
uplift.campaign_outcomes`): a window of ``W`` days, ``[start, start + W)``, where ``start`` is the baseline start
(default: the as-of date minus ``W``, so the window is the last ``W`` days of the data); the **baseline customers**
are those whose first purchase is before ``start`` (customers on a list made that day), of the list when one is
given (the campaign audience), else all. For each, **repurchased**: a purchase day in the window; **revenue**: the
net value of the window's orders, returns included (0 without an order). The baseline rate is the share who
repurchased; the revenue baseline is the mean revenue per customer and its sample standard deviation (n - 1).

**The plan** (:mod:`loyalty_cli.metrics.power`): the target is the baseline plus the minimum detectable difference
(absolute, or relative to the baseline); every treatment arm is compared with the control at the Bonferroni level
(1 - confidence) / k for k treatment arms, two-sided, at the given power. **Available**: the list's customers (else
every customer with a purchase before the as-of date), split by the arms' shares.
"""

from __future__ import annotations

import math
import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import date, timedelta
from typing import Any

import polars as pl

from loyalty_cli.app.inputs import Inputs
from loyalty_cli.app.messages import Message, Messages
from loyalty_cli.errors import ConfigError, DataError, UsageError, setting
from loyalty_cli.handoff.arms import Arms, parse_arms
from loyalty_cli.metrics import power as m_power
from loyalty_cli.metrics.uplift import campaign_outcomes
from loyalty_cli.words import count

METRICS = ("repurchase", "revenue")
TOTAL = "(total)"


def parse_difference(text: str) -> tuple[float, bool]:
    """The minimum detectable difference as given: ``0.02`` (absolute: a rate difference of 2 points for
    repurchase, money for revenue) or ``10%`` (relative to the baseline) -> (value, relative)."""
    match = re.fullmatch(r"\s*\+?(\d+(?:\.\d*)?|\.\d+)\s*(%?)\s*", str(text))
    value = float(match[1]) if match else 0.0
    if not value > 0:
        raise ConfigError(
            "mde",
            f"{text!r}: expected a positive difference, absolute (0.02: 2 points of repurchase rate, or money for "
            "revenue) or relative to the baseline (10%)",
        )
    return (value / 100.0, True) if match and match[2] else (value, False)


@dataclass(frozen=True)
class PlanTestConfig:
    """``metric``: repurchase or revenue within ``window`` days; ``mde``: the minimum detectable difference
    (:func:`parse_difference`); ``power`` and ``confidence`` (family-wise, Bonferroni over the treatment arms);
    ``arms`` (names or a count) and ``arm_shares`` (see :func:`loyalty_cli.handoff.arms.parse_arms`); ``lists``:
    the audience's list files (none: every customer), ``list_id_col`` their id column; ``baseline_start``: the
    first day of the baseline window (None: the as-of date minus the window). Checked when built."""

    mde: str
    metric: str = "repurchase"
    window: int = 30
    power: float = 0.8
    confidence: float = 0.95
    arms: str = "2"
    arm_shares: str | None = None
    lists: Sequence[str] = ()
    list_id_col: str | None = None
    baseline_start: date | None = None
    difference: float = field(init=False)
    relative: bool = field(init=False)
    design: Arms = field(init=False, repr=False)

    def __post_init__(self) -> None:
        if self.metric not in METRICS:
            raise ConfigError("metric", f"must be repurchase or revenue, got {self.metric!r}")
        if self.window < 1:
            raise ConfigError("window", f"must be at least 1 day, got {self.window}")
        if not 0.5 <= self.confidence <= 0.999:
            raise ConfigError("confidence", f"must be between 0.5 and 0.999, got {self.confidence}")
        if not 0.5 <= self.power <= 0.99:
            raise ConfigError("power", f"must be between 0.5 and 0.99, got {self.power}")
        design = parse_arms(self.arms, self.arm_shares)
        if design is None or design.control is None:
            raise UsageError(
                f"{setting('arms')} needs an arm named control: each other arm is compared with it",
                hint=f"e.g. {setting('arms')} reward_a,reward_b,control, or a count ({setting('arms')} 3: two arms "
                "and a control)",
            )
        value, relative = parse_difference(self.mde)
        object.__setattr__(self, "difference", value)
        object.__setattr__(self, "relative", relative)
        object.__setattr__(self, "design", design)


@dataclass(frozen=True)
class Baseline:
    """The baseline of one population (:func:`baseline_stats`): customers, those who repurchased in the window,
    the rate, the mean revenue per customer and its standard deviation (None below 2 customers)."""

    customers: int
    buyers: int
    rate: float | None
    revenue_mean: float | None
    revenue_sd: float | None


@dataclass(frozen=True)
class PlanTestResult:
    """``table``: one row per arm (the arms' order) and ``(total)``; ``enough``: the available customers cover every
    arm; ``baseline`` of the audience (``everyone``: of all customers, for comparison, when a list was given)."""

    table: pl.DataFrame
    enough: bool
    start: date
    end: date  # the first day after the baseline window
    as_of: date
    baseline: Baseline
    everyone: Baseline | None
    available: int
    metric: str
    messages: list[Message]


def baseline_outcomes(customers: pl.LazyFrame, activity: pl.LazyFrame, *, start: date, end: date) -> pl.LazyFrame:
    """One row per customer whose first purchase is before ``start`` (``customer_id`` and ``first_purchase`` of
    ``customers``): ``purchase_days, purchases, revenue, repurchased`` over ``[start, end)``."""
    population = customers.filter(pl.col("first_purchase") < start).select("customer_id")
    return campaign_outcomes(activity, population, start=start, end=end)


def baseline_stats(outcomes: pl.DataFrame) -> Baseline:
    row = outcomes.select(
        pl.len().alias("n"),
        pl.col("repurchased").sum().alias("buyers"),
        pl.col("repurchased").mean().alias("rate"),
        pl.col("revenue").mean().alias("mean"),
        pl.col("revenue").std(ddof=1).alias("sd"),
    ).row(0, named=True)
    return Baseline(int(row["n"]), int(row["buyers"] or 0), row["rate"], row["mean"], row["sd"])


def plan_test(inputs: Inputs, config: PlanTestConfig, messages: Messages | None = None) -> PlanTestResult:
    messages = messages if messages is not None else Messages()
    as_of = inputs.as_of
    if as_of is None:  # stage 1 stops earlier when nobody bought (InputSpec.need_customers)
        raise DataError("No customer with a purchase in the transactions", hint=f"Check {setting('as_of')}.")
    start = config.baseline_start or as_of - timedelta(days=config.window)
    end = start + timedelta(days=config.window)
    if end > as_of:
        raise DataError(
            f"The baseline window {start} to {end - timedelta(days=1)} ends after the data (as of {as_of})",
            hint=f"Give an earlier {setting('baseline_start')}, a shorter {setting('window')}, or a later "
            f"{setting('as_of')}.",
        )
    customers = inputs.customers.lazy().select("customer_id", "first_purchase")
    audience = _audience(config, messages)
    plans = [baseline_outcomes(customers, inputs.activity.lazy(), start=start, end=end)]
    if audience is not None:
        plans.append(plans[0].join(audience.lazy(), on="customer_id", how="semi"))
    everyone, *listed = (baseline_stats(frame) for frame in pl.collect_all(plans))
    baseline = listed[0] if listed else everyone
    available = audience.height if audience is not None else inputs.customers.height
    if baseline.customers < 2:
        of = " of the list" if audience is not None else ""
        check = f"Check the list's ids against the transactions ({setting('list_id_col')}), or give" if of else "Give"
        raise DataError(
            f"{count(baseline.customers, 'customer')}{of} had a first purchase before the baseline window ({start})",
            hint=f"{check} a later {setting('baseline_start')}.",
        )
    days = count(config.window, "day")
    messages.note(
        f"Baseline: {days} from {start} to {end - timedelta(days=1)} (as of {as_of}), "
        f"{count(baseline.customers, 'customer')} with a first purchase before {start}"
        + (f" of the {count(available, 'list customer')}" if audience is not None else "")
    )
    if audience is not None:
        _audience_notes(baseline, everyone, messages, default_start=config.baseline_start is None, days=days)
    table = plan_table(config, baseline, available)
    enough = bool(table.filter(pl.col("arm") == TOTAL)["enough"][0])
    for line in plan_lines(config, table, available, days):
        messages.note(line, always=True)
    return PlanTestResult(
        table=table.with_columns(
            pl.lit(config.metric).alias("metric"),
            pl.lit(config.window).alias("window_days"),
            pl.lit(start).alias("baseline_start"),
            pl.lit(end - timedelta(days=1)).alias("baseline_end"),
            pl.lit(baseline.customers).alias("baseline_customers"),
        ),
        enough=enough,
        start=start,
        end=end,
        as_of=as_of,
        baseline=baseline,
        everyone=everyone if audience is not None else None,
        available=available,
        metric=config.metric,
        messages=messages.items,
    )


def _audience(config: PlanTestConfig, messages: Messages) -> pl.DataFrame | None:
    """The list's distinct customer ids (None without a list)."""
    if not config.lists:
        return None
    from loyalty_cli.handoff.readback import read_lists

    read = read_lists(config.lists, id_col=config.list_id_col, auto_by=False)
    ids = read.rows.select("customer_id").unique(maintain_order=True)
    repeated = read.rows.height - ids.height
    messages.note(
        f"Audience: {count(ids.height, 'customer')} in {', '.join(str(p) for p in read.paths[:3])}"
        + (f" ({count(repeated, 'repeated row')} counted once)" if repeated else "")
    )
    return ids


def _audience_notes(
    baseline: Baseline, everyone: Baseline, messages: Messages, *, default_start: bool, days: str
) -> None:
    """The list's baseline beside every customer's, and the trap of a list chosen on the baseline window."""
    if everyone.rate is not None and baseline.rate is not None:
        messages.note(
            f"Every customer's baseline, for comparison: {everyone.rate:.1%} repurchased within {days}, "
            f"{everyone.revenue_mean:,.2f} revenue per customer"
        )
        low = baseline.rate < everyone.rate / 2
        if default_start and low:
            messages.warn(
                f"The list's customers repurchased at {baseline.rate:.1%} in the baseline window, under half the "
                f"rate of every customer ({everyone.rate:.1%}). If the list was chosen on those days (recency: At "
                "Risk, lapsing, lapsed ...), they did not buy then by construction and the baseline understates "
                f"what they will do: make the same list as of an earlier date and pass that date as "
                f"{setting('baseline_start')}"
            )


def _outcome(config: PlanTestConfig, baseline: Baseline) -> tuple[m_power.Outcome, float, float]:
    """The outcome to plan for, its baseline and its standard deviation."""
    if config.metric == "repurchase":
        p0 = float(baseline.rate or 0.0)
        diff = config.difference * p0 if config.relative else config.difference
        _check_difference(config, p0, diff)
        if p0 + diff > 1.0:
            raise UsageError(
                f"{setting('mde')} {config.mde}: the target rate {p0 + diff:.1%} is above 100% (baseline {p0:.1%})",
                hint="Give a smaller difference.",
            )
        return m_power.Proportions(p0, p0 + diff), p0, (p0 * (1 - p0)) ** 0.5
    m0, sd = float(baseline.revenue_mean or 0.0), baseline.revenue_sd
    if not sd:
        raise DataError(
            "No customer of the baseline bought in its window: revenue has no spread to plan from",
            hint=f"Plan for repurchase ({setting('metric')} repurchase), or give a longer {setting('window')} or "
            f"another {setting('baseline_start')}.",
        )
    diff = config.difference * m0 if config.relative else config.difference
    _check_difference(config, m0, diff)
    return m_power.Means(m0, m0 + diff, float(sd)), m0, float(sd)


def _check_difference(config: PlanTestConfig, base: float, diff: float) -> None:
    if not diff > 0:
        raise UsageError(
            f"{setting('mde')} {config.mde} is relative, but the baseline is 0: a share of nothing is nothing",
            hint=f"Give the difference as an absolute number, e.g. {setting('mde')} 0.02.",
        )


def plan_table(config: PlanTestConfig, baseline: Baseline, available: int) -> pl.DataFrame:
    """One row per arm, then ``(total)``: ``arm, share, customers_needed, customers_available, enough, baseline,
    target, difference, relative_difference, sd, power, alpha, detectable_difference`` (the smallest difference the
    available customers detect: per treatment arm against the control)."""
    arms = config.design
    outcome, base, sd = _outcome(config, baseline)
    alpha = 1.0 - config.confidence
    plan = m_power.plan_sizes(
        outcome, names=arms.names, shares=arms.shares, control=str(arms.control), alpha=alpha, power=config.power
    )
    diff = outcome.difference
    rows: list[dict[str, Any]] = []
    for name, share, needed in zip(plan.names, plan.shares, plan.needed, strict=True):
        treated = name != plan.control
        has = math.floor(available * share + 1e-9)  # the arm's expected size, rounded down (0.29 x 100 is 29)
        detectable = m_power.detectable_difference(
            "proportion" if config.metric == "repurchase" else "mean",
            baseline=base,
            available=available,
            treatment_share=share,
            control_share=arms.share(plan.control),
            alpha=plan.alpha,
            power=config.power,
            sd=sd,
        )
        rows.append(
            {
                "arm": name,
                "share": share,
                "customers_needed": needed,
                "customers_available": has,
                "enough": has >= needed,
                "baseline": base,
                "target": base + diff if treated else None,
                "difference": diff if treated else None,
                "relative_difference": diff / base if treated and base else None,
                "detectable_difference": detectable if treated else None,
            }
        )
    needed_total = sum(plan.needed)
    rows.append(
        {
            "arm": TOTAL,
            "share": 1.0,
            "customers_needed": needed_total,
            "customers_available": available,
            "enough": all(r["enough"] for r in rows) and available >= needed_total,
        }
    )
    return pl.DataFrame(rows, schema=_SCHEMA).with_columns(
        pl.lit(sd).alias("sd"), pl.lit(config.power).alias("power"), pl.lit(plan.alpha).alias("alpha")
    )


_SCHEMA = {
    "arm": pl.String,
    "share": pl.Float64,
    "customers_needed": pl.Int64,
    "customers_available": pl.Int64,
    "enough": pl.Boolean,
    "baseline": pl.Float64,
    "target": pl.Float64,
    "difference": pl.Float64,
    "relative_difference": pl.Float64,
    "detectable_difference": pl.Float64,
}


def _value(config: PlanTestConfig, x: float) -> str:
    return f"{x:.1%}" if config.metric == "repurchase" else f"{x:,.2f}"


def _diff(config: PlanTestConfig, x: float) -> str:
    return f"{x * 100:+.1f} points" if config.metric == "repurchase" else f"{x:+,.2f}"


def plan_lines(config: PlanTestConfig, table: pl.DataFrame, available: int, days: str) -> list[str]:
    """The plan in words: what is tested at which level, and whether the available customers are enough."""
    arms = config.design
    k = len(arms.treated)
    total = table.filter(pl.col("arm") == TOTAL).row(0, named=True)
    first = table.filter(pl.col("arm") != arms.control).row(0, named=True)
    what = "repurchase rate" if config.metric == "repurchase" else "revenue per customer"
    level = (
        f"two-sided alpha {first['alpha']:.3g} per comparison ({1 - config.confidence:.3g} / {k} treatment arms, "
        "Bonferroni; conservative for the Holm adjustment of the uplift analysis)"
        if k > 1
        else f"two-sided alpha {first['alpha']:.3g}"
    )
    rows = [r for r in table.iter_rows(named=True) if r["arm"] != TOTAL]
    per_arm = ", ".join(f"{r['arm']} {r['customers_needed']:,}" for r in rows)
    lines = [
        f"To detect a {what} within {days} of {_value(config, first['target'])} against a baseline of "
        f"{_value(config, first['baseline'])} ({_diff(config, first['difference'])}) with power "
        f"{config.power:.0%}, at {level}: {count(total['customers_needed'], 'customer')} in all ({per_arm})"
    ]
    if total["enough"]:
        lines.append(f"The {count(available, 'customer')} available are enough")
    else:
        smallest = table.filter(pl.col("arm") != TOTAL)["detectable_difference"].drop_nulls()
        can = (
            f"; with them the smallest difference detectable is {_diff(config, smallest.max())}"
            if smallest.len() == k
            else "; with them no difference up to a rate of 100% is detectable"
        )
        lines.append(f"Not enough customers: {available:,} available, {total['customers_needed']:,} needed{can}")
    return lines
