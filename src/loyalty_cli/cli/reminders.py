"""``loyalty reminders``: who to remind of what, now: points expiring, members near the next tier, birthdays and
sign-up anniversaries coming up; each list ready for the email hand-off."""

from __future__ import annotations

from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

from loyalty_cli import words
from loyalty_cli.cli import campaign, command, common
from loyalty_cli.cli import options as opt
from loyalty_cli.cli.console import Output
from loyalty_cli.errors import UsageError

if TYPE_CHECKING:
    import polars as pl

    from loyalty_cli.app.inputs import InputSpec
    from loyalty_cli.app.reminders import RemindersConfig, RemindersResult

EXAMPLES = """
Examples:

  loyalty reminders --points sample_data/points.csv --members sample_data/members.csv \\
    --contacts sample_data/contacts.csv

  loyalty reminders --points ledger.csv --members members.csv --kind points-expiring --within 60 -o expiring.csv

  loyalty reminders --contacts crm.csv --kind birthday --within 7 --as-of 2025-01-01 -o birthdays.csv \\
    --target mailchimp --holdout-share 0.1 --seed birthdays-2025

  loyalty reminders --points ledger.csv --members members.csv --rules rules/programme.toml --kind near-tier
"""

INPUTS = "Inputs"
#: the terminal's columns of each list (the file has every column of its kind)
SHOWN = {
    "points-expiring": (
        "customer_id",
        "event_date",
        "days_until",
        "points_expiring",
        "points_expiring_in_window",
        "points_balance",
    ),
    "near-tier": ("customer_id", "tier", "next_tier", "points_earned", "points_to_next_tier"),
    "birthday": ("customer_id", "event_date", "days_until", "age"),
    "anniversary": ("customer_id", "event_date", "days_until", "years", "enrolled_at", "signed_up_at"),
}
TITLES = {
    "points-expiring": "Points expiring",
    "near-tier": "Members near the next tier",
    "birthday": "Birthdays coming up",
    "anniversary": "Sign-up anniversaries coming up",
}
#: the anniversaries' title with the members (their enrolment)
MEMBERSHIP_TITLE = "Membership anniversaries coming up"
POINTS = ",.10g"
FORMATS = dict.fromkeys(
    ("points_expiring", "points_expiring_in_window", "points_balance", "points_earned", "points_to_next_tier"),
    POINTS,
)
HEADERS = {
    "customer_id": "customer",
    "event_date": "date",
    "days_until": "days until",
    "points_expiring": "expiring",
    "points_expiring_in_window": "in window",
    "points_balance": "balance",
    "next_tier": "next tier",
    "points_earned": "earned",
    "points_to_next_tier": "points needed",
    "enrolled_at": "enrolled",
    "signed_up_at": "signed up",
}
WRITE = (
    "Write the lists here, one row per customer and reminder (a reminder column: points-expiring, near-tier, "
    "birthday, anniversary) (.csv, .parquet, .json, .xlsx; - for stdout). With --target, --holdout-share or "
    "--arms: one kind (--kind) per list."
)
Lists = Annotated[str | None, typer.Option("--output", "-o", metavar="FILE", help=WRITE, rich_help_panel=opt.OUTPUT)]
_files = {"metavar": "FILE", "panel": INPUTS, "show_default": False}


