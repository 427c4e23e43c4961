"""The pieces of the Spark engine's reading, against what they stand in for: a CSV's lines parsed a piece at a
time read as the Polars engine reads the file, Spark's hash of a bucket label sends it to its partition, and
a file's name as Spark gives it is found in the plan."""

from __future__ import annotations

import zlib
from pathlib import Path

import polars as pl
import pytest
from polars.testing import assert_frame_equal

from loyalty_cli.io.scanning import scan, schema_of
from loyalty_cli.io.sources import inspect_source
from loyalty_cli.spark import SparkSettings, get_session, load_transactions_spark
from loyalty_cli.spark.jobs import bucket_labels, murmur3_int
from loyalty_cli.spark.parse import RAGGED, Problem, file_key, parse_lines
from loyalty_cli.stage1 import load_transactions

from .conftest import CDNOW, assert_same_load

HOSTILE = (
    "id,name,amount\r\n"
    '1,"a,b",3\r\n'
    "\r\n"
    '2,"",4\r\n'
    "3,,5\r\n"
    '4,"he said ""hi""",6\r\n'
    "5, padded ,7\r\n"
    "6,back\\slash,8\r\n"
    "8,short\r\n"
    "   \r\n"
    "10,z,11\r\n"
    "\r\n"
)


def lines_of(path: Path) -> list[str]:
    """The lines of a file as Spark's text reader gives them (no line ends; the last line's end makes no line)."""
    return path.read_text(encoding="utf-8-sig").splitlines()


@pytest.mark.parametrize(
    ("name", "text"),
    [
        ("hostile.csv", HOSTILE),
        ("semicolons.csv", "a;b\n1;x\n2;\n;\n"),
        ("no_header.csv", "1,2024-01-01,3\n2,2024-01-02,4\n"),
        ("bom.csv", "\ufeffid,amount\n1,2\n"),
    ],
)
def test_lines_parsed_a_piece_at_a_time_read_as_the_whole_file(tmp_path: Path, name: str, text: str) -> None:
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    src = inspect_source(path)
    names = list(schema_of(src).names())
    whole = scan(src).collect().drop("_row")
    lines = lines_of(path)[src.header_rows :]
    pieces = [parse_lines(src, names, lines[i : i + 3]) for i in range(0, len(lines), 3)]
    assert all(isinstance(p, pl.DataFrame) for p in pieces)
    assert_frame_equal(pl.concat(pieces), whole)  # type: ignore[arg-type]


def test_whitespace_aligned_lines_read_as_the_whole_file() -> None:
    src = inspect_source(CDNOW)
    names = list(schema_of(src).names())
    lines = lines_of(CDNOW)
    assert_frame_equal(parse_lines(src, names, lines), scan(src).collect().drop("_row"))  # type: ignore[arg-type]


def test_a_line_with_more_fields_than_the_header_is_found(tmp_path: Path) -> None:
    path = tmp_path / "long.csv"
    path.write_text("id,name\n1,a\n2,b,c\n")
    src = inspect_source(path)
    assert parse_lines(src, ["id", "name"], ["1,a", "2,b,c"]) == Problem(1, f"{RAGGED}3")


def test_murmur3_is_sparks_hash_and_the_labels_fill_every_partition(spark_settings: SparkSettings) -> None:
    from pyspark.sql import functions as F  # noqa: N812

    spark = get_session(spark_settings)
    values = [0, 1, 2, 42, -1, -7, 2**31 - 1, -(2**31), 123456789]
    got = spark.createDataFrame([(v,) for v in values], "v int").select(F.hash("v").alias("h")).toArrow()
    assert got.column("h").to_pylist() == [murmur3_int(v) for v in values]
    count = 7
    labels = bucket_labels(count)
    frame = spark.createDataFrame([(v,) for v in labels], "b int").repartition(count, "b")
    placed = frame.select("b", F.spark_partition_id().alias("p")).toArrow().to_pylist()
    assert sorted((r["b"], r["p"]) for r in placed) == sorted((v, p) for p, v in enumerate(labels))


def test_files_with_odd_names_are_found(spark_settings: SparkSettings, tmp_path: Path) -> None:
    """Spaces, percent signs, hashes and non-ASCII letters in a file's name; a gzip file named .csv."""
    folder = tmp_path / "export 100% eu"
    folder.mkdir()
    text = Path(CDNOW).read_bytes()
    (folder / "día 1 #a.txt").write_bytes(text[: len(text) // 2].rsplit(b"\n", 1)[0] + b"\n")
    packer = zlib.compressobj(wbits=31)  # a gzip stream
    rest = text[len(text) // 2 :].split(b"\n", 1)[1]
    (folder / "día+2.csv").write_bytes(packer.compress(rest) + packer.flush())
    from loyalty_cli.io.readers import ReadOptions

    options = ReadOptions(columns={"customer_id": "column_1", "order_date": "column_3", "amount": "column_5"})
    polars = load_transactions([str(folder)], options, as_of=None, activity=True)
    spark = load_transactions_spark([str(folder)], options, as_of=None, activity=True, settings=spark_settings)
    assert_same_load(polars, spark)
    assert file_key("file:/a%20b/c.csv") == file_key("file:///a b/c.csv") == "/a b/c.csv"
