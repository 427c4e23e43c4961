"""``loyalty nps``: NPS with its uncertainty, trend, breakdowns and closed-loop lists (also for email tools)."""

from __future__ import annotations

import dataclasses
from datetime import date, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Annotated  # noqa: UP035

import typer

from loyalty_cli import words
from loyalty_cli.cli import options as opt
from loyalty_cli.cli.common import (
    NO_LIST_OPTIONS,
    ListOptions,
    check_bad_rows,
    check_ipt,
    check_table_path,
    describe_scan,
    handle_errors,
    list_options,
    note_left_out,
    read_options,
    rejects_path,
    to_date,
    write_rejects,
)
from loyalty_cli.cli.console import Output

if TYPE_CHECKING:
    import polars as pl

    from loyalty_cli.io.readers import Scan
    from loyalty_cli.metrics.nps import NpsConfig
    from loyalty_cli.stage1 import Loaded

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

LISTS = ("promoters", "detractors", "customers")
CUSTOMER_BY = ("segment", "stage", "first_category", "first_channel")  # --by columns that come from --transactions
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
    import polars as pl

    from loyalty_cli.errors import DataError, UsageError
    from loyalty_cli.io.readers import ReadOptions, read_surveys
    from loyalty_cli.io.validate import collect_checked
    from loyalty_cli.io.writers import output_format, write_table
    from loyalty_cli.metrics import nps as m
    from loyalty_cli.metrics.rfm import RfmConfig, rfm_scores
    from loyalty_cli.segments import load_segment_rules
    from loyalty_cli.stage1 import load_transactions

    out = Output(quiet=quiet)
    policy = check_bad_rows(on_bad_rows)
    config = m.NpsConfig(
        interval=interval,
        confidence=confidence,
        min_n=min_n,
        dedupe=dedupe,  # type: ignore[arg-type]
        period=period,
        bootstrap_samples=bootstrap_samples,  # type: ignore[arg-type]
        seed=bootstrap_seed,
    )
    by = list(dict.fromkeys(by or []))
    if list_ is not None and list_ not in LISTS:
        raise UsageError(f"--list must be one of {', '.join(LISTS)}, got {list_!r}")
    if output:
        output_format(output, fmt)  # fail on a bad suffix before reading anything
    elif fmt or list_:
        raise UsageError(
            f"{'--format' if fmt else '--list'} needs --output", hint="e.g. -o promoters.csv, or -o - for stdout."
        )
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
    check_table_path(trend_file, "--trend")
    if not transactions:
        needs = [o for o, v in (("--rules", rules), ("--min-spend", min_spend)) if v is not None]
        needs += [f"--by {b}" for b in by if b in CUSTOMER_BY]
        if needs:
            raise UsageError(
                f"{needs[0]} needs --transactions",
                hint="Pass the orders export with --transactions FILE so respondents can be matched to customers.",
            )
    seg_map = load_segment_rules(rules) if transactions else None
    by_stage = "stage" in by

    options = read_options(
        columns={
            "customer_id": customer_col,
            "responded_at": date_col,
            "score": score_col,
            "comment": comment_col,
            "survey_type": survey_type_col,
            "touchpoint": touchpoint_col,
            "email": email_col,
        },
        mapping=mapping,
        date_format=date_format,
        delimiter=delimiter,
        encoding=encoding,
        decimal_comma=False,
        on_overlap=on_overlap,  # for --transactions
        out=out,
    )
    derived = (*CUSTOMER_BY, "period", "survey_type")  # not read from the survey file as they are
    options = dataclasses.replace(options, keep=tuple(b for b in by if b not in derived))
    day = to_date(as_of)
    scan = read_surveys(inputs, options, as_of=day)
    describe_scan(scan, out)
    dated = "responded_at" in scan.mapping.columns
    if not dated:
        _check_dateless(scan, trend_file=trend_file, by=by, as_of=day, transactions=bool(transactions), out=out)
    customers = loaded = None
    tx_rejects: list[pl.DataFrame] = []
    if transactions and seg_map is not None:
        # Survey column options and settings are for the surveys: the orders use the mapping file.
        with out.status("Reading transactions ..."):
            loaded = load_transactions(
                transactions,
                ReadOptions(mapping_file=options.mapping_file, on_overlap=on_overlap),
                as_of=day,
                on_bad_rows=policy,
                activity=by_stage,  # type: ignore[arg-type]
                on_scan=lambda tx_scan: describe_scan(tx_scan, out),
            )
        note_left_out([loaded], out)
        tx_rejects = loaded.rejects
        customers = seg_map.assign(rfm_scores(loaded.customers.lazy(), config=RfmConfig(bins=seg_map.bins))).collect()
    with out.status("Reading surveys ..."):
        (responses,), rejected = collect_checked(
            [scan], [m.prepare_responses(scan.rows, config=config)], on_bad_rows=policy
        )  # type: ignore[arg-type]
    note_left_out([scan], out)
    if policy == "skip":
        write_rejects([*rejected, *tx_rejects], rejects_path(rejects, output), out)
    every_type = responses  # the lifecycle stage reads the latest answer of any type, as `loyalty lifecycle` does
    responses = _only_type(responses, survey_type, scan)
    if responses.filter(pl.col("status") == "counted").is_empty():
        raise DataError(
            "No scored answers in " + ", ".join(str(p) for p in scan.paths[:3]),
            hint="Check the score column (--score-col), --survey-type and --as-of; blank and NA "
            "scores are non-responses.",
        )
    _describe_responses(responses, config, out, dated=dated)

    lazy = responses.lazy()
    if customers is not None and seg_map is not None:
        lazy = m.with_customers(lazy, customers.lazy())
        if customers.is_empty():
            out.warn("No customer made a purchase before the as-of date in the transactions")
        else:
            out.note(
                f"Customers as of {customers['as_of'][0]} (orders before that day): {customers.height:,}; "
                f"segments from {seg_map.source}"
            )
    stages = _lifecycle_stages(loaded, every_type, out) if by_stage and loaded is not None else None
    if stages is not None:
        lazy = m.with_stages(lazy, stages.lazy())
    weight = "net_spend" if customers is not None else None
    missing = [b for b in by if b not in lazy.collect_schema().names()]
    if missing:
        raise UsageError(
            f"--by {missing[0]}: no such column",
            hint="Columns: "
            + ", ".join(c for c in lazy.collect_schema().names() if c not in ("status", "dedupe", "period_start")),
        )
    scores = m.customer_scores(responses.lazy())  # then joined once to the customers and stages
    if customers is not None:
        scores = m.with_customers(scores, customers.lazy())
    if stages is not None:
        scores = m.with_stages(scores, stages.lazy())
    plans = {
        "headline": m.nps_table(lazy, config=config, weight=weight),
        "distribution": m.score_distribution(lazy),
        "scores": _email_first(scores),
    }
    if dated:
        plans["trend"] = m.nps_trend(lazy, config=config, as_of=day)
    if by:
        plans["by"] = m.nps_table(lazy, config=config, by=by, weight=weight)
    if customers is not None and "segment" not in by:
        plans["segments"] = m.nps_table(lazy, config=config, by=["segment"], weight=weight)
    if customers is not None and min_spend is None and not customers.is_empty():
        plans["threshold"] = m.high_value_threshold(customers.lazy())
    tables = dict(zip(plans, pl.collect_all(list(plans.values())), strict=True))
    if "threshold" in tables:
        min_spend = float(tables["threshold"].item())

    if output and list_:
        if list_ == "promoters":
            table = m.promoter_list(tables["scores"].lazy()).collect()
        elif list_ == "detractors":
            table = m.detractor_list(tables["scores"].lazy(), min_spend=min_spend).collect()
        else:
            table = tables["scores"]
        # The list's nps_category is the tag (e.g. Mailchimp's Tags: promoter); duplicate emails keep the
        # customer with the highest net spend (with --transactions), else the smallest customer id.
        lists.write(
            table,
            output,
            fmt=fmt,
            out=out,
            mapping=options.mapping_file,
            tag="nps_category",
            value="net_spend",
            describe=lambda n: f"{n:,} {list_[:-1] if n == 1 else list_}",
            policy=policy,
            rejects=rejects,
        )
        if list_ == "detractors" and customers is not None:
            out.note(
                f"High-value detractors: net spend of at least {min_spend:,.2f}"
                + (" (top 20% of customers)" if "threshold" in tables else "")
            )
    elif output:
        table = tables.get("by", tables["headline"])
        written = write_table(table, output, fmt=fmt)
        if written:
            out.note(f"Wrote the NPS table ({words.count(table.height, 'row')}) to {written}")
    if trend_file and "trend" in tables:  # no dates: refused before anything was read
        write_table(tables["trend"], trend_file)
        out.note(f"Wrote the trend to {trend_file}")
    if output and out.quiet:
        return
    _show(tables, config, by, customers, out, to_stderr=output == "-")


