"""``loyalty retention``: acquisition cohorts, customer and revenue retention, repeat purchase rate."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

from loyalty_cli import words
from loyalty_cli.cli import command, common
from loyalty_cli.cli import options as opt
from loyalty_cli.cli.console import Output

if TYPE_CHECKING:
    import polars as pl
    from rich.table import Table

    from loyalty_cli.app.retention import RetentionConfig, RetentionResult

EXAMPLES = """
Examples:

  loyalty retention sample_data/transactions.csv

  loyalty retention orders.parquet --period quarter -o retention.csv --wide retention_wide.csv

  loyalty retention exports/ --show on --show within --horizon 6 --show cumulative --as-of 2024-07-01

  loyalty retention Online_Retail.csv --order-col InvoiceNo --repeat-window 60 --cohorts cohorts.csv
"""

#: --show choice -> the number format of its cells on a terminal and what its average row is (the metric of
#: each: loyalty_cli.app.retention.MATRICES)
STYLES = {
    "on": (".1%", "average = customer-weighted"),
    "within": (".1%", "average = customer-weighted"),
    "counts": (",.0f", "average row = sum"),
    "revenue": (".1%", "average = revenue-weighted"),
    "cumulative": (",.2f", "average = customer-weighted"),
}


@common.handle_errors
@common.transaction_columns
@opt.declare(
    period=opt.o("Cohort and period length: week, month or quarter.", "week|month|quarter"),
    repeat_window=opt.o(
        "Repeat purchase rate: a second purchase day within this many days of the first, among customers whose "
        "window has closed."
    ),
    show=opt.o(
        "Matrices to print: on (active in period k), within (active in any of the --horizon periods from k), "
        "counts, revenue (revenue retention), cumulative (revenue per acquired customer). Repeatable; default: on.",
        "MATRIX",
    ),
    horizon=opt.o(
        "Periods in the 'within' window: a customer counts in period k with a purchase in any of periods k .. "
        "k+N-1, and the cell is filled once period k+N-1 is over (then it never changes). Default: 13 weeks, 3 "
        "months or 2 quarters."
    ),
    wide=opt.o(
        "Also write every metric as a cohort x period matrix (stacked, with a metric column).", panel=opt.OUTPUT
    ),
    cohorts=opt.o(
        "Also write one row per cohort: size, mature periods, period-0 revenue, repeat purchase rate.", panel=opt.OUTPUT
    ),
)
def retention(
    inputs: opt.Inputs,
    output: opt.Output = None,
    fmt: opt.Format = None,
    as_of: opt.AsOf = None,
    period: str = "month",
    repeat_window: int = 90,
    show: list[str] | None = None,
    horizon: int | None = None,
    wide: Path | None = None,
    cohorts: Path | None = None,
    quiet: opt.Quiet = False,
    on_bad_rows: opt.OnBadRows = "error",
    rejects: opt.Rejects = None,
    tx: common.TransactionColumns = common.NO_COLUMN_OPTIONS,
) -> None:
    """Acquisition cohorts by first-purchase period: customers active in each later period ("on" period k,
    and "within" the --horizon periods from k), revenue retention, cumulative revenue per acquired customer,
    repeat purchase rate.

    Cells a cohort has not fully lived through by the as-of date are blank (null), never 0. The average row
    is customer-weighted over complete cells only, true zeros included. -o writes the long table (one row
    per cohort and period)."""
    command.execute(COMMAND, command.flat(locals()), Output(quiet=quiet))


def _shown(options: command.Options) -> tuple[str, ...]:
    return tuple(options["show"] or ("on",))


def _configure(options: command.Options) -> RetentionConfig:
    from loyalty_cli.app.retention import RetentionConfig

    common.check_bad_rows(options["on_bad_rows"])
    config = command.config_of(RetentionConfig, options, show=_shown(options))
    common.check_output(options["output"], options["fmt"], example="retention.parquet")
    for name in ("wide", "cohorts"):
        common.check_table_path(options[name], f"--{name}")
    return config


def _deliver(result: RetentionResult, options: command.Options, out: Output) -> list[Path]:
    output, rows = options["output"], words.count(result.long.height, "row")
    files = command.write_output(result.long, options, f"{rows} (cohort x period, then the average rows)", out)
    if options["wide"] is not None:
        files += command.write_file(result.wide(), options["wide"], "the cohort x period matrices", out)
    files += command.write_file(result.cohorts, options["cohorts"], words.count(result.cohort_count, "cohort"), out)
    if not (output and out.quiet):
        _show(result, _shown(options), out, to_stderr=output == "-")
    return files


def _show(result: RetentionResult, shown: tuple[str, ...], out: Output, *, to_stderr: bool) -> None:
    """Each matrix asked for: heat-coloured on a terminal, tab-separated when piped. Blank = not over."""
    from loyalty_cli.app.retention import MATRICES
    from loyalty_cli.metrics.retention import PREFIX, label

    period = result.period
    for name in shown:
        fmt, average = STYLES[name]
        title = (
            f"{label(MATRICES[name], horizon=result.horizon, period=period)} ({PREFIX[period]}0 = first-purchase "
            f"{period}; as of {result.as_of}; {average} over complete cells; blank = not over yet)"
        )
        matrix = result.matrix(name)
        if out.drawn(to_stderr=to_stderr):
            (out.err if to_stderr else out.out).print(_heat_table(matrix, title, fmt))
        else:
            out.table(matrix, title=title, to_stderr=to_stderr)


def _heat_table(matrix: pl.DataFrame, title: str, fmt: str) -> Table:
    """The matrix drawn, periods 1 on coloured from pale to deep green as their value goes from 0 to the highest."""
    from rich.markup import escape
    from rich.table import Table

    top = max((v for c in matrix.columns[4:] for v in matrix[c] if v is not None), default=0.0)

    def text(value: object, spec: str = fmt) -> str:
        return "" if value is None else format(value, spec)

    def heated(value: float) -> str:
        x = 0.0 if top <= 0 else max(0.0, min(1.0, value / top))
        rgb = ",".join(str(round(a + (b - a) * x)) for a, b in ((247, 35), (252, 139), (245, 69)))
        return f"[{'black' if x < 0.6 else 'white'} on rgb({rgb})]{text(value)}[/]"

    table = Table(title=escape(title), title_justify="left", header_style="bold")
    for name in matrix.columns:
        table.add_column(escape(name), justify="left" if name == "cohort" else "right")
    for i, (cohort, customers, repeat, *cells) in enumerate(matrix.iter_rows()):
        periods = [text(v) if v is None or k == 0 else heated(v) for k, v in enumerate(cells)]
        table.add_row(
            escape(cohort), text(customers, ",.0f"), text(repeat, ".1%"), *periods, end_section=i == matrix.height - 2
        )
    return table


COMMAND = command.Command(
    name="retention",
    configure=_configure,
    inputs=lambda options, config, out: command.transaction_spec(options, out, activity=True),
    compute=command.app_function("retention"),
    deliver=_deliver,
)
