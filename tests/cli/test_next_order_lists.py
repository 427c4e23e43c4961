"""``loyalty churn --next-order`` and ``loyalty lifecycle --next-order`` on the shipped sample: the lists carry
next-order's dates for repeat customers (empty for the others), the rest of the file as without the flag, and
the email hand-off carries the dates after the template fields."""

from __future__ import annotations

import csv
from pathlib import Path

import polars as pl
import pytest
from typer.testing import CliRunner

from loyalty_cli.cli import app

RUNNER = CliRunner(
    env={"COLUMNS": "200", "NO_COLOR": "1", "FORCE_COLOR": None, "TTY_COMPATIBLE": None, "TTY_INTERACTIVE": None}
)
SAMPLE = Path(__file__).parent.parent.parent / "sample_data"
TX = str(SAMPLE / "transactions.csv")
CONTACTS = str(SAMPLE / "contacts.csv")
DATES = ["next_order_date", "contact_from", "contact_to"]


@pytest.fixture(autouse=True)
def work(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.chdir(tmp_path)
    return tmp_path


def run(*args: str):
    result = RUNNER.invoke(app, list(args))
    assert result.exception is None or isinstance(result.exception, SystemExit), repr(result.exception)
    assert result.exit_code == 0, result.output
    return result


@pytest.fixture(scope="module")
def next_orders(tmp_path_factory: pytest.TempPathFactory) -> pl.DataFrame:
    """next-order's dates on the sample (as of 2025-01-01): every repeat customer."""
    path = tmp_path_factory.mktemp("next_order") / "next.csv"
    run("next-order", TX, "-q", "-o", str(path))
    return pl.read_csv(path, try_parse_dates=True).select("customer_id", *DATES)


def test_churn_list_carries_next_orders_dates_and_is_otherwise_the_same_file(next_orders):
    run("churn", TX, "-q", "-o", "plain.csv")
    result = run("churn", TX, "--next-order", "-o", "dated.csv")
    assert (
        "Next-order dates from the bgnbd model, as next-order gives them (next_order_date: the median time to the "
        "next order if still active; contact_from..contact_to: its 25th to 75th percentiles): 1,502 repeat customers "
        "dated, 1,498 one-time buyers left empty"
    ) in result.stderr
    plain, dated = (Path(name).read_text().splitlines() for name in ("plain.csv", "dated.csv"))
    assert dated[0] == plain[0] + ",next_order_date,contact_from,contact_to"
    assert [line.rsplit(",", 3)[0] for line in dated] == plain  # every other byte as without the flag
    table = pl.read_csv("dated.csv", try_parse_dates=True)
    repeat = table.filter(pl.col("purchase_days") >= 2)
    assert repeat.height == next_orders.height == 1502
    assert repeat.select("customer_id", *DATES).sort("customer_id").equals(next_orders.sort("customer_id"))
    assert table.filter(pl.col("purchase_days") == 1).select(DATES).null_count().row(0) == (1498,) * 3


def test_churn_hand_off_carries_the_dates_in_the_targets_format(next_orders):
    run("churn", TX, "--status", "lapsing", "--next-order", "--target", "klaviyo", "-q", "-o", "lapsing.csv")
    rows = list(csv.DictReader(Path("lapsing.csv").read_text().splitlines()))
    assert list(rows[0]) == [
        "Email Address",
        "customer_id",
        "loyalty_status",
        "value_tier",
        "worth_costly_offer",
        "last_purchase",
        "orders",
        "net_spend",
        *DATES,
    ]
    expected = {c: tuple(f"{d} 12:00:00" for d in rest) for c, *rest in next_orders.iter_rows()}
    dated = [r for r in rows if r["next_order_date"]]
    assert dated and all(tuple(r[c] for c in DATES) == expected[r["customer_id"]] for r in dated)
    assert all(r["customer_id"] not in expected for r in rows if not r["next_order_date"])  # one-time buyers


def test_lifecycle_to_do_list_with_prospects_and_its_hand_off_still_reads_back(next_orders):
    run("lifecycle", TX, "--contacts", CONTACTS, "-q", "-o", "plain.csv")
    result = run("lifecycle", TX, "--contacts", CONTACTS, "--next-order", "-o", "todo.csv")
    assert "1,502 repeat customers dated, 1,948 one-time buyers and prospects left empty" in result.stderr
    plain, dated = (Path(name).read_text().splitlines() for name in ("plain.csv", "todo.csv"))
    assert [line.rsplit(",", 3)[0] for line in dated] == plain
    todo = pl.read_csv("todo.csv", try_parse_dates=True, infer_schema_length=None)
    assert todo.filter(pl.col("stage") == "prospect").select(DATES).null_count().row(0) == (450,) * 3
    got = todo.filter(pl.col("next_order_date").is_not_null()).select("customer_id", *DATES)
    assert got.sort("customer_id").equals(next_orders.sort("customer_id"))
    # a generic hand-off list carries the dates and still reads back as a previous snapshot
    run("lifecycle", TX, "--contacts", CONTACTS, "--next-order", "--target", "generic", "-q", "-o", "list.csv")
    header = Path("list.csv").read_text().splitlines()[0].split(",")
    assert header[-4:] == ["as_of", *DATES]
    run("lifecycle", TX, "--contacts", CONTACTS, "--previous", "list.csv", "-q", "-o", "again.csv")


@pytest.mark.parametrize(("command", "example"), [("churn", "lapsing.csv"), ("lifecycle", "todo.csv")])
def test_the_flag_needs_a_list_to_put_the_dates_in(command, example):
    result = RUNNER.invoke(app, [command, TX, "--next-order"])
    assert result.exit_code == 2
    assert result.stderr.startswith("Error: --next-order needs -o\nHint: The dates go into the")
    assert f"e.g. -o {example}." in result.stderr


def test_the_flag_is_in_the_help():
    for command in ("churn", "lifecycle"):
        result = RUNNER.invoke(app, [command, "--help"], env={"COLUMNS": "3000"})
        assert "--next-order" in result.stdout
