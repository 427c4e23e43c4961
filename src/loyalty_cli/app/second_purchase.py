"""``second-purchase``: when first-time buyers come back, the window where they do, 365-day value by timing,
and the one-time buyers to nudge now."""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import date

import polars as pl

from loyalty_cli.app.inputs import Inputs
from loyalty_cli.app.messages import Message, Messages
from loyalty_cli.errors import ConfigError, DataError, UsageError, setting
from loyalty_cli.metrics.second_purchase import (
    ALL,
    NEVER,
    VALUE_DAYS,
    SecondPurchaseConfig,
    Window,
    history_start_caveat,
)
from loyalty_cli.metrics.second_purchase_value import second_purchase_tables
from loyalty_cli.words import count


@dataclass(frozen=True)
class SecondPurchaseSettings:
    """``by``: group by this customer-summary column (``category`` and ``channel`` mean those of the first
    order); ``min_n``: numbers from fewer customers are left empty; ``window``: the second-purchase window;
    ``closing``: also list one-time buyers whose window opens and closes within this many days. Checked when
    built (:attr:`timing` is the metrics' config; its ``by`` is resolved against the data)."""

    by: str | None = None
    min_n: int = 30
    window: Window = field(default_factory=Window)
    closing: int = 14
    timing: SecondPurchaseConfig = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        if self.min_n < 1:
            raise ConfigError("min_n", f"must be at least 1, got {self.min_n}")
        if self.closing < 0:
            raise ConfigError("closing", f"must be 0 days or more, got {self.closing}")
        timing = SecondPurchaseConfig(min_n=self.min_n, window=self.window, closing_days=self.closing)
        object.__setattr__(self, "timing", timing)


@dataclass(frozen=True)
class SecondPurchaseResult:
    """The tables of :func:`~loyalty_cli.metrics.second_purchase_value.second_purchase_tables`: ``summary`` (timing per
    group, ``(all)`` first), ``shares``, ``curve`` (Kaplan-Meier), ``value`` (by days to second purchase) and
    ``actions`` (the one-time buyers to nudge); ``caveat``: the history may start before the data (None: it
    does not seem to); ``config``: the settings used, ``by`` resolved to a column; ``messages``: the notes and
    warnings, in order."""

    summary: pl.DataFrame
    shares: pl.DataFrame
    curve: pl.DataFrame
    value: pl.DataFrame
    actions: pl.DataFrame
    caveat: str | None
    as_of: date
    config: SecondPurchaseConfig
    messages: list[Message]


def second_purchase(
    inputs: Inputs, config: SecondPurchaseSettings, messages: Messages | None = None
) -> SecondPurchaseResult:
    customers = inputs.customers
    said = messages if messages is not None else Messages()
    timing = dataclasses.replace(config.timing, by=group_by(config.by, customers.columns, said))
    summary, shares, curve, value, actions, history = pl.collect_all(
        second_purchase_tables(customers.lazy(), inputs.activity_parts, config=timing)
    )
    as_of: date = customers["as_of"][0]
    timing_notes(said, summary, shares, value, actions, config=timing, as_of=as_of)
    caveat = history_start_caveat(history.row(0, named=True))
    if caveat:
        said.warn(caveat)
    return SecondPurchaseResult(
        summary=summary,
        shares=shares,
        curve=curve,
        value=value,
        actions=actions,
        caveat=caveat,
        as_of=as_of,
        config=timing,
        messages=said.items,
    )


def group_by(by: str | None, names: Sequence[str], messages: Messages) -> str | None:
    """The summary column to group by: as given, or ``first_<by>`` for ``category`` and ``channel``."""
    if by is None or by in names:
        return by
    if f"first_{by}" in names:
        messages.note(f"{setting('by')} {by}: grouping by first_{by} (that of the first order)")
        return f"first_{by}"
    column = by.removeprefix("first_")
    if column in ("category", "channel"):
        raise DataError(
            f"{setting('by')} {by}: the transactions have no {column} column",
            hint=f"Name it with {setting('category_col')} COLUMN (its value on the first order is used)."
            if column == "category"
            else "Map a channel column in rules/columns.toml.",
        )
    raise UsageError(
        f"{setting('by')} {by!r}: no such column in the customer summary", hint=f"Columns: {', '.join(names)}."
    )


