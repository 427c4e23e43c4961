"""``loyalty second-purchase``: when first-time buyers come back, and which one-time buyers to nudge now."""

from __future__ import annotations

import re
from pathlib import Path
from typing import TYPE_CHECKING, Annotated  # noqa: UP035

import typer

from loyalty_cli import words
from loyalty_cli.cli import options as opt
from loyalty_cli.cli.common import (
    NO_COLUMN_OPTIONS,
    NO_LIST_OPTIONS,
    ListOptions,
    TransactionColumns,
    check_bad_rows,
    check_output,
    check_table_path,
    handle_errors,
    list_options,
    load_transactions_checked,
    parse_days,
    to_date,
    transaction_columns,
)
from loyalty_cli.cli.console import Output
from loyalty_cli.errors import DataError, UsageError

if TYPE_CHECKING:
    import polars as pl

    from loyalty_cli.metrics.second_purchase import SecondPurchaseConfig, Window

EXAMPLES = """
Examples:

  loyalty second-purchase sample_data/transactions.csv

  loyalty second-purchase orders.csv --by first_category -o nudge.csv --as-of 2024-07-01

  loyalty second-purchase orders.csv --window 20-45 --closing 7d -o - --format json

  loyalty second-purchase orders.csv --summary timing.csv --curve km.csv --value value.csv
"""

TABLES_PANEL = "Tables"


def parse_window(value: str) -> Window:
    """``p25-p75`` (percentiles of the repeaters' gap) or ``20-45`` / ``20d-45d`` (days)."""
    from loyalty_cli.metrics.second_purchase import Window

    text = value.strip().lower().replace(" ", "")
    if match := re.fullmatch(r"p(\d+)-p(\d+)", text):
        return Window("percentile", int(match[1]), int(match[2]))
    if match := re.fullmatch(r"(\d+)d?-(\d+)d?", text):
        return Window("days", int(match[1]), int(match[2]))
    raise UsageError(
        f"--window {value!r}: expected percentiles like p25-p75 or days like 20-45",
        hint="Percentiles are of the repeaters' days to second purchase; days count from the first purchase.",
    )


def resolve_by(by: str | None, names: list[str], out: Output) -> str | None:
    """The summary column to group by: as given, or ``first_<by>`` for ``category`` and ``channel``."""
    if by is None or by in names:
        return by
    if f"first_{by}" in names:
        out.note(f"--by {by}: grouping by first_{by} (that of the first order)")
        return f"first_{by}"
    field = by.removeprefix("first_")
    if field in ("category", "channel"):
        raise DataError(
            f"--by {by}: the transactions have no {field} column",
            hint=f"Name it with --{field}-col COLUMN (its value on the first order is used)."
            if field == "category"
            else "Map a channel column in rules/columns.toml.",
        )
    raise UsageError(f"--by {by!r}: no such column in the customer summary", hint=f"Columns: {', '.join(names)}.")


def _pct(value: float | None) -> str:
    return "n/a" if value is None else f"{value:.1%}"


def _buyers(n: int) -> str:
    return words.count(n, "one-time buyer")


def _money(value: float | None) -> str:
    return "n/a" if value is None else f"{value:,.2f}"


