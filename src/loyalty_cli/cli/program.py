"""``loyalty program``: is the loyalty programme working? Enrolment, points, tiers, members vs non-members."""

from __future__ import annotations

from datetime import date, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any  # noqa: UP035

import typer

from loyalty_cli.cli import options as opt
from loyalty_cli.cli.command import Command, Options, execute, flat, transaction_spec
from loyalty_cli.cli.common import (
    NO_COLUMN_OPTIONS,
    TransactionColumns,
    check_bad_rows,
    check_output,
    handle_errors,
    rejects_path,
    transaction_columns,
    write_rejects,
)
from loyalty_cli.cli.console import Output

if TYPE_CHECKING:
    import polars as pl

    from loyalty_cli.app.inputs import Inputs, InputSpec
    from loyalty_cli.app.messages import Messages
    from loyalty_cli.app.program import ProgramConfig, ProgramResult

EXAMPLES = """
Examples:

  loyalty program sample_data/transactions.csv --members sample_data/members.csv --points sample_data/points.csv

  loyalty program orders.csv --members members.csv --points ledger.csv --point-value 0.01 --surveys nps.csv

  loyalty program orders.parquet --members members.csv -o programme.csv --as-of 2024-07-01

  loyalty program orders.csv --members members.csv --points ledger.csv --tiers-from 2024-01-01 --tiers-to 2024-07-01
"""
PROGRAM = "Programme"
SHOWN_PERIODS = 12
SIDE = ("members", "points", "surveys")  # the other inputs, each with its own rejects file


@handle_errors
@transaction_columns
def program(
    inputs: opt.Inputs,
    members: Annotated[
        list[str],
        typer.Option(
            "--members",
            metavar="FILE",
            help="Members export: customer_id, enrolled_at (+ tier, tier_since, channel). A file, folder "
            "or glob (repeatable). Map its columns in a [members] table of the mapping file.",
            rich_help_panel=PROGRAM,
            show_default=False,
        ),
    ],
    points: Annotated[
        list[str] | None,
        typer.Option(  # noqa: UP045
            "--points",
            metavar="FILE",
            help="Points ledger: customer_id, at, points, type (earn/redeem/expire/adjust) (+ order_id); "
            "repeatable. Map its columns in a [points] table of the mapping file.",
            rich_help_panel=PROGRAM,
            show_default=False,
        ),
    ] = None,
    surveys: Annotated[
        list[str] | None,
        typer.Option(  # noqa: UP045
            "--surveys",
            metavar="FILE",
            help="NPS survey export (repeatable): adds the NPS of members and non-members.",
            rich_help_panel=PROGRAM,
            show_default=False,
        ),
    ] = None,
    point_value: Annotated[
        float | None,
        typer.Option(  # noqa: UP045
            "--point-value",
            help="Money per point (e.g. 0.01): values the outstanding points (the liability).",
            rich_help_panel=PROGRAM,
            show_default=False,
        ),
    ] = None,
    period: Annotated[
        str,
        typer.Option(
            "--period",
            metavar="week|month|quarter",
            help="Periods of the enrolment and points tables: week, month or quarter.",
            rich_help_panel=PROGRAM,
        ),
    ] = "month",
    window: Annotated[
        int,
        typer.Option(
            "--window",
            help="Days after the start date over which repeat purchase, orders and spend are compared.",
            rich_help_panel=PROGRAM,
        ),
    ] = 365,
    active_days: Annotated[
        int,
        typer.Option(
            "--active-days",
            help="A member is active with a purchase in this many days before the as-of date.",
            rich_help_panel=PROGRAM,
        ),
    ] = 365,
    tiers_from: Annotated[
        datetime | None,
        typer.Option(  # noqa: UP045
            "--tiers-from",
            formats=["%Y-%m-%d"],
            help="Tier movement from this date (default: a year before --tiers-to).",
            rich_help_panel=PROGRAM,
            show_default=False,
        ),
    ] = None,
    tiers_to: Annotated[
        datetime | None,
        typer.Option(  # noqa: UP045
            "--tiers-to",
            formats=["%Y-%m-%d"],
            help="Tier movement to this date (default: the as-of date).",
            rich_help_panel=PROGRAM,
            show_default=False,
        ),
    ] = None,
    output: Annotated[
        str | None,
        typer.Option(  # noqa: UP045
            "--output",
            "-o",
            metavar="FILE",
            help="Write every figure as one long table (section, metric, group, period, value, n, "
            "ci_low, ci_high) here (.csv, .parquet, .json; - for stdout).",
            rich_help_panel=opt.OUTPUT,
        ),
    ] = None,
    fmt: opt.Format = None,
    as_of: opt.AsOf = None,
    quiet: opt.Quiet = False,
    on_bad_rows: opt.OnBadRows = "error",
    rejects: opt.Rejects = None,
    tx: TransactionColumns = NO_COLUMN_OPTIONS,
) -> None:
    """Is the loyalty programme working? Enrolment rate (overall and by first-purchase cohort), active members,
    points earned, redeemed and expired per period, redemption rates, the outstanding balance and its value
    (--point-value), breakage, tiers and tier movement; then members against comparable non-members: repeat
    purchase, retention from 3/6/12 months (a purchase in the 3 months from then), orders and spend per
    customer, predicted CLV and NPS, each with a 95% interval.

    Like for like: members are measured from enrolment (or their first purchase, when they enrolled before
    buying), non-members from their first purchase plus the members' median days to enrolment, and only
    customers whose window closed before the as-of date count. Members choose to join, so the comparison is a
    correlation, not the programme's effect: use a control group and `loyalty uplift` for that.

    The column options apply to the transactions; map the other files in rules/columns.toml ([members],
    [points], [surveys])."""
    execute(COMMAND, flat(locals()), Output(quiet=quiet))


