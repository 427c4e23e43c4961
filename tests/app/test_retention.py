"""``app.retention`` called directly: the config checked in neutral words, the long table, the cohort table,
the repeat purchase rate, the matrices and the notes, hand-computed on a small shop."""

from __future__ import annotations

from datetime import date
from pathlib import Path

import polars as pl
import pytest

from loyalty_cli.app.inputs import Inputs, InputSpec, load_inputs
from loyalty_cli.app.retention import RetentionConfig, retention
from loyalty_cli.app.retention_split import split_column
from loyalty_cli.errors import ConfigError, DataError, setting
from loyalty_cli.io.readers import ReadOptions

AS_OF = date(2024, 4, 1)

# Monthly cohorts as of 2024-04-01 (January to March are over):
#   A  2024-01-10 100, 2024-02-05 50, 2024-03-20 30   cohort 2024-01
#   B  2024-01-20 200                                 cohort 2024-01
#   C  2024-02-14 80, 2024-03-01 40                   cohort 2024-02
# Retention "on": 2024-01: 2/2, 1/2 (A in Feb), 1/2 (A in Mar); 2024-02: 1/1, 1/1 (C in Mar), not over.
# Average: k0 3/3, k1 (1 + 1) / (2 + 1), k2 1/2 (only January's cell is over).
# Repeat within 30 days: every window has closed (first purchase + 30 days before April); A (26 days) and
# C (16 days, 2024 is a leap year) bought again within it, B did not: January 1/2, February 1/1, all 2/3.
SHOP = """customer_id,order_date,amount
A,2024-01-10,100
A,2024-02-05,50
A,2024-03-20,30
B,2024-01-20,200
C,2024-02-14,80
C,2024-03-01,40
"""


@pytest.fixture
def shop(tmp_path: Path) -> Inputs:
    path = tmp_path / "tx.csv"
    path.write_text(SHOP)
    return load_inputs(InputSpec(transactions=[str(path)], as_of=AS_OF, activity=True))


def test_long_table_cohorts_and_repeat_rate(shop):
    result = retention(shop, RetentionConfig(repeat_window=30, show=("on", "revenue")))
    assert result.as_of == AS_OF and result.period == "month" and result.horizon == 3 and result.repeat_window == 30
    long = result.long.select("cohort", "period", "cohort_customers", "active_customers", "retention", "revenue")
    assert long.rows() == [
        ("2024-01", 0, 2, 2, 1.0, 300.0),
        ("2024-01", 1, 2, 1, 0.5, 50.0),
        ("2024-01", 2, 2, 1, 0.5, 30.0),
        ("2024-02", 0, 1, 1, 1.0, 80.0),
        ("2024-02", 1, 1, 1, 1.0, 40.0),
        ("2024-02", 2, 1, None, None, None),
        ("average", 0, 3, 3, 1.0, 380.0),
        ("average", 1, 3, 2, pytest.approx(2 / 3), 90.0),
        ("average", 2, 2, 1, 0.5, 30.0),
    ]
    assert result.cohorts.select("cohort", "customers", "mature_periods", "first_period_revenue").rows() == [
        ("2024-01", 2, 3, 300.0),
        ("2024-02", 1, 2, 80.0),
        ("all", 3, None, 380.0),
    ]
    assert result.cohort_count == 2
    assert result.repeat == {"2024-01": 0.5, "2024-02": 1.0, "average": pytest.approx(2 / 3)}
    assert [m.text for m in result.messages] == [
        "As of 2024-04-01 (data before that day); 3 customers in 2 monthly cohorts; blank cells: periods not over "
        "yet (never counted as 0)",
        "Repeat purchase rate within 30 days of the first purchase: 66.7% (2 of 3 customers whose 30 days are over)",
    ]


def test_matrices_asked_for_and_the_wide_file(shop):
    result = retention(shop, RetentionConfig(show=("on", "revenue")))
    assert list(result.matrices) == ["on", "revenue"]
    on = result.matrices["on"]
    assert on.columns == ["cohort", "cohort_customers", "m0", "m1", "m2"]
    assert on.rows() == [
        ("2024-01", 2, 1.0, 0.5, 0.5),
        ("2024-02", 1, 1.0, 1.0, None),
        ("average", 3, 1.0, pytest.approx(2 / 3), 0.5),
    ]
    assert result.matrices["revenue"]["m1"].to_list() == [pytest.approx(50 / 300), 0.5, pytest.approx(90 / 380)]
    wide = result.wide()
    assert wide["metric"].unique(maintain_order=True).to_list()[:2] == ["retention", "retention_within"]
    assert wide.filter(pl.col("metric") == "retention").drop("metric").rows() == on.rows()
    # no window has closed under the default 90 days
    assert result.repeat == {"2024-01": None, "2024-02": None, "average": None}
    assert result.messages[-1].text == (
        "Repeat purchase rate within 90 days of the first purchase: none yet (no customer's 90 days are over)"
    )


