"""``loyalty uplift``: did a campaign work? Treatment vs control over a window after the campaign start."""

from __future__ import annotations

from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING

from loyalty_cli import words
from loyalty_cli.cli import command, common
from loyalty_cli.cli import options as opt
from loyalty_cli.cli.console import Output

if TYPE_CHECKING:
    from loyalty_cli.app.inputs import InputSpec
    from loyalty_cli.app.uplift import UpliftConfig, UpliftResult

EXAMPLES = """
Examples (the lists first, as of the campaign start; then, once the orders cover the window, the uplift):

  loyalty segment orders.csv --as-of 2024-10-01 --segment "At Risk" --holdout-share 0.1 --seed at-risk-2024-10 \\
    -o at_risk.csv

  loyalty uplift orders.csv --treatment at_risk.csv --control at_risk.control.csv --start 2024-10-01

  loyalty uplift orders.csv --manifest at_risk.manifest.json --start 2024-10-01 --window 60d -o uplift.csv

  loyalty uplift orders.csv --groups campaign.csv --group-col group --start 2024-10-01 --by none

Test arms (each arm against the control, Holm-adjusted), net of the reward's cost:

  loyalty segment orders.csv --as-of 2024-10-01 --arms reward_a,reward_b,control --arm-shares 0.4,0.4,0.2 \\
    --seed spring-2024 -o spring.csv

  loyalty uplift orders.csv --manifest spring.manifest.json --start 2024-10-01 \\
    --cost reward_a=2.5,reward_b=5/redemption
"""

LISTS = "Lists"


@common.handle_errors
@common.transaction_columns
@opt.declare(
    start=opt.o("Campaign start: the first day of the window.", formats=["%Y-%m-%d"]),
    treatment=opt.o("The list the campaign went to (files, folders or globs; repeatable).", "FILE", panel=LISTS),
    control=opt.o("The control group held out of it (NAME.control.csv; repeatable).", "FILE", panel=LISTS),
    groups=opt.o("Instead: one list with a column saying treatment or control (--group-col).", "FILE", panel=LISTS),
    manifest=opt.o(
        "Instead: the NAME.manifest.json written with the list (its treatment and control files, or its arms).",
        panel=LISTS,
    ),
    arm=opt.o(
        "Instead: one test arm's files as NAME=FILE[,FILE] (repeat per arm; the arm named control, or --control-arm, "
        "is the control group).",
        "NAME=FILE",
        panel=LISTS,
    ),
    group_col=opt.o("The group column of --groups (arm: each value a test arm).", "NAME", panel=LISTS),
    control_arm=opt.o(
        "The arm that is the control group (default: control); with --groups, reads the group column as arms.",
        "NAME",
        panel=LISTS,
    ),
    list_id_col=opt.o("Customer id column of the lists (default: customer_id, external_id, ...).", "NAME", panel=LISTS),
    window=opt.o("Days after the start to compare, e.g. 30d, 8w or 30.", "DAYS"),
    by=opt.o(
        "Also compare per value of this list column (default: segment, stage or the tag column when the lists have "
        "one; none: overall only).",
        "COLUMN",
    ),
    min_n=opt.o("Segments with fewer customers in either group keep their counts and leave the rest empty.", min=1),
    confidence=opt.o("Confidence of the intervals; 1 - it is the significance level.", min=0.5, max=0.999),
    power=opt.o("Power for the minimum detectable effect.", min=0.5, max=0.99),
    cost=opt.o(
        "The reward's cost, for the return on it: per customer treated (2.50), per redemption (5/redemption: a "
        "treated customer who bought in the window), or per arm (reward_a=2.5,reward_b=5/redemption).",
        "COST",
    ),
    outcomes=opt.o("Also write each customer's group and outcome (purchase days, revenue) here.", panel=opt.OUTPUT),
)
def uplift(
    inputs: opt.Inputs,
    start: datetime,
    treatment: list[str] | None = None,
    control: list[str] | None = None,
    groups: list[str] | None = None,
    manifest: Path | None = None,
    arm: list[str] | None = None,
    group_col: str = "group",
    control_arm: str | None = None,
    list_id_col: str | None = None,
    window: str = "30d",
    by: str | None = None,
    min_n: int = 30,
    confidence: float = 0.95,
    power: float = 0.8,
    cost: str | None = None,
    output: opt.Output = None,
    fmt: opt.Format = None,
    outcomes: Path | None = None,
    as_of: opt.AsOf = None,
    quiet: opt.Quiet = False,
    on_bad_rows: opt.OnBadRows = "error",
    rejects: opt.Rejects = None,
    tx: common.TransactionColumns = common.NO_COLUMN_OPTIONS,
) -> None:
    """Campaign uplift: repurchase rate and net revenue per customer of the treatment list vs its control group
    over a window after the campaign start, with confidence intervals, significance tests, per segment when the
    lists have one, and the smallest effect the groups could detect. Lists split into arms: each arm against the
    control, Holm-adjusted; with --cost, the return on the reward."""
    command.execute(COMMAND, command.flat(locals()), Output(quiet=quiet))


