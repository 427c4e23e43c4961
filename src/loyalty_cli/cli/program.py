"""``loyalty program``: is the loyalty programme working? Enrolment, points, tiers, members vs non-members."""

from __future__ import annotations

import functools
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer

from loyalty_cli.cli import command, common
from loyalty_cli.cli import options as opt
from loyalty_cli.cli.console import Output

if TYPE_CHECKING:
    import polars as pl

    from loyalty_cli.app.inputs import Inputs, InputSpec
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
#: how a figure reads, by its kind (:func:`loyalty_cli.metrics.program.metric_kind`); NPS with its sign
FIGURE = {"share": "{:.1%}", "money": "{:,.2f}", "number": "{:,.1f}", "count": "{:,.0f}", "nps": "{:+.1f}"}
DAY = {"formats": ["%Y-%m-%d"], "show_default": False}
_o = functools.partial(opt.o, panel=PROGRAM)  # the command's own options
_files = functools.partial(_o, metavar="FILE", show_default=False)
WRITE_FIGURES = (
    "Write every figure as one long table (section, metric, group, period, value, n, ci_low, ci_high) here (.csv, "
    ".parquet, .json; - for stdout)."
)
FiguresFile = Annotated[
    str | None, typer.Option("--output", "-o", metavar="FILE", help=WRITE_FIGURES, rich_help_panel=opt.OUTPUT)
]


