"""Stage 1 on Spark gives what stage 1 on Polars gives: the same customer, activity and no-purchase tables, the
same rejected rows (row numbers included), the same rows left out, and the same errors, word for word."""

from __future__ import annotations

import shutil
from datetime import date
from pathlib import Path

import polars as pl
import pytest
from polars.testing import assert_frame_equal

from loyalty_cli.errors import DataError, LoyaltyError, UsageError
from loyalty_cli.io.readers import ReadOptions
from loyalty_cli.spark import SparkSettings, load_transactions_spark, per_customer
from loyalty_cli.stage1 import Loaded, load_transactions, shared_reads

from .conftest import CDNOW, SAMPLE, assert_same_load, bad_sample, sample_lines, write_lines

CDNOW_COLUMNS = ReadOptions(columns={"customer_id": "column_1", "order_date": "column_3", "amount": "column_5"})


def both(settings: SparkSettings, inputs: list[str], options: ReadOptions | None = None, **kw) -> tuple[Loaded, Loaded]:
    polars = load_transactions(inputs, options, **kw)
    spark = load_transactions_spark(inputs, options, settings=settings, **kw)
    return polars, spark


def errors(settings: SparkSettings, inputs: list[str], options: ReadOptions | None = None, **kw) -> tuple[str, str]:
    """The error of each engine (the same kind), as the user reads it."""
    with pytest.raises(LoyaltyError) as polars:
        load_transactions(inputs, options, **kw)
    with pytest.raises(LoyaltyError) as spark:
        load_transactions_spark(inputs, options, settings=settings, **kw)
    assert type(polars.value) is type(spark.value)
    return str(polars.value), str(spark.value)


def test_the_sample_without_an_as_of_date(spark_settings: SparkSettings) -> None:
    polars, spark = both(spark_settings, [str(SAMPLE)], as_of=None, activity=True)
    assert_same_load(polars, spark)
    assert spark.customers.height == 3000 and spark.as_of == date(2025, 1, 1)
    assert spark.activity is not None and spark.activity.height == 9643


def test_the_sample_before_an_as_of_date_leaves_the_later_rows_out_and_counts_them(
    spark_settings: SparkSettings,
) -> None:
    polars, spark = both(spark_settings, [str(SAMPLE)], as_of=date(2024, 7, 1), activity=False)
    assert_same_load(polars, spark)
    assert spark.scan.left_out == [7071] and spark.as_of == date(2024, 7, 1)


def test_nobody_bought_before_the_as_of_date(spark_settings: SparkSettings) -> None:
    polars, spark = both(spark_settings, [str(SAMPLE)], as_of=date(2020, 1, 1), activity=True)
    assert_same_load(polars, spark)
    assert spark.customers.is_empty() and spark.scan.left_out == [16815]


def test_cdnow_whitespace_aligned_without_a_header(spark_settings: SparkSettings) -> None:
    polars, spark = both(spark_settings, [str(CDNOW)], CDNOW_COLUMNS, as_of=None, activity=True)
    assert_same_load(polars, spark)
    assert spark.customers.height == 2357


@pytest.mark.parametrize("typed", [False, True], ids=["text columns", "typed columns"])
def test_a_parquet_copy(spark_settings: SparkSettings, tmp_path: Path, typed: bool) -> None:
    """Several row groups (several blocks); typed: ids as integers and amounts as floats, read as Polars reads them."""
    path = tmp_path / "orders.parquet"
    pl.read_csv(SAMPLE, infer_schema=typed).write_parquet(path, row_group_size=2500)
    polars, spark = both(spark_settings, [str(path)], as_of=None, activity=True, on_bad_rows="skip")
    assert_same_load(polars, spark)


def test_bad_rows_skipped_are_the_same_rejected_rows_with_their_row_numbers(
    spark_settings: SparkSettings, tmp_path: Path
) -> None:
    polars, spark = both(spark_settings, [str(bad_sample(tmp_path))], as_of=None, activity=True, on_bad_rows="skip")
    assert_same_load(polars, spark)
    rejects = spark.rejects[0]
    assert rejects["source_row"].to_list() == [12, 22, 102, 5003, 7003, 9003]


def test_bad_rows_stop_with_the_same_error(spark_settings: SparkSettings, tmp_path: Path) -> None:
    polars, spark = errors(spark_settings, [str(bad_sample(tmp_path))], as_of=None)
    assert polars == spark
    assert "6 bad rows in the transactions" in spark and "(rows 12, 102, 9003;" in spark


