"""``loyalty nps``: NPS with its uncertainty, trend, breakdowns and closed-loop lists (also for email tools)."""

from __future__ import annotations

import dataclasses
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING, Annotated  # noqa: UP035

import typer

from loyalty_cli import words
from loyalty_cli.cli import options as opt
from loyalty_cli.cli.command import Command, Options, execute, flat
from loyalty_cli.cli.common import (
    DEFAULT_MAPPING,
    NO_LIST_OPTIONS,
    ListOptions,
    check_bad_rows,
    check_table_path,
    handle_errors,
    list_options,
    list_spec,
    read_options,
    rejects_path,
    show_messages,
    to_date,
    write_rejects,
)
from loyalty_cli.cli.console import Output

if TYPE_CHECKING:
    import polars as pl

    from loyalty_cli.app.inputs import Inputs, InputSpec
    from loyalty_cli.app.messages import Messages
    from loyalty_cli.app.nps import NpsCommandConfig, NpsResult
    from loyalty_cli.io.columns import MappingFile

EXAMPLES = """
Examples:

  loyalty nps sample_data/surveys.csv

  loyalty nps sample_data/surveys.csv --transactions sample_data/transactions.csv

  loyalty nps surveys.csv --period month --survey-type relational -o nps.csv --trend trend.csv

  loyalty nps surveys.csv --by touchpoint --interval bootstrap --confidence 0.9

  loyalty nps surveys.csv --transactions orders.csv --list detractors -o call_back.csv

  loyalty nps surveys.csv --transactions orders.csv --by stage

  loyalty nps surveys.csv --list promoters --contacts crm.csv --target mailchimp --holdout-share 0.1 \\
    --seed reviews-2025-05 -o review_asks.csv

  loyalty nps export.csv --encoding latin-1 --score-col "How likely are you to recommend us?"
"""

STATS = "Statistics"

SurveyCol = Annotated[
    str | None,
    typer.Option(  # noqa: UP045
        "--customer-col",
        metavar="NAME",
        help="Respondent's customer id column (leave out for anonymous surveys).",
        rich_help_panel=opt.COLUMNS,
    ),
]
ResponseDateCol = Annotated[
    str | None,
    typer.Option(  # noqa: UP045
        "--date-col",
        metavar="NAME",
        help="Response date column (optional: without one, no trend).",
        rich_help_panel=opt.COLUMNS,
    ),
]
ScoreCol = Annotated[
    str | None,
    typer.Option(  # noqa: UP045
        "--score-col", metavar="NAME", help="0-10 score column.", rich_help_panel=opt.COLUMNS
    ),
]
CommentCol = Annotated[
    str | None,
    typer.Option(  # noqa: UP045
        "--comment-col", metavar="NAME", help="Free-text comment column.", rich_help_panel=opt.COLUMNS
    ),
]
TypeCol = Annotated[
    str | None,
    typer.Option(  # noqa: UP045
        "--survey-type-col",
        metavar="NAME",
        help="Survey type column (relational/transactional).",
        rich_help_panel=opt.COLUMNS,
    ),
]
TouchpointCol = Annotated[
    str | None,
    typer.Option(  # noqa: UP045
        "--touchpoint-col", metavar="NAME", help="Touchpoint column.", rich_help_panel=opt.COLUMNS
    ),
]
EmailCol = Annotated[
    str | None,
    typer.Option(  # noqa: UP045
        "--email-col", metavar="NAME", help="Respondent's email column.", rich_help_panel=opt.COLUMNS
    ),
]


