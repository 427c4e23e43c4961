"""``loyalty products``: what customers buy first and next, what goes together, how often a product is bought
again, and the next product to offer each customer."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path
from typing import TYPE_CHECKING

from loyalty_cli import words
from loyalty_cli.cli import campaign, command, common
from loyalty_cli.cli import options as opt
from loyalty_cli.cli.console import Output
from loyalty_cli.errors import UsageError

if TYPE_CHECKING:
    import polars as pl

    from loyalty_cli.app.inputs import InputSpec
    from loyalty_cli.app.products import ProductsConfig, ProductsResult

EXAMPLES = """
Examples:

  loyalty products sample_data/transactions.csv

  loyalty products orders.csv --level category --top 3

  loyalty products orders.csv --table pairs --min-support 20 -o pairs.csv --cycle cycle.csv

  loyalty products orders.csv --table list --target klaviyo -o next_best.csv

  loyalty products Online_Retail.csv --on-bad-rows skip --table cycle -o cycle.parquet
"""

#: what -o writes with --table (each extra file option is named as the table it writes), and what each is
TABLES = {
    "first": "repurchase and 365-day value by first {level}",
    "next": "next {levels} after each first {level}",
    "pairs": "{level} pairs bought together",
    "cycle": "replenishment cycle per {level}",
}
LIST = "list"  # --table list: the next best product of each customer, for an email tool
SHOWN = 20  # rows of each table shown on the terminal (the files hold them all)


@common.handle_errors
@common.transaction_columns
@campaign.list_options
@opt.declare(
    table=opt.o(
        "What -o writes: first (repurchase and 365-day value by first product), next (the next products after each "
        "first one), pairs (bought together in one order), cycle (days between purchases of the same product), or "
        "list (each customer's next best product, for an email tool: --target and the other list options).",
        "first|next|pairs|cycle|list",
        panel=opt.OUTPUT,
    ),
    level=opt.o("Analyse products, or their categories (the coarser level).", "product|category"),
    top=opt.o("Next products kept per first product (and offered in the list).", min=1),
    min_n=opt.o("Intervals of a first product observed over fewer customers are left empty.", min=1),
    min_support=opt.o("Pairs bought together in fewer orders than this are left out.", min=1),
    confidence=opt.o("Confidence of the intervals.", min=0.5, max=0.999),
    product_col=opt.o("Product column (SKU or product code), e.g. StockCode.", "NAME", panel=opt.COLUMNS),
    product_name_col=opt.o("Product name column shown beside the code, e.g. Description.", "NAME", panel=opt.COLUMNS),
    first=opt.o("Also write the first-product table here.", panel="Tables"),
    next=opt.o("Also write the next-product table here.", panel="Tables"),
    pairs=opt.o("Also write the pairs table here.", panel="Tables"),
    cycle=opt.o("Also write the replenishment cycle table here.", panel="Tables"),
)
def products(
    inputs: opt.Inputs,
    output: opt.Output = None,
    fmt: opt.Format = None,
    as_of: opt.AsOf = None,
    table: str = "first",
    level: str = "product",
    top: int = 10,
    min_n: int = 30,
    min_support: int = 10,
    confidence: float = 0.95,
    product_col: str | None = None,
    product_name_col: str | None = None,
    first: Path | None = None,
    next: Path | None = None,  # noqa: A002 - the option --next, as the table it writes
    pairs: Path | None = None,
    cycle: Path | None = None,
    lists: campaign.ListOptions = campaign.NO_LIST_OPTIONS,
    quiet: opt.Quiet = False,
    on_bad_rows: opt.OnBadRows = "error",
    rejects: opt.Rejects = None,
    tx: common.TransactionColumns = common.NO_COLUMN_OPTIONS,
) -> None:
    """Products: repurchase rate and 365-day value by first product (or category), the next products bought
    after it, products bought together, the replenishment cycle, and each customer's next best product."""
    command.execute(COMMAND, command.flat(locals()), Output(quiet=quiet))


def _configure(options: command.Options) -> ProductsConfig:
    from loyalty_cli.app.products import ProductsConfig

    table = options["table"]
    if table not in (*TABLES, LIST):
        raise UsageError(f"--table must be first, next, pairs, cycle or list, got {table!r}")
    # Quiet with -o, no table is shown: only the tables written are computed.
    wanted = [name for name in TABLES if name == table or options[name] is not None]
    shown = not (options["output"] and options["quiet"])
    config = command.config_of(
        ProductsConfig, options, next_best=table == LIST, tables=tuple(TABLES) if shown else tuple(wanted)
    )
    if table == LIST:
        campaign.check_list_output(options, example="next_best.csv")
    else:
        handoff = [name for name, value in vars(campaign.list_spec(options)).items() if value]
        if handoff:
            flag = "--" + handoff[0].replace("_", "-")
            raise UsageError(f"{flag} is for the list of next best products", hint=f"Add --table list to use {flag}.")
        common.check_bad_rows(options["on_bad_rows"])
        common.check_output(options["output"], options["fmt"], example=f"{table}.csv")
    for name in TABLES:
        common.check_table_path(options[name], f"--{name}")
    return config


