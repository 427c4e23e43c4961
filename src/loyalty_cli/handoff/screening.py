"""Screening a list before it goes to an email tool: consent, email checks, duplicate emails.

:func:`screen_rows` keeps the rows that can go to the tool and drops the others, each with its reason (the
``.dropped.csv`` file beside the list, written by :func:`loyalty_cli.handoff.write.write_list`):

- **Consent**: when the list has a consent/opt-in column (:func:`consent_column`), or ``contacts`` bring one
  (:func:`attach_contacts`), rows without a clear yes are dropped (the reason names an email tool's status such
  as ``pending``, or shows a value we do not know: :func:`consent_problem`).
- **Email**: emails are trimmed and lowercased (:func:`normalise_email`); rows without a usable email (missing,
  no ``@``, malformed; internationalised addresses are fine, and so are addresses that start like a formula,
  written as the target needs) are dropped (:func:`email_problem`).
- **Customer id**: for importer targets, an id that starts like a formula is dropped (the generic CSV neutralises
  it when written).
- **Duplicates**: duplicate emails keep one row, the customer with the highest ``value`` (then the smallest
  customer id).

The consent words are those of the contacts reader (:mod:`loyalty_cli.io.parse`).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import polars as pl

from loyalty_cli.errors import DataError, setting
from loyalty_cli.handoff.targets import Target
from loyalty_cli.io.formulas import formula_like
from loyalty_cli.io.parse import (  # consent words, as the contacts reader reads them
    FALSE_WORDS,
    NO_CONSENT_STATUSES,
    TRUE_WORDS,
    consent_word,
    parse_consent,
)
from loyalty_cli.schema import CONTACTS, normalise_header

# The local part: RFC 5322 atext, and (RFC 6531, internationalised addresses) any character beyond ASCII that is
# not a space, a separator or a control/format character (a zero-width space is one). Emails are lowercased first.
_ATEXT = r"[a-z0-9!#$%&'*+/=?^_`{|}~\-[^\x00-\x7F\p{C}\p{Z}]]+"
# (No bounded repeats such as {0,61}: they blow the regex automaton up, 40x slower on a million emails.)
# Domain labels: letters, digits and marks (the vowel signs of Devanagari, ...), hyphens inside.
_LABEL = r"[\p{L}\p{N}](?:[\p{L}\p{M}\p{N}-]*[\p{L}\p{M}\p{N}])?"
EMAIL_PATTERN = rf"^{_ATEXT}(?:\.{_ATEXT})*@(?:{_LABEL}\.)+(?:\p{{L}}[\p{{L}}\p{{M}}]+|xn--[a-z0-9-]+)$"
MAX_EMAIL_LENGTH = 254
CONSENT_ALIASES = next(f.aliases for f in CONTACTS if f.name == "email_consent")

# Reasons a row is dropped from a list (the .dropped.csv file and the counts use these words). A status that is
# not a yes follows NO_CONSENT in brackets ("no email consent (pending)"), an unknown value UNREADABLE_CONSENT in
# quotes ("unreadable consent value 'maybe'").
NO_CONSENT = "no email consent"
NO_CONSENT_RECORD = "no consent recorded"
UNREADABLE_CONSENT = "unreadable consent value"
NOT_IN_CONTACTS = "not in the contacts file"
MISSING_EMAIL = "missing email"
NO_AT = "email without @"
INVALID_EMAIL = "invalid email"
FORMULA_ID = "customer id starts like a formula"
DUPLICATE_EMAIL = "duplicate email"


def consent_column(columns: Sequence[str]) -> str | None:
    """The consent/opt-in column of a list (``email_consent``, ``accepts_marketing``, ``opt_in``, ...)."""
    norm = {normalise_header(c): c for c in reversed(columns)}
    for alias in CONSENT_ALIASES:
        if alias in norm:
            return norm[alias]
    return None


def normalise_email(col: str = "email") -> pl.Expr:
    """Trimmed and lowercased; blank -> null."""
    return pl.col(col).cast(pl.String).str.strip_chars().str.to_lowercase().replace("", None)


def email_problem(col: str = "email", *, normalised: bool = False) -> pl.Expr:
    """Why an email is unusable (null when it is fine): missing, no @, malformed (:data:`EMAIL_PATTERN`: one @,
    dot-separated words before it, a dotted domain after it, no spaces or control characters; internationalised
    addresses are fine). An address that starts like a formula (``+4917...@``, ``-dash@``) is a valid address:
    kept, and written as the target needs (:func:`~loyalty_cli.handoff.write.write_list`). ``normalised``: ``col``
    holds emails already trimmed and lowercased (:func:`normalise_email`)."""
    email = pl.col(col) if normalised else normalise_email(col)
    return (
        pl.when(email.is_null())
        .then(pl.lit(MISSING_EMAIL))
        .when(~email.str.contains("@", literal=True))
        .then(pl.lit(NO_AT))
        .when((email.str.len_chars() > MAX_EMAIL_LENGTH) | ~email.str.contains(EMAIL_PATTERN))
        .then(pl.lit(INVALID_EMAIL))
    )


def consent_problem(col: str, dtype: pl.DataType) -> pl.Expr:
    """Why a consent cell is not a clear yes (null when it is): blank, a plain no, a status that is not a yes
    (with the status), or a value we do not know (with the value). Words as :func:`~loyalty_cli.io.parse.consent_word`
    writes them."""
    word = consent_word(col, dtype)
    return (
        pl.when(word.is_null())
        .then(pl.lit(NO_CONSENT_RECORD))
        .when(word.is_in(list(TRUE_WORDS)))
        .then(pl.lit(None, dtype=pl.String))
        .when(word.is_in(list(FALSE_WORDS)))
        .then(pl.lit(NO_CONSENT))
        .when(word.is_in(list(NO_CONSENT_STATUSES)))
        .then(pl.format(NO_CONSENT + " ({})", word))
        .otherwise(pl.format(UNREADABLE_CONSENT + " '{}'", word))
    )


def attach_contacts(table: pl.DataFrame, contacts: pl.DataFrame) -> pl.DataFrame:
    """Email and consent from a contacts table (``customer_id`` + ``email`` and/or ``email_consent``, with
    ``email_consent_status``, the value as written, when the contacts reader read it).

    One row per contact id: the smallest email when an id has several, and consent only when every row of
    the id that states it says yes. The contact's email replaces the list's (the list's stays where the
    contact has none); the contacts' consent replaces any consent column of the list as a word (``yes``, or the
    first other word an id's rows state: ``no``, ``pending``, an unknown value; null when none states one), and
    customers missing from the contacts get none (``_in_contacts`` says which)."""
    names = contacts.columns
    if "customer_id" not in names:
        raise DataError("The contacts file has no customer_id column", hint="Map it with the contacts' id column.")
    aggs = [pl.lit(True).alias("_in_contacts")]
    if "email" in names:
        aggs.append(pl.col("email").min().alias("_contact_email"))
    if "email_consent" in names:
        status = "email_consent_status" if "email_consent_status" in names else "email_consent"
        yes, _ = parse_consent(status, contacts.schema[status])
        contacts = contacts.with_columns(
            consent_word(status, contacts.schema[status]).alias("_word"), yes.alias("_yes")
        )
        stated_no = pl.col("_word").is_not_null() & ~pl.col("_yes").fill_null(False)
        aggs.append(
            pl.coalesce(pl.col("_word").filter(stated_no).min(), pl.col("_word").filter(pl.col("_yes")).min()).alias(
                "_contact_consent"
            )
        )
    per_id = contacts.group_by("customer_id").agg(aggs)
    joined = table.join(per_id, on="customer_id", how="left", maintain_order="left").with_columns(
        pl.col("_in_contacts").fill_null(False)
    )
    if "email" in names:
        email = pl.col("_contact_email")
        if "email" in table.columns:
            email = pl.coalesce("_contact_email", pl.col("email").cast(pl.String))
        joined = joined.with_columns(email.alias("email")).drop("_contact_email")
    if "email_consent" in names:
        own = consent_column(table.columns)
        joined = joined.drop([own] if own else []).rename({"_contact_consent": "email_consent"})
    return joined


@dataclass(frozen=True)
class Screened:
    """The rows that can go to the tool (email normalised, in the list's order) and those dropped."""

    rows: pl.DataFrame
    dropped: pl.DataFrame  # reason, kept_customer_id (for duplicates), then the list's columns
    consent_column: str | None
    has_email: bool

    def dropped_counts(self) -> dict[str, int]:
        if self.dropped.is_empty():
            return {}
        counts = self.dropped.group_by("drop_reason").len().sort(["len", "drop_reason"], descending=[True, False])
        return dict(counts.iter_rows())


def screen_rows(table: pl.DataFrame, *, target: Target, value: str | None = None, email: str = "email") -> Screened:
    """Drop rows without consent (when there is a consent column) or without a usable email, then duplicate
    emails (keeping the highest ``value``, then the smallest customer id). See the module docstring."""
    if "customer_id" not in table.columns:
        raise DataError("The list has no customer_id column", hint="Lists need one row per customer id.")
    has_email = email in table.columns
    if not has_email and target.needs_email:
        raise DataError(
            f"The list has no email column, which {target.label} needs to identify contacts",
            hint=f"Add emails with {setting('contacts')} FILE (a contacts export with customer_id and email), or "
            f"map the transactions' email column with {setting('email_col')}.",
        )
    consent = consent_column(table.columns)
    df = table.with_row_index("_row")
    reason = pl.lit(None, dtype=pl.String)
    checks: list[tuple[pl.Expr, str]] = []
    if "_in_contacts" in df.columns and consent == "email_consent":
        checks.append((~pl.col("_in_contacts"), NOT_IN_CONTACTS))
    if consent is not None:
        df = df.with_columns(consent_problem(consent, df.schema[consent]).alias("_consent"))
        checks.append((pl.col("_consent").is_not_null(), "_consent"))
    if has_email:  # normalised once, its problem once: the reasons below refer to the columns
        df = df.with_columns(normalise_email(email).alias("_email"))
        df = df.with_columns(email_problem("_email", normalised=True).alias("_problem"))
        checks.append((pl.col("_problem").is_not_null(), "_problem"))
    if target.importer:
        checks.append((formula_like(pl.col("customer_id")).fill_null(False), FORMULA_ID))
    for condition, why in reversed(checks):  # a reason named "_..." is a column of reasons
        then = pl.col(why) if why.startswith("_") else pl.lit(why)
        reason = pl.when(condition).then(then).otherwise(reason)
    df = df.with_columns(reason.alias("_reason")).drop("_problem", "_consent", strict=False)
    ok = df.filter(pl.col("_reason").is_null())
    dropped = [
        df.filter(pl.col("_reason").is_not_null()).select(
            pl.col("_reason").alias("drop_reason"),
            pl.lit(None, pl.String).alias("kept_customer_id"),
            pl.exclude("_reason", "_email"),
        )
    ]
    if has_email and ok.height:
        # Only rows whose email repeats are ranked (a sort of a few rows, not of the whole list).
        repeated = ok.filter(pl.col("_email").is_duplicated())
        keys, descending = ["customer_id"], [False]
        if value and value in ok.columns:
            keys, descending = [value, "customer_id"], [True, False]
        ranked = repeated.sort(keys, descending=descending, nulls_last=True).with_columns(
            pl.col("_email").is_first_distinct().alias("_first")
        )
        kept = ranked.filter(pl.col("_first")).select("_email", pl.col("customer_id").cast(pl.String).alias("_kept"))
        losers = ranked.filter(~pl.col("_first")).join(kept, on="_email", how="left", maintain_order="left")
        dropped.append(
            losers.select(
                pl.lit(DUPLICATE_EMAIL).alias("drop_reason"),
                pl.col("_kept").alias("kept_customer_id"),
                pl.exclude("_reason", "_email", "_first", "_kept"),
            )
        )
        ok = ok.filter(~pl.col("_row").is_in(losers["_row"].implode()))
    rows = ok.with_columns(pl.col("_email").alias(email)) if has_email else ok
    rows = rows.drop("_row", "_reason", "_email", "_in_contacts", strict=False)
    dropped_table = pl.concat(dropped, how="diagonal_relaxed").sort("_row").drop("_row", "_in_contacts", strict=False)
    return Screened(rows=rows, dropped=dropped_table, consent_column=consent, has_email=has_email)
