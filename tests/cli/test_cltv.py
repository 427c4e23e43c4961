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


def test_cdnow_fit_has_no_boundary_warning_and_says_why_one_time_buyers_are_alive(cdnow):
    _, result = cdnow
    assert "Warning" not in result.stderr
    # said once, where P(alive) is shown
    assert result.stderr.count("P(alive) = 1") == 1
    assert (
        "BG/NBD gives the 1,411 one-time buyers P(alive) = 1 by construction (it lets a customer drop out only "
        "right after a repeat purchase), however long ago they bought; MBG/NBD and Pareto/NBD do not "
        "(--model mbgnbd or pnbd)"
    ) in result.stderr


def _rare_dropout_csv(path: Path, seed: int = 6, n: int = 500) -> None:
    """Transactions of n customers who almost never drop out (BG/NBD with a = 0.02, b = 0.5, about 0.2
    purchases a week), observed for 20 to 52 weeks to 2024-12-31: the BG/NBD fit lands at a = 0.0067, with
    the standard errors of a and b larger than a and b, and P(alive) near 1 for everyone."""
    rng = np.random.default_rng(seed)
    T = np.floor(rng.uniform(140, 364, n)).astype(np.int64)  # days from the first purchase to the end
    lam = rng.gamma(0.8, 1 / 4.0, n) / 7  # purchases a day
    k = rng.geometric(rng.beta(0.02, 0.5, n))  # the repeat purchase after which the customer drops out
    arrivals = rng.poisson(lam * T)
    x = np.minimum(arrivals, k)
    t_x = np.where(x > 0, np.floor(T * rng.beta(np.maximum(x, 1), arrivals - x + 1)), 0).astype(np.int64)
    t_x = np.minimum(np.maximum(t_x, x), T)  # room for x distinct days
    # days: the first purchase, repeat purchases on the next x - 1 days, the last one at t_x
    customer = np.repeat(np.arange(n), x + 1)
    j = np.arange(customer.size) - np.repeat(np.cumsum(x + 1) - (x + 1), x + 1)
    offset = np.where(j == x[customer], t_x[customer], j)
    day = np.datetime64("2024-12-31") - T[customer] + offset
    scale = rng.gamma(4.0, 2.5, n)  # spend: Gamma(6, scale) a purchase, the scale varying across customers
    pl.DataFrame(
        {
            "customer_id": [f"c{c:03d}" for c in customer],
            "order_date": day.astype(str),
            "amount": np.round(rng.gamma(6.0, scale[customer]), 2),
        }
    ).write_csv(path)


def test_boundary_fit_is_a_warning_printed_once(tmp_path):
    _rare_dropout_csv(tmp_path / "loyal.csv")
    result = run("loyal.csv", "--as-of", "2025-01-01", "--top", "3")
    assert result.exit_code == 0, result.output
    assert result.stderr.count("Warning:") == 1
    assert (
        "Warning: The BG/NBD fit lies at a boundary of its parameters, so the data hardly determine it: a = 0.0067 "
        "is near its lower bound 0; the standard error of a (0.00758) is larger than a = 0.0067; the standard "
        "error of b (0.191) is larger than b = 0.158. P(alive) and the expected purchases are unreliable"
    ) in " ".join(result.stderr.split())
    assert "BG/NBD: log-likelihood" in result.stderr and "converged in" not in result.stderr
    # -q silences notes, not warnings
    quiet = run("loyal.csv", "--as-of", "2025-01-01", "-o", "clv.csv", "-q")
    assert quiet.exit_code == 0 and quiet.stderr.count("Warning: The BG/NBD fit lies at a boundary") == 1


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