def _report(
    out: Output,
    summary: pl.DataFrame,
    shares: pl.DataFrame,
    buckets: pl.DataFrame,
    actions: pl.DataFrame,
    config: SecondPurchaseConfig,
    as_of: object,
) -> None:
    """The notes on stderr: what was counted, the headline numbers, what empty cells mean."""
    import polars as pl

    from loyalty_cli.metrics.second_purchase import ALL, NEVER, VALUE_DAYS

    overall = summary.filter(pl.col("group") == ALL).row(0, named=True)
    n, reps = overall["first_buyers"], overall["repeaters"]
    out.note(
        f"As of {as_of} (data before that day): {words.count(n, 'first-time buyer')}, {reps:,} bought again on a later "
        f"day, {n - reps:,} have not (yet): they are censored at the as-of date, not counted as lost"
    )
    heads = shares.filter((pl.col("group") == ALL) & pl.col("within_days").is_in([30, 60, 90]))
    out.note(
        "Bought again within 30 / 60 / 90 days: "
        + " / ".join(f"{_pct(r['share'])} of {r['observed']:,}" for r in heads.iter_rows(named=True))
        + " first-time buyers observed that long"
    )
    if overall["repeaters_median_gap_days"] is not None:
        out.note(
            f"Repeaters only ({reps:,}, one-time buyers left out): median "
            f"{overall['repeaters_median_gap_days']:g} days, mean {overall['repeaters_mean_gap_days']:.1f} days to the "
            "second purchase"
        )
    empty = [f"p{p}" for p in (25, 50, 75, 90) if overall[f"p{p}_days"] is None]
    if empty and n >= config.min_n and overall["km_not_repurchased"] is not None:
        out.note(
            f"{', '.join(empty)} (all first-time buyers) empty: the Kaplan-Meier curve never gets that low "
            f"({overall['km_not_repurchased']:.1%} had not bought again by day {overall['km_last_day']}, "
            "the longest time observed)"
        )
    if overall["window_from_days"] is None:
        out.warn(
            f"No second-purchase window: fewer than --min-n {words.count(config.min_n, 'repeater')}. Lower --min-n "
            "or give --window in days, e.g. --window 20-45"
        )
    else:
        source = config.window.describe()
        out.note(
            f"Window: {source} = days {overall['window_from_days']}-{overall['window_to_days']} after the first "
            "purchase"
            + (
                f" (per {config.by}; groups with fewer than {words.count(config.min_n, 'repeater')} use the (all) "
                "window)"
                if config.by and config.window.kind == "percentile"
                else ""
            )
        )
    all_buckets = buckets.filter(pl.col("group") == ALL)
    out.note(
        f"Value: net spend of the first purchase day and the {VALUE_DAYS} days after it, "
        f"{words.count(all_buckets['customers'].sum(), 'customer')} observed {VALUE_DAYS} days ('{NEVER}' = no second "
        f"purchase within them): "
        + ", ".join(f"{r['bucket']} {_money(r['mean_spend_365d'])}" for r in all_buckets.iter_rows(named=True))
        + ". A correlation, not what a nudge earns: customers who come back early may simply be keener"
    )
    out.note(f"Numbers from fewer than --min-n {words.count(config.min_n, 'customer')} are left empty")
    open_now = int((actions["status"] == "open").sum())
    out.note(
        f"To nudge: {_buyers(actions.height)}, {open_now:,} in their window now, "
        f"{actions.height - open_now:,} whose window opens and closes within {words.count(config.closing_days, 'day')}"
    )


def _show(
    out: Output, summary: pl.DataFrame, buckets: pl.DataFrame, *, by: str | None, as_of: object, to_stderr: bool
) -> None:
    import polars as pl

    from loyalty_cli.metrics.second_purchase import PERCENTILES, WITHIN_DAYS

    drop = [] if by else ["group"]
    shares = summary.select("group", "first_buyers", *(pl.col(f"share_{d}d").alias(f"{d}d") for d in WITHIN_DAYS))
    out.table(
        shares.drop(drop),
        to_stderr=to_stderr,
        formats={f"{d}d": ".1%" for d in WITHIN_DAYS},
        title=f"Bought again within N days, share of first-time buyers observed N days (as of {as_of})",
    )
    timing = summary.select(
        "group",
        pl.col("first_buyers").alias("buyers"),
        "repeaters",
        *(pl.col(f"p{p}_days").alias(f"p{p}") for p in PERCENTILES),
        pl.col("repeaters_median_gap_days").alias("rep_median"),
        pl.col("repeaters_mean_gap_days").alias("rep_mean"),
        pl.format("{}-{}", "window_from_days", "window_to_days").alias("window"),
        *([pl.col("window_source").alias("window_of")] if by else []),
    )
    out.table(
        timing.drop(drop),
        to_stderr=to_stderr,
        formats={"rep_mean": ".1f", "rep_median": "g"},
        title="Days to second purchase: p25-p90 of all first-time buyers (Kaplan-Meier; empty = never "
        "reached), rep_* = repeaters only, window = days after the first purchase",
    )
    out.table(
        buckets.with_columns(pl.col("bucket").cast(pl.String)).drop("total_spend_365d", *drop),
        to_stderr=to_stderr,
        formats={"share_customers": ".1%"},
        title="Net spend of the first order and the 365 days after it, by days to second purchase "
        "(customers observed 365 days; a correlation)",
    )


