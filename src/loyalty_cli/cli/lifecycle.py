"""``loyalty lifecycle``: one stage and one action per customer (and prospect), a to-do list by stage."""

from __future__ import annotations

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
    check_table_path,
    handle_errors,
    list_options_without_contacts,
    list_spec,
    rejects_path,
    transaction_columns,
    write_rejects,
)
from loyalty_cli.cli.console import Output

if TYPE_CHECKING:
    from loyalty_cli.app.inputs import Inputs, InputSpec
    from loyalty_cli.app.lifecycle import LifecycleConfig, LifecycleResult
    from loyalty_cli.app.messages import Messages

EXAMPLES = """
Examples:

  loyalty lifecycle sample_data/transactions.csv --surveys sample_data/surveys.csv --contacts sample_data/contacts.csv

  loyalty lifecycle orders.csv --contacts crm.csv -o todo.csv --summary stages.csv

  loyalty lifecycle orders.csv --surveys nps.csv --stage lapsed --stage lapsing -o winback.csv

  loyalty lifecycle orders.csv --as-of 2024-07-01 -o last_month.parquet

  loyalty lifecycle orders.csv --previous last_month.parquet -o this_month.parquet --transitions moves.csv
"""

INPUTS_PANEL = "More inputs"
SHOWN = ("stage", "action", "customers", "share_customers", "net_spend", "share_net_spend")


@handle_errors
@transaction_columns
@list_options_without_contacts
def lifecycle(
    inputs: opt.Inputs,
    output: Annotated[
        str | None,
        typer.Option(  # noqa: UP045
            "--output",
            "-o",
            metavar="FILE",
            help="Write the to-do list (one row per customer and prospect: stage, action, flags and "
            "the inputs that decided) here (.csv, .parquet, .json; - for stdout).",
            rich_help_panel=opt.OUTPUT,
        ),
    ] = None,
    fmt: opt.Format = None,
    as_of: opt.AsOf = None,
    surveys: Annotated[
        list[str] | None,
        typer.Option(  # noqa: UP045
            "--surveys",
            metavar="FILE",
            help="NPS survey export (repeatable): the latest answer per customer makes advocates "
            "(active + 9-10) and the detractor VIP and promoter flags. Columns detected or mapped in "
            "rules/columns.toml.",
            rich_help_panel=INPUTS_PANEL,
            show_default=False,
        ),
    ] = None,
    contacts: Annotated[
        list[str] | None,
        typer.Option(  # noqa: UP045
            "--contacts",
            metavar="FILE",
            help="Contacts/CRM export (repeatable): contacts with no purchase are prospects; emails fill "
            "in; with --target also consent.",
            rich_help_panel=INPUTS_PANEL,
            show_default=False,
        ),
    ] = None,
    previous: Annotated[
        Path | None,
        typer.Option(  # noqa: UP045
            "--previous",
            help="A previous lifecycle output (-o of an earlier run): lapsed customers who ordered since "
            "are reactivated, and the transition matrix is shown.",
            rich_help_panel=INPUTS_PANEL,
            show_default=False,
        ),
    ] = None,
    stages: Annotated[
        list[str] | None,
        typer.Option(  # noqa: UP045
            "--stage",
            metavar="STAGE",
            help="Write only customers in this stage (repeatable), e.g. for an email hand-off.",
            show_default=False,
        ),
    ] = None,
    rules: Annotated[
        str | None,
        typer.Option(  # noqa: UP045
            "--rules",
            metavar="FILE",
            help="Lifecycle rules TOML (stages, actions, flags); default: the built-in rules/lifecycle.toml.",
            show_default=False,
        ),
    ] = None,
    churn_rules: Annotated[
        str | None,
        typer.Option(  # noqa: UP045
            "--churn-rules",
            metavar="FILE",
            help="Churn rules TOML (lapsing/lapsed thresholds, value tiers); default: the built-in rules/churn.toml.",
            show_default=False,
        ),
    ] = None,
    window: Annotated[
        str,
        typer.Option(
            "--window",
            metavar="WINDOW",
            help="The second-purchase window that separates new from one-time lapsing buyers: "
            "percentiles of the repeaters' days to second purchase (p25-p75), per first-order category, or days "
            "after the first purchase (20-45).",
        ),
    ] = "p25-p75",
    min_n: Annotated[
        int, typer.Option("--min-n", min=1, help="Categories with fewer repeaters use the window of all customers.")
    ] = 30,
    summary_path: Annotated[
        Path | None,
        typer.Option(  # noqa: UP045
            "--summary",
            help="Also write the stage summary (customers, share, net spend, action per rule) here.",
            rich_help_panel=opt.OUTPUT,
            show_default=False,
        ),
    ] = None,
    transitions_path: Annotated[
        Path | None,
        typer.Option(  # noqa: UP045
            "--transitions",
            help="Also write the transition matrix (previous stage x stage; needs --previous) here.",
            rich_help_panel=opt.OUTPUT,
            show_default=False,
        ),
    ] = None,
    lists: ListOptions = NO_LIST_OPTIONS,
    quiet: opt.Quiet = False,
    on_bad_rows: opt.OnBadRows = "error",
    rejects: opt.Rejects = None,
    tx: TransactionColumns = NO_COLUMN_OPTIONS,
) -> None:
    """One lifecycle stage per customer (prospect, new, one-time lapsing, repeat, loyal, advocate, lapsing,
    lapsed, reactivated) from ordered rules, with the action the shop takes at that stage and flags (detractor
    VIP, promoter): a to-do list, and a summary of customers and net spend per stage."""
    execute(COMMAND, flat(locals()), Output(quiet=quiet))


