"""``loyalty lifecycle``: one stage and one action per customer (and prospect), a to-do list by stage."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Annotated  # noqa: UP035

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
    describe_scan,
    handle_errors,
    list_options_without_contacts,
    note_left_out,
    read_side,
    rejects_path,
    to_date,
    transaction_columns,
    write_rejects,
)
from loyalty_cli.cli.console import Output

if TYPE_CHECKING:
    from datetime import date

    import polars as pl

    from loyalty_cli.metrics.churn import ChurnRules
    from loyalty_cli.metrics.lifecycle import LifecycleRules
    from loyalty_cli.metrics.second_purchase import SecondPurchaseConfig

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


def _read_previous(path: Path, as_of: date) -> pl.DataFrame:
    """A previous ``loyalty lifecycle -o`` output (CSV, Parquet or JSON) as customer_id, previous_stage,
    previous_as_of."""
    import polars as pl

    from loyalty_cli.errors import DataError, UsageError
    from loyalty_cli.io.writers import output_format
    from loyalty_cli.metrics.lifecycle import check_previous

    if not path.is_file():
        raise DataError(
            f"Previous snapshot not found: {path}",
            hint="Pass a file written by an earlier `loyalty lifecycle -o FILE`.",
        )
    try:
        kind = output_format(path)
    except UsageError as exc:
        raise UsageError(f"--previous: {exc.message}", hint=exc.hint) from None
    try:
        if kind == "csv":
            frame = pl.read_csv(path, infer_schema=False)
        elif kind == "parquet":
            frame = pl.read_parquet(path)
        else:
            frame = pl.read_json(path, infer_schema_length=None)
    except (pl.exceptions.PolarsError, OSError, ValueError) as exc:
        raise DataError(
            f"Could not read the previous snapshot {path}: {str(exc).splitlines()[0]}",
            hint="Pass a file written by `loyalty lifecycle -o` (.csv, .parquet or .json).",
        ) from None
    return check_previous(frame, source=str(path), as_of=as_of)


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

    import polars as pl

    from loyalty_cli.cli.second_purchase import parse_window
    from loyalty_cli.errors import DataError, UsageError
    from loyalty_cli.io.writers import write_table
    from loyalty_cli.metrics import lifecycle as lc
    from loyalty_cli.metrics.churn import load_churn_rules
    from loyalty_cli.metrics.nps import customer_scores
    from loyalty_cli.metrics.second_purchase import SecondPurchaseConfig
    from loyalty_cli.stage1 import load_transactions

    out = Output(quiet=quiet)
    policy = check_bad_rows(on_bad_rows)
    window_config = SecondPurchaseConfig(min_n=min_n, window=parse_window(window))
    check_output(output, fmt, example="todo.csv")
    lists.check(output, fmt)
    check_table_path(summary_path, "--summary")
    check_table_path(transitions_path, "--transitions")
    if transitions_path is not None and previous is None:
        raise UsageError("--transitions needs --previous", hint="Pass an earlier lifecycle output with --previous.")
    life_rules = lc.load_lifecycle_rules(rules)
    unknown = [s for s in stages or [] if s not in life_rules.stages]
    if unknown:
        raise UsageError(
            f"Unknown stage {unknown[0]!r}",
            hint=f"{words.did_you_mean(unknown[0], life_rules.stages)}Stages: {', '.join(life_rules.stages)}.",
        )
    if stages:
        given = {"--surveys": bool(surveys), "--contacts": bool(contacts), "--previous": previous is not None}
        reachable = life_rules.reachable(
            surveys=given["--surveys"], contacts=given["--contacts"], previous=given["--previous"]
        )
        for stage in (s for s in stages if s not in reachable):
            missing = [
                o
                for o, ok in given.items()
                if not ok
                and stage in life_rules.reachable(**{k.strip("-"): True if k == o else v for k, v in given.items()})
            ]
            raise UsageError(
                f"--stage {stage} needs {' or '.join(missing) or 'other rules'}",
                hint=f"Without it nobody can be in the stage {stage!r}.",
            )
    churn = load_churn_rules(churn_rules)
    options = tx.read_options(out)
    with out.status("Reading transactions ..."):
        loaded = load_transactions(
            inputs,
            options,
            as_of=to_date(as_of),
            on_bad_rows=policy,  # type: ignore[arg-type]
            activity=True,
            on_scan=lambda scan: describe_scan(scan, out),
        )
    note_left_out([loaded], out)
    if loaded.customers.is_empty():
        if policy == "skip":
            write_rejects(loaded.rejects, rejects_path(rejects, output), out)
        raise DataError(
            "No customer made a purchase before the as-of date in " + ", ".join(str(p) for p in loaded.scan.paths[:3]),
            hint="Check --as-of, the date and amount columns, and the rejects file if rows were skipped.",
        )
    check_ipt(
        loaded,
        churn,
        hint="Use fixed thresholds instead: [lapsing] days = 60 and [lapsed] days = 180 in a "
        "copy of rules/churn.toml (--churn-rules FILE).",
    )
    customers, activity = loaded.customers, loaded.activity
    assert activity is not None and loaded.as_of is not None
    as_of_day = loaded.as_of
    side_rejects: list[pl.DataFrame] = []
    scores = None
    if surveys:
        responses, _, bad = read_side(
            "surveys", surveys, mapping=options.mapping_file, as_of=as_of_day, policy=policy, out=out
        )
        side_rejects += bad
        scores = customer_scores(responses.lazy()).collect()
    contact_rows = None
    if contacts:
        contact_rows, _, bad = read_side(
            "contacts", contacts, mapping=options.mapping_file, as_of=None, policy=policy, out=out
        )
        side_rejects += bad
    if policy == "skip":
        write_rejects([*loaded.rejects, *side_rejects], rejects_path(rejects, output), out)
    previous_rows = _read_previous(previous, as_of_day) if previous is not None else None

    window_config = lc.lifecycle_window(customers, window_config)
    table_lazy = lc.lifecycle_stages(
        customers.lazy(),
        activity.lazy(),
        as_of=as_of_day,
        rules=life_rules,
        churn_rules=churn,
        window=window_config,
        scores=scores.lazy() if scores is not None else None,
        contacts=contact_rows.lazy() if contact_rows is not None else None,
        previous=previous_rows.lazy() if previous_rows is not None else None,
    )
    plans = [table_lazy, lc.stage_summary(table_lazy, rules=life_rules), lc.flag_summary(table_lazy, rules=life_rules)]
    if previous_rows is not None:
        plans.append(lc.transitions(table_lazy, previous_rows.lazy()))
    try:
        results = pl.collect_all(plans)
    except pl.exceptions.PolarsError as exc:  # a condition that reads but fails on the real columns
        raise DataError(
            f"The lifecycle rules {life_rules.source} cannot be applied: {str(exc).splitlines()[0]}",
            hint="Check the conditions against the columns listed in rules/lifecycle.toml.",
        ) from None
    table, summary, flags = results[:3]
    moves = results[3] if previous_rows is not None else None
    _describe(
        out,
        table,
        life_rules,
        churn,
        window_config,
        customers,
        as_of_day,
        surveys=bool(surveys),
        contacts=contact_rows,
        previous=previous_rows,
        scores=scores,
    )

    chosen = table.filter(pl.col("stage").is_in(stages)) if stages else table
    chosen = chosen.with_columns(pl.col("stage").cast(pl.String))
    if output:
        # --contacts is this command's own input, read above with the mapping: the list uses those rows.
        lists.write(
            chosen,
            output,
            fmt=fmt,
            out=out,
            mapping=options.mapping_file,
            contact_rows=contact_rows if lists.target else None,
            tag="stage",
            value="net_spend",
            describe=lambda n: (
                words.count(n, "customer or prospect", "customers and prospects")
                if contact_rows is not None
                else words.count(n, "customer")
            ),
        )
    if summary_path is not None:
        write_table(summary, summary_path)
        out.note(f"Wrote the stage summary to {summary_path}")
    matrix = lc.transition_matrix(moves, stages=life_rules.stages) if moves is not None else None
    if transitions_path is not None and matrix is not None:
        write_table(matrix, transitions_path)
        out.note(f"Wrote the transition matrix to {transitions_path}")
    if output and out.quiet:
        return
    to_stderr = output == "-"
    total = table.height
    out.table(
        summary.select(SHOWN),
        title=f"Lifecycle stages (as of {as_of_day}; {total:,} people; one row per rule: "
        "the first rule that holds decides)",
        formats={"share_customers": ".1%", "share_net_spend": ".1%"},
        to_stderr=to_stderr,
    )
    if flags.height:
        out.table(flags, title="Flags (beside the stage)", to_stderr=to_stderr)
    if matrix is not None:
        out.table(
            matrix, title="Transitions: previous stage (rows) to stage now (columns), customers", to_stderr=to_stderr
        )


def _describe(
    out: Output,
    table: pl.DataFrame,
    life_rules: LifecycleRules,
    churn: ChurnRules,
    window: SecondPurchaseConfig,
    customers: pl.DataFrame,
    as_of_day: date,
    *,
    surveys: bool,
    contacts: pl.DataFrame | None,
    previous: pl.DataFrame | None,
    scores: pl.DataFrame | None,
) -> None:
    """Notes on stderr: what was counted, where the numbers come from, what is missing and why."""
    import polars as pl

    from loyalty_cli.metrics.lifecycle import contacts_left_out

    buyers = customers.height
    prospects = table.height - buyers
    out.note(
        f"As of {as_of_day} (data before that day): {words.count(buyers, 'customer')}"
        + (f" and {words.count(prospects, 'prospect')} (contacts with no purchase)" if contacts is not None else "")
        + f"; stages from {life_rules.source}; churn status and value tiers from {churn.source}"
    )
    sources = table.filter(pl.col("window_source").is_not_null())["window_source"].unique().sort().to_list()
    out.note(
        f"New vs one-time lapsing: the second-purchase window ({window.window.describe()}"
        + (", per first-order category" if window.by else "")
        + "); windows from: "
        + ", ".join(sources)
    )
    if any(s.startswith("none") for s in sources):
        out.warn(
            "No second-purchase window for some customers (fewer than --min-n repeaters): a one-time buyer "
            "counts as new while their churn status is active. Lower --min-n or give --window in days."
        )
    if contacts is not None:
        later = contacts_left_out(contacts, customers, as_of=as_of_day)
        if later:
            out.note(f"{words.count(later, 'contact')} who signed up on or after the as-of date left out")
    if not surveys:
        used = life_rules.uses("nps_category") + life_rules.uses("latest_nps")
        if used:
            out.note(
                "No --surveys: nobody has a latest NPS, so "
                + ", ".join(dict.fromkeys(used))
                + " can never apply (advocates need active + latest NPS 9-10). Pass --surveys FILE."
            )
    elif scores is not None:
        matched = table.filter(pl.col("latest_nps").is_not_null()).height
        out.note(
            f"Latest NPS answer for {matched:,} of the {words.count(scores.height, 'respondent')}"
            + (" (the others are not among the customers and contacts)" if matched < scores.height else "")
        )
        if scores.height and not matched:
            out.warn("No respondent matched a customer: do the surveys and the transactions use the same ids?")
    if previous is None:
        used = life_rules.uses("previous_stage") + life_rules.uses("bought_since_previous")
        if used:
            out.note(
                "No --previous snapshot: " + ", ".join(dict.fromkeys(used)) + " can never apply (reactivated "
                "needs the stage of an earlier run). Pass --previous FILE (an earlier -o output)."
            )
    else:
        dates = previous["previous_as_of"].unique().sort().to_list()
        shown = str(dates[0]) if len(dates) == 1 else f"{dates[0]} to {dates[-1]}"
        found = table.filter(pl.col("previous_stage").is_not_null()).height
        out.note(
            f"Previous snapshot as of {shown}: {words.count(previous.height, 'person', 'people')}, "
            f"{found:,} of them found now"
        )


def register(app: typer.Typer) -> None:
    app.command("lifecycle", epilog=EXAMPLES, rich_help_panel="Analyse")(lifecycle)
