"""``reminders``: action lists from the programme and the contacts: points expiring soon and members near the
next tier (points ledger, members, :mod:`loyalty_cli.rules.programme`), birthdays and sign-up anniversaries
coming up (contacts); each a customer list for the email hand-off.

With the members, every list is of members enrolled before the as-of date (the programme's lists), and the
anniversary is the enrolment's (the members' ``enrolled_at``), not the contacts' sign-up; without them the
birthdays and anniversaries are of every contact (sign-up anniversaries).

The metrics are in :mod:`loyalty_cli.metrics.points_expiry`, :mod:`loyalty_cli.metrics.tier_progress` and
:mod:`loyalty_cli.metrics.occasions`; the as-of date and the checks and notes on the inputs in
:mod:`loyalty_cli.app.reminders_checks`."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import date, timedelta
from pathlib import Path

import polars as pl

from loyalty_cli.app.inputs import Inputs
from loyalty_cli.app.messages import Message, Messages
from loyalty_cli.app.reminders_checks import (
    check_whole,
    note_outside,
    note_overdue,
    note_repeated_rows,
    note_tiers,
    reminders_as_of,
)
from loyalty_cli.durations import parse_days
from loyalty_cli.errors import ConfigError, DataError, UsageError, setting
from loyalty_cli.metrics import occasions, points_expiry, tier_progress
from loyalty_cli.metrics.program import member_table
from loyalty_cli.rules.programme import ProgrammeRules, load_programme_rules
from loyalty_cli.words import count

POINTS_EXPIRING, NEAR_TIER, BIRTHDAY, ANNIVERSARY = "points-expiring", "near-tier", "birthday", "anniversary"
#: the kinds of list, in the order they are made and shown
KINDS = (POINTS_EXPIRING, NEAR_TIER, BIRTHDAY, ANNIVERSARY)
#: the kinds with a date window, and its default length in days (near-tier: the rules' [near])
DEFAULT_WITHIN = {POINTS_EXPIRING: 30, BIRTHDAY: 14, ANNIVERSARY: 14}
#: the inputs each kind can be made from (any one of them)
NEEDS = {
    POINTS_EXPIRING: ("points",),
    NEAR_TIER: ("points",),
    BIRTHDAY: ("contacts",),
    ANNIVERSARY: ("contacts", "members"),  # the members' enrolment, else the contacts' sign-up
}
#: the contacts' column each contact list reads (the anniversary: without the members)
CONTACT_COLUMN = {BIRTHDAY: "birthday", ANNIVERSARY: "signed_up_at"}
#: the date an anniversary counts from, by the input it comes from
ANNIVERSARY_OF = {"members": "enrolled_at", "contacts": "signed_up_at"}
#: the columns of the written table, in order (a list has those of its kind)
COLUMNS = (
    "customer_id",
    "email",
    "reminder",
    "event_date",
    "days_until",
    "points_expiring",
    "points_expiring_in_window",
    "last_event_date",
    "points_balance",
    "last_activity",
    "tier",
    "next_tier",
    "points_earned",
    "next_tier_points",
    "points_to_next_tier",
    "years",
    "signed_up_at",
    "enrolled_at",
    "age",
)
#: the column whose highest value keeps a customer among duplicate emails, per kind
VALUE = {POINTS_EXPIRING: "points_expiring_in_window", NEAR_TIER: "points_earned"}
LEAP_NOTE = "Birthdays and sign-ups on 29 February fall on 28 February in years that are not leap years"


def parse_within(values: tuple[str, ...] | list[str]) -> dict[str, int]:
    """The days of each dated kind's window from ``N`` (every dated kind) and ``KIND=N`` values (``14``, ``14d``,
    ``2w``), over :data:`DEFAULT_WITHIN`: a ``KIND=N`` wins over a plain ``N`` whatever their order; among
    values of the same kind (or plain ones) the later wins."""
    days = dict(DEFAULT_WITHIN)
    plain: list[int] = []
    by_kind: dict[str, int] = {}
    for value in values:
        kind, _, given = str(value).rpartition("=")
        kind = kind.strip()
        if kind and kind not in DEFAULT_WITHIN:
            hint = f"Kinds with a date window: {', '.join(DEFAULT_WITHIN)}, e.g. {setting('within')} birthday=7."
            if kind == NEAR_TIER:
                hint = "Near the next tier is a number of points: set [near] in the programme rules file."
            raise ConfigError("within", f"{value!r}: no date window for {kind!r}", hint=hint)
        try:
            n = parse_days(given, setting("within"), minimum=1)
        except UsageError as exc:  # said of the whole value given (birthday=0, not 0)
            why = exc.message.split(": ", 1)[-1]
            raise UsageError(f"{setting('within')} {value!r}: {why}", hint=exc.hint) from None
        if kind:
            by_kind[kind] = n
        else:
            plain.append(n)
    if plain:
        days = dict.fromkeys(DEFAULT_WITHIN, plain[-1])
    return {**days, **by_kind}


@dataclass(frozen=True)
class RemindersConfig:
    """``kind``: the lists to make (:data:`KINDS`; empty: every kind the inputs allow); ``within``: the windows in
    days, ``N`` for every dated kind or ``KIND=N`` (see :func:`parse_within`; default :data:`DEFAULT_WITHIN`);
    ``rules``: the programme rules file (None: the built-in ``programme``); ``age``: the birthday list also gives
    the age on the birthday (never by default: it gives the year of birth away). Checked when built, the rules file
    loaded (:attr:`programme`, :attr:`days`)."""

    kind: tuple[str, ...] = ()
    within: tuple[str, ...] = ()
    rules: str | Path | None = None
    age: bool = False
    days: dict[str, int] = field(init=False, repr=False, compare=False)
    programme: ProgrammeRules = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        unknown = [k for k in self.kind if k not in KINDS]
        if unknown:
            raise ConfigError("kind", f"must be one of {', '.join(KINDS)}, got {', '.join(map(repr, unknown))}")
        object.__setattr__(self, "kind", tuple(k for k in KINDS if k in self.kind))
        object.__setattr__(self, "days", parse_within(tuple(self.within)))
        object.__setattr__(self, "programme", load_programme_rules(self.rules))

    def kinds_for(self, given: set[str]) -> tuple[str, ...]:
        """The kinds to make with the inputs ``given`` (points, contacts ...): those asked (each needs one of its
        inputs: a :class:`UsageError` otherwise), else every kind one of whose inputs is given."""
        for kind in self.kind:
            if not given & set(NEEDS[kind]):
                needs = " or ".join(setting(n) for n in NEEDS[kind])
                raise UsageError(
                    f"The {kind} list needs {needs}",
                    hint=f"Pass {setting(NEEDS[kind][0])} FILE, or leave {setting('kind')} {kind} out.",
                )
        return self.kind or tuple(k for k in KINDS if given & set(NEEDS[k]))


@dataclass(frozen=True)
class RemindersResult:
    """``lists``: each list made, by kind (in :data:`KINDS` order), with ``reminder`` (its kind) and the
    columns of its kind; ``table``: the lists one under the other (:data:`COLUMNS` that they have);
    ``summary``: ``reminder, customers, window, rule`` per list; ``contacts``: the contacts read (their consent
    for the hand-off), None without; ``anniversary_of``: the date the anniversaries count from (``enrolled_at``
    with the members, else ``signed_up_at``); ``members_only``: the lists keep members only (the members were
    given); ``messages``: the notes, in order."""

    lists: dict[str, pl.DataFrame]
    table: pl.DataFrame
    summary: pl.DataFrame
    as_of: date
    days: dict[str, int]
    rules: ProgrammeRules
    contacts: pl.DataFrame | None
    messages: list[Message]
    anniversary_of: str = "signed_up_at"
    members_only: bool = False

    @property
    def value(self) -> str | None:
        """The column whose highest value keeps a customer among duplicate emails (one list only)."""
        return VALUE.get(next(iter(self.lists))) if len(self.lists) == 1 else None


def reminders(inputs: Inputs, config: RemindersConfig, messages: Messages | None = None) -> RemindersResult:
    """The lists of ``config`` from ``inputs`` (points, members, contacts; see the module docstring)."""
    said = messages if messages is not None else Messages()
    points, members, contacts = inputs.get("points"), inputs.get("members"), inputs.get("contacts")
    given = {kind for kind in ("points", "members", "contacts") if inputs.get(kind) is not None}
    kinds = _available(config, given, contacts, inputs, said)
    as_of = reminders_as_of(inputs, said)
    rules = config.programme
    said.note(f"Programme rules ({rules.source}): {rules.describe()}")
    made: dict[str, pl.LazyFrame] = {}
    people = None  # the members enrolled before the as-of date: every list keeps them only
    anniversary_of = ANNIVERSARY_OF["members" if members is not None else "contacts"]
    if members is not None:
        # collected once: every list, note and check below reads it
        people = (
            member_table(members.lazy(), as_of=as_of)
            .select("customer_id", pl.col("enrolled").alias(_ENROLLED))
            .collect()
            .lazy()
        )
        said.note(
            f"With the members: every list is of members enrolled before {as_of}, and the anniversaries are of "
            "their enrolment (enrolled_at)"
        )
    if points is not None:
        check_whole(points, rules)
        ledger = points.lazy()
        note_repeated_rows(points, said)
        if people is not None:
            note_outside(points, people, "of the ledger", said)
            ledger = ledger.join(people, on="customer_id", how="semi").collect().lazy()  # the lists and notes share it
        if POINTS_EXPIRING in kinds:
            made[POINTS_EXPIRING] = points_expiry.expiring_points(
                ledger, as_of=as_of, within_days=config.days[POINTS_EXPIRING], expiry=rules.expiry
            )
            note_overdue(ledger, as_of, rules, said)
        if NEAR_TIER in kinds:
            progress = (  # collected once: the list and the check of the members' tiers read it
                tier_progress.tier_progress(
                    tier_progress.earned_points(ledger, as_of=as_of, people=people), tiers=rules.tiers
                )
                .collect()
                .lazy()
            )
            made[NEAR_TIER] = tier_progress.near_tier(progress, near=rules.near)
            if members is not None:
                note_tiers(progress, members, as_of, said)
    if contacts is not None and BIRTHDAY in kinds:
        lazy = contacts.lazy()
        if people is not None:
            note_outside(contacts, people, "of the contacts", said)
            lazy = lazy.join(people, on="customer_id", how="semi")
        made[BIRTHDAY] = occasions.upcoming_birthdays(
            lazy, as_of=as_of, within_days=config.days[BIRTHDAY], age=config.age
        )
    if ANNIVERSARY in kinds:
        dated = people if people is not None else contacts.lazy()  # type: ignore[union-attr]
        made[ANNIVERSARY] = occasions.upcoming_anniversaries(
            dated, as_of=as_of, within_days=config.days[ANNIVERSARY], column=anniversary_of
        )
    if BIRTHDAY in kinds or ANNIVERSARY in kinds:
        said.note(LEAP_NOTE)
    emails = _emails(contacts)
    frames = pl.collect_all([_tagged(frame, kind, emails) for kind, frame in made.items()])
    typed = _point_types(rules)
    lists = {kind: frame.with_columns(typed(frame)) for kind, frame in zip(made, frames, strict=True)}
    table = pl.concat(list(lists.values()), how="diagonal_relaxed")  # one list at least (see _available)
    table = table.select([c for c in COLUMNS if c in table.columns])
    summary = _summary(lists, as_of, config.days, rules, anniversary_of=anniversary_of, members=people is not None)
    for kind, frame in lists.items():
        said.note(f"{kind}: {count(frame.height, 'customer')} ({_window(kind, as_of, config.days, rules)})")
    return RemindersResult(
        lists=lists,
        table=table,
        summary=summary,
        as_of=as_of,
        days={k: v for k, v in config.days.items() if k in lists},
        rules=rules,
        contacts=contacts,
        messages=said.items,
        anniversary_of=anniversary_of,
        members_only=people is not None,
    )


_ENROLLED = "enrolled_at"


def _available(
    config: RemindersConfig, given: set[str], contacts: pl.DataFrame | None, inputs: Inputs, said: Messages
) -> tuple[str, ...]:
    """The kinds to make: those asked (a contacts file without the column a list needs is an error) or every
    kind the inputs allow (a list whose column the contacts lack is left out, with a warning; none left is an
    error)."""
    if "points" not in given and "contacts" not in given:
        raise UsageError(
            f"Nothing to remind of: give {setting('points')} (points expiring, near the next tier) and/or "
            f"{setting('contacts')} (birthdays, sign-up anniversaries)",
            hint=f"e.g. {setting('points')} points.csv {setting('members')} members.csv {setting('contacts')} "
            "contacts.csv",
        )
    kinds = config.kinds_for(given)
    kept, missing, said_later = [], [], []
    for kind in kinds:
        column = CONTACT_COLUMN.get(kind)
        if kind == ANNIVERSARY and "members" in given:
            column = None  # the members' enrolment date: every member has one
        if column is not None and contacts is not None and column not in contacts.columns:
            where = ", ".join(str(p) for p in inputs.scans["contacts"].paths[:3])
            mapped = f'a [contacts] table of the mapping file ({column} = "Your column")'
            if config.kind:
                raise DataError(
                    f"The {kind} list needs a {column} column: the contacts in {where} have none",
                    hint=f"Map it in {mapped}, or leave {setting('kind')} {kind} out.",
                )
            said_later.append(f"No {kind} list: the contacts in {where} have no {column} column (map it in {mapped})")
            missing.append(column)
            continue
        kept.append(kind)
    if not kept:
        where = ", ".join(str(p) for p in inputs.scans["contacts"].paths[:3])
        raise DataError(
            f"No list can be made from these inputs: the contacts in {where} have no {' or '.join(missing)} column, "
            f"and there is no points ledger",
            hint=f'Map the columns in a [contacts] table of the mapping file (e.g. birthday = "Date of birth"), '
            f"or give {setting('points')} (and {setting('members')}) for the points lists.",
        )
    for text in said_later:
        said.warn(text)
    return tuple(kept)


def _emails(contacts: pl.DataFrame | None) -> pl.LazyFrame | None:
    """``customer_id, email`` (the smallest per id) of the contacts, None without an email column."""
    if contacts is None or "email" not in contacts.columns:
        return None
    return contacts.lazy().group_by("customer_id").agg(pl.col("email").min())


def _tagged(frame: pl.LazyFrame, kind: str, emails: pl.LazyFrame | None) -> pl.LazyFrame:
    """A list with its ``reminder`` and the contact's email (when the contacts have one), in :data:`COLUMNS`
    order."""
    tagged = frame.with_columns(pl.lit(kind).alias("reminder"))
    if emails is not None:
        tagged = tagged.join(emails, on="customer_id", how="left", maintain_order="left")
    names = tagged.collect_schema().names()
    return tagged.select([c for c in COLUMNS if c in names])


#: the columns of points: whole numbers (Int64) when the programme rules say points are whole (the default; a
#: fractional point in the ledger is then an error), else Float64: decided by the rules, never by the values, so
#: that a nightly file keeps its schema and an email shows "245 points", not "245.0"
POINT_COLUMNS = ("points_expiring", "points_expiring_in_window", "points_balance", "points_earned")
#: the columns that also hold the rules' thresholds (whole numbers too when the points are: checked by the rules)
THRESHOLD_COLUMNS = ("next_tier_points", "points_to_next_tier")


def _point_types(rules: ProgrammeRules) -> Callable[[pl.DataFrame], list[pl.Expr]]:
    """The casts of a list's points columns (see :data:`POINT_COLUMNS`)."""
    kind = pl.Int64 if rules.whole else pl.Float64

    def casts(frame: pl.DataFrame) -> list[pl.Expr]:
        return [pl.col(c).cast(kind) for c in (*POINT_COLUMNS, *THRESHOLD_COLUMNS) if c in frame.columns]

    return casts


