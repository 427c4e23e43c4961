"""How many decimals a number keeps in a CSV or JSON file (:func:`readable_numbers`); Parquet keeps every bit.

A computed figure carries binary noise (``185.91199999999998`` for 185.912) and digits nobody reads
(``127.20052631578947``). Text files get, by the column's name (:func:`number_kind`):

- **money**: 2 decimals (cents). A word ``spend``, ``revenue``, ``value``, ``clv``, ``monetary``, ``sales``,
  ``amount``, ``price`` or ``liability`` in the snake_case name (``net_spend``, ``returns_value``,
  ``predicted_clv_12m``, ``incremental_revenue``), unless it is a share or rate (``share_net_spend``,
  ``revenue_retention``), a p-value, an NPS, a score, a rank or a tier (``nps_weighted_by_net_spend``); a column
  named just ``value`` is not money by its name.
- **p-values** (``p_value``, ``*_p_value``): 4 significant digits, so a small one stays readable
  (``0.002531``, ``2.531e-7``) instead of becoming 0.
- **every other decimal** (shares, rates, probabilities, days, weeks, NPS points, expected counts, test
  statistics): 4 decimals (a share of 0.1235 is 12.35%).
- A long table of mixed figures (a ``metric`` column naming each row's figure and a ``value`` column, as
  ``loyalty program`` and the retention matrices write) rounds the columns whose name says nothing by the row's
  ``metric`` name, as above (``net_spend_per_customer_365d`` to cents, ``enrolment_rate`` to 4 decimals).
- **Model parameters** (a table with a ``parameter`` column, e.g. the ``parameters.csv`` of ``cltv``'s tables) keep
  their full precision: another tool may score customers with them.
- **Rejected rows** (a table with ``reject_reason``) keep the input's values as they were read.

Rounding is half away from zero on the number as written (Excel's ``ROUND``): 0.125 and -0.125 become 0.13 and
-0.13, and 1.005 (stored as 1.00499999999999989...) becomes 1.01; -0.0 is written 0.0. Whole numbers, dates and
text are untouched. Nothing the tool reads back is rounded: a lifecycle snapshot is read back by its
``customer_id``, ``stage`` and ``as_of``, a campaign list by its id, group and segment columns.
"""

from __future__ import annotations

import re
from typing import Literal

import polars as pl

MONEY_DECIMALS = 2
DECIMALS = 4
P_VALUE_DIGITS = 4

Kind = Literal["money", "p_value", "decimal"]
#: the words of a column name that make it a share or rate, money, or never money (also for io/excel.py)
SHARE_WORDS = {"share", "rate", "retention"}
MONEY_WORDS = {"spend", "revenue", "value", "clv", "monetary", "sales", "amount", "price", "liability"}
NOT_MONEY = {"nps", "score", "rank", "tier", "var"}
ROW_LABEL = "metric"  # a long table: each row's figure named here
PARAMETERS = "parameter"  # a table of model parameters: kept in full
REJECTS = "reject_reason"  # rejected input rows: kept as read

_UNNAMED = re.compile(r"^(value|ci_low|ci_high|[a-z]\d+)$")  # a long table's figure, its interval, a period (m3)
_POWERS = {k: 10.0**k for k in range(23)}  # exact doubles
_NUDGE = 1 + 2**-49
_WHOLE = 2.0**52  # from here on a double has no fraction


def number_kind(name: str) -> Kind | None:
    """The kind of a decimal column by its name: ``money``, ``p_value`` or ``decimal`` (a share, a rate, a
    number of days ...); None for a name that says nothing: ``value``, ``ci_low``, ``ci_high`` and period
    columns such as ``m3`` (a long table's figure, its interval, a matrix cell: the row says what it is)."""
    if _UNNAMED.match(name.lower()):
        return None
    words = name.lower().split("_")
    if words[-2:] == ["p", "value"]:
        return "p_value"
    if set(words) & SHARE_WORDS or (words[0] == "p" and len(words) > 1):
        return "decimal"
    if set(words) & MONEY_WORDS and not set(words) & NOT_MONEY:
        return "money"
    return "decimal"