def _lifecycle_stages(loaded: Loaded, responses: pl.DataFrame, out: Output) -> pl.DataFrame:
    """Each customer's lifecycle stage as ``loyalty lifecycle TRANSACTIONS --surveys SURVEYS`` gives it with its
    defaults (built-in lifecycle and churn rules, the p25-p75 second-purchase window per first-order category,
    --min-n 30), from the library functions that command uses: ``customer_id, stage`` (an Enum in rule order).
    The latest answer taken is the latest of any survey type before the transactions' as-of date, as there; it
    decides 'advocate' (active and latest answer 9-10), so the advocates' NPS is high by construction."""
    import polars as pl

    from loyalty_cli.metrics import lifecycle as lc
    from loyalty_cli.metrics.churn import load_churn_rules
    from loyalty_cli.metrics.nps import customer_scores
    from loyalty_cli.metrics.second_purchase import SecondPurchaseConfig

    life_rules, churn = lc.load_lifecycle_rules(None), load_churn_rules(None)
    customers, activity, as_of = loaded.customers, loaded.activity, loaded.as_of
    if as_of is None or activity is None:  # nobody bought before the as-of date: every respondent (no purchase)
        return pl.DataFrame(schema={"customer_id": pl.String, "stage": pl.Enum(life_rules.stages)})
    check_ipt(loaded, churn, hint="Break NPS down by segment instead, or see `loyalty lifecycle --churn-rules`.")
    cutoff = datetime(as_of.year, as_of.month, as_of.day)  # the answers read up to the surveys' own as-of date
    # Answers without a date (a survey with no date column) are not left out by any as-of date, as when read.
    before = pl.col("responded_at").is_null() | (pl.col("responded_at") < cutoff)
    scores = customer_scores(responses.lazy().filter(before))
    table = (
        lc.lifecycle_stages(
            customers.lazy(),
            activity.lazy(),
            as_of=as_of,
            rules=life_rules,
            churn_rules=churn,
            window=SecondPurchaseConfig(),
            scores=scores,
        )
        .select("customer_id", "stage")
        .collect()
    )
    out.note(
        f"Lifecycle stages as `loyalty lifecycle` gives them as of {as_of} ({life_rules.source} and "
        f"{churn.source} rules); the latest answer before that day decides 'advocate' (active and 9-10), so "
        "the advocates' NPS is high by construction"
    )
    return table.select("customer_id", pl.col("stage").cast(pl.Enum(life_rules.stages)))


