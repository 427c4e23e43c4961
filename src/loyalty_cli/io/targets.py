"""Customer lists for email tools: Mailchimp, Klaviyo, Braze, HubSpot, or a generic spreadsheet CSV.

:func:`write_list` takes a list as a command made it (our column names, one row per customer) and writes
what the tool's importer takes:

- **Screening** (:func:`screen_rows`): when the list has a consent/opt-in column (or ``contacts`` bring
  one), rows without a clear yes are dropped (the reason names an email tool's status such as ``pending``, or
  shows a value we do not know: :func:`consent_problem`); emails are trimmed and lowercased; rows without a
  usable email (missing, no ``@``, malformed; internationalised addresses are fine, and so are addresses that
  start like a formula, written as the target needs) are dropped; duplicate emails keep one row, the customer
  with the highest ``value`` (then the smallest customer id). Every dropped row goes to the ``.dropped.csv``
  file beside the output with its reason.
- **Control group** (optional): a deterministic share of the screened list (see :mod:`loyalty_cli.control`)
  is written to ``<stem>.control<suffix>`` instead.
- **Formatting** (:func:`format_for_target`): the tool's header names, dates in a format its importer reads,
  the segment/stage/action in a tag or property column. Importer targets get text that starts like a
  formula *cleaned* (the leading ``= + - @``, tab, CR and spaces stripped; a quote prefix would be kept by
  the importer), each change logged to ``<stem>.changes.csv``, except the email and id (keys: an importer
  takes cells as data, so an address such as ``+4917...@example.com`` goes as it is); the generic CSV keeps the
  OWASP apostrophe of :mod:`loyalty_cli.io.writers` on every text cell, emails too. No target writes the
  consent column (every row left said yes).
- **Size**: CSV files over the target's limit (Klaviyo 50 MB, Braze 500 MB, HubSpot 512 MB; MB = 10^6
  bytes) are split at row boundaries into ``<stem>.part01<suffix>``, ``.part02`` ... each with the header.
- **Manifest**: ``<stem>.manifest.json`` lists every file written (rows, bytes, SHA-256), the counts, what was
  dropped and why, and the control split (share, seed, hash method, counts).
- **One set**: the files are written together (temporary files first, renamed into place only when all are
  written: a failure leaves the earlier set complete), and files of an earlier set of the same name that the new
  one does not write (its parts, control group, dropped rows, changes; for a plain list, :func:`write_plain_list`,
  its manifest too) are removed and reported: those its manifest lists (:func:`set_members`); files only named
  like them are left, with a note.

:func:`read_lists` reads lists back (for ``loyalty uplift``): any CSV/Parquet list with a customer id column
(``customer_id``, Braze's ``external_id``, or a named one); :func:`read_groups` makes a campaign's treatment
and control groups of them (two lists, one list with a group column, or the files of a manifest:
:func:`manifest_files`, checked against the rows and hashes it records by :func:`check_manifest`).
"""

from __future__ import annotations

import hashlib
import json
import os
import re
from collections.abc import Collection, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

import numpy as np
import polars as pl

from loyalty_cli import words
from loyalty_cli.control import Split, assign_groups, check_share, split_summary
from loyalty_cli.errors import DataError, UsageError
from loyalty_cli.io.parse import (  # consent words, as the contacts reader reads them
    FALSE_WORDS,
    NO_CONSENT_STATUSES,
    TRUE_WORDS,
    consent_word,
    parse_consent,
)
from loyalty_cli.io.writers import FileSet, csv_ready, formula_like, neutralise_formulas, output_format
from loyalty_cli.io.writers import write_table as _write_table
from loyalty_cli.schema import CONTACTS, TRANSACTIONS, normalise_header

MB = 1_000_000
TRIGGER_CHARS = "=+-@\t\r "  # stripped from the start of a risky cell (spaces too, so "= 1" -> "1")
# The local part: RFC 5322 atext, and (RFC 6531, internationalised addresses) any character beyond ASCII that is
# not a space, a separator or a control/format character (a zero-width space is one). Emails are lowercased first.
_ATEXT = r"[a-z0-9!#$%&'*+/=?^_`{|}~\-[^\x00-\x7F\p{C}\p{Z}]]+"
# (No bounded repeats such as {0,61}: they blow the regex automaton up, 40x slower on a million emails.)
# Domain labels: letters, digits and marks (the vowel signs of Devanagari, ...), hyphens inside.
_LABEL = r"[\p{L}\p{N}](?:[\p{L}\p{M}\p{N}-]*[\p{L}\p{M}\p{N}])?"
EMAIL_PATTERN = rf"^{_ATEXT}(?:\.{_ATEXT})*@(?:{_LABEL}\.)+(?:\p{{L}}[\p{{L}}\p{{M}}]+|xn--[a-z0-9-]+)$"
MAX_EMAIL_LENGTH = 254
CONSENT_ALIASES = next(f.aliases for f in CONTACTS if f.name == "email_consent")
ID_ALIASES = ("customerid", "externalid", *TRANSACTIONS[0].aliases)
BY_CANDIDATES = (
    "segment",
    "loyalty_segment",
    "stage",
    "loyalty_stage",
    "value_tier",
    "loyalty_value_tier",
    "action",
    "loyalty_action",
    "Tags",
    "tag",
)

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