@handle_errors
@list_options
def nps(
    inputs: opt.Inputs,
    output: opt.Output = None,
    fmt: opt.Format = None,
    list_: Annotated[
        str | None,
        typer.Option(  # noqa: UP045
            "--list",
            metavar="LIST",
            help="What -o writes instead of the NPS table: promoters (latest score 9-10: ask for a review "
            "or referral), detractors (latest score 0-6, with comment; with --transactions only high-value ones, "
            "most valuable first: call them back) or customers (every respondent's latest score and category). "
            "The email hand-off options (--target, --holdout-share, ...) apply to these lists.",
            rich_help_panel=opt.OUTPUT,
        ),
    ] = None,
    trend_file: Annotated[
        Path | None,
        typer.Option(  # noqa: UP045
            "--trend",
            help="Also write the trend table (one row per survey type and period) here.",
            rich_help_panel=opt.OUTPUT,
        ),
    ] = None,
    as_of: Annotated[
        datetime | None,
        typer.Option(  # noqa: UP045
            "--as-of",
            formats=["%Y-%m-%d"],
            help="Compute as of this date (exclusive: answers and orders before "
            "it). Default: all answers; orders up to the day after the last one.",
            show_default=False,
        ),
    ] = None,
    by: Annotated[
        list[str] | None,
        typer.Option(  # noqa: UP045
            "--by",
            metavar="COLUMN",
            help="Break NPS down by this column (repeatable): any survey column (e.g. touchpoint), period, "
            "or with --transactions segment, stage (lifecycle stage, as `loyalty lifecycle` gives it), "
            "first_category, first_channel. -o then writes the breakdown.",
        ),
    ] = None,
    period: Annotated[
        str, typer.Option("--period", metavar="PERIOD", help="Trend period: week, month, quarter or year.")
    ] = "quarter",
    survey_type: Annotated[
        str | None,
        typer.Option(  # noqa: UP045
            "--survey-type", metavar="TYPE", help="Keep only this survey type (e.g. relational)."
        ),
    ] = None,
    dedupe: Annotated[
        str,
        typer.Option(
            "--dedupe",
            metavar="HOW",
            help="Repeat answers of a customer: latest (one per customer and survey type), "
            "latest-per-period (one per --period), all, or auto (all for transactional surveys, else "
            "latest-per-period).",
        ),
    ] = "auto",
    interval: Annotated[
        str,
        typer.Option(
            "--interval",
            metavar="METHOD",
            help="Confidence interval: adjusted-wald (good at small n), wald or bootstrap.",
            rich_help_panel=STATS,
        ),
    ] = "adjusted-wald",
    confidence: Annotated[
        float,
        typer.Option(
            "--confidence", help="Confidence level of the intervals and of the change test.", rich_help_panel=STATS
        ),
    ] = 0.95,
    min_n: Annotated[
        int,
        typer.Option(
            "--min-n", help="Groups with fewer answers show their counts but no score.", rich_help_panel=STATS
        ),
    ] = 30,
    bootstrap_samples: Annotated[
        int, typer.Option("--bootstrap-samples", help="Resamples for --interval bootstrap.", rich_help_panel=STATS)
    ] = 2000,
    bootstrap_seed: Annotated[
        int,
        typer.Option(
            "--bootstrap-seed", help="Random seed of the bootstrap (same seed, same interval).", rich_help_panel=STATS
        ),
    ] = 0,
    transactions: Annotated[
        list[str] | None,
        typer.Option(  # noqa: UP045
            "--transactions",
            metavar="FILE",
            help="Transactions export (file, folder or glob; repeatable): adds NPS by RFM "
            "segment (and --by stage), revenue-weighted NPS and value to the lists. Its columns are detected or "
            "mapped in rules/columns.toml.",
            rich_help_panel="Customers",
        ),
    ] = None,
    rules: Annotated[
        str | None,
        typer.Option(  # noqa: UP045
            "--rules",
            metavar="MAP",
            help="Segment map for --transactions (default rfm_grid).",
            rich_help_panel="Customers",
        ),
    ] = None,
    min_spend: Annotated[
        float | None,
        typer.Option(  # noqa: UP045
            "--min-spend",
            help="High-value detractors spent at least this (default: the top 20% of customers by net spend).",
            rich_help_panel="Customers",
        ),
    ] = None,
    lists: ListOptions = NO_LIST_OPTIONS,
    quiet: opt.Quiet = False,
    on_bad_rows: opt.OnBadRows = "error",
    rejects: opt.Rejects = None,
    mapping: opt.Mapping = None,
    customer_col: SurveyCol = None,
    date_col: ResponseDateCol = None,
    score_col: ScoreCol = None,
    comment_col: CommentCol = None,
    survey_type_col: TypeCol = None,
    touchpoint_col: TouchpointCol = None,
    email_col: EmailCol = None,
    date_format: opt.DateFormat = None,
    delimiter: opt.Delimiter = None,
    encoding: opt.Encoding = "utf-8",
    on_overlap: opt.OnOverlap = "error",
) -> None:
    """NPS per survey type with its confidence interval and n, the 0-10 distribution, the trend with a test
    of each change, breakdowns (--by; RFM segments and lifecycle stages with --transactions) and closed-loop
    lists (--list), also for an email tool with a control group (--target, --holdout-share).
    Relational and transactional answers are never pooled."""
    execute(COMMAND, flat(locals()), Output(quiet=quiet))