def _check_dateless(
    scan: Scan, *, trend_file: Path | None, by: list[str], as_of: date | None, transactions: bool, out: Output
) -> None:
    """A survey without a response date column (a single-wave export): refuse what needs dates (the trend
    file, --by period) before anything is read, and say what is left out and how answers are deduped."""
    from loyalty_cli.errors import UsageError

    where = ", ".join(str(p) for p in scan.paths[:3]) + (" ..." if len(scan.paths) > 3 else "")
    hint = "Map the response date column with --date-col (or responded_at in the [surveys] table of the mapping file)"
    if trend_file is not None:
        raise UsageError(
            f"--trend needs response dates: {where} has no date column", hint=f"{hint}, or leave --trend out."
        )
    if "period" in by:
        raise UsageError(
            f"--by period needs response dates: {where} has no date column", hint=f"{hint}, or leave --by period out."
        )
    out.note(
        f"{where} has no response date column: no trend (it needs dates); the answers of one customer cannot be "
        "told apart in time, so where --dedupe keeps one answer per customer it keeps the lowest score"
    )
    if as_of is not None:
        out.note(
            f"--as-of {as_of} leaves no answer out: the surveys have no dates"
            + (" (it applies to the orders of --transactions)" if transactions else "")
        )


def _only_type(responses: pl.DataFrame, survey_type: str | None, scan: Scan) -> pl.DataFrame:
    import polars as pl

    from loyalty_cli.errors import UsageError

    if survey_type is None:
        return responses
    types = sorted(responses["survey_type"].unique().to_list())
    wanted = survey_type.strip().lower()
    if wanted not in types:
        if "survey_type" not in scan.mapping.columns:
            raise UsageError(
                f"--survey-type {survey_type}: the surveys have no survey type column",
                hint="Map it with --survey-type-col, or leave --survey-type out.",
            )
        raise UsageError(
            f"--survey-type {survey_type}: no such survey type in the surveys",
            hint=f"Survey types: {', '.join(types)}.",
        )
    return responses.filter(pl.col("survey_type") == wanted)


