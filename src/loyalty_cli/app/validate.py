"""``validate``: check an export without computing metrics: what was read, and every problem with its rows.

The export is read as a command would read it (``InputSpec.check``), and only a profile of its valid rows is
collected (:data:`PROFILES`): the facts table. Rows that would be rejected and lines repeated across files
(summed twice by every command) are problems; rows dated on or after the as-of date are left out, not bad."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import polars as pl

from loyalty_cli.app.inputs import Inputs
from loyalty_cli.app.messages import Message, Messages
from loyalty_cli.errors import ConfigError, setting
from loyalty_cli.stage1.customers import order_table
from loyalty_cli.stage1.plans import per_customer
from loyalty_cli.words import count

#: the kinds of export validate checks, and the date column of each
DATE_FIELDS = {"transactions": "order_date", "surveys": "responded_at", "contacts": "signed_up_at"}

# The facts as people read them (the profiles name them as columns).
_FACT_LABELS = {
    "lines": "lines kept",
    "purchase_orders": "purchase orders",
    "return_orders": "return orders",
    "returns_value": "returns value",
    "net_revenue": "net revenue",
    "buying_customers": "customers with a purchase",
    "no_purchase_customers": "customers with no purchase (only returns)",
    "no_purchase_net": "net value of customers with no purchase",
    "first_date": "first date",
    "last_date": "last date",
    "non_response": "non-responses",
    "unique_ids": "unique ids",
    "with_email": "with an email",
    "email_consent": "email consent",
}


def customer_profiles(lines: pl.LazyFrame) -> pl.LazyFrame:
    """Each customer's part of the transaction profile, from their orders: lines, orders, purchase and return
    orders, returned and net cents, whether they bought, first and last order. Every figure of the profile adds
    up from these (:func:`transaction_profile`), so the Spark engine runs this on buckets of customers."""
    orders = order_table(lines)
    cents, returned = pl.col("value_cents"), pl.col("value_cents") < 0
    return orders.group_by("customer_id").agg(
        pl.col("lines").sum(),
        pl.len().alias("orders"),
        pl.col("is_purchase").sum().alias("purchase_orders"),
        returned.sum().alias("return_orders"),
        (-cents).filter(returned).cast(pl.Int128).sum().alias("returns_cents"),
        cents.cast(pl.Int128).sum().alias("net_cents"),
        pl.col("is_purchase").any().alias("bought"),
        pl.col("order_date").min().alias("first"),
        pl.col("order_date").max().alias("last"),
    )


def transaction_profile(customers: pl.DataFrame) -> pl.DataFrame:
    """One row describing the valid transaction lines, from :func:`customer_profiles`: lines, orders,
    purchases, returns, customers, dates, and the customers with no purchase (only returns: the customer
    summary leaves them out) with their net value. Money is summed in cents, then divided once."""
    bought = pl.col("bought")
    return customers.select(
        pl.col("lines").sum(),
        pl.col("orders").sum(),
        pl.col("purchase_orders").sum(),
        pl.col("return_orders").sum(),
        (pl.col("returns_cents").sum() / 100).alias("returns_value"),
        (pl.col("net_cents").sum() / 100).alias("net_revenue"),
        pl.len().alias("customers"),
        bought.sum().alias("buying_customers"),
        (~bought).sum().alias("no_purchase_customers"),
        (pl.col("net_cents").filter(~bought).sum() / 100).alias("no_purchase_net"),
        pl.col("first").min().dt.date().alias("first_date"),
        pl.col("last").max().dt.date().alias("last_date"),
    )


def _survey_profile(rows: pl.LazyFrame) -> pl.LazyFrame:
    return rows.select(
        pl.len().alias("responses"),
        pl.col("score").is_not_null().sum().alias("scored"),
        pl.col("score").is_null().sum().alias("non_response"),
        *(
            [pl.col("customer_id").n_unique().alias("respondents")]
            if "customer_id" in rows.collect_schema().names()
            else []
        ),
        pl.col("responded_at").min().dt.date().alias("first_date"),
        pl.col("responded_at").max().dt.date().alias("last_date"),
    )


def _contact_profile(rows: pl.LazyFrame) -> pl.LazyFrame:
    names = rows.collect_schema().names()
    return rows.select(
        pl.len().alias("contacts"),
        pl.col("customer_id").n_unique().alias("unique_ids"),
        *([pl.col("email").is_not_null().sum().alias("with_email")] if "email" in names else []),
        *([pl.col("email_consent").fill_null(False).sum().alias("email_consent")] if "email_consent" in names else []),
    )


#: the plan over the valid rows of each kind (``InputSpec.lines``: ``{"profile": ...}``): one row describing
#: them, or for transactions one row per customer (:func:`transaction_profile` adds them up)
PROFILES: dict[str, Callable[[pl.LazyFrame], pl.LazyFrame]] = {
    "transactions": per_customer(customer_profiles),
    "surveys": _survey_profile,
    "contacts": _contact_profile,
}


@dataclass(frozen=True)
class ValidateConfig:
    """``kind``: the kind of export, transactions, surveys or contacts."""

    kind: str = "transactions"

    def __post_init__(self) -> None:
        if self.kind not in DATE_FIELDS:
            raise ConfigError("kind", f"must be transactions, surveys or contacts, got {self.kind!r}")

    @property
    def date_field(self) -> str:
        return DATE_FIELDS[self.kind]

    @property
    def lines(self) -> dict[str, Callable[[pl.LazyFrame], pl.LazyFrame]]:
        """The plan to collect over the valid rows (``InputSpec.lines``)."""
        return {"profile": PROFILES[self.kind]}


@dataclass(frozen=True)
class ValidateResult:
    """``facts``: ``fact, value`` (text), every row read accounted for first; ``title``: the kind and its files;
    ``rejected``: every row that would be rejected, with why; ``notes``: said before the facts; ``verdict``:
    said after them (the problems, or that there are none); ``ok``: no row would be rejected and no line
    repeats one of an earlier file."""

    kind: str
    facts: pl.DataFrame
    title: str
    rejected: pl.DataFrame
    rows: int  # read: kept, rejected, dated on or after the as-of date, or repeated (keep-first)
    notes: list[Message]
    verdict: list[Message]
    ok: bool


def validate(inputs: Inputs, config: ValidateConfig) -> ValidateResult:
    kind = config.kind
    scan, profile, rejected = inputs.scans[kind], inputs.tables["profile"], inputs.rejects[kind]
    if kind == "transactions":
        profile = transaction_profile(profile)
    notes = Messages()
    if kind == "transactions" and profile["no_purchase_customers"][0]:  # stage 1 keeps customers with a purchase
        n, net = int(profile["no_purchase_customers"][0]), float(profile["no_purchase_net"][0])
        notes.note(
            f"{count(n, 'customer')} with no purchase, only returns (net {net:,.2f}): the other commands "
            "leave them out of their customer tables (net revenue and return orders here include them)"
        )
    later = sum(scan.left_out)  # rows dated on or after the as-of date: read, then left out (not rejected)
    overlaps = scan.overlap.found if scan.overlap is not None else []
    repeated = sum(o.lines for o in overlaps)  # lines repeated across files: kept or (keep-first) left out
    dropped = repeated if scan.overlap is not None and scan.overlap.policy == "keep-first" else 0
    kept = int(profile["lines"][0]) if kind == "transactions" else int(profile[0, 0])
    total = kept + rejected.height + later + dropped
    verdict = Messages()
    overlapping = bool(overlaps) and not dropped
    if overlapping:  # summed twice by every command (which stops): a problem, like a bad row
        verb = "repeats a line" if repeated == 1 else "repeat lines"
        verdict.warn(f"{repeated:,} of {count(total, 'row')} {verb} of an earlier file:")
        for overlap in overlaps:
            verdict.note(f"  {overlap.describe()}", always=True)
        verdict.note(
            f"  Remove the duplicate export, or pass {setting('on_overlap')} keep-first to read each repeated line "
            "from the first file that has it.",
            always=True,
        )
    if rejected.height:
        verdict.warn(f"{rejected.height:,} of {count(total, 'row')} would be rejected:")
    ok = not (rejected.height or overlapping)
    if ok:
        verdict.note("No bad rows.")
    return ValidateResult(
        kind=kind,
        facts=_facts(profile, total=total, rejected=rejected.height, later=later, repeated=repeated),
        title=f"{kind.capitalize()}: {', '.join(str(p) for p in scan.paths[:3])}"
        + (" ..." if len(scan.paths) > 3 else ""),
        rejected=rejected,
        rows=total,
        notes=notes.items,
        verdict=verdict.items,
        ok=ok,
    )


def _facts(profile: pl.DataFrame, *, total: int, rejected: int, later: int, repeated: int) -> pl.DataFrame:
    """The profile as ``fact, value`` rows, after how many rows were read, rejected, dated on or after the as-of
    date and repeated from an earlier file (the last two only when there are any)."""
    # Cast before transposing: a transpose would cast ints and dates to a common float (14944.0 for a date).
    facts = profile.select(pl.all().cast(pl.String)).transpose(
        include_header=True, header_name="fact", column_names=["value"]
    )
    facts = facts.with_columns(pl.col("fact").replace(_FACT_LABELS))
    counts = {"rows read": total, "rows rejected": rejected}
    if later:
        counts["rows on or after the as-of date"] = later
    if repeated:
        counts["rows repeated from an earlier file"] = repeated
    head = pl.DataFrame({"fact": list(counts), "value": [f"{v}" for v in counts.values()]})
    return pl.concat([head, facts])
