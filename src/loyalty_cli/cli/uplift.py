"""``loyalty uplift``: did a campaign work? Treatment vs control over a window after the campaign start."""

from __future__ import annotations

from datetime import date, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Annotated  # noqa: UP035

import typer

from loyalty_cli import words
from loyalty_cli.cli import options as opt
from loyalty_cli.cli.command import Command, Options, execute, flat, transaction_spec
from loyalty_cli.cli.common import (
    NO_COLUMN_OPTIONS,
    TransactionColumns,
    check_bad_rows,
    check_output,
    check_table_path,
    handle_errors,
    show_messages,
    transaction_columns,
)
from loyalty_cli.cli.console import Output

if TYPE_CHECKING:
    import polars as pl

    from loyalty_cli.app.inputs import Inputs, InputSpec
    from loyalty_cli.app.uplift import UpliftConfig, UpliftResult

EXAMPLES = """
Examples (the lists first, as of the campaign start; then, once the orders cover the window, the uplift):

  loyalty segment orders.csv --as-of 2024-10-01 --segment "At Risk" --holdout-share 0.1 --seed at-risk-2024-10 \\
    -o at_risk.csv

  loyalty uplift orders.csv --treatment at_risk.csv --control at_risk.control.csv --start 2024-10-01

  loyalty uplift orders.csv --manifest at_risk.manifest.json --start 2024-10-01 --window 60d -o uplift.csv

  loyalty uplift orders.csv --groups campaign.csv --group-col group --start 2024-10-01 --by none
"""

LISTS = "Lists"


@handle_errors
@transaction_columns
def uplift(
    inputs: opt.Inputs,
    start: Annotated[
        datetime,
        typer.Option(
            "--start", formats=["%Y-%m-%d"], help="Campaign start: the first day of the window.", show_default=False
        ),
    ],
    treatment: Annotated[
        list[str] | None,
        typer.Option(  # noqa: UP045
            "--treatment",
            metavar="FILE",
            help="The list the campaign went to (files, folders or globs; repeatable).",
            rich_help_panel=LISTS,
            show_default=False,
        ),
    ] = None,
    control: Annotated[
        list[str] | None,
        typer.Option(  # noqa: UP045
            "--control",
            metavar="FILE",
            help="The control group held out of it (NAME.control.csv; repeatable).",
            rich_help_panel=LISTS,
            show_default=False,
        ),
    ] = None,
    groups: Annotated[
        list[str] | None,
        typer.Option(  # noqa: UP045
            "--groups",
            metavar="FILE",
            help="Instead: one list with a column saying treatment or control (--group-col).",
            rich_help_panel=LISTS,
            show_default=False,
        ),
    ] = None,
    manifest: Annotated[
        Path | None,
        typer.Option(  # noqa: UP045
            "--manifest",
            help="Instead: the NAME.manifest.json written with the list (its treatment and control files).",
            rich_help_panel=LISTS,
            show_default=False,
        ),
    ] = None,
    group_col: Annotated[
        str, typer.Option("--group-col", metavar="NAME", help="The group column of --groups.", rich_help_panel=LISTS)
    ] = "group",
    list_id_col: Annotated[
        str | None,
        typer.Option(  # noqa: UP045
            "--list-id-col",
            metavar="NAME",
            help="Customer id column of the lists (default: customer_id, external_id, ...).",
            rich_help_panel=LISTS,
            show_default=False,
        ),
    ] = None,
    window: Annotated[
        str, typer.Option("--window", metavar="DAYS", help="Days after the start to compare, e.g. 30d, 8w or 30.")
    ] = "30d",
    by: Annotated[
        str | None,
        typer.Option(  # noqa: UP045
            "--by",
            metavar="COLUMN",
            help="Also compare per value of this list column (default: segment, stage or the tag column when "
            "the lists have one; none: overall only).",
            show_default=False,
        ),
    ] = None,
    min_n: Annotated[
        int,
        typer.Option(
            "--min-n",
            min=1,
            help="Segments with fewer customers in either group keep their counts and leave the rest empty.",
        ),
    ] = 30,
    confidence: Annotated[
        float,
        typer.Option(
            "--confidence", min=0.5, max=0.999, help="Confidence of the intervals; 1 - it is the significance level."
        ),
    ] = 0.95,
    power: Annotated[
        float, typer.Option("--power", min=0.5, max=0.99, help="Power for the minimum detectable effect.")
    ] = 0.8,
    output: opt.Output = None,
    fmt: opt.Format = None,
    outcomes_path: Annotated[
        Path | None,
        typer.Option(  # noqa: UP045
            "--outcomes",
            help="Also write each customer's group and outcome (purchase days, revenue) here.",
            rich_help_panel=opt.OUTPUT,
            show_default=False,
        ),
    ] = None,
    as_of: opt.AsOf = None,
    quiet: opt.Quiet = False,
    on_bad_rows: opt.OnBadRows = "error",
    rejects: opt.Rejects = None,
    tx: TransactionColumns = NO_COLUMN_OPTIONS,
) -> None:
    """Campaign uplift: repurchase rate and net revenue per customer of the treatment list vs its control group
    over a window after the campaign start, with confidence intervals, significance tests, per segment when the
    lists have one, and the smallest effect the groups could detect."""
    execute(COMMAND, flat(locals()), Output(quiet=quiet))