@dataclass(frozen=True)
class Target:
    """How one email tool's importer wants a list."""

    name: str
    label: str
    email_header: str
    id_header: str  # the customer id column (Braze identifies users by external_id)
    tag_header: str | None  # None: "loyalty_<tag column>"; "" keeps our name (generic)
    date_format: str | None  # strftime for Date columns; None keeps dates as they are (generic)
    datetime_format: str | None
    max_mb: float | None  # the importer's file size limit
    importer: bool  # True: clean formula-like text (logged); False: OWASP apostrophe (spreadsheets)
    needs_email: bool = True  # False: rows are identified by the id (Braze), so a list without emails works

    def tag_column(self, tag: str) -> str:
        if self.tag_header is None:
            return f"loyalty_{tag}"
        return self.tag_header or tag


TARGETS: dict[str, Target] = {
    # Dates without a time are written at 12:00 where the importer stores a timestamp: a date at midnight is
    # read as midnight UTC and shows (and triggers flows) a day early west of UTC; noon keeps the calendar day
    # in every time zone from UTC-11 to UTC+11.
    "mailchimp": Target(
        "mailchimp", "Mailchimp", "Email Address", "customer_id", "Tags", "%Y-%m-%d", "%Y-%m-%d %H:%M:%S", None, True
    ),
    "klaviyo": Target(
        "klaviyo", "Klaviyo", "Email Address", "customer_id", None, "%Y-%m-%d 12:00:00", "%Y-%m-%d %H:%M:%S", 50, True
    ),
    "braze": Target(
        "braze",
        "Braze",
        "email",
        "external_id",
        None,
        "%Y-%m-%dT12:00:00",
        "%Y-%m-%dT%H:%M:%S",
        500,
        True,
        needs_email=False,
    ),
    "hubspot": Target("hubspot", "HubSpot", "Email", "customer_id", None, "%Y-%m-%d", "%Y-%m-%d %H:%M:%S", 512, True),
    "generic": Target("generic", "generic CSV", "email", "customer_id", "", None, None, None, False, needs_email=False),
}


def get_target(name: str) -> Target:
    key = name.strip().lower()
    if key not in TARGETS:
        raise UsageError(f"Unknown --target {name!r}", hint=f"Targets: {', '.join(TARGETS)}.")
    return TARGETS[key]


