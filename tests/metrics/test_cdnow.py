"""The summary reproduces the published CDNOW conventions.

Data: CDNOW_sample.txt and cdnow_customers_summary_with_transactions.csv by Fader & Hardie, as
redistributed by the lifetimes project (MIT licence, tests/data/LICENSE.lifetimes.txt)."""

from __future__ import annotations

from datetime import date
from pathlib import Path

import polars as pl
import pytest

from loyalty_cli.io.readers import read_transactions
from loyalty_cli.io.validate import collect_checked
from loyalty_cli.stage1.customers import btyd_summary, customer_summary

DATA = Path(__file__).parent.parent / "data"


@pytest.fixture(scope="module")
def cdnow_csv(tmp_path_factory) -> Path:
    """CDNOW_sample.txt (whitespace separated, no header) as the CSV a shop would export."""
    rows = [line.split() for line in (DATA / "CDNOW_sample.txt").read_text().splitlines() if line.strip()]
    path = tmp_path_factory.mktemp("cdnow") / "cdnow.csv"
    pl.DataFrame(
        {
            "customer_id": [r[1] for r in rows],
            "date": [r[2] for r in rows],
            "cds": [r[3] for r in rows],
            "dollar_value": [r[4] for r in rows],
        }
    ).write_csv(path)
    return path


def test_cdnow_btyd_summary_matches_reference(cdnow_csv):
    # calibration ends 1997-09-30 (inclusive) = as_of 1997-10-01 (exclusive)
    scan = read_transactions([cdnow_csv])
    calibration = scan.rows.filter(pl.col("order_date") < pl.datetime(1997, 10, 1))
    summary = btyd_summary(customer_summary(calibration, as_of=date(1997, 10, 1)), unit_days=7)
    (got,), _ = collect_checked([scan], [summary])
    assert got.height == 2357
    repeaters = got.filter(pl.col("frequency") > 0)
    assert repeaters.height == 946
    assert repeaters["monetary_value"].mean() == pytest.approx(35.08, abs=0.005)
    assert repeaters["monetary_value"].std() == pytest.approx(30.28, abs=0.005)
    assert repeaters["monetary_value"].median() == pytest.approx(27.50, abs=0.005)
    assert repeaters["monetary_value"].max() == pytest.approx(299.63, abs=0.005)
    ref = pl.read_csv(DATA / "cdnow_customers_summary_with_transactions.csv")
    joined = ref.join(
        got.with_columns(pl.col("customer_id").cast(pl.Int64)), left_on="ID", right_on="customer_id", how="inner"
    )
    assert joined.height == 2357
    assert (joined["x"] == joined["frequency"]).all()
    for ours, theirs in (("recency", "t_x"), ("T_right", "T"), ("monetary_value", "zbar")):
        assert (joined[ours] - joined[theirs]).abs().max() < 0.006, ours
