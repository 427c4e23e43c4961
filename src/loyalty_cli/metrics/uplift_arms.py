"""Test arms and the return on a reward: each treated arm against the control group, and net of the reward's cost.

**Arms.** With k arms (k - 1 treated arms and the control), each treated arm is compared with the control group
exactly as one treatment group is (:func:`loyalty_cli.metrics.uplift.uplift_table`: the arm's customers against
the control's, per segment). Testing k - 1 comparisons at the level alpha each finds an effect by chance more often
than alpha, so the p-values are adjusted by **Holm's step-down method** (:func:`holm`): of the m p-values of one
family sorted p_(1) <= ... <= p_(m), the adjusted p_(i) is max over j <= i of min(1, (m - j + 1) p_(j)). It keeps
the chance of any false "higher" or "lower" within alpha whatever the arms' effects (the family-wise error rate) and
rejects whenever Bonferroni (m x p) does. A **family** is one metric's comparisons in one row of segments: the
repurchase p-values of the k - 1 arms in ``(all)`` are one family, their revenue p-values another, and each
segment's are their own; a comparison not tested (too few customers) is not in its family. With one treated arm the
adjusted p-value is the p-value itself. The verdicts come from the adjusted p-values; the intervals are each
comparison's own (not adjusted).

**Return on a reward** (:func:`reward_return`): the reward costs ``unit`` per customer treated (every customer of
the arm, as each got the reward) or per **redemption**, a treated customer with at least one purchase in the window
(each buyer counted once, however many orders; the data has purchases, not redemptions, so a buyer stands for a
redemption). Per arm: ``total_cost = unit x customers`` (or ``x redemptions``); ``incremental_revenue`` = revenue
difference per customer x treated customers, with its interval the revenue difference's interval x treated
customers; ``net_return = incremental_revenue - total_cost`` (the interval shifted by the cost, taken as incurred);
``return_on_cost = net_return / total_cost`` (0: the reward paid for itself; none when it cost nothing).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Literal

import numpy as np
import polars as pl

from loyalty_cli.metrics.uplift import CONTROL, NO_DIFFERENCE, TOO_FEW, UpliftConfig, group_stats, uplift_table

ARM = "arm"
PER_CUSTOMER = "customer"
PER_REDEMPTION = "redemption"
#: each metric's p-value column and the adjusted one beside it (added with more than one treated arm)
ADJUSTED = {"repurchase": "repurchase_adjusted_p_value", "revenue": "revenue_adjusted_p_value"}


def holm(p_values: Sequence[float | None] | np.ndarray) -> np.ndarray:
    """Holm's step-down adjusted p-values of one family, in the order given (see the module docstring); a missing
    p-value (None or NaN: not tested) is left out of the family and stays NaN."""
    p = np.asarray([np.nan if v is None else v for v in p_values], dtype=float)
    out = np.full(p.shape, np.nan)
    tested = np.isfinite(p)
    m = int(tested.sum())
    if m == 0:
        return out
    values = p[tested]
    order = np.argsort(values, kind="stable")
    stepped = np.maximum.accumulate(np.minimum(1.0, (m - np.arange(m)) * values[order]))
    adjusted = np.empty(m)
    adjusted[order] = stepped
    out[tested] = adjusted
    return out


def arm_comparisons(
    outcomes: pl.LazyFrame, arms: Sequence[str], config: UpliftConfig, *, by: str | None = None
) -> tuple[pl.DataFrame, pl.DataFrame]:
    """Each treated arm of ``arms`` against the control group: the uplift table (``arm`` first, then the columns
    of :func:`~loyalty_cli.metrics.uplift.uplift_table` with each metric's Holm-adjusted p-value after its
    p-value, and the verdicts from the adjusted p-values), arm by arm in the order given, ``(all)`` first in each;
    and the sufficient statistics of :func:`~loyalty_cli.metrics.uplift.group_stats` per arm, in the same rows.
    ``outcomes``: :func:`~loyalty_cli.metrics.uplift.campaign_outcomes` of lists with ``group`` and ``arm``."""
    tables, stats = [], []
    for arm in arms:
        pair = outcomes.filter((pl.col(ARM) == arm) | (pl.col("group") == CONTROL))
        arm_stats = group_stats(pair, by=by).collect()
        tables.append(uplift_table(arm_stats, config).select(pl.lit(arm).alias(ARM), pl.all()))
        stats.append(arm_stats.select(pl.lit(arm).alias(ARM), pl.all()))
    table = pl.concat(tables)
    return adjust_arms(table, config), pl.concat(stats)


def adjust_arms(table: pl.DataFrame, config: UpliftConfig) -> pl.DataFrame:
    """``table`` (one row per arm and segment) with each metric's Holm-adjusted p-value after its p-value, one
    family per metric and segment, and its verdict from the adjusted p-value (too few customers stays)."""
    segments = table["segment"].to_numpy()
    for metric, name in ADJUSTED.items():
        p = table[f"{metric}_p_value"].fill_null(np.nan).to_numpy().astype(float)
        adjusted = np.full(p.shape, np.nan)
        for segment in dict.fromkeys(segments):  # a few rows: each segment's family
            rows = segments == segment
            adjusted[rows] = holm(p[rows])
        diff = table[f"{metric}_diff"].fill_null(np.nan).to_numpy().astype(float)
        sig = np.isfinite(adjusted) & (adjusted < config.alpha)
        words = np.where(
            table[f"{metric}_verdict"].to_numpy() == TOO_FEW,
            TOO_FEW,
            np.where(
                sig & (diff > 0), "treatment higher", np.where(sig & (diff < 0), "treatment lower", NO_DIFFERENCE)
            ),
        )
        at = table.columns.index(f"{metric}_p_value") + 1
        table = table.insert_column(at, pl.Series(name, adjusted, dtype=pl.Float64).fill_nan(None)).with_columns(
            pl.Series(f"{metric}_verdict", words.tolist(), dtype=pl.String)
        )
    return table


@dataclass(frozen=True)
class RewardCost:
    """A reward's cost: ``unit`` money per customer treated, or per redemption (a treated buyer in the window)."""

    unit: float
    per: Literal["customer", "redemption"] = PER_CUSTOMER

    def __post_init__(self) -> None:
        if not (np.isfinite(self.unit) and self.unit >= 0):
            raise ValueError(f"a cost is a number of 0 or more, got {self.unit}")
        if self.per not in (PER_CUSTOMER, PER_REDEMPTION):
            raise ValueError(f"a cost is per customer or per redemption, got {self.per!r}")


