"""``loyalty plan-test``: the customers each arm of a reward test needs, from the shop's own baseline."""

from __future__ import annotations

from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING

from loyalty_cli.cli import command, common
from loyalty_cli.cli import options as opt
from loyalty_cli.cli.console import Output

if TYPE_CHECKING:
    from loyalty_cli.app.plan_test import PlanTestConfig, PlanTestResult

EXAMPLES = """
Examples:

  loyalty plan-test sample_data/transactions.csv --mde 0.05

  loyalty plan-test orders.csv --metric revenue --window 60d --mde 20% --arms reward_a,reward_b,control \\
    --arm-shares 0.4,0.4,0.2 -o plan.csv

  loyalty segment orders.csv --as-of 2024-10-01 --segment "At Risk" -o at_risk_oct.csv

  loyalty plan-test orders.csv --list at_risk_oct.csv --baseline-start 2024-10-01 --mde 0.1 --arms 3
"""

BASELINE = "Baseline"


@common.handle_errors
@common.transaction_columns
@opt.declare(
    mde=opt.o(
        "Minimum detectable difference: absolute (0.02: 2 points of repurchase rate; money for revenue) or relative "
        "to the baseline (10%). The target is the baseline plus it.",
        "DIFF",
    ),
    metric=opt.o(
        "repurchase: the share of customers with a purchase day in the window; revenue: net revenue per customer "
        "in the window (returns netted, 0 without an order). The outcomes loyalty uplift measures.",
        "repurchase|revenue",
    ),
    window=opt.o("Days the outcome is measured over, e.g. 30d, 8w or 30.", "DAYS"),
    power=opt.o("Power: the chance of detecting the difference when it is real.", min=0.5, max=0.99),
    confidence=opt.o(
        "Confidence; 1 - it is the two-sided significance level, shared by the comparisons (Bonferroni).",
        min=0.5,
        max=0.999,
    ),
    arms=opt.o(
        "The test's arms, as --arms of a list: names with one control (reward_a,reward_b,control), or a count "
        "(2: treatment and control; 3: arm_1, arm_2 and control). Each arm is compared with the control.",
        "A,B,control|N",
    ),
    arm_shares=opt.o(
        "The arms' shares of the list, in the order of --arms, summing to 1 (default: equal), as --arm-shares of a "
        "list.",
        "0.4,0.4,0.2",
    ),
    audience=opt.o(
        "The campaign's list (files, folders or globs; repeatable): the customers available, and the baseline "
        "from them. Default: every customer.",
        "FILE",
        panel=BASELINE,
        flag="--list",
    ),
    list_id_col=opt.o("Customer id column of --list (default: customer_id, external_id, ...).", "NAME", panel=BASELINE),
    baseline_start=opt.o(
        "First day of the baseline window (default: the as-of date minus --window: the last days of the data). For "
        "a list chosen on recent behaviour, make it as of an earlier date and give that date here.",
        "DATE",
        panel=BASELINE,
        formats=["%Y-%m-%d"],
    ),
)
def plan_test(
    inputs: opt.Inputs,
    mde: str,
    metric: str = "repurchase",
    window: str = "30d",
    power: float = 0.8,
    confidence: float = 0.95,
    arms: str = "2",
    arm_shares: str | None = None,
    audience: list[str] | None = None,
    list_id_col: str | None = None,
    baseline_start: datetime | None = None,
    output: opt.Output = None,
    fmt: opt.Format = None,
    as_of: opt.AsOf = None,
    quiet: opt.Quiet = False,
    on_bad_rows: opt.OnBadRows = "error",
    rejects: opt.Rejects = None,
    tx: common.TransactionColumns = common.NO_COLUMN_OPTIONS,
) -> None:
    """Plan a reward test: the customers each arm needs to detect a difference in repurchase rate or revenue per
    customer against a control group, from the shop's own baseline, and whether the list has them.

    The baseline: over the window (default the last --window days of the data), the customers with a first
    purchase before it (of --list, else all): the share with a purchase day in it (repurchase), or the mean and
    standard deviation of their net revenue in it (revenue). Sample sizes: the normal approximation for two
    proportions (unpooled) or two means, two-sided, each arm against the control at (1 - confidence) / k for k
    treatment arms (Bonferroni: conservative for the Holm adjustment of the analysis)."""
    command.execute(COMMAND, command.flat(locals()), Output(quiet=quiet))


def _configure(options: command.Options) -> PlanTestConfig:
    from loyalty_cli.app.plan_test import PlanTestConfig
    from loyalty_cli.durations import parse_days

    common.check_bad_rows(options["on_bad_rows"])
    common.check_output(options["output"], options["fmt"], example="plan.csv")
    window = parse_days(str(options["window"]), "--window", minimum=1)
    audience = tuple(options["audience"] or ())
    if audience:
        from loyalty_cli.io.sources import expand_inputs

        expand_inputs(audience)  # a missing list fails before the transactions are read
    return command.config_of(
        PlanTestConfig,
        options,
        window=window,
        lists=audience,
        baseline_start=common.to_date(options["baseline_start"], "--baseline-start"),
    )


def _deliver(result: PlanTestResult, options: command.Options, out: Output) -> list[Path]:
    written = command.write_output(result.table, options, "the test plan", out)
    if not (options["output"] and out.quiet):
        _show(result, out, to_stderr=options["output"] == "-")
    return written


def _show(result: PlanTestResult, out: Output, *, to_stderr: bool) -> None:
    """The plan's main columns; drawn, differences of rates in points (piped, as written: 0.05)."""
    from datetime import timedelta

    import polars as pl

    rate = result.metric == "repurchase"
    points = rate and out.drawn(to_stderr=to_stderr)
    value, diff = (".1%", "{:+.1f} pt") if rate else (",.2f", "+,.2f")
    formats = {"share": ".0%", "baseline": value, "target": value, "power": ".0%", "alpha": ".3g"}
    formats |= {"difference": diff, "detectable_difference": diff}
    columns = ["arm", "share", "customers_needed", "customers_available", "enough", "baseline", "target"]
    columns += ["difference", "power", "alpha", "detectable_difference"]
    scaled = ("difference", "detectable_difference") if points else ()
    shown = result.table.select(pl.col(c) * 100 if c in scaled else pl.col(c) for c in columns)
    what = "repurchase rate" if rate else "revenue per customer"
    window = f"{result.table['window_days'][0]} days (baseline {result.start} to {result.end - timedelta(days=1)})"
    out.table(
        shown,
        title=f"Test plan: {what} within {window}",
        formats=formats,
        headers={
            "customers_needed": "needed",
            "customers_available": "available",
            "detectable_difference": "detectable with available",
        },
        drop=("power", "share", "detectable_difference"),
        whole="-o FILE writes every column",
        to_stderr=to_stderr,
    )


COMMAND = command.Command(
    name="plan-test",
    configure=_configure,
    inputs=lambda options, config, out: command.transaction_spec(options, out, activity=True),
    compute=command.app_function("plan_test"),
    deliver=_deliver,
)