def test_within_a_horizon(shop):
    # within 2 months: January cohort k0 (Jan or Feb) 2/2, k1 (Feb or Mar) 1/2, k2 not over (April);
    # February cohort k0 (Feb or Mar) 1/1, k1 not over
    result = retention(shop, RetentionConfig(horizon=2, show=("within",)))
    assert result.horizon == 2
    assert result.matrices["within"].rows() == [
        ("2024-01", 2, 1.0, 0.5, None),
        ("2024-02", 1, 1.0, None, None),
        ("average", 3, 1.0, 0.5, None),
    ]
    assert result.messages[1].text == (
        "Within: a purchase in any of the 2 months from k; a cell is blank until its last month (k+1) is over"
    )


def test_quarters(shop):
    result = retention(shop, RetentionConfig(period="quarter", show=()))
    assert result.long.filter(pl.col("cohort") != "average").select("cohort", "period", "active_customers").rows() == [
        ("2024-Q1", 0, 3)
    ]
    assert result.matrices == {} and result.horizon == 2


@pytest.mark.parametrize(
    ("settings", "name", "text"),
    [
        ({"period": "year"}, "period", "must be week, month or quarter, got 'year'"),
        ({"repeat_window": 0}, "repeat_window", "must be at least 1 day, got 0"),
        ({"horizon": 0, "period": "week"}, "horizon", "must be at least 1 week, got 0"),
        ({"show": ("on", "nope")}, "show", "'nope' is not a matrix"),
        ({"show": ("on-or-after",)}, "show", "'on-or-after' is gone"),
    ],
)
def test_config_rejects_bad_settings(settings, name, text):
    with pytest.raises(ConfigError) as caught:
        RetentionConfig(**settings)
    assert caught.value.name == name
    assert caught.value.message.startswith(f"{setting(name)} {text}")
    assert "--" not in caught.value.message + (caught.value.hint or "")


@pytest.mark.parametrize(
    ("settings", "name", "text"),
    [
        ({"min_customers": 0}, "min_customers", "must be at least 1, got 0"),
        ({"by": "customer_id"}, "by", "'customer_id' cannot split customers into groups"),
        ({"by": "first_order_date"}, "by", "'first_order_date' cannot split customers into groups"),
        ({"by": "first_"}, "by", "'first_' cannot split customers into groups"),
    ],
)
def test_config_rejects_bad_splits(settings, name, text):
    test_config_rejects_bad_settings(settings, name, text)


def test_split_sources_and_what_they_read():
    assert RetentionConfig().lines() == {} and not RetentionConfig().needs_members
    for by in ("category", "first_category", "channel", "first_channel"):
        assert RetentionConfig(by=by).lines() == {}  # the customer summary has them
    assert RetentionConfig(by="member").needs_members and RetentionConfig(by="member").lines() == {}
    assert list(RetentionConfig(by="first_product").lines()) == ["retention_split"]
    assert list(RetentionConfig(by="product_name").lines()) == ["retention_split"]


def test_split_by_channel_by_hand(tmp_path: Path):
    # A and B web (January), C store (February): web's average k1 = 1/2 (A in Feb), store's = 1/1 (C in Mar)
    path = tmp_path / "tx.csv"
    path.write_text(
        "customer_id,order_date,amount,channel\nA,2024-01-10,100,web\nA,2024-02-05,50,web\nA,2024-03-20,30,web\n"
        "B,2024-01-20,200,web\nC,2024-02-14,80,store\nC,2024-03-01,40,store\n"
    )
    inputs = load_inputs(InputSpec(transactions=[str(path)], as_of=AS_OF, activity=True))
    result = retention(inputs, RetentionConfig(by="channel", min_customers=1, show=("on",)))
    split = result.split
    assert split is not None and split.by == "first_channel" and split.min_customers == 1
    assert split.sizes.select("split", "customers").rows() == [("web", 2), ("store", 1)]
    matrix = split.matrices["on"]
    assert matrix.columns == ["split", "group", "customers", "m0", "m1", "m2"]
    assert matrix.rows() == [
        ("web", "value", 2, 1.0, 0.5, 0.5),
        ("store", "value", 1, 1.0, 1.0, None),
        (None, "all", 3, 1.0, 2 / 3, 0.5),
    ]
    assert split.labelled("on").rows()[-1] == ("all", 3, 1.0, 2 / 3, 0.5)
    # the files: each group's rows, then every customer's (the unsplit long table, group all)
    assert result.table is split.long
    assert split.long.select("split", "group").unique(maintain_order=True).rows() == [
        ("web", "value"),
        ("store", "value"),
        (None, "all"),
    ]
    everyone = split.long.filter(pl.col("group") == "all").drop("by", "split", "group")
    assert everyone.equals(result.long)
    wide = result.wide()
    assert wide.select("split", "group").unique(maintain_order=True).rows() == [
        ("web", "value"),
        ("store", "value"),
        (None, "all"),
    ]
    assert any("Split by first_channel (channel means first_channel)" in m.text for m in result.messages)
    # without a split, nothing changes: the long table is the one written
    plain = retention(inputs, RetentionConfig(show=("on",)))
    assert plain.split is None and plain.table is plain.long and plain.long.equals(result.long)


