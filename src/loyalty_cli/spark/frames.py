"""Polars frames across the Spark boundary: Spark has fixed schemas and no unsigned or 128-bit integers, so a
frame goes out in types Spark holds (:func:`spark_schema`, :func:`to_spark`) and comes back cast to the exact
Polars schema it had (:func:`conform`). Pure Polars: the executors run it too."""

from __future__ import annotations

import io
from collections.abc import Iterable, Mapping

import polars as pl
import pyarrow as pa

# Polars types Spark has no counterpart for -> the Polars type they travel as (cast back on the driver)
_WIDER: dict[type[pl.DataType], pl.DataType] = {
    pl.UInt8: pl.Int16,
    pl.UInt16: pl.Int32,
    pl.UInt32: pl.Int64,
    pl.UInt64: pl.Decimal(20, 0),
    pl.Int128: pl.Decimal(38, 0),
    pl.Null: pl.String,
    pl.Categorical: pl.String,
    pl.Enum: pl.String,
}
_DDL: dict[type[pl.DataType], str] = {
    pl.String: "string",
    pl.Boolean: "boolean",
    pl.Int8: "tinyint",
    pl.Int16: "smallint",
    pl.Int32: "int",
    pl.Int64: "bigint",
    pl.Float32: "float",
    pl.Float64: "double",
    pl.Date: "date",
    pl.Binary: "binary",
}


def spark_dtype(dtype: pl.DataType) -> pl.DataType:
    """The Polars type a column of ``dtype`` travels as (itself when Spark has it)."""
    return _WIDER.get(dtype.base_type(), dtype)


def spark_schema(schema: Mapping[str, pl.DataType]) -> pl.Schema:
    """``schema`` in the types Spark holds."""
    return pl.Schema({name: spark_dtype(dtype) for name, dtype in schema.items()})


def ddl(schema: Mapping[str, pl.DataType]) -> str:
    """A Spark DDL schema string (``a string, b bigint``) for a schema in the types Spark holds."""
    return ", ".join(f"`{name.replace('`', '``')}` {_ddl_type(dtype)}" for name, dtype in schema.items())


def _ddl_type(dtype: pl.DataType) -> str:
    if isinstance(dtype, pl.Datetime):
        return "timestamp" if dtype.time_zone else "timestamp_ntz"
    if isinstance(dtype, pl.Decimal):
        return f"decimal({dtype.precision},{dtype.scale})"
    found = _DDL.get(dtype.base_type())
    if found is None:
        raise TypeError(f"no Spark type for {dtype}")
    return found


def conform(frame: pl.DataFrame, schema: Mapping[str, pl.DataType]) -> pl.DataFrame:
    """``frame`` with exactly the columns of ``schema``, in its order and types (a missing column as nulls)."""
    have = set(frame.columns)
    return frame.select(
        pl.col(name).cast(dtype) if name in have else pl.lit(None, dtype=dtype).alias(name)
        for name, dtype in schema.items()
    )


def to_arrow(frame: pl.DataFrame) -> pa.Table:
    """``frame`` as an Arrow table with the string types Spark's Arrow functions check for (``string``, not
    Polars' ``large_string``)."""
    table = frame.to_arrow()
    fields = [
        pa.field(f.name, pa.string() if pa.types.is_large_string(f.type) or pa.types.is_string_view(f.type) else f.type)
        for f in table.schema
    ]
    target = pa.schema(fields)
    return table if target == table.schema else table.cast(target)


def pack_frame(frame: pl.DataFrame) -> bytes:
    """A frame as one value (Arrow IPC, lz4): Spark moves one value instead of many wide rows, and the frame
    keeps its exact types (unsigned, 128-bit) across."""
    out = io.BytesIO()
    frame.write_ipc(out, compression="lz4")
    return out.getvalue()


def unpack_frames(values: Iterable[bytes], schema: Mapping[str, pl.DataType]) -> pl.DataFrame:
    """The frames packed in ``values`` (:func:`pack_frame`) as one, in ``schema``."""
    frames = [conform(pl.read_ipc(io.BytesIO(v)), schema) for v in values]
    return pl.concat(frames, how="vertical") if frames else pl.DataFrame(schema=schema)
