"""``loyalty retention``: acquisition cohorts, customer and revenue retention, repeat purchase rate."""

from __future__ import annotations

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
    transaction_columns,
)
from loyalty_cli.cli.console import Output

if TYPE_CHECKING:
    import polars as pl

    from loyalty_cli.app.inputs import Inputs
    from loyalty_cli.app.messages import Messages
    from loyalty_cli.app.retention import RetentionConfig, RetentionResult

EXAMPLES = """
Examples:

  loyalty retention sample_data/transactions.csv

  loyalty retention orders.parquet --period quarter -o retention.csv --wide retention_wide.csv

  loyalty retention exports/ --show on --show within --horizon 6 --show cumulative --as-of 2024-07-01

  loyalty retention Online_Retail.csv --order-col InvoiceNo --repeat-window 60 --cohorts cohorts.csv
"""

# --show choices -> number format on a terminal (the metric of each: loyalty_cli.app.retention.MATRICES)
KINDS = {"on": "share", "within": "share", "counts": "count", "revenue": "revenue", "cumulative": "money"}
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

    execute(COMMAND, flat(locals()), Output(quiet=quiet))


def _shown(options: Options) -> tuple[str, ...]:
    return tuple(options["show"] or ("on",))


def _configure(options: Options) -> RetentionConfig:
    from loyalty_cli.app.retention import RetentionConfig

    check_bad_rows(options["on_bad_rows"])
    config = RetentionConfig(
        period=options["period"],
        repeat_window=options["repeat_window"],
        horizon=options["horizon"],
        show=_shown(options),
    )
    check_output(options["output"], options["fmt"], example="retention.parquet")
    check_table_path(options["wide"], "--wide")
    check_table_path(options["cohorts"], "--cohorts")
    return config


def _deliver(result: RetentionResult, options: Options, out: Output) -> list[Path]:
    from loyalty_cli.io.writers import write_table

    output, wide, cohorts = options["output"], options["wide"], options["cohorts"]
    files: list[Path] = []
    if output:
        written = write_table(result.long, output, fmt=options["fmt"])
        if written:
            out.note(
                f"Wrote {words.count(result.long.height, 'row')} (cohort x period, then the average rows) to {written}"
            )
            files.append(Path(written))
    if wide is not None:
        write_table(result.wide(), wide)
        out.note(f"Wrote the cohort x period matrices to {wide}")
        files.append(Path(wide))
    if cohorts is not None:
        write_table(result.cohorts, cohorts)
        out.note(f"Wrote {words.count(result.cohort_count, 'cohort')} to {cohorts}")
        files.append(Path(cohorts))
    if not (output and out.quiet):
        _show(result, _shown(options), out, to_stderr=output == "-")
    return files


def _show(result: RetentionResult, shown: tuple[str, ...], out: Output, *, to_stderr: bool) -> None:
    from loyalty_cli.app.retention import MATRICES
    from loyalty_cli.metrics.retention import PREFIX, label

    period = result.period
    for name in shown:
        metric, kind = MATRICES[name], KINDS[name]
        _show_matrix(
            out,
            result.matrices[name],
            kind=kind,
            to_stderr=to_stderr,
            title=f"{label(metric, horizon=result.horizon, period=period)} ({PREFIX[period]}0 = first-purchase "
            f"{period}; as of {result.as_of}; {AVERAGE_MEANS[kind]}; blank = not over yet)",
            repeat=result.repeat,
            window=result.repeat_window,
        )


COMMAND = Command(
    name="retention",
    configure=_configure,
    inputs=lambda options, config, out: transaction_spec(options, out, activity=True),
    compute=lambda inputs, config, messages: _compute(inputs, config, messages),
    deliver=_deliver,
)


def _compute(inputs: Inputs, config: RetentionConfig, messages: Messages) -> RetentionResult:
    from loyalty_cli.app.retention import retention as retention_tables

    return retention_tables(inputs, config, messages)


def register(app: typer.Typer) -> None:
    app.command("retention", epilog=EXAMPLES, rich_help_panel="Analyse")(retention)