def _day(value: date | datetime | str | None) -> date | None:
    """A date option: a datetime from the command line, a date or ISO text from a pipeline file."""
    if value is None or type(value) is date:
        return value
    if isinstance(value, datetime):
        return value.date()
    return date.fromisoformat(str(value))


def _configure(options: Options) -> ProgramConfig:
    from loyalty_cli.app.program import ProgramConfig

    check_bad_rows(options["on_bad_rows"])
    config = ProgramConfig(
        period=options["period"],
        point_value=options["point_value"],
        window=options["window"],
        active_days=options["active_days"],
        tiers_from=_day(options["tiers_from"]),
        tiers_to=_day(options["tiers_to"]),
    )
    check_output(options["output"], options["fmt"], example="programme.csv")
    return config


def _inputs(options: Options, config: Any, out: Output) -> InputSpec:
    # The other inputs: the same mapping file (their columns and file settings are in its [members], [points]
    # and [surveys] tables; the file options are the transactions'), read up to the same as-of date.
    return transaction_spec(options, out, activity=True, **{kind: list(options[kind] or ()) for kind in SIDE})


def _rejects(inputs: Inputs, options: Options, out: Output) -> list[Path]:
    """Under --on-bad-rows skip: the rejected transaction lines in --rejects (default: beside the output), those
    of each other input beside them, ``<stem>.<kind><suffix>``."""
    base = rejects_path(options["rejects"], options["output"])
    written = []
    for kind, path in [("transactions", base), *((k, base.with_name(f"{base.stem}.{k}{base.suffix}")) for k in SIDE)]:
        rejected = inputs.rejects.get(kind)
        if rejected is not None and rejected.height:
            write_rejects([rejected], path, out)
            written.append(path)
    return written


def _compute(inputs: Inputs, config: ProgramConfig, messages: Messages) -> ProgramResult:
    from loyalty_cli.app.program import program as programme

    return programme(inputs, config, messages)


def _deliver(result: ProgramResult, options: Options, out: Output) -> list[Path]:
    from loyalty_cli.io.writers import write_table

    output = options["output"]
    written = write_table(result.table, output, fmt=options["fmt"]) if output else None
    if written:
        out.note(f"Wrote {result.table.height:,} figures to {written}")
    if not (output and out.quiet):
        _show(result, out, to_stderr=output == "-")
    return [Path(written)] if written else []