def _lists(options: Options) -> ListOptions:
    """The list options; ``contacts`` is this command's own input (read with the mapping, used for consent)."""
    from dataclasses import replace

    return replace(list_spec(options), contacts=None)


def _configure(options: Options) -> LifecycleConfig:
    from loyalty_cli.app.lifecycle import LifecycleConfig
    from loyalty_cli.cli.second_purchase import parse_window
    from loyalty_cli.errors import UsageError

    check_bad_rows(options["on_bad_rows"])
    window = parse_window(options["window"])
    output, fmt = options["output"], options["fmt"]
    check_output(output, fmt, example="todo.csv")
    _lists(options).check(output, fmt)
    check_table_path(options["summary_path"], "--summary")
    check_table_path(options["transitions_path"], "--transitions")
    if options["transitions_path"] is not None and options["previous"] is None:
        raise UsageError("--transitions needs --previous", hint="Pass an earlier lifecycle output with --previous.")
    return LifecycleConfig(
        rules=options["rules"],
        churn_rules=options["churn_rules"],
        window=window,
        min_n=options["min_n"],
        stages=tuple(options["stages"] or ()),
        surveys=bool(options["surveys"]),
        contacts=bool(options["contacts"]),
        previous=options["previous"] is not None,
    )


def _inputs(options: Options, config: LifecycleConfig, out: Output) -> InputSpec:
    previous = options["previous"]
    return transaction_spec(
        options,
        out,
        activity=True,
        surveys=list(options["surveys"] or ()),
        contacts=list(options["contacts"] or ()),
        previous=str(Path(previous)) if previous is not None else None,
    )


def _rejects(inputs: Inputs, options: Options, out: Output) -> list[Path]:
    """Under --on-bad-rows skip: the rejected rows of the transactions, surveys and contacts in one file."""
    path = rejects_path(options["rejects"], options["output"])
    frames = [inputs.rejects[kind] for kind in ("transactions", "surveys", "contacts") if kind in inputs.rejects]
    if not any(f.height for f in frames):
        return []
    write_rejects(frames, path, out)
    return [path]


def _deliver(result: LifecycleResult, options: Options, out: Output) -> list[Path]:
    from loyalty_cli.io.writers import write_table

    output, summary_path, transitions_path = options["output"], options["summary_path"], options["transitions_path"]
    written: list[Path] = []
    if output:
        prospects, lists = result.contacts is not None, _lists(options)
        written += lists.write(
            result.todo,
            output,
            fmt=options["fmt"],
            out=out,
            mapping=options["mapping"],
            contact_rows=result.contacts if lists.target else None,
            tag="stage",
            value="net_spend",
            describe=lambda n: (
                words.count(n, "customer or prospect", "customers and prospects")
                if prospects
                else words.count(n, "customer")
            ),
        )
    if summary_path is not None:
        write_table(result.summary, summary_path)
        out.note(f"Wrote the stage summary to {summary_path}")
        written.append(Path(summary_path))
    if transitions_path is not None and result.transitions is not None:
        write_table(result.transitions, transitions_path)
        out.note(f"Wrote the transition matrix to {transitions_path}")
        written.append(Path(transitions_path))
    if not (output and out.quiet):
        _show(result, out, to_stderr=output == "-")
    return written


def _show(result: LifecycleResult, out: Output, *, to_stderr: bool) -> None:
    out.table(
        result.summary.select(SHOWN),
        title=f"Lifecycle stages (as of {result.as_of}; {result.facts.people:,} people; one row per rule: "
        "the first rule that holds decides)",
        formats={"share_customers": ".1%", "share_net_spend": ".1%"},
        to_stderr=to_stderr,
    )
    if result.flags.height:
        out.table(result.flags, title="Flags (beside the stage)", to_stderr=to_stderr)
    if result.transitions is not None:
        out.table(
            result.transitions,
            title="Transitions: previous stage (rows) to stage now (columns), customers",
            to_stderr=to_stderr,
        )


COMMAND = Command(
    name="lifecycle",
    configure=_configure,
    inputs=_inputs,
    compute=lambda inputs, config, messages: _compute(inputs, config, messages),
    deliver=_deliver,
    rejects=_rejects,
)


def _compute(inputs: Inputs, config: LifecycleConfig, messages: Messages) -> LifecycleResult:
    from loyalty_cli.app.lifecycle import lifecycle as lifecycle_stages

    return lifecycle_stages(inputs, config, messages)


def register(app: typer.Typer) -> None:
    app.command("lifecycle", epilog=EXAMPLES, rich_help_panel="Analyse")(lifecycle)
