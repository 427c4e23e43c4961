"""``loyalty nps``: NPS with its uncertainty, trend, breakdowns and closed-loop lists (also for email tools)."""

from __future__ import annotations

from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING

from loyalty_cli import words
from loyalty_cli.cli import campaign, command, common
from loyalty_cli.cli import options as opt
from loyalty_cli.cli.console import Output

if TYPE_CHECKING:
    import polars as pl

    from loyalty_cli.app.inputs import InputSpec
    from loyalty_cli.app.nps import NpsCommandConfig, NpsResult

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

STATS, CUSTOMERS = "Statistics", "Customers"
#: the survey column options: parameter -> (the survey column it names, its help)
SURVEY_COLUMNS = {
    "customer_col": ("customer_id", "Respondent's customer id column (leave out for anonymous surveys)."),
    "date_col": ("responded_at", "Response date column (optional: without one, no trend)."),
    "score_col": ("score", "0-10 score column."),
    "comment_col": ("comment", "Free-text comment column."),
    "survey_type_col": ("survey_type", "Survey type column (relational/transactional)."),
    "touchpoint_col": ("touchpoint", "Touchpoint column."),
    "email_col": ("email", "Respondent's email column."),
}


@common.handle_errors
@campaign.list_options
@opt.declare(
    list_=opt.o(
        "What -o writes instead of the NPS table: promoters (latest score 9-10: ask for a review "
        "or referral), detractors (latest score 0-6, with comment; with --transactions only high-value ones, "
        "most valuable first: call them back) or customers (every respondent's latest score and category). "
        "The email hand-off options (--target, --holdout-share, ...) apply to these lists.",
        "LIST",
        panel=opt.OUTPUT,
    ),
    trend_file=opt.o(
        "Also write the trend table (one row per survey type and period) here.", panel=opt.OUTPUT, flag="--trend"
    ),
    as_of=opt.o(
        "Compute as of this date (exclusive: answers and orders before "
        "it). Default: all answers; orders up to the day after the last one.",
        formats=["%Y-%m-%d"],
        show_default=False,
    ),
    by=opt.o(
        "Break NPS down by this column (repeatable): any survey column (e.g. touchpoint), period, "
        "or with --transactions segment, stage (lifecycle stage, as `loyalty lifecycle` gives it), "
        "first_category, first_channel. -o then writes the breakdown.",
        "COLUMN",
    ),
    period=opt.o("Trend period: week, month, quarter or year.", "PERIOD"),
    survey_type=opt.o("Keep only this survey type (e.g. relational).", "TYPE"),
    dedupe=opt.o(
        "Repeat answers of a customer: latest (one per customer and survey type), "
        "latest-per-period (one per --period), all, or auto (all for transactional surveys, else "
        "latest-per-period).",
        "HOW",
    ),
    interval=opt.o("Confidence interval: adjusted-wald (good at small n), wald or bootstrap.", "METHOD", panel=STATS),
    confidence=opt.o("Confidence level of the intervals and of the change test.", panel=STATS),
    min_n=opt.o("Groups with fewer answers show their counts but no score.", panel=STATS),
    bootstrap_samples=opt.o("Resamples for --interval bootstrap.", panel=STATS),
    bootstrap_seed=opt.o("Random seed of the bootstrap (same seed, same interval).", panel=STATS),
    transactions=opt.o(
        "Transactions export (file, folder or glob; repeatable): adds NPS by RFM "
        "segment (and --by stage), revenue-weighted NPS and value to the lists. Its columns are detected or "
        "mapped in rules/columns.toml.",
        "FILE",
        panel=CUSTOMERS,
    ),
    rules=opt.o("Segment map for --transactions (default rfm_grid).", "MAP", panel=CUSTOMERS),
    min_spend=opt.o(
        "High-value detractors spent at least this (default: the top 20% of customers by net spend).",
        panel=CUSTOMERS,
    ),
    **{name: opt.o(help, "NAME", panel=opt.COLUMNS) for name, (_, help) in SURVEY_COLUMNS.items()},
)
def nps(
    inputs: opt.Inputs,
    output: opt.Output = None,
    fmt: opt.Format = None,
    list_: str | None = None,
    trend_file: Path | None = None,
    as_of: datetime | None = None,
    by: list[str] | None = None,
    period: str = "quarter",
    survey_type: str | None = None,
    dedupe: str = "auto",
    interval: str = "adjusted-wald",
    confidence: float = 0.95,
    min_n: int = 30,
    bootstrap_samples: int = 2000,
    bootstrap_seed: int = 0,
    transactions: list[str] | None = None,
    rules: str | None = None,
    min_spend: float | None = None,
    lists: campaign.ListOptions = campaign.NO_LIST_OPTIONS,
    quiet: opt.Quiet = False,
    on_bad_rows: opt.OnBadRows = "error",
    rejects: opt.Rejects = None,
    mapping: opt.Mapping = None,
    customer_col: str | None = None,
    date_col: str | None = None,
    score_col: str | None = None,
    comment_col: str | None = None,
    survey_type_col: str | None = None,
    touchpoint_col: str | None = None,
    email_col: str | None = None,
    date_format: opt.DateFormat = None,
    delimiter: opt.Delimiter = None,
    encoding: opt.Encoding = "utf-8",
    on_overlap: opt.OnOverlap = "error",
    memory_limit: opt.MemoryLimit = None,
    engine: opt.Engine = None,
    spark_master: opt.SparkMaster = None,
    spark_remote: opt.SparkRemote = None,
) -> None:
    """NPS per survey type with its confidence interval and n, the 0-10 distribution, the trend with a test
    of each change, breakdowns (--by; RFM segments and lifecycle stages with --transactions) and closed-loop
    lists (--list), also for an email tool with a control group (--target, --holdout-share).
    Relational and transactional answers are never pooled."""
    command.execute(COMMAND, command.flat(locals()), Output(quiet=quiet))


