"""Options shared by the commands, as ``Annotated`` aliases so each is declared once."""

from __future__ import annotations

import inspect
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Annotated, Any, TypeVar

import typer

COLUMNS = "Columns and file format"
OUTPUT = "Output"
F = TypeVar("F", bound=Callable[..., Any])

Inputs = Annotated[
    list[str],
    typer.Argument(
        metavar="FILE...", help="CSV or Parquet files, folders of them, or globs (quote globs).", show_default=False
    ),
]
Output = Annotated[
    str | None,
    typer.Option(
        "--output",
        "-o",
        metavar="FILE",
        help="Write the table here (.csv, .parquet, .json, .xlsx; - for stdout).",
        rich_help_panel=OUTPUT,
    ),
]
Format = Annotated[
    str | None,
    typer.Option(
        "--format",
        metavar="csv|parquet|json|xlsx",
        help="csv, parquet, json or xlsx (default: from the file suffix).",
        rich_help_panel=OUTPUT,
    ),
]
AsOf = Annotated[
    datetime | None,
    typer.Option(
        "--as-of",
        formats=["%Y-%m-%d"],
        help="Compute as of this date (exclusive: data before it). Default: the day after the last transaction.",
        show_default=False,
    ),
]
Quiet = Annotated[
    bool,
    typer.Option(
        "--quiet",
        "-q",
        help="No notes on stderr, and with -o no summary tables either (the data is in the file): silent unless "
        "there is a warning or an error. Without -o the table is the data and still prints.",
    ),
]
OnBadRows = Annotated[
    str,
    typer.Option(
        "--on-bad-rows",
        metavar="error|skip",
        help="error: stop at bad rows (default). skip: leave them out and write "
        "them, with the reason, to the rejects file.",
        rich_help_panel=COLUMNS,
    ),
]
OnOverlap = Annotated[
    str,
    typer.Option(
        "--on-overlap",
        metavar="error|keep-first",
        help="Lines repeated exactly across the input files (a copy and its .gz, exports that cover the same "
        "days): error (default) stops; keep-first reads each from the first file, in sorted path order, that "
        "has it.",
        rich_help_panel=COLUMNS,
    ),
]
Rejects = Annotated[
    str | None,
    typer.Option(
        "--rejects",
        metavar="PATH",
        help="Where --on-bad-rows skip writes rejected rows (default: beside the output, or ./rejects.csv); with "
        "--engine spark also a cluster path (s3a://, abfss://, gs://, hdfs://, file://).",
        rich_help_panel=COLUMNS,
    ),
]
Mapping = Annotated[
    Path | None,
    typer.Option(
        "--mapping",
        help="Column mapping file (default: rules/columns.toml in the current folder, when there is one).",
        rich_help_panel=COLUMNS,
    ),
]
CustomerCol = Annotated[
    str | None, typer.Option("--customer-col", metavar="NAME", help="Customer id column.", rich_help_panel=COLUMNS)
]
DateCol = Annotated[
    str | None, typer.Option("--date-col", metavar="NAME", help="Order date column.", rich_help_panel=COLUMNS)
]
AmountCol = Annotated[
    str | None,
    typer.Option(
        "--amount-col", metavar="NAME", help="Amount column (or map quantity and price).", rich_help_panel=COLUMNS
    ),
]
OrderCol = Annotated[
    str | None, typer.Option("--order-col", metavar="NAME", help="Order/invoice id column.", rich_help_panel=COLUMNS)
]
QuantityCol = Annotated[
    str | None, typer.Option("--quantity-col", metavar="NAME", help="Quantity column.", rich_help_panel=COLUMNS)
]
PriceCol = Annotated[
    str | None, typer.Option("--price-col", metavar="NAME", help="Unit price column.", rich_help_panel=COLUMNS)
]
CategoryCol = Annotated[
    str | None, typer.Option("--category-col", metavar="NAME", help="Product category column.", rich_help_panel=COLUMNS)
]
EmailCol = Annotated[
    str | None, typer.Option("--email-col", metavar="NAME", help="Email column.", rich_help_panel=COLUMNS)
]
DateFormat = Annotated[
    str | None,
    typer.Option(
        "--date-format",
        metavar="FORMAT",
        help="strftime format of text dates, e.g. '%d/%m/%Y %H:%M' (default: detected).",
        rich_help_panel=COLUMNS,
    ),
]
Delimiter = Annotated[
    str | None,
    typer.Option(
        "--delimiter",
        metavar="CHAR",
        help="CSV delimiter, or whitespace for columns aligned with spaces (default: detected).",
        rich_help_panel=COLUMNS,
    ),
]
Encoding = Annotated[
    str,
    typer.Option(
        "--encoding",
        metavar="ENCODING",
        help="Text encoding: utf-8 (with or without BOM), latin-1, cp1252, ...",
        rich_help_panel=COLUMNS,
    ),
]
DecimalComma = Annotated[
    bool, typer.Option("--decimal-comma", help="Numbers use a decimal comma (12,50).", rich_help_panel=COLUMNS)
]

