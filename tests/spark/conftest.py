"""One local Spark session for the whole test session (``local[2]``, small data), and the check that a load on
Spark equals the load on Polars. The Spark tests are skipped, saying why, only where pyspark or Java 17 is
missing; ``.ci/run`` installs pyspark (the ``test`` extra) and CI machines have Java 17."""

from __future__ import annotations

from pathlib import Path

import pytest
from polars.testing import assert_frame_equal

from loyalty_cli.errors import LoyaltyError
from loyalty_cli.spark import SparkSettings, get_session
from loyalty_cli.spark.session import check_pyspark, java_version
from loyalty_cli.stage1 import Loaded

ROOT = Path(__file__).parent.parent.parent
SAMPLE = ROOT / "sample_data" / "transactions.csv"
CDNOW = ROOT / "tests" / "data" / "CDNOW_sample.txt"

# Small blocks and batches, so that the sample (1.5 MB) is read as 6 blocks in several batches each, and small
# buckets (the sample's 16,815 lines in 9): what a cluster does to big files, on small ones.
SETTINGS = SparkSettings(
    master="local[2]",
    bucket_lines=2_000,
    config={
        "spark.driver.extraJavaOptions": "-XX:TieredStopAtLevel=1",  # the JVM starts ~2x faster: small data
        "spark.sql.files.maxPartitionBytes": "262144",
        "spark.sql.execution.arrow.maxRecordsPerBatch": "3000",
        "spark.sql.shuffle.partitions": "4",
    },
)


@pytest.fixture(scope="session")
def spark_settings() -> SparkSettings:
    """The settings of the one session the Spark tests share (started here)."""
    try:
        check_pyspark()
        java_version()
    except LoyaltyError as exc:
        pytest.skip(f"the Spark engine cannot run here: {exc.message}")
    get_session(SETTINGS)
    return SETTINGS


def assert_same_load(polars: Loaded, spark: Loaded) -> None:
    """The Spark load is the Polars load: the tables (sorted alike), the rejected rows, the rows left out, the
    no-purchase row, and how the input was read."""
    assert_frame_equal(polars.customers.sort("customer_id"), spark.customers)
    if polars.activity is not None:
        assert spark.activity is not None
        assert_frame_equal(polars.activity.sort("customer_id", "day"), spark.activity)
    else:
        assert spark.activity is None
    assert_frame_equal(polars.no_purchase, spark.no_purchase)
    assert len(polars.rejects) == len(spark.rejects) == 1
    assert_frame_equal(polars.rejects[0], spark.rejects[0])
    assert polars.as_of == spark.as_of
    assert polars.scan.left_out == spark.scan.left_out
    assert polars.scan.left_out_note() == spark.scan.left_out_note()
    assert polars.left_out_note() == spark.left_out_note()
    assert [str(p) for p in polars.scan.paths] == [str(p) for p in spark.scan.paths]
    assert polars.scan.mapping == spark.scan.mapping
    assert polars.scan.date_formats == spark.scan.date_formats
    assert polars.scan.notes == spark.scan.notes
    if polars.scan.overlap is not None:
        assert spark.scan.overlap is not None
        assert polars.scan.overlap.found == spark.scan.overlap.found
    assert set(polars.lines) == set(spark.lines)
    for name, frame in polars.lines.items():
        assert_frame_equal(frame, spark.lines[name], check_row_order=False)


def sample_lines() -> tuple[str, list[str]]:
    """The sample's header and lines."""
    head, *body = SAMPLE.read_text(encoding="utf-8").splitlines()
    return head, body


def write_lines(path: Path, head: str, body: list[str]) -> Path:
    path.write_text("\n".join([head, *body]) + "\n", encoding="utf-8")
    return path


def with_field(line: str, index: int, value: str) -> str:
    """A CSV line (no quotes) with field ``index`` replaced."""
    fields = line.split(",")
    fields[index] = value
    return ",".join(fields)


def bad_sample(folder: Path) -> Path:
    """The sample with bad rows: blank and NULL ids, a blank line, a date in another format, an amount that
    is no number, a date in the far future."""
    head, body = sample_lines()
    body[10] = with_field(body[10], 1, " ")
    body[20] = body[20].replace("2023-", "2023/", 1)
    body[5000] = with_field(body[5000], 8, "abc")
    body[7000] = with_field(body[7000], 2, "2999-01-01 10:00:00")
    body[9000] = with_field(body[9000], 1, "NULL")
    body.insert(100, "")
    return write_lines(folder / "bad.csv", head, body)