# --- screening: consent, email, duplicates -------------------------------------------------------------


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
    kept, and written as the target needs (:func:`write_list`). ``normalised``: ``col`` holds emails already
    trimmed and lowercased (:func:`normalise_email`)."""
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
            hint="Add emails with --contacts FILE (a contacts export with customer_id and email), or map the "
            "transactions' email column with --email-col.",
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


# --- formatting --------------------------------------------------------------------------------------


def format_for_target(
    rows: pl.DataFrame, target: Target, *, tag: str | None = None, tag_value: str | None = None
) -> tuple[pl.DataFrame, pl.DataFrame]:
    """The list as the tool's importer takes it, and the log of cleaned cells (importer targets).

    ``tag`` names the list's segment/stage/action column (its ``<tag>_action`` column, e.g. ``segment_action``,
    follows it, ``loyalty_`` prefixed as the tag is); ``tag_value`` is a fixed tag for lists without one (the
    column is then called ``action``). Log columns: ``customer_id, column, original, cleaned``."""
    empty_log = pl.DataFrame(
        schema={"customer_id": pl.String, "column": pl.String, "original": pl.String, "cleaned": pl.String}
    )
    df = rows
    tag_name = tag
    if tag_value is not None:
        tag_name = tag or "action"
        df = df.with_columns(pl.lit(tag_value).alias(tag_name))
    consent = consent_column(df.columns)
    if consent is not None:  # every row left has said yes (every target: the README says it is not written)
        df = df.drop(consent)
    if not target.importer:
        return df, empty_log
    renames = {"customer_id": target.id_header}
    if "email" in df.columns:
        renames["email"] = target.email_header
    if tag_name and tag_name in df.columns:
        renames[tag_name] = target.tag_column(tag_name)
    action = f"{tag_name}_action" if tag_name else None  # the tag's action (segment_action): after it, named like it
    if action and action in df.columns:
        renames[action] = target.tag_column(action) if target.tag_header is None else action
    df = df.rename({k: v for k, v in renames.items() if k != v})
    dates = []
    for name, dtype in df.schema.items():
        if dtype == pl.Date and target.date_format:
            dates.append(pl.col(name).dt.to_string(target.date_format))
        elif isinstance(dtype, pl.Datetime) and target.datetime_format:
            dates.append(pl.col(name).dt.to_string(target.datetime_format))
        elif isinstance(dtype, pl.List):
            dates.append(pl.col(name).cast(pl.List(pl.String)).list.join("; "))
        elif isinstance(dtype, pl.Categorical | pl.Enum):
            dates.append(pl.col(name).cast(pl.String))
    df = df.with_columns(dates)
    first = (
        [target.email_header, target.id_header]
        if target.id_header == "customer_id"
        else [target.id_header, target.email_header]
    )
    tag_col = renames.get(tag_name or "", None)
    first = [c for c in [*first, tag_col, renames.get(action or "")] if c and c in df.columns]
    df = df.select(*first, pl.exclude(first))
    protected = {target.email_header, target.id_header}
    text_cols = [c for c, t in df.schema.items() if t == pl.String and c not in protected]
    logs, cleaned_cols = [], []
    for col in text_cols:  # one expression per column, over all rows at once
        risky = formula_like(pl.col(col)).fill_null(False)
        cleaned = pl.col(col).str.strip_chars_start(TRIGGER_CHARS).replace("", None)
        logs.append(
            df.filter(risky).select(
                pl.col(target.id_header).cast(pl.String).alias("customer_id"),
                pl.lit(col).alias("column"),
                pl.col(col).alias("original"),
                cleaned.alias("cleaned"),
            )
        )
        cleaned_cols.append(pl.when(risky).then(cleaned).otherwise(pl.col(col)).alias(col))
    log = pl.concat([empty_log, *logs]) if logs else empty_log
    return df.with_columns(cleaned_cols), log


# --- CSV bytes and size splitting ---------------------------------------------------------------------


def csv_bytes(df: pl.DataFrame, *, neutralise: bool) -> bytes:
    """UTF-8 CSV (no BOM: some importers read it into the first header). ``neutralise``: the spreadsheet
    apostrophe of :func:`loyalty_cli.io.writers.neutralise_formulas` (the generic target)."""
    df = csv_ready(df)
    if neutralise:
        df = neutralise_formulas(df)
    return df.write_csv().encode("utf-8")


def split_csv(data: bytes, max_bytes: int | None) -> list[tuple[bytes, int]]:
    """Split CSV bytes at row boundaries into parts of at most ``max_bytes``, each starting with the header;
    returns (bytes, rows) per part.

    A row ends at a newline outside quotes (an even number of ``"`` before it: quotes inside a field are
    doubled), so quoted text with line breaks stays whole. The loop runs once per part, not per row."""
    buf = np.frombuffer(data, dtype=np.uint8)
    quotes = np.flatnonzero(buf == ord('"'))
    newlines = np.flatnonzero(buf == ord("\n"))
    ends = newlines[np.searchsorted(quotes, newlines) % 2 == 0] + 1  # exclusive end of each record
    if ends.size == 0:
        return [(data, 0)]
    header_end = int(ends[0])
    rows_end = ends[1:]
    if max_bytes is None or len(data) <= max_bytes or rows_end.size == 0:
        return [(data, int(rows_end.size))]
    capacity = max_bytes - header_end
    longest = int(np.diff(np.concatenate([[header_end], rows_end])).max())
    if capacity < longest:
        raise UsageError(
            f"--max-file-mb {max_bytes / MB:g} is too small: the header and the longest row take "
            f"{header_end + longest:,} bytes",
            hint="Give a larger size limit.",
        )
    parts: list[tuple[bytes, int]] = []
    header = data[:header_end]
    start, first = header_end, 0  # byte offset and index of the part's first row
    while first < rows_end.size:
        last = int(np.searchsorted(rows_end, start + capacity, side="right"))  # rows first..last-1 fit
        end = int(rows_end[last - 1])
        parts.append((header + data[start:end], last - first))
        start, first = end, last
    return parts


# --- writing a list -------------------------------------------------------------------------------------


@dataclass(frozen=True)
class ListSpec:
    """How to write a customer list. All optional: with none set, the list is written as it is."""

    target: str | None = None
    holdout_share: float | None = None
    seed: str | None = None
    max_file_mb: float | None = None
    fmt: str | None = None
    tag: str | None = None  # the segment/stage/action column
    tag_value: str | None = None  # a fixed tag when the list has no such column
    value: str | None = None  # duplicates keep the customer with the highest value
    contacts: pl.DataFrame | None = None  # customer_id + email / email_consent

    @property
    def active(self) -> bool:
        return self.target is not None or self.holdout_share is not None

    def check(self, output: str | None) -> None:
        """Options that cannot work, found before any data is read."""
        if self.contacts is not None and self.target is None:
            raise UsageError("--contacts needs --target", hint="e.g. --target generic --contacts contacts.csv")
        if not self.active:
            for name, given in (("--seed", self.seed), ("--max-file-mb", self.max_file_mb)):
                if given is not None:
                    raise UsageError(
                        f"{name} needs --target or --holdout-share",
                        hint="e.g. --target klaviyo --holdout-share 0.1 --seed spring-2025",
                    )
            return
        if not output or output == "-":
            raise UsageError(
                "--target and --holdout-share need -o FILE",
                hint="They write several files beside it (control group, dropped rows, manifest).",
            )
        kind = output_format(output, self.fmt)
        target = get_target(self.target) if self.target else None
        if target is not None and target.importer and kind != "csv":
            raise UsageError(f"{target.label} imports CSV files, not {kind}", hint="Use -o NAME.csv.")
        if self.max_file_mb is not None:
            if self.max_file_mb <= 0:
                raise UsageError("--max-file-mb must be > 0")
            if kind != "csv":
                raise UsageError("--max-file-mb splits CSV files only", hint="Use -o NAME.csv.")
        if self.holdout_share is not None:
            check_share(self.holdout_share)
            if self.seed is None or not str(self.seed).strip():
                raise UsageError(
                    "--holdout-share needs --seed",
                    hint="Any word or number, e.g. --seed spring-2025: the same seed gives the same "
                    "split; use a new one per campaign for a fresh control group.",
                )
        elif self.seed is not None:
            raise UsageError("--seed needs --holdout-share", hint="e.g. --holdout-share 0.1 --seed spring-2025")

    def max_bytes(self, target: Target | None) -> int | None:
        mb = self.max_file_mb if self.max_file_mb is not None else (target.max_mb if target else None)
        return int(mb * MB) if mb is not None else None


@dataclass(frozen=True)
class WrittenFile:
    path: Path
    rows: int
    bytes: int
    sha256: str | None = None

    def to_dict(self, folder: Path) -> dict[str, Any]:
        entry: dict[str, Any] = {"path": _relative(self.path, folder), "rows": self.rows, "bytes": self.bytes}
        if self.sha256 is not None:
            entry["sha256"] = self.sha256
        return entry


@dataclass
class ListReport:
    """What :func:`write_list` wrote and why rows were left out."""

    target: Target | None
    rows_in: int
    treatment: list[WrittenFile] = field(default_factory=list)
    control: list[WrittenFile] = field(default_factory=list)
    dropped: dict[str, int] = field(default_factory=dict)
    dropped_path: Path | None = None
    changes: int = 0
    changes_path: Path | None = None
    split: Split | None = None
    manifest: Path | None = None
    removed: list[Path] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)

    @property
    def written(self) -> int:
        return sum(f.rows for f in self.treatment) + sum(f.rows for f in self.control)


def sibling(path: Path, tag: str, suffix: str | None = None) -> Path:
    """``at_risk.csv`` -> ``at_risk.<tag><suffix>``."""
    return path.with_name(f"{path.stem}.{tag}{path.suffix if suffix is None else suffix}")


def _relative(path: Path, folder: Path) -> str:
    try:
        return str(path.relative_to(folder))
    except ValueError:
        return str(path)


def _part_paths(path: Path, n: int) -> list[Path]:
    if n == 1:
        return [path]
    width = max(2, len(str(n)))
    return [path.with_name(f"{path.stem}.part{i:0{width}d}{path.suffix}") for i in range(1, n + 1)]


@dataclass(frozen=True)
class SetMembers:
    """The files in a list's folder named like its set (:func:`set_members`): ``ours``, written by an earlier run
    (its manifest lists them), which a new set may remove, and ``others``, only named like them, left alone."""

    path: Path  # the list
    ours: list[Path]
    others: list[Path]
    manifest: Path
    manifest_state: Literal["ours", "other", "missing"]  # the earlier manifest: ours for this list, not, or none

    def left_note(self, keep: Collection[Path] = ()) -> str | None:
        """A note naming the ``others`` (less ``keep``, the files the new set writes), or None."""
        left = [p for p in self.others if p not in keep]
        if not left:
            return None
        one = len(left) == 1
        them = "it" if one else "them"
        reason = {
            "ours": f"the earlier run's manifest ({self.manifest}) does not list {them}",
            "other": f"{self.manifest} was not written by loyalty for {self.path.name}",
            "missing": f"no manifest of an earlier run ({self.manifest}) lists {them}",
        }[self.manifest_state]
        return (
            f"Left {', '.join(str(p) for p in left)} as {'it is' if one else 'they are'}: named like "
            f"{'a file' if one else 'files'} of this list's set, but {reason}. Delete {them} if an earlier run left "
            f"{them}: {'it' if one else 'they'} would not belong to this list."
        )


def _manifest_listing(manifest: Path, path: Path) -> set[str] | None:
    """The names of the files that ``manifest`` lists in ``path``'s folder, when it is a manifest we wrote for the
    list ``path`` (:func:`_manifest_text`: its ``output`` is the list's name, its files a treatment and a control
    list of entries with a path, the dropped and changes files a path or null, counts as numbers); else None."""
    try:
        data = json.loads(manifest.read_text(encoding="utf-8"))
        files = data["files"]
        entries = [entry["path"] for group in ("treatment", "control") for entry in files[group]]
        singles = [files["dropped"], files["changes"]]
        ours = (
            data["output"] == path.name
            and isinstance(data["rows_in"], int)
            and isinstance(data["rows_written"], int)
            and all(isinstance(p, str) for p in entries)
            and all(p is None or isinstance(p, str) for p in singles)
        )
    except (OSError, ValueError, KeyError, TypeError, AttributeError):
        return None
    if not ours:
        return None
    folder = os.path.abspath(path.parent)
    listed = {os.path.normpath(os.path.join(folder, p)) for p in [*entries, *singles] if p is not None}
    return {os.path.basename(p) for p in listed if os.path.dirname(p) == folder} | {manifest.name}


def set_members(path: Path) -> SetMembers:
    """The files in the folder of the list ``path`` named like its set: the list or its parts
    (``<stem>.partNN<suffix>``), the control group or its parts, ``<stem>.dropped.csv``, ``<stem>.changes.csv``
    and ``<stem>.manifest.json``; split into those an earlier run wrote and the others.

    A new set removes those of an earlier run that it does not write again: left behind, a stale part would be
    uploaded, and a stale control group or manifest read by ``uplift`` as belonging to the new list. Only files
    that the earlier ``<stem>.manifest.json`` lists are an earlier run's (when it is a manifest we wrote for this
    list), and ``path`` itself (the output: a run replaces it); a file of the user's that is only named like one
    (``vip.part7.csv``, ``vip.changes.csv``) is never removed."""
    stem, suffix = re.escape(path.stem), re.escape(path.suffix)
    pattern = re.compile(
        rf"^{stem}(?:\.control)?(?:\.part\d+)?{suffix}$|^{stem}\.(?:dropped\.csv|changes\.csv|manifest\.json)$"
    )
    manifest = sibling(path, "manifest", ".json")
    listed = _manifest_listing(manifest, path)
    state: Literal["ours", "other", "missing"] = (
        "ours" if listed is not None else "other" if os.path.lexists(manifest) else "missing"
    )
    try:
        names = sorted(e.name for e in os.scandir(path.parent) if pattern.match(e.name) and not e.is_dir())
    except OSError:
        names = []
    ours = {path.name, *(listed or ())}
    return SetMembers(
        path=path,
        ours=[path.parent / name for name in names if name in ours],
        others=[path.parent / name for name in names if name not in ours],
        manifest=manifest,
        manifest_state=state,
    )


def _add_csv_parts(files: FileSet, data: bytes, path: Path, max_bytes: int | None) -> list[WrittenFile]:
    parts = split_csv(data, max_bytes)
    written = []
    for (part, rows), target in zip(parts, _part_paths(path, len(parts)), strict=True):
        done = files.add(target, lambda fh, part=part: fh.write(part))
        written.append(WrittenFile(target, rows, done.bytes, done.sha256))
    return written


def _add_one(
    files: FileSet, df: pl.DataFrame, path: Path, *, target: Target | None, fmt: str | None, max_bytes: int | None
) -> list[WrittenFile]:
    kind = output_format(path, fmt)
    if kind == "csv":
        return _add_csv_parts(files, csv_bytes(df, neutralise=not (target and target.importer)), path, max_bytes)
    done = files.add_table(path, df, fmt=fmt)
    return [WrittenFile(path, df.height, done.bytes, done.sha256)]


def write_plain_list(
    table: pl.DataFrame, output: str | Path, *, fmt: str | None = None
) -> tuple[Path | None, list[Path], list[str]]:
    """A list without hand-off options: the table as it is (``-`` = stdout), and the files of an earlier set of
    the same name (:func:`set_members`: control group, parts, dropped rows, changes, manifest, as its manifest
    lists them) removed with it, in one commit. Returns the path written (None for stdout), the files removed,
    and notes (files named like the set's but not an earlier run's, left as they are)."""
    if str(output) == "-":
        return _write_table(table, output, fmt=fmt), [], []
    path = Path(output)
    members = set_members(path)
    with FileSet() as files:
        files.add_table(path, table, fmt=fmt)
        removed = files.commit(remove=[p for p in members.ours if p != path])
    note = members.left_note({path})
    return path, removed, [note] if note else []


def write_list(table: pl.DataFrame, output: str | Path, spec: ListSpec) -> ListReport:
    """Screen, split and format ``table`` for ``spec.target`` and write it (see the module docstring).

    The files are written as one set (:class:`~loyalty_cli.io.writers.FileSet`): all of them, or, after an
    error or an interrupt, none, the earlier set left complete. Files of an earlier set of the same name that
    this one does not write are removed (``report.removed``)."""
    path = Path(output)
    spec.check(str(output))
    target = get_target(spec.target) if spec.target else None
    report = ListReport(target=target, rows_in=table.height)
    rows = table
    dropped = None
    if target is not None:
        if spec.contacts is not None:
            rows = attach_contacts(rows, spec.contacts)
        screened = screen_rows(rows, target=target, value=spec.value)
        rows = screened.rows
        report.dropped = screened.dropped_counts()
        if not screened.has_email:
            report.notes.append(
                "The list has no email column: no email checks or de-duplication"
                + (f" ({target.label} identifies rows by {target.id_header})" if target.name == "braze" else "")
            )
        if screened.consent_column:
            report.notes.append(f"Consent from column {screened.consent_column!r}: rows without a clear yes left out")
        if screened.dropped.height:
            dropped = screened.dropped
    control_rows = None
    if spec.holdout_share is not None:
        seed = str(spec.seed)
        grouped = assign_groups(rows, share=spec.holdout_share, seed=seed, column="_group")
        report.split = split_summary(grouped["_group"], share=spec.holdout_share, seed=seed)
        control_rows = grouped.filter(pl.col("_group") == "control").drop("_group")
        rows = grouped.filter(pl.col("_group") == "treatment").drop("_group")
    max_bytes = spec.max_bytes(target)
    with FileSet() as files:
        if dropped is not None:
            report.dropped_path = sibling(path, "dropped", ".csv")
            files.add_table(report.dropped_path, dropped)
        logs = []
        frames = [(path, rows)] + ([(sibling(path, "control"), control_rows)] if control_rows is not None else [])
        for where, frame in frames:
            out = frame
            if target is not None:
                out, log = format_for_target(frame, target, tag=spec.tag, tag_value=spec.tag_value)
                logs.append(log)
            written = _add_one(files, out, where, target=target, fmt=spec.fmt, max_bytes=max_bytes)
            (report.treatment if where == path else report.control).extend(written)
        log = pl.concat(logs) if logs else None
        if log is not None and log.height:
            report.changes, report.changes_path = log.height, sibling(path, "changes", ".csv")
            files.add_table(report.changes_path, log)
        report.manifest = sibling(path, "manifest", ".json")
        text = _manifest_text(path, report, max_bytes)
        files.add(report.manifest, lambda fh: fh.write(text.encode("utf-8")))
        keep = {f.path for f in (*report.treatment, *report.control)}
        keep |= {p for p in (report.dropped_path, report.changes_path, report.manifest) if p is not None}
        members = set_members(path)
        report.removed = files.commit(remove=[p for p in members.ours if p not in keep])
    note = members.left_note(keep)
    if note:
        report.notes.append(note)
    return report


def _manifest_text(path: Path, report: ListReport, max_bytes: int | None) -> str:
    folder = path.parent
    target = report.target
    manifest: dict[str, Any] = {
        "output": _relative(path, folder),
        "target": target.name if target else None,
        "rows_in": report.rows_in,
        "rows_written": report.written,
        "files": {
            "treatment": [f.to_dict(folder) for f in report.treatment],
            "control": [f.to_dict(folder) for f in report.control],
            "dropped": _relative(report.dropped_path, folder) if report.dropped_path else None,
            "changes": _relative(report.changes_path, folder) if report.changes_path else None,
        },
        "dropped": report.dropped,
        "cleaned_cells": report.changes,
        "max_file_bytes": max_bytes,
        "holdout": report.split.to_dict() if report.split else None,
    }
    if target is not None:
        manifest["format"] = {
            "email_column": target.email_header,
            "id_column": target.id_header,
            "date_format": target.date_format,
            "datetime_format": target.datetime_format,
            "encoding": "utf-8",
        }
    return json.dumps(manifest, indent=2, ensure_ascii=False) + "\n"


# --- reading lists back -----------------------------------------------------------------------------------


@dataclass(frozen=True)
class ListRead:
    """Customers of one or more list files: ``customer_id`` (+ ``group``, + the ``by`` column)."""

    rows: pl.DataFrame
    paths: list[Path]
    id_column: str
    by: str | None
    group_column: str | None


def _header_match(headers: Sequence[str], wanted: str) -> str | None:
    if wanted in headers:
        return wanted
    hits = [h for h in headers if normalise_header(h) == normalise_header(wanted)]
    return hits[0] if len(hits) == 1 else None


def read_lists(
    inputs: Sequence[str | Path],
    *,
    id_col: str | None = None,
    group_col: str | None = None,
    by: str | None = None,
    auto_by: bool = True,
) -> ListRead:
    """Read list files (CSV or Parquet; files, folders or globs) into one frame of distinct customers.

    The id column is ``id_col``, else the first of ``customer_id``, ``external_id`` (Braze) or a customer id
    alias. ``group_col`` (e.g. ``group``) is kept when given; ``by`` names a segment column, else with
    ``auto_by`` the first of :data:`BY_CANDIDATES` that the files have is used."""
    from loyalty_cli.io.parse import parse_id, parse_text
    from loyalty_cli.io.sources import check_gzip, expand_inputs, inspect_source

    paths = expand_inputs(inputs)
    sources = [inspect_source(p) for p in paths]
    frames = []
    chosen_id = chosen_by = chosen_group = None
    for src in sources:
        if src.empty:
            continue
        if src.format == "parquet":
            lf = pl.scan_parquet(src.scan_path, row_index_name="_row", row_index_offset=1)
        else:
            lf = pl.scan_csv(
                src.scan_path,
                separator=src.separator,
                has_header=src.header,
                infer_schema=False,
                row_index_name="_row",
                row_index_offset=2,
            )
        try:
            schema = lf.collect_schema()
        except pl.exceptions.PolarsError as exc:
            raise DataError(
                f"Could not read {src.path}: {str(exc).splitlines()[0]}",
                hint="Lists are CSV or Parquet files with a header row.",
            ) from None
        headers = [h for h in schema.names() if h != "_row"]
        shown = ", ".join(repr(h) for h in headers[:12])
        if id_col:
            idc = _header_match(headers, id_col)
            if idc is None:
                raise DataError(f"No column {id_col!r} in {src.path}", hint=f"Columns in the file: {shown}.")
        else:
            norm = {normalise_header(h): h for h in reversed(headers)}
            idc = next((norm[a] for a in ID_ALIASES if a in norm), None)
            if idc is None:
                raise DataError(
                    f"No customer id column in the list {src.path}",
                    hint="Lists written by loyalty keep customer_id (Braze: external_id); name "
                    f"another with --list-id-col. Columns in the file: {shown}.",
                )
        cols = [parse_id(idc, schema[idc]).alias("customer_id")]
        if group_col:
            gc = _header_match(headers, group_col)
            if gc is None:
                raise DataError(
                    f"No column {group_col!r} in the list {src.path}",
                    hint=f"A single list needs a column saying treatment or control. Columns: {shown}.",
                )
            cols.append(parse_text(gc).alias("group"))
            chosen_group = gc
        byc = None
        if by:
            byc = _header_match(headers, by)
            if byc is None:
                raise DataError(f"No column {by!r} in the list {src.path}", hint=f"Columns in the file: {shown}.")
        elif auto_by:
            byc = next((h for c in BY_CANDIDATES for h in headers if h == c), None)
        if byc is not None:
            cols.append(pl.col(byc).cast(pl.String).alias("segment"))
        chosen_id, chosen_by = chosen_id or idc, chosen_by or byc
        frames.append(lf.select(pl.lit(str(src.path)).alias("_file"), "_row", *cols))
    if not frames:
        raise DataError(
            f"No rows in {', '.join(str(p) for p in paths[:3])}", hint="The list files have a header but no customers."
        )
    try:
        rows = pl.concat(pl.collect_all(frames), how="diagonal_relaxed")
    except (pl.exceptions.PolarsError, OSError) as exc:  # OSError: a gzip file cut short or corrupt
        read = [s for s in sources if not s.empty]
        for src in read:
            if src.format == "csv":
                check_gzip(src.path)  # a damaged gzip file: the error names it
        where = str(read[0].path) if len(read) == 1 else ", ".join(str(s.path) for s in read[:3])
        raise DataError(
            f"Could not read the list {where}: {str(exc).splitlines()[0] if str(exc) else type(exc).__name__}",
            hint="Lists are CSV or Parquet files with a header row; check that each file was copied whole.",
        ) from None
    missing = rows.filter(pl.col("customer_id").is_null())
    if missing.height:
        first = missing.row(0, named=True)
        raise DataError(
            f"{missing.height:,} {'row' if missing.height == 1 else 'rows'} without a customer id in "
            f"the list {first['_file']} "
            f"(first: row {first['_row']})",
            hint="Every row of a list needs a customer id.",
        )
    return ListRead(
        rows=rows.drop("_file", "_row"),
        paths=paths,
        id_column=chosen_id or "customer_id",
        by="segment" if chosen_by else None,
        group_column=chosen_group,
    )


# --- campaign groups (``loyalty uplift``) ----------------------------------------------------------------

TREATMENT_WORDS = ("treatment", "treated", "test", "target", "campaign", "t")
CONTROL_WORDS = ("control", "holdout", "hold-out", "hold out", "c")


@dataclass(frozen=True)
class ManifestFile:
    """A list file as its manifest records it (rows, bytes and sha256 may be missing in older manifests)."""

    path: Path
    rows: int | None
    bytes: int | None
    sha256: str | None


def read_manifest(manifest: Path) -> tuple[list[ManifestFile], list[ManifestFile]]:
    """The treatment and control files recorded in a list's manifest (paths relative to its folder)."""
    try:
        data = json.loads(manifest.read_text(encoding="utf-8"))
        files = data["files"]
        treatment, control = (
            [
                ManifestFile(manifest.parent / f["path"], f.get("rows"), f.get("bytes"), f.get("sha256"))
                for f in files[group]
            ]
            for group in ("treatment", "control")
        )
    except FileNotFoundError:
        raise DataError(
            f"File not found: {manifest}", hint="Pass the .manifest.json written beside the list."
        ) from None
    except (ValueError, KeyError, TypeError, AttributeError):
        raise DataError(
            f"{manifest} is not a list manifest written by loyalty",
            hint="Pass the .manifest.json written beside the list, or --treatment and --control.",
        ) from None
    if not control:
        raise DataError(
            f"The manifest {manifest} records no control group",
            hint="Write the list with --holdout-share and --seed, or pass --control FILE.",
        )
    return treatment, control