@pytest.mark.parametrize("fields", [3, 12], ids=["too few fields", "too many fields"])
def test_a_ragged_line_stops_with_the_same_error(spark_settings: SparkSettings, tmp_path: Path, fields: int) -> None:
    head, body = sample_lines()
    body[4000] = ",".join(body[4000].split(",")[:3]) if fields == 3 else body[4000] + ",extra"
    path = write_lines(tmp_path / "ragged.csv", head, body)
    polars, spark = errors(spark_settings, [str(path)], as_of=None, on_bad_rows="skip")
    assert polars == spark
    assert f"ragged.csv, line 4002: {fields} fields where the header has 11" in spark


def two_exports(folder: Path) -> list[str]:
    """Two daily exports that overlap: the second repeats the last 1,000 lines of the first."""
    head, body = sample_lines()
    return [
        str(write_lines(folder / "a.csv", head, body[:9000])),
        str(write_lines(folder / "b.csv", head, body[8000:])),
    ]


def test_lines_repeated_across_files_stop_with_the_same_error(spark_settings: SparkSettings, tmp_path: Path) -> None:
    polars, spark = errors(spark_settings, two_exports(tmp_path), as_of=None)
    assert polars == spark
    assert "b.csv repeats 1,000 lines of" in spark


def test_lines_repeated_across_files_left_out_under_keep_first(spark_settings: SparkSettings, tmp_path: Path) -> None:
    options = ReadOptions(on_overlap="keep-first")
    polars, spark = both(spark_settings, two_exports(tmp_path), options, as_of=None, activity=True)
    assert_same_load(polars, spark)
    assert spark.customers.height == 3000
    assert spark.scan.overlap is not None and spark.scan.overlap.found[0].lines == 1000


def test_a_file_url_is_read_through_spark(spark_settings: SparkSettings, tmp_path: Path) -> None:
    """A path with a scheme: listed, sampled and read by Spark, named as given; the same tables."""
    shutil.copy(SAMPLE, tmp_path / "transactions.csv")
    url = (tmp_path / "transactions.csv").as_uri()
    spark = load_transactions_spark([url], as_of=None, activity=True, settings=spark_settings)
    polars = load_transactions([str(SAMPLE)], as_of=None, activity=True)
    assert_frame_equal(polars.customers.sort("customer_id"), spark.customers)
    assert_frame_equal(polars.no_purchase, spark.no_purchase)
    assert [str(p) for p in spark.scan.paths] == [url]
    assert spark.scan.date_formats == polars.scan.date_formats and spark.scan.mapping == polars.scan.mapping


def test_a_folder_url_with_bad_rows(spark_settings: SparkSettings, tmp_path: Path) -> None:
    """A folder of remote files: its data files (the README is not one), in path order; bad rows are named by
    file and row as on local files."""
    bad_sample(tmp_path)
    (tmp_path / "README.md").write_text("not data\n")
    with pytest.raises(DataError) as error:
        load_transactions_spark([tmp_path.as_uri()], as_of=None, settings=spark_settings)
    assert "6 bad rows in the transactions" in str(error.value)
    assert "bad.csv, column 'customer_id' (rows 12, 102, 9003;" in str(error.value)


def test_per_customer_plans_run_on_each_bucket_and_others_are_refused(spark_settings: SparkSettings) -> None:
    def orders(lines: pl.LazyFrame) -> pl.LazyFrame:
        return lines.group_by("customer_id").agg(pl.col("order_id").n_unique().alias("orders"))

    lines = {"orders": per_customer(orders)}
    polars, spark = both(spark_settings, [str(SAMPLE)], as_of=None, lines=lines)
    assert_same_load(polars, spark)
    with pytest.raises(UsageError, match="orders is not marked as one"):
        load_transactions_spark([str(SAMPLE)], as_of=None, lines={"orders": orders}, settings=spark_settings)


def test_loads_are_shared_within_a_pipeline(spark_settings: SparkSettings) -> None:
    """Inside ``shared_reads`` (``loyalty run``) the same load is read once, with the activity table kept."""
    with shared_reads():
        first = load_transactions_spark([str(SAMPLE)], as_of=None, settings=spark_settings)
        again = load_transactions_spark([str(SAMPLE)], as_of=date(2025, 1, 1), settings=spark_settings)
    assert again is first and first.activity is not None
