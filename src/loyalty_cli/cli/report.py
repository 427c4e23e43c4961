"""``loyalty report``: one self-contained HTML report (segments, NPS, retention, churn, CLV, second purchase,
lifecycle stages, loyalty programme)."""

from __future__ import annotations

import dataclasses
from pathlib import Path
from typing import TYPE_CHECKING, Annotated  # noqa: UP035

import typer

from loyalty_cli.cli import options as opt
from loyalty_cli.cli.command import Command, Options, execute, flat, transaction_rejects, transaction_spec
from loyalty_cli.cli.common import (
    NO_COLUMN_OPTIONS,
    TransactionColumns,
    check_bad_rows,
    handle_errors,
    rejects_path,
    transaction_columns,
    write_rejects,
)
from loyalty_cli.cli.console import Output

if TYPE_CHECKING:
    from loyalty_cli.app.inputs import Inputs, InputSpec
    from loyalty_cli.app.report import ReportConfig, ReportResult

#: the inputs besides the transactions, in the order they are read (as ``app.inputs.SIDE_KINDS``, which
#: ``loyalty --help`` must not import: it imports polars)
SIDE_KINDS = ("surveys", "contacts", "members", "points")
#: the rules files of the sections
_RULES = ("rules", "churn_rules", "lifecycle_rules")

EXAMPLES = """
Examples:

  loyalty report sample_data/transactions.csv --surveys sample_data/surveys.csv -o report.html

  loyalty report orders.parquet --surveys nps.csv --contacts crm.csv -o report.html --as-of 2024-07-01

  loyalty report orders.csv --members members.csv --points ledger.csv --point-value 0.01 -o report.html
"""


@handle_errors
@transaction_columns
def report(
    inputs: opt.Inputs,
    output: Annotated[
        str,
        typer.Option(
            "--output",
            "-o",
            metavar="FILE",
            help="The HTML file to write (e.g. report.html).",
            rich_help_panel=opt.OUTPUT,
            show_default=False,
        ),
    ],
    surveys: Annotated[
        list[str] | None,
        typer.Option(  # noqa: UP045
            "--surveys",
            metavar="FILE",
            help="NPS survey export (file, folder or glob; repeatable): adds the NPS section. Columns "
            "detected or mapped in the [surveys] table of the mapping file.",
            show_default=False,
        ),
    ] = None,
    contacts: Annotated[
        list[str] | None,
        typer.Option(  # noqa: UP045
            "--contacts",
            metavar="FILE",
            help="Contacts export (customer_id, email, consent): adds contact counts and prospects.",
            show_default=False,
        ),
    ] = None,
    members: Annotated[
        list[str] | None,
        typer.Option(  # noqa: UP045
            "--members",
            metavar="FILE",
            help="Loyalty programme members (customer_id, enrolled_at + tier, tier_since, channel; "
            "repeatable): adds the loyalty programme section. Columns detected or mapped in the [members] table of "
            "the mapping file.",
            show_default=False,
        ),
    ] = None,
    points: Annotated[
        list[str] | None,
        typer.Option(  # noqa: UP045
            "--points",
            metavar="FILE",
            help="Points ledger (customer_id, at, points, type; repeatable; with --members): adds points, "
            "liability and breakage. Columns detected or mapped in the [points] table.",
            show_default=False,
        ),
    ] = None,
    point_value: Annotated[
        float | None,
        typer.Option(  # noqa: UP045
            "--point-value",
            help="Money per point (e.g. 0.01): values the outstanding points (the liability).",
            show_default=False,
        ),
    ] = None,
    as_of: opt.AsOf = None,
    rules: Annotated[
        str | None,
        typer.Option(  # noqa: UP045
            "--rules",
            metavar="MAP",
            help="Segment map: a built-in name (rfm_grid, rfm_tertiles, rfm_r_fm) or a .toml file.",
        ),
    ] = None,
    churn_rules: Annotated[
        str | None,
        typer.Option(  # noqa: UP045
            "--churn-rules", metavar="FILE", help="Churn rules TOML (default: the built-in rules/churn.toml)."
        ),
    ] = None,
    lifecycle_rules: Annotated[
        str | None,
        typer.Option(  # noqa: UP045
            "--lifecycle-rules",
            metavar="FILE",
            help="Lifecycle rules TOML (default: the built-in rules/lifecycle.toml).",
        ),
    ] = None,
    quiet: opt.Quiet = False,
    on_bad_rows: opt.OnBadRows = "error",
    rejects: opt.Rejects = None,
    tx: TransactionColumns = NO_COLUMN_OPTIONS,
) -> None:
    """One self-contained HTML report to send on: inputs and rules, key numbers, RFM segments, NPS (with
    --surveys), cohort retention, churn and value at risk, CLV, second purchase, lifecycle stages and their
    actions (prospects with --contacts), the loyalty programme (with --members, and --points for points,
    liability and breakage). Opens offline (no network, no script); the same inputs and --as-of give the same
    file, byte for byte. Column options apply to the transactions; the other inputs use the mapping file."""
    execute(COMMAND, flat(locals()), Output(quiet=quiet))


