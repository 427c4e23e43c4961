"""``loyalty products`` on Spark: its plan over the lines is per customer (each line with its item), so it runs on
buckets of customers and writes the same tables as on Polars; the products' names (a plan over all the lines) are
read on Polars only (a note says so)."""

from __future__ import annotations

from pathlib import Path

import polars as pl
import pytest

from loyalty_cli.spark import SparkSettings

from .conftest import SAMPLE
from .test_uplift_validate import on_spark, run  # noqa: F401 - on_spark is a fixture

TABLES = ("first", "next", "pairs", "cycle")


@pytest.mark.usefixtures("on_spark")
def test_products_on_spark_equal_polars(spark_settings: SparkSettings, tmp_path: Path) -> None:
    files = [f"--{name}={name}.csv" for name in TABLES]
    args = ["products", str(SAMPLE), "--table", "list", "-o", "list.csv", *files, "-q"]
    code, said, polars = run(args, tmp_path / "polars")
    assert code == 0, said
    code, said, spark = run([*args, "--engine", "spark"], tmp_path / "spark")
    assert code == 0, said
    assert said == ""  # -q: its note that the names are not read is left out
    for name in (*TABLES, "list"):
        ours = pl.read_csv(polars[f"{name}.csv"])
        theirs = pl.read_csv(spark[f"{name}.csv"])
        assert ours.drop(pl.selectors.ends_with("_name")).equals(theirs), name
