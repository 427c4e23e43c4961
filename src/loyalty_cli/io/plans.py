"""The plan of each kind of export (transactions, surveys, contacts, members, points): how its columns are
parsed and which checks its rows must pass; and which kind has which date columns."""

from __future__ import annotations

import re
from collections.abc import Sequence
from datetime import date
from pathlib import Path
from typing import TYPE_CHECKING

import polars as pl

from loyalty_cli.io.checks import (
    C,
    Check,
    Plan,
    beyond,
    not_future,
    not_placeholder_past,
    required_date,
    required_id,
)
from loyalty_cli.io.columns import ColumnChoice
from loyalty_cli.io.dates import parse_date
from loyalty_cli.io.parse import (
    MAX_AMOUNT,
    MAX_CENTS,
    parse_consent,
    parse_free_text,
    parse_id,
    parse_number,
    parse_score,
    parse_survey_type,
    parse_text,
    to_cents,
)
from loyalty_cli.io.sources import Source

if TYPE_CHECKING:
    from loyalty_cli.io.readers import ReadOptions


def _transactions(
    schema: pl.Schema,
    mapping: ColumnChoice,
    options: ReadOptions,
    formats: dict[str, str],
    as_of: date | None,
    src: Source,
) -> Plan:
    cols = mapping.columns
    out: dict[str, pl.Expr] = {}
    derived: dict[str, pl.Expr] = {}
    checks: list[Check] = []
    required_id(schema, mapping, out, checks, src)

    required_date("order_date", "order date", schema, cols, formats, out, checks, src)

    number_fields = ["amount"] if "amount" in cols else ["quantity", "unit_price"]
    for name in number_fields:
        label = name.replace("_", " ")
        out[f"_{name}"] = parse_number(cols[name], schema[cols[name]], decimal_comma=options.decimal_comma)
        checks.append(Check(parse_text(cols[name]).is_null(), f"missing {label}", name, gate=False))
        checks.append(Check(C(f"_{name}").is_null() | ~C(f"_{name}").is_finite(), f"unparseable {label}", name))
        if name != "amount":  # a barcode in one of the two is named on its column (the amount check follows)
            checks.append(Check(~C(f"_{name}").is_between(-MAX_AMOUNT, MAX_AMOUNT), beyond(label), name))
    amount = C("_amount") if "amount" in cols else C("_quantity") * C("_unit_price")
    if "order_id" in cols:
        out["order_id"] = parse_text(cols["order_id"])
        if options.cancel_prefix:
            # Read from the trimmed id; the regex only runs where the prefix is there (10M ids: 0.14 s, not 0.27).
            oid, prefix = C("order_id"), options.cancel_prefix
            cancelled = pl.when(oid.str.starts_with(prefix)).then(oid.str.contains(rf"^{re.escape(prefix)}\d"))
            amount = pl.when(cancelled).then(-amount.abs()).otherwise(amount)
    derived["amount_cents"] = to_cents(amount)
    # Null cents: beyond Int64 altogether. The bound keeps every sum of fewer than 92 million lines exact.
    out_of_range = C("amount_cents").is_null() | ~C("amount_cents").is_between(-MAX_CENTS, MAX_CENTS)
    checks.append(Check(out_of_range, beyond("amount"), "amount"))
    for name in ("category", "product", "product_name", "channel"):
        if name in cols:
            out[name] = parse_text(cols[name])
    if "email" in cols:
        out["email"] = parse_id(cols["email"], schema[cols["email"]], lowercase=True, where=str(src.path))
    return Plan(out, derived, checks)


