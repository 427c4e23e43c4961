"""``loyalty retention``: acquisition cohorts, customer and revenue retention, repeat purchase rate."""

from __future__ import annotations

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
    handle_errors,
    load_transactions_checked,
    to_date,
    transaction_columns,
)
from loyalty_cli.cli.console import Output

if TYPE_CHECKING:
    import polars as pl

EXAMPLES = """
Examples:

  loyalty retention sample_data/transactions.csv

  loyalty retention orders.parquet --period quarter -o retention.csv --wide retention_wide.csv

  loyalty retention exports/ --show on --show within --horizon 6 --show cumulative --as-of 2024-07-01

  loyalty retention Online_Retail.csv --order-col InvoiceNo --repeat-window 60 --cohorts cohorts.csv
"""

# --show choices -> (metric of the long table, number format on a terminal)
SHOW = {
    "on": ("retention", "share"),
    "within": ("retention_within", "share"),
    "counts": ("active_customers", "count"),
    "revenue": ("revenue_retention", "revenue"),
    "cumulative": ("cumulative_revenue_per_customer", "money"),
}
AVERAGE_MEANS = {
    "share": "average = customer-weighted over complete cells",
    "count": "average row = sum over complete cells",
    "revenue": "average = revenue-weighted over complete cells",
    "money": "average = customer-weighted over complete cells",
}


def _format(value: object, kind: str) -> str:
    if value is None:
        return ""
    if kind in ("share", "revenue"):
        return f"{value:.1%}"
    if kind == "count":
        return f"{value:,.0f}"
    return f"{value:,.2f}"


def _heat(value: float, top: float) -> str:
    """A background from pale to deep green as value / top goes from 0 to 1."""
    x = 0.0 if top <= 0 else max(0.0, min(1.0, value / top))
    red, green, blue = (int(round(a + (b - a) * x)) for a, b in ((247, 35), (252, 139), (245, 69)))
    ink = "black" if x < 0.6 else "white"
    return f"{ink} on rgb({red},{green},{blue})"


def _show_matrix(
    out: Output,
    wide: pl.DataFrame,
    *,
    title: str,
    kind: str,
    to_stderr: bool,
    repeat: dict[str, float | None],
    window: int,
) -> None:
    """The cohort x period matrix: heat-coloured on a terminal, tab-separated when piped. Blank = not over."""
    import polars as pl
    from rich.markup import escape
    from rich.table import Table

    periods = [c for c in wide.columns if c not in ("cohort", "cohort_customers")]
    repeat_col = f"repeat_{window}d"
    wide = wide.with_columns(
        pl.col("cohort").replace_strict(repeat, default=None, return_dtype=pl.Float64).alias(repeat_col)
    ).select("cohort", "cohort_customers", repeat_col, *periods)
    console = out.err if to_stderr else out.out
    if not out.drawn(to_stderr=to_stderr):
        out.table(wide, title=title, to_stderr=to_stderr)
        return
    values = [v for c in periods[1:] for v in wide[c].to_list() if v is not None]
    top = max(values) if values else 0.0
    table = Table(title=escape(title), title_justify="left", header_style="bold")
    for name in wide.columns:
        table.add_column(escape(name), justify="left" if name == "cohort" else "right")
    for row in wide.iter_rows(named=True):
        cells = [escape(row["cohort"]), _format(row["cohort_customers"], "count"), _format(row[repeat_col], "share")]
        for i, name in enumerate(periods):
            value = row[name]
            text = _format(value, kind)
            if value is None or i == 0:
                cells.append(text)
            else:
                cells.append(f"[{_heat(value, top)}]{text}[/]")
        table.add_row(*cells, end_section=row["cohort"] == wide["cohort"][-2] if wide.height > 1 else False)
    console.print(table)