def _paths(value: str | list[str] | None) -> tuple[str, ...]:
    """Files given on the command line (a list) or in a pipeline (a str or a list)."""
    if value is None:
        return ()
    return (str(value),) if isinstance(value, (str, Path)) else tuple(str(v) for v in value)


def _day(value: date | datetime | str) -> date:
    """The campaign start: a datetime from the command line, a date or an ISO date from a pipeline file."""
    from loyalty_cli.errors import ConfigError

    if isinstance(value, datetime):
        return value.date()
    try:
        return value if isinstance(value, date) else date.fromisoformat(str(value))
    except ValueError:
        raise ConfigError("start", f"must be a date such as 2024-10-01, got {value!r}") from None


def _configure(options: Options) -> UpliftConfig:
    from loyalty_cli.app.inputs import CampaignLists
    from loyalty_cli.app.uplift import UpliftConfig
    from loyalty_cli.durations import parse_days

    check_bad_rows(options["on_bad_rows"])
    window = options["window"]
    days = window if isinstance(window, int) else parse_days(str(window), "--window", minimum=1)
    check_output(options["output"], options["fmt"], example="uplift.csv")
    check_table_path(options["outcomes_path"], "--outcomes")
    manifest = options["manifest"]
    lists = CampaignLists(
        treatment=_paths(options["treatment"]),
        control=_paths(options["control"]),
        groups=_paths(options["groups"]),
        manifest=Path(manifest) if manifest is not None else None,
        id_col=options["list_id_col"],
        group_col=options["group_col"],
        by=options["by"],
    )
    return UpliftConfig(
        start=_day(options["start"]),
        lists=lists,
        window=days,
        confidence=float(options["confidence"]),
        power=float(options["power"]),
        min_n=options["min_n"],
    )


def _inputs(options: Options, config: UpliftConfig, out: Output) -> InputSpec:
    from loyalty_cli.app.uplift import LINES

    return transaction_spec(options, out, lists=config.lists, summary=False, activity=True, lines=LINES)


def _deliver(result: UpliftResult, options: Options, out: Output) -> list[Path]:
    from loyalty_cli.io.writers import write_table

    output, outcomes = options["output"], options["outcomes_path"]
    show_messages(result.messages, out)
    written: list[Path] = []
    if output:
        path = write_table(result.table, output, fmt=options["fmt"])
        if path:
            out.note(f"Wrote the uplift table ({words.count(result.table.height, 'row')}) to {path}")
            written.append(path)
    if outcomes is not None:
        write_table(result.outcomes, outcomes)
        out.note(f"Wrote {words.count(result.outcomes.height, 'customer outcome')} to {outcomes}")
        written.append(Path(outcomes))
    if not (output and out.quiet):
        _show(out, result.table, to_stderr=output == "-", by=result.by_segment)
    return written


def _show(out: Output, table: pl.DataFrame, *, to_stderr: bool, by: bool) -> None:
    drop = [] if by else ["segment"]
    pct = {c: ".1%" for c in ("rate_treated", "rate_control", "diff", "ci_low", "ci_high")}
    out.table(
        _outcome(table, "repurchase", "repurchase_rate", "rate").drop(drop),
        title="Repurchase rate (share of customers with a purchase in the window)",
        formats={**pct, "p_value": ".3g"},
        to_stderr=to_stderr,
    )
    out.table(
        _outcome(table, "revenue", "revenue_per_customer", "per").drop(drop),
        title="Net revenue per customer in the window (every customer, zeros included)",
        formats={"p_value": ".3g"},
        to_stderr=to_stderr,
    )


def _outcome(table: pl.DataFrame, outcome: str, per_group: str, short: str) -> pl.DataFrame:
    """One outcome's columns of the uplift table under short headers: the groups' sizes and values, the
    difference with its interval, p-value and verdict."""
    import polars as pl

    return table.select(
        "segment",
        pl.col("treatment_customers").alias("treated"),
        pl.col("control_customers").alias("control"),
        pl.col(f"treatment_{per_group}").alias(f"{short}_treated"),
        pl.col(f"control_{per_group}").alias(f"{short}_control"),
        pl.col(f"{outcome}_diff").alias("diff"),
        pl.col(f"{outcome}_diff_low").alias("ci_low"),
        pl.col(f"{outcome}_diff_high").alias("ci_high"),
        pl.col(f"{outcome}_p_value").alias("p_value"),
        pl.col(f"{outcome}_verdict").alias("verdict"),
    )


COMMAND = Command(
    name="uplift",
    configure=_configure,
    inputs=_inputs,
    compute=lambda inputs, config, messages: _compute(inputs, config),
    deliver=_deliver,
)


def _compute(inputs: Inputs, config: UpliftConfig) -> UpliftResult:
    from loyalty_cli.app.uplift import uplift as campaign_uplift

    return campaign_uplift(inputs, config)


def register(app: typer.Typer) -> None:
    app.command("uplift", epilog=EXAMPLES, rich_help_panel="Analyse")(uplift)
