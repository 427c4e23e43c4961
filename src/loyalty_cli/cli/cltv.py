"""``loyalty cltv``: predicted customer lifetime value from BTYD models, with an optional holdout check."""

from __future__ import annotations

import functools
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING

from loyalty_cli import words
from loyalty_cli.cli import campaign, command, common
from loyalty_cli.cli import options as opt
from loyalty_cli.cli.console import Output

if TYPE_CHECKING:
    from loyalty_cli.app.cltv import CltvResult, CltvSettings

EXAMPLES = """
Examples:

  loyalty cltv sample_data/transactions.csv -o clv.csv

  loyalty cltv orders.parquet --model pnbd --unit day --horizon 39w --discount 0.008

  loyalty cltv sample_data/transactions.csv --holdout 26w --tables checks/

  loyalty cltv CDNOW_sample.txt --customer-col column_1 --date-col column_3 --amount-col column_5 \\
    --calibration-end 1997-09-30
"""

MODEL = "Model"
#: the holdout summary's figures shown in the terminal (the --tables file has them all)
CHECK_SHOWN = (
    "customers holdout_days actual_purchases predicted_purchases purchases_ratio mae rmse actual_value predicted_value"
).split()


@common.handle_errors
@common.transaction_columns
@campaign.list_options
@opt.declare(
    model=opt.o(
        "Purchase model: bgnbd (BG/NBD), mbgnbd (MBG/NBD: one-time buyers can be inactive) or pnbd (Pareto/NBD).",
        "MODEL",
        panel=MODEL,
    ),
    unit=opt.o("Time unit of the model: day or week.", "day|week", panel=MODEL),
    horizon=opt.o(
        "Predict this far ahead, in months, weeks or days (default: 12m). A month is 1/12 of a year; a last partial "
        "month counts pro rata.",
        "12m|39w|90d",
        panel=MODEL,
        show_default=False,
    ),
    horizon_months=opt.o("Predict this many months ahead: the same as --horizon Nm.", panel=MODEL, show_default=False),
    discount=opt.o("Monthly discount rate of future value (0.01 = 1% a month).", panel=MODEL),
    penalizer=opt.o("L2 penalty on the parameters, e.g. 0.001, when a fit fails or is extreme.", panel=MODEL),
    holdout=opt.o(
        "Check the model: fit on the data before the last 90d (or 13w) and compare its predictions for that period "
        "with what happened.",
        "DAYS",
        panel=MODEL,
    ),
    calibration_end=opt.o(
        "Check the model: fit on the data up to this day (inclusive) and compare with what happened after it.",
        panel=MODEL,
        formats=["%Y-%m-%d"],
        show_default=False,
    ),
    top=opt.o("Customers shown in the top list."),
    tables=opt.o("Also write the model and check tables (CSV) into this folder.", panel=opt.OUTPUT),
)
def cltv(
    inputs: opt.Inputs,
    output: opt.Output = None,
    fmt: opt.Format = None,
    as_of: opt.AsOf = None,
    model: str = "bgnbd",
    unit: str = "week",
    horizon: str | None = None,
    horizon_months: int | None = None,
    discount: float = 0.01,
    penalizer: float = 0.0,
    holdout: str | None = None,
    calibration_end: datetime | None = None,
    top: int = 10,
    tables: Path | None = None,
    lists: campaign.ListOptions = campaign.NO_LIST_OPTIONS,
    quiet: opt.Quiet = False,
    on_bad_rows: opt.OnBadRows = "error",
    rejects: opt.Rejects = None,
    tx: common.TransactionColumns = common.NO_COLUMN_OPTIONS,
) -> None:
    """Predicted customer lifetime value: expected purchases, P(alive), expected spend and discounted CLV per
    customer, from a BG/NBD-family purchase model and the Gamma-Gamma spend model fitted by maximum
    likelihood. With --holdout or --calibration-end, a check of the predictions against a later period."""
    command.execute(COMMAND, command.flat(locals()), Output(quiet=quiet))