def _surveys(
    schema: pl.Schema,
    mapping: ColumnChoice,
    options: ReadOptions,
    formats: dict[str, str],
    as_of: date | None,
    src: Source,
) -> Plan:
    cols = mapping.columns
    out: dict[str, pl.Expr] = {}
    checks: list[Check] = []
    if "customer_id" in cols:  # optional: a missing id is an anonymous answer
        out["customer_id"] = parse_id(cols["customer_id"], schema[cols["customer_id"]], where=str(src.path))
    if "responded_at" in cols:
        required_date("responded_at", "response date", schema, cols, formats, out, checks, src, show_format=False)
    else:  # a single-wave export without dates: no date is made up (no trend, nothing left out by as-of)
        out["responded_at"] = pl.lit(None, dtype=pl.Datetime("us"))
    score, non_response = parse_score(cols["score"], schema[cols["score"]])
    out["_score"], out["_non_response"] = score, non_response
    checks.append(Check(~C("_non_response") & C("_score").is_null(), "unparseable score (expected 0-10)", "score"))
    checks.append(Check(~C("_non_response") & ~C("_score").is_between(0, 10), "score outside 0-10", "score"))
    # Valid rows hold 0-10 (Int16); strict=False only spares the rows about to be rejected.
    derived = {"score": pl.when(~C("_non_response")).then(C("_score")).cast(pl.Int16, strict=False)}
    for name in ("comment", "touchpoint"):
        if name in cols:
            out[name] = parse_free_text(cols[name])  # "NA" is no comment, not the text NA
    if "survey_type" in cols:
        out["survey_type"] = parse_survey_type(cols["survey_type"])
    if "email" in cols:
        out["email"] = parse_id(cols["email"], schema[cols["email"]], lowercase=True, where=str(src.path))
    return Plan(out, derived, checks)


def _contacts(
    schema: pl.Schema,
    mapping: ColumnChoice,
    options: ReadOptions,
    formats: dict[str, str],
    as_of: date | None,
    src: Source,
) -> Plan:
    cols = mapping.columns
    out: dict[str, pl.Expr] = {}
    checks: list[Check] = []
    required_id(schema, mapping, out, checks, src)
    if "email" in cols:
        out["email"] = parse_id(cols["email"], schema[cols["email"]], lowercase=True, where=str(src.path))
    for name in ("signed_up_at", "birthday"):
        if name in cols:
            out[name] = parse_date(cols[name], schema[cols[name]], formats.get(name)).cast(pl.Date)
            checks.append(
                Check(
                    parse_text(cols[name]).is_not_null() & C(name).is_null(),
                    f"unparseable {name.replace('_', ' ')}",
                    name,
                )
            )
    if "signed_up_at" in cols:  # not the birthday: some CRMs export the next one
        not_future("signed_up_at", "sign-up date", src, checks)
        not_placeholder_past("signed_up_at", "sign-up date", checks)
    if "email_consent" in cols:
        # Not a check: a status that is not a clear yes (pending, cleaned, ...) or a word we do not know is no
        # consent (null when unknown), and the contact stays (its email, sign-up date). The value as written
        # goes along in email_consent_status, so that a list left out can say why (io.targets).
        out["email_consent"], _ = parse_consent(cols["email_consent"], schema[cols["email_consent"]])
        out["email_consent_status"] = parse_text(cols["email_consent"])
    return Plan(out, {}, checks)


BUILDERS = {"transactions": _transactions, "surveys": _surveys, "contacts": _contacts}
DERIVED = {"transactions": {"amount": ("quantity", "unit_price")}}
DATE_FIELDS = {
    "transactions": ("order_date",),
    "surveys": ("responded_at",),
    "contacts": ("signed_up_at", "birthday"),
}

DATE_FIELD = {"transactions": "order_date", "surveys": "responded_at"}


_CONSENT_LIKE = re.compile(r"consent|marketing|subscri|opt.?in|permission", re.IGNORECASE)


def unmapped_consent_note(path: Path, headers: Sequence[str]) -> list[str]:
    """A note when a contacts file has no email consent column we recognise but one that looks like it: without
    a consent column every contact with an email may be written to a list."""
    like = [h for h in headers if _CONSENT_LIKE.search(h)]
    if not like:
        return []
    return [
        f"No email consent column recognised in {path}, but {', '.join(map(repr, like))} looks like one: if it "
        f"is, map it (email_consent = {like[0]!r} in the [contacts] table of the mapping file); without it, lists "
        "are not screened for consent"
    ]


