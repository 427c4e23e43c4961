"""``loyalty second-purchase``: when first-time buyers come back, and which one-time buyers to nudge now."""

from __future__ import annotations

import re
from pathlib import Path
from typing import TYPE_CHECKING

from loyalty_cli import words
from loyalty_cli.cli import campaign, command, common
from loyalty_cli.cli import options as opt
from loyalty_cli.cli.console import Output
from loyalty_cli.errors import UsageError, setting

if TYPE_CHECKING:
    from loyalty_cli.app.second_purchase import SecondPurchaseResult, SecondPurchaseSettings
    from loyalty_cli.metrics.second_purchase import Window

EXAMPLES = """
Examples:

  loyalty second-purchase sample_data/transactions.csv

  loyalty second-purchase orders.csv --by first_category -o nudge.csv --as-of 2024-07-01

  loyalty second-purchase orders.csv --window 20-45 --closing 7d -o - --format json

  loyalty second-purchase orders.csv --summary timing.csv --curve km.csv --value value.csv
"""

NUDGE = "second-purchase nudge"  # the list's tag for an email tool
#: the extra tables (each option is named as the result's table it writes) and what each is
TABLES = {"summary": "timing summary", "shares": "shares", "curve": "Kaplan-Meier curve", "value": "value by timing"}


def parse_window(value: str) -> Window:
    """``p25-p75`` (percentiles of the repeaters' gap) or ``20-45`` / ``20d-45d`` (days)."""
    from loyalty_cli.metrics.second_purchase import Window

    text = value.strip().lower().replace(" ", "")
    for kind, pattern in (("percentile", r"p(\d+)-p(\d+)"), ("days", r"(\d+)d?-(\d+)d?")):
        if match := re.fullmatch(pattern, text):
            return Window(kind, int(match[1]), int(match[2]))
    raise UsageError(
        f"{setting('window')} {value!r}: expected percentiles like p25-p75 or days like 20-45",
        hint="Percentiles are of the repeaters' days to second purchase; days count from the first purchase.",
    )


@common.handle_errors
@common.transaction_columns
@campaign.list_options
@opt.declare(
    output=opt.o(
        "Write the action list (one-time buyers to nudge) here (.csv, .parquet, .json, .xlsx; - for stdout).",
        "FILE",
        panel=opt.OUTPUT,
        flag=("--output", "-o"),
    ),
    by=opt.o(
        "Group by a customer-summary column, e.g. first_category (category of the first order) or first_channel.",
        "COLUMN",
    ),
    min_n=opt.o(
        "Numbers from fewer customers are left empty; groups with fewer repeaters use the window of all customers.",
        min=1,
    ),
    window=opt.o(
        "The second-purchase window: percentiles of the repeaters' days to second purchase (p25-p75) or days after "
        "the first purchase (20-45).",
        "WINDOW",
    ),
    closing=opt.o(
        "Also list one-time buyers whose window is not open yet but opens and closes within this time (set it to "
        "how often you run this), e.g. 14d or 2w.",
        "DAYS",
    ),
    summary=opt.o(
        "Write the per-group timing table (shares, quantiles, repeaters-only stats, window).", panel="Tables"
    ),
    shares=opt.o("Write the shares bought again within 7..365 days, with their counts.", panel="Tables"),
    curve=opt.o("Write the Kaplan-Meier curve of 'not yet repurchased'.", panel="Tables"),
    value=opt.o("Write the 365-day value by days to second purchase.", panel="Tables"),
)
def second_purchase(
    inputs: opt.Inputs,
    output: str | None = None,
    fmt: opt.Format = None,
    as_of: opt.AsOf = None,
    by: str | None = None,
    min_n: int = 30,
    window: str = "p25-p75",
    closing: str = "14d",
    summary: Path | None = None,
    shares: Path | None = None,
    curve: Path | None = None,
    value: Path | None = None,
    lists: campaign.ListOptions = campaign.NO_LIST_OPTIONS,
    quiet: opt.Quiet = False,
    on_bad_rows: opt.OnBadRows = "error",
    rejects: opt.Rejects = None,
    tx: common.TransactionColumns = common.NO_COLUMN_OPTIONS,
) -> None:
    """Time to second purchase with right censoring (Kaplan-Meier), the window where second purchases
    happen, 365-day value by timing, and the one-time buyers to nudge now."""
    command.execute(COMMAND, command.flat(locals()), Output(quiet=quiet))