def _configure(options: Options) -> ReportConfig:
    from loyalty_cli.app.report import ReportConfig
    from loyalty_cli.errors import UsageError

    check_bad_rows(options["on_bad_rows"])
    output = str(options["output"])
    if output == "-" or not output.lower().endswith((".html", ".htm")):
        raise UsageError(f"-o {output}: the report is an HTML file", hint="e.g. -o report.html")
    rules = {name: None if options[name] is None else str(options[name]) for name in _RULES}
    value = options["point_value"]
    return ReportConfig(**rules, point_value=None if value is None else float(value))


def _inputs(options: Options, config: ReportConfig, out: Output) -> InputSpec:
    """The transactions with their activity table, and the other inputs given (the points only with the
    members: the programme section starts from them)."""
    sides = {kind: [str(p) for p in options[kind] or ()] for kind in SIDE_KINDS}
    spec = transaction_spec(options, out, activity=True, survey_config=config.nps)
    if sides["points"] and not sides["members"]:
        out.warn(
            "--points without --members: the points ledger is not read (the programme section starts from "
            "the members); pass --members FILE"
        )
        sides["points"] = []
    return dataclasses.replace(spec, **sides)


def _rejects(inputs: Inputs, options: Options, out: Output) -> list[Path]:
    """The rejected transaction lines (--rejects, default beside the report), and those of the other inputs
    beside them (``<rejects>.other.csv``)."""
    written = transaction_rejects(inputs, options, out)
    path = rejects_path(options.get("rejects"), options["output"])
    other = path.with_name(path.stem + ".other.csv")
    rejected = [inputs.rejects[kind] for kind in SIDE_KINDS if kind in inputs.rejects]
    if any(frame.height for frame in rejected):
        write_rejects(rejected, other, out)
        written.append(other)
    return written


def _deliver(result: ReportResult, options: Options, out: Output) -> list[Path]:
    """The page, written atomically; a note for each section that is not available, and what was written."""
    from loyalty_cli.cli.flags import render
    from loyalty_cli.io.writers import write_text
    from loyalty_cli.report import FileInfo, ReportMeta, build_context, input_infos, render_html

    output = str(options["output"])
    data = result.data
    unread = bool(options["points"]) and not options["members"]
    meta = ReportMeta(
        inputs=input_infos(result.reads, data, points_unread=unread), files=(FileInfo(output, "this report"),)
    )
    context = build_context(data, result.settings, meta)
    for section in context["sections"]:
        if not section["available"]:
            out.note(section["missing"])
    html = render_html(context, words=render)
    write_text(html, output)
    out.note(
        f"As of {result.as_of}; wrote the report ({len(html.encode('utf-8')) / 1024:,.0f} KB, "
        f"{len(context['charts'])} charts) to {output}"
    )
    return [Path(output)]


def _compute(inputs: Inputs, config: ReportConfig) -> ReportResult:
    from loyalty_cli.app.report import report as report_sections

    return report_sections(inputs, config)


COMMAND = Command(
    name="report",
    configure=_configure,
    inputs=_inputs,
    compute=lambda inputs, config, messages: _compute(inputs, config),  # the sections' notes: on the page
    deliver=_deliver,
    rejects=_rejects,
)


def register(app: typer.Typer) -> None:
    app.command("report", epilog=EXAMPLES, rich_help_panel="Report")(report)