def _describe_responses(responses: pl.DataFrame, config: NpsConfig, out: Output, *, dated: bool = True) -> None:
    import polars as pl

    counts = dict(responses.group_by(pl.col("status").cast(pl.String)).len().iter_rows())
    total = responses.height
    out.note(
        f"{words.count(total, 'answer')}: {counts.get('counted', 0):,} counted, "
        f"{words.count(counts.get('non-response', 0), 'non-response')} (blank or NA score: not in n), "
        f"{words.count(counts.get('duplicate', 0), 'duplicate')} (the same answer twice), "
        f"{words.count(counts.get('repeat', 0), 'earlier answer' if dated else 'other answer')} of repeat "
        "responders dropped"
    )
    types = sorted(responses["survey_type"].unique().to_list())
    policies = "; ".join(f"{t}: {config.policy(t)}" for t in types)
    out.note(f"Dedupe {config.dedupe} ({policies})" + (f"; periods: {config.period}" if dated else ""))
    anonymous = responses.filter(pl.col("customer_id").is_null() & (pl.col("status") == "counted")).height
    if anonymous:
        out.note(
            f"{words.count(anonymous, 'anonymous answer')} (no customer id) counted as they are (cannot be deduped)"
        )
    if len(types) > 1:
        out.note(f"Survey types {', '.join(types)} are reported separately, never pooled")
    scores = responses.filter(pl.col("status") == "counted")["score"]
    if scores.len() >= 20 and scores.max() <= 5:  # type: ignore[operator]
        out.warn("Every score is 5 or below: is this a 1-5 scale? NPS needs answers on 0-10; nothing was converted.")


def _email_first(scores: pl.LazyFrame) -> pl.LazyFrame:
    import polars as pl

    names = scores.collect_schema().names()
    first = ["customer_id", "email"] if "email" in names else ["customer_id"]
    return scores.select(*first, pl.exclude(*first))


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


def _show(
    tables: dict[str, pl.DataFrame],
    config: NpsConfig,
    by: list[str],
    customers: pl.DataFrame | None,
    out: Output,
    *,
    to_stderr: bool,
) -> None:
    import polars as pl

    headline = tables["headline"]
    for row in headline.iter_rows(named=True):
        if row["suppressed"]:
            out.note(f"{row['survey_type']}: n = {row['responses']:,}, below --min-n {config.min_n}: no score")
            continue
        weighted = row.get("nps_weighted_by_net_spend")
        out.note(
            f"{row['survey_type']}: NPS {row['nps']:.1f} ({config.label} interval {row['ci_low']:.1f} to "
            f"{row['ci_high']:.1f}), n = {row['responses']:,}"
            + (f"; revenue-weighted {weighted:.1f}" if weighted is not None else "")
        )
    if customers is not None:
        scores = tables["scores"]
        matched = scores.filter(pl.col("segment") != "(no purchase)").height
        out.note(
            f"{matched:,} of {words.count(scores.height, 'respondent')} found among the customers of the transactions"
        )
        if scores.height and not matched:
            out.warn("No respondent matched a customer: do both files use the same customer ids?")
    out.table(
        _stat_columns(headline, ["survey_type"]),
        title=f"NPS ({config.label} interval)",
        formats=FORMATS,
        to_stderr=to_stderr,
    )
    dist = tables["distribution"]
    wide = dist.pivot(on="survey_type", index=["score", "nps_category"], values=["responses", "share"])
    types = dist["survey_type"].unique(maintain_order=True).to_list()
    wide = wide.select(
        "score",
        pl.col("nps_category").cast(pl.String).alias("category"),
        *[pl.col(f"{k}_{t}").alias(f"{t} {k}") for t in types for k in ("responses", "share")],
    )
    out.table(wide, title="Scores 0-10", formats={f"{t} share": ".1%" for t in types}, to_stderr=to_stderr)
    if "trend" not in tables:  # a survey without dates: said with the notes
        _show_breakdowns(tables, config, by, out, to_stderr=to_stderr)
        return
    trend = tables["trend"]
    test = (
        pl.when(pl.col("significant"))
        .then(pl.lit("significant"))
        .when(~pl.col("significant"))
        .then(pl.lit("not significant"))
        .when(pl.col("suppressed"))
        .then(pl.lit(f"n < {config.min_n}"))
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
        title=f"Trend by {config.period} (change from the previous {config.period}, two-sample z-test)",
        formats=FORMATS,
        to_stderr=to_stderr,
    )
    _show_breakdowns(tables, config, by, out, to_stderr=to_stderr)


def _show_breakdowns(
    tables: dict[str, pl.DataFrame], config: NpsConfig, by: list[str], out: Output, *, to_stderr: bool
) -> None:
    by_title = ", ".join("lifecycle stage" if b == "stage" else b for b in by)
    for name, title in (("by", f"NPS by {by_title}"), ("segments", "NPS by RFM segment")):
        if name in tables:
            table = tables[name]
            keys = table.columns[: table.columns.index("responses")]
            out.table(_stat_columns(table, keys), title=title, formats=FORMATS, to_stderr=to_stderr)


def register(app: typer.Typer) -> None:
    app.command("nps", epilog=EXAMPLES, rich_help_panel="Analyse")(nps)