def _configure(options: command.Options) -> NpsCommandConfig:
    from loyalty_cli.app.nps import NpsCommandConfig
    from loyalty_cli.errors import UsageError
    from loyalty_cli.io.writers import output_format

    common.check_bad_rows(options["on_bad_rows"])
    config = command.config_of(
        NpsCommandConfig,
        options,
        by=tuple(options["by"] or ()),
        trend=options["trend_file"] is not None,
        transactions=bool(options["transactions"]),
    )
    output, fmt, list_ = options["output"], options["fmt"], options["list_"]
    if output:
        output_format(output, fmt)  # fail on a bad suffix before reading anything
    elif fmt or list_:
        raise UsageError(
            f"{'--format' if fmt else '--list'} needs --output", hint="e.g. -o promoters.csv, or -o - for stdout."
        )
    lists = campaign.list_spec(options)
    handoff = ["--" + name.replace("_", "-") for name, value in vars(lists).items() if value is not None]
    if handoff and list_ is None:
        raise UsageError(
            f"{handoff[0]} needs --list",
            hint="The email hand-off options write a customer list: add "
            "--list promoters, detractors or customers and -o FILE."
            + (" The bootstrap's seed is --bootstrap-seed." if "--seed" in handoff else ""),
        )
    lists.check(output, fmt)
    common.check_table_path(options["trend_file"], "--trend")
    return config


def _inputs(options: command.Options, config: NpsCommandConfig, out: Output) -> InputSpec:
    """The surveys with their column options and file settings, and the --transactions (the orders use the
    mapping file): the surveys are scanned first, read up to --as-of (default: every answer)."""
    from dataclasses import replace

    from loyalty_cli.app.inputs import InputSpec
    from loyalty_cli.app.nps import survey_check
    from loyalty_cli.engines import engine_fields
    from loyalty_cli.io.readers import ReadOptions

    surveys = common.read_options(
        columns={column: options[name] for name, (column, _) in SURVEY_COLUMNS.items()},
        decimal_comma=False,
        out=out,
        **{name: options[name] for name in ("mapping", "date_format", "delimiter", "encoding", "on_overlap")},
    )
    as_of = common.to_date(options["as_of"])
    return InputSpec(
        transactions=list(options["transactions"] or ()),
        surveys=list(options["inputs"]),
        # Survey column options and settings are for the surveys: the orders use the mapping file.
        options=ReadOptions(mapping_file=surveys.mapping_file, on_overlap=options["on_overlap"]),
        side_options={"surveys": replace(surveys, keep=config.survey_columns)},
        survey_config=config.stats,
        sides_first=True,
        check_scan={"surveys": survey_check(config, as_of=as_of)},
        as_of=as_of,
        on_bad_rows=options["on_bad_rows"],
        activity=config.lifecycle is not None,
        need_customers=False,
        # where the --transactions' stage 1 runs (the surveys are read here)
        **engine_fields(
            **{name: options[name] for name in ("engine", "memory_limit", "spark_master", "spark_remote")},
            mapping=surveys.mapping_file,
        ),
    )