@common.handle_errors
@campaign.list_options_without_contacts
@opt.declare(
    points=opt.o(
        "Points ledger: customer_id, at, points, type (earn/redeem/expire/adjust); repeatable. Makes the "
        "points-expiring and near-tier lists. Map its columns in a [points] table of the mapping file.",
        **_files,
    ),
    members=opt.o(
        "Members export: customer_id, enrolled_at (+ tier, tier_since); repeatable. Every list keeps members "
        "enrolled before the as-of date (members with no ledger row have earned 0), the anniversaries are of "
        "their enrolment (not the contacts' sign-up), and their tiers are checked against the rules'.",
        **_files,
    ),
    contacts=opt.o(
        "Contacts export: customer_id, email, signed_up_at, birthday, email_consent; repeatable. Makes the birthday "
        "and anniversary lists, gives every list its emails and, with --target, the consent.",
        **_files,
    ),
    kind=opt.o(
        "The list to make (repeatable): points-expiring, near-tier, birthday, anniversary. Default: every list "
        "the inputs allow.",
        "KIND",
    ),
    within=opt.o(
        "Days ahead of the as-of date (the window is the day after it to N days after it, both included): N for "
        "every dated list, or KIND=N (repeatable; a KIND=N wins over N, whatever the order), e.g. 60 or "
        "birthday=7. Default: points-expiring 30, birthday 14, anniversary 14 (near-tier is a number of points: "
        "[near] in the rules file).",
        "DAYS",
    ),
    rules=opt.o(
        "Programme rules TOML (points expiry, tiers, near the next tier); default: the built-in rules/programme.toml.",
        "FILE",
    ),
    as_of=opt.o(
        "Compute as of this date (exclusive: data before it; the lists start the day after). Default: the day after "
        "the last date in the inputs (ledger rows, enrolments, sign-ups).",
        formats=["%Y-%m-%d"],
        show_default=False,
    ),
    top=opt.o("Rows of each list shown on the terminal.", panel=opt.OUTPUT),
    age=opt.o(
        "The birthday list also gives the age on the birthday (left out by default: it gives the year of birth away).",
        panel=opt.OUTPUT,
    ),
)
def reminders(
    points: list[str] | None = None,
    members: list[str] | None = None,
    contacts: list[str] | None = None,
    kind: list[str] | None = None,
    within: list[str] | None = None,
    rules: str | None = None,
    output: Lists = None,
    fmt: opt.Format = None,
    as_of: datetime | None = None,
    top: int = 10,
    age: bool = False,
    lists: campaign.ListOptions = campaign.NO_LIST_OPTIONS,
    mapping: opt.Mapping = None,
    quiet: opt.Quiet = False,
    on_bad_rows: opt.OnBadRows = "error",
    rejects: opt.Rejects = None,
    customer_col: opt.CustomerCol = None,
    email_col: opt.EmailCol = None,
    date_format: opt.DateFormat = None,
    delimiter: opt.Delimiter = None,
    encoding: opt.Encoding = "utf-8",
    decimal_comma: opt.DecimalComma = False,
    on_overlap: opt.OnOverlap = "error",
) -> None:
    """Who to remind of what: members whose points expire soon (by the programme rules: the whole balance 365
    days after the last activity by default), members near the next tier (lifetime points earned; within 20% of
    the next threshold by default), and birthdays and sign-up anniversaries coming up (29 February falls on 28
    February in other years; no year of birth is written). With --members every list is of members, and the
    anniversaries are of their enrolment. Each list is ready for an email tool with --target and a control group
    with --holdout-share; the terminal shows the counts and the first rows of each.

    The file options (--customer-col, --date-format, --delimiter, --encoding, --decimal-comma, --on-overlap)
    apply to every input, --email-col to the contacts; an input that differs gets its own in its table of the
    mapping file ([points], [members], [contacts]), with the option left out. Lines repeated across the files
    of the points ledger stop the run (--on-overlap keep-first reads each once)."""
    command.execute(COMMAND, command.flat(locals()), Output(quiet=quiet))


def _lists(options: command.Options) -> command.Options:
    """The options as the list sees them: ``contacts`` is this command's own input (its rows give the consent)."""
    return {**options, "contacts": None}


def _configure(options: command.Options) -> RemindersConfig:
    from loyalty_cli.app.reminders import RemindersConfig

    config = command.config_of(
        RemindersConfig, options, kind=tuple(options["kind"] or ()), within=tuple(options["within"] or ())
    )
    given = {name for name in ("points", "members", "contacts") if options[name]}
    kinds = config.kinds_for(given) if {"points", "contacts"} & given else ()
    if not kinds:
        raise UsageError(
            "Nothing to remind of: give --points (points expiring, near the next tier) and/or --contacts (birthdays, "
            "sign-up anniversaries)",
            hint="e.g. loyalty reminders --points points.csv --members members.csv --contacts contacts.csv",
        )
    campaign.check_list_output(_lists(options), example="reminders.csv")
    _check_emails(options, kinds)
    handoff = any(options[name] is not None for name in ("target", "holdout_share", "arms"))
    if handoff and len(kinds) > 1:
        raise UsageError(
            f"A list for an email tool or with a control group holds one kind of reminder, and these inputs make "
            f"{len(kinds)} ({', '.join(kinds)}): choose one with --kind",
            hint=f"e.g. --kind {kinds[0]} -o {kinds[0]}.csv; run once per kind (each its own campaign and control "
            "group).",
        )
    return config


def _check_emails(options: command.Options, kinds: tuple[str, ...]) -> None:
    """A list for an email tool that identifies contacts by email needs the contacts (this command's only
    source of emails), before anything is read."""
    from loyalty_cli.handoff.targets import get_target

    target = options["target"]
    if target is None or options["contacts"] or not get_target(target).needs_email:
        return
    raise UsageError(
        f"A list for {get_target(target).label} needs the contacts' emails: give --contacts",
        hint=f"e.g. --contacts contacts.csv (customer_id, email, email_consent) --kind {kinds[0]}.",
    )


