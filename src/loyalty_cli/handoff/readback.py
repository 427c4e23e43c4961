"""Reading lists back, for ``loyalty uplift``.

:func:`read_lists` reads any CSV/Parquet list with a customer id column (``customer_id``, Braze's ``external_id``,
or a named one); :func:`read_groups` makes a campaign's treatment and control groups of them (two lists, one list
with a group column, or the files of a manifest: :func:`manifest_files`, checked against the rows and hashes it
records by :func:`check_manifest`). The manifest is the one :func:`loyalty_cli.handoff.write.write_list` writes.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import polars as pl

from loyalty_cli import words
from loyalty_cli.errors import DataError, setting
from loyalty_cli.io.parse import parse_id, parse_text
from loyalty_cli.io.sniff import check_gzip
from loyalty_cli.io.sources import Source, expand_inputs, inspect_source
from loyalty_cli.schema import TRANSACTIONS, normalise_header

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
            hint="Pass the .manifest.json written beside the list, or "
            f"{setting('treatment')} and {setting('control')}.",
        ) from None
    if not control:
        raise DataError(
            f"The manifest {manifest} records no control group",
            hint=f"Write the list with {setting('holdout_share')} and {setting('seed')}, or pass "
            f"{setting('control')} FILE.",
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
    return int(pl.scan_csv(path, infer_schema=False, glob=False).select(pl.len()).collect().item())


def check_manifest(manifest: Path) -> str:
    """Check that the treatment and control files are those the manifest recorded: each file's size and SHA-256
    (manifests written since hashes were added) and its row count. A file that differs is a :class:`DataError`
    naming it (a list rewritten without its control group, a file edited or cut); returns a note saying what
    was checked (for an older manifest without hashes: that the hash check was skipped)."""
    treatment, control = read_manifest(manifest)
    files = [*treatment, *control]
    hint = (
        "The lists and the manifest must come from one run: write the list again with "
        f"{setting('holdout_share')} and {setting('seed')} (the same seed gives the same split), or compare the "
        f"files as they are with {setting('treatment')} and {setting('control')}."
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