def _configure(options: command.Options) -> CltvSettings:
    from loyalty_cli.app.cltv import CltvSettings
    from loyalty_cli.errors import UsageError

    # the durations as given ("39w", "26w"): the settings read them, the models' before the check's
    config = command.config_of(
        CltvSettings, options, calibration_end=common.to_date(options["calibration_end"], "--calibration-end")
    )
    if options["top"] < 0:
        raise UsageError("--top must be >= 0")
    campaign.check_list_output(options, example="clv.parquet")
    return config


def _deliver(result: CltvResult, options: command.Options, out: Output) -> list[Path]:
    output, folder = options["output"], options["tables"]
    written = (
        campaign.write_list(result.rows, options, out, tag="value_tier", value=result.value_column) if output else []
    )
    if folder:
        from loyalty_cli.io.writers import write_table

        Path(folder).mkdir(parents=True, exist_ok=True)
        for name, frame in result.tables.items():
            written.append(Path(folder) / name)
            write_table(frame, written[-1])
        out.note(f"Wrote {', '.join(result.tables)} to {folder}")
    common.show_messages(result.warnings, out)  # once, even with --quiet
    if not (output and out.quiet):
        _show(result, options["top"], out, to_stderr=output == "-")
    return written


def _show(result: CltvResult, top: int, out: Output, *, to_stderr: bool) -> None:
    import polars as pl

    fit, check, s = result.fit, result.check, result.fit.config.suffix
    headers = {
        "customer_id": "customer",
        "value_tier": "tier",
        f"predicted_clv_{s}": f"predicted CLV {s}",
        f"expected_purchases_{s}": f"purchases {s}",
        "p_alive": "P(alive)",
        "mean_p_alive": "mean P(alive)",
        "actual_purchases": "actual",
        "predicted_purchases": "predicted",
        "purchases_ratio": "ratio",
        "mae": "MAE",
        "rmse": "RMSE",
    }
    show = functools.partial(out.table, headers=headers, to_stderr=to_stderr, whole="--tables DIR writes every column")
    p, horizon = fit.purchase, fit.config.horizon
    patterns = f"{words.count(p.n_customers, 'customer')}, {words.count(p.n_patterns, 'pattern')}"
    show(fit.parameters(), title=f"Parameters ({patterns})", formats={"value": ".4g", "std_error": ".3g"})
    common.show_messages(result.model_notes, out)
    show(pl.DataFrame([fit.totals()]), title=f"Totals (as of {fit.as_of})")
    if top:
        columns = ["customer_id", "value_tier", f"predicted_clv_{s}", f"expected_purchases_{s}", "p_alive"]
        shown = words.count(min(top, result.rows.height), "customer")
        show(
            result.top(top).select(*columns, "expected_spend", "historical_value"),
            title=f"Top {shown} by predicted {horizon.count}-{horizon.unit} CLV",
            formats={"p_alive": ".3f"},
            drop=("expected_spend", f"expected_purchases_{s}", "value_tier"),
            whole="-o FILE writes every customer with every column",
        )
    if check is None:
        return
    weeks = check.tracking.height
    step = max(1, -(-weeks // 12))
    show(
        pl.DataFrame([check.summary]).select(CHECK_SHOWN),
        title="Holdout check: repeat purchase days",
        formats={"purchases_ratio": ".3f", "mae": ".3f", "rmse": ".3f"},
        drop=("rmse", "holdout_days", "customers"),
    )
    show(
        check.by_frequency,
        title="Holdout purchases per customer, by calibration frequency",
        formats={"actual_mean": ".3f", "predicted_mean": ".3f"},
    )
    show(
        check.tracking.filter((pl.col("week") % step == 0) | (pl.col("week") == weeks)),
        title=f"Tracking: cumulative repeat purchase days (every {step} weeks; all weeks with --tables)",
        formats={"expected_cumulative": ",.1f"},
    )


COMMAND = command.Command(
    name="cltv",
    configure=_configure,
    # the activity only: stage 1's customer table is not held (the calibration summary is cltv's own)
    inputs=lambda options, config, out: command.transaction_spec(options, out, activity=True, customers=False),
    compute=command.app_function("cltv"),
    deliver=_deliver,
)
