"""A screened list as an email tool's importer takes it (:func:`format_for_target`).

- **Names**: the tool's header names (:class:`~loyalty_cli.handoff.targets.Target`), the segment/stage/action in
  a tag or property column, the email and id first, then the tag (the generic CSV: our names, in that order).
- **Values**: dates in a format its importer reads; lists joined, categories as text.
- **Formula cleaning**: importer targets get text that starts like a formula *cleaned* (the leading ``= + - @``,
  tab, CR and spaces stripped: :data:`TRIGGER_CHARS`; a quote prefix would be kept by the importer), each change
  logged (the ``<stem>.changes.csv`` file), except the email and id (keys: an importer takes cells as data, so an
  address such as ``+4917...@example.com`` goes as it is). The generic CSV keeps our names and types here, and
  gets the OWASP apostrophe of :mod:`loyalty_cli.io.formulas` on every text cell, emails too, when it is written
  (:func:`loyalty_cli.handoff.write.csv_bytes`).
- **Consent**: no target writes the consent column (every row left said yes).
"""

from __future__ import annotations

import polars as pl

from loyalty_cli.handoff.screening import consent_column
from loyalty_cli.handoff.targets import Target
from loyalty_cli.io.formulas import formula_like

TRIGGER_CHARS = "=+-@\t\r "  # stripped from the start of a risky cell (spaces too, so "= 1" -> "1")


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
    if not target.importer:  # our names; the id, email and tag first all the same
        first = [c for c in ("customer_id", "email", tag_name, f"{tag_name}_action") if c and c in df.columns]
        return df.select(*first, pl.exclude(first)), empty_log
    renames, action = _header_names(df.columns, target, tag_name)
    df = df.rename({k: v for k, v in renames.items() if k != v})
    df = df.with_columns(_as_text(df.schema, target))
    first = (
        [target.email_header, target.id_header]
        if target.id_header == "customer_id"
        else [target.id_header, target.email_header]
    )
    tag_col = renames.get(tag_name or "", None)
    first = [c for c in [*first, tag_col, renames.get(action or "")] if c and c in df.columns]
    df = df.select(*first, pl.exclude(first))
    return _clean_formulas(df, target, empty_log)


def _header_names(columns: list[str], target: Target, tag_name: str | None) -> tuple[dict[str, str], str | None]:
    """The target's names for our columns (the id, the email, the tag and its action), and the action column."""
    renames = {"customer_id": target.id_header}
    if "email" in columns:
        renames["email"] = target.email_header
    if tag_name and tag_name in columns:
        renames[tag_name] = target.tag_column(tag_name)
    action = f"{tag_name}_action" if tag_name else None  # the tag's action (segment_action): after it, named like it
    if action and action in columns:
        renames[action] = target.tag_column(action) if target.tag_header is None else action
    return renames, action


def _as_text(schema: pl.Schema, target: Target) -> list[pl.Expr]:
    """Dates in the formats the target's importer reads, lists joined with ``; ``, categories as text."""
    dates = []
    for name, dtype in schema.items():
        if dtype == pl.Date and target.date_format:
            dates.append(pl.col(name).dt.to_string(target.date_format))
        elif isinstance(dtype, pl.Datetime) and target.datetime_format:
            dates.append(pl.col(name).dt.to_string(target.datetime_format))
        elif isinstance(dtype, pl.List):
            dates.append(pl.col(name).cast(pl.List(pl.String)).list.join("; "))
        elif isinstance(dtype, pl.Categorical | pl.Enum):
            dates.append(pl.col(name).cast(pl.String))
    return dates


def _clean_formulas(df: pl.DataFrame, target: Target, empty_log: pl.DataFrame) -> tuple[pl.DataFrame, pl.DataFrame]:
    """Text cells that start like a formula cleaned, and the log of each one (the email and id stay as they are)."""
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