def round_half_away(x: pl.Expr, decimals: int | pl.Expr) -> pl.Expr:
    """``x`` rounded to ``decimals`` (0 to 22; an int, or an expression: one per row), half away from zero, on
    the decimal number a double stands for: a value less than 2^-49 (1.8e-15, a few units in the last place)
    below a half counts as the half, so 1.005 (1.00499999999999989... as a double; times 100:
    100.49999999999999) rounds to 1.01 and 185.91199999999998 is 185.912. The result is the double nearest to
    the rounded decimal (``185.91``, not ``185.91000000000003``); -0.0 becomes 0.0; null, NaN and infinity stay,
    and so do numbers too large to have digits at that place (``|x| * 10^decimals`` of 2^52 and more)."""
    if isinstance(decimals, pl.Expr):
        scale = decimals.replace_strict(_POWERS, default=None, return_dtype=pl.Float64)
    else:
        scale = pl.lit(_POWERS[decimals])
    # A column, not a constant: Polars divides by a constant as a product with its reciprocal, which is not exact.
    scale = scale + x * 0.0
    y = x * scale
    whole = (y.abs() * _NUDGE + 0.5).floor()
    rounded = pl.when(y < 0).then(-whole).otherwise(whole) / scale
    return (
        pl.when(x.is_null() | x.is_nan() | x.is_infinite() | scale.is_null() | (y.abs() >= _WHOLE))
        .then(x)
        .when(rounded == 0)
        .then(0.0)
        .otherwise(rounded)
    )


def round_significant(x: pl.Expr, digits: int) -> pl.Expr:
    """``x`` rounded to ``digits`` significant digits, half away from zero as :func:`round_half_away` (at most 22
    decimals: smaller numbers stay as they are; at least whole numbers)."""
    places = (pl.lit(float(digits - 1)) - x.abs().log10().floor()).clip(lower_bound=0).cast(pl.Int64, strict=False)
    return pl.when(x == 0).then(x.abs()).otherwise(round_half_away(x, places))  # abs: 0.0, not -0.0


def _rounded(x: pl.Expr, kind: Kind) -> pl.Expr:
    if kind == "money":
        return round_half_away(x, MONEY_DECIMALS)
    if kind == "p_value":
        return round_significant(x, P_VALUE_DIGITS)
    return round_half_away(x, DECIMALS)


def readable_numbers(df: pl.DataFrame) -> pl.DataFrame:
    """``df`` with its decimal columns rounded for a CSV or JSON file (see the module docstring): money to cents,
    p-values to 4 significant digits, other decimals to 4 decimals; a long table's unnamed figures by their row's
    ``metric``; model parameters and rejected rows as they are."""
    if REJECTS in df.columns or PARAMETERS in df.columns:
        return df
    floats = [name for name, dtype in df.schema.items() if dtype in (pl.Float64, pl.Float32)]
    if not floats:
        return df
    kinds: dict[str, Kind] = {}  # a long table: each row's figure by its metric's name
    if ROW_LABEL in df.columns and df.schema[ROW_LABEL] == pl.String:
        kinds = {m: number_kind(m) or "decimal" for m in df[ROW_LABEL].drop_nulls().unique().to_list()}
    exprs = []
    for name in floats:
        x = pl.col(name).cast(pl.Float64)
        kind = number_kind(name)
        if kind is not None or not kinds:
            exprs.append(_rounded(x, kind or "decimal").alias(name))
            continue
        by_row = _rounded(x, "decimal")
        for which in ("money", "p_value"):
            metrics = sorted(m for m, k in kinds.items() if k == which)
            if metrics:
                by_row = pl.when(pl.col(ROW_LABEL).is_in(metrics)).then(_rounded(x, which)).otherwise(by_row)
        exprs.append(by_row.alias(name))
    return df.with_columns(exprs)