def _inputs(options: command.Options, config: ProductsConfig, out: Output) -> InputSpec:
    spec = command.transaction_spec(options, out, summary=False, need_customers=False)
    named = {"product": options.get("product_col"), "product_name": options.get("product_name_col")}
    read = replace(
        spec.options,
        columns={**spec.options.columns, **{k: v for k, v in named.items() if v}},
        require=(config.level,),
    )
    if spec.spark is not None and config.level == "product":
        out.note("Product names are not read on the Spark engine: the tables show the product codes")
    return replace(spec, options=read, lines=config.lines(names=spec.spark is None))


def _deliver(result: ProductsResult, options: command.Options, out: Output) -> list[Path]:
    from loyalty_cli.app.products import PLURAL

    output, table, level = options["output"], options["table"], result.config.level
    written: list[Path] = []
    if output and table == LIST:
        written += campaign.write_list(
            result.table(LIST),
            options,
            out,
            tag=f"next_{level}",
            value="net_spend",
            describe=lambda n: f"{words.count(n, 'customer')} with a next best {level}",
        )
    elif output:
        what = TABLES[table].format(level=level, levels=PLURAL[level])
        written += command.write_output(result.table(table), options, f"the {what} ({_rows(result.table(table))})", out)
    for name, what in TABLES.items():
        if options[name] is not None:
            frame = result.table(name)
            written += command.write_file(
                frame, options[name], f"the {what.format(level=level, levels=PLURAL[level])} ({_rows(frame)})", out
            )
    if not (output and out.quiet):
        _show(result, out, to_stderr=output == "-")
    return written


def _rows(frame: pl.DataFrame) -> str:
    return words.count(frame.height, "row")


#: drawn headers (piped output and the files keep the column names)
HEADERS = {
    "observed_365d": "observed",
    "repurchased_365d": "bought again",
    "repurchase_rate_365d": "rate 365d",
    "repurchase_rate_low": "rate low",
    "repurchase_rate_high": "rate high",
    "mean_value_365d": "mean value 365d",
    "mean_value_low": "value low",
    "mean_value_high": "value high",
    "median_value_365d": "median 365d",
    "share_of_orders": "share",
    "confidence_ab": "conf a->b",
    "confidence_ba": "conf b->a",
    "repeat_customers": "repeat buyers",
    "repeat_share": "repeat share",
    "gap_p25_days": "p25 days",
    "gap_median_days": "median days",
    "gap_p75_days": "p75 days",
    "gap_mean_days": "mean days",
    "base_share": "base share",
}
FORMATS = {
    "share": ".1%",
    "repurchase_rate_365d": ".1%",
    "repurchase_rate_low": ".1%",
    "repurchase_rate_high": ".1%",
    "base_share": ".1%",
    "share_of_orders": ".2%",
    "confidence_ab": ".1%",
    "confidence_ba": ".1%",
    "repeat_share": ".1%",
    "lift": ".2f",
    "gap_p25_days": "g",
    "gap_median_days": "g",
    "gap_p75_days": "g",
    "gap_mean_days": ".1f",
}


def _show(result: ProductsResult, out: Output, *, to_stderr: bool) -> None:
    """The four tables, their first :data:`SHOWN` rows each."""
    from loyalty_cli.app.products import PLURAL

    level, config = result.config.level, result.config
    titles = {
        "first": f"Repurchase within 365 days and net value of the first purchase day and the 365 days after it, "
        f"by first {level}: customers observed 365 days only; intervals {config.confidence:.0%} from "
        f"{words.count(config.min_n, 'customer')} observed; a correlation",
        "next": f"Next {PLURAL[level]}: bought on the second purchase day, top {config.top} per first {level} "
        "(share of its repeaters; lift against all repeaters)",
        "pairs": f"{PLURAL[level].capitalize()} bought together in one order (at least "
        f"{words.count(config.min_support, 'order')}; confidence a->b = share of the orders with a that have b)",
        "cycle": f"Replenishment cycle: days between purchase days of the same {level} by the same customer "
        "(repeats seen before the as-of date)",
    }
    drops: dict[str, tuple[str | tuple[str, ...], ...]] = {
        "first": ("median_value_365d", ("mean_value_low", "mean_value_high"), "share", "first_product_name"),
        "next": ("base_customers", "base_share", "repeaters", "first_product_name", "next_product_name"),
        "pairs": ("orders_a", "orders_b", "share_of_orders", "product_a_name", "product_b_name"),
        "cycle": ("gap_mean_days", "repeats", "product_name"),
    }
    for name, title in titles.items():
        frame = result.table(name)
        shown = frame.head(SHOWN)
        more = f" (first {SHOWN} of {words.count(frame.height, 'row')})" if frame.height > SHOWN else ""
        out.table(
            shown,
            title=f"{title}{more}, as of {result.as_of}",
            formats=FORMATS,
            headers=HEADERS,
            drop=drops[name],
            whole=f"--{name} FILE writes every row and column",
            to_stderr=to_stderr,
        )


COMMAND = command.Command(
    name="products",
    configure=_configure,
    inputs=_inputs,
    compute=command.app_function("products"),
    deliver=_deliver,
)
