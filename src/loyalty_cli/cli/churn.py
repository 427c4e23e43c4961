"""``loyalty churn``: active, lapsing and lapsed customers with the reason, churn rate by period, win-back lists."""

from __future__ import annotations

import functools
from pathlib import Path
from typing import TYPE_CHECKING

from loyalty_cli import words
from loyalty_cli.cli import campaign, command, common
from loyalty_cli.cli import options as opt
from loyalty_cli.cli.console import Output

if TYPE_CHECKING:
    from loyalty_cli.app.churn import ChurnConfig, ChurnResult

EXAMPLES = """
Examples:

  loyalty churn sample_data/transactions.csv

  loyalty churn orders.parquet --status lapsing --status lapsed -o winback.csv

  loyalty churn exports/ --model pnbd --rank-by predicted --rates churn_by_month.csv

  loyalty churn orders.csv --status lapsing --next-order --target klaviyo -o lapsing.csv

  loyalty churn orders.csv --rules my_churn.toml --period quarter --as-of 2024-07-01
"""


@common.handle_errors
@common.transaction_columns
@campaign.list_options
@opt.declare(
    rules=opt.o("Churn rules TOML (thresholds, value tiers); default: the built-in rules/churn.toml.", "FILE"),
    statuses=opt.o(
        "Write only customers with this status (active, lapsing, lapsed; repeatable), e.g. for a win-back hand-off.",
        "STATUS",
        flag="--status",
    ),
    model=opt.o(
        "Also give each customer P(alive) and a 12-month predicted value from a BTYD model: bgnbd, mbgnbd or pnbd "
        "(BG/NBD cannot judge one-time buyers).",
        "MODEL",
    ),
    rank_by=opt.o(
        "Rank and tier customers by historical net spend or by predicted value (needs --model).", "historical|predicted"
    ),
    next_order=opt.o(
        "Also give each repeat customer in the -o list their next-order date and contact window (next_order_date, "
        "contact_from, contact_to, as loyalty next-order gives them, from --model's fit, else BG/NBD); empty for "
        "one-time buyers.",
    ),
    period=opt.o("Churn rate per week, month or quarter.", "week|month|quarter"),
    rates=opt.o("Also write the churn rate per period here.", panel=opt.OUTPUT),
    top=opt.o("Customers shown per list on the terminal.", panel=opt.OUTPUT),
)
def churn(
    inputs: opt.Inputs,
    output: opt.Output = None,
    fmt: opt.Format = None,
    as_of: opt.AsOf = None,
    rules: str | None = None,
    statuses: list[str] | None = None,
    model: str | None = None,
    rank_by: str = "historical",
    next_order: bool = False,
    period: str = "month",
    rates: Path | None = None,
    top: int = 10,
    lists: campaign.ListOptions = campaign.NO_LIST_OPTIONS,
    quiet: opt.Quiet = False,
    on_bad_rows: opt.OnBadRows = "error",
    rejects: opt.Rejects = None,
    tx: common.TransactionColumns = common.NO_COLUMN_OPTIONS,
) -> None:
    """Each customer's status (active, lapsing, lapsed) with the reason: days since the last purchase against
    their own inter-purchase time, or the population's when they have fewer than two gaps. Lapsing and lapsed
    customers ranked by value with a value tier, and the churn rate per period.

    -o writes one row per customer (all, or --status ones), ranked by value within each status."""
    command.execute(COMMAND, command.flat(locals()), Output(quiet=quiet))


def _configure(options: command.Options) -> ChurnConfig:
    from loyalty_cli.app.churn import ChurnConfig
    from loyalty_cli.errors import UsageError

    config = command.config_of(ChurnConfig, options, statuses=tuple(options["statuses"] or ()))
    campaign.check_list_output(options, example="churn.parquet")
    if options["next_order"] and not options["output"]:
        raise UsageError("--next-order needs -o", hint="The dates go into the list: e.g. -o lapsing.csv.")
    common.check_table_path(options["rates"], "--rates")
    return config


def _deliver(result: ChurnResult, options: command.Options, out: Output) -> list[Path]:
    # options["mapping"]: the mapping the transactions were read with (execute sets it), for a --contacts file
    output = options["output"]
    # result.chosen: the ranked rows gathered, shaped and written a slice at a time (no sorted copy in memory)
    written = campaign.write_list(result.chosen, options, out, tag="status", value="net_spend") if output else []
    written += command.write_file(result.rates, options["rates"], f"the churn rate per {result.period}", out)
    if not (output and out.quiet):
        _show(result, out, to_stderr=output == "-")
    return written


#: drawn headers of the churn tables (the files and piped output keep the column names)
HEADERS = {
    "share_customers": "share",
    "share_net_spend": "share of spend",
    "customers_at_start": "at start",
    "new_customers": "new",
    "churn_rate": "churn rate",
    "customer_id": "customer",
    "value_rank": "rank",
    "value_tier": "tier",
    "recency_days": "days since last",
    "ipt_days": "IPT days",
    "p_alive": "P(alive)",
    "predicted_value": "predicted value",
}


def _show(result: ChurnResult, out: Output, *, to_stderr: bool) -> None:
    show = functools.partial(out.table, headers=HEADERS, to_stderr=to_stderr)
    basis = "predicted value" if result.value_column == "predicted_value" else "historical net spend"
    show(
        result.summary,
        title=f"Customers by status (as of {result.as_of}; value tiers by {basis})",
        formats={"share_customers": ".1%", "share_net_spend": ".1%"},
    )
    rates, shown = result.rates.height, result.rates.tail(12)
    if rates:
        show(
            shown.drop("period_start"),
            title=f"Churn rate per {result.period}: customers at the start who are lapsed at the end"
            + (f" (last {shown.height} of {rates}; all with --rates)" if rates > shown.height else ""),
            formats={"churn_rate": ".1%"},
            drop=("active_at_end", "lapsed_at_end", "new_customers", "reactivated"),
            whole="--rates FILE writes every column",
        )
    for name, rows in result.at_risk.items():
        show(
            rows,
            title=f"Top {rows.height} of {words.count(result.counts[name], f'{name} customer')} by {basis} "
            "(worth_costly_offer false: low value, a reminder at most)",
            formats={"p_alive": ".2f", "ipt_days": ",.1f"},
            drop=("ipt_days", "recency_days", "value_rank"),
            whole="-o FILE writes every customer with every column",
        )


COMMAND = command.Command(
    name="churn",
    configure=_configure,
    inputs=lambda options, config, out: command.transaction_spec(options, out, activity=True),
    compute=command.app_function("churn"),
    deliver=_deliver,
)
