"""Data commands: ``loyalty validate`` (check an export) and ``loyalty sample`` (write a synthetic shop)."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated  # noqa: UP035

import typer

from loyalty_cli import words
from loyalty_cli.cli import options as opt
from loyalty_cli.cli.common import (
    describe_scan,
    handle_errors,
    list_problems,
    note_left_out,
    read_options,
    to_date,
    write_rejects,
)
from loyalty_cli.cli.console import Output
from loyalty_cli.errors import ExitCode

VALIDATE_EXAMPLES = """
Examples:

  loyalty validate sample_data/transactions.csv

  loyalty validate exports/ --customer-col CustomerID --rejects rejects.csv

  loyalty validate survey.csv --kind surveys --encoding latin-1
"""


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


def _profile_lines(kind: str, rows):  # noqa: ANN001, ANN202 - a LazyFrame
    import polars as pl

    from loyalty_cli.stage1.customers import transaction_profile

    if kind == "transactions":
        return transaction_profile(rows)
    if kind == "surveys":
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
    names = rows.collect_schema().names()
    return rows.select(
        pl.len().alias("contacts"),
        pl.col("customer_id").n_unique().alias("unique_ids"),
        *([pl.col("email").is_not_null().sum().alias("with_email")] if "email" in names else []),
        *([pl.col("email_consent").fill_null(False).sum().alias("email_consent")] if "email_consent" in names else []),
    )


@handle_errors
def validate(
    inputs: opt.Inputs,
    kind: Annotated[
        str, typer.Option("--kind", metavar="KIND", help="transactions, surveys or contacts.")
    ] = "transactions",
    as_of: opt.AsOf = None,
    rejects: opt.Rejects = None,
    quiet: opt.Quiet = False,
    mapping: opt.Mapping = None,
    customer_col: opt.CustomerCol = None,
    date_col: opt.DateCol = None,
    amount_col: opt.AmountCol = None,
    order_col: opt.OrderCol = None,
    quantity_col: opt.QuantityCol = None,
    price_col: opt.PriceCol = None,
    category_col: opt.CategoryCol = None,
    email_col: opt.EmailCol = None,
    score_col: Annotated[
        str | None,
        typer.Option(  # noqa: UP045
            "--score-col", metavar="NAME", help="Score column (surveys).", rich_help_panel=opt.COLUMNS
        ),
    ] = None,
    date_format: opt.DateFormat = None,
    delimiter: opt.Delimiter = None,
    encoding: opt.Encoding = "utf-8",
    decimal_comma: opt.DecimalComma = False,
    on_overlap: opt.OnOverlap = "error",
) -> None:
    """Check an export without computing metrics: columns found, rows, customers, dates, orders vs lines,
    returns netted, every row that would be rejected, with why, and lines repeated across files. Exit code 1
    when rows would be rejected or files overlap (unless --on-overlap keep-first)."""
    import polars as pl

    from loyalty_cli.errors import UsageError
    from loyalty_cli.io.readers import read_table
    from loyalty_cli.io.validate import collect_checked

    out = Output(quiet=quiet)
    if kind not in ("transactions", "surveys", "contacts"):
        raise UsageError(f"--kind must be transactions, surveys or contacts, got {kind!r}")
    date_field = {"transactions": "order_date", "surveys": "responded_at", "contacts": "signed_up_at"}[kind]
    options = read_options(
        columns={
            "customer_id": customer_col,
            date_field: date_col,
            "amount": amount_col,
            "order_id": order_col,
            "quantity": quantity_col,
            "unit_price": price_col,
            "category": category_col,
            "email": email_col,
            "score": score_col,
        },
        mapping=mapping,
        date_format=date_format,
        delimiter=delimiter,
        encoding=encoding,
        decimal_comma=decimal_comma,
        on_overlap=on_overlap,
        out=out,
    )
    scan = read_table(kind, inputs, options, as_of=to_date(as_of) if kind != "contacts" else None)
    describe_scan(scan, out)
    with out.status(f"Checking {kind} ..."):
        (profile,), (rejected,) = collect_checked(
            [scan], [_profile_lines(kind, scan.rows)], on_bad_rows="skip", stop_on_overlap=False
        )
    note_left_out([scan], out)
    if kind == "transactions" and profile["no_purchase_customers"][0]:  # stage 1 keeps customers with a purchase
        n, net = int(profile["no_purchase_customers"][0]), float(profile["no_purchase_net"][0])
        out.note(
            f"{words.count(n, 'customer')} with no purchase, only returns (net {net:,.2f}): the other commands "
            "leave them out of their customer tables (net revenue and return orders here include them)"
        )
    later = sum(scan.left_out)  # rows dated on or after --as-of: read, then left out (not rejected)
    overlaps = scan.overlap.found if scan.overlap is not None else []
    repeated = sum(o.lines for o in overlaps)  # lines repeated across files: kept or (keep-first) left out
    dropped = repeated if scan.overlap is not None and scan.overlap.policy == "keep-first" else 0
    kept = int(profile["lines"][0]) if kind == "transactions" else int(profile[0, 0])
    total = kept + rejected.height + later + dropped
    # Cast before transposing: a transpose would cast ints and dates to a common float (14944.0 for a date).
    facts = profile.select(pl.all().cast(pl.String)).transpose(
        include_header=True, header_name="fact", column_names=["value"]
    )
    facts = facts.with_columns(pl.col("fact").replace(_FACT_LABELS))
    facts = pl.concat(
        [
            pl.DataFrame({"fact": ["rows read", "rows rejected"], "value": [f"{total}", f"{rejected.height}"]}),
            *([pl.DataFrame({"fact": ["rows on or after the as-of date"], "value": [f"{later}"]})] if later else []),
            *(
                [pl.DataFrame({"fact": ["rows repeated from an earlier file"], "value": [f"{repeated}"]})]
                if repeated
                else []
            ),
            facts,
        ]
    )
    out.table(
        facts,
        title=f"{kind.capitalize()}: {', '.join(str(p) for p in scan.paths[:3])}"
        + (" ..." if len(scan.paths) > 3 else ""),
    )
    overlapping = bool(overlaps) and not dropped
    if overlapping:  # summed twice by every command (which stops): a problem, like a bad row
        verb = "repeats a line" if repeated == 1 else "repeat lines"
        out.warn(f"{repeated:,} of {words.count(total, 'row')} {verb} of an earlier file:")
        for overlap in overlaps:
            out.note(f"  {overlap.describe()}", force=True)
        out.note(
            "  Remove the duplicate export, or pass --on-overlap keep-first to read each repeated line from the "
            "first file that has it.",
            force=True,
        )
    if rejected.height:
        out.warn(f"{rejected.height:,} of {words.count(total, 'row')} would be rejected:")
        list_problems(rejected, out, always=True)
        if rejects is not None:
            write_rejects([rejected], rejects, out, describe=False)
    if rejected.height or overlapping:
        raise typer.Exit(code=int(ExitCode.BAD_INPUT))
    out.note("No bad rows.")


# loyalty_cli.sample's SAMPLE_CUSTOMERS and SAMPLE_SEED (the shipped shop; a test checks), without importing
# NumPy for --help.
SAMPLE_CUSTOMERS, SAMPLE_SEED = 3000, 7

SAMPLE_EXAMPLES = """
Examples:

  loyalty sample -o my_sample

  loyalty sample --customers 20000 --seed 1 --format parquet -o big_sample