@handle_errors
@transaction_columns
@list_options
def second_purchase(
    inputs: opt.Inputs,
    output: Annotated[
        str | None,
        typer.Option(  # noqa: UP045
            "--output",
            "-o",
            metavar="FILE",
            help="Write the action list (one-time buyers to nudge) here (.csv, .parquet, .json; - for stdout).",
            rich_help_panel=opt.OUTPUT,
        ),
    ] = None,
    fmt: opt.Format = None,
    as_of: opt.AsOf = None,
    by: Annotated[
        str | None,
        typer.Option(  # noqa: UP045
            "--by",
            metavar="COLUMN",
            help="Group by a customer-summary column, e.g. first_category (category of the first order) or "
            "first_channel.",
            show_default=False,
        ),
    ] = None,
    min_n: Annotated[
        int,
        typer.Option(
            "--min-n",
            min=1,
            help="Numbers from fewer customers are left empty; groups with fewer repeaters use "
            "the window of all customers.",
        ),
    ] = 30,
    window: Annotated[
        str,
        typer.Option(
            "--window",
            metavar="WINDOW",
            help="The second-purchase window: percentiles of the repeaters' days to second purchase "
            "(p25-p75) or days after the first purchase (20-45).",
        ),
    ] = "p25-p75",
    closing: Annotated[
        str,
        typer.Option(
            "--closing",
            metavar="DAYS",
            help="Also list one-time buyers whose window is not open yet but opens and closes within "
            "this time (set it to how often you run this), e.g. 14d or 2w.",
        ),
    ] = "14d",
    summary_path: Annotated[
        Path | None,
        typer.Option(  # noqa: UP045
            "--summary",
            help="Write the per-group timing table (shares, quantiles, repeaters-only stats, window).",
            rich_help_panel=TABLES_PANEL,
            show_default=False,
        ),
    ] = None,
    shares_path: Annotated[
        Path | None,
        typer.Option(  # noqa: UP045
            "--shares",
            help="Write the shares bought again within 7..365 days, with their counts.",
            rich_help_panel=TABLES_PANEL,
            show_default=False,
        ),
    ] = None,
    curve_path: Annotated[
        Path | None,
        typer.Option(  # noqa: UP045
            "--curve",
            help="Write the Kaplan-Meier curve of 'not yet repurchased'.",
            rich_help_panel=TABLES_PANEL,
            show_default=False,
        ),
    ] = None,
    value_path: Annotated[
        Path | None,
        typer.Option(  # noqa: UP045
            "--value",
            help="Write the 365-day value by days to second purchase.",
            rich_help_panel=TABLES_PANEL,
            show_default=False,
        ),
    ] = None,
    lists: ListOptions = NO_LIST_OPTIONS,
    quiet: opt.Quiet = False,
    on_bad_rows: opt.OnBadRows = "error",
    rejects: opt.Rejects = None,
    tx: TransactionColumns = NO_COLUMN_OPTIONS,
) -> None:
    """Time to second purchase with right censoring (Kaplan-Meier), the window where second purchases
    happen, 365-day value by timing, and the one-time buyers to nudge now."""
    import dataclasses

    import polars as pl

    from loyalty_cli.io.writers import write_table
    from loyalty_cli.metrics.second_purchase import (
        SecondPurchaseConfig,
        history_start_caveat,
        second_purchase_tables,
    )

    out = Output(quiet=quiet)
    policy = check_bad_rows(on_bad_rows)
    config = SecondPurchaseConfig(
        min_n=min_n, window=parse_window(window), closing_days=parse_days(closing, "--closing")
    )
    check_output(output, fmt, example="nudge.csv")
    lists.check(output, fmt)
    for path, name in (
        (summary_path, "--summary"),
        (shares_path, "--shares"),
        (curve_path, "--curve"),
        (value_path, "--value"),
    ):
        check_table_path(path, name)
    options = tx.read_options(out)
    day = to_date(as_of)
    loaded = load_transactions_checked(
        inputs, options, as_of=day, policy=policy, rejects=rejects, output=output, out=out, activity=True
    )
    customers, activity = loaded.customers, loaded.activity
    assert activity is not None
    config = dataclasses.replace(config, by=resolve_by(by, customers.columns, out))
    summary, shares, curve, buckets, actions, history = pl.collect_all(
        second_purchase_tables(customers.lazy(), activity.lazy(), config=config)
    )
    as_of_day = customers["as_of"][0]
    _report(out, summary, shares, buckets, actions, config, as_of_day)
    caveat = history_start_caveat(history.row(0, named=True))
    if caveat:
        out.warn(caveat)
    if output:
        lists.write(
            actions,
            output,
            fmt=fmt,
            out=out,
            mapping=options.mapping_file,
            tag_value="second-purchase nudge",
            value="net_spend",
            describe=lambda n: f"{_buyers(n)} to nudge",
            policy=policy,
            rejects=rejects,
        )
    for path, table, what in (
        (summary_path, summary, "timing summary"),
        (shares_path, shares, "shares"),
        (curve_path, curve, "Kaplan-Meier curve"),
        (value_path, buckets, "value by timing"),
    ):
        if path is not None:
            write_table(table, path)
            out.note(f"Wrote the {what} to {path}")
    if output and out.quiet:
        return
    _show(out, summary, buckets, by=config.by, as_of=as_of_day, to_stderr=output == "-")


def register(app: typer.Typer) -> None:
    app.command("second-purchase", epilog=EXAMPLES, rich_help_panel="Analyse")(second_purchase)