@handle_errors
@transaction_columns
def retention(
    inputs: opt.Inputs,
    output: opt.Output = None,
    fmt: opt.Format = None,
    as_of: opt.AsOf = None,
    period: Annotated[
        str,
        typer.Option(
            "--period", metavar="week|month|quarter", help="Cohort and period length: week, month or quarter."
        ),
    ] = "month",
    repeat_window: Annotated[
        int,
        typer.Option(
            "--repeat-window",
            help="Repeat purchase rate: a second purchase day within this many days of the "
            "first, among customers whose window has closed.",
        ),
    ] = 90,
    show: Annotated[
        list[str] | None,
        typer.Option(  # noqa: UP045
            "--show",
            metavar="MATRIX",
            help="Matrices to print: on (active in period k), within (active in any of the --horizon periods "
            "from k), counts, revenue (revenue retention), cumulative (revenue per acquired customer). "
            "Repeatable; default: on.",
        ),
    ] = None,
    horizon: Annotated[
        int | None,
        typer.Option(  # noqa: UP045
            "--horizon",
            help="Periods in the 'within' window: a customer counts in period k with a purchase in any of "
            "periods k .. k+N-1, and the cell is filled once period k+N-1 is over (then it never changes). "
            "Default: 13 weeks, 3 months or 2 quarters.",
            show_default=False,
        ),
    ] = None,
    wide: Annotated[
        Path | None,
        typer.Option(  # noqa: UP045
            "--wide",
            help="Also write every metric as a cohort x period matrix (stacked, with a metric column).",
            rich_help_panel=opt.OUTPUT,
        ),
    ] = None,
    cohorts: Annotated[
        Path | None,
        typer.Option(  # noqa: UP045
            "--cohorts",
            help="Also write one row per cohort: size, mature periods, period-0 revenue, repeat purchase rate.",
            rich_help_panel=opt.OUTPUT,
        ),
    ] = None,
    quiet: opt.Quiet = False,
    on_bad_rows: opt.OnBadRows = "error",
    rejects: opt.Rejects = None,
    tx: TransactionColumns = NO_COLUMN_OPTIONS,
) -> None:
    """Acquisition cohorts by first-purchase period: customers active in each later period ("on" period k,
    and "within" the --horizon periods from k), revenue retention, cumulative revenue per acquired customer,
    repeat purchase rate.

    Cells a cohort has not fully lived through by the as-of date are blank (null), never 0. The average row
    is customer-weighted over complete cells only, true zeros included. -o writes the long table (one row
    per cohort and period)."""

    from loyalty_cli.errors import UsageError
    from loyalty_cli.io.writers import write_table
    from loyalty_cli.metrics.retention import (
        ALL,
        AVERAGE,
        PREFIX,
        check_period,
        cohort_retention,
        cohort_table,
        label,
        repeat_rate,
        retention_wide,
        retention_wide_all,
    )

    out = Output(quiet=quiet)
    policy = check_bad_rows(on_bad_rows)
    period_name = check_period(period)
    if repeat_window < 1:
        raise UsageError(f"--repeat-window must be at least 1 day, got {repeat_window}")
    if horizon is not None and horizon < 1:
        raise UsageError(f"--horizon must be at least 1 {period_name}, got {horizon}")
    shown = show or ["on"]
    unknown = [s for s in shown if s not in SHOW]
    if "on-or-after" in unknown:
        raise UsageError(
            "--show 'on-or-after' is gone: an open-ended 'on or after' cell changes with every later purchase",
            hint="Use --show within: a purchase in any of the --horizon periods from k, final once they are over.",
        )
    if unknown:
        raise UsageError(f"--show {unknown[0]!r} is not a matrix", hint=f"Use {', '.join(SHOW)}.")
    check_output(output, fmt, example="retention.parquet")
    check_table_path(wide, "--wide")
    check_table_path(cohorts, "--cohorts")
    options = tx.read_options(out)
    loaded = load_transactions_checked(
        inputs, options, as_of=to_date(as_of), policy=policy, rejects=rejects, output=output, out=out, activity=True
    )
    customers, activity = loaded.customers, loaded.activity
    assert activity is not None
    # The long table is collected first: built again inside one collect_all with the cohort table, its plan
    # was evaluated twice (1M lines: 27 s against 16 s before 'within'; collected first, the cohort table
    # takes under a second).
    long_df = cohort_retention(customers.lazy(), activity.lazy(), period=period_name, horizon=horizon).collect()
    repeat = repeat_rate(customers.lazy(), window_days=repeat_window, period=period_name)
    cohort_df = cohort_table(long_df.lazy(), repeat).collect()
    all_row = cohort_df.row(cohort_df.height - 1, named=True)
    assert all_row["cohort"] == ALL
    n_cohorts = cohort_df.height - 1
    as_of_day = long_df["as_of"][0]
    within = long_df["horizon"][0]
    out.note(
        f"As of {as_of_day} (data before that day); {words.count(all_row['customers'], 'customer')} in "
        f"{words.count(n_cohorts, f'{period_name}ly cohort')}; blank cells: periods not over yet (never counted as 0)"
    )
    if "within" in shown:
        out.note(
            f"Within: a purchase in any of the {words.count(within, period_name)} from k; a cell is blank until "
            f"its last {period_name} (k+{within - 1}) is over"
        )
    rate = all_row["repeat_rate"]
    out.note(
        f"Repeat purchase rate within {words.count(repeat_window, 'day')} of the first purchase: "
        + (
            f"{rate:.1%} ({all_row['repeat_customers']:,} of {words.count(all_row['window_closed'], 'customer')} "
            f"whose {words.count(repeat_window, 'day')} are over)"
            if rate is not None
            else f"none yet (no customer's {words.count(repeat_window, 'day')} are over)"
        )
    )

    if output:
        written = write_table(long_df, output, fmt=fmt)
        if written:
            out.note(
                f"Wrote {words.count(long_df.height, 'row')} (cohort x period, then the average rows) to {written}"
            )
    if wide is not None:
        write_table(retention_wide_all(long_df, period=period_name), wide)
        out.note(f"Wrote the cohort x period matrices to {wide}")
    if cohorts is not None:
        write_table(cohort_df, cohorts)
        out.note(f"Wrote {words.count(n_cohorts, 'cohort')} to {cohorts}")
    to_stderr = output == "-"
    if output and out.quiet:
        return
    repeat = dict(zip(cohort_df["cohort"].to_list(), cohort_df["repeat_rate"].to_list(), strict=True))
    repeat[AVERAGE] = repeat.pop(ALL, None)
    unit = PREFIX[period_name]
    for name in shown:
        metric, kind = SHOW[name]
        _show_matrix(
            out,
            retention_wide(long_df, metric, period=period_name),
            kind=kind,
            to_stderr=to_stderr,
            title=f"{label(metric, horizon=within, period=period_name)} ({unit}0 = first-purchase {period_name}; "
            f"as of {as_of_day}; "
            f"{AVERAGE_MEANS[kind]}; blank = not over yet)",
            repeat=repeat,
            window=repeat_window,
        )


def register(app: typer.Typer) -> None:
    app.command("retention", epilog=EXAMPLES, rich_help_panel="Analyse")(retention)