@common.handle_errors
@common.transaction_columns
@opt.declare(
    members=_files(
        "Members export: customer_id, enrolled_at (+ tier, tier_since, channel). A file, folder or glob "
        "(repeatable). Map its columns in a [members] table of the mapping file."
    ),
    points=_files(
        "Points ledger: customer_id, at, points, type (earn/redeem/expire/adjust) (+ order_id); repeatable. Map its "
        "columns in a [points] table of the mapping file."
    ),
    surveys=_files("NPS survey export (repeatable): adds the NPS of members and non-members."),
    point_value=_o("Money per point (e.g. 0.01): values the outstanding points (the liability).", show_default=False),
    period=_o("Periods of the enrolment and points tables: week, month or quarter.", "week|month|quarter"),
    window=_o("Days after the start date over which repeat purchase, orders and spend are compared."),
    active_days=_o("A member is active with a purchase in this many days before the as-of date."),
    tiers_from=_o("Tier movement from this date (default: a year before --tiers-to).", **DAY),
    tiers_to=_o("Tier movement to this date (default: the as-of date).", **DAY),
)
def program(
    inputs: opt.Inputs,
    members: list[str],
    points: list[str] | None = None,
    surveys: list[str] | None = None,
    point_value: float | None = None,
    period: str = "month",
    window: int = 365,
    active_days: int = 365,
    tiers_from: datetime | None = None,
    tiers_to: datetime | None = None,
    output: FiguresFile = None,
    fmt: opt.Format = None,
    as_of: opt.AsOf = None,
    quiet: opt.Quiet = False,
    on_bad_rows: opt.OnBadRows = "error",
    rejects: opt.Rejects = None,
    tx: common.TransactionColumns = common.NO_COLUMN_OPTIONS,
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
    command.execute(COMMAND, command.flat(locals()), Output(quiet=quiet))


def _configure(options: command.Options) -> ProgramConfig:
    from loyalty_cli.app.program import ProgramConfig

    common.check_bad_rows(options["on_bad_rows"])
    days = {name: common.to_date(options[name], "--" + name.replace("_", "-")) for name in ("tiers_from", "tiers_to")}
    config = command.config_of(ProgramConfig, options, **days)
    common.check_output(options["output"], options["fmt"], example="programme.csv")
    return config


def _inputs(options: command.Options, config: Any, out: Output) -> InputSpec:
    # The other inputs: the same mapping file (their columns and file settings are in its [members], [points]
    # and [surveys] tables; the file options are the transactions'), read up to the same as-of date.
    return command.transaction_spec(options, out, activity=True, **{kind: list(options[kind] or ()) for kind in SIDE})


def _rejects(inputs: Inputs, options: command.Options, out: Output) -> list[Path]:
    """Under --on-bad-rows skip: the rejected transaction lines in --rejects (default: beside the output), those
    of each other input beside them, ``<stem>.<kind><suffix>``."""
    base = common.rejects_path(options["rejects"], options["output"])
    paths = {"transactions": base, **{kind: base.with_name(f"{base.stem}.{kind}{base.suffix}") for kind in SIDE}}
    found = {kind: path for kind, path in paths.items() if kind in inputs.rejects and inputs.rejects[kind].height}
    for kind, path in found.items():
        common.write_rejects([inputs.rejects[kind]], path, out)
    return list(found.values())


def _deliver(result: ProgramResult, options: command.Options, out: Output) -> list[Path]:
    from loyalty_cli.io.writers import write_table

    output = options["output"]
    written = write_table(result.table, output, fmt=options["fmt"]) if output else None
    if written:
        out.note(f"Wrote {result.table.height:,} figures to {written}")
    if not (output and out.quiet):
        _show(result, out, to_stderr=output == "-")
    return [Path(written)] if written else []


def _text(frame: pl.DataFrame, name: str, column: str = "value") -> pl.Series:
    """The figures of ``column`` as text ("" for none), in a series named ``name``."""
    import polars as pl

    from loyalty_cli.metrics.program import metric_kind

    kinds = ["nps" if m == "nps" else metric_kind(m) for m in frame["metric"]]
    texts = ["" if v is None else FIGURE[k].format(v) for v, k in zip(frame[column], kinds, strict=True)]
    return pl.Series(name, texts, dtype=pl.String)


def _show(result: ProgramResult, out: Output, *, to_stderr: bool) -> None:
    import polars as pl

    from loyalty_cli.metrics import program as pm

    show = functools.partial(out.table, to_stderr=to_stderr, whole="-o FILE writes every figure")
    section, as_of, n, group = result.section, result.as_of, pl.col("n"), pl.col("group")
    # drawn, a metric's name reads as words and wraps between them (files and piped output keep the name)
    metric = pl.col("metric").str.replace_all("_", " ") if out.drawn(to_stderr=to_stderr) else pl.col("metric")
    head, cohorts = section("programme", "points"), section("enrolment_by_cohort").tail(SHOWN_PERIODS)
    show(head.select(metric, _text(head, "figure"), "n"), title=f"Loyalty programme as of {as_of}")
    if cohorts.height:
        show(
            cohorts.select("period", n.alias("new_customers"), _text(cohorts, "enrolled")),
            title="New customers by first-purchase period and the share enrolled by the as-of date "
            f"(last {cohorts.height})",
        )
    if result.points:
        points = section("points_by_period").pivot("metric", index="period", values="value", aggregate_function="first")
        points = points.tail(SHOWN_PERIODS).rename(lambda c: c.removeprefix("points_"))
        show(
            points,
            title=f"Points per period (last {points.height}; redeemed and expired as positive numbers; balance at the "
            "end of the period)",
            formats=dict.fromkeys(points.columns[1:], ",.0f"),
        )
    tiers, moves = section("tiers"), section("tier_movement")
    if tiers.height:
        shares = tiers.select(group.alias("tier"), n.alias("members"), _text(tiers, "share"))
        show(shares, title=f"Members by tier as of {as_of}")
    if tiers.height and moves.height:
        show(
            moves.select(group.alias("movement"), n.alias("members")),
            title=f"Tier movement, {moves['period'][0]} (tier at the start of each day)",
        )
    versus = section("members_vs_non_members")
    if versus.height:
        ci = zip(_text(versus, "", "ci_low"), _text(versus, "", "ci_high"), strict=True)
        interval = pl.Series("interval", [f"{a} to {b}" if a and b else "" for a, b in ci], dtype=pl.String)
        wide = versus.with_columns(_text(versus, "figure"), interval).pivot(
            "group", index="metric", values=["figure", "interval", "n"], aggregate_function="first"
        )
        groups = (pm.MEMBERS, pm.OTHERS, pm.DIFFERENCE)
        shown = [
            pl.col(f"{k}_{g}").alias(f"{g}{s}") for g in groups for k, s in (("figure", ""), ("interval", " 95% CI"))
        ]
        show(
            wide.select(metric, *shown, *(pl.col(f"n_{g}").alias(f"n {g}") for g in groups[:2])),
            title=f"Members vs non-members, like for like: members from enrolment, non-members from an "
            f"equivalent date after their first purchase; {result.window}-day windows closed before {as_of}",
            nowrap=[f"{g} 95% CI" for g in groups],
            drop=(("n members", "n non-members"), f"{pm.MEMBERS} 95% CI", f"{pm.OTHERS} 95% CI"),
        )


COMMAND = command.Command(
    name="program",
    configure=_configure,
    inputs=_inputs,
    compute=command.app_function("program"),
    deliver=_deliver,
    rejects=_rejects,
)
