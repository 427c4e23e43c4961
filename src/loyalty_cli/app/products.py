"""``products``: what customers buy first, what they buy next, what goes together in one order, how often the same
product is bought again, and the next product to offer each customer.

The transaction lines are read with their item (a product, or its category at the coarser level) in the one pass
over the lines (:meth:`ProductsConfig.lines`, ``InputSpec.lines``), without stage 1's customer tables: they are
summed here to orders and customers (:mod:`loyalty_cli.metrics.products`, which holds the definitions, and
:mod:`loyalty_cli.metrics.product_baskets`). That plan is per customer, so the Spark engine runs it too (the lines
come back to the driver, as many as the lines read: the product tables need every item of every order); the
products' names (a plan over all the lines) are read on Polars only. Only the tables asked for are computed.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import date, timedelta
from functools import partial
from typing import Any

import polars as pl

from loyalty_cli.app.inputs import Inputs
from loyalty_cli.app.messages import Message, Messages
from loyalty_cli.errors import ConfigError, DataError, setting
from loyalty_cli.metrics import first_products as firsts
from loyalty_cli.metrics import product_baskets as baskets
from loyalty_cli.metrics import products as m
from loyalty_cli.spark import per_customer
from loyalty_cli.words import count

LEVELS = ("product", "category")
PLURAL = {"product": "products", "category": "categories"}
#: the ``lines`` plans' names (``Inputs.tables``)
ITEMS, NAMES, IDS = "product_lines", "product_names", "product_customers"


#: the tables of a result, in the order they are shown
TABLES = ("first", "next", "pairs", "cycle")


@dataclass(frozen=True)
class ProductsConfig:
    """``level``: product or category (the coarser level); ``top``: next items kept per first item (and offered
    in the next-best list); ``min_n``: observed customers below which an interval is left empty;
    ``min_support``: orders a pair needs; ``confidence`` of the intervals; ``next_best``: also the list of each
    customer's next best item; ``tables``: the tables to compute (of :data:`TABLES`; the others are None)."""

    level: str = "product"
    top: int = 10
    min_n: int = 30
    min_support: int = 10
    confidence: float = 0.95
    next_best: bool = False
    tables: tuple[str, ...] = TABLES

    def __post_init__(self) -> None:
        if self.level not in LEVELS:
            raise ConfigError("level", f"must be product or category, got {self.level!r}")
        for name in ("top", "min_n", "min_support"):
            if getattr(self, name) < 1:
                raise ConfigError(name, f"must be at least 1, got {getattr(self, name)}")
        if not 0.5 <= self.confidence <= 0.999:
            raise ConfigError("confidence", f"must be between 0.5 and 0.999, got {self.confidence}")
        unknown = [t for t in self.tables if t not in TABLES]
        if unknown:
            raise ConfigError("tables", f"must be among {', '.join(TABLES)}, got {unknown[0]!r}")

    @property
    def stats(self) -> m.ProductConfig:
        return m.ProductConfig(
            level=self.level,  # type: ignore[arg-type]
            top=self.top,
            min_n=self.min_n,
            min_support=self.min_support,
            confidence=self.confidence,
        )

    def lines(self, *, names: bool = True) -> dict[str, Callable[[pl.LazyFrame], pl.LazyFrame]]:
        """The plans over the transaction lines (``InputSpec.lines``): the lines with their item, the customers'
        ids and emails for the next-best list, and (``names``, at the product level) the products' names, a plan
        over all the lines that the Spark engine does not run."""
        plans: dict[str, Callable[[pl.LazyFrame], pl.LazyFrame]] = {
            ITEMS: per_customer(partial(m.item_lines, level=self.level))  # type: ignore[arg-type]
        }
        if self.next_best:
            plans[IDS] = per_customer(m.customer_ids)
        if names and self.level == "product":
            plans[NAMES] = m.item_names
        return plans


