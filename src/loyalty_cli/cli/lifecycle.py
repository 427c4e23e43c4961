"""``loyalty lifecycle``: one stage and one action per customer (and prospect), a to-do list by stage."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

from loyalty_cli import words
from loyalty_cli.cli import campaign, command, common
from loyalty_cli.cli import options as opt
from loyalty_cli.cli.console import Output

if TYPE_CHECKING:
    from loyalty_cli.app.inputs import InputSpec
    from loyalty_cli.app.lifecycle import LifecycleConfig, LifecycleResult

EXAMPLES = """
Examples:

  loyalty lifecycle sample_data/transactions.csv --surveys sample_data/surveys.csv --contacts sample_data/contacts.csv

  loyalty lifecycle orders.csv --contacts crm.csv -o todo.csv --summary stages.csv

  loyalty lifecycle orders.csv --surveys nps.csv --stage lapsed --stage lapsing -o winback.csv

  loyalty lifecycle orders.csv --as-of 2024-07-01 -o last_month.parquet

  loyalty lifecycle orders.csv --stage repeat --stage loyal --next-order -o cross_sell.csv

  loyalty lifecycle orders.csv --previous last_month.parquet -o this_month.parquet --transitions moves.csv
"""

INPUTS = "More inputs"
SHOWN = ("stage", "action", "customers", "share_customers", "net_spend", "share_net_spend")
TODO = (
    "Write the to-do list (one row per customer and prospect: stage, action, flags and the inputs that decided) here "
    "(.csv, .parquet, .json, .xlsx; - for stdout)."
)
Todo = Annotated[str | None, typer.Option("--output", "-o", metavar="FILE", help=TODO, rich_help_panel=opt.OUTPUT)]


@common.handle_errors
@common.transaction_columns
@campaign.list_options_without_contacts
@opt.declare(
    surveys=opt.o(
        "NPS survey export (repeatable): the latest answer per customer makes advocates (active + 9-10) and the "
        "detractor VIP and promoter flags. Columns detected or mapped in rules/columns.toml.",
        "FILE",
        panel=INPUTS,
    ),
    contacts=opt.o(
        "Contacts/CRM export (repeatable): contacts with no purchase are prospects; emails fill in; with --target "
        "also consent.",
        "FILE",
        panel=INPUTS,
    ),
    previous=opt.o(
        "A previous lifecycle output (-o of an earlier run): lapsed customers who ordered since are reactivated, "
        "and the transition matrix is shown.",
        panel=INPUTS,
    ),
    stages=opt.o(
        "Write only customers in this stage (repeatable), e.g. for an email hand-off.", "STAGE", flag="--stage"
    ),
    rules=opt.o("Lifecycle rules TOML (stages, actions, flags); default: the built-in rules/lifecycle.toml.", "FILE"),
    churn_rules=opt.o(
        "Churn rules TOML (lapsing/lapsed thresholds, value tiers); default: the built-in rules/churn.toml.", "FILE"
    ),
    window=opt.o(
        "The second-purchase window that separates new from one-time lapsing buyers: percentiles of the repeaters' "
        "days to second purchase (p25-p75), per first-order category, or days after the first purchase (20-45).",
        "WINDOW",
    ),
    min_n=opt.o("Categories with fewer repeaters use the window of all customers.", min=1),
    next_order=opt.o(
        "Also give each repeat customer in the -o list their next-order date and contact window (next_order_date, "
        "contact_from, contact_to, as loyalty next-order gives them, BG/NBD); empty for one-time buyers and "
        "prospects.",
    ),
    summary=opt.o(
        "Also write the stage summary (customers, share, net spend, action per rule) here.", panel=opt.OUTPUT
    ),
    transitions=opt.o(
        "Also write the transition matrix (previous stage x stage; needs --previous) here.", panel=opt.OUTPUT
    ),
)
def lifecycle(
    inputs: opt.Inputs,
    output: Todo = None,
    fmt: opt.Format = None,
    as_of: opt.AsOf = None,
    surveys: list[str] | None = None,
    contacts: list[str] | None = None,
    previous: Path | None = None,
    stages: list[str] | None = None,
    rules: str | None = None,
    churn_rules: str | None = None,
    window: str = "p25-p75",
    min_n: int = 30,
    next_order: bool = False,
    summary: Path | None = None,
    transitions: Path | None = None,
    lists: campaign.ListOptions = campaign.NO_LIST_OPTIONS,
    quiet: opt.Quiet = False,
    on_bad_rows: opt.OnBadRows = "error",
    rejects: opt.Rejects = None,
    tx: common.TransactionColumns = common.NO_COLUMN_OPTIONS,
) -> None:
    """One lifecycle stage per customer (prospect, new, one-time lapsing, repeat, loyal, advocate, lapsing,
    lapsed, reactivated) from ordered rules, with the action the shop takes at that stage and flags (detractor
    VIP, promoter): a to-do list, and a summary of customers and net spend per stage."""
    command.execute(COMMAND, command.flat(locals()), Output(quiet=quiet))


def _lists(options: command.Options) -> command.Options:
    """The options as the list sees them: ``contacts`` is this command's own input (its rows give the consent)."""
    return {**options, "contacts": None}