def _configure(options: command.Options) -> UpliftConfig:
    from loyalty_cli.app.campaign_lists import CampaignLists
    from loyalty_cli.app.uplift import UpliftConfig
    from loyalty_cli.app.uplift_cost import parse_cost
    from loyalty_cli.durations import parse_days

    common.check_bad_rows(options["on_bad_rows"])
    window = parse_days(str(options["window"]), "--window", minimum=1)
    common.check_output(options["output"], options["fmt"], example="uplift.csv")
    common.check_table_path(options["outcomes"], "--outcomes")
    files = {name: tuple(options[name] or ()) for name in ("treatment", "control", "groups")}
    arms = _arm_files(options["arm"] or [])
    lists = command.config_of(CampaignLists, options, id_col=options["list_id_col"], arms=arms, **files)
    return command.config_of(
        UpliftConfig,
        options,
        start=common.to_date(options["start"], "--start"),
        lists=lists,
        window=window,
        cost=parse_cost(options["cost"]),
    )


def _arm_files(given: list[str]) -> tuple[tuple[str, tuple[str, ...]], ...]:
    """``--arm NAME=FILE[,FILE]`` (repeated) as each arm's files, in the order the arms are first named (an arm
    named twice gets the files of both)."""
    from loyalty_cli.errors import UsageError

    arms: dict[str, list[str]] = {}
    for text in given:
        name, equals, files = (part.strip() for part in text.partition("="))
        paths = [f.strip() for f in files.split(",") if f.strip()]
        if not equals or not name or not paths:
            raise UsageError(
                f"--arm {text!r}: expected NAME=FILE[,FILE]",
                hint="One arm per --arm, e.g. --arm reward_a=spring.reward_a.csv --arm control=spring.control.csv",
            )
        arms.setdefault(name, []).extend(paths)
    return tuple((name, tuple(paths)) for name, paths in arms.items())


def _inputs(options: command.Options, config: UpliftConfig, out: Output) -> InputSpec:
    from loyalty_cli.app.uplift import LINES

    return command.transaction_spec(options, out, lists=config.lists, summary=False, activity=True, lines=LINES)


def _deliver(result: UpliftResult, options: command.Options, out: Output) -> list[Path]:
    common.show_messages(result.messages, out)
    rows = words.count(result.table.height, "row")
    written = command.write_output(result.table, options, f"the uplift table ({rows})", out)
    what = words.count(result.outcomes.height, "customer outcome")
    written += command.write_file(result.outcomes, options["outcomes"], what, out)
    if not (options["output"] and out.quiet):
        _show(result, out, to_stderr=options["output"] == "-")
    return written