# Where stage 1 runs (commands that read transactions; see cli.common.TransactionColumns.engine_settings).
ENGINE = "Engine and memory"
MemoryLimit = Annotated[
    str | None,
    typer.Option(
        "--memory-limit",
        metavar="SIZE",
        help="Memory budget of reading the transactions (e.g. 1GB, 512MB; none: no budget). Beyond it they are "
        "read in several passes over customer partitions, with the same results. Default: the mapping file's "
        "memory_limit, else half the machine's available memory.",
        rich_help_panel=ENGINE,
        show_default=False,
    ),
]
Engine = Annotated[
    str | None,
    typer.Option(
        "--engine",
        metavar="polars|spark",
        help="Where stage 1 (lines -> customers) runs: polars, in this process, or spark, for exports that "
        "outgrow one machine (pip install 'loyalty-cli[spark]'; Java 17). Default: the mapping file's engine, "
        "else polars.",
        rich_help_panel=ENGINE,
        show_default=False,
    ),
]
SparkMaster = Annotated[
    str | None,
    typer.Option(
        "--spark-master",
        metavar="URL",
        help="Spark master for --engine spark (default local[*]; yarn, spark://host:7077 ...).",
        rich_help_panel=ENGINE,
        show_default=False,
    ),
]
SparkRemote = Annotated[
    str | None,
    typer.Option(
        "--spark-remote",
        metavar="sc://HOST:PORT",
        help="Spark Connect server for --engine spark (default: the SPARK_REMOTE variable, when set).",
        rich_help_panel=ENGINE,
        show_default=False,
    ),
]

