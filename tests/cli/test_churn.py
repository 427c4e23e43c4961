"""``loyalty churn`` end to end: statuses and reasons written, win-back lists, churn rates, rules errors,
model P(alive), and bad input."""

from __future__ import annotations

from datetime import date, timedelta
from pathlib import Path

import polars as pl
import pytest
from typer.testing import CliRunner

from loyalty_cli.cli import app

RUNNER = CliRunner(
    env={"COLUMNS": "200", "NO_COLOR": "1", "FORCE_COLOR": None, "TTY_COMPATIBLE": None, "TTY_INTERACTIVE": None}
)
ROOT = Path(__file__).parent.parent.parent
SAMPLE = ROOT / "sample_data" / "transactions.csv"
AS_OF = date(2024, 7, 1)


def history(customer: str, recency: int, gaps: list[int], spend: int) -> list[str]:
    last = AS_OF - timedelta(days=recency)
    days = [last]
    for gap in reversed(gaps):
        days.insert(0, days[0] - timedelta(days=gap))
    amounts = [spend - (len(days) - 1)] + [1] * (len(days) - 1)
    return [f"{customer},{d.isoformat()},{a}" for d, a in zip(days, amounts, strict=True)]


# The shop of tests/metrics/test_churn.py (population IPT = 10 days): see the table there.
SHOP = [
    *history("P", 15, [10, 10, 20], 800),
    *history("Q", 31, [10, 30], 700),
    *history("R", 18, [4, 6, 8], 600),
    *history("S", 30, [40], 500),
    *history("T", 15, [], 400),
    *history("U", 100, [], 300),
    *history("V", 23, [], 200),
    *history("W", 16, [5, 5], 100),
]


@pytest.fixture(autouse=True)
def work(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.chdir(tmp_path)
    Path("tx.csv").write_text("customer_id,order_date,amount\n" + "\n".join(SHOP) + "\n")
    return tmp_path


def run(*args: str):
    result = RUNNER.invoke(app, ["churn", *args])
    assert result.exception is None or isinstance(result.exception, SystemExit), repr(result.exception)
    assert "Traceback" not in result.output
    return result


def test_statuses_lists_and_rates():
    result = run("tx.csv", "--as-of", "2024-07-01", "-o", "churn.csv", "--rates", "rates.csv", "--top", "2")
    assert result.exit_code == 0, result.stderr
    out = pl.read_csv("churn.csv")
    assert out.columns[:7] == [
        "customer_id",
        "status",
        "value_tier",
        "value_rank",
        "worth_costly_offer",
        "reason",
        "recency_days",
    ]
    assert out.select("customer_id", "status", "value_tier", "value_rank", "worth_costly_offer").rows() == [
        ("P", "active", "high", 1, None),
        ("T", "active", "low", 2, None),
        ("Q", "lapsing", "high", 1, True),
        ("R", "lapsing", "medium", 2, True),
        ("S", "lapsing", "medium", 3, True),
        ("V", "lapsing", "low", 4, False),
        ("U", "lapsed", "low", 1, False),
        ("W", "lapsed", "low", 2, False),
    ]
    assert out.filter(pl.col("customer_id") == "S")["reason"].item() == (
        "30 days since the last purchase > lapsing threshold 1.5 x IPT = 15 days, <= lapsed threshold 3 x IPT = "
        "30 days; IPT = population 10 days (own: 1 gap, fewer than 2)"
    )
    assert (
        "As of 2024-07-01 (data before that day); 8 customers; rules built-in churn: lapsing after 1.5 x IPT, "
        "lapsed after 3 x IPT" in result.stderr
    )
    assert "status\tcustomers\tshare_customers\tnet_spend" in result.stdout
    assert "lapsing\t4\t0.5000\t2000.0000\t" in result.stdout
    assert "# Top 2 of 4 lapsing customers by historical net spend" in result.stdout
    assert "Q\t1\thigh\ttrue\t31\t20.0000\t700.0000" in result.stdout
    rates = pl.read_csv("rates.csv")
    assert rates.columns == [
        "period",
        "period_start",
        "customers_at_start",
        "new_customers",
        "churned",
        "reactivated",
        "lapsed_at_end",
        "active_at_end",
        "churn_rate",
    ]
    assert rates["period"][-1] == "2024-06"
    assert rates["lapsed_at_end"][-1] == 2 and rates["active_at_end"][-1] == 6  # = the statuses as of July 1


def test_status_filter_stdout_and_quiet():
    result = run(
        "tx.csv",
        "--as-of",
        "2024-07-01",
        "--status",
        "lapsed",
        "--status",
        "lapsing",
        "-o",
        "-",
        "--format",
        "json",
        "-q",
    )
    assert result.exit_code == 0, result.stderr
    assert result.stderr == ""
    assert pl.read_json(result.stdout_bytes)["customer_id"].to_list() == ["Q", "R", "S", "V", "U", "W"]
    result = run("tx.csv", "--as-of", "2024-07-01", "-o", "x.parquet", "-q")
    assert result.exit_code == 0 and result.stdout == "" and result.stderr == ""


def test_custom_rules_and_rules_errors(tmp_path):
    Path("mine.toml").write_text("[lapsing]\ndays = 20\n[lapsed]\ndays = 45\n")
    result = run("tx.csv", "--as-of", "2024-07-01", "--rules", "mine.toml", "-o", "c.csv", "-q")
    assert result.exit_code == 0, result.stderr
    assert pl.read_csv("c.csv").filter(pl.col("status") == "lapsed")["customer_id"].to_list() == ["U"]
    Path("bad.toml").write_text("[lapsing]\nmultiplier = 1.5\n[lapsed]\nmultiplier = 1.2\n")
    result = run("tx.csv", "--rules", "bad.toml", "-o", "out.csv")
    assert result.exit_code == 1
    assert result.stderr.startswith(
        "Error: bad.toml: [lapsed] multiplier (1.2) must be above [lapsing] multiplier (1.5)"
    )
    assert "Hint: " in result.stderr and not Path("out.csv").exists()
    result = run("tx.csv", "--rules", "nope.toml")
    assert result.exit_code == 1 and result.stderr.startswith("Error: Churn rules file not found: nope.toml")


def test_no_repeat_customer_needs_fixed_days():
    Path("one.csv").write_text("customer_id,order_date,amount\nA,2024-01-01,10\nB,2024-02-01,10\n")
    result = run("one.csv", "-o", "out.csv")
    assert result.exit_code == 1
    assert "Error: No customer in one.csv bought on two different days" in result.stderr
    assert "Hint: Use fixed thresholds instead" in result.stderr and not Path("out.csv").exists()


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--status", "gone"], "Error: Unknown status 'gone'"),
        (["--model", "xgboost"], "Error: --model must be one of bgnbd, pnbd, mbgnbd, got 'xgboost'"),
        (["--rank-by", "predicted"], "Error: --rank-by predicted needs --model"),
        (["--rank-by", "loudest"], "Error: --rank-by must be historical or predicted, got 'loudest'"),
        (["--period", "year"], "Error: --period must be week, month or quarter, got 'year'"),
        (["--rates", "rates.txt"], "Error: Cannot tell the output format of rates.txt"),
        (["--top", "-1"], "Error: --top must be 0 or more, got -1"),
    ],
)
def test_usage_errors(args, message):
    result = run("tx.csv", *args)
    assert result.exit_code == 2, result.stderr
    assert result.stderr.startswith(message)


