"""``loyalty segment``: RFM scores and named segments per customer."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Annotated  # noqa: UP035

import typer

from loyalty_cli import words
from loyalty_cli.cli import options as opt
from loyalty_cli.cli.command import Command, Options, execute, flat, transaction_spec
from loyalty_cli.cli.common import (
    NO_COLUMN_OPTIONS,
    NO_LIST_OPTIONS,
    ListOptions,
    TransactionColumns,
    check_bad_rows,
    check_output,
    check_table_path,
    handle_errors,
    list_options,
    list_spec,
    transaction_columns,
)
from loyalty_cli.cli.console import Output

if TYPE_CHECKING:
    from loyalty_cli.app.inputs import Inputs
    from loyalty_cli.app.messages import Messages
    from loyalty_cli.app.segment import SegmentConfig, SegmentResult

EXAMPLES = """
Examples:

  loyalty segment sample_data/transactions.csv

  loyalty segment orders.parquet -o segments.csv --as-of 2024-07-01

  loyalty segment exports/ --segment "At Risk" --segment "Can't Lose Them" -o winback.csv

  loyalty segment Online_Retail.csv --customer-col CustomerID --order-col InvoiceNo --on-bad-rows skip
"""


def _parse_breaks(values: list[str] | None) -> dict[str, list[float]]:
    from loyalty_cli.errors import UsageError

    breaks: dict[str, list[float]] = {}
    for item in values or []:
        dim, sep, cuts = item.partition("=")
        try:
            if not sep:
                raise ValueError
            breaks[dim.strip().lower()] = [float(c) for c in cuts.split(",") if c.strip()]
        except ValueError:
            raise UsageError(f"--breaks {item!r}: expected DIM=N,N,... e.g. r=30,60,90,180") from None
    return breaks


@handle_errors
@transaction_columns
@list_options
def segment(
    inputs: opt.Inputs,
    output: opt.Output = None,
    fmt: opt.Format = None,
    as_of: opt.AsOf = None,
    rules: Annotated[
        str | None,
        typer.Option(  # noqa: UP045
            "--rules",
            metavar="MAP",
            help="Segment map: a built-in name (rfm_grid, rfm_tertiles, rfm_r_fm) or a .toml file.",
        ),
    ] = None,
    segments: Annotated[
        list[str] | None,
        typer.Option(  # noqa: UP045
            "--segment", metavar="NAME", help="Keep only this segment (repeatable), e.g. for an email hand-off."
        ),
    ] = None,
    bins: Annotated[int, typer.Option("--bins", help="Scores per dimension: 3, 4, 5 or 10.")] = 5,
    method: Annotated[
        str,
        typer.Option(
            "--method",
            metavar="METHOD",
            help="quantile (ties share a score), rank (equal bins, ties by customer id) or fixed (--breaks).",
        ),
    ] = "quantile",
    breaks: Annotated[
        list[str] | None,
        typer.Option(  # noqa: UP045
            "--breaks",
            metavar="DIM=CUTS",
            help="Fixed cut points per dimension for --method fixed, e.g. r=30,60,90,180 (repeat for f and m).",
        ),
    ] = None,
    frequency: Annotated[
        str, typer.Option("--frequency", metavar="orders|days", help="F counts orders or purchase days.")
    ] = "orders",
    monetary: Annotated[
        str, typer.Option("--monetary", metavar="total|mean", help="M is total net spend or mean order value.")
    ] = "total",
    cut_points: Annotated[
        Path | None,
        typer.Option(  # noqa: UP045
            "--cut-points", help="Also write the cut points of each score here.", rich_help_panel=opt.OUTPUT
        ),
    ] = None,
    lists: ListOptions = NO_LIST_OPTIONS,
    quiet: opt.Quiet = False,
    on_bad_rows: opt.OnBadRows = "error",
    rejects: opt.Rejects = None,
    tx: TransactionColumns = NO_COLUMN_OPTIONS,
) -> None:
    """RFM scores and named segments, one row per customer, and a table of segment sizes and revenue."""
    execute(COMMAND, flat(locals()), Output(quiet=quiet))


def _configure(options: Options) -> SegmentConfig:
    from loyalty_cli.app.segment import SegmentConfig

    check_bad_rows(options["on_bad_rows"])
    config = SegmentConfig(
        rules=options["rules"],
        segments=tuple(options["segments"] or ()),
        bins=options["bins"],
        method=options["method"],
        breaks=_parse_breaks(options["breaks"]),
        frequency=options["frequency"],
        monetary=options["monetary"],
    )
    output, fmt = options["output"], options["fmt"]
    check_output(output, fmt, example="segments.parquet")
    list_spec(options).check(output, fmt)
    check_table_path(options["cut_points"], "--cut-points")
    return config


def _deliver(result: SegmentResult, options: Options, out: Output) -> list[Path]:
    from loyalty_cli.io.writers import write_table

    output, cut_points = options["output"], options["cut_points"]
    written: list[Path] = []
    if output:
        written += list_spec(options).write(
            result.customers,
            output,
            fmt=options["fmt"],
            out=out,
            mapping=options["mapping"],
            tag="segment",
            value=result.value_column,
            policy=options["on_bad_rows"],
            rejects=options["rejects"],
        )
    if cut_points:
        write_table(result.cut_points, cut_points)
        out.note(f"Wrote cut points to {cut_points}")
        written.append(Path(cut_points))
    if not (output and out.quiet):
        _show(result, out, to_stderr=output == "-")
    return written


def _show(result: SegmentResult, out: Output, *, to_stderr: bool) -> None:
    from loyalty_cli.app.segment import empty_scores

    out.lines(empty_scores(result.cut_points))
    title = f"as of {result.as_of}"
    out.table(result.cut_points.drop("column"), title=f"Cut points ({title})", to_stderr=to_stderr)
    # The action is long text: a drawn table gets it in a table of its own, so the numbers stay readable; piped, it
    # is the summary's last column (one row per segment, machine-readable).
    drawn = out.drawn(to_stderr=to_stderr)
    summary = result.summary
    out.table(
        summary.drop("action") if drawn else summary,
        title=f"Segments ({title}, {words.count(result.scored, 'customer')})",
        formats={"share_customers": ".1%", "share_revenue": ".1%"},
        to_stderr=to_stderr,
    )
    if drawn:
        out.table(
            summary.select("segment", "customers", "action"),
            title=f"Actions per segment ({result.source})",
            to_stderr=to_stderr,
        )


COMMAND = Command(
    name="segment",
    configure=_configure,
    inputs=lambda options, config, out: transaction_spec(options, out),
    compute=lambda inputs, config, messages: _compute(inputs, config, messages),
    deliver=_deliver,
)


def _compute(inputs: Inputs, config: SegmentConfig, messages: Messages) -> SegmentResult:
    from loyalty_cli.app.segment import segment as segment_customers

    return segment_customers(inputs, config, messages)


def register(app: typer.Typer) -> None:
    app.command("segment", epilog=EXAMPLES, rich_help_panel="Analyse")(segment)