# Email hand-off and control groups (commands that write a customer list; see cli/campaign.py).
LISTS = "Email hand-off and control group"
Target = Annotated[
    str | None,
    typer.Option(
        "--target",
        metavar="TOOL",
        help="Write the list for an email tool: mailchimp, klaviyo, braze, hubspot "
        "or generic (spreadsheet CSV). Its header names and date format; emails trimmed, "
        "lowercased and deduplicated; rows without a usable email or consent left out (listed "
        "in NAME.dropped.csv); files over the tool's size limit split; NAME.manifest.json.",
        rich_help_panel=LISTS,
        show_default=False,
    ),
]
HoldoutShare = Annotated[
    float | None,
    typer.Option(
        "--holdout-share",
        metavar="SHARE",
        help="Keep this share of the list (e.g. 0.1) out of the campaign "
        "as a control group, written to NAME.control.csv; chosen by a hash of the customer id "
        "and --seed, so a customer is in the same group on every run.",
        rich_help_panel=LISTS,
        show_default=False,
    ),
]
HoldoutSeed = Annotated[
    str | None,
    typer.Option(
        "--seed",
        metavar="WORD",
        help="Seed of the control group split (any word or number, e.g. the "
        "campaign's name): the same seed gives the same split.",
        rich_help_panel=LISTS,
        show_default=False,
    ),
]
Arms = Annotated[
    str | None,
    typer.Option(
        "--arms",
        metavar="A,B,control",
        help="Split the list into test arms instead (names, comma-separated), each written to NAME.<arm>.csv "
        "with an arm column, by the hash of --holdout-share with --seed: the arm control is the control group "
        "(the same customers as --holdout-share with its share and seed), the others get the campaign. Not with "
        "--holdout-share.",
        rich_help_panel=LISTS,
        show_default=False,
    ),
]
ArmShares = Annotated[
    str | None,
    typer.Option(
        "--arm-shares",
        metavar="0.4,0.4,0.2",
        help="The arms' shares of the list, in the order of --arms, summing to 1 (default: equal shares).",
        rich_help_panel=LISTS,
        show_default=False,
    ),
]
MaxFileMb = Annotated[
    float | None,
    typer.Option(
        "--max-file-mb",
        metavar="MB",
        help="Split CSV lists into numbered parts of at most this many MB "
        "(default: the target's limit: Klaviyo 50, Braze 500, HubSpot 512).",
        rich_help_panel=LISTS,
        show_default=False,
    ),
]
Contacts = Annotated[
    Path | None,
    typer.Option(
        "--contacts",
        help="Contacts export (customer_id, email, consent) for --target: "
        "emails come from it, and with a consent column only customers who said yes are "
        "written.",
        rich_help_panel=LISTS,
        show_default=False,
    ),
]
ListColumns = Annotated[
    list[str] | None,
    typer.Option(
        "--columns",
        metavar="A,B",
        help="With --target: more columns of the command's table for the list (comma-separated; repeatable), or "
        "all. By default a list carries the id, email, tag and the few fields a template uses (net spend, last "
        "purchase ...).",
        rich_help_panel=LISTS,
        show_default=False,
    ),
]


@dataclass(frozen=True)
class Opt:
    """A command's own option, declared in one line beside its siblings (see :func:`declare`)."""

    help: str
    metavar: str | None = None
    panel: str | None = None
    flag: str | tuple[str, ...] | None = None
    more: dict[str, Any] = field(default_factory=dict)

    def option(self, name: str) -> Any:
        flags = (
            (self.flag,) if isinstance(self.flag, str) else self.flag or ("--" + name.rstrip("_").replace("_", "-"),)
        )
        return typer.Option(*flags, metavar=self.metavar, help=self.help, rich_help_panel=self.panel, **self.more)


def o(
    help: str,
    metavar: str | None = None,
    *,
    panel: str | None = None,
    flag: str | tuple[str, ...] | None = None,
    **more: Any,
) -> Opt:
    """One option: its help, metavar, help panel, flag or flags (default: ``--`` and the parameter's name with
    dashes) and any other :func:`typer.Option` setting."""
    return Opt(help, metavar, panel, flag, more)


def declare(**options: Opt) -> Callable[[F], F]:
    """Give a command's plain parameters (``bins: int = 5``) their options, by parameter name: the command's
    signature stays one line per option and the help reads as a table under its decorator."""

    def decorate(func: F) -> F:
        signature = inspect.signature(func, eval_str=True)
        unknown = set(options) - set(signature.parameters)
        if unknown:
            raise TypeError(f"{func.__name__} has no parameter {', '.join(sorted(unknown))}")
        parameters = [
            p.replace(annotation=Annotated[p.annotation, options[p.name].option(p.name)]) if p.name in options else p
            for p in signature.parameters.values()
        ]
        func.__signature__ = signature.replace(parameters=parameters)  # type: ignore[attr-defined]
        func.__annotations__ = {p.name: p.annotation for p in parameters}
        return func

    return decorate