# ------------------------------------------------------------------------------ loyalty programme exports
POINT_TYPES: dict[str, tuple[str, ...]] = {  # canonical type -> words exports use for it (lower case)
    "earn": (
        "earn",
        "earned",
        "earning",
        "accrual",
        "accrue",
        "accrued",
        "award",
        "awarded",
        "issue",
        "issued",
        "credit",
    ),
    "redeem": ("redeem", "redeemed", "redemption", "burn", "burned", "spend", "spent", "debit"),
    "expire": ("expire", "expired", "expiry", "expiration", "lapse", "lapsed", "breakage"),
    "adjust": ("adjust", "adjusted", "adjustment", "correction", "manual", "bonus", "reversal", "refund", "return"),
}


def _members(
    schema: pl.Schema,
    mapping: ColumnChoice,
    options: ReadOptions,
    formats: dict[str, str],
    as_of: date | None,
    src: Source,
) -> Plan:
    cols = mapping.columns
    out: dict[str, pl.Expr] = {}
    checks: list[Check] = []
    required_id(schema, mapping, out, checks, src)
    required_date("enrolled_at", "enrolment date", schema, cols, formats, out, checks, src)
    if "tier" in cols:
        out["tier"] = parse_text(cols["tier"])
    if "tier_since" in cols:
        out["tier_since"] = parse_date(cols["tier_since"], schema[cols["tier_since"]], formats.get("tier_since"))
        checks.append(
            Check(
                parse_text(cols["tier_since"]).is_not_null() & C("tier_since").is_null(),
                "unparseable tier date",
                "tier_since",
            )
        )
        not_future("tier_since", "tier date", src, checks)
        not_placeholder_past("tier_since", "tier date", checks)
    if "channel" in cols:
        out["channel"] = parse_text(cols["channel"])
    return Plan(out, {}, checks)


def _points(
    schema: pl.Schema,
    mapping: ColumnChoice,
    options: ReadOptions,
    formats: dict[str, str],
    as_of: date | None,
    src: Source,
) -> Plan:
    cols = mapping.columns
    out: dict[str, pl.Expr] = {}
    checks: list[Check] = []
    required_id(schema, mapping, out, checks, src)
    required_date("at", "points date", schema, cols, formats, out, checks, src)
    out["_points"] = parse_number(cols["points"], schema[cols["points"]], decimal_comma=options.decimal_comma)
    checks.append(Check(parse_text(cols["points"]).is_null(), "missing points", "points", gate=False))
    checks.append(Check(C("_points").is_null() | ~C("_points").is_finite(), "unparseable points", "points"))
    checks.append(Check(~C("_points").is_between(-MAX_AMOUNT, MAX_AMOUNT), beyond("points"), "points"))
    raw_type = parse_text(cols["type"]).str.to_lowercase()
    kind = pl.lit(None, dtype=pl.String)
    for name, words in reversed(POINT_TYPES.items()):
        kind = pl.when(raw_type.is_in(list(words))).then(pl.lit(name)).otherwise(kind)
    out["type"] = kind
    checks.append(Check(raw_type.is_null(), "missing points type", "type", gate=False))
    checks.append(Check(C("type").is_null(), "unknown points type (expected earn, redeem, expire or adjust)", "type"))
    checks.append(
        Check(
            (C("type") == "earn") & (C("_points") < 0),
            "negative points on an earn row (record reversals as adjust)",
            "points",
        )
    )
    # Signed points, so that a balance is a sum: earn +, redeem and expire - (whatever sign the export
    # uses for them), adjust as given.
    derived = {
        "points": pl.when(C("type").is_in(["redeem", "expire"])).then(-C("_points").abs()).otherwise(C("_points"))
    }
    if "order_id" in cols:
        out["order_id"] = parse_text(cols["order_id"])
    return Plan(out, derived, checks)


BUILDERS.update({"members": _members, "points": _points})
DATE_FIELDS.update({"members": ("enrolled_at", "tier_since"), "points": ("at",)})
DATE_FIELD.update({"members": "enrolled_at", "points": "at"})