def test_bad_rows_and_rejects():
    Path("bad.csv").write_text(
        "customer_id,order_date,amount\nA,2024-01-01,10\nA,2024-02-01,10\nA,2024-03-01,x\n,2024-03-02,5\n"
    )
    result = run("bad.csv", "-o", "out.csv")
    assert result.exit_code == 1 and "Error: 2 bad rows in the transactions:" in result.stderr
    assert not Path("out.csv").exists()
    result = run("bad.csv", "-o", "out.csv", "--on-bad-rows", "skip", "--rules", "fixed.toml")
    assert result.exit_code == 1 and "Churn rules file not found: fixed.toml" in result.stderr  # rules first
    Path("fixed.toml").write_text("[lapsing]\ndays = 30\n[lapsed]\ndays = 90\n")
    result = run("bad.csv", "-o", "out.csv", "--on-bad-rows", "skip", "--rules", "fixed.toml")
    assert result.exit_code == 0, result.stderr
    assert pl.read_csv("out.rejects.csv").height == 2 and pl.read_csv("out.csv").height == 1


def test_sample_data_with_a_model():
    result = run(str(SAMPLE), "--model", "mbgnbd", "--rank-by", "predicted", "-o", "churn.csv", "--top", "3")
    assert result.exit_code == 0, result.stderr
    out = pl.read_csv("churn.csv")
    assert out.height == 3000 and out["customer_id"].is_unique().all()
    assert out.group_by("status").len().sort("status").rows() == [("active", 758), ("lapsed", 1837), ("lapsing", 405)]
    assert out["p_alive"].null_count() == 0 and out["p_alive_model"].unique().to_list() == ["mbgnbd"]
    lapsed = out.filter(pl.col("status") == "lapsed")
    assert lapsed["predicted_value"].to_list() == sorted(lapsed["predicted_value"].to_list(), reverse=True)
    assert lapsed["value_rank"].to_list() == list(range(1, lapsed.height + 1))
    assert "P(alive) from MBG/NBD (mbgnbd)" in result.stderr
    assert "# Top 3 of 1,837 lapsed customers by predicted value" in result.stdout
    assert {"email", "p_alive", "predicted_value", "worth_costly_offer"} <= set(out.columns)


