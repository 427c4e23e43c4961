"""``loyalty cltv``: predicted customer lifetime value from BTYD models, with an optional holdout check."""

from __future__ import annotations

from datetime import datetime, timedelta
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
    check_output,
    handle_errors,
    list_options,
    load_transactions_checked,
    parse_days,
    parse_duration,
    to_date,
    transaction_columns,
)
from loyalty_cli.cli.console import Output

EXAMPLES = """
Examples:

  loyalty cltv sample_data/transactions.csv -o clv.csv

  loyalty cltv orders.parquet --model pnbd --unit day --horizon 39w --discount 0.008

  loyalty cltv sample_data/transactions.csv --holdout 26w --tables checks/

  loyalty cltv CDNOW_sample.txt --customer-col column_1 --date-col column_3 --amount-col column_5 \\
    --calibration-end 1997-09-30
"""

MODEL = "Model"


@handle_errors
@transaction_columns
@list_options
def cltv(
    inputs: opt.Inputs,
    output: opt.Output = None,
    fmt: opt.Format = None,
    as_of: opt.AsOf = None,
    model: Annotated[
        str,
        typer.Option(
            "--model",
            metavar="MODEL",
            help="Purchase model: bgnbd (BG/NBD), mbgnbd (MBG/NBD: one-time "
            "buyers can be inactive) or pnbd (Pareto/NBD).",
            rich_help_panel=MODEL,
        ),
    ] = "bgnbd",
    unit: Annotated[
        str,
        typer.Option("--unit", metavar="day|week", help="Time unit of the model: day or week.", rich_help_panel=MODEL),
    ] = "week",
    horizon: Annotated[
        str | None,
        typer.Option(  # noqa: UP045
            "--horizon",
            metavar="12m|39w|90d",
            help="Predict this far ahead, in months, weeks or days (default: 12m). A month is 1/12 of a year; "
            "a last partial month counts pro rata.",
            rich_help_panel=MODEL,
            show_default=False,
        ),
    ] = None,
    horizon_months: Annotated[
        int | None,
        typer.Option(  # noqa: UP045
            "--horizon-months",
            help="Predict this many months ahead: the same as --horizon Nm.",
            rich_help_panel=MODEL,
            show_default=False,
        ),
    ] = None,
    discount: Annotated[
        float,
        typer.Option(
            "--discount", help="Monthly discount rate of future value (0.01 = 1% a month).", rich_help_panel=MODEL
        ),
    ] = 0.01,
    penalizer: Annotated[
        float,
        typer.Option(
            "--penalizer",
            help="L2 penalty on the parameters, e.g. 0.001, when a fit fails or is extreme.",
            rich_help_panel=MODEL,
        ),
    ] = 0.0,
    holdout: Annotated[
        str | None,
        typer.Option(  # noqa: UP045
            "--holdout",
            metavar="DAYS",
            help="Check the model: fit on the data before the last 90d (or 13w) and compare its "
            "predictions for that period with what happened.",
            rich_help_panel=MODEL,
        ),
    ] = None,
    calibration_end: Annotated[
        datetime | None,
        typer.Option(  # noqa: UP045
            "--calibration-end",
            formats=["%Y-%m-%d"],
            help="Check the model: fit on the data up to this day (inclusive) and compare with what happened after it.",
            rich_help_panel=MODEL,
            show_default=False,
        ),
    ] = None,
    top: Annotated[int, typer.Option("--top", help="Customers shown in the top list.")] = 10,
    tables: Annotated[
        Path | None,
        typer.Option(  # noqa: UP045
            "--tables", help="Also write the model and check tables (CSV) into this folder.", rich_help_panel=opt.OUTPUT
        ),
    ] = None,
    lists: ListOptions = NO_LIST_OPTIONS,
    quiet: opt.Quiet = False,
    on_bad_rows: opt.OnBadRows = "error",
    rejects: opt.Rejects = None,
    tx: TransactionColumns = NO_COLUMN_OPTIONS,
) -> None:
    """Predicted customer lifetime value: expected purchases, P(alive), expected spend and discounted CLV per
    customer, from a BG/NBD-family purchase model and the Gamma-Gamma spend model fitted by maximum
    likelihood. With --holdout or --calibration-end, a check of the predictions against a later period."""
    import polars as pl

    from loyalty_cli.errors import UsageError
    from loyalty_cli.metrics.cltv import CltvConfig, Horizon, calibration_summary, fit_cltv, holdout_check

    out = Output(quiet=quiet)
    policy = check_bad_rows(on_bad_rows)
    if horizon is not None and horizon_months is not None:
        raise UsageError("Give --horizon or --horizon-months, not both", hint="e.g. --horizon 12m or --horizon 39w.")
    if horizon is not None:
        count, horizon_unit = parse_duration(horizon, "--horizon", units="dwm")
        ahead = Horizon(count, horizon_unit)  # type: ignore[arg-type]
    else:
        ahead = Horizon(12 if horizon_months is None else horizon_months, "month")
    config = CltvConfig(
        model=model,
        unit=unit,  # type: ignore[arg-type]
        horizon=ahead,
        discount_monthly=discount,
        penalizer=penalizer,
    )
    if holdout and calibration_end:
        raise UsageError("Give --holdout or --calibration-end, not both")
    holdout_days = parse_days(holdout, "--holdout", minimum=1) if holdout else None
    if top < 0:
        raise UsageError("--top must be >= 0")
    check_output(output, fmt, example="clv.parquet")
    lists.check(output, fmt)
    options = tx.read_options(out)
    given_as_of = to_date(as_of)
    loaded = load_transactions_checked(
        inputs, options, as_of=given_as_of, policy=policy, rejects=rejects, output=output, out=out, activity=True
    )
    activity = loaded.activity
    assert activity is not None and loaded.as_of is not None
    end = loaded.as_of
    first_day = activity["day"].min()
    fit_end = end
    if holdout_days is not None:
        fit_end = end - timedelta(days=holdout_days)
    elif calibration_end is not None:
        fit_end = calibration_end.date() + timedelta(days=1)
    checking = holdout_days is not None or calibration_end is not None
    # with a check, at least one day is left after the calibration period (the last data day is end - 1)
    if fit_end > end - timedelta(days=1 if checking else 0) or fit_end <= first_day:  # type: ignore[operator]
        raise UsageError(
            f"The calibration period must end between {first_day} and {end - timedelta(days=2)}, "
            f"so that the check has data; it ends on {fit_end - timedelta(days=1)}",
            hint="Use a shorter --holdout or another --calibration-end.",
        )
    summary = calibration_summary(activity.lazy(), before=fit_end, unit=config.unit).collect()
    with out.status(f"Fitting {config.model} and Gamma-Gamma on {words.count(summary.height, 'customer')} ..."):
        fit = fit_cltv(summary, config, as_of=fit_end)
    check = holdout_check(fit, activity, as_of=end) if checking else None

    s = config.suffix
    table = fit.customers
    if check is not None:
        table = table.join(
            check.customers.select(
                "customer_id",
                pl.col("predicted_purchases").alias("holdout_predicted_purchases"),
                pl.col("actual_purchases").alias("holdout_actual_purchases"),
                pl.col("actual_value").alias("holdout_actual_value"),
            ),
            on="customer_id",
            how="left",
            maintain_order="left",
        )
    period = f"fitted on data before {fit_end}" + (
        f", checked on {fit_end} to {end - timedelta(days=1)}" if checking else ""
    )
    out.note(
        f"{fit.purchase.label} + Gamma-Gamma, {period}; unit {config.unit}; horizon {config.horizon.label}, "
        f"discount {config.discount_monthly:.2%} a month"
    )
    if output:
        lists.write(
            table,
            output,
            fmt=fmt,
            out=out,
            mapping=options.mapping_file,
            tag="value_tier",
            value=f"predicted_clv_{s}",
            policy=policy,
            rejects=rejects,
        )
    if tables:
        _write_tables(fit, check, tables, out)
    for warning in fit.warnings:  # once, even with --quiet
        out.warn(warning)
    if output and out.quiet:
        return
    to_stderr = output == "-"
    p, g = fit.purchase, fit.spend
    out.table(
        fit.parameters(),
        title=f"Parameters ({words.count(p.n_customers, 'customer')}, {words.count(p.n_patterns, 'pattern')})",
        formats={"value": ".4g", "std_error": ".3g"},
        to_stderr=to_stderr,
    )
    outcome = "at a boundary (see the warning) after" if p.warnings else "converged in"
    out.note(
        f"{p.label}: log-likelihood {p.log_likelihood:,.2f}, {outcome} {words.count(p.iterations, 'iteration')}. "
        f"Gamma-Gamma: {words.count(g.n_customers, 'repeat customer')} with positive spend, "
        f"{words.count(g.n_excluded, 'other')} given "
        f"the population mean {g.population_mean:,.2f}; frequency/spend correlation "
        f"{g.frequency_spend_correlation:.2f} (the model assumes ~0)"
    )
    for note in fit.notes():
        out.note(f"{note} (--model mbgnbd or pnbd)")
    totals = fit.totals()
    out.table(pl.DataFrame([totals]), title=f"Totals (as of {fit_end})", to_stderr=to_stderr)
    if top:
        out.table(
            table.head(top).select(
                "customer_id",
                "value_tier",
                f"predicted_clv_{s}",
                f"expected_purchases_{s}",
                "p_alive",
                "expected_spend",
                "historical_value",
            ),
            title=f"Top {words.count(min(top, table.height), 'customer')} by predicted "
            f"{config.horizon.count}-{config.horizon.unit} CLV",
            formats={"p_alive": ".3f"},
            to_stderr=to_stderr,
        )
    if check is not None:
        hs = check.summary
        out.table(
            pl.DataFrame(
                [
                    {
                        k: hs[k]
                        for k in (
                            "customers",
                            "holdout_days",
                            "actual_purchases",
                            "predicted_purchases",
                            "purchases_ratio",
                            "mae",
                            "rmse",
                            "actual_value",
                            "predicted_value",
                        )
                    }
                ]
            ),
            title="Holdout check: repeat purchase days",
            formats={"purchases_ratio": ".3f", "mae": ".3f", "rmse": ".3f"},
            to_stderr=to_stderr,
        )
        out.table(
            check.by_frequency,
            title="Holdout purchases per customer, by calibration frequency",
            formats={"actual_mean": ".3f", "predicted_mean": ".3f"},
            to_stderr=to_stderr,
        )
        step = max(1, -(-check.tracking.height // 12))
        shown = check.tracking.filter(((pl.col("week") % step) == 0) | (pl.col("week") == check.tracking.height))
        out.table(
            shown,
            title=f"Tracking: cumulative repeat purchase days (every {step} weeks; all weeks with --tables)",
            formats={"expected_cumulative": ",.1f"},
            to_stderr=to_stderr,
        )


def _write_tables(fit: object, check: object, folder: Path, out: Output) -> None:
    import polars as pl

    from loyalty_cli.io.writers import write_table
    from loyalty_cli.metrics.cltv import CltvFit, Holdout

    assert isinstance(fit, CltvFit)
    frames: dict[str, pl.DataFrame] = {
        "parameters.csv": fit.parameters(),
        "totals.csv": pl.DataFrame([fit.totals()]),
    }
    if isinstance(check, Holdout):
        frames["holdout_summary.csv"] = pl.DataFrame([check.summary])
        frames["holdout_by_frequency.csv"] = check.by_frequency
        frames["tracking.csv"] = check.tracking
    folder.mkdir(parents=True, exist_ok=True)
    for name, frame in frames.items():
        write_table(frame, folder / name)
    out.note(f"Wrote {', '.join(frames)} to {folder}")


def register(app: typer.Typer) -> None:
    app.command("cltv", epilog=EXAMPLES, rich_help_panel="Analyse")(cltv)
