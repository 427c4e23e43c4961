"""``loyalty cltv`` end to end: the CDNOW reference numbers from the raw file, outputs, and failures."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import polars as pl
import pytest
from typer.testing import CliRunner

from loyalty_cli.cli import app

RUNNER = CliRunner(env={"COLUMNS": "120", "NO_COLOR": "1"})
ROOT = Path(__file__).parent.parent.parent
DATA = ROOT / "tests" / "data"
SAMPLE = ROOT / "sample_data" / "transactions.csv"
CDNOW = ["--customer-col", "column_1", "--date-col", "column_3", "--amount-col", "column_5"]


def run(*args: str):
    result = RUNNER.invoke(app, ["cltv", *args])
    assert result.exception is None or isinstance(result.exception, SystemExit), repr(result.exception)
    return result


@pytest.fixture(autouse=True)
def work(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.chdir(tmp_path)
    return tmp_path


@pytest.fixture(scope="module")
def cdnow(tmp_path_factory):
    """The raw CDNOW_sample.txt, weekly units, calibration to 1997-09-30 (the 39-week holdout to 1998-06-30)."""
    folder = tmp_path_factory.mktemp("cdnow")
    result = RUNNER.invoke(
        app,
        [
            "cltv",
            str(DATA / "CDNOW_sample.txt"),
            *CDNOW,
            "--unit",
            "week",
            "--calibration-end",
            "1997-09-30",
            "-o",
            str(folder / "clv.csv"),
            "--tables",
            str(folder / "tables"),
        ],
    )
    assert result.exit_code == 0, result.output
    return folder, result


def test_cdnow_reproduces_the_published_fit(cdnow):
    folder, result = cdnow
    params = dict(pl.read_csv(folder / "tables" / "parameters.csv").select("parameter", "value").rows())
    for name, published in {
        "r": 0.2426,
        "alpha": 4.4135,
        "a": 0.7929,
        "b": 2.4259,
        "p": 6.2488,
        "q": 3.7446,
        "v": 15.4477,
    }.items():
        assert params[name] == pytest.approx(published, rel=1e-3), name
    assert "log-likelihood -9,582.43" in result.stderr
    assert "946 repeat customers with positive spend, 1,411 others" in result.stderr


def test_cdnow_holdout_check(cdnow):
    folder, result = cdnow
    summary = pl.read_csv(folder / "tables" / "holdout_summary.csv").row(0, named=True)
    assert summary["customers"] == 2357 and summary["holdout_days"] == 273  # 39 weeks
    assert summary["actual_purchases"] == 1882
    assert summary["predicted_purchases"] == pytest.approx(1653.4, abs=0.05)
    assert summary["mae"] == pytest.approx(0.786, abs=1e-3)  # 0.7855 here; published to 3 decimals
    by_frequency = pl.read_csv(folder / "tables" / "holdout_by_frequency.csv")
    assert by_frequency["customers"].sum() == 2357
    assert by_frequency["calibration_frequency"].to_list()[-1] == "7+"
    # the tracking curve's actual cumulative repeat purchases match the published weeks 1..25
    tracking = pl.read_csv(folder / "tables" / "tracking.csv")
    reference = np.genfromtxt(DATA / "clv_cumulative_transactions.csv", delimiter=",", names=True)
    assert tracking["actual_cumulative"].head(reference.size).to_list() == reference["actual"].astype(int).tolist()
    assert (
        tracking.filter(pl.col("period") == "holdout")["actual_cumulative"].tail(1).item()
        - tracking.filter(pl.col("period") == "calibration")["actual_cumulative"].tail(1).item()
        == 1882
    )


def test_cdnow_per_customer_output(cdnow):
    folder, _ = cdnow
    clv = pl.read_csv(folder / "clv.csv", schema_overrides={"customer_id": pl.String})
    assert clv.height == 2357 and clv["customer_id"].n_unique() == 2357
    assert clv["customer_id"][0].startswith("0")  # ids keep their leading zeros
    assert clv["holdout_actual_purchases"].sum() == 1882
    assert clv["predicted_clv_12m"].is_sorted(descending=True)
    assert clv.filter(pl.col("frequency") == 0)["p_alive"].unique().to_list() == [1.0]  # BG/NBD's blind spot
    # ranks 1-471 (20% of 2,357) high, to 1,178 (50%) medium, the rest low
    assert clv["value_tier"].value_counts().sort("value_tier").rows() == [("high", 471), ("low", 1179), ("medium", 707)]


def test_mbgnbd_does_not_call_every_one_time_buyer_alive():
    result = run(
        str(DATA / "CDNOW_sample.txt"),
        *CDNOW,
        "--model",
        "mbgnbd",
        "--calibration-end",
        "1997-09-30",
        "-o",
        "clv.csv",
        "-q",
    )
    assert result.exit_code == 0, result.output
    clv = pl.read_csv("clv.csv")
    assert clv.filter(pl.col("frequency") == 0)["p_alive"].max() < 1.0


def test_sample_data_default_run_shows_parameters_totals_and_top_customers():
    result = run(str(SAMPLE), "--top", "5")
    assert result.exit_code == 0, result.output
    out = result.stdout
    for title in ("# Parameters", "# Totals", "# Top 5 customers"):
        assert title in out
    assert "BG/NBD + Gamma-Gamma, fitted on data before 2025-01-01; unit week; horizon 12 months" in result.stderr


def test_quiet_with_output_prints_nothing(tmp_path):
    result = run(str(SAMPLE), "--unit", "day", "--horizon-months", "6", "-o", "clv.parquet", "-q")
    assert result.exit_code == 0
    assert result.stdout == "" and result.stderr == ""
    clv = pl.read_parquet("clv.parquet")
    assert {"predicted_clv_6m", "recency_days", "T_days"} <= set(clv.columns)


def test_too_few_customers_is_a_model_error(tmp_path):
    Path("tiny.csv").write_text("customer_id,order_date,amount\nA,2024-01-01,5\nA,2024-02-01,5\nB,2024-01-03,7\n")
    result = run("tiny.csv")
    assert result.exit_code == 3
    assert "Error: BG/NBD needs at least 10 customers" in result.stderr
    assert "Traceback" not in result.output


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--holdout", "900w"], "The calibration period must end between"),
        (["--holdout", "90d", "--calibration-end", "2024-06-01"], "not both"),
        # the sample's last day: nothing would be left to check (it used to skip the check silently)
        (["--calibration-end", "2024-12-31"], "must end between 2023-01-01 and 2024-12-30"),
        (["--unit", "month"], "Unknown time unit 'month'"),
        (["--discount", "2"], "monthly discount rate"),
        (["--format", "csv"], "--format needs --output"),
    ],
)
def test_usage_errors(args, message):
    result = run(str(SAMPLE), *args)
    assert result.exit_code == 2, result.output
    assert message in result.stderr


@pytest.mark.parametrize(("text", "days"), [("90d", 90), ("13w", 91), ("30", 30), (" 2W ", 14)])
def test_parse_days(text, days):
    from loyalty_cli.cli.common import parse_days

    assert parse_days(text, "--holdout", minimum=1) == days


@pytest.mark.parametrize("text", ["", "0d", "3m", "-5d", "1.5w"])
def test_parse_days_rejects(text):
    from loyalty_cli.cli.common import parse_days
    from loyalty_cli.errors import UsageError

    with pytest.raises(UsageError, match="--holdout"):
        parse_days(text, "--holdout", minimum=1)