#: the columns :func:`reward_return` adds, in order
RETURN_COLUMNS = (
    "cost_per",
    "unit_cost_amount",
    "redemptions",
    "total_cost_amount",
    "incremental_revenue_low",
    "incremental_revenue_high",
    "net_return_amount",
    "net_return_amount_low",
    "net_return_amount_high",
    "return_on_cost",
    "return_on_cost_low",
    "return_on_cost_high",
)


def reward_return(table: pl.DataFrame, redemptions: pl.Series, costs: Sequence[RewardCost]) -> pl.DataFrame:
    """``table`` (an uplift table) with the return on the reward (see the module docstring), each row at its own
    cost (``costs``, one per row) and with its treated buyers (``redemptions``, one per row), in
    :data:`RETURN_COLUMNS` after ``incremental_revenue``. Where the revenue difference is empty (too few
    customers) so are the returns; the cost is there."""
    n_t = table["treatment_customers"].to_numpy().astype(float)
    buyers = redemptions.to_numpy().astype(float)
    unit = np.array([c.unit for c in costs], dtype=float)
    per_redemption = np.array([c.per == PER_REDEMPTION for c in costs], dtype=bool)
    cost = unit * np.where(per_redemption, buyers, n_t)

    def of(name: str) -> np.ndarray:
        return table[name].fill_null(np.nan).to_numpy().astype(float)

    incremental = {"": of("incremental_revenue"), "_low": of("revenue_diff_low") * n_t}
    incremental["_high"] = of("revenue_diff_high") * n_t
    columns: dict[str, pl.Series] = {
        "cost_per": pl.Series([c.per for c in costs], dtype=pl.String),
        "unit_cost_amount": pl.Series(unit, dtype=pl.Float64),
        "redemptions": pl.Series(redemptions.cast(pl.Int64).to_list(), dtype=pl.Int64),
        "total_cost_amount": pl.Series(cost, dtype=pl.Float64),
        "incremental_revenue_low": _series(incremental["_low"]),
        "incremental_revenue_high": _series(incremental["_high"]),
    }
    with np.errstate(divide="ignore", invalid="ignore"):
        for end, value in incremental.items():
            columns[f"net_return_amount{end}"] = _series(value - cost)
        for end, value in incremental.items():
            columns[f"return_on_cost{end}"] = _series(np.where(cost > 0, (value - cost) / cost, np.nan))
    at = table.columns.index("incremental_revenue") + 1
    before, after = table.columns[:at], table.columns[at:]
    return table.with_columns(**{name: columns[name] for name in RETURN_COLUMNS}).select(
        *before, *RETURN_COLUMNS, *after
    )


def _series(values: np.ndarray) -> pl.Series:
    return pl.Series(np.where(np.isfinite(values), values, np.nan), dtype=pl.Float64).fill_nan(None)