@dataclass(frozen=True)
class ProductsResult:
    """``first``: repurchase and 365-day value per first item (``(all)`` first); ``next``: the top next items of
    each first item; ``pairs``: items bought together; ``cycle``: days between purchases of an item by the same
    customer (each None when not asked for); ``customers``: each customer's next best item (``next_best`` only);
    ``counts``: customers, orders (purchase orders with an item bought), items, no_item_lines, first_items, and
    observed_365d and pairs when their tables were computed."""

    first: pl.DataFrame | None
    next: pl.DataFrame | None
    pairs: pl.DataFrame | None
    cycle: pl.DataFrame | None
    customers: pl.DataFrame | None
    as_of: date
    config: ProductsConfig
    counts: dict[str, int]
    messages: list[Message]

    def table(self, name: str) -> pl.DataFrame:
        """A table by name: first, next, pairs, cycle, or list (the customers)."""
        found = self.customers if name == "list" else getattr(self, name)
        if found is None:
            raise ConfigError("tables" if name != "list" else "next_best", f"did not ask for the {name} table")
        return found


def products(inputs: Inputs, config: ProductsConfig, messages: Messages | None = None) -> ProductsResult:
    messages = messages if messages is not None else Messages()
    items = inputs.tables[ITEMS].lazy()
    codes = m.item_codes(items).collect().lazy()
    exact = False
    customers, bought, counts = _customers(items, codes, inputs.as_of, exact=exact)
    if customers["shared_hash"].any():  # two customer ids with one 64-bit hash: again, by the ids themselves
        exact = True
        customers, bought, counts = _customers(items, codes, inputs.as_of, exact=exact)
    if customers.is_empty():
        paths = inputs.scans["transactions"].paths if "transactions" in inputs.scans else ()
        raise DataError(
            "No customer made a purchase before the as-of date" + (f" in {paths[0]}" if paths else ""),
            hint=f"Check {setting('as_of')}, the date and amount columns, and the rejects file if rows were skipped.",
        )
    ids = inputs.tables[IDS].lazy() if config.next_best else None
    frames, edges = _plans(config, customers.lazy(), bought.lazy(), counts.lazy(), ids, exact=exact)
    names = inputs.tables.get(NAMES)
    named = m.name_table(names.lazy()) if names is not None and names.height and config.level == "product" else None
    tables = dict(zip(frames, _decoded(frames, codes, named, config.level), strict=True))
    found = {
        "customers": customers.height,
        "orders": int(counts["orders"][0]),
        "no_item_lines": int(counts["no_item_lines"][0]),
        "items": codes.select(pl.len()).collect().item(),
        "first_items": int(edges["first_i"].is_not_null().sum()) if edges is not None else 0,
    }
    if "first" in tables:
        found["observed_365d"] = int(tables["first"]["observed_365d"][0]) if tables["first"].height else 0
    if "pairs" in tables:
        found["pairs"] = tables["pairs"].height
    as_of = customers["as_of"][0]
    _say(messages, config, as_of, found, tables.get("list"))
    return ProductsResult(*(tables.get(n) for n in (*TABLES, "list")), as_of, config, found, messages.items)


def _plans(
    config: ProductsConfig,
    customers: pl.LazyFrame,
    bought: pl.LazyFrame,
    counts: pl.LazyFrame,
    ids: pl.LazyFrame | None,
    *,
    exact: bool,
) -> tuple[dict[str, pl.LazyFrame], pl.DataFrame | None]:
    """The tables asked for, by name, as plans over the collected customers and items (by codes), and the first
    and last items when they were needed (collected: several tables start from them)."""
    wanted = set(config.tables)
    edges = nexts = None
    if wanted & {"first", "next"} or config.next_best:
        edges = m.edge_items(bought).collect()
    if edges is not None and ("next" in wanted or config.next_best):
        nexts = firsts.next_items(bought, customers, edges.lazy(), top=config.top).collect()
    frames: dict[str, pl.LazyFrame] = {}
    if edges is not None and "first" in wanted:
        frames["first"] = firsts.first_item_table(customers, edges.lazy(), config=config.stats)
    if nexts is not None and "next" in wanted:
        frames["next"] = nexts.lazy().sort("repeaters", "first_i", "rank", descending=[True, False, False])
    if "pairs" in wanted:
        frames["pairs"] = baskets.pair_table(baskets.baskets(bought), counts, min_support=config.min_support)
    if "cycle" in wanted:
        frames["cycle"] = baskets.cycle_table(bought)
    if config.next_best and edges is not None and nexts is not None and ids is not None:
        frames["list"] = firsts.next_best_items(bought, customers, edges.lazy(), nexts.lazy(), ids=ids, exact=exact)
    return frames, edges


