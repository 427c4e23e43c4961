"""``loyalty churn``: active, lapsing and lapsed customers with the reason, churn rate by period, win-back lists."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated  # noqa: UP035

import typer

from loyalty_cli import words
from loyalty_cli.cli import options as opt
from loyalty_cli.cli.common import (
    NO_COLUMN_OPTIONS,
    NO_LIST_OPTIONS,
    ListOptions,
    TransactionColumns,
    check_bad_rows,
    check_ipt,
    check_output,
    check_table_path,
    handle_errors,
    list_options,
    load_transactions_checked,
    to_date,
    transaction_columns,
)
from loyalty_cli.cli.console import Output

EXAMPLES = """
Examples:

  loyalty churn sample_data/transactions.csv

  loyalty churn orders.parquet --status lapsing --status lapsed -o winback.csv

  loyalty churn exports/ --model pnbd --rank-by predicted --rates churn_by_month.csv

  loyalty churn orders.csv --rules my_churn.toml --period quarter --as-of 2024-07-01
"""

LIST_COLUMNS = (
    "customer_id",
    "value_rank",
    "value_tier",
    "worth_costly_offer",
    "recency_days",
    "ipt_days",
    "net_spend",
    "predicted_value",
    "p_alive",
)


@handle_errors
@transaction_columns
@list_options
def churn(
    inputs: opt.Inputs,
    output: opt.Output = None,
    fmt: opt.Format = None,
    as_of: opt.AsOf = None,
    rules: Annotated[
        str | None,
        typer.Option(  # noqa: UP045
            "--rules",
            metavar="FILE",
            help="Churn rules TOML (thresholds, value tiers); default: the built-in rules/churn.toml.",
        ),
    ] = None,
    statuses: Annotated[
        list[str] | None,
        typer.Option(  # noqa: UP045
            "--status",
            metavar="STATUS",
            help="Write only customers with this status (active, lapsing, lapsed; repeatable), e.g. "
            "for a win-back hand-off.",
        ),
    ] = None,
    model: Annotated[
        str | None,
        typer.Option(  # noqa: UP045
            "--model",
            metavar="MODEL",
            help="Also give each customer P(alive) and a 12-month predicted value from a BTYD model: "
            "bgnbd, mbgnbd or pnbd (BG/NBD cannot judge one-time buyers).",
        ),
    ] = None,
    rank_by: Annotated[
        str,
        typer.Option(
            "--rank-by",
            metavar="historical|predicted",
            help="Rank and tier customers by historical net spend or by predicted value (needs --model).",
        ),
    ] = "historical",
    period: Annotated[
        str, typer.Option("--period", metavar="week|month|quarter", help="Churn rate per week, month or quarter.")
    ] = "month",
    rates: Annotated[
        Path | None,
        typer.Option(  # noqa: UP045
            "--rates", help="Also write the churn rate per period here.", rich_help_panel=opt.OUTPUT
        ),
    ] = None,
    top: Annotated[
        int, typer.Option("--top", help="Customers shown per list on the terminal.", rich_help_panel=opt.OUTPUT)
    ] = 10,
    lists: ListOptions = NO_LIST_OPTIONS,
    quiet: opt.Quiet = False,
    on_bad_rows: opt.OnBadRows = "error",
    rejects: opt.Rejects = None,
    tx: TransactionColumns = NO_COLUMN_OPTIONS,
) -> None:
    """Each customer's status (active, lapsing, lapsed) with the reason: days since the last purchase against
    their own inter-purchase time, or the population's when they have fewer than two gaps. Lapsing and lapsed
    customers ranked by value with a value tier, and the churn rate per period.

    -o writes one row per customer (all, or --status ones), ranked by value within each status."""
    import polars as pl

    from loyalty_cli.errors import DataError, UsageError
    from loyalty_cli.io.writers import write_table
    from loyalty_cli.metrics.churn import (
        STATUSES,
        churn_tables,
        load_churn_rules,
        model_predictions,
        rank_by_value,
        status_summary,
    )
    from loyalty_cli.metrics.retention import check_period
    from loyalty_cli.models import PURCHASE_MODELS

    out = Output(quiet=quiet)
    policy = check_bad_rows(on_bad_rows)
    period_name = check_period(period)
    unknown = [s for s in statuses or [] if s not in STATUSES]
    if unknown:
        raise UsageError(
            f"Unknown status {unknown[0]!r}",
            hint=f"{words.did_you_mean(unknown[0], STATUSES)}Statuses: {', '.join(STATUSES)}.",
        )
    if model is not None and model not in PURCHASE_MODELS:
        raise UsageError(f"--model must be one of {', '.join(PURCHASE_MODELS)}, got {model!r}")
    if rank_by not in ("historical", "predicted"):
        raise UsageError(f"--rank-by must be historical or predicted, got {rank_by!r}")
    if rank_by == "predicted" and model is None:
        raise UsageError("--rank-by predicted needs --model", hint="e.g. --model pnbd --rank-by predicted")
    if top < 0:
        raise UsageError(f"--top must be 0 or more, got {top}")
    check_output(output, fmt, example="churn.parquet")
    lists.check(output, fmt)
    check_table_path(rates, "--rates")
    churn_rules = load_churn_rules(rules)
    options = tx.read_options(out)
    loaded = load_transactions_checked(
        inputs, options, as_of=to_date(as_of), policy=policy, rejects=rejects, output=output, out=out, activity=True
    )
    customers, activity = loaded.customers, loaded.activity
    assert activity is not None
    check_ipt(
        loaded,
        churn_rules,
        hint="Use fixed thresholds instead: [lapsing] days = 60 and [lapsed] days = 180 "
        "in a copy of rules/churn.toml (--rules FILE).",
    )
    # the status is collected once and the rates derived from it (a lazy status is recomputed by the rates)
    table, by_period = churn_tables(customers.lazy(), activity.lazy(), rules=churn_rules, period=period_name)
    as_of_day = table["as_of"][0]
    out.note(
        f"As of {as_of_day} (data before that day); {words.count(table.height, 'customer')}; "
        f"rules {churn_rules.source}: {churn_rules.describe()}"
    )
    value = "net_spend"
    if model is not None:
        with out.status(f"Fitting {model} ..."):
            result = model_predictions(activity, as_of=as_of_day, model=model)
        table = table.join(result.predictions, on="customer_id", how="left")
        label = getattr(result.model, "label", model)
        out.note(
            f"P(alive) from {label} ({model}) fitted on {words.count(table.height, 'customer')}; predicted_value = "
            "expected net spend over the next 12 months (Gamma-Gamma spend, discounted 1% a month)"
        )
        if model == "bgnbd":
            one_time = int((table["purchase_days"] == 1).sum())
            out.note(
                f"BG/NBD gives every one-time buyer P(alive) = 1 however long ago they bought: left empty "
                f"for {one_time:,} one-time buyers (their status comes from the rule; --model mbgnbd or "
                "pnbd judges them)"
            )
        if result.note:
            out.warn(result.note)
            if rank_by == "predicted":
                raise DataError(f"Cannot rank by predicted value: {result.note}", hint="Use --rank-by historical.")
        if rank_by == "predicted":
            value = "predicted_value"
    ranked = rank_by_value(table.lazy(), rules=churn_rules, value=value).collect()
    summary = status_summary(ranked.lazy()).collect()
    first = ["customer_id", "email"] if "email" in ranked.columns else ["customer_id"]
    lead = [*first, "status", "value_tier", "value_rank", "worth_costly_offer", "reason"]
    ranked = ranked.select(*lead, pl.exclude(*lead))
    chosen = ranked.filter(pl.col("status").is_in(statuses)) if statuses else ranked
    if output:
        lists.write(
            chosen,
            output,
            fmt=fmt,
            out=out,
            mapping=options.mapping_file,
            tag="status",
            value="net_spend",
            policy=policy,
            rejects=rejects,
        )
    if rates is not None:
        write_table(by_period, rates)
        out.note(f"Wrote the churn rate per {period_name} to {rates}")
    to_stderr = output == "-"
    if output and out.quiet:
        return
    basis = "predicted value" if value == "predicted_value" else "historical net spend"
    out.table(
        summary,
        title=f"Customers by status (as of {as_of_day}; value tiers by {basis})",
        formats={"share_customers": ".1%", "share_net_spend": ".1%"},
        to_stderr=to_stderr,
    )
    shown_rates = by_period.tail(12)
    if by_period.height:
        out.table(
            shown_rates.drop("period_start"),
            title=f"Churn rate per {period_name}: customers at the start who are lapsed at the end"
            + (
                f" (last {shown_rates.height} of {by_period.height}; all with --rates)"
                if by_period.height > shown_rates.height
                else ""
            ),
            formats={"churn_rate": ".1%"},
            to_stderr=to_stderr,
        )
    cols = [c for c in LIST_COLUMNS if c in ranked.columns]
    for name in ("lapsing", "lapsed"):
        rows = ranked.filter(pl.col("status") == name)
        if top and rows.height:
            out.table(
                rows.head(top).select(cols),
                title=f"Top {min(top, rows.height)} of {words.count(rows.height, f'{name} customer')} by {basis} "
                "(worth_costly_offer false: low value, a reminder at most)",
                formats={"p_alive": ".2f"},
                to_stderr=to_stderr,
            )


def register(app: typer.Typer) -> None:
    app.command("churn", epilog=EXAMPLES, rich_help_panel="Analyse")(churn)
