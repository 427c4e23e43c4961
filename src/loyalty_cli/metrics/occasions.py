"""Birthdays and sign-up anniversaries coming up, from contacts (``customer_id`` + ``birthday`` and/or
``signed_up_at``, dates, as :func:`loyalty_cli.io.readers.read_contacts` gives them).

Definitions (the README repeats them). The window is ``(as_of, as_of + within_days]``, as for the points: a
birthday on the as-of date itself is not in it, one on the window's last day is. The next occurrence of a date
is its month and day in the first year that puts it after ``as_of``; 29 February falls on 28 February in years
that are not leap years. A birthday list gives the date and the days until it, not the year of birth (the age
only when asked); an anniversary list gives ``years`` since the date it counts from (the sign-up, or the
enrolment of a member): at least 1, as only dates before ``as_of`` are read and the next occurrence is after it.
Contacts who signed up on or after ``as_of`` are not listed (they are in the future of the as-of date).
A customer id with several rows gets one: the earliest sign-up (enrolment), the earliest birthday.
"""

from __future__ import annotations

from datetime import date, timedelta

import polars as pl

#: the columns of the lists, in order
BIRTHDAY_COLUMNS = ("customer_id", "event_date", "days_until")
ANNIVERSARY_COLUMNS = ("customer_id", "event_date", "days_until", "years")


def _leap(year: pl.Expr) -> pl.Expr:
    return ((year % 4 == 0) & (year % 100 != 0)) | (year % 400 == 0)


def on_year(day: pl.Expr, year: pl.Expr) -> pl.Expr:
    """The month and day of ``day`` in ``year`` (29 February -> 28 February when ``year`` is not a leap year)."""
    month, dom = day.dt.month(), day.dt.day()
    dom = pl.when((month == 2) & (dom == 29) & ~_leap(year)).then(pl.lit(28, dtype=pl.Int8)).otherwise(dom)
    return pl.date(year, month, dom)


def next_occurrence(day: pl.Expr, as_of: date) -> pl.Expr:
    """The first occurrence of ``day``'s month and day after ``as_of`` (see :func:`on_year`)."""
    this_year = pl.lit(as_of.year, dtype=pl.Int32)
    here = on_year(day, this_year)
    return pl.when(here > as_of).then(here).otherwise(on_year(day, this_year + 1))


def _per_customer(contacts: pl.LazyFrame, column: str, as_of: date) -> pl.LazyFrame:
    names = contacts.collect_schema().names()
    rows = contacts
    if "signed_up_at" in names:  # contacts from the future of the as-of date are not there yet
        rows = rows.filter(pl.col("signed_up_at").is_null() | (pl.col("signed_up_at").cast(pl.Date) < as_of))
    return (
        rows.filter(pl.col(column).cast(pl.Date) < as_of)  # a date on or after it is not one yet (nulls out)
        .group_by("customer_id")
        .agg(pl.col(column).cast(pl.Date).min().alias("_day"))
    )


def _within(frame: pl.LazyFrame, as_of: date, within_days: int) -> pl.LazyFrame:
    end = as_of + timedelta(days=within_days)
    return (
        frame.with_columns(next_occurrence(pl.col("_day"), as_of).alias("event_date"))
        .filter(pl.col("event_date") <= end)
        .with_columns((pl.col("event_date") - pl.lit(as_of)).dt.total_days().cast(pl.Int32).alias("days_until"))
    )


def upcoming_birthdays(contacts: pl.LazyFrame, *, as_of: date, within_days: int, age: bool = False) -> pl.LazyFrame:
    """:data:`BIRTHDAY_COLUMNS`: contacts whose next birthday falls in ``(as_of, as_of + within_days]``, soonest
    first (then the customer id). No year of birth; ``age``: also ``age``, the years they turn on that day (only
    when asked: it gives the year of birth away)."""
    found = _within(_per_customer(contacts, "birthday", as_of), as_of, within_days)
    ages = [(pl.col("event_date").dt.year() - pl.col("_day").dt.year()).cast(pl.Int32).alias("age")] if age else []
    return found.select(*BIRTHDAY_COLUMNS, *ages).sort("event_date", "customer_id")


def upcoming_anniversaries(
    frame: pl.LazyFrame, *, as_of: date, within_days: int, column: str = "signed_up_at"
) -> pl.LazyFrame:
    """:data:`ANNIVERSARY_COLUMNS` and ``column``: customers (contacts, or members with ``column``
    ``enrolled_at``) whose next anniversary of ``column`` (the earliest per customer, before ``as_of``) falls in
    ``(as_of, as_of + within_days]``, soonest first (then the customer id); ``years`` since that date (1 or
    more, see the module docstring)."""
    return (
        _within(_per_customer(frame, column, as_of), as_of, within_days)
        .with_columns(
            (pl.col("event_date").dt.year() - pl.col("_day").dt.year()).cast(pl.Int32).alias("years"),
            pl.col("_day").alias(column),
        )
        .select(*ANNIVERSARY_COLUMNS, column)
        .sort("event_date", "customer_id")
    )
