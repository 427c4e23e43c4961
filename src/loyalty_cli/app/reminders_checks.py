"""The as-of date of ``reminders`` and its checks of the inputs: the notes and warnings on the points ledger, the
contacts and the members (rows left out, repeated rows, points overdue, tiers that differ from the rules') and the
error on fractional points. The lists themselves are made in :mod:`loyalty_cli.app.reminders`."""

from __future__ import annotations

from datetime import date, timedelta

import polars as pl

from loyalty_cli.app.inputs import Inputs
from loyalty_cli.app.messages import Messages
from loyalty_cli.errors import DataError, UsageError, setting
from loyalty_cli.metrics import points_expiry
from loyalty_cli.metrics.program import tiers_at
from loyalty_cli.rules.programme import ProgrammeRules
from loyalty_cli.words import count


def reminders_as_of(inputs: Inputs, said: Messages) -> date:
    """The as-of date given, else the day after the last date of the inputs (ledger rows, enrolments,
    sign-ups), said."""
    if inputs.as_of is not None:
        said.note(f"As of {inputs.as_of} (data before that day; windows start the day after)")
        return inputs.as_of
    dates = [
        frame[column].cast(pl.Date).max()
        for kind, column in (("points", "at"), ("members", "enrolled_at"), ("contacts", "signed_up_at"))
        if (frame := inputs.get(kind)) is not None and column in frame.columns
    ]
    latest = max((d for d in dates if d is not None), default=None)
    if latest is None:
        raise UsageError(
            f"No as-of date: the inputs have no dates to take it from, give {setting('as_of')}",
            hint=f"e.g. {setting('as_of')} {date.today()}: the lists start the day after it.",
        )
    as_of = latest + timedelta(days=1)  # type: ignore[operator]
    said.note(
        f"As of {as_of}: the day after the last date in the inputs ({latest}); {setting('as_of')} fixes it "
        "(e.g. today's date in a nightly job)"
    )
    return as_of


def note_outside(table: pl.DataFrame, people: pl.LazyFrame, what: str, said: Messages) -> None:
    """How many customers of ``table`` (the ledger, the contacts) are not among the members (left out)."""
    outside = table.lazy().join(people, on="customer_id", how="anti").select(pl.col("customer_id").n_unique())
    n = outside.collect().item()
    if n:
        said.note(f"{count(n, 'customer')} {what} not enrolled before the as-of date: left out of the lists")


def note_repeated_rows(points: pl.DataFrame, said: Messages) -> None:
    """Rows of the ledger equal in every column read to another row (within one file: across files they are an
    error, or left out under keep-first): counted each time, and said."""
    n = points.height - points.n_unique()
    if n:
        said.note(
            f"{count(n, 'row')} of the points ledger {'repeats' if n == 1 else 'repeat'} another row exactly "
            f"({', '.join(points.columns)}): each is counted (two earnings at the same time are two rows); if the "
            "export repeats rows, remove them"
        )


def note_overdue(ledger: pl.LazyFrame, as_of: date, rules: ProgrammeRules, said: Messages) -> None:
    overdue = points_expiry.overdue_points(ledger, as_of=as_of, expiry=rules.expiry).collect().row(0, named=True)
    if overdue["today_customers"]:
        said.note(
            f"The points of {count(overdue['today_customers'], 'customer')} ({overdue['today_points']:,.10g}) "
            f"expire on the as-of date {as_of} itself: not listed (the window starts the day after)"
        )
    if overdue["overdue_customers"]:
        n = overdue["overdue_customers"]
        said.warn(
            f"{count(n, 'customer')} {'holds' if n == 1 else 'hold'} {overdue['overdue_points']:,.10g} points that "
            f"expired by the rules before {as_of} with no expire row on the ledger: the ledger may follow other "
            "rules, or be behind (not listed)"
        )


def note_tiers(progress: pl.LazyFrame, members: pl.DataFrame, as_of: date, said: Messages) -> None:
    """How many members' tier in the members file differs from the tier the rules give them."""
    if "tier" not in members.columns:
        return
    stated = tiers_at(members.lazy(), as_of).rename({"tier": "_stated"})
    differ = progress.join(stated, on="customer_id").filter(pl.col("tier") != pl.col("_stated"))
    n = differ.select(pl.len()).collect().item()
    if n:
        said.warn(
            f"The members file gives {count(n, 'member')} another tier than their lifetime points earn by the "
            "rules: the lists use the rules' tiers (check the rules file's [[tier]] thresholds)"
        )


def check_whole(points: pl.DataFrame, rules: ProgrammeRules) -> None:
    """With whole points (the rules' default), a ledger row with a fraction of a point is an error: the lists'
    points are integers, and rounding it would change a balance silently."""
    if not rules.whole:
        return
    fractional = points.filter(pl.col("points").is_not_null() & (pl.col("points") != pl.col("points").round()))
    if fractional.height:
        first = fractional.row(0, named=True)
        raise DataError(
            f"points: {count(fractional.height, 'ledger row')} with a fraction of a point (e.g. customer "
            f"{first['customer_id']}: {first['points']:g}), but the programme rules ({rules.source}) say points "
            "are whole",
            hint=f"If the programme has fractional points, set whole = false in the [points] table of a copy of the "
            f"rules and pass it with {setting('rules')}.",
        )
