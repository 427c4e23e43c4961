"""``loyalty second-purchase``: when first-time buyers come back, and which one-time buyers to nudge now."""

from __future__ import annotations

import re
from pathlib import Path
from typing import TYPE_CHECKING, Annotated  # noqa: UP035

import typer

from loyalty_cli import words
from loyalty_cli.cli import options as opt
from loyalty_cli.cli.command import Command, Options, execute, flat, transaction_spec
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
    list_spec,
    transaction_columns,
)
from loyalty_cli.cli.console import Output
from loyalty_cli.durations import parse_days
from loyalty_cli.errors import UsageError, setting

if TYPE_CHECKING:
    import polars as pl

    from loyalty_cli.app.inputs import Inputs
    from loyalty_cli.app.messages import Messages
    from loyalty_cli.app.second_purchase import SecondPurchaseResult, SecondPurchaseSettings
    from loyalty_cli.metrics.second_purchase import Window

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
        f"{setting('window')} {value!r}: expected percentiles like p25-p75 or days like 20-45",
        hint="Percentiles are of the repeaters' days to second purchase; days count from the first purchase.",
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
    execute(COMMAND, flat(locals()), Output(quiet=quiet))


#: the extra tables: option (parameter name), flag, the result's table and what it is
TABLES = (
    ("summary_path", "--summary", "summary", "timing summary"),
    ("shares_path", "--shares", "shares", "shares"),
    ("curve_path", "--curve", "curve", "Kaplan-Meier curve"),
    ("value_path", "--value", "value", "value by timing"),
)


def _configure(options: Options) -> SecondPurchaseSettings:
    from loyalty_cli.app.second_purchase import SecondPurchaseSettings

    check_bad_rows(options["on_bad_rows"])
    config = SecondPurchaseSettings(
        by=options["by"],
        min_n=options["min_n"],
        window=parse_window(str(options["window"])),
        closing=parse_days(str(options["closing"]), setting("closing")),
    )
    output, fmt = options["output"], options["fmt"]
    check_output(output, fmt, example="nudge.csv")
    list_spec(options).check(output, fmt)
    for name, flag, _, _ in TABLES:
        check_table_path(options[name], flag)
    return config


def _deliver(result: SecondPurchaseResult, options: Options, out: Output) -> list[Path]:
    from loyalty_cli.io.writers import write_table

    output = options["output"]
    written: list[Path] = []
    if output:
        written += list_spec(options).write(
            result.actions,
            output,
            fmt=options["fmt"],
            out=out,
            mapping=options["mapping"],
            tag_value="second-purchase nudge",
            value="net_spend",
            describe=lambda n: f"{words.count(n, 'one-time buyer')} to nudge",
            policy=options["on_bad_rows"],
            rejects=options["rejects"],
        )
    for name, _, table, what in TABLES:
        path = options[name]
        if path is not None:
            write_table(getattr(result, table), path)
            out.note(f"Wrote the {what} to {path}")
            written.append(Path(path))
    if not (output and out.quiet):
        _show(out, result.summary, result.value, by=result.config.by, as_of=result.as_of, to_stderr=output == "-")
    return written


COMMAND = Command(
    name="second-purchase",
    configure=_configure,
    inputs=lambda options, config, out: transaction_spec(options, out, activity=True),
    compute=lambda inputs, config, messages: _compute(inputs, config, messages),
    deliver=_deliver,
)


def _compute(inputs: Inputs, config: SecondPurchaseSettings, messages: Messages) -> SecondPurchaseResult:
    from loyalty_cli.app.second_purchase import second_purchase as timing

    return timing(inputs, config, messages)


def register(app: typer.Typer) -> None:
    app.command("second-purchase", epilog=EXAMPLES, rich_help_panel="Analyse")(second_purchase)
