"""What the report says about its inputs: the data's totals, the contacts, the last two complete periods, and
what each input read held (files, rows, people, rejected rows, the range of dates). The sections themselves are
computed in :mod:`loyalty_cli.app.report`."""

from __future__ import annotations

from datetime import date

import polars as pl

from loyalty_cli.app.inputs import SIDE_KINDS, Inputs
from loyalty_cli.metrics import periods
from loyalty_cli.metrics.lifecycle import known_contacts
from loyalty_cli.report.data import InputRead
from loyalty_cli.stage1.activity_parts import Activity, each_part


def contacts_facts(inputs: Inputs, as_of: date) -> dict[str, int] | None:
    """The contacts: rows, people, those with a purchase, prospects (as the lifecycle counts them: known on the
    as-of date, no purchase before it) and, when known, those with email consent."""
    contacts = inputs.get("contacts")
    if contacts is None:
        return None
    buyers = inputs.customers.lazy().select("customer_id")
    ids = contacts.select(pl.col("customer_id").unique())
    known = known_contacts(contacts.lazy(), as_of=as_of).select(pl.col("customer_id").unique())
    info = {
        "rows": contacts.height,
        "customers": ids.height,
        "with_purchase": ids.join(buyers.collect(), on="customer_id", how="semi").height,
        "prospects": known.join(buyers, on="customer_id", how="anti").collect().height,
    }
    if "email_consent" in contacts.columns:
        consenting = contacts.filter(pl.col("email_consent").fill_null(False))
        info["consent"] = consenting.select(pl.col("customer_id").n_unique()).item()
    return info


def data_totals(inputs: Inputs) -> dict[str, int]:
    """The customers, net revenue (cents), purchase and return orders of the whole data, and the customers with
    orders but no purchase (only returns), whom stage 1 counted in the same read."""
    customers = inputs.customers
    revenue, purchases = (
        _per_part(inputs.activity_parts, [pl.col("net_cents").sum(), pl.col("purchases").cast(pl.Int64).sum()])
        .sum()
        .row(0)
    )
    loaded = inputs.loaded
    left = loaded.no_purchase if loaded is not None and loaded.no_purchase.height else None
    left_returns = int(left["return_orders"][0]) if left is not None else 0
    return {
        "customers": customers.height,
        "revenue_cents": int(revenue or 0),
        "purchase_orders": int(purchases or 0),
        "return_orders": int(customers["return_orders"].sum()) + left_returns,
        "no_purchase_customers": int(left["customers"][0]) if left is not None else 0,
        "no_purchase_cents": int(left["net_cents"][0] or 0) if left is not None else 0,
        "no_purchase_return_orders": left_returns,
    }


def _per_part(activity: Activity, aggregations: list[pl.Expr]) -> pl.DataFrame:
    """One row per part of the activity table: ``aggregations`` over its rows, the parts read one at a time when
    it is in parts (read in passes: never merged, ~24M rows at 50M lines). The caller adds them up: sums of whole
    numbers are exact, and a count of distinct customers adds up too, each customer being in one part."""
    return pl.concat(pl.collect_all([part.select(aggregations) for part in each_part(activity)]))


