from __future__ import annotations

from datetime import date, datetime
from pathlib import Path
from typing import Literal

import polars as pl
import pytest

from loyalty_cli.sample import SampleData, generate_sample, write_sample

START, END = date(2023, 1, 1), date(2024, 12, 31)
IS_RETURN = pl.col("order_id").str.starts_with("C")


@pytest.fixture(scope="module")
def data() -> SampleData:
    return generate_sample(customers=3000, seed=11)


def test_same_seed_gives_identical_frames() -> None:
    a, b = generate_sample(customers=400, seed=3), generate_sample(customers=400, seed=3)
    assert a.transactions.equals(b.transactions)
    assert a.surveys.equals(b.surveys)
    assert a.contacts.equals(b.contacts)


def test_different_seeds_differ() -> None:
    a, b = generate_sample(customers=400, seed=3), generate_sample(customers=400, seed=4)
    assert not a.transactions.equals(b.transactions)
    assert not a.surveys.equals(b.surveys)


def test_columns_and_dtypes(data: SampleData) -> None:
    assert data.transactions.schema == pl.Schema(
        {
            "order_id": pl.String,
            "customer_id": pl.String,
            "order_date": pl.Datetime("us"),
            "sku": pl.String,
            "category": pl.String,
            "channel": pl.String,
            "quantity": pl.Int64,
            "unit_price": pl.Float64,
            "amount": pl.Float64,
            "email": pl.String,
            "product_name": pl.String,
        }
    )
    assert data.surveys.schema == pl.Schema(
        {
            "customer_id": pl.String,
            "responded_at": pl.Datetime("us"),
            "score": pl.Int64,
            "comment": pl.String,
            "survey_type": pl.String,
            "touchpoint": pl.String,
        }
    )
    assert data.contacts.schema == pl.Schema(
        {
            "customer_id": pl.String,
            "email": pl.String,
            "signed_up_at": pl.Date,
            "birthday": pl.Date,
            "email_consent": pl.String,
        }
    )
    tx = data.transactions
    assert set(tx["channel"].unique()) == {"web", "app", "store"}
    assert tx["category"].n_unique() == 6
    names = tx.select("sku", "product_name", "category").unique()
    assert names.height == tx["sku"].n_unique() == names["product_name"].n_unique()  # one name per SKU, all differ
    assert set(data.contacts["email_consent"].unique()) == {"yes", "no"}
    assert set(data.surveys["survey_type"].unique()) == {"relational", "transactional"}


@pytest.mark.parametrize(("start", "end"), [(START, END), (date(2024, 2, 1), date(2024, 3, 15))])
def test_dates_within_range(start: date, end: date) -> None:
    sample = generate_sample(customers=1500, seed=5, start=start, end=end)
    for frame, column in ((sample.transactions, "order_date"), (sample.surveys, "responded_at")):
        days = frame[column].dt.date()
        assert days.min() >= start and days.max() <= end
    signed_up = sample.contacts["signed_up_at"]
    assert signed_up.min() >= start and signed_up.max() <= end


def test_rows_are_sorted(data: SampleData) -> None:
    assert data.transactions.equals(data.transactions.sort("order_date", "order_id", "sku"))
    assert data.surveys.equals(data.surveys.sort("responded_at", "customer_id"))
    assert data.contacts.equals(data.contacts.sort("customer_id"))


def test_realistic_share_of_one_time_buyers(data: SampleData) -> None:
    orders = data.transactions.filter(~IS_RETURN).group_by("customer_id").agg(pl.col("order_id").n_unique())
    assert orders.height == 3000
    assert 0.3 < (orders["order_id"] == 1).mean() < 0.7
    assert orders["order_id"].max() > 5


def test_returns_and_cancellations(data: SampleData) -> None:
    tx = data.transactions
    returns, sales = tx.filter(IS_RETURN), tx.filter(~IS_RETURN)
    share = returns["order_id"].n_unique() / sales["order_id"].n_unique()
    assert 0.02 < share < 0.06
    assert (returns["quantity"] < 0).all() and (returns["amount"] < 0).all()
    assert (sales["quantity"] >= 1).all() and (sales["amount"] > 0).all()
    assert returns["order_id"].str.contains(r"^C\d{6,}$").all()
    assert sales["order_id"].str.contains(r"^\d{6,}$").all()
    assert tx.group_by("order_id").agg(pl.col("customer_id", "order_date").n_unique()).select(
        pl.col("customer_id", "order_date").max()
    ).row(0) == (1, 1)
    # Every returned line was bought earlier by the same customer.
    bought = sales.group_by("customer_id", "sku").agg(first=pl.col("order_date").min())
    matched = returns.join(bought, on=["customer_id", "sku"], how="left")
    assert (matched["first"] < matched["order_date"]).all()


def test_multi_line_orders(data: SampleData) -> None:
    lines = data.transactions.filter(~IS_RETURN).group_by("order_id").len()["len"]
    assert lines.min() == 1 and lines.max() == 4
    assert 0.3 < (lines > 1).mean() < 0.7
    assert not data.transactions.select(pl.struct("order_id", "sku").is_duplicated().any()).item()


