"""``loyalty retention`` end to end: the shipped sample, a multi-year Online Retail folder checked against an
independent computation, outputs, terminal tables, and bad input."""

from __future__ import annotations

import csv
import random
from datetime import date, datetime, timedelta
from decimal import Decimal
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


@pytest.fixture(autouse=True)
def work(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.chdir(tmp_path)
    return tmp_path


def run(*args: str):
    result = RUNNER.invoke(app, ["retention", *args])
    assert result.exception is None or isinstance(result.exception, SystemExit), repr(result.exception)
    assert "Traceback" not in result.output
    return result


# ------------------------------------------------------------------------------ Online Retail, multi-year
HEADER = ["InvoiceNo", "StockCode", "Description", "Quantity", "InvoiceDate", "UnitPrice", "CustomerID", "Country"]
PRICES = (("85123A", "2.55"), ("71053", "3.39"), ("22752", "7.65"), ("POST", "18.00"), ("21232", "0.85"))


def write_online_retail_years(folder: Path, *, seed: int = 11) -> list[tuple[str, date, Decimal]]:
    """Daily CSVs in the UCI Online Retail layout over 2010-12 .. 2012-04 (one to three trading days a month):
    month-first dates, float customer ids, invoices without a customer, C-prefixed cancellations.

    Returns the invoices with a customer as (customer, day, net value): what an independent computation
    needs (an invoice is an order; a cancellation is negative)."""
    rng = random.Random(seed)
    folder.mkdir()
    customers = [str(12000 + 37 * i) for i in range(40)]
    invoice = 536365
    kept: list[tuple[str, date, Decimal]] = []
    sold: list[tuple[str, str, int, str]] = []
    day = date(2010, 12, 1)
    while day < date(2012, 5, 1):
        rows: list[list[str]] = []
        moment = datetime(day.year, day.month, day.day, 8, rng.randint(0, 59))
        plan = (
            ["sale"] * rng.randint(4, 8)
            + (["anonymous"] if rng.random() < 0.3 else [])
            + (["cancel"] if sold and rng.random() < 0.5 else [])
        )
        pool = 4 + 2 * ((day.year - 2010) * 12 + day.month - 12)  # new customers keep coming
        for kind in plan:
            moment += timedelta(minutes=rng.randint(5, 90))
            when = f"{moment.month}/{moment.day}/{moment.year} {moment.hour}:{moment.minute:02d}"
            if kind == "cancel":
                customer, code, qty, price = sold[rng.randrange(len(sold))]
                number, items = f"C{invoice}", [(code, -rng.randint(1, qty), price)]
            else:
                customer = "" if kind == "anonymous" else rng.choice(customers[:pool])
                number = str(invoice)
                items = [(code, rng.choice((1, 2, 6, 12)), price) for code, price in rng.sample(PRICES, 2)]
            invoice += 1
            value = Decimal(0)
            for code, qty, price in items:
                rows.append(
                    [
                        number,
                        code,
                        "ITEM, DESCRIBED",
                        str(qty),
                        when,
                        price,
                        f"{customer}.0" if customer else "",
                        "United Kingdom",
                    ]
                )
                value += qty * Decimal(price)
                if customer and qty > 0:
                    sold.append((customer, code, qty, price))
            if customer:
                kept.append((customer, day, value))
        with (folder / f"{day.isoformat()}.csv").open("w", newline="", encoding="utf-8") as fh:
            writer = csv.writer(fh)
            writer.writerow(HEADER)
            writer.writerows(rows)
        day += timedelta(days=rng.randint(20, 40))
    return kept


def independent_matrix(invoices: list[tuple[str, date, Decimal]]) -> dict[tuple[str, int], tuple]:
    """(cohort, k) -> (cohort customers, active customers or None, revenue or None), by plain Python."""
    as_of = max(d for _, d, _ in invoices) + timedelta(days=1)
    month = lambda d: d.year * 12 + d.month - 1  # noqa: E731
    first: dict[str, date] = {}
    for c, d, v in invoices:
        if v > 0 and (c not in first or d < first[c]):
            first[c] = d
    size: dict[int, int] = {}
    for d in first.values():
        size[month(d)] = size.get(month(d), 0) + 1
    active: dict[tuple[int, int], set[str]] = {}
    revenue: dict[tuple[int, int], Decimal] = {}
    for c, d, v in invoices:
        if c not in first or month(d) < month(first[c]):
            continue
        key = (month(first[c]), month(d) - month(first[c]))
        revenue[key] = revenue.get(key, Decimal(0)) + v
        if v > 0:
            active.setdefault(key, set()).add(c)
    oldest, now = min(size), month(as_of)
    out = {}
    for cohort, n in size.items():
        label = f"{cohort // 12}-{cohort % 12 + 1:02d}"
        for k in range(now - oldest):
            mature = cohort + k < now
            out[(label, k)] = (
                n,
                len(active.get((cohort, k), ())) if mature else None,
                float(revenue.get((cohort, k), Decimal(0))) if mature else None,
            )
    return out


def test_online_retail_folder_matches_an_independent_computation():
    invoices = write_online_retail_years(Path("retail"))
    assert any(v < 0 for _, _, v in invoices)  # cancellations in the data
    result = run(
        "retail",
        "--on-bad-rows",
        "skip",
        "--rejects",
        "rejects.csv",
        "-o",
        "long.csv",
        "--cohorts",
        "cohorts.csv",
        "-q",
    )
    assert result.exit_code == 0, result.stderr
    assert pl.read_csv("rejects.csv")["reject_reason"].unique().to_list() == ["missing customer id"]
    long = pl.read_csv("long.csv", schema_overrides={"cohort": pl.String})
    got = {
        (r["cohort"], r["period"]): (r["cohort_customers"], r["active_customers"], r["revenue"])
        for r in long.filter(pl.col("cohort") != "average").iter_rows(named=True)
    }
    expected = independent_matrix(invoices)
    assert len(expected) > 100 and {k[0][:4] for k in expected} == {"2010", "2011", "2012"}
    assert len(list(Path("retail").iterdir())) < 20  # the reader takes ~0.1 s a file: keep the test fast
    assert got.keys() == expected.keys()
    for key, (n, active, revenue) in expected.items():
        assert got[key][:2] == (n, active), key
        assert (got[key][2] is None) == (revenue is None) and (revenue is None or got[key][2] == pytest.approx(revenue))
    # and the weighted average of each k pools the mature cells only
    for k in range(3):
        cells = [v for (c, kk), v in expected.items() if kk == k and v[1] is not None]
        avg = long.filter((pl.col("cohort") == "average") & (pl.col("period") == k)).row(0, named=True)
        share = sum(v[1] for v in cells) / sum(v[0] for v in cells)
        assert avg["retention"] == pytest.approx(share, abs=5e-5)  # 4 decimals in a CSV
    cohorts = pl.read_csv("cohorts.csv", schema_overrides={"cohort": pl.String})
    assert cohorts["cohort"][-1] == "all" and cohorts["customers"][-1] == len({c for c, _, v in invoices if v > 0})


# ------------------------------------------------------------------------------------------- sample data
def test_sample_data_outputs_and_figures():
    result = run(
        str(SAMPLE),
        "-o",
        "long.parquet",
        "--wide",
        "wide.csv",
        "--cohorts",
        "cohorts.csv",
        "--show",
        "on",
        "--show",
        "within",
    )
    assert result.exit_code == 0, result.stderr
    assert "As of 2025-01-01 (data before that day); 3,000 customers in 24 monthly cohorts" in result.stderr
    assert "Within: a purchase in any of the 3 months from k; a cell is blank until its last month (k+2) is over" in (
        result.stderr
    )
    assert "Repeat purchase rate within 90 days of the first purchase: 40.3% (988 of 2,450 customers" in result.stderr
    long = pl.read_parquet("long.parquet")
    cohorts = long.filter(pl.col("cohort") != "average")
    assert cohorts.height == 24 * 24
    assert cohorts.filter(pl.col("period") == 0)["retention"].to_list() == [1.0] * 24
    # the December 2024 cohort has lived through its first month only; January 2023 through all 24
    assert cohorts.filter(pl.col("cohort") == "2024-12")["retention"].null_count() == 23
    assert cohorts.filter(pl.col("cohort") == "2023-01")["retention"].null_count() == 0
    assert (
        cohorts.filter(~pl.col("mature"))["active_customers"].null_count() == cohorts.filter(~pl.col("mature")).height
    )
    wide = pl.read_csv("wide.csv")
    assert wide.columns[:5] == ["metric", "cohort", "cohort_customers", "m0", "m1"]
    assert wide.filter(pl.col("metric") == "retention").height == 25
    # the README's figures: month 1 and month 6 of the average cohort, "on" and "within 3 months"
    avg = long.filter(pl.col("cohort") == "average").sort("period")
    assert [round(avg[c][k], 3) for k in (1, 6) for c in ("retention", "retention_within")] == [
        0.226,
        0.378,
        0.135,
        0.242,
    ]
    assert long["horizon"].unique().to_list() == [3]
    # a "within" cell is filled once its 3 months are over: the October 2024 cohort's m0 (Oct-Dec) only
    assert cohorts.filter(pl.col("cohort") == "2024-10")["retention_within"].null_count() == 23
    assert cohorts.filter(pl.col("cohort") == "2024-11")["retention_within"].null_count() == 24
    # piped: two matrices as tab-separated tables on stdout, labelled "on" and "within"
    assert "# customer retention, active ON period k" in result.stdout
    assert "# customer retention, active WITHIN 3 months from period k (k to k+2)" in result.stdout
    assert "cohort\tcohort_customers\trepeat_90d\tm0\tm1" in result.stdout
    assert "\n2024-12\t181\t\t1.0000\t\t" in result.stdout  # blank cells, not 0


def test_terminal_table_is_drawn(monkeypatch: pytest.MonkeyPatch):
    from loyalty_cli.cli import console

    monkeypatch.setattr(console, "_is_tty", lambda stream: True)
    Path("tx.csv").write_text(
        "customer_id,order_date,amount\nA,2024-01-05,10\nA,2024-02-05,10\nB,2024-01-20,5\nC,2024-02-10,7\n"
    )
    result = run("tx.csv", "--as-of", "2024-03-01", "--show", "counts", "--show", "cumulative", "-q")
    assert result.exit_code == 0, result.stderr
    assert "┃ cohort  ┃ customers ┃ repeat 90d ┃ m0 ┃ m1 ┃" in result.stdout  # drawn headers: words
    assert "│ 2024-01 │         2 │            │  2 │  1 │" in result.stdout
    assert "│ 2024-02 │         1 │            │  1 │    │" in result.stdout  # February not over: blank
    assert "│ average │         3 │            │  3 │  1 │" in result.stdout
    assert "│ 2024-01 │         2 │            │ 7.50 │ 12.50 │" in result.stdout
    assert "│ average │         3 │            │ 7.33 │ 12.50 │" in result.stdout


def test_output_to_stdout_and_weeks():
    Path("tx.csv").write_text("customer_id,order_date,amount\nA,2024-01-01,10\nA,2024-01-09,10\nB,2024-01-03,5\n")
    result = run("tx.csv", "--as-of", "2024-01-15", "--period", "week", "-o", "-", "--format", "json", "-q")
    assert result.exit_code == 0, result.stderr
    long = pl.read_json(result.stdout_bytes)
    assert long.filter(pl.col("cohort") == "2024-W01")["active_customers"].to_list() == [2, 1]
    assert long["cohort"].unique().sort().to_list() == ["2024-W01", "average"]


def test_horizon_option_and_final_cells():
    # A (January cohort) buys in January and May; B (January) in January and February
    Path("tx.csv").write_text(
        "customer_id,order_date,amount\nA,2024-01-05,10\nA,2024-05-05,10\nB,2024-01-20,5\nB,2024-02-10,7\n"
    )
    for as_of in ("2024-04-01", "2024-08-01"):
        result = run("tx.csv", "--as-of", as_of, "--horizon", "2", "-o", f"{as_of}.csv", "-q")
        assert result.exit_code == 0, result.stderr
    early, late = (pl.read_csv(f"{d}.csv").filter(pl.col("cohort") == "2024-01") for d in ("2024-04-01", "2024-08-01"))
    # months k, k+1: k0 both, k1 (Feb-Mar) B, k2 (Mar-Apr) nobody, k3 (Apr-May) A, k4 (May-Jun) A, k5
    # (Jun-Jul) nobody; filled once k+1 is over: as of April 1 up to k1 (March), as of August 1 up to k5 (July)
    assert early["active_within_customers"].to_list() == [2, 1, None]
    assert late["active_within_customers"].to_list() == [2, 1, 0, 1, 1, 0, None]
    assert late["horizon"].unique().to_list() == [2]


@pytest.mark.parametrize(
    ("args", "code", "message"),
    [
        (["--period", "day"], 2, "Error: --period must be week, month or quarter, got 'day'"),
        (["--show", "heat"], 2, "Error: --show 'heat' is not a matrix"),
        (["--repeat-window", "0"], 2, "Error: --repeat-window must be at least 1 day, got 0"),
        (["--horizon", "0"], 2, "Error: --horizon must be at least 1 month, got 0"),
        (
            ["--show", "on-or-after"],
            2,
            "Error: --show 'on-or-after' is gone: an open-ended 'on or after' cell changes with every later "
            "purchase\nHint: Use --show within: a purchase in any of the --horizon periods from k, final once they "
            "are over.",
        ),
        (["--format", "csv"], 2, "Error: --format needs --output"),
        (["--wide", "wide.txt"], 2, "Error: Cannot tell the output format of wide.txt"),
        ([], 1, "Error: No customer made a purchase before the as-of date in tx.csv"),
    ],
)
def test_bad_options_and_no_customers(args, code, message):
    Path("tx.csv").write_text("customer_id,order_date,amount\nA,2024-01-01,-10\n")  # a return only
    result = run("tx.csv", *args, "--as-of", "2024-02-01")
    assert result.exit_code == code, result.stderr
    assert message in result.stderr and "Hint: " in result.stderr or code == 2
    assert not Path("wide.txt").exists()


def test_bad_data_and_missing_file():
    Path("tx.csv").write_text("customer_id,order_date,amount\nA,2024-01-01,10\n,2024-01-02,5\nB,someday,5\n")
    result = run("tx.csv", "-o", "out.csv")
    assert result.exit_code == 1
    assert "Error: 2 bad rows in the transactions:" in result.stderr
    assert "Hint: " in result.stderr and not Path("out.csv").exists()
    result = run("missing.csv")
    assert result.exit_code == 1 and result.stderr.startswith("Error: ")
