"""``loyalty next-order``: each repeat customer's expected next-order date and contact window, and who is due."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING

from loyalty_cli import words
from loyalty_cli.cli import campaign, command, common
from loyalty_cli.cli import options as opt
from loyalty_cli.cli.console import Output

if TYPE_CHECKING:
    from loyalty_cli.app.next_order import NextOrderResult, NextOrderSettings

EXAMPLES = """
Examples:

  loyalty next-order sample_data/transactions.csv

  loyalty next-order orders.csv --due-within 7 -o due.csv --as-of 2024-07-01

  loyalty next-order orders.csv --model mbgnbd --parameters next_order_model.csv -o next_orders.parquet
"""

#: the list's tag for an email tool, with and without --due-within
TAGS = ("next order due", "next order")
#: the columns of the terminal's list of customers (the file has every column)
SHOWN = (
    "customer_id",
    "next_order_date",
    "contact_from",
    "contact_to",
    "p_alive",
    "own_gap_days",
    "shrunk_gap_days",
    "days_since_last",
    "purchase_days",
    "expected_purchases_30d",
)


@common.handle_errors
@common.transaction_columns
@campaign.list_options
@opt.declare(
    output=opt.o(
        "Write one row per repeat customer (with --due-within: the due ones) here (.csv, .parquet, .json, .xlsx; - "
        "for stdout).",
        "FILE",
        panel=opt.OUTPUT,
        flag=("--output", "-o"),
    ),
    model=opt.o(
        "The BTYD model whose purchase rate while active, and P(alive), the dates use: bgnbd, mbgnbd or pnbd.",
        "MODEL",
    ),
    due_within=opt.o(
        "Keep only customers due within this time: their contact window opens by then and P(alive) is at least "
        "--min-p-alive, e.g. 7, 7d or 1w.",
        "DAYS",
    ),
    min_p_alive=opt.o("The P(alive) a due customer needs (0 to 1; 0 keeps everyone whose window opens).", "P"),
    penalizer=opt.o("L2 penalty on the model's parameters, e.g. 0.001, when its fit fails or is extreme."),
    parameters=opt.o("Also write the model's parameters here.", panel=opt.OUTPUT),
    top=opt.o("Customers shown on the terminal.", panel=opt.OUTPUT),
)
def next_order(
    inputs: opt.Inputs,
    output: str | None = None,
    fmt: opt.Format = None,
    as_of: opt.AsOf = None,
    model: str = "bgnbd",
    due_within: str | None = None,
    min_p_alive: float = 0.5,
    penalizer: float = 0.0,
    parameters: Path | None = None,
    top: int = 10,
    lists: campaign.ListOptions = campaign.NO_LIST_OPTIONS,
    quiet: opt.Quiet = False,
    on_bad_rows: opt.OnBadRows = "error",
    rejects: opt.Rejects = None,
    tx: common.TransactionColumns = common.NO_COLUMN_OPTIONS,
) -> None:
    """Each repeat customer's next-order date (the median time to their next order if still active) and the
    window to contact them (25th to 75th percentile), from their own purchase rate shrunk toward the
    population's, with P(alive) and the expected purchases in the next 30 days; who is due within N days.

    One-time buyers get no date: second-purchase times them."""
    command.execute(COMMAND, command.flat(locals()), Output(quiet=quiet))


def _configure(options: command.Options) -> NextOrderSettings:
    from loyalty_cli.app.next_order import NextOrderSettings

    config = command.config_of(NextOrderSettings, options)
    campaign.check_list_output(options, example="due.csv")
    common.check_table_path(options["parameters"], "--parameters")
    return config


def _deliver(result: NextOrderResult, options: command.Options, out: Output) -> list[Path]:
    output, due = options["output"], result.settings.due_within is not None
    written = []
    if output:
        tag = TAGS[0] if due else TAGS[1]
        written = campaign.write_list(
            result.rows, options, out, tag_value=tag, value="net_spend", describe=_described(due)
        )
    written += command.write_file(result.parameters, options["parameters"], "the model's parameters", out)
    if not (output and out.quiet):
        _show(result, out, top=options.get("top", 10), to_stderr=output == "-")
    return written


def _described(due: bool) -> Callable[[int], str]:
    return lambda n: words.count(n, "customer") + (" due" if due else " with a next-order date")


#: drawn headers (piped output and the files keep the column names)
HEADERS = {
    "customer_id": "customer",
    "next_order_date": "next order",
    "contact_from": "contact from",
    "contact_to": "contact to",
    "p_alive": "P(alive)",
    "own_gap_days": "own gap",
    "shrunk_gap_days": "shrunk gap",
    "days_since_last": "days since last",
    "purchase_days": "purchase days",
    "expected_purchases_30d": "expected 30d",
    "std_error": "std error",
    "within_days": "within days",
    "window_opens": "window opens",
}


def _show(result: NextOrderResult, out: Output, *, top: int, to_stderr: bool) -> None:
    settings = result.settings
    out.table(
        result.parameters,
        title=f"{result.fit.model.label} parameters (purchase rate while active ~ Gamma(r, alpha))",
        formats={"value": ",.4g", "std_error": ",.3g"},
        headers=HEADERS,
        to_stderr=to_stderr,
    )
    out.table(
        result.due,
        title=f"Repeat customers whose contact window opens within N days (due: also P(alive) >= "
        f"{settings.min_p_alive:g})",
        headers=HEADERS,
        to_stderr=to_stderr,
    )
    if top and result.rows.height:
        which = f"due within {settings.due_within} days" if settings.due_within is not None else "repeat customers"
        rows = result.rows.head(top).select(SHOWN)
        out.table(
            rows,
            title=f"The {rows.height} soonest of {words.count(result.rows.height, 'customer')} ({which}); gaps in days",
            formats={
                "p_alive": ".2f",
                "own_gap_days": ",.1f",
                "shrunk_gap_days": ",.1f",
                "expected_purchases_30d": ".2f",
            },
            headers=HEADERS,
            drop=("expected_purchases_30d", "purchase_days", "days_since_last"),
            whole="-o FILE writes every customer with every column",
            to_stderr=to_stderr,
        )


COMMAND = command.Command(
    name="next-order",
    configure=_configure,
    inputs=lambda options, config, out: command.transaction_spec(options, out),
    compute=command.app_function("next_order"),
    deliver=_deliver,
)