def manifest_files(manifest: Path) -> tuple[list[str], list[str]]:
    """The treatment and control files recorded in a list's manifest, as paths."""
    treatment, control = read_manifest(manifest)
    return [str(f.path) for f in treatment], [str(f.path) for f in control]


def _sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def _count_rows(path: Path) -> int:
    if path.suffix.lower() in (".parquet", ".pq"):
        import pyarrow.parquet as pq

        return int(pq.read_metadata(path).num_rows)
    return int(pl.scan_csv(path, infer_schema=False).select(pl.len()).collect().item())


def check_manifest(manifest: Path) -> str:
    """Check that the treatment and control files are those the manifest recorded: each file's size and SHA-256
    (manifests written since hashes were added) and its row count. A file that differs is a :class:`DataError`
    naming it (a list rewritten without its control group, a file edited or cut); returns a note saying what
    was checked (for an older manifest without hashes: that the hash check was skipped)."""
    treatment, control = read_manifest(manifest)
    files = [*treatment, *control]
    hint = (
        "The lists and the manifest must come from one run: write the list again with --holdout-share and "
        "--seed (the same seed gives the same split), or compare the files as they are with --treatment and "
        "--control."
    )
    for f in files:
        try:
            size = f.path.stat().st_size
        except OSError:
            raise DataError(f"{f.path}, listed in the manifest {manifest}, is missing", hint=hint) from None
        changed = f.bytes is not None and size != f.bytes
        if not changed and f.sha256 is not None:
            try:
                changed = _sha256(f.path) != f.sha256
            except OSError as exc:
                raise DataError(f"Could not read {f.path}: {exc.strerror or exc}", hint=hint) from None
        if changed:
            raise DataError(
                f"{f.path} has changed since the manifest {manifest} was written (its content does not match "
                "the size and SHA-256 recorded there)",
                hint=hint,
            )
        if f.rows is not None:
            try:
                rows = _count_rows(f.path)
            except (pl.exceptions.PolarsError, OSError, ValueError):
                continue  # read_lists says what is wrong with the file
            if rows != f.rows:
                raise DataError(
                    f"{f.path} has {rows:,} {'row' if rows == 1 else 'rows'}, but the manifest {manifest} records "
                    f"{f.rows:,}: the file has changed since the list was written",
                    hint=hint,
                )
    if all(f.sha256 is not None for f in files):
        return f"Checked the {words.count(len(files), 'list file')} against {manifest}: rows and SHA-256 match"
    return (
        f"The manifest {manifest} records no content hashes (an older version wrote it): the hash check was "
        "skipped; row counts match"
    )