def _window(kind: str, as_of: date, days: dict[str, int], rules: ProgrammeRules) -> str:
    if kind == NEAR_TIER:
        return f"near the next tier: {rules.near.describe()}"
    start, end = as_of + timedelta(days=1), as_of + timedelta(days=days[kind])
    return f"{start} to {end}, {days[kind]} days"


def _summary(
    lists: dict[str, pl.DataFrame],
    as_of: date,
    days: dict[str, int],
    rules: ProgrammeRules,
    *,
    anniversary_of: str,
    members: bool,
) -> pl.DataFrame:
    anniversary = (
        "next membership anniversary (the members' enrolled_at), 1 year or more"
        if anniversary_of == _ENROLLED
        else "next sign-up anniversary (the contacts' signed_up_at), 1 year or more"
    )
    rules_of = {
        POINTS_EXPIRING: rules.expiry.describe(),
        NEAR_TIER: f"tiers by lifetime points earned: {', '.join(f'{t.name} {t.points:,g}' for t in rules.tiers)}",
        BIRTHDAY: "next birthday (29 Feb: 28 Feb in other years); no year of birth",
        ANNIVERSARY: anniversary,
    }
    whom = "; members only" if members else ""
    rows = [
        (kind, frame.height, _window(kind, as_of, days, rules), rules_of[kind] + whom) for kind, frame in lists.items()
    ]
    return pl.DataFrame(
        rows,
        schema={"reminder": pl.String, "customers": pl.Int64, "window": pl.String, "rule": pl.String},
        orient="row",
    )
