"""``loyalty report``: one self-contained HTML report (segments, NPS, retention, churn, CLV, second purchase,
lifecycle stages, loyalty programme)."""

from __future__ import annotations

import dataclasses
from pathlib import Path
from typing import TYPE_CHECKING

from loyalty_cli.cli import command, common
from loyalty_cli.cli import options as opt
from loyalty_cli.cli.console import Output
from loyalty_cli.errors import UsageError

if TYPE_CHECKING:
    from loyalty_cli.app.inputs import Inputs, InputSpec
    from loyalty_cli.app.report import ReportConfig, ReportResult

EXAMPLES = """
Examples:

  loyalty report sample_data/transactions.csv --surveys sample_data/surveys.csv -o report.html

  loyalty report orders.parquet --surveys nps.csv --contacts crm.csv -o report.html --as-of 2024-07-01

  loyalty report orders.csv --members members.csv --points ledger.csv --point-value 0.01 -o report.html

  loyalty report orders.csv --currency EUR -o report.html
"""


@common.handle_errors
@common.transaction_columns
@opt.declare(
    output=opt.o("The HTML file to write (e.g. report.html).", "FILE", panel=opt.OUTPUT, flag=("--output", "-o")),
    surveys=opt.o(
        "NPS survey export (file, folder or glob; repeatable): adds the NPS section. Columns detected or mapped in "
        "the [surveys] table of the mapping file.",
        "FILE",
    ),
    contacts=opt.o("Contacts export (customer_id, email, consent): adds contact counts and prospects.", "FILE"),
    members=opt.o(
        "Loyalty programme members (customer_id, enrolled_at + tier, tier_since, channel; repeatable): adds the "
        "loyalty programme section. Columns detected or mapped in the [members] table of the mapping file.",
        "FILE",
    ),
    points=opt.o(
        "Points ledger (customer_id, at, points, type; repeatable; with --members): adds points, liability and "
        "breakage. Columns detected or mapped in the [points] table.",
        "FILE",
    ),
    point_value=opt.o("Money per point (e.g. 0.01): values the outstanding points (the liability)."),
    rules=opt.o("Segment map: a built-in name (rfm_grid, rfm_tertiles, rfm_r_fm) or a .toml file.", "MAP"),
    churn_rules=opt.o("Churn rules TOML (default: the built-in rules/churn.toml).", "FILE"),
    lifecycle_rules=opt.o("Lifecycle rules TOML (default: the built-in rules/lifecycle.toml).", "FILE"),
    currency=opt.o(
        "Currency of the amounts, a three-letter code (e.g. EUR): shown on every amount of money. Default: "
        "plain numbers.",
        "CODE",
    ),
    retention_by=opt.o(
        "Also split the retention section by acquisition, as loyalty retention --by: first_category, "
        "first_channel, first_product, member (with --members) or another transactions column.",
        "COLUMN",
    ),
    products=opt.o(
        "Also the products section (with a product column): first products, next products, pairs, the "
        "replenishment cycle. It reads every line's product: on large files it adds time and memory "
        "(10M lines: ~13 s of CPU and ~1.5 GB).",
    ),
)
def report(
    inputs: opt.Inputs,
    output: str,
    surveys: list[str] | None = None,
    contacts: list[str] | None = None,
    members: list[str] | None = None,
    points: list[str] | None = None,
    point_value: float | None = None,
    as_of: opt.AsOf = None,
    rules: str | None = None,
    churn_rules: str | None = None,
    lifecycle_rules: str | None = None,
    currency: str | None = None,
    retention_by: str | None = None,
    products: bool = False,
    quiet: opt.Quiet = False,
    on_bad_rows: opt.OnBadRows = "error",
    rejects: opt.Rejects = None,
    tx: common.TransactionColumns = common.NO_COLUMN_OPTIONS,
) -> None:
    """One self-contained HTML report to send on: inputs and rules, key numbers, RFM segments, NPS (with
    --surveys), cohort retention, churn and value at risk, CLV, second purchase, when repeat customers are due,
    products (with --products), lifecycle stages and their actions (prospects with --contacts), the
    loyalty programme (with --members, and --points for points, liability and breakage). Opens offline (no
    network, no script); the same inputs and --as-of give the same file, byte for byte. Column options apply to
    the transactions; the other inputs use the mapping file."""
    command.execute(COMMAND, command.flat(locals()), Output(quiet=quiet))


