"""Text a spreadsheet would run as a formula, made safe in CSV outputs and taken back off when read.

CSV cells and headers that a spreadsheet would run as a formula (text starting with ``= + - @``, tab or
carriage return) get a leading apostrophe (OWASP's advice). Numbers stay numbers: only text columns are touched, and
text that is a plain number (``-3.50``, ``+44``, as in a rejects file) is left as it is.
"""

from __future__ import annotations

import polars as pl

from loyalty_cli.errors import DataError

FORMULA_START = r"^[=+\-@\t\r]"
PLAIN_NUMBER = r"^[+-]?(?:\d+\.?\d*|\.\d+)(?:[eE][+-]?\d+)?$"  # a spreadsheet reads it as a number


def neutralise_formulas(df: pl.DataFrame) -> pl.DataFrame:
    """Prefix an apostrophe to text cells and headers that start like a formula (headers come from the input
    too: rejects keep its columns, a group-by setting names one). Numeric columns are left alone, and so is text that
    is a plain number (``-3.50``): a spreadsheet reads it as that number, not a formula."""
    text_cols = [
        name for name, dtype in df.schema.items() if dtype == pl.String or isinstance(dtype, pl.Categorical | pl.Enum)
    ]
    exprs = []
    for c in text_cols:
        text = pl.col(c).cast(pl.String)
        exprs.append(pl.when(formula_like(text)).then("'" + text).otherwise(text).alias(c))
    names = pl.Series("name", df.columns, dtype=pl.String)
    risky = names.filter(pl.select(formula_like(pl.lit(names))).to_series()).to_list()
    if exprs:
        df = df.with_columns(exprs)
    if risky:
        renames = {name: f"'{name}" for name in risky}
        for name, new in renames.items():
            if new in df.columns:
                raise DataError(
                    f"Two columns would both be written as {new!r} (a leading apostrophe keeps {name!r} from "
                    "running as a formula in a spreadsheet)",
                    hint="Rename one of the two columns (in the input or with the column mapping).",
                )
        df = df.rename(renames)
    return df


def formula_like(expr: pl.Expr) -> pl.Expr:
    """Text a spreadsheet would run as a formula (plain numbers such as -3.50 are not)."""
    text = expr.cast(pl.String)
    return text.str.contains(FORMULA_START) & ~text.str.contains(PLAIN_NUMBER)


def restore_neutralised(expr: pl.Expr) -> pl.Expr:
    """Text as it was before :func:`neutralise_formulas`: the apostrophe is dropped only before text that
    starts like a formula (= + - @, tab, CR), where such an apostrophe is added, so an id such as 'abc is kept."""
    text = expr.cast(pl.String)
    rest = text.str.slice(1)
    return pl.when(text.str.starts_with("'") & rest.str.contains(FORMULA_START)).then(rest).otherwise(text)
