"""``loyalty report``: one self-contained HTML report (segments, NPS, retention, churn, CLV, second purchase,
lifecycle stages, loyalty programme)."""

from __future__ import annotations

from typing import TYPE_CHECKING, Annotated  # noqa: UP035

import typer

from loyalty_cli import words
from loyalty_cli.cli import options as opt
from loyalty_cli.cli.common import (
    NO_COLUMN_OPTIONS,
    TransactionColumns,
    check_bad_rows,
    handle_errors,
    load_transactions_checked,
    read_side,
    rejects_path,
    to_date,
    transaction_columns,
    write_rejects,
)
from loyalty_cli.cli.console import Output

if TYPE_CHECKING:
    import polars as pl

    from loyalty_cli.io.readers import Scan
    from loyalty_cli.report import InputInfo

EXAMPLES = """
Examples:

  loyalty report sample_data/transactions.csv --surveys sample_data/surveys.csv -o report.html

  loyalty report orders.parquet --surveys nps.csv --contacts crm.csv -o report.html --as-of 2024-07-01

  loyalty report orders.csv --members members.csv --points ledger.csv --point-value 0.01 -o report.html
"""


def _dropped(rejects: list[pl.DataFrame], scan: Scan, more: tuple[str, ...] = ()) -> tuple[str, ...]:
    """Rows left out and why: rejected rows by reason and column, rows dated on or after the as-of date, and
    ``more`` (what else was left out: customers with no purchase)."""
    import polars as pl

    lines = []
    found = [r for r in rejects if r.height]
    if found:
        table = pl.concat(found, how="diagonal_relaxed")
        counts = (
            table.group_by("reject_reason", "reject_column")
            .len()
            .sort(["len", "reject_reason", "reject_column"], descending=[True, False, False], nulls_last=True)
        )
        for reason, column, n in counts.iter_rows():
            lines.append(f"{words.count(n, 'row')} rejected: {reason}" + (f" (column {column})" if column else ""))
    if scan.left_out and scan.left_out[0]:
        n = scan.left_out[0]
        lines.append(f"{words.count(n, 'row')} dated on or after the as-of date left out")
    return (*lines, *more) or ("no row left out",)


def _info(kind: str, rows: pl.DataFrame, scan: Scan, rejected: list[pl.DataFrame]) -> InputInfo:
    """How the header shows one of the other inputs: what was read, how much, what was left out."""
    from loyalty_cli.report import InputInfo

    people = rows["customer_id"].drop_nulls().n_unique()
    counts = {
        "surveys": (words.count(rows.height, "answer"), words.count(people, "identified respondent")),
        "contacts": (words.count(rows.height, "row"), words.count(people, "customer")),
        "members": (words.count(people, "member"), words.count(rows.height, "row")),
        "points": (words.count(rows.height, "ledger row"), words.count(people, "customer")),
    }[kind]
    return InputInfo(kind, tuple(str(p) for p in scan.paths), counts, _dropped(rejected, scan))


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
    from loyalty_cli.errors import UsageError
    from loyalty_cli.io.writers import write_text
    from loyalty_cli.metrics.churn import load_churn_rules
    from loyalty_cli.metrics.lifecycle import load_lifecycle_rules
    from loyalty_cli.metrics.program import ProgramConfig
    from loyalty_cli.metrics.rfm import RfmConfig
    from loyalty_cli.report import (
        FileInfo,
        InputInfo,
        ReportMeta,
        ReportSettings,
        build_context,
        compute_report,
        render_html,
    )
    from loyalty_cli.segments import load_segment_rules

    out = Output(quiet=quiet)
    policy = check_bad_rows(on_bad_rows)
    if output == "-" or not output.lower().endswith((".html", ".htm")):
        raise UsageError(f"-o {output}: the report is an HTML file", hint="e.g. -o report.html")
    seg_map = load_segment_rules(rules)
    settings = ReportSettings(
        segments=seg_map,
        churn=load_churn_rules(churn_rules),
        rfm=RfmConfig(bins=seg_map.bins),
        lifecycle=load_lifecycle_rules(lifecycle_rules),
        program=ProgramConfig(point_value=point_value),
    )
    options = tx.read_options(out)
    loaded = load_transactions_checked(
        inputs, options, as_of=to_date(as_of), policy=policy, rejects=rejects, output=output, out=out, activity=True
    )
    customers, activity = loaded.customers, loaded.activity
    assert activity is not None
    day = loaded.as_of
    missing = {
        "surveys": "not given: pass --surveys FILE for the NPS section",
        "contacts": "not given: pass --contacts FILE for contact counts and prospects",
        "members": "not given: pass --members FILE for the loyalty programme section",
        "points": "not given: pass --points FILE (with --members) for points, liability and breakage",
    }
    given = {"surveys": surveys, "contacts": contacts, "members": members, "points": points}
    if points and not members:
        out.warn(
            "--points without --members: the points ledger is not read (the programme section starts from "
            "the members); pass --members FILE"
        )
        given["points"] = None
        missing["points"] = "given without --members, so not read: pass --members FILE too"
    rows: dict[str, pl.DataFrame] = {}
    infos: list[InputInfo] = []
    extra_rejects: list[pl.DataFrame] = []
    for kind, paths in given.items():
        if not paths:
            infos.append(InputInfo(kind, missing=missing[kind]))
            continue
        rows[kind], scan, rejected = read_side(
            kind, paths, mapping=options.mapping_file, as_of=day if kind != "contacts" else None, policy=policy, out=out
        )
        infos.append(_info(kind, rows[kind], scan, rejected))
        extra_rejects += rejected
    if policy == "skip" and any(r.height for r in extra_rejects):
        write_rejects(
            extra_rejects,
            rejects_path(rejects, output).with_name(rejects_path(rejects, output).stem + ".other.csv"),
            out,
        )

    with out.status("Computing the report ..."):
        data = compute_report(
            customers,
            activity,
            settings=settings,
            responses=rows.get("surveys"),
            contacts=rows.get("contacts"),
            members=rows.get("members"),
            points=rows.get("points"),
            no_purchase=loaded.no_purchase,
        )
    gone = loaded.left_out_note()  # customers with no purchase, only returns: in no table
    returns = words.count(data.no_purchase_return_orders, "return or cancellation order")
    transactions = InputInfo(
        "transactions",
        tuple(str(p) for p in loaded.scan.paths),
        (
            words.count(data.customers, "customer"),
            words.count(data.purchase_orders, "purchase order"),
            words.count(data.return_orders, "return or cancellation order"),
        ),
        _dropped(loaded.rejects, loaded.scan, (f"{gone} ({returns})",) if gone else ()),
    )
    meta = ReportMeta(inputs=(transactions, *infos), files=(FileInfo(output, "this report"),))
    context = build_context(data, settings, meta)
    for section in context["sections"]:
        if not section["available"]:
            out.note(section["missing"])
    html = render_html(context)
    write_text(html, output)
    out.note(
        f"As of {day}; wrote the report ({len(html.encode('utf-8')) / 1024:,.0f} KB, "
        f"{len(context['charts'])} charts) to {output}"
    )


def register(app: typer.Typer) -> None:
    app.command("report", epilog=EXAMPLES, rich_help_panel="Report")(report)