def _configure(options: command.Options) -> ReportConfig:
    from loyalty_cli.app.report import ReportConfig

    common.check_bad_rows(options["on_bad_rows"])
    output = str(options["output"])
    if output == "-" or not output.lower().endswith((".html", ".htm")):
        raise UsageError(f"-o {output}: the report is an HTML file", hint="e.g. -o report.html")
    config = command.config_of(ReportConfig, options)  # the rules files and --point-value
    if config.retention.needs_members and not options.get("members"):
        raise UsageError("--retention-by member needs --members FILE", hint="e.g. --members sample_data/members.csv")
    return config


def _inputs(options: command.Options, config: ReportConfig, out: Output) -> InputSpec:
    """The transactions with their activity table and, with --products, their product lines (none without a
    product column), and the other inputs given (the points only with the members: the programme section starts
    from them)."""
    from loyalty_cli.app.inputs import SIDE_KINDS
    from loyalty_cli.app.report_products import product_lines
    from loyalty_cli.cli.retention import with_split_column

    spec = command.transaction_spec(options, out, activity=True, survey_config=config.nps)
    goods = product_lines(names=spec.spark is None) if config.products else {}
    lines = {**goods, **config.retention.lines()}  # + the retention split's
    spec = dataclasses.replace(spec, lines=lines)
    spec = with_split_column(spec, config.retention)  # the reader keeps the --retention-by column
    sides = {kind: list(options[kind] or ()) for kind in SIDE_KINDS}
    if sides["points"] and not sides["members"]:
        out.warn(
            "--points without --members: the points ledger is not read (the programme section starts from "
            "the members); pass --members FILE"
        )
        sides["points"] = []
    return dataclasses.replace(spec, **sides)


def _rejects(inputs: Inputs, options: command.Options, out: Output) -> list[Path]:
    """The rejected transaction lines (--rejects, default beside the report), and those of the other inputs
    beside them (``<rejects>.other.csv``)."""
    from loyalty_cli.app.inputs import SIDE_KINDS

    written = command.transaction_rejects(inputs, options, out)
    base = common.rejects_path(options["rejects"], options["output"])
    other = base.with_name(base.stem + ".other.csv")
    rejected = [inputs.rejects[kind] for kind in SIDE_KINDS if kind in inputs.rejects]
    if any(frame.height for frame in rejected):
        common.write_rejects(rejected, other, out)
        written.append(other)
    return written


def _deliver(result: ReportResult, options: command.Options, out: Output) -> list[Path]:
    """The page, written atomically; a note for each section that is not available, and what was written."""
    from loyalty_cli.cli.flags import render
    from loyalty_cli.io.writers import write_text
    from loyalty_cli.report import FileInfo, ReportMeta, build_context, input_infos, render_html

    output = str(options["output"])
    infos = input_infos(result.reads, result.data, points_unread=bool(options["points"]) and not options["members"])
    context = build_context(result.data, result.settings, ReportMeta(infos, files=(FileInfo(output, "this report"),)))
    for section in context["sections"]:
        if not section["available"]:
            out.note(section["missing"])
    html = render_html(context, words=render)
    write_text(html, output)
    size = f"{len(html.encode('utf-8')) / 1024:,.0f} KB, {len(context['charts'])} charts"
    out.note(f"As of {result.as_of}; wrote the report ({size}) to {output}")
    return [Path(output)]


COMMAND = command.Command(
    name="report",
    configure=_configure,
    inputs=_inputs,
    compute=command.app_function("report", messages=False),  # the sections' notes: on the page
    deliver=_deliver,
    rejects=_rejects,
)