def _customers(
    items: pl.LazyFrame, codes: pl.LazyFrame, as_of: date | None, *, exact: bool
) -> tuple[pl.DataFrame, pl.DataFrame, pl.DataFrame]:
    """The customer table, the items of purchase orders (every table starts from them) and one row of counts:
    ``orders`` (purchase orders with an item bought), ``no_item_lines``; the orders are let go on return."""
    keyed = m.keyed_items(items, codes, exact=exact).collect().lazy()
    orders = m.order_table(keyed).collect().lazy()
    customers = m.customer_table(orders, as_of=as_of).collect()
    bought = m.purchase_items(keyed, orders, customers.lazy()).collect()
    no_item = keyed.select(pl.col("i").is_null().sum().cast(pl.Int64).alias("no_item_lines"))
    basket_counts = baskets.basket_counts(orders, baskets.baskets(bought.lazy()))
    counts = pl.concat([basket_counts, no_item], how="horizontal").collect()
    return customers, bought, counts


#: the code columns of each table and the names they take (at a level)
CODES = {
    "first": {"i": "first_{level}"},
    "next": {"first_i": "first_{level}", "i": "next_{level}"},
    "pairs": {"a": "{level}_a", "b": "{level}_b"},
    "cycle": {"i": "{level}"},
    "list": {"next_i": "next_{level}", "last_i": "last_{level}"},
}


def _decoded(
    frames: dict[str, pl.LazyFrame], codes: pl.LazyFrame, names: pl.LazyFrame | None, level: str
) -> list[pl.DataFrame]:
    """The tables, collected together, with the items' names (and the products' names, when the lines had them)
    for their codes."""
    decoded = []
    for name, frame in frames.items():
        columns = {code: out.format(level=level) for code, out in CODES[name].items()}
        decoded.append(m.decoded(frame, codes, columns, names))
    return pl.collect_all(decoded)


def _say(
    messages: Messages,
    config: ProductsConfig,
    as_of: date,
    counts: dict[str, Any],
    listed: pl.DataFrame | None,
) -> None:
    level = config.level
    messages.note(
        f"As of {as_of} (data before that day); {count(counts['customers'], 'customer')} with a purchase; "
        f"{count(counts['orders'], 'purchase order')} with a {level} bought; "
        f"{count(counts['items'], level, PLURAL[level])}"
    )
    if counts["no_item_lines"]:
        lines = count(counts["no_item_lines"], "line")
        messages.note(f"{lines} without a {level}: in order values, never as a {level}")
    left = counts["customers"] - counts["first_items"]
    if "first" in config.tables and left:
        messages.note(
            f"{count(left, 'customer')} whose first order's largest line has no {level}: not in the first-{level} table"
        )
    cutoff = as_of - timedelta(days=m.VALUE_DAYS + 1)
    if counts.get("observed_365d"):
        messages.note(
            f"Repurchase and value in 365 days: customers observed 365 days (first purchase on or before {cutoff}), "
            f"{count(counts['observed_365d'], 'customer')}; intervals from {count(config.min_n, 'customer')}"
        )
    elif "observed_365d" in counts:
        messages.warn(
            f"No customer is observed 365 days (first purchase on or before {cutoff}): the repurchase rate and "
            "365-day value are empty"
        )
    if "pairs" in counts:
        messages.note(
            f"{count(counts['pairs'], 'pair')} of {PLURAL[level]} bought together in at least "
            f"{count(config.min_support, 'order')}"
        )
    if listed is not None:
        messages.note(
            f"Next best {level} for {count(listed.height, 'customer')} (of {counts['customers']:,}): the others' last "
            f"{level} was never a first one, or they bought each of its top {config.top} next {PLURAL[level]} already"
        )