#: the outcomes shown, each in a table: (outcome, its per-group column, their short header, the title)
_OUTCOMES = (
    ("repurchase", "repurchase_rate", "rate", "Repurchase rate (share of customers with a purchase in the window)"),
    (
        "revenue",
        "revenue_per_customer",
        "per",
        "Net revenue per customer in the window (every customer, zeros included)",
    ),
)
#: an outcome's difference columns (``repurchase_diff`` ...) and their short headers
_DIFFERENCE = {"diff": "diff", "diff_low": "ci_low", "diff_high": "ci_high", "p_value": "p_value", "verdict": "verdict"}


#: drawn headers of the short names (the title says which outcome; piped output keeps the short names)
HEADERS = {
    "treated": "n treated",
    "control": "n control",
    **{f"{short}_{group}": group for _, _, short, _ in _OUTCOMES for group in ("treated", "control")},
    "diff": "uplift",
    "ci_low": "CI low",
    "ci_high": "CI high",
    "p_value": "p-value",
    "p_adjusted": "Holm p",
    "cost": "cost",
    "incremental": "incremental revenue",
    "net": "net return",
    "net_low": "CI low",
    "net_high": "CI high",
    "return_on_cost": "return on cost",
}
#: the return table's columns and their short names
_RETURN = {
    "treatment_customers": "treated",
    "redemptions": "redemptions",
    "total_cost_amount": "cost",
    "incremental_revenue": "incremental",
    "net_return_amount": "net",
    "net_return_amount_low": "net_low",
    "net_return_amount_high": "net_high",
    "return_on_cost": "return_on_cost",
}


def _show(result: UpliftResult, out: Output, *, to_stderr: bool) -> None:
    """Each outcome's columns of the uplift table under short headers: the groups' sizes and values, the
    difference with its interval, p-value (and with arms, Holm-adjusted) and verdict, per arm when the lists
    have arms and per segment when they have one; with a cost, the return on the reward."""
    pct = dict.fromkeys(("rate_treated", "rate_control", "diff", "ci_low", "ci_high"), ".1%")
    keys = ["arm"] if result.arms else []
    keys += ["segment"] if result.by_segment else []
    for outcome, value, short, title in _OUTCOMES:
        headers = {"treatment_customers": "treated", "control_customers": "control"}
        headers |= {f"treatment_{value}": f"{short}_treated", f"control_{value}": f"{short}_control"}
        headers |= {f"{outcome}_{name}": header for name, header in _DIFFERENCE.items()}
        if result.arms:
            at = list(headers).index(f"{outcome}_p_value") + 1
            items = list(headers.items())
            headers = dict([*items[:at], (f"{outcome}_adjusted_p_value", "p_adjusted"), *items[at:]])
        table = result.table.select(*keys, *headers).rename(headers)
        formats = {**(pct if outcome == "repurchase" else {}), "p_value": ".3g", "p_adjusted": ".3g"}
        out.table(
            table,
            title=title,
            formats=formats,
            headers=HEADERS,
            drop=(("treated", "control"), "p_value", ("ci_low", "ci_high")),
            whole="-o FILE writes every column",
            to_stderr=to_stderr,
        )
    if result.costed:
        money = dict.fromkeys(("cost", "incremental", "net", "net_low", "net_high"), "+,.2f") | {"cost": ",.2f"}
        out.table(
            result.table.select(*keys, *_RETURN).rename(_RETURN),
            title="Return on the reward (incremental revenue - cost; the interval from the revenue difference's)",
            formats={**money, "return_on_cost": "+.0%"},
            headers=HEADERS,
            drop=(("net_low", "net_high"), "redemptions", "treated"),
            whole="-o FILE writes every column",
            to_stderr=to_stderr,
        )


COMMAND = command.Command(
    name="uplift",
    configure=_configure,
    inputs=_inputs,
    compute=command.app_function("uplift", messages=False),
    deliver=_deliver,
)
