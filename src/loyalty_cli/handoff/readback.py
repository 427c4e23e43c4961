"""Reading lists back, for ``loyalty uplift``.

:func:`read_lists` reads any CSV/Parquet list with a customer id column (``customer_id``, Braze's ``external_id``,
or a named one); :func:`read_groups` makes a campaign's treatment and control groups of them, or its test arms (two
lists, one list with a group or arm column, each arm's files, or the files of a manifest: :func:`manifest_files` and
:func:`manifest_arms`, checked against the rows and hashes it records by :func:`check_manifest`; those live in
:mod:`loyalty_cli.handoff.manifests`). The manifest is the one :func:`loyalty_cli.handoff.write.write_list` writes.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import polars as pl

from loyalty_cli import words
from loyalty_cli.errors import DataError, setting
from loyalty_cli.handoff.arms import ARM_COLUMN
from loyalty_cli.handoff.control import CONTROL as CONTROL_ARM
from loyalty_cli.handoff.manifests import (  # re-exported: read back with the lists
    ManifestFile,
    check_manifest,
    manifest_arms,
    manifest_files,
    read_manifest,
)
from loyalty_cli.io.parse import parse_id, parse_text
from loyalty_cli.io.sniff import check_gzip
from loyalty_cli.io.sources import Source, expand_inputs, inspect_source
from loyalty_cli.schema import TRANSACTIONS, normalise_header

ID_ALIASES = ("customerid", "externalid", *TRANSACTIONS[0].aliases)
__all__ = [
    "ListRead",
    "ManifestFile",
    "check_manifest",
    "manifest_arms",
    "manifest_files",
    "read_groups",
    "read_lists",
    "read_manifest",
]
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
    paths = expand_inputs(inputs)
    sources = [inspect_source(p) for p in paths]
    frames = []
    chosen_id = chosen_by = chosen_group = None
    for src in sources:
        if src.empty:
            continue
        lf = _scan_list(src)
        cols, idc, gc, byc = _list_columns(src, lf, id_col=id_col, group_col=group_col, by=by, auto_by=auto_by)
        if group_col:
            chosen_group = gc
        chosen_id, chosen_by = chosen_id or idc, chosen_by or byc
        frames.append(lf.select(pl.lit(str(src.path)).alias("_file"), "_row", *cols))
    if not frames:
        raise DataError(
            f"No rows in {', '.join(str(p) for p in paths[:3])}", hint="The list files have a header but no customers."
        )
    rows = _collect_lists(frames, sources)
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


def _scan_list(src: Source) -> pl.LazyFrame:
    """One list file, with its row numbers in ``_row`` (as a spreadsheet shows them: the header is row 1)."""
    if src.format == "parquet":
        return pl.scan_parquet(src.scan_path, glob=False, row_index_name="_row", row_index_offset=1)
    return pl.scan_csv(
        src.scan_path,
        glob=False,  # a file, even when its name has [ ] * or ?
        separator=src.separator,
        has_header=src.header,
        infer_schema=False,
        row_index_name="_row",
        row_index_offset=2,
    )


def _list_columns(
    src: Source, lf: pl.LazyFrame, *, id_col: str | None, group_col: str | None, by: str | None, auto_by: bool
) -> tuple[list[pl.Expr], str, str | None, str | None]:
    """The columns read from one list file (``customer_id``, + ``group``, + ``segment``), and the file's headers
    they come from: the id, the group (None without ``group_col``) and the segment (None when there is none)."""
    try:
        schema = lf.collect_schema()
    except pl.exceptions.PolarsError as exc:
        raise DataError(
            f"Could not read {src.path}: {str(exc).splitlines()[0]}",
            hint="Lists are CSV or Parquet files with a header row.",
        ) from None
    headers = [h for h in schema.names() if h != "_row"]
    shown = ", ".join(repr(h) for h in headers[:12])
    idc = _id_header(src, headers, id_col, shown)
    cols = [parse_id(idc, schema[idc]).alias("customer_id")]
    gc = None
    if group_col:
        gc = _header_match(headers, group_col)
        if gc is None:
            raise DataError(
                f"No column {group_col!r} in the list {src.path}",
                hint=f"A single list needs a column saying treatment or control. Columns: {shown}.",
            )
        cols.append(parse_text(gc).alias("group"))
    byc = None
    if by:
        byc = _header_match(headers, by)
        if byc is None:
            raise DataError(f"No column {by!r} in the list {src.path}", hint=f"Columns in the file: {shown}.")
    elif auto_by:
        byc = next((h for c in BY_CANDIDATES for h in headers if h == c), None)
    if byc is not None:
        cols.append(pl.col(byc).cast(pl.String).alias("segment"))
    return cols, idc, gc, byc


def _id_header(src: Source, headers: list[str], id_col: str | None, shown: str) -> str:
    """The customer id column of one list file: ``id_col``, else the first of :data:`ID_ALIASES` it has."""
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
                f"another with {setting('list_id_col')}. Columns in the file: {shown}.",
            )
    return idc


def _collect_lists(frames: list[pl.LazyFrame], sources: list[Source]) -> pl.DataFrame:
    """The list files read, one frame; a file that cannot be read (a gzip file cut short, ...) is named."""
    try:
        return pl.concat(pl.collect_all(frames), how="diagonal_relaxed")
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


# --- campaign groups (``loyalty uplift``) ----------------------------------------------------------------

TREATMENT_WORDS = ("treatment", "treated", "test", "target", "campaign", "t")
CONTROL_WORDS = ("control", "holdout", "hold-out", "hold out", "c")


def read_groups(
    *,
    treatment: Sequence[str] | None = None,
    control: Sequence[str] | None = None,
    groups: Sequence[str] | None = None,
    arms: Sequence[tuple[str, Sequence[str]]] | None = None,
    id_col: str | None = None,
    group_col: str = "group",
    control_arm: str | None = None,
    by: str | None = None,
) -> tuple[pl.DataFrame, int]:
    """The customers of a campaign: ``customer_id, group`` (``treatment`` or ``control``), with test arms also
    ``arm`` (its name), and the segment column when the lists have one (``by``: a column, ``none``, or None to find
    one), one row per customer; and how many repeated rows were counted once.

    The lists are two (``treatment``, ``control``); or one with a group column (``groups``: words such as test or
    holdout accepted); or one with an arm column (``groups`` whose ``group_col`` is ``arm``, or any column with
    ``control_arm``): each value an arm, ``control_arm`` (default ``control``, in any case) the control group; or
    each arm's files (``arms``: name and files, ``control_arm`` the control's name). Arms keep the order given (a
    column's: the order they first appear in). A customer in two groups or arms, an unknown group word, a row
    without an arm, no control arm or an empty group is a :class:`DataError`."""
    auto = by is None
    wanted_by = None if by in (None, "none") else by
    if arms is not None:
        rows = _arm_files(arms, control_arm or CONTROL_ARM, id_col=id_col, by=wanted_by, auto_by=auto)
    elif groups is not None:
        read = read_lists(groups, id_col=id_col, group_col=group_col, by=wanted_by, auto_by=auto)
        if control_arm is not None or normalise_header(group_col) == ARM_COLUMN:
            rows = _arm_values(read, group_col, control_arm or CONTROL_ARM)
        else:
            rows = _group_words(read, group_col)
    else:
        t = read_lists(treatment or [], id_col=id_col, by=wanted_by, auto_by=auto)
        c = read_lists(control or [], id_col=id_col, by=wanted_by, auto_by=auto)
        by_col = t.by if t.by and c.by else None
        parts = [r.rows.with_columns(pl.lit(g).alias("group")) for r, g in ((t, "treatment"), (c, "control"))]
        rows = pl.concat([p.select("customer_id", "group", *([by_col] if by_col else [])) for p in parts])
    _one_group_each(rows)
    repeated = rows.height - rows["customer_id"].n_unique()
    if repeated:
        rows = rows.unique("customer_id", keep="first", maintain_order=True)
    for name in ("treatment", "control"):
        if not (rows["group"] == name).any():
            raise DataError(f"The {name} list has no customers", hint="Check the list files.")
    return rows, repeated


def _group_words(read: ListRead, group_col: str) -> pl.DataFrame:
    """A list's group column read as treatment or control by its words."""
    word = pl.col("group").str.to_lowercase()
    rows = read.rows.with_columns(
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
            hint="Values: treatment (or test, target) and control (or holdout). For test arms (reward_a, reward_b, "
            f"control) name the control arm with {setting('control_arm')}.",
        )
    return rows.with_columns(pl.col("_g").alias("group")).drop("_g")


def _arm_values(read: ListRead, group_col: str, control_arm: str) -> pl.DataFrame:
    """A list's arm column: each value an arm, ``control_arm`` (in any case) the control group."""
    rows = read.rows.with_columns(pl.col("group").str.strip_chars().alias(ARM_COLUMN))
    files = ", ".join(map(str, read.paths[:3]))
    missing = rows.filter(pl.col(ARM_COLUMN).is_null() | (pl.col(ARM_COLUMN) == ""))
    if missing.height:
        raise DataError(
            f"{words.count(missing.height, 'row')} of {files} have no {group_col!r}",
            hint="Each customer of a test is in one arm: check the list files.",
        )
    is_control = pl.col(ARM_COLUMN).str.to_lowercase() == control_arm.lower()
    rows = rows.with_columns(pl.when(is_control).then(pl.lit("control")).otherwise(pl.lit("treatment")).alias("group"))
    if not (rows["group"] == "control").any():
        found = rows[ARM_COLUMN].unique(maintain_order=True).head(5).to_list()
        raise DataError(
            f"No customer of {files} is in the control arm {control_arm!r} (the {group_col!r} values: "
            f"{', '.join(repr(v) for v in found)})",
            hint=f"Name the control arm with {setting('control_arm')}.",
        )
    return rows.select("customer_id", "group", ARM_COLUMN, *(["segment"] if "segment" in rows.columns else []))


def _arm_files(
    arms: Sequence[tuple[str, Sequence[str]]], control_arm: str, *, id_col: str | None, by: str | None, auto_by: bool
) -> pl.DataFrame:
    """Each arm's files read, the arm named ``control_arm`` (in any case) the control group."""
    if not any(name.lower() == control_arm.lower() for name, _ in arms):
        raise DataError(
            f"None of the arms {', '.join(repr(n) for n, _ in arms)} is the control arm {control_arm!r}",
            hint=f"Name the control arm with {setting('control_arm')}.",
        )
    reads = [(name, read_lists(files, id_col=id_col, by=by, auto_by=auto_by)) for name, files in arms]
    by_col = "segment" if all(r.by for _, r in reads) else None
    return pl.concat(
        [
            r.rows.select(
                "customer_id",
                pl.lit("control" if name.lower() == control_arm.lower() else "treatment").alias("group"),
                pl.lit(name).alias(ARM_COLUMN),
                *([by_col] if by_col else []),
            )
            for name, r in reads
        ]
    )


def _one_group_each(rows: pl.DataFrame) -> None:
    """A :class:`DataError` when a customer is in both groups, or in two arms."""
    column = ARM_COLUMN if ARM_COLUMN in rows.columns else "group"
    both = (
        rows.group_by("customer_id")
        .agg(pl.col(column).unique(maintain_order=True).alias("in"))
        .filter(pl.col("in").list.len() > 1)
        .sort("customer_id")
    )
    if not both.height:
        return
    shown = ", ".join(both["customer_id"].head(5).to_list())
    if column == "group":
        raise DataError(
            f"{both.height:,} customer{'s are' if both.height > 1 else ' is'} in both the treatment and "
            f"the control lists (e.g. {shown})",
            hint="A customer is in one group only: check that the lists come from the same split.",
        )
    first = both.row(0, named=True)
    raise DataError(
        f"{both.height:,} customer{'s are' if both.height > 1 else ' is'} in more than one arm (e.g. "
        f"{first['customer_id']}: {' and '.join(first['in'])})",
        hint="A customer is in one arm only: check that the lists come from the same split.",
    )
