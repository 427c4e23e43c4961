"""``loyalty uplift``: did a campaign work? Treatment vs control over a window after the campaign start."""

from __future__ import annotations

from datetime import datetime, timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Annotated  # noqa: UP035

import typer

from loyalty_cli import words
from loyalty_cli.cli import options as opt
from loyalty_cli.cli.common import (
    NO_COLUMN_OPTIONS,
    TransactionColumns,
    check_bad_rows,
    check_output,
    check_table_path,
    describe_scan,
    handle_errors,
    note_left_out,
    rejects_path,
    to_date,
    transaction_columns,
    write_rejects,
)
from loyalty_cli.cli.console import Output
from loyalty_cli.errors import DataError, UsageError

if TYPE_CHECKING:
    import polars as pl

    from loyalty_cli.metrics.uplift import UpliftConfig

EXAMPLES = """
Examples (the lists first, as of the campaign start; then, once the orders cover the window, the uplift):

  loyalty segment orders.csv --as-of 2024-10-01 --segment "At Risk" --holdout-share 0.1 --seed at-risk-2024-10 \\
    -o at_risk.csv

  loyalty uplift orders.csv --treatment at_risk.csv --control at_risk.control.csv --start 2024-10-01

  loyalty uplift orders.csv --manifest at_risk.manifest.json --start 2024-10-01 --window 60d -o uplift.csv

  loyalty uplift orders.csv --groups campaign.csv --group-col group --start 2024-10-01 --by none
"""

LISTS = "Lists"


def _read_groups(
    treatment: list[str] | None,
    control: list[str] | None,
    groups: list[str] | None,
    manifest: Path | None,
    *,
    id_col: str | None,
    group_col: str,
    by: str | None,
    out: Output,
) -> pl.DataFrame:
    """``customer_id, group`` (+ ``segment``): one row per customer, each in one group."""
    from loyalty_cli.handoff.readback import check_manifest, manifest_files, read_groups

    given = sum(x is not None for x in (groups, manifest)) + (treatment is not None or control is not None)
    if given != 1:
        raise UsageError(
            "Give the lists as --treatment and --control, or --groups, or --manifest (one of them)",
            hint="e.g. --treatment at_risk.csv --control at_risk.control.csv",
        )
    if manifest is not None:
        treatment, control = manifest_files(manifest)
        out.note(check_manifest(manifest))
    if groups is None and (not treatment or not control):
        raise UsageError(
            "--treatment needs --control (and the other way round)",
            hint="The control list is the one written to NAME.control.csv by --holdout-share.",
        )
    rows, repeated = read_groups(
        treatment=treatment, control=control, groups=groups, id_col=id_col, group_col=group_col, by=by
    )
    if repeated:
        out.note(f"{words.count(repeated, 'repeated row')} in the lists counted once")
    return rows


def _verdict_lines(row: dict, config: UpliftConfig, window: str) -> list[str]:
    conf = f"{config.confidence:.0%} CI"
    lines = []
    if row["repurchase_diff"] is not None:
        lines.append(
            f"Repurchase within {window}: treatment {row['treatment_repurchase_rate']:.1%} of "
            f"{row['treatment_customers']:,}, control {row['control_repurchase_rate']:.1%} of "
            f"{row['control_customers']:,}: {row['repurchase_diff'] * 100:+.1f} points ({conf} "
            f"{row['repurchase_diff_low'] * 100:+.1f} to {row['repurchase_diff_high'] * 100:+.1f}), "
            f"p = {row['repurchase_p_value']:.3g}: {row['repurchase_verdict']}"
        )
    if row["revenue_diff"] is not None:
        ci = (
            f" ({conf} {row['revenue_diff_low']:+,.2f} to {row['revenue_diff_high']:+,.2f}), "
            f"p = {row['revenue_p_value']:.3g}"
            if row["revenue_p_value"] is not None
            else ""
        )
        lines.append(
            f"Revenue per customer within {window}: treatment {row['treatment_revenue_per_customer']:,.2f}, control "
            f"{row['control_revenue_per_customer']:,.2f}: {row['revenue_diff']:+,.2f}{ci}: {row['revenue_verdict']}"
        )
        if row["revenue_verdict"].startswith("treatment"):
            n = row["treatment_customers"]
            lines.append(
                f"Incremental revenue: about {row['incremental_revenue']:+,.2f} ({conf} "
                f"{row['revenue_diff_low'] * n:+,.2f} to {row['revenue_diff_high'] * n:+,.2f}) from "
                f"{words.count(n, 'treated customer')}"
            )
    return lines