def _configure(options: command.Options) -> LifecycleConfig:
    from loyalty_cli.app.lifecycle import OPTIONAL_INPUTS, LifecycleConfig
    from loyalty_cli.cli.second_purchase import parse_window
    from loyalty_cli.errors import UsageError

    window = parse_window(options["window"])
    campaign.check_list_output(_lists(options), example="todo.csv")
    common.check_table_path(options["summary"], "--summary")
    common.check_table_path(options["transitions"], "--transitions")
    if options["transitions"] is not None and options["previous"] is None:
        raise UsageError("--transitions needs --previous", hint="Pass an earlier lifecycle output with --previous.")
    if options["next_order"] and not options["output"]:
        raise UsageError("--next-order needs -o", hint="The dates go into the to-do list: e.g. -o todo.csv.")
    given = {name: bool(options[name]) for name in OPTIONAL_INPUTS}  # surveys, contacts, previous
    stages = tuple(options["stages"] or ())
    return command.config_of(LifecycleConfig, options, window=window, stages=stages, **given)


def _inputs(options: command.Options, config: LifecycleConfig, out: Output) -> InputSpec:
    files = {kind: list(options[kind] or ()) for kind in ("surveys", "contacts")}
    previous = str(Path(options["previous"])) if options["previous"] is not None else None
    return command.transaction_spec(options, out, activity=True, previous=previous, **files)


def _deliver(result: LifecycleResult, options: command.Options, out: Output) -> list[Path]:
    output = options["output"]
    who = ("customer or prospect", "customers and prospects") if result.contacts is not None else ("customer",)
    written: list[Path] = []
    if output:
        contact_rows = result.contacts if options["target"] else None
        written = campaign.write_list(
            result.rows,
            _lists(options),
            out,
            contact_rows=contact_rows,
            tag="stage",
            value="net_spend",
            describe=lambda n: words.count(n, *who),
        )
    written += command.write_file(result.summary, options["summary"], "the stage summary", out)
    if result.transitions is not None:
        written += command.write_file(result.transitions, options["transitions"], "the transition matrix", out)
    if not (output and out.quiet):
        _show(result, out, to_stderr=output == "-")
    return written


def _show(result: LifecycleResult, out: Output, *, to_stderr: bool) -> None:
    out.table(
        result.summary.select(SHOWN),
        title=f"Lifecycle stages (as of {result.as_of}; {result.facts.people:,} people; one row per rule: "
        "the first rule that holds decides)",
        formats={"share_customers": ".1%", "share_net_spend": ".1%"},
        headers={"share_customers": "share", "share_net_spend": "share of spend"},
        whole="--summary FILE writes every column",
        to_stderr=to_stderr,
    )
    if result.flags.height:
        out.table(result.flags, title="Flags (beside the stage)", to_stderr=to_stderr)
    if result.transitions is not None:
        title = "Transitions: previous stage (rows) to stage now (columns), customers"
        whole = "--transitions FILE writes the whole matrix"
        out.table(result.transitions, title=title, whole=whole, to_stderr=to_stderr)


COMMAND = command.Command(
    name="lifecycle",
    configure=_configure,
    inputs=_inputs,
    compute=command.app_function("lifecycle"),
    deliver=_deliver,
    rejects=command.rejects_of("transactions", "surveys", "contacts"),
)
