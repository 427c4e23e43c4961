"""``loyalty segment``: RFM scores and named segments per customer."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

from loyalty_cli import words
from loyalty_cli.cli import campaign, command, common
from loyalty_cli.cli import options as opt
from loyalty_cli.cli.console import Output

if TYPE_CHECKING:
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


@common.handle_errors
@common.transaction_columns
@campaign.list_options
@opt.declare(
    rules=opt.o("Segment map: a built-in name (rfm_grid, rfm_tertiles, rfm_r_fm) or a .toml file.", "MAP"),
    segments=opt.o("Keep only this segment (repeatable), e.g. for an email hand-off.", "NAME", flag="--segment"),
    bins=opt.o("Scores per dimension: 3, 4, 5 or 10."),
    method=opt.o(
        "quantile (ties share a score), rank (equal bins, ties by customer id) or fixed (--breaks).", "METHOD"
    ),
    breaks=opt.o(
        "Fixed cut points per dimension for --method fixed, e.g. r=30,60,90,180 (repeat for f and m).", "DIM=CUTS"
    ),
    frequency=opt.o("F counts orders or purchase days.", "orders|days"),
    monetary=opt.o("M is total net spend or mean order value.", "total|mean"),
    cut_points=opt.o("Also write the cut points of each score here.", panel=opt.OUTPUT),
)
def segment(
    inputs: opt.Inputs,
    output: opt.Output = None,
    fmt: opt.Format = None,
    as_of: opt.AsOf = None,
    rules: str | None = None,
    segments: list[str] | None = None,
    bins: int = 5,
    method: str = "quantile",
    breaks: list[str] | None = None,
    frequency: str = "orders",
    monetary: str = "total",
    cut_points: Path | None = None,
    lists: campaign.ListOptions = campaign.NO_LIST_OPTIONS,
    quiet: opt.Quiet = False,
    on_bad_rows: opt.OnBadRows = "error",
    rejects: opt.Rejects = None,
    tx: common.TransactionColumns = common.NO_COLUMN_OPTIONS,
) -> None:
    """RFM scores and named segments, one row per customer, and a table of segment sizes and revenue."""
    command.execute(COMMAND, command.flat(locals()), Output(quiet=quiet))


def _configure(options: command.Options) -> SegmentConfig:
    from loyalty_cli.app.segment import SegmentConfig

    config = command.config_of(
        SegmentConfig, options, segments=tuple(options["segments"] or ()), breaks=_parse_breaks(options["breaks"])
    )
    campaign.check_list_output(options, example="segments.parquet")
    common.check_table_path(options["cut_points"], "--cut-points")
    return config


def _deliver(result: SegmentResult, options: command.Options, out: Output) -> list[Path]:
    output, cut_points = options["output"], options["cut_points"]
    written = campaign.write_list(result.rows, options, out, tag="segment", value=result.value_column) if output else []
    written += command.write_file(result.cut_points, cut_points, "cut points", out)
    if not (output and out.quiet):
        _show(result, out, to_stderr=output == "-")
    return written


def _show(result: SegmentResult, out: Output, *, to_stderr: bool) -> None:
    from loyalty_cli.app.segment import empty_scores

    out.lines(empty_scores(result.cut_points))
    title = f"as of {result.as_of}"
    out.table(
        result.cut_points.drop("column"), title=f"Cut points ({title})", formats={"share": ".1%"}, to_stderr=to_stderr
    )
    # The action is long text: a drawn table gets it in a table of its own, so the numbers stay readable; piped, it
    # is the summary's last column (one row per segment, machine-readable).
    drawn = out.drawn(to_stderr=to_stderr)
    summary = result.summary
    out.table(
        summary.drop("action") if drawn else summary,
        title=f"Segments ({title}, {words.count(result.scored, 'customer')})",
        formats={"share_customers": ".1%", "share_revenue": ".1%", "mean_recency_days": ",.1f"},
        headers={"share_customers": "share", "share_revenue": "share of revenue"},
        drop=("mean_orders", "mean_net_spend", "mean_recency_days"),
        to_stderr=to_stderr,
    )
    if drawn:
        out.table(
            summary.select("segment", "customers", "action"),
            title=f"Actions per segment ({result.source})",
            to_stderr=to_stderr,
        )


COMMAND = command.Command(
    name="segment",
    configure=_configure,
    inputs=lambda options, config, out: command.transaction_spec(options, out),
    compute=command.app_function("segment"),
    deliver=_deliver,
)