def _configure(options: Options) -> NpsCommandConfig:
    from loyalty_cli.app.nps import NpsCommandConfig
    from loyalty_cli.errors import UsageError
    from loyalty_cli.io.writers import output_format

    check_bad_rows(options["on_bad_rows"])
    min_spend = options["min_spend"]
    config = NpsCommandConfig(
        interval=options["interval"],
        confidence=options["confidence"],
        min_n=options["min_n"],
        dedupe=options["dedupe"],
        period=options["period"],
        bootstrap_samples=options["bootstrap_samples"],
        bootstrap_seed=options["bootstrap_seed"],
        by=tuple(options["by"] or ()),
        survey_type=options["survey_type"],
        list_=options["list_"],
        trend=options["trend_file"] is not None,
        transactions=bool(options["transactions"]),
        rules=options["rules"],
        min_spend=float(min_spend) if min_spend is not None else None,
    )
    output, fmt, list_ = options["output"], options["fmt"], options["list_"]
    if output:
        output_format(output, fmt)  # fail on a bad suffix before reading anything
    elif fmt or list_:
        raise UsageError(
            f"{'--format' if fmt else '--list'} needs --output", hint="e.g. -o promoters.csv, or -o - for stdout."
        )
    lists = list_spec(options)
    handoff = [
        name
        for name, value in (
            ("--target", lists.target),
            ("--holdout-share", lists.holdout_share),
            ("--seed", lists.seed),
            ("--max-file-mb", lists.max_file_mb),
            ("--contacts", lists.contacts),
        )
        if value is not None
    ]
    if handoff and list_ is None:
        raise UsageError(
            f"{handoff[0]} needs --list",
            hint="The email hand-off options write a customer list: add "
            "--list promoters, detractors or customers and -o FILE."
            + (" The bootstrap's seed is --bootstrap-seed." if "--seed" in handoff else ""),
        )
    lists.check(output, fmt)
    check_table_path(options["trend_file"], "--trend")
    return config


def _inputs(options: Options, config: NpsCommandConfig, out: Output) -> InputSpec:
    """The surveys with their column options and file settings, and the --transactions (the orders use the
    mapping file): the surveys are scanned first, read up to --as-of (default: every answer)."""
    from loyalty_cli.app.inputs import InputSpec
    from loyalty_cli.app.nps import survey_check
    from loyalty_cli.io.readers import ReadOptions

    policy = check_bad_rows(options["on_bad_rows"])
    surveys = read_options(
        columns={
            "customer_id": options["customer_col"],
            "responded_at": options["date_col"],
            "score": options["score_col"],
            "comment": options["comment_col"],
            "survey_type": options["survey_type_col"],
            "touchpoint": options["touchpoint_col"],
            "email": options["email_col"],
        },
        mapping=options["mapping"],
        date_format=options["date_format"],
        delimiter=options["delimiter"],
        encoding=options["encoding"],
        decimal_comma=False,
        on_overlap=options["on_overlap"],  # also for --transactions
        out=out,
    )
    as_of = to_date(options["as_of"])
    return InputSpec(
        transactions=list(options["transactions"] or ()),
        surveys=list(options["inputs"]),
        # Survey column options and settings are for the surveys: the orders use the mapping file.
        options=ReadOptions(mapping_file=surveys.mapping_file, on_overlap=options["on_overlap"]),
        side_options={"surveys": dataclasses.replace(surveys, keep=config.survey_columns)},
        survey_config=config.stats,
        sides_first=True,
        check_scan={"surveys": survey_check(config, as_of=as_of)},
        as_of=as_of,
        on_bad_rows=policy,  # type: ignore[arg-type]
        activity=config.lifecycle is not None,
        need_customers=False,
    )


def _rejects(inputs: Inputs, options: Options, out: Output) -> list[Path]:
    """Under --on-bad-rows skip: the rejected survey rows, then the rejected transaction lines, in one file."""
    path = Path(rejects_path(options["rejects"], options["output"]))
    frames = [inputs.rejects[kind] for kind in ("surveys", "transactions") if kind in inputs.rejects]
    if not any(frame.height for frame in frames):
        return []
    write_rejects(frames, path, out)
    return [path]


def _deliver(result: NpsResult, options: Options, out: Output) -> list[Path]:
    from loyalty_cli.io.writers import write_table

    output, fmt, list_, trend = options["output"], options["fmt"], options["list_"], options["trend_file"]
    written: list[Path] = []
    if output and result.customer_list is not None:
        # The list's nps_category is the tag (e.g. Mailchimp's Tags: promoter); duplicate emails keep the
        # customer with the highest net spend (with --transactions), else the smallest customer id.
        written += list_spec(options).write(
            result.customer_list,
            output,
            fmt=fmt,
            out=out,
            mapping=_mapping(options),
            tag="nps_category",
            value="net_spend",
            describe=lambda n: f"{n:,} {list_[:-1] if n == 1 else list_}",
            policy=options["on_bad_rows"],
            rejects=options["rejects"],
        )
        if result.list_note:
            out.note(result.list_note)
    elif output:
        table = result.table
        path = write_table(table, output, fmt=fmt)
        if path:
            out.note(f"Wrote the NPS table ({words.count(table.height, 'row')}) to {path}")
            written.append(path)
    if trend and result.tables.trend is not None:  # no dates: refused before anything was read
        write_table(result.tables.trend, trend)
        out.note(f"Wrote the trend to {trend}")
        written.append(Path(trend))
    if not (output and out.quiet):
        _show(result, out, to_stderr=output == "-")
    return written


