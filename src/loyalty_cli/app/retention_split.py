"""The split of ``retention`` by acquisition: where a split's values come from (:func:`split_source`; the
transactions column the reader carries along for it, :func:`split_column`; the first order's value of that column,
read from the lines), the split tables (:class:`RetentionSplit`) and the note that says what the split is. The
tables are built by ``_split`` in :mod:`loyalty_cli.app.retention` (the command and its configuration), the
definitions are in :mod:`loyalty_cli.metrics.retention_splits`."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date

import polars as pl

from loyalty_cli.errors import ConfigError, DataError, setting
from loyalty_cli.metrics.retention_splits import (
    FOLDED,
    GROUP,
    LABELS,
    MEMBER,
    NO_VALUE,
    NOT_SPLITS,
    OTHER,
    SPLIT,
    SUMMARY_SPLITS,
    VALUE,
    first_order_values,
    split_label,
)
from loyalty_cli.words import count

#: the ``lines`` plan (``Inputs.tables``) of the first order's value of the split column, when stage 1 lacks it
SPLIT_LINES = "retention_split"


def split_source(by: str, *, name: str = "by") -> tuple[str, str]:
    """Where the ``by`` split comes from and its column: (``member``, ``member``), (``summary``,
    ``first_category``/``first_channel``: the customer summary has them), or (``lines``, ``first_<column>``: the
    first purchase order's value of a transactions column, read from the lines). ``name``: the setting ``by``
    comes from, for the error."""
    if by == MEMBER:
        return MEMBER, MEMBER
    column = by.removeprefix("first_")
    if not column.strip() or column in NOT_SPLITS:
        raise ConfigError(
            name,
            f"{by!r} cannot split customers into groups",
            hint="Use first_category, first_channel, first_product, member or another transactions column "
            "(e.g. product_name).",
        )
    name = f"first_{column}"
    return ("summary" if name in SUMMARY_SPLITS else "lines"), name


def split_column(by: str) -> str | None:
    """The transactions column (by its header) a ``by`` split reads from the lines, for the reader to carry along
    (``ReadOptions.keep``; a column it maps is there anyway): None for a split without one (``member``, the
    first category or channel, which stage 1 reads)."""
    where, column = split_source(by)
    return column.removeprefix("first_") if where == "lines" else None


def first_values(lines: pl.LazyFrame, *, column: str, by: str, name: str = "by") -> pl.LazyFrame:
    """:func:`first_order_values` of ``column``, or a clear error (naming the split ``by``, of the setting
    ``name``) when the transactions lack it."""
    names = lines.collect_schema().names()
    if column not in names:
        usable = [n for n in names if n not in NOT_SPLITS]
        raise DataError(
            f"{setting(name)} {by}: the transactions have no {column} column",
            hint=f"Their columns that can split: {', '.join(usable) or 'none'} (also first_category, first_channel "
            "and member). A column no mapping names is read only when kept (ReadOptions.keep: split_column gives "
            "it; the command line keeps it itself).",
        )
    return first_order_values(lines, column)


@dataclass(frozen=True)
class RetentionSplit:
    """The retention tables split by acquisition. ``by``: the split column (``first_category``, ``member`` ...);
    ``long``: :func:`~loyalty_cli.metrics.retention_splits.split_retention` (``by, split, group``, then the long
    table's columns), then every customer's rows (the unsplit long table, ``group`` ``all``, ``split`` null);
    ``sizes``: ``split, group, customers, values`` per group, in the order shown (``other`` last);
    ``matrices``: per ``show`` matrix, the group x period matrix of each group's average rows (``split, group,
    customers, m0 ...``), then the ``all`` row (every customer's average); ``min_customers``: the folding
    threshold used."""

    by: str
    long: pl.DataFrame
    sizes: pl.DataFrame
    matrices: dict[str, pl.DataFrame]
    min_customers: int

    def labelled(self, name: str) -> pl.DataFrame:
        """The ``name`` matrix with one label per row in place of ``split, group`` (for a display: a data value
        spelt like a made-up group's label is quoted, see
        :func:`~loyalty_cli.metrics.retention_splits.split_label`): ``<by>, customers, m0 ...``."""
        matrix = self.matrices[name]
        return matrix.select(split_label().alias(self.by), pl.exclude(SPLIT, GROUP))


def _shown(values: list[str | None]) -> list[str]:
    """Data values as a note names them: as the tables' labels do (quoted when spelt like a made-up label), no
    value as ``(missing)``."""
    frame = pl.DataFrame({SPLIT: values}, schema={SPLIT: pl.String})
    kind = pl.when(pl.col(SPLIT).is_null()).then(pl.lit(NO_VALUE)).otherwise(pl.lit(VALUE))
    return frame.select(split_label(SPLIT, kind).alias(SPLIT))[SPLIT].to_list()


def split_note(by: str, column: str, sizes: pl.DataFrame, min_customers: int, as_of: date | None) -> str:
    """What the split is, its groups, the values folded into ``(other)``, and the values spelt like a made-up
    group's label (shown quoted)."""
    if column == MEMBER:
        what = (
            f"membership at the as-of date (members: enrolled before {as_of}; a correlation: customers who keep "
            "buying are likelier to join, and loyalty program compares like for like)"
        )
    else:
        plain = column.removeprefix("first_")
        what = f"the {plain} of the first purchase order (its largest line's; ties alphabetical)"
    said = f"Split by {column}" + (f" ({by} means {column})" if by != column else "") + f": {what}; "
    groups = sizes.filter(pl.col(GROUP) != FOLDED)
    said += count(groups.height, "group") + f" of {count(min_customers, 'customer')} or more"
    other = sizes.filter(pl.col(GROUP) == FOLDED)
    if other.height:
        folded = _shown(other["values"][0].to_list())
        shown = ", ".join(folded[:5]) + (f" and {len(folded) - 5:,} more" if len(folded) > 5 else "")
        said += (
            f"; {count(len(folded), 'value')} with fewer folded into {OTHER} "
            f"({count(other['customers'][0], 'customer')}): {shown}"
        )
    values = sizes.explode("values")["values"].drop_nulls()
    clashing = values.filter(values.is_in(list(LABELS.values())) | values.str.starts_with('"')).to_list()
    if clashing:
        labels = ", ".join(LABELS.values())
        said += (
            f"; {', '.join(_shown(clashing))} in double quotes: the data's own "
            f"{'value' if len(clashing) == 1 else 'values'}, not the made-up groups {labels}"
        )
    return said