def timing_notes(
    said: Messages,
    summary: pl.DataFrame,
    shares: pl.DataFrame,
    value: pl.DataFrame,
    actions: pl.DataFrame,
    *,
    config: SecondPurchaseConfig,
    as_of: date,
) -> None:
    """What was counted, the headline numbers and what empty cells mean."""
    overall = summary.filter(pl.col("group") == ALL).row(0, named=True)
    n, reps = overall["first_buyers"], overall["repeaters"]
    said.note(
        f"As of {as_of} (data before that day): {count(n, 'first-time buyer')}, {reps:,} bought again on a later "
        f"day, {n - reps:,} have not (yet): they are censored at the as-of date, not counted as lost"
    )
    heads = shares.filter((pl.col("group") == ALL) & pl.col("within_days").is_in([30, 60, 90]))
    said.note(
        "Bought again within 30 / 60 / 90 days: "
        + " / ".join(f"{_pct(r['share'])} of {r['observed']:,}" for r in heads.iter_rows(named=True))
        + " first-time buyers observed that long"
    )
    if overall["repeaters_median_gap_days"] is not None:
        said.note(
            f"Repeaters only ({reps:,}, one-time buyers left out): median "
            f"{overall['repeaters_median_gap_days']:g} days, mean {overall['repeaters_mean_gap_days']:.1f} days to the "
            "second purchase"
        )
    empty = [f"p{p}" for p in (25, 50, 75, 90) if overall[f"p{p}_days"] is None]
    if empty and n >= config.min_n and overall["km_not_repurchased"] is not None:
        said.note(
            f"{', '.join(empty)} (all first-time buyers) empty: the Kaplan-Meier curve never gets that low "
            f"({overall['km_not_repurchased']:.1%} had not bought again by day {overall['km_last_day']}, "
            "the longest time observed)"
        )
    _window_note(said, overall, config)
    everyone = value.filter(pl.col("group") == ALL)
    said.note(
        f"Value: net spend of the first purchase day and the {VALUE_DAYS} days after it, "
        f"{count(everyone['customers'].sum(), 'customer')} observed {VALUE_DAYS} days ('{NEVER}' = no second "
        f"purchase within them): "
        + ", ".join(f"{r['bucket']} {_money(r['mean_spend_365d'])}" for r in everyone.iter_rows(named=True))
        + ". A correlation, not what a nudge earns: customers who come back early may simply be keener"
    )
    said.note(f"Numbers from fewer than {setting('min_n')} {count(config.min_n, 'customer')} are left empty")
    open_now = int((actions["status"] == "open").sum())
    said.note(
        f"To nudge: {count(actions.height, 'one-time buyer')}, {open_now:,} in their window now, "
        f"{actions.height - open_now:,} whose window opens and closes within {count(config.closing_days, 'day')}"
    )


def _window_note(said: Messages, overall: dict[str, object], config: SecondPurchaseConfig) -> None:
    """The window of all customers, in days, and where it comes from (a warning when there is none)."""
    if overall["window_from_days"] is None:
        said.warn(
            f"No second-purchase window: fewer than {setting('min_n')} {count(config.min_n, 'repeater')}. Lower "
            f"{setting('min_n')} or give {setting('window')} in days, e.g. {setting('window')} 20-45"
        )
        return
    per_group = (
        f" (per {config.by}; groups with fewer than {count(config.min_n, 'repeater')} use the (all) window)"
        if config.by and config.window.kind == "percentile"
        else ""
    )
    said.note(
        f"Window: {config.window.describe()} = days {overall['window_from_days']}-{overall['window_to_days']} "
        f"after the first purchase{per_group}"
    )


def _pct(value: float | None) -> str:
    return "n/a" if value is None else f"{value:.1%}"


def _money(value: float | None) -> str:
    return "n/a" if value is None else f"{value:,.2f}"