def _mapping(options: Options) -> Path | MappingFile | None:
    """The column mapping the surveys were read with (--mapping or a pipeline's, else rules/columns.toml when
    there is one), for a --contacts file."""
    mapping = options["mapping"]
    if mapping is None and DEFAULT_MAPPING.is_file():
        return DEFAULT_MAPPING
    return mapping


FORMATS = {
    "promoters": ".1%",
    "passives": ".1%",
    "detractors": ".1%",
    "nps": ".1f",
    "ci_low": ".1f",
    "ci_high": ".1f",
    "change": "+.1f",
    "p_value": ".3f",
    "revenue_weighted": ".1f",
}
# Terminal names of the NPS table columns (the files keep the full names).
_SHOWN = {
    "responses": "responses",
    "share_promoters": "promoters",
    "share_passives": "passives",
    "share_detractors": "detractors",
    "nps": "nps",
    "ci_low": "ci_low",
    "ci_high": "ci_high",
    "nps_weighted_by_net_spend": "revenue_weighted",
}


def _stat_columns(table: pl.DataFrame, keys: list[str]) -> pl.DataFrame:
    import polars as pl

    return table.select(*keys, *(pl.col(c).alias(name) for c, name in _SHOWN.items() if c in table.columns))


def _show(result: NpsResult, out: Output, *, to_stderr: bool) -> None:
    import polars as pl

    show_messages(result.said, out)
    stats, tables = result.stats, result.tables
    out.table(
        _stat_columns(tables.headline, ["survey_type"]),
        title=f"NPS ({stats.label} interval)",
        formats=FORMATS,
        to_stderr=to_stderr,
    )
    dist = tables.distribution
    wide = dist.pivot(on="survey_type", index=["score", "nps_category"], values=["responses", "share"])
    types = dist["survey_type"].unique(maintain_order=True).to_list()
    wide = wide.select(
        "score",
        pl.col("nps_category").cast(pl.String).alias("category"),
        *[pl.col(f"{k}_{t}").alias(f"{t} {k}") for t in types for k in ("responses", "share")],
    )
    out.table(wide, title="Scores 0-10", formats={f"{t} share": ".1%" for t in types}, to_stderr=to_stderr)
    if tables.trend is not None:  # a survey without dates has none: said with the notes
        _show_trend(tables.trend, result, out, to_stderr=to_stderr)
    _show_breakdowns(result, out, to_stderr=to_stderr)


def _show_trend(trend: pl.DataFrame, result: NpsResult, out: Output, *, to_stderr: bool) -> None:
    import polars as pl

    stats = result.stats
    test = (
        pl.when(pl.col("significant"))
        .then(pl.lit("significant"))
        .when(~pl.col("significant"))
        .then(pl.lit("not significant"))
        .when(pl.col("suppressed"))
        .then(pl.lit(f"n < {stats.min_n}"))
    )
    shown = trend.select(
        "survey_type",
        pl.when(pl.col("complete")).then(pl.col("period")).otherwise(pl.col("period") + " (partial)").alias("period"),
        "responses",
        "nps",
        "ci_low",
        "ci_high",
        "change",
        "p_value",
        test.alias("change_test"),
    )
    out.table(
        shown,
        title=f"Trend by {stats.period} (change from the previous {stats.period}, two-sample z-test)",
        formats=FORMATS,
        to_stderr=to_stderr,
    )


def _show_breakdowns(result: NpsResult, out: Output, *, to_stderr: bool) -> None:
    by_title = ", ".join("lifecycle stage" if b == "stage" else b for b in result.by)
    for table, title in ((result.tables.by, f"NPS by {by_title}"), (result.tables.segments, "NPS by RFM segment")):
        if table is not None:
            keys = table.columns[: table.columns.index("responses")]
            out.table(_stat_columns(table, keys), title=title, formats=FORMATS, to_stderr=to_stderr)


COMMAND = Command(
    name="nps",
    configure=_configure,
    inputs=_inputs,
    compute=lambda inputs, config, messages: _compute(inputs, config, messages),
    deliver=_deliver,
    rejects=_rejects,
    reading="surveys",
)


def _compute(inputs: Inputs, config: NpsCommandConfig, messages: Messages) -> NpsResult:
    from loyalty_cli.app.nps import nps as nps_tables

    return nps_tables(inputs, config, messages)


def register(app: typer.Typer) -> None:
    app.command("nps", epilog=EXAMPLES, rich_help_panel="Analyse")(nps)