def _display(value: float | None, metric: str) -> str:
    if value is None:
        return ""
    from loyalty_cli.metrics.program import metric_kind

    if metric == "nps":
        return f"{value:+.1f}"
    return {"share": "{:.1%}", "money": "{:,.2f}", "number": "{:,.1f}", "count": "{:,.0f}"}[metric_kind(metric)].format(
        value
    )


def _with_text(frame: pl.DataFrame, column: str, value: str = "value") -> pl.DataFrame:
    import polars as pl

    texts = [_display(v, m) for v, m in zip(frame[value], frame["metric"], strict=True)]
    return frame.with_columns(pl.Series(column, texts, dtype=pl.String))


def _interval(frame: pl.DataFrame) -> pl.DataFrame:
    import polars as pl

    low = [_display(v, m) for v, m in zip(frame["ci_low"], frame["metric"], strict=True)]
    high = [_display(v, m) for v, m in zip(frame["ci_high"], frame["metric"], strict=True)]
    return frame.with_columns(
        pl.Series(
            "interval", [f"{a} to {b}" if a and b else "" for a, b in zip(low, high, strict=True)], dtype=pl.String
        )
    )


def _show(result: ProgramResult, out: Output, *, to_stderr: bool) -> None:
    import polars as pl

    from loyalty_cli.metrics import program as pm

    table, as_of = result.table, result.as_of
    section = pl.col("section")
    head = _with_text(table.filter(section.is_in(["programme", "points"])), "figure")
    out.table(head.select("metric", "figure", "n"), title=f"Loyalty programme as of {as_of}", to_stderr=to_stderr)

    cohorts = table.filter(section == "enrolment_by_cohort").tail(SHOWN_PERIODS)
    if cohorts.height:
        out.table(
            _with_text(cohorts, "enrolled").select("period", pl.col("n").alias("new_customers"), "enrolled"),
            title="New customers by first-purchase period and the share enrolled by the as-of date "
            f"(last {cohorts.height})",
            to_stderr=to_stderr,
        )
    if result.points:
        by_period = (
            table.filter(section == "points_by_period")
            .pivot("metric", index="period", values="value", aggregate_function="first")
            .tail(SHOWN_PERIODS)
        )
        out.table(
            by_period.rename(lambda c: c.removeprefix("points_")),
            title=f"Points per period (last {by_period.height}; redeemed and expired as positive numbers; "
            "balance at the end of the period)",
            to_stderr=to_stderr,
        )
    tiers = table.filter(section == "tiers")
    if tiers.height:
        out.table(
            _with_text(tiers, "share").select(pl.col("group").alias("tier"), pl.col("n").alias("members"), "share"),
            title=f"Members by tier as of {as_of}",
            to_stderr=to_stderr,
        )
        moves = table.filter(section == "tier_movement")
        if moves.height:
            out.table(
                moves.select(pl.col("group").alias("movement"), pl.col("n").alias("members")),
                title=f"Tier movement, {moves['period'][0]} (tier at the start of each day)",
                to_stderr=to_stderr,
            )
    versus = _interval(_with_text(table.filter(section == "members_vs_non_members"), "figure"))
    if versus.height:
        wide = versus.pivot("group", index="metric", values=["figure", "interval", "n"], aggregate_function="first")
        cols = []
        for group in (pm.MEMBERS, pm.OTHERS, pm.DIFFERENCE):
            cols += [pl.col(f"figure_{group}").alias(group), pl.col(f"interval_{group}").alias(f"{group} 95% CI")]
        cols += [pl.col(f"n_{pm.MEMBERS}").alias(f"n {pm.MEMBERS}"), pl.col(f"n_{pm.OTHERS}").alias(f"n {pm.OTHERS}")]
        out.table(
            wide.select("metric", *cols),
            title=f"Members vs non-members, like for like: members from enrolment, non-members from an "
            f"equivalent date after their first purchase; {result.window}-day windows closed before {as_of}",
            to_stderr=to_stderr,
        )


COMMAND = Command(
    name="program",
    configure=_configure,
    inputs=_inputs,
    compute=lambda inputs, config, messages: _compute(inputs, config, messages),
    deliver=_deliver,
    rejects=_rejects,
)


def register(app: typer.Typer) -> None:
    app.command("program", epilog=EXAMPLES, rich_help_panel="Analyse")(program)