def test_cdnow_39_week_horizon_matches_the_holdout_prediction(cdnow):
    """--horizon 39w predicts the 39 weeks after the calibration end: the holdout check's 1,653.4 purchases."""
    result = run(
        str(DATA / "CDNOW_sample.txt"),
        *CDNOW,
        "--calibration-end",
        "1997-09-30",
        "--horizon",
        "39w",
        "-o",
        "clv.csv",
        "--top",
        "3",
    )
    assert result.exit_code == 0, result.output
    clv = pl.read_csv("clv.csv")
    assert {"predicted_clv_39w", "expected_purchases_39w", "p_no_purchase_39w"} <= set(clv.columns)
    assert not any(c.endswith("_12m") for c in clv.columns)
    assert clv["expected_purchases_39w"].sum() == pytest.approx(1653.4, abs=0.05)
    assert clv["expected_purchases_39w"].to_list() == pytest.approx(clv["holdout_predicted_purchases"].to_list())
    assert "unit week; horizon 39 weeks, discount 1.00% a month" in result.stderr
    assert "# Top 3 customers by predicted 39-week CLV" in result.stdout
    # 39 weeks = 8.97 months: less than 9 months' CLV, more than 8 months'
    (folder, _) = cdnow
    twelve = pl.read_csv(folder / "clv.csv").select("customer_id", "predicted_clv_12m")
    both = clv.join(twelve, on="customer_id")
    assert (both["predicted_clv_39w"] <= both["predicted_clv_12m"]).all()  # CSV money in cents: tiny ones tie
    big = both.filter(pl.col("predicted_clv_12m") >= 0.1)
    assert (big["predicted_clv_39w"] < big["predicted_clv_12m"]).all()


def test_horizon_in_days_months_and_the_old_option():
    days = run(str(SAMPLE), "--horizon", "90d", "--unit", "day", "-o", "d.csv", "-q")
    assert days.exit_code == 0, days.output
    assert {"predicted_clv_90d", "expected_purchases_90d", "p_no_purchase_90d"} <= set(pl.read_csv("d.csv").columns)
    months = run(str(SAMPLE), "--horizon", "6m", "-o", "m.csv", "-q")
    old = run(str(SAMPLE), "--horizon-months", "6", "-o", "old.csv", "-q")
    assert months.exit_code == old.exit_code == 0
    assert pl.read_csv("m.csv").equals(pl.read_csv("old.csv"))
    assert "predicted_clv_6m" in pl.read_csv("m.csv").columns


def test_parameters_state_their_time_unit(tmp_path):
    result = run(str(SAMPLE), "--unit", "day", "--tables", "t", "--top", "0")
    assert result.exit_code == 0, result.output
    params = pl.read_csv("t/parameters.csv")
    assert params.columns == ["model", "parameter", "value", "std_error", "unit"]
    assert params["unit"].to_list() == ["day"] * 4 + [None] * 3
    assert "model\tparameter\tvalue\tstd_error\tunit\nBG/NBD\tr\t" in result.stdout
    assert "\tday\n" in result.stdout


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
        (["--horizon", "39w", "--horizon-months", "6"], "Give --horizon or --horizon-months, not both"),
        (["--horizon", "12"], "--horizon '12': expected a whole number of days, weeks or months with its unit"),
        (["--horizon", "1.5m"], "--horizon '1.5m': expected a whole number of days, weeks or months"),
        (["--horizon", "0w"], "--horizon '0w': expected at least 1"),
        (["--horizon", "2y"], "e.g. 12m, 39w or 90d"),
        (["--horizon", "6000w"], "The horizon must be at most 1200 months"),
        (["--horizon-months", "0"], "The horizon must be a whole number of months >= 1, got 0"),
    ],
)
def test_usage_errors(args, message):
    result = run(str(SAMPLE), *args)
    assert result.exit_code == 2, result.output
    assert message in result.stderr


@pytest.mark.parametrize(("text", "days"), [("90d", 90), ("13w", 91), ("30", 30), (" 2W ", 14)])
def test_parse_days(text, days):
    from loyalty_cli.durations import parse_days

    assert parse_days(text, "--holdout", minimum=1) == days


@pytest.mark.parametrize(
    ("text", "units", "parsed"),
    [
        ("39w", "dwm", (39, "week")),
        ("12M", "dwm", (12, "month")),
        (" 90 d", "dw", (90, "day")),
        ("14", "dw", (14, "day")),
    ],
)
def test_parse_duration(text, units, parsed):
    from loyalty_cli.durations import parse_duration

    assert parse_duration(text, "--holdout", units=units, bare="day") == parsed


@pytest.mark.parametrize("text", ["", "0d", "3m", "-5d", "1.5w"])
def test_parse_days_rejects(text):
    from loyalty_cli.durations import parse_days
    from loyalty_cli.errors import UsageError

    with pytest.raises(UsageError, match="--holdout"):
        parse_days(text, "--holdout", minimum=1)