def _show(out: Output, table: pl.DataFrame, *, to_stderr: bool, by: bool) -> None:
    import polars as pl

    drop = [] if by else ["segment"]
    rate = table.select(
        "segment",
        pl.col("treatment_customers").alias("treated"),
        pl.col("control_customers").alias("control"),
        pl.col("treatment_repurchase_rate").alias("rate_treated"),
        pl.col("control_repurchase_rate").alias("rate_control"),
        pl.col("repurchase_diff").alias("diff"),
        pl.col("repurchase_diff_low").alias("ci_low"),
        pl.col("repurchase_diff_high").alias("ci_high"),
        pl.col("repurchase_p_value").alias("p_value"),
        pl.col("repurchase_verdict").alias("verdict"),
    )
    pct = {c: ".1%" for c in ("rate_treated", "rate_control", "diff", "ci_low", "ci_high")}
    out.table(
        rate.drop(drop),
        title="Repurchase rate (share of customers with a purchase in the window)",
        formats={**pct, "p_value": ".3g"},
        to_stderr=to_stderr,
    )
    revenue = table.select(
        "segment",
        pl.col("treatment_customers").alias("treated"),
        pl.col("control_customers").alias("control"),
        pl.col("treatment_revenue_per_customer").alias("per_treated"),
        pl.col("control_revenue_per_customer").alias("per_control"),
        pl.col("revenue_diff").alias("diff"),
        pl.col("revenue_diff_low").alias("ci_low"),
        pl.col("revenue_diff_high").alias("ci_high"),
        pl.col("revenue_p_value").alias("p_value"),
        pl.col("revenue_verdict").alias("verdict"),
    )
    out.table(
        revenue.drop(drop),
        title="Net revenue per customer in the window (every customer, zeros included)",
        formats={"p_value": ".3g"},
        to_stderr=to_stderr,
    )


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
    import polars as pl

    from loyalty_cli.cli.common import parse_days
    from loyalty_cli.io.readers import read_transactions
    from loyalty_cli.io.validate import collect_checked
    from loyalty_cli.io.writers import write_table
    from loyalty_cli.metrics.uplift import (
        ALL,
        UpliftConfig,
        campaign_outcomes,
        group_stats,
        uplift_table,
        uplift_warnings,
        window_coverage,
    )
    from loyalty_cli.stage1.customers import customer_activity

    out = Output(quiet=quiet)
    policy = check_bad_rows(on_bad_rows)
    days = parse_days(window, "--window", minimum=1)
    config = UpliftConfig(start=start.date(), window_days=days, confidence=confidence, power=power, min_n=min_n)
    check_output(output, fmt, example="uplift.csv")
    check_table_path(outcomes_path, "--outcomes")
    lists = _read_groups(treatment, control, groups, manifest, id_col=list_id_col, group_col=group_col, by=by, out=out)
    segment = "segment" if "segment" in lists.columns else None
    options = tx.read_options(out)
    given_as_of = to_date(as_of)
    scan = read_transactions(inputs, options, as_of=given_as_of)
    describe_scan(scan, out)
    activity = customer_activity(scan.rows).join(lists.lazy().select("customer_id"), on="customer_id", how="semi")
    last = scan.rows.select(pl.col("order_date").max().dt.date().alias("last"))
    with out.status("Reading transactions ..."):
        (activity_df, last_df), rejected = collect_checked(
            [scan],
            [activity, last],  # type: ignore[arg-type]
            on_bad_rows=policy,
        )
    note_left_out([scan], out)
    if policy == "skip":
        write_rejects(rejected, rejects_path(rejects, output), out)
    last_day = last_df["last"][0]
    if last_day is None:
        raise DataError(
            "No transactions in " + ", ".join(str(p) for p in scan.paths[:3]),
            hint="Check the date and amount columns, and --as-of.",
        )
    end_of_data = given_as_of or last_day + timedelta(days=1)
    complete, observed = window_coverage(config, end_of_data)
    if observed == 0:
        raise DataError(
            f"The transactions end before the campaign start {config.start} (as of {end_of_data})",
            hint="Use an export that covers the days after the campaign start, or check --start.",
        )
    last_window_day = config.end - timedelta(days=1)
    label = f"{words.count(days, 'day')} ({config.start} to {last_window_day})"
    if not complete:
        out.warn(
            f"The window has not ended: the data (as of {end_of_data}) covers {observed} of its "
            f"{words.count(days, 'day')}. Results are partial; rerun after {last_window_day} for the full window"
        )
    seen = activity_df["customer_id"].n_unique()
    if seen == 0:
        out.warn(
            f"None of the {words.count(lists.height, 'customer')} of the lists appear in the transactions: check "
            "that the lists' customer ids match the transactions' customer column"
        )
    else:
        out.note(f"{seen:,} of {words.count(lists.height, 'list customer')} have orders in the transactions")
    outcomes = campaign_outcomes(activity_df.lazy(), lists.lazy(), start=config.start, end=config.end).collect()
    stats_table = group_stats(outcomes.lazy(), by=segment).collect()
    table = uplift_table(stats_table, config).with_columns(
        pl.lit(config.start).alias("window_start"),
        pl.lit(last_window_day).alias("window_end"),
        pl.lit(observed).alias("window_days_observed"),
        pl.lit(complete).alias("window_complete"),
    )
    overall = table.filter(pl.col("segment") == ALL).row(0, named=True)
    out.note(
        f"Window: {label}, as of {end_of_data}; {overall['treatment_customers']:,} treated, "
        f"{words.count(overall['control_customers'], 'control customer')}"
    )
    for line in _verdict_lines(overall, config, words.count(days, "day")):
        out.note(line, force=True)
    for warning in uplift_warnings(table, stats_table, config):
        out.warn(warning)
    if segment:
        small = table.filter((pl.col("segment") != ALL) & (pl.col("repurchase_verdict") == "too few customers"))
        if small.height:
            out.note(
                f"{words.count(small.height, 'segment')} with fewer than --min-n {words.count(min_n, 'customer')} "
                "in a group left empty"
            )
    if output:
        written = write_table(table, output, fmt=fmt)
        if written:
            out.note(f"Wrote the uplift table ({words.count(table.height, 'row')}) to {written}")
    if outcomes_path is not None:
        write_table(outcomes.sort("group", "customer_id", descending=[True, False]), outcomes_path)
        out.note(f"Wrote {words.count(outcomes.height, 'customer outcome')} to {outcomes_path}")
    if output and out.quiet:
        return
    _show(out, table, to_stderr=output == "-", by=segment is not None)


def register(app: typer.Typer) -> None:
    app.command("uplift", epilog=EXAMPLES, rich_help_panel="Analyse")(uplift)