def _deliver(result: NpsResult, options: command.Options, out: Output) -> list[Path]:

    output, list_, trend = options["output"], options["list_"], result.tables.trend
    written: list[Path] = []
    if output and result.customer_list is not None:
        # The list's nps_category is the tag (e.g. Mailchimp's Tags: promoter); duplicate emails keep the
        # customer with the highest net spend (with --transactions), else the smallest customer id.
        written += campaign.write_list(
            result.customer_list,
            options,
            out,
            tag="nps_category",
            value="net_spend",
            describe=lambda n: words.count(n, list_[:-1], list_),
        )
        if result.list_note:
            out.note(result.list_note)
    else:
        written += command.write_output(
            result.table, options, f"the NPS table ({words.count(result.table.height, 'row')})", out
        )
    if trend is not None:  # no dates: a --trend file was refused before anything was read
        written += command.write_file(trend, options["trend_file"], "the trend", out)
    if not (output and out.quiet):
        _show(result, out, to_stderr=output == "-")
    return written


FORMATS = {
    **dict.fromkeys(("promoters", "passives", "detractors"), ".1%"),
    **dict.fromkeys(("nps", "ci_low", "ci_high", "revenue_weighted"), ".1f"),
    "change": "+.1f",
    "p_value": ".3f",
}
# Terminal names of the NPS tables' columns (the files keep the full names), after their keys.
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


def _stat_columns(table: pl.DataFrame) -> pl.DataFrame:
    """A table of NPS per group as shown: its keys (the columns before ``responses``) and :data:`_SHOWN`."""
    import polars as pl

    keys = table.columns[: table.columns.index("responses")]
    return table.select(*keys, *(pl.col(c).alias(name) for c, name in _SHOWN.items() if c in table.columns))


#: drawn headers (piped output and the files keep the column names)
HEADERS = {"nps": "NPS", "ci_low": "CI low", "ci_high": "CI high", "p_value": "p-value", "change_test": "test"}
#: the columns a drawn table leaves out first when the terminal is too narrow for all
DROP = ("passives", "revenue_weighted", "detractors", "promoters")


def _show(result: NpsResult, out: Output, *, to_stderr: bool) -> None:
    from loyalty_cli.app.nps import scores_by_type, trend_in_words

    common.show_messages(result.said, out)
    stats, tables = result.stats, result.tables
    scores = scores_by_type(tables.distribution)
    every = "-o FILE writes every column"
    shown = [
        (_stat_columns(tables.headline), f"NPS ({stats.label} interval)", FORMATS, DROP, every),
        (scores, "Scores 0-10", {c: ".1%" for c in scores.columns if c.endswith(" share")}, (), None),
    ]
    if tables.trend is not None:  # a survey without dates has none: said with the notes
        title = f"Trend by {stats.period} (change from the previous {stats.period}, two-sample z-test)"
        drop = ("ci_low", "ci_high", "p_value")
        shown.append((trend_in_words(tables.trend, stats.min_n), title, FORMATS, drop, "--trend FILE writes them"))
    by = ", ".join("lifecycle stage" if b == "stage" else b for b in result.by)
    for table, title, whole in ((tables.by, f"NPS by {by}", every), (tables.segments, "NPS by RFM segment", None)):
        if table is not None:
            shown.append((_stat_columns(table), title, FORMATS, DROP, whole))
    for table, title, formats, drop, whole in shown:
        out.table(table, title=title, formats=formats, headers=HEADERS, drop=drop, whole=whole, to_stderr=to_stderr)


COMMAND = command.Command(
    name="nps",
    configure=_configure,
    inputs=_inputs,
    compute=command.app_function("nps"),
    deliver=_deliver,
    rejects=command.rejects_of("surveys", "transactions"),
    reading="surveys",
)