def recent_periods(inputs: Inputs, period: str) -> pl.DataFrame | None:
    """The last two complete periods before the as-of date, the latest last, for the report's summary: the
    period's label, first day and the day after it, ``covered`` (the data starts on or before its first day;
    else its figures are partial and nothing is compared with it), the customers with a purchase in it, the new
    customers (their first purchase in it), purchase orders and net revenue in cents. None when the data does
    not cover the latest one (or has no purchase)."""
    as_of = inputs.as_of
    if as_of is None:
        return None
    kind = periods.check_period(period)
    now = pl.select(periods.period_index(pl.lit(as_of), kind)).item()
    starts = pl.select(*(periods.period_start(pl.lit(now - k), kind).alias(f"p{k}") for k in (2, 1, 0))).row(0)
    labels = pl.select(*(periods.period_label(pl.lit(d), kind).alias(f"p{i}") for i, d in enumerate(starts))).row(0)
    bounds = list(zip(starts, starts[1:], strict=False))
    sums = []  # each period's customers with a purchase, purchase orders and net cents: one read of the activity
    for k, (start, end) in enumerate(bounds):
        within = pl.col("day").is_between(start, end, closed="left")
        sums += [
            pl.col("customer_id").filter(within & (pl.col("purchases") > 0)).n_unique().cast(pl.Int64).alias(f"c{k}"),
            pl.col("purchases").filter(within).cast(pl.Int64).sum().alias(f"p{k}"),
            pl.col("net_cents").filter(within).sum().alias(f"n{k}"),
        ]
    parts = _per_part(inputs.activity_parts, [pl.col("day").min().alias("first"), *sums])
    found = parts.select(pl.col("first").min(), pl.exclude("first").sum()).row(0, named=True)
    first = found["first"]
    if first is None:
        return None
    buyers = inputs.customers.select("customer_id", pl.col("first_purchase").cast(pl.Date))
    rows = []
    for k, (label, (start, end)) in enumerate(zip(labels, bounds, strict=False)):
        rows.append(
            {
                "period": label,
                "period_start": start,
                "period_end": end,
                "covered": first <= start,
                "customers": found[f"c{k}"],
                "new_customers": buyers.filter(pl.col("first_purchase").is_between(start, end, closed="left")).height,
                "purchase_orders": int(found[f"p{k}"]),
                "net_cents": int(found[f"n{k}"]),
            }
        )
    return pl.DataFrame(rows) if rows[-1]["covered"] else None


#: the date of each input's rows that the header shows as the range read
DATE_COLUMNS = {"surveys": "responded_at", "contacts": "signed_up_at", "members": "enrolled_at", "points": "at"}


def dates_read(inputs: Inputs, kind: str) -> tuple[date | None, date | None]:
    """The first and last day of an input's rows (the transactions: of the purchase and return days)."""
    if kind == "transactions":
        if "activity" not in inputs.tables and (inputs.loaded is None or inputs.loaded.activity_parts is None):
            return None, None
        days = _per_part(inputs.activity_parts, [pl.col("day").min().alias("first"), pl.col("day").max().alias("last")])
        return days.select(pl.col("first").min(), pl.col("last").max()).row(0)  # type: ignore[return-value]
    table, column = inputs.get(kind), DATE_COLUMNS.get(kind, "")
    if table is None or column not in table.columns or not table.height:
        return None, None
    day = pl.col(column).cast(pl.Date)
    first, last = table.select(day.min().alias("first"), day.max().alias("last")).row(0)
    return first, last


def input_reads(inputs: Inputs) -> dict[str, InputRead]:
    """What each input read held: its files, rows and people, rejected rows and rows left out as dated on or
    after the as-of date (the transactions: with stage 1's note on the customers with no purchase)."""
    reads = {}
    for kind in ("transactions", *SIDE_KINDS):
        if kind not in inputs.scans:
            continue
        scan, rows = inputs.scans[kind], inputs.get(kind)
        first, last = dates_read(inputs, kind)
        reads[kind] = InputRead(
            kind,
            tuple(str(p) for p in scan.paths),
            rows=rows.height if rows is not None else 0,
            people=rows["customer_id"].drop_nulls().n_unique() if rows is not None else 0,
            rejected=rejected_counts(inputs.rejects.get(kind)),
            left_out=scan.left_out[0] if scan.left_out else 0,
            note=inputs.loaded.left_out_note() if kind == "transactions" and inputs.loaded is not None else None,
            first=first,
            last=last,
        )
    return reads


def rejected_counts(rows: pl.DataFrame | None) -> tuple[tuple[str, str | None, int], ...]:
    """The rejected rows per reason and column, the most first."""
    if rows is None or not rows.height:
        return ()
    counts = (
        rows.group_by("reject_reason", "reject_column")
        .len()
        .sort(["len", "reject_reason", "reject_column"], descending=[True, False, False], nulls_last=True)
    )
    return tuple(counts.iter_rows())
