"""``retention``: acquisition cohorts, customer and revenue retention per cohort and period (the long table),
one row per cohort with the repeat purchase rate, and the cohort x period matrices asked for."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date

import polars as pl

from loyalty_cli.app.inputs import Inputs
from loyalty_cli.app.messages import Message, Messages
from loyalty_cli.errors import ConfigError, setting
from loyalty_cli.metrics.periods import TABLE_PERIODS, Period
from loyalty_cli.metrics.retention import (
    ALL,
    AVERAGE,
    cohort_retention,
    cohort_table,
    repeat_rate,
    retention_wide,
    retention_wide_all,
)
from loyalty_cli.words import count

#: the matrices a front end can ask for (``show``) -> the metric of the long table each one is
MATRICES = {
    "on": "retention",
    "within": "retention_within",
    "counts": "active_customers",
    "revenue": "revenue_retention",
    "cumulative": "cumulative_revenue_per_customer",
}


@dataclass(frozen=True)
class RetentionConfig:
    """``period``: cohort and period length; ``repeat_window``: days after the first purchase in which a second
    purchase day counts for the repeat purchase rate; ``horizon``: periods in the "within" window (None: the
    period's default); ``show``: the matrices (:data:`MATRICES`) to return."""

    period: str = "month"
    repeat_window: int = 90
    horizon: int | None = None
    show: Sequence[str] = ("on",)

    def __post_init__(self) -> None:
        if self.period not in TABLE_PERIODS:
            raise ConfigError("period", f"must be week, month or quarter, got {self.period!r}")
        if self.repeat_window < 1:
            raise ConfigError("repeat_window", f"must be at least 1 day, got {self.repeat_window}")
        if self.horizon is not None and self.horizon < 1:
            raise ConfigError("horizon", f"must be at least 1 {self.period}, got {self.horizon}")
        unknown = [s for s in self.show if s not in MATRICES]
        if "on-or-after" in unknown:
            raise ConfigError(
                "show",
                "'on-or-after' is gone: an open-ended 'on or after' cell changes with every later purchase",
                hint=f"Use {setting('show')} within: a purchase in any of the {setting('horizon')} periods from k, "
                "final once they are over.",
            )
        if unknown:
            raise ConfigError("show", f"{unknown[0]!r} is not a matrix", hint=f"Use {', '.join(MATRICES)}.")


@dataclass(frozen=True)
class RetentionResult:
    """``long``: one row per cohort and period k, then the average rows (:func:`cohort_retention`);
    ``cohorts``: one row per cohort, then one for all customers (:func:`cohort_table`); ``matrices``: the
    ``show`` matrices (cohort x period, the average row last) by name; ``repeat``: the repeat purchase rate per
    cohort label, the average row's (all customers) under ``average``; ``horizon``: periods in the "within"
    window as used."""

    long: pl.DataFrame
    cohorts: pl.DataFrame
    matrices: dict[str, pl.DataFrame]
    repeat: dict[str, float | None]
    as_of: date
    period: Period
    horizon: int
    repeat_window: int
    messages: list[Message]

    @property
    def cohort_count(self) -> int:
        return self.cohorts.height - 1

    def matrix(self, name: str) -> pl.DataFrame:
        """The ``name`` matrix with each cohort's repeat purchase rate after its size: cohort, cohort_customers,
        ``repeat_<window>d``, then the periods."""
        matrix = self.matrices[name]
        rate = pl.col("cohort").replace_strict(self.repeat, default=None, return_dtype=pl.Float64)
        return matrix.select(*matrix.columns[:2], rate.alias(f"repeat_{self.repeat_window}d"), *matrix.columns[2:])

    def wide(self) -> pl.DataFrame:
        """Every metric of the long table as a cohort x period matrix, stacked (:func:`retention_wide_all`)."""
        return retention_wide_all(self.long, period=self.period)


def retention(inputs: Inputs, config: RetentionConfig, messages: Messages | None = None) -> RetentionResult:
    """The retention tables of ``inputs`` (customers and activity); ``messages``: where the notes go as they
    come (the result holds them all the same)."""
    period: Period = config.period  # type: ignore[assignment]
    customers = inputs.customers.lazy()
    messages = messages if messages is not None else Messages()
    # The long table is collected first: built again inside one collect_all with the cohort table, its plan
    # was evaluated twice (1M lines: 27 s against 16 s before 'within'; collected first, the cohort table
    # takes under a second).
    long = cohort_retention(customers, inputs.activity.lazy(), period=period, horizon=config.horizon).collect()
    repeat = repeat_rate(customers, window_days=config.repeat_window, period=period)
    cohorts = cohort_table(long.lazy(), repeat).collect()
    all_row = cohorts.row(cohorts.height - 1, named=True)
    assert all_row["cohort"] == ALL
    as_of_day, within, window = long["as_of"][0], long["horizon"][0], config.repeat_window
    messages.note(
        f"As of {as_of_day} (data before that day); {count(all_row['customers'], 'customer')} in "
        f"{count(cohorts.height - 1, f'{period}ly cohort')}; blank cells: periods not over yet (never counted as 0)"
    )
    if "within" in config.show:
        messages.note(
            f"Within: a purchase in any of the {count(within, period)} from k; a cell is blank until "
            f"its last {period} (k+{within - 1}) is over"
        )
    rate = all_row["repeat_rate"]
    messages.note(
        f"Repeat purchase rate within {count(window, 'day')} of the first purchase: "
        + (
            f"{rate:.1%} ({all_row['repeat_customers']:,} of {count(all_row['window_closed'], 'customer')} "
            f"whose {count(window, 'day')} are over)"
            if rate is not None
            else f"none yet (no customer's {count(window, 'day')} are over)"
        )
    )
    rates = dict(zip(cohorts["cohort"].to_list(), cohorts["repeat_rate"].to_list(), strict=True))
    rates[AVERAGE] = rates.pop(ALL, None)
    return RetentionResult(
        long=long,
        cohorts=cohorts,
        matrices={name: retention_wide(long, MATRICES[name], period=period) for name in config.show},
        repeat=rates,
        as_of=as_of_day,
        period=period,
        horizon=within,
        repeat_window=window,
        messages=messages.items,
    )
