"""``loyalty churn``: active, lapsing and lapsed customers with the reason, churn rate by period, win-back lists."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any  # noqa: UP035

import typer

from loyalty_cli import words
from loyalty_cli.cli import options as opt
from loyalty_cli.cli.command import Command, Options, execute, flat, transaction_spec
from loyalty_cli.cli.common import (
    DEFAULT_MAPPING,
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
    from loyalty_cli.app.churn import ChurnConfig, ChurnResult
    from loyalty_cli.app.inputs import Inputs
    from loyalty_cli.app.messages import Messages

EXAMPLES = """
Examples:

  loyalty churn sample_data/transactions.csv

  loyalty churn orders.parquet --status lapsing --status lapsed -o winback.csv

  loyalty churn exports/ --model pnbd --rank-by predicted --rates churn_by_month.csv

  loyalty churn orders.csv --rules my_churn.toml --period quarter --as-of 2024-07-01
"""


@handle_errors
@transaction_columns
@list_options
def churn(
    inputs: opt.Inputs,
    output: opt.Output = None,
    fmt: opt.Format = None,
    as_of: opt.AsOf = None,
    rules: Annotated[
        str | None,
        typer.Option(  # noqa: UP045
            "--rules",
            metavar="FILE",
            help="Churn rules TOML (thresholds, value tiers); default: the built-in rules/churn.toml.",
        ),
    ] = None,
    statuses: Annotated[
        list[str] | None,
        typer.Option(  # noqa: UP045
            "--status",
            metavar="STATUS",
            help="Write only customers with this status (active, lapsing, lapsed; repeatable), e.g. "
            "for a win-back hand-off.",
        ),
    ] = None,
    model: Annotated[
        str | None,
        typer.Option(  # noqa: UP045
            "--model",
            metavar="MODEL",
            help="Also give each customer P(alive) and a 12-month predicted value from a BTYD model: "
            "bgnbd, mbgnbd or pnbd (BG/NBD cannot judge one-time buyers).",
        ),
    ] = None,
    rank_by: Annotated[
        str,
        typer.Option(
            "--rank-by",
            metavar="historical|predicted",
            help="Rank and tier customers by historical net spend or by predicted value (needs --model).",
        ),
    ] = "historical",
    period: Annotated[
        str, typer.Option("--period", metavar="week|month|quarter", help="Churn rate per week, month or quarter.")
    ] = "month",
    rates: Annotated[
        Path | None,
        typer.Option(  # noqa: UP045
            "--rates", help="Also write the churn rate per period here.", rich_help_panel=opt.OUTPUT
        ),
    ] = None,
    top: Annotated[
        int, typer.Option("--top", help="Customers shown per list on the terminal.", rich_help_panel=opt.OUTPUT)
    ] = 10,
    lists: ListOptions = NO_LIST_OPTIONS,
    quiet: opt.Quiet = False,
    on_bad_rows: opt.OnBadRows = "error",
    rejects: opt.Rejects = None,
    tx: TransactionColumns = NO_COLUMN_OPTIONS,
) -> None:
    """Each customer's status (active, lapsing, lapsed) with the reason: days since the last purchase against
    their own inter-purchase time, or the population's when they have fewer than two gaps. Lapsing and lapsed
    customers ranked by value with a value tier, and the churn rate per period.

    -o writes one row per customer (all, or --status ones), ranked by value within each status."""

    execute(COMMAND, flat(locals()), Output(quiet=quiet))


def _configure(options: Options) -> ChurnConfig:
    from loyalty_cli.app.churn import ChurnConfig

    check_bad_rows(options["on_bad_rows"])
    config = ChurnConfig(
        rules=None if options["rules"] is None else str(options["rules"]),
        statuses=tuple(options["statuses"] or ()),
        model=options["model"],
        rank_by=options["rank_by"],
        period=options["period"],
        top=options["top"],
    )
    output, fmt = options["output"], options["fmt"]
    check_output(output, fmt, example="churn.parquet")
    list_spec(options).check(output, fmt)
    check_table_path(options["rates"], "--rates")
    return config


def _mapping(options: Options) -> Any:
    """The column mapping the transactions were read with (--mapping, else rules/columns.toml when there is
    one; a pipeline gives its own), for a --contacts file."""
    mapping = options["mapping"]
    return DEFAULT_MAPPING if mapping is None and DEFAULT_MAPPING.is_file() else mapping


def _deliver(result: ChurnResult, options: Options, out: Output) -> list[Path]:
    from loyalty_cli.io.writers import write_table

    output, rates = options["output"], options["rates"]
    written: list[Path] = []
    if output:
        written += list_spec(options).write(
            result.customers,
            output,
            fmt=options["fmt"],
            out=out,
            mapping=_mapping(options),
            tag="status",
            value="net_spend",
            policy=options["on_bad_rows"],
            rejects=options["rejects"],
        )
    if rates is not None:
        write_table(result.rates, rates)
        out.note(f"Wrote the churn rate per {result.period} to {rates}")
        written.append(Path(rates))
    if not (output and out.quiet):
        _show(result, out, to_stderr=output == "-")
    return written


def _show(result: ChurnResult, out: Output, *, to_stderr: bool) -> None:
    basis = "predicted value" if result.value_column == "predicted_value" else "historical net spend"
    out.table(
        result.summary,
        title=f"Customers by status (as of {result.as_of}; value tiers by {basis})",
        formats={"share_customers": ".1%", "share_net_spend": ".1%"},
        to_stderr=to_stderr,
    )
    by_period = result.rates
    shown_rates = by_period.tail(12)
    if by_period.height:
        out.table(
            shown_rates.drop("period_start"),
            title=f"Churn rate per {result.period}: customers at the start who are lapsed at the end"
            + (
                f" (last {shown_rates.height} of {by_period.height}; all with --rates)"
                if by_period.height > shown_rates.height
                else ""
            ),
            formats={"churn_rate": ".1%"},
            to_stderr=to_stderr,
        )
    for name, rows in result.at_risk.items():
        total = result.counts[name]
        out.table(
            rows,
            title=f"Top {rows.height} of {words.count(total, f'{name} customer')} by {basis} "
            "(worth_costly_offer false: low value, a reminder at most)",
            formats={"p_alive": ".2f"},
            to_stderr=to_stderr,
        )


COMMAND = Command(
    name="churn",
    configure=_configure,
    inputs=lambda options, config, out: transaction_spec(options, out, activity=True),
    compute=lambda inputs, config, messages: _compute(inputs, config, messages),
    deliver=_deliver,
)


def _compute(inputs: Inputs, config: ChurnConfig, messages: Messages) -> ChurnResult:
    from loyalty_cli.app.churn import churn as churn_tables

    return churn_tables(inputs, config, messages)


def register(app: typer.Typer) -> None:
    app.command("churn", epilog=EXAMPLES, rich_help_panel="Analyse")(churn)
