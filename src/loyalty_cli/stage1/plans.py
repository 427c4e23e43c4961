"""Plans over the transaction lines that a command collects beside stage 1 (``InputSpec.lines``), and which of
them any engine can run: a per-customer plan runs on each bucket of customers (the Spark engine) and its parts
put together are the whole."""

from __future__ import annotations

from collections.abc import Callable

import polars as pl

LinesPlan = Callable[[pl.LazyFrame], pl.LazyFrame]


class PerCustomer:
    """A ``lines`` plan whose rows for a customer depend only on that customer's lines (and which has no row
    for a customer without lines), so that the Spark engine may run it on each bucket of customers and put
    the results together. Other plans over all the lines are refused there."""

    def __init__(self, plan: LinesPlan) -> None:
        self.plan = plan

    def __call__(self, lines: pl.LazyFrame) -> pl.LazyFrame:
        return self.plan(lines)


def per_customer(plan: LinesPlan) -> PerCustomer:
    """Mark ``plan`` as per-customer (see :class:`PerCustomer`)."""
    return plan if isinstance(plan, PerCustomer) else PerCustomer(plan)