def _inputs(options: command.Options, config: RemindersConfig, out: Output) -> InputSpec:
    from dataclasses import replace

    from loyalty_cli.app.inputs import InputSpec

    read = common.read_options(
        columns={"customer_id": options.get("customer_col")},
        mapping=options["mapping"],
        date_format=options.get("date_format"),
        delimiter=options.get("delimiter"),
        encoding=options.get("encoding", "utf-8"),
        decimal_comma=options.get("decimal_comma", False),
        on_overlap=options.get("on_overlap", "error"),
        out=out,
    )
    # the file options read every input (the ledger's lines repeated across files are looked for, as in every
    # command: a balance would sum them twice)
    email = {"email": options["email_col"]} if options.get("email_col") else {}
    contacts = replace(read, columns={**read.columns, **email})
    sides = {"points": read, "members": read, "contacts": contacts}
    return InputSpec(
        **{kind: list(options[kind] or ()) for kind in ("points", "members", "contacts")},
        options=read,
        side_options=sides,
        as_of=common.to_date(options["as_of"]),
        on_bad_rows=common.check_bad_rows(options["on_bad_rows"]),  # type: ignore[arg-type]
        need_customers=False,
    )


def _deliver(result: RemindersResult, options: command.Options, out: Output) -> list[Path]:
    output = options["output"]
    written: list[Path] = []
    if output:
        contact_rows = result.contacts if options["target"] else None
        _check_email_column(result, options)
        written = campaign.write_list(
            result.table,
            _lists(options),
            out,
            contact_rows=contact_rows,
            tag="reminder",
            value=result.value,
            describe=lambda n: words.count(n, "customer" if len(result.lists) == 1 else "reminder"),
        )
    if not (output and out.quiet):
        _show(result, out, top=options.get("top", 10), to_stderr=output == "-")
    return written


def _check_email_column(result: RemindersResult, options: command.Options) -> None:
    """A list for an email tool that identifies contacts by email, from contacts without an email column."""
    from loyalty_cli.errors import DataError
    from loyalty_cli.handoff.targets import get_target

    target = options["target"]
    if target is None or "email" in result.table.columns or not get_target(target).needs_email:
        return
    raise DataError(
        f"The list has no email column, which {get_target(target).label} needs to identify contacts: the "
        f"contacts ({', '.join(map(str, options['contacts'] or ()))}) have none",
        hint='Map it in a [contacts] table of the mapping file (email = "Your column"), or write the list with '
        "--target braze (by customer id) or generic.",
    )


def _readable(rows: pl.DataFrame) -> pl.DataFrame:
    """The shown rows with whole points as whole numbers (245, not 245.0000 when piped): the terminal's text
    only, the file keeps the list's types."""
    import polars as pl

    points = [c for c in FORMATS if c in rows.columns and rows.schema[c].is_float()]
    if not points or rows.is_empty():
        return rows
    whole = rows.select(pl.all_horizontal((pl.col(c).round() == pl.col(c)).all() for c in points))
    return rows.with_columns(pl.col(points).cast(pl.Int64)) if whole.item() else rows


def _show(result: RemindersResult, out: Output, *, top: int, to_stderr: bool) -> None:
    out.table(
        result.summary,
        title=f"Reminders as of {result.as_of} (rules: {result.rules.source})",
        whole="-o FILE writes every list",
        drop=("rule",),
        to_stderr=to_stderr,
    )
    for kind, frame in result.lists.items():
        if not (top and frame.height):
            continue
        rows = _readable(frame.head(top).select([c for c in SHOWN[kind] if c in frame.columns]))
        title = MEMBERSHIP_TITLE if kind == "anniversary" and result.anniversary_of == "enrolled_at" else TITLES[kind]
        out.table(
            rows,
            title=f"{title}: the first {rows.height} of {words.count(frame.height, 'customer')}",
            formats=FORMATS,
            headers=HEADERS,
            whole="-o FILE writes every row with every column",
            to_stderr=to_stderr,
        )


COMMAND = command.Command(
    name="reminders",
    configure=_configure,
    inputs=_inputs,
    compute=command.app_function("reminders"),
    deliver=_deliver,
    rejects=command.rejects_of("points", "members", "contacts"),
    reading="the programme files",
)