def _configure(options: command.Options) -> SecondPurchaseSettings:
    from loyalty_cli.app.second_purchase import SecondPurchaseSettings
    from loyalty_cli.durations import parse_days

    window, closing = parse_window(str(options["window"])), parse_days(str(options["closing"]), setting("closing"))
    config = command.config_of(SecondPurchaseSettings, options, window=window, closing=closing)
    campaign.check_list_output(options, example="nudge.csv")
    for name in TABLES:
        common.check_table_path(options[name], f"--{name}")
    return config


def _deliver(result: SecondPurchaseResult, options: command.Options, out: Output) -> list[Path]:
    output, written = options["output"], []
    if output:
        written = campaign.write_list(
            result.actions, options, out, tag_value=NUDGE, value="net_spend", describe=_nudged
        )
    for name, what in TABLES.items():
        written += command.write_file(getattr(result, name), options[name], f"the {what}", out)
    if not (output and out.quiet):
        _show(result, out, to_stderr=output == "-")
    return written


def _nudged(n: int) -> str:
    return f"{words.count(n, 'one-time buyer')} to nudge"


def _show(result: SecondPurchaseResult, out: Output, *, to_stderr: bool) -> None:
    """The shares bought again within N days, the timing and the value by timing (per group with --by)."""
    import polars as pl

    from loyalty_cli.metrics.second_purchase import PERCENTILES, WITHIN_DAYS

    by, within = result.config.by, [f"{d}d" for d in WITHIN_DAYS]
    shares = result.summary.select("group", "first_buyers", *(pl.col(f"share_{d}").alias(d) for d in within))
    timing = result.summary.select(
        "group",
        pl.col("first_buyers").alias("buyers"),
        "repeaters",
        *(pl.col(f"p{p}_days").alias(f"p{p}") for p in PERCENTILES),
        pl.col("repeaters_median_gap_days").alias("rep_median"),
        pl.col("repeaters_mean_gap_days").alias("rep_mean"),
        pl.format("{}-{}", "window_from_days", "window_to_days").alias("window"),
        *([pl.col("window_source").alias("window_of")] if by else []),
    )
    value = result.value.with_columns(pl.col("bucket").cast(pl.String)).drop("total_spend_365d")
    formats = {**dict.fromkeys(within, ".1%"), "rep_mean": ".1f", "rep_median": "g", "share_customers": ".1%"}
    drawn = out.drawn(to_stderr=to_stderr)
    repeaters = "repeaters median and mean = repeaters only" if drawn else "rep_* = repeaters only"
    titles = (
        f"Bought again within N days, share of first-time buyers observed N days (as of {result.as_of})",
        "Days to second purchase: p25-p90 of all first-time buyers (Kaplan-Meier; empty = never reached), "
        f"{repeaters}, window = days after the first purchase",
        "Net spend of the first order and the 365 days after it, by days to second purchase (customers observed 365 "
        "days; a correlation)",
    )
    drops: tuple[tuple[str, ...], ...] = ((), ("window_of", "repeaters", "buyers"), ("median_spend_365d",))
    for table, title, drop in zip((shares, timing, value), titles, drops, strict=True):
        out.table(
            table if by else table.drop("group"),
            title=title,
            formats=formats,
            headers=HEADERS,
            drop=drop,
            whole="--summary, --shares and --value FILE write every column",
            to_stderr=to_stderr,
        )


#: drawn headers of the tables (piped output and the files keep the column names)
HEADERS = {
    "first_buyers": "buyers",
    "rep_median": "repeaters median",
    "rep_mean": "repeaters mean",
    "window_of": "window of",
    "share_customers": "share",
    "mean_spend_365d": "mean 365d",
    "median_spend_365d": "median 365d",
    "mean_repeat_spend_365d": "mean repeat 365d",
}


COMMAND = command.Command(
    name="second-purchase",
    configure=_configure,
    inputs=lambda options, config, out: command.transaction_spec(options, out, activity=True),
    compute=command.app_function("second_purchase"),
    deliver=_deliver,
)