"""


@handle_errors
def sample(
    output: Annotated[
        Path,
        typer.Option(
            "--output",
            "-o",
            metavar="DIR",
            help="Folder to write transactions, surveys, contacts, members and points into (created if missing).",
        ),
    ],
    customers: Annotated[
        int, typer.Option("--customers", min=1, help="Number of customers (prospects come on top).")
    ] = SAMPLE_CUSTOMERS,
    seed: Annotated[int, typer.Option("--seed", help="Random seed (same seed, same data).")] = SAMPLE_SEED,
    fmt: Annotated[str, typer.Option("--format", metavar="csv|parquet", help="csv or parquet.")] = "csv",
    force: Annotated[bool, typer.Option("--force", help="Overwrite the five files when the folder has them.")] = False,
    quiet: opt.Quiet = False,
) -> None:
    """Write a realistic synthetic shop into a folder: transactions.csv (order lines, with returns and
    cancellations), surveys.csv (NPS answers), contacts.csv (customers and prospects), members.csv (loyalty
    programme members and their tiers) and points.csv (the points ledger); .parquet with --format parquet. The
    defaults write the shop shipped in sample_data/ (3,000 customers, seed 7), byte for byte. Files already
    there are not overwritten without --force (exit code 2)."""
    from loyalty_cli.errors import UsageError
    from loyalty_cli.sample import generate_sample, sample_paths, write_sample

    out = Output(quiet=quiet)
    if fmt not in ("csv", "parquet"):
        raise UsageError(f"--format must be csv or parquet, got {fmt!r}")
    # Checked before anything is written: the shipped sample_data/ is one `-o sample_data` away.
    existing = [p.name for p in sample_paths(output, fmt) if p.exists() or p.is_symlink()]  # type: ignore[arg-type]
    if existing and not force:
        raise UsageError(
            f"{output} already holds {', '.join(existing)}: loyalty sample would overwrite "
            + ("it" if len(existing) == 1 else "them"),
            hint="Pass --force to overwrite the sample's files (transactions, surveys, contacts, members, points), "
            "or write to another folder with -o.",
        )
    data = generate_sample(customers=customers, seed=seed)
    for path in write_sample(data, output, fmt=fmt):  # type: ignore[arg-type]
        out.note(f"Wrote {path}")


def register(app: typer.Typer) -> None:
    app.command("validate", epilog=VALIDATE_EXAMPLES, rich_help_panel="Data")(validate)
    app.command("sample", epilog=SAMPLE_EXAMPLES, rich_help_panel="Data")(sample)
