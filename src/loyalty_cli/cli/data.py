"""Data commands: ``loyalty validate`` (check an export) and ``loyalty sample`` (write a synthetic shop)."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

import typer

from loyalty_cli.cli import command, common
from loyalty_cli.cli import options as opt
from loyalty_cli.cli.console import Output
from loyalty_cli.errors import ExitCode

if TYPE_CHECKING:
    from loyalty_cli.app.inputs import InputSpec
    from loyalty_cli.app.validate import ValidateConfig, ValidateResult
    from loyalty_cli.io.readers import ReadOptions
    from loyalty_cli.spark import SparkSettings


VALIDATE_EXAMPLES = """
Examples:

  loyalty validate sample_data/transactions.csv

  loyalty validate exports/ --customer-col CustomerID --rejects rejects.csv

  loyalty validate survey.csv --kind surveys --encoding latin-1
"""


@common.handle_errors
@opt.declare(
    kind=opt.o("transactions, surveys or contacts.", "KIND"),
    score_col=opt.o("Score column (surveys).", "NAME", panel=opt.COLUMNS),
)
def validate(
    inputs: opt.Inputs,
    kind: str = "transactions",
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
    score_col: str | None = None,
    date_format: opt.DateFormat = None,
    delimiter: opt.Delimiter = None,
    encoding: opt.Encoding = "utf-8",
    decimal_comma: opt.DecimalComma = False,
    on_overlap: opt.OnOverlap = "error",
    engine: opt.Engine = None,
    spark_master: opt.SparkMaster = None,
    spark_remote: opt.SparkRemote = None,
) -> None:
    """Check an export without computing metrics: columns found, rows, customers, dates, orders vs lines,
    returns netted, every row that would be rejected, with why, and lines repeated across files. Exit code 1
    when rows would be rejected or files overlap (unless --on-overlap keep-first). With --engine spark the
    transactions are checked on Spark, with the same facts and rows."""
    command.execute(COMMAND, command.flat(locals()), Output(quiet=quiet))


def _configure(options: command.Options) -> ValidateConfig:
    from loyalty_cli.app.validate import ValidateConfig

    return ValidateConfig(kind=options["kind"])


def _inputs(options: command.Options, config: ValidateConfig, out: Output) -> InputSpec:
    from loyalty_cli.app.inputs import InputSpec

    columns = {
        "customer_id": options["customer_col"],
        config.date_field: options["date_col"],
        "amount": options["amount_col"],
        "order_id": options["order_col"],
        "quantity": options["quantity_col"],
        "unit_price": options["price_col"],
        "category": options["category_col"],
        "email": options["email_col"],
        "score": options["score_col"],
    }
    settings = ("mapping", "date_format", "delimiter", "encoding", "decimal_comma", "on_overlap")
    read = common.read_options(columns=columns, **{name: options[name] for name in settings}, out=out)
    return InputSpec(
        **{config.kind: list(options["inputs"])},
        options=read,
        as_of=common.to_date(options["as_of"]) if config.kind != "contacts" else None,
        on_bad_rows="skip",
        check=config.kind,
        lines=config.lines,
        spark=_spark(options, config, read),
    )


def _spark(options: command.Options, config: ValidateConfig, read: ReadOptions) -> SparkSettings | None:
    """Where the transactions are checked: on Spark with --engine spark (or the mapping file's engine); surveys
    and contacts are read here, as every command reads them."""
    from loyalty_cli.engines import engine_fields
    from loyalty_cli.errors import UsageError

    given = {name: options[name] for name in ("engine", "spark_master", "spark_remote")}
    if config.kind != "transactions":
        if given["engine"] == "spark" or given["spark_master"] or given["spark_remote"]:
            raise UsageError(
                f"--engine and the Spark options check transactions only, not {config.kind}",
                hint=f"Leave them out: {config.kind} are read on this machine by every command.",
            )
        return None
    return engine_fields(**given, mapping=read.mapping_file).get("spark")


def _deliver(result: ValidateResult, options: command.Options, out: Output) -> list[Path]:
    """The facts, then the problems; exit code 1 when there are any (the rejects file written first)."""
    common.show_messages(result.notes, out)
    out.table(result.facts, title=result.title)
    common.show_messages(result.verdict, out)
    written: list[Path] = []
    if result.rejected.height:
        common.list_problems(result.rejected, out, always=True)
        if options["rejects"] is not None:
            common.write_rejects([result.rejected], options["rejects"], out, describe=False)
            written.append(options["rejects"])  # a Path, or a cluster path (see command.execute)
    if not result.ok:
        raise typer.Exit(code=int(ExitCode.BAD_INPUT))
    return written


COMMAND = command.Command(
    name="validate",
    configure=_configure,
    inputs=_inputs,
    compute=command.app_function("validate", messages=False),
    deliver=_deliver,
    rejects=lambda inputs, options, out: [],  # the rows that would be rejected are the report: see _deliver
    reading="the export",
)


# loyalty_cli.sample's SAMPLE_CUSTOMERS and SAMPLE_SEED (the shipped shop; a test checks), without importing
# NumPy for --help.
SAMPLE_CUSTOMERS, SAMPLE_SEED = 3000, 7

SAMPLE_EXAMPLES = """
Examples:

  loyalty sample -o my_sample

  loyalty sample --customers 20000 --seed 1 --format parquet -o big_sample
"""


@common.handle_errors
@opt.declare(
    output=opt.o(
        "Folder to write transactions, surveys, contacts, members and points into (created if missing).",
        "DIR",
        flag=("--output", "-o"),
    ),
    customers=opt.o("Number of customers (prospects come on top).", min=1),
    seed=opt.o("Random seed (same seed, same data)."),
    fmt=opt.o("csv or parquet.", "csv|parquet", flag="--format"),
    force=opt.o("Overwrite the five files when the folder has them."),
)
def sample(
    output: Path,
    customers: int = SAMPLE_CUSTOMERS,
    seed: int = SAMPLE_SEED,
    fmt: str = "csv",
    force: bool = False,
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