def read_groups(
    *,
    treatment: Sequence[str] | None = None,
    control: Sequence[str] | None = None,
    groups: Sequence[str] | None = None,
    id_col: str | None = None,
    group_col: str = "group",
    by: str | None = None,
) -> tuple[pl.DataFrame, int]:
    """The customers of a campaign: ``customer_id, group`` (``treatment`` or ``control``) and the segment
    column when the lists have one (``by``: a column, ``none``, or None to find one), one row per customer;
    and how many repeated rows were counted once. From two lists (``treatment``, ``control``) or one with a
    group column (``groups``, words such as test or holdout accepted). A customer in both groups, an unknown
    group word or an empty group is a :class:`DataError`."""
    auto = by is None
    wanted_by = None if by in (None, "none") else by
    if groups is not None:
        read = read_lists(groups, id_col=id_col, group_col=group_col, by=wanted_by, auto_by=auto)
        rows = read.rows
        word = pl.col("group").str.to_lowercase()
        rows = rows.with_columns(
            pl.when(word.is_in(TREATMENT_WORDS))
            .then(pl.lit("treatment"))
            .when(word.is_in(CONTROL_WORDS))
            .then(pl.lit("control"))
            .alias("_g")
        )
        bad = rows.filter(pl.col("_g").is_null())
        if bad.height:
            values = bad["group"].unique(maintain_order=True).head(5).to_list()
            raise DataError(
                f"{words.count(bad.height, 'row')} of {', '.join(map(str, read.paths[:3]))} have a {group_col!r} that "
                f"is neither treatment nor control: {', '.join(repr(v) for v in values)}",
                hint="Values: treatment (or test, target) and control (or holdout).",
            )
        rows = rows.with_columns(pl.col("_g").alias("group")).drop("_g")
    else:
        t = read_lists(treatment or [], id_col=id_col, by=wanted_by, auto_by=auto)
        c = read_lists(control or [], id_col=id_col, by=wanted_by, auto_by=auto)
        by_col = t.by if t.by and c.by else None
        parts = [r.rows.with_columns(pl.lit(g).alias("group")) for r, g in ((t, "treatment"), (c, "control"))]
        rows = pl.concat([p.select("customer_id", "group", *([by_col] if by_col else [])) for p in parts])
    both = rows.group_by("customer_id").agg(pl.col("group").n_unique().alias("n")).filter(pl.col("n") > 1)
    if both.height:
        shown = ", ".join(both.sort("customer_id")["customer_id"].head(5).to_list())
        raise DataError(
            f"{both.height:,} customer{'s are' if both.height > 1 else ' is'} in both the treatment and "
            f"the control lists (e.g. {shown})",
            hint="A customer is in one group only: check that the lists come from the same split.",
        )
    repeated = rows.height - rows["customer_id"].n_unique()
    if repeated:
        rows = rows.unique("customer_id", keep="first", maintain_order=True)
    for name in ("treatment", "control"):
        if not (rows["group"] == name).any():
            raise DataError(f"The {name} list has no customers", hint="Check the list files.")
    return rows, repeated