def test_a_value_spelt_all_is_not_the_row_of_all_customers(tmp_path: Path):
    # channels "all" (A, B) and "(other)" (C): three groups of values; the row of every customer apart
    path = tmp_path / "tx.csv"
    path.write_text(
        "customer_id,order_date,amount,channel\nA,2024-01-10,100,all\nA,2024-02-05,50,all\n"
        "B,2024-01-20,200,all\nC,2024-02-14,80,(other)\nC,2024-03-01,40,(other)\n"
    )
    inputs = load_inputs(InputSpec(transactions=[str(path)], as_of=AS_OF, activity=True))
    result = retention(inputs, RetentionConfig(by="channel", min_customers=1, show=("on",)))
    split = result.split
    assert split is not None
    assert split.matrices["on"].select("split", "group", "customers").rows() == [
        ("all", "value", 2),
        ("(other)", "value", 1),
        (None, "all", 3),
    ]
    assert split.labelled("on")["first_channel"].to_list() == ['"all"', '"(other)"', "all"]
    note = next(m.text for m in result.messages if m.text.startswith("Split by"))
    assert note.endswith(
        '; "all", "(other)" in double quotes: the data\'s own values, not the made-up groups (other), (missing), all'
    )


def test_warnings_mostly_missing_and_unused_minimum(tmp_path: Path):
    # channel empty for B, C and D: 3 of 4 customers (75% > half) in (missing)
    path = tmp_path / "tx.csv"
    path.write_text(
        "customer_id,order_date,amount,channel\nA,2024-01-10,100,web\nB,2024-01-20,200,\n"
        "C,2024-02-14,80,\nD,2024-02-15,60,\n"
    )
    inputs = load_inputs(InputSpec(transactions=[str(path)], as_of=AS_OF, activity=True))
    result = retention(inputs, RetentionConfig(by="channel", min_customers=1))
    warnings = [m.text for m in result.messages if m.level == "warning"]
    assert warnings == [
        f"{setting('by')} channel: 3 customers of 4 (75%) have no value on their first purchase order ((missing)): "
        "the split says little about them; check that the column is filled in"
    ]
    # half exactly is not more than half: A and B web, C and D without
    half = tmp_path / "half.csv"
    half.write_text(path.read_text().replace("B,2024-01-20,200,", "B,2024-01-20,200,web"))
    inputs = load_inputs(InputSpec(transactions=[str(half)], as_of=AS_OF, activity=True))
    assert not [m for m in retention(inputs, RetentionConfig(by="channel")).messages if m.level == "warning"]
    # a minimum without a split is not used: said; the default (None) says nothing
    unused = [m.text for m in retention(inputs, RetentionConfig(min_customers=5)).messages if m.level == "warning"]
    assert unused == [
        f"{setting('min_customers')} 5 is not used without {setting('by')}: it sizes the groups of a split"
    ]
    assert not [m for m in retention(inputs, RetentionConfig()).messages if m.level == "warning"]


def test_a_nested_config_names_its_own_setting():
    # the report's retention_by builds this config: its errors name that setting, not by
    with pytest.raises(ConfigError) as caught:
        RetentionConfig(by="order_id", by_setting="retention_by")
    assert caught.value.name == "retention_by"
    assert caught.value.message.startswith(f"{setting('retention_by')} 'order_id' cannot split")


def test_a_split_column_the_reader_did_not_keep(tmp_path: Path):
    # promo is in the file, but no mapping names it: read without keep, the split cannot find it and says how
    path = tmp_path / "tx.csv"
    path.write_text("customer_id,order_date,amount,promo\nA,2024-01-10,100,P\n")
    config = RetentionConfig(by="promo")
    with pytest.raises(DataError) as caught:
        load_inputs(InputSpec(transactions=[str(path)], as_of=AS_OF, activity=True, lines=config.lines()))
    assert caught.value.message == f"{setting('by')} promo: the transactions have no promo column"
    assert "column option" not in (caught.value.hint or "") and "ReadOptions.keep" in (caught.value.hint or "")
    # kept (split_column names it), it splits
    assert split_column("promo") == "promo" and split_column("first_promo") == "promo"
    assert split_column("member") is None and split_column("first_category") is None
    options = ReadOptions(keep=(split_column("promo"),))
    inputs = load_inputs(
        InputSpec(transactions=[str(path)], options=options, as_of=AS_OF, activity=True, lines=config.lines())
    )
    split = retention(inputs, config).split
    assert split is not None and split.sizes.select("split", "group", "customers").rows() == [(None, "other", 1)]
