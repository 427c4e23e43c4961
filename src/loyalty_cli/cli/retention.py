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
    from rich.console import Console

    from loyalty_cli.app.inputs import InputSpec
    from loyalty_cli.app.retention import RetentionConfig, RetentionResult

EXAMPLES = """
Examples:

  loyalty retention sample_data/transactions.csv

  loyalty retention orders.parquet --period quarter -o retention.csv --wide retention_wide.csv

  loyalty retention exports/ --show on --show within --horizon 6 --show cumulative --as-of 2024-07-01

  loyalty retention Online_Retail.csv --order-col InvoiceNo --repeat-window 60 --cohorts cohorts.csv

  loyalty retention orders.csv --by first_channel --show on --show cumulative -o retention_by_channel.csv

  loyalty retention orders.csv --by member --members members.csv --min-customers 50
"""

#: --show choice -> the number format of its cells on a terminal and what its average row is (the metric of
#: each: loyalty_cli.app.retention.MATRICES). The shares are drawn in percent without the sign, which the title
#: gives: the matrix is wide.
STYLES = {
    "on": ("{:.1f}", "average = customer-weighted"),
    "within": ("{:.1f}", "average = customer-weighted"),
    "counts": (",.0f", "average row = sum"),
    "revenue": ("{:.1f}", "average = revenue-weighted"),
    "cumulative": (",.2f", "average = customer-weighted"),
}
#: the cohorts a drawn matrix shows at most, the most recent (then the average row): two years of months
DRAWN_COHORTS = 24


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
    by=opt.o(
        "Split by acquisition: first_category, first_channel, first_product (of the first purchase order: its "
        "largest line's), member (enrolled at the as-of date; needs --members), or another transactions column "
        "(its first-order value, e.g. product_name). Prints one split x period matrix per --show (each group's "
        "average cohort, then all customers); -o and --wide write the split tables.",
        "COLUMN",
        show_default=False,
    ),
    min_customers=opt.o(
        "With --by: groups with fewer customers are folded into one (other) group. Default: 30.",
        show_default=False,
    ),
    members=opt.o(
        "With --by member: the members export (customer_id, enrolled_at), as for loyalty program (repeatable).",
        "FILE",
        show_default=False,
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
    by: str | None = None,
    min_customers: int | None = None,
    members: list[str] | None = None,
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
    per cohort and period).

    --by splits every cohort by how customers were acquired (first category, channel or product, membership):
    the same figures per group, groups below --min-customers folded into (other)."""
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
    if config.needs_members and not options.get("members"):
        from loyalty_cli.errors import UsageError

        raise UsageError("--by member needs --members FILE", hint="e.g. --by member --members sample_data/members.csv")
    return config


def _inputs(options: command.Options, config: RetentionConfig, out: Output) -> InputSpec:
    """The transactions with their activity table, the split's plan over the lines when it needs one, and the
    members file only when the split is by membership (a pipeline may give it to every retention step)."""
    given = list(options.get("members") or ())
    if given and not config.needs_members:
        out.warn("--members is not used: it is read for --by member only")
    members = given if config.needs_members else []
    spec = command.transaction_spec(options, out, activity=True, lines=config.lines(), members=members)
    return with_split_column(spec, config)


def with_split_column(spec: InputSpec, config: RetentionConfig) -> InputSpec:
    """``spec`` with the split's transactions column carried along by the reader when the split reads one from
    the lines (the reader keeps only the columns it maps: ``--by promo`` needs ``promo`` kept)."""
    from dataclasses import replace

    from loyalty_cli.app.retention_split import split_column

    column = split_column(config.by) if config.by is not None else None
    if column is None or column in spec.options.keep:
        return spec
    return replace(spec, options=replace(spec.options, keep=(*spec.options.keep, column)))


def _deliver(result: RetentionResult, options: command.Options, out: Output) -> list[Path]:
    output, split = options["output"], result.split
    rows = words.count(result.table.height, "row")
    what = f"{rows} (cohort x period, then the average rows)"
    if split is not None:
        what = f"{rows} ({split.by} x cohort x period, each group's average rows, then all customers')"
    files = command.write_output(result.table, options, what, out)
    if options["wide"] is not None:
        matrices = "the cohort x period matrices" + (f" by {split.by}" if split is not None else "")
        files += command.write_file(result.wide(), options["wide"], matrices, out)
    files += command.write_file(result.cohorts, options["cohorts"], words.count(result.cohort_count, "cohort"), out)
    if not (output and out.quiet):
        if split is not None:
            _show_split(result, _shown(options), out, to_stderr=output == "-")
        else:
            _show(result, _shown(options), out, to_stderr=output == "-")
    return files


def _show(result: RetentionResult, shown: tuple[str, ...], out: Output, *, to_stderr: bool) -> None:
    """Each matrix asked for: heat-coloured on a terminal, tab-separated when piped. Blank = not over."""
    from loyalty_cli.app.retention import MATRICES
    from loyalty_cli.metrics.retention import PREFIX, label

    period = result.period
    for name in shown:
        fmt, average = STYLES[name]
        drawn = out.drawn(to_stderr=to_stderr)
        title = (
            f"{label(MATRICES[name], horizon=result.horizon, period=period)}{', %' if drawn and '{' in fmt else ''} "
            f"({PREFIX[period]}0 = first-purchase {period}; as of {result.as_of}; {average} over complete cells; "
            "blank = not over yet)"
        )
        matrix = result.matrix(name)
        if drawn:
            _draw(matrix, title, fmt, out.console(to_stderr=to_stderr))
        else:
            out.table(matrix, title=title, to_stderr=to_stderr)


def _show_split(result: RetentionResult, shown: tuple[str, ...], out: Output, *, to_stderr: bool) -> None:
    """Each matrix asked for, split: one row per group (its average cohort), then all customers."""
    from loyalty_cli.app.retention import MATRICES
    from loyalty_cli.metrics.retention import PREFIX, label

    split, period = result.split, result.period
    assert split is not None
    for name in shown:
        fmt, average = STYLES[name]
        drawn = out.drawn(to_stderr=to_stderr)
        title = (
            f"{label(MATRICES[name], horizon=result.horizon, period=period)}{', %' if drawn and '{' in fmt else ''} "
            f"by {split.by} ({PREFIX[period]}0 = first-purchase {period}; as of {result.as_of}; each row: the group's "
            f"cohorts pooled, {average} over complete cells; blank = not over yet)"
        )
        if drawn:  # one label per row (a data value spelt like a made-up group's label quoted)
            _draw(split.labelled(name), title, fmt, out.console(to_stderr=to_stderr), rows_of=split.by)
        else:  # the data values as they are, and what each row is
            out.table(split.matrices[name], title=title, to_stderr=to_stderr)


def _draw(matrix: pl.DataFrame, title: str, fmt: str, console: Console, *, rows_of: str = "cohort") -> None:
    """The matrix drawn to fit the terminal: the most recent :data:`DRAWN_COHORTS` cohorts and the average row
    (``rows_of``: the split column of a split matrix, without a repeat rate: the largest groups and the ``all``
    row), the periods from 0 that fit, periods 1 on coloured from pale to deep green as their value goes from 0
    to the highest; then a line naming what was left out and where the whole matrix is written."""
    import polars as pl
    from rich.table import Table
    from rich.text import Text

    from loyalty_cli.cli.console import cell_len, printable, table_width

    percent = "{" in fmt

    def text(value: float | None) -> str:
        return "" if value is None else fmt.format(100 * value) if percent else format(value, fmt)

    grouped = rows_of != "cohort"
    if grouped:  # the largest groups first, then all customers
        rows = pl.concat([matrix.head(min(matrix.height - 1, DRAWN_COHORTS)), matrix.tail(1)])
        label, size, *periods = matrix.columns
        repeats: list[str] = []
    else:
        rows = matrix.tail(DRAWN_COHORTS + 1)
        label, size, repeat, *periods = matrix.columns
        repeats = [repeat]
    cells = {
        label: [printable(c) for c in rows[label]],
        size: ["" if v is None else f"{v:,.0f}" for v in rows[size]],
        **{r: ["" if v is None else f"{100 * v:.1f}" if percent else f"{v:.1%}" for v in rows[r]] for r in repeats},
    }
    headers = {label: rows_of, size: "customers", **{r: r.replace("_", " ") for r in repeats}}
    for name in periods:
        cells[name], headers[name] = [text(v) for v in rows[name]], name

    def width(name: str) -> int:  # no header word and no cell cut
        return max([*map(cell_len, headers[name].split()), *map(cell_len, cells[name])])

    fixed = [label, size, *repeats]
    widths = [width(name) for name in fixed]
    for name in periods:
        if table_width([*widths, width(name)]) > console.width:
            break
        widths.append(width(name))
    kept = periods[: len(widths) - len(fixed)]
    for repeat in repeats:  # its header on one line when it fits
        if table_width(widths) - widths[2] + cell_len(headers[repeat]) <= console.width:
            widths[2] = max(widths[2], cell_len(headers[repeat]))
    top = max((v for k in kept[1:] for v in rows[k] if v is not None), default=0.0)

    def heated(value: float | None, shown: str) -> Text:
        if value is None:
            return Text("")
        x = 0.0 if top <= 0 else max(0.0, min(1.0, value / top))
        rgb = ",".join(str(round(a + (b - a) * x)) for a, b in ((247, 35), (252, 139), (245, 69)))
        return Text(shown, style=f"{'black' if x < 0.6 else 'white'} on rgb({rgb})")

    table = Table(header_style="bold")
    for name, columns in zip([*fixed, *kept], widths, strict=True):
        table.add_column(Text(headers[name]), justify="left" if name == label else "right", width=columns)
    for i in range(rows.height):
        values = [Text(cells[name][i]) for name in fixed]
        values += [heated(rows[k][i], cells[k][i]) if j else Text(cells[k][i]) for j, k in enumerate(kept)]
        table.add_row(*values, end_section=i == rows.height - 2)
    console.print(Text(printable(title), style="table.title"), soft_wrap=False)
    console.print(table)
    left = []
    if len(kept) < len(periods):
        gone = periods[len(kept)]
        left.append(f"periods {gone}-{periods[-1]}" if gone != periods[-1] else f"period {gone}")
    if matrix.height > rows.height and grouped:
        left.append(f"the {words.count(matrix.height - rows.height, 'smaller group')} after {cells[label][-2]}")
    elif matrix.height > rows.height:
        left.append(f"the {words.count(matrix.height - rows.height, 'cohort')} before {cells[label][0]}")
    if left:
        note = f"Not shown, to fit {console.width} columns: {' and '.join(left)}; -o FILE or --wide FILE writes the "
        console.print(Text(note + "whole matrix.", style="dim"), soft_wrap=False)


COMMAND = command.Command(
    name="retention",
    configure=_configure,
    inputs=_inputs,
    compute=command.app_function("retention"),
    deliver=_deliver,
    rejects=command.rejects_of("transactions", "members"),
)