def test_amount_is_quantity_times_unit_price(data: SampleData) -> None:
    tx = data.transactions
    assert tx["amount"].equals((tx["quantity"] * tx["unit_price"]).round(2), check_names=False)
    assert tx["unit_price"].equals(tx["unit_price"].round(2)) and (tx["unit_price"] > 0).all()


def test_survey_scores(data: SampleData) -> None:
    surveys = data.surveys
    scores = surveys["score"].drop_nulls()
    assert scores.min() >= 0 and scores.max() <= 10
    assert 0 < surveys["score"].null_count() < 0.1 * surveys.height
    assert 0.15 < surveys["customer_id"].n_unique() / 3000 < 0.4
    comments = surveys["comment"].drop_nulls()
    assert comments.str.contains(",").any() and comments.str.contains('"').any()
    # Frequent buyers score higher on average.
    orders = data.transactions.filter(~IS_RETURN).group_by("customer_id").agg(n=pl.col("order_id").n_unique())
    frequent = surveys.join(orders, on="customer_id").group_by(pl.col("n") > 3).agg(pl.col("score").mean())
    mean = dict(frequent.iter_rows())
    assert mean[True] > mean[False]


def test_contacts_and_prospects(data: SampleData) -> None:
    contacts, tx = data.contacts, data.transactions
    first = tx.group_by("customer_id").agg(first=pl.col("order_date").min().dt.date())
    joined = contacts.join(first, on="customer_id", how="left")
    prospects = joined.filter(pl.col("first").is_null())
    assert prospects.height == 450  # 15% of 3000 buyers, who never bought
    assert set(tx["customer_id"].unique()) <= set(contacts["customer_id"])
    assert (joined.drop_nulls("first")["signed_up_at"] <= joined.drop_nulls("first")["first"]).all()
    assert contacts["customer_id"].is_unique().all() and contacts["email"].is_unique().all()
    assert contacts["email"].str.contains(r"^[a-z0-9]+@example\.(com|org)$").all()
    assert 0.3 < contacts["birthday"].null_count() / contacts.height < 0.5
    emails = contacts.join(tx.select("customer_id", "email").unique(), on="customer_id")
    assert (emails["email"] == emails["email_right"]).all()


@pytest.mark.parametrize("fmt", ["csv", "parquet"])
def test_write_sample_reads_back(data: SampleData, tmp_path: Path, fmt: Literal["csv", "parquet"]) -> None:
    folder = tmp_path / "out" / "sample"
    paths = write_sample(data, folder, fmt=fmt)
    assert [p.name for p in paths] == [
        f"{name}.{fmt}" for name in ("transactions", "surveys", "contacts", "members", "points")
    ]
    for path, frame in zip(
        paths, (data.transactions, data.surveys, data.contacts, data.members, data.points), strict=True
    ):
        assert frame is not None
        back = pl.read_csv(path) if fmt == "csv" else pl.read_parquet(path)
        assert back.columns == frame.columns and back.height == frame.height
        if fmt == "parquet":
            assert back.equals(frame)
    if fmt == "csv":
        tx = pl.read_csv(paths[0], schema_overrides={"order_id": pl.String})
        assert tx["order_date"].str.contains(r"^\d{4}-\d{2}-\d{2} \d{2}:\d{2}:\d{2}$").all()
        assert tx["order_date"].str.to_datetime("%Y-%m-%d %H:%M:%S").equals(data.transactions["order_date"])
        assert tx["amount"].equals(data.transactions["amount"])
        surveys = pl.read_csv(paths[1])
        assert surveys["comment"].equals(data.surveys["comment"])
        assert datetime.fromisoformat(surveys["responded_at"][0]) == data.surveys["responded_at"][0]


def test_large_sample_is_quick() -> None:
    sample = generate_sample(customers=200_000, seed=1)
    assert sample.transactions.height > 200_000
    assert sample.transactions["customer_id"].n_unique() == 200_000


def test_programme_does_not_change_the_other_tables() -> None:
    """Members and points come from a random stream of their own: the shop is the same with or without them."""
    import numpy as np

    from loyalty_cli.sample_programme import _programme

    a = generate_sample(customers=500, seed=2)
    members, points = _programme(np.random.default_rng([2, 1]), a.transactions, a.contacts, END)
    assert a.members is not None and a.members.equals(members) and a.points is not None and a.points.equals(points)