@pytest.mark.parametrize("period", ["week", "quarter"])
def test_written_tables_are_the_metrics_on_the_sample(period):
    # the command collects the status once and derives the list and the rates from it: the files hold what the
    # metric functions give when composed lazily, for every customer and every period
    from loyalty_cli.io.readers import read_transactions
    from loyalty_cli.metrics.churn import churn_status
    from loyalty_cli.metrics.churn_rates import churn_rates
    from loyalty_cli.rules.churn import load_churn_rules
    from loyalty_cli.stage1.customers import customer_activity, customer_summary

    result = run(str(SAMPLE), "-o", "churn.parquet", "--rates", "rates.parquet", "--period", period, "-q")
    assert result.exit_code == 0, result.stderr
    tx = read_transactions([SAMPLE]).rows
    activity = customer_activity(tx)
    status = churn_status(customer_summary(tx, as_of=None), activity, rules=load_churn_rules())
    want_status, want_rates = pl.collect_all([status, churn_rates(status, activity, period=period)])
    assert pl.read_parquet("rates.parquet").equals(want_rates)
    got = pl.read_parquet("churn.parquet").select(want_status.columns).sort("customer_id")
    assert got.equals(want_status.sort("customer_id"))


def test_bgnbd_leaves_one_time_buyers_empty_and_model_failures_exit_3():
    result = run(str(SAMPLE), "--model", "bgnbd", "-o", "bg.csv", "--top", "0")
    assert result.exit_code == 0, result.stderr
    out = pl.read_csv("bg.csv")
    one_time = out.filter(pl.col("purchase_days") == 1)
    assert one_time.height == 1498 and one_time["p_alive"].null_count() == one_time.height
    assert out.filter(pl.col("purchase_days") > 1)["p_alive"].null_count() == 0
    assert (
        "BG/NBD gives every one-time buyer P(alive) = 1 however long ago they bought: left empty for 1,498 "
        "one-time buyers"
    ) in result.stderr
    assert out["value_rank"][0] == 1 and "Top" not in result.stdout  # --top 0: no lists on the terminal
    # nobody bought twice: the model cannot be fitted (exit 3), even though fixed-day rules can judge them
    Path("fixed.toml").write_text("[lapsing]\ndays = 30\n[lapsed]\ndays = 90\n")
    Path("once.csv").write_text(
        "customer_id,order_date,amount\n"
        + "\n".join(f"o{i:02d},2024-0{1 + i % 5}-1{i % 10},10" for i in range(12))
        + "\n"
    )
    result = run("once.csv", "--as-of", "2024-07-01", "--rules", "fixed.toml", "--model", "pnbd", "-o", "o.csv")
    assert result.exit_code == 3, result.stderr
    assert "Error: Pareto/NBD cannot be fitted: no customer has a repeat purchase" in result.stderr
    assert "Hint: " in result.stderr and not Path("o.csv").exists()


def test_model_predicted_value_is_loyalty_cltvs():
    """--model predicted_value: the same summary and fit as `loyalty cltv` with its defaults, customer by
    customer (the repeat spend once came from another definition, and 45 sample customers differed)."""
    assert run(str(SAMPLE), "--model", "mbgnbd", "-o", "churn.csv", "-q").exit_code == 0
    assert RUNNER.invoke(app, ["cltv", str(SAMPLE), "--model", "mbgnbd", "-o", "clv.csv", "-q"]).exit_code == 0
    both = pl.read_csv("churn.csv").join(pl.read_csv("clv.csv"), on="customer_id")
    assert both.height == 3000
    assert (both["predicted_value"] - both["predicted_clv_12m"].round(2)).abs().max() < 1e-9
    assert (both["p_alive"] - both["p_alive_right"]).abs().max() < 1e-12


def test_rules_that_need_an_ipt_stop_when_nobody_bought_twice():
    """Multiplier rules and no repeat customer: nobody has an inter-purchase time, not even the population."""
    Path("once.csv").write_text("customer_id,order_date,amount\nA,2024-01-01,5\nB,2024-02-01,7\n")
    result = run("once.csv", "--as-of", "2024-03-01")
    assert result.exit_code == 1
    assert "No customer in once.csv bought on two different days" in result.stderr
    assert "[lapsing] days = 60" in result.stderr
    lifecycle = RUNNER.invoke(app, ["lifecycle", "once.csv", "--as-of", "2024-03-01"])
    assert lifecycle.exit_code == 1 and "--churn-rules FILE" in lifecycle.stderr
    Path("fixed.toml").write_text("[lapsing]\ndays = 60\n[lapsed]\ndays = 180\n")
    assert run("once.csv", "--as-of", "2024-03-01", "--rules", "fixed.toml").exit_code == 0
