"""``loyalty cltv``: predicted customer lifetime value from BTYD models, with an optional holdout check."""

from __future__ import annotations

from datetime import date, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Annotated  # noqa: UP035

import typer

from loyalty_cli import words
from loyalty_cli.cli import options as opt
from loyalty_cli.cli.command import Command, Options, execute, flat, transaction_spec
from loyalty_cli.cli.common import (
    NO_COLUMN_OPTIONS,
    NO_LIST_OPTIONS,
    ListOptions,
    TransactionColumns,
    check_bad_rows,
    check_output,
    handle_errors,
    list_options,
    list_spec,
    show_messages,
    to_date,
    transaction_columns,
)
from loyalty_cli.cli.console import Output
from loyalty_cli.durations import parse_days, parse_duration
from loyalty_cli.errors import UsageError, setting

if TYPE_CHECKING:
    import polars as pl

    from loyalty_cli.app.cltv import CltvResult, CltvSettings
    from loyalty_cli.app.inputs import Inputs
    from loyalty_cli.app.messages import Messages
    from loyalty_cli.metrics.cltv_holdout import Holdout

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
    execute(COMMAND, flat(locals()), Output(quiet=quiet))


def _configure(options: Options) -> CltvSettings:
    import dataclasses

    from loyalty_cli.app.cltv import CltvSettings
    from loyalty_cli.metrics.cltv import Horizon

    check_bad_rows(options["on_bad_rows"])
    horizon, months = options["horizon"], options["horizon_months"]
    if horizon is not None and months is None:  # with both, the settings refuse the pair (before the text)
        horizon = Horizon(*parse_duration(str(horizon), setting("horizon"), units="dwm"))  # type: ignore[arg-type]
    config = CltvSettings(
        model=options["model"],
        unit=options["unit"],
        horizon=horizon,
        horizon_months=months,
        discount=float(options["discount"]),
        penalizer=float(options["penalizer"]),
    )
    # the check's settings after the models': a command line with errors in both is told the models' first
    holdout, calibration_end = options["holdout"] or None, _day(options["calibration_end"])
    if holdout is not None and calibration_end is None:  # with both, the settings refuse the pair
        holdout = parse_days(str(holdout), setting("holdout"), minimum=1)
    config = dataclasses.replace(config, holdout=holdout, calibration_end=calibration_end)
    if options["top"] < 0:
        raise UsageError("--top must be >= 0")
    output, fmt = options["output"], options["fmt"]
    check_output(output, fmt, example="clv.parquet")
    list_spec(options).check(output, fmt)
    return config


def _day(value: object) -> date | None:
    """A day given as a datetime (the command line), a date or ISO text (a pipeline file)."""
    if value is None or isinstance(value, datetime):
        return to_date(value)
    return value if isinstance(value, date) else date.fromisoformat(str(value))


def _deliver(result: CltvResult, options: Options, out: Output) -> list[Path]:
    output, tables = options["output"], options["tables"]
    written: list[Path] = []
    if output:
        written += list_spec(options).write(
            result.customers,
            output,
            fmt=options["fmt"],
            out=out,
            mapping=options["mapping"],
            tag="value_tier",
            value=result.value_column,
            policy=options["on_bad_rows"],
            rejects=options["rejects"],
        )
    if tables:
        written += _write_tables(result.tables, Path(tables), out)
    show_messages(result.warnings, out)  # once, even with --quiet
    if not (output and out.quiet):
        _show(result, options["top"], out, to_stderr=output == "-")
    return written


def _show(result: CltvResult, top: int, out: Output, *, to_stderr: bool) -> None:
    import polars as pl

    fit, table, s = result.fit, result.customers, result.fit.config.suffix
    p = fit.purchase
    out.table(
        fit.parameters(),
        title=f"Parameters ({words.count(p.n_customers, 'customer')}, {words.count(p.n_patterns, 'pattern')})",
        formats={"value": ".4g", "std_error": ".3g"},
        to_stderr=to_stderr,
    )
    show_messages(result.model_notes, out)
    out.table(pl.DataFrame([fit.totals()]), title=f"Totals (as of {fit.as_of})", to_stderr=to_stderr)
    if top:
        horizon = fit.config.horizon
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
            f"{horizon.count}-{horizon.unit} CLV",
            formats={"p_alive": ".3f"},
            to_stderr=to_stderr,
        )
    if result.check is not None:
        _show_check(result.check, out, to_stderr=to_stderr)


#: the holdout summary's figures shown in the terminal (the --tables file has them all)
CHECK_SHOWN = (
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


def _show_check(check: Holdout, out: Output, *, to_stderr: bool) -> None:
    import polars as pl

    out.table(
        pl.DataFrame([{k: check.summary[k] for k in CHECK_SHOWN}]),
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


def _write_tables(tables: dict[str, pl.DataFrame], folder: Path, out: Output) -> list[Path]:
    from loyalty_cli.io.writers import write_table

    folder.mkdir(parents=True, exist_ok=True)
    for name, frame in tables.items():
        write_table(frame, folder / name)
    out.note(f"Wrote {', '.join(tables)} to {folder}")
    return [folder / name for name in tables]


COMMAND = Command(
    name="cltv",
    configure=_configure,
    inputs=lambda options, config, out: transaction_spec(options, out, activity=True),
    compute=lambda inputs, config, messages: _compute(inputs, config, messages),
    deliver=_deliver,
)


def _compute(inputs: Inputs, config: CltvSettings, messages: Messages) -> CltvResult:
    from loyalty_cli.app.cltv import cltv as predict

    return predict(inputs, config, messages)


def register(app: typer.Typer) -> None:
    app.command("cltv", epilog=EXAMPLES, rich_help_panel="Analyse")(cltv)