def test_members_and_points(data: SampleData) -> None:
    members, points, tx = data.members, data.points, data.transactions
    assert members is not None and points is not None
    assert members.schema == pl.Schema(
        {
            "customer_id": pl.String,
            "enrolled_at": pl.Date,
            "tier": pl.String,
            "tier_since": pl.Date,
            "channel": pl.String,
        }
    )
    assert points.schema == pl.Schema(
        {
            "customer_id": pl.String,
            "at": pl.Datetime("us"),
            "points": pl.Int64,
            "type": pl.String,
            "order_id": pl.String,
        }
    )
    first = tx.filter(~IS_RETURN).group_by("customer_id").agg(first=pl.col("order_date").min().dt.date())
    enrolled = members.unique("customer_id").join(first, on="customer_id", how="left")
    buyers = enrolled.drop_nulls("first")
    assert 0.25 < buyers.height / 3000 < 0.5  # enrolment rate
    assert enrolled["first"].null_count() > 0  # prospects who enrolled without buying
    lag = (buyers["enrolled_at"] - buyers["first"]).dt.total_days()
    assert lag.min() == 0 and lag.max() <= 14  # at checkout or within two weeks
    assert set(members["tier"]) == {"Bronze", "Silver", "Gold"}
    assert (members["tier_since"] >= members["enrolled_at"]).all()
    assert set(points["type"]) == {"earn", "redeem", "expire", "adjust"}
    signs = points.group_by("type").agg(pl.col("points").min().alias("lo"), pl.col("points").max().alias("hi"))
    sign = {t: (lo, hi) for t, lo, hi in signs.iter_rows()}
    assert sign["earn"][0] >= 0 and sign["redeem"][1] < 0 and sign["expire"][1] < 0
    assert set(points["customer_id"]) <= set(members["customer_id"])
    assert points["at"].dt.date().max() <= END
    assert points.equals(
        points.sort(
            "at",
            "customer_id",
            pl.col("type").replace_strict({"adjust": 0, "earn": 1, "redeem": 2, "expire": 3}),
            "order_id",
            nulls_last=False,
        )
    )


# ``loyalty sample``: the default is the shipped shop; existing files are kept unless --force.

SHIPPED = Path(__file__).parent.parent / "sample_data"
FILES = ("transactions", "surveys", "contacts", "members", "points")


def _sample(*args: str):  # noqa: ANN202 - a click Result
    from typer.testing import CliRunner

    from loyalty_cli.cli import app

    return CliRunner(env={"COLUMNS": "200", "NO_COLOR": "1"}).invoke(app, ["sample", *args])


def test_the_default_writes_the_shipped_sample_byte_for_byte(tmp_path: Path) -> None:
    from loyalty_cli import sample
    from loyalty_cli.cli import data

    assert (data.SAMPLE_CUSTOMERS, data.SAMPLE_SEED) == (sample.SAMPLE_CUSTOMERS, sample.SAMPLE_SEED)
    result = _sample("-o", str(tmp_path / "sample_data"))
    assert result.exit_code == 0, result.stderr
    assert sorted(p.name for p in (tmp_path / "sample_data").iterdir()) == sorted(p.name for p in SHIPPED.iterdir())
    for name in FILES:
        assert (tmp_path / "sample_data" / f"{name}.csv").read_bytes() == (SHIPPED / f"{name}.csv").read_bytes(), name


def test_existing_files_are_kept_without_force(tmp_path: Path) -> None:
    folder = tmp_path / "shop"
    folder.mkdir()
    (folder / "surveys.csv").write_text("mine\n")
    (folder / "notes.txt").write_text("not ours\n")
    result = _sample("-o", str(folder), "--customers", "50")
    assert result.exit_code == 2, result.stderr
    assert result.stderr == (
        f"Error: {folder} already holds surveys.csv: loyalty sample would overwrite it\n"
        "Hint: Pass --force to overwrite the sample's files (transactions, surveys, contacts, members, points), "
        "or write to another folder with -o.\n"
    )
    assert sorted(p.name for p in folder.iterdir()) == ["notes.txt", "surveys.csv"]  # nothing written
    assert (folder / "surveys.csv").read_text() == "mine\n"
    # Another format writes other files; --force overwrites.
    assert _sample("-o", str(folder), "--customers", "50", "--format", "parquet").exit_code == 0
    again = _sample("-o", str(folder), "--customers", "50", "--format", "parquet")
    assert (
        again.exit_code == 2
        and "already holds transactions.parquet, surveys.parquet, contacts.parquet, " in again.stderr
    )
    forced = _sample("-o", str(folder), "--customers", "50", "--force")
    assert forced.exit_code == 0, forced.stderr
    assert (folder / "surveys.csv").read_text().startswith("customer_id,responded_at,score,")
    assert (folder / "notes.txt").read_text() == "not ours\n"


def test_help_names_the_five_files() -> None:
    result = _sample("--help")
    assert result.exit_code == 0
    text = " ".join(result.stdout.split())
    for name in FILES:
        assert f"{name}.csv" in text, name
    assert "--force" in text


def test_a_file_in_the_way_is_an_error(tmp_path: Path) -> None:
    (tmp_path / "shop").write_text("a file\n")
    result = _sample("-o", str(tmp_path / "shop"), "--customers", "10")
    assert result.exit_code == 1, result.stderr
    assert result.exception is None or isinstance(result.exception, SystemExit), repr(result.exception)
    assert result.stderr.startswith(f"Error: Could not write {tmp_path / 'shop'}: File exists\nHint: ")
