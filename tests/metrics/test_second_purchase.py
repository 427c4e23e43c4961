"""Time to second purchase: hand-computed Kaplan-Meier, shares, quantiles, window, value buckets, action list."""

from __future__ import annotations

from datetime import date, datetime, timedelta
from fractions import Fraction
from pathlib import Path

import polars as pl
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from loyalty_cli.errors import UsageError
from loyalty_cli.metrics.second_purchase import (
    ALL,
    MISSING,
    SecondPurchaseConfig,
    Window,
    history_start,
    km_curve,
    repurchase_shares,
    second_purchase_gaps,
    timing_summary,
)
from loyalty_cli.metrics.second_purchase_value import action_list, first_year_value, value_by_bucket
from loyalty_cli.stage1.customers import customer_activity, customer_summary

AS_OF = date(2024, 3, 1)  # exclusive: the last day in the data is 2024-02-29


def customers(rows, *, as_of=AS_OF) -> pl.LazyFrame:
    """A customer summary from (id, first_purchase, second_purchase, category) rows: only the columns used."""
    return pl.DataFrame(
        [(cid, first, second, cat, as_of) for cid, first, second, cat in rows],
        schema={
            "customer_id": pl.String,
            "first_purchase": pl.Date,
            "second_purchase": pl.Date,
            "first_category": pl.String,
            "as_of": pl.Date,
        },
        orient="row",
    ).lazy()


def assert_values(got: list, expected: list) -> None:
    """Equal up to float rounding, with None (an empty cell) only where expected."""
    assert [g is None for g in got] == [e is None for e in expected], got
    assert [g for g in got if g is not None] == pytest.approx([e for e in expected if e is not None])


def d(text: str) -> date:
    return date.fromisoformat(text)


# Eight first-time buyers. observed_days = 2024-02-29 - first purchase.
#   id  first       second      gap  observed
#   r1  2024-01-20  2024-01-25    5  40
#   r2  2024-02-23  2024-02-28    5   6
#   r3  2024-02-17  2024-02-27   10  12
#   r4  2024-02-04  2024-02-24   20  25
#   o1  2024-02-26  -             -   3   (censored)
#   o2  2024-02-19  -             -  10   (censored)
#   o3  2024-02-14  -             -  15   (censored)
#   o4  2024-01-30  -             -  30   (censored)
KM = customers(
    [
        ("r1", d("2024-01-20"), d("2024-01-25"), "X"),
        ("r2", d("2024-02-23"), d("2024-02-28"), "X"),
        ("r3", d("2024-02-17"), d("2024-02-27"), "X"),
        ("r4", d("2024-02-04"), d("2024-02-24"), "X"),
        ("o1", d("2024-02-26"), None, "X"),
        ("o2", d("2024-02-19"), None, "X"),
        ("o3", d("2024-02-14"), None, "X"),
        ("o4", d("2024-01-30"), None, "X"),
    ]
)


def test_gaps_and_observed_days():
    gaps = second_purchase_gaps(KM).collect().sort("customer_id")
    assert gaps.select("customer_id", "gap_days", "observed_days").rows() == [
        ("o1", None, 3),
        ("o2", None, 10),
        ("o3", None, 15),
        ("o4", None, 30),
        ("r1", 5, 40),
        ("r2", 5, 6),
        ("r3", 10, 12),
        ("r4", 20, 25),
    ]
    assert set(gaps["group"]) == {ALL}


def test_km_curve_hand_computed():
    # day  at risk (time >= day)  events  censored  S
    #  3   8                      0       1         1
    #  5   7                      2       0         5/7
    # 10   5                      1       1         5/7 x 4/5 = 4/7
    # 15   3                      0       1         4/7
    # 20   2                      1       0         4/7 x 1/2 = 2/7
    # 30   1                      0       1         2/7
    curve = km_curve(KM).collect()
    assert curve.select("group", "day", "at_risk", "repurchased", "censored").rows() == [
        (ALL, 3, 8, 0, 1),
        (ALL, 5, 7, 2, 0),
        (ALL, 10, 5, 1, 1),
        (ALL, 15, 3, 0, 1),
        (ALL, 20, 2, 1, 0),
        (ALL, 30, 1, 0, 1),
    ]
    assert curve["not_repurchased"].to_list() == pytest.approx([1, 5 / 7, 4 / 7, 4 / 7, 2 / 7, 2 / 7])
    assert curve["repurchased_share"].to_list() == pytest.approx([0, 2 / 7, 3 / 7, 3 / 7, 5 / 7, 5 / 7])


def test_censored_customers_are_never_failures():
    # Counting the four one-time buyers as "never came back" would give 4/8 by day 20; the curve says 5/7.
    # A customer censored later than every event changes nothing; one censored early only leaves the risk set.
    late = pl.concat([KM, customers([("late", d("2023-01-01"), None, "X")])])
    early = pl.concat([KM, customers([("early", d("2024-02-28"), None, "X")])])  # observed 1 day
    base = km_curve(KM).collect()["not_repurchased"].to_list()
    with_late = km_curve(late).collect()
    # 'late' is at risk at every event day: 5/7 becomes 6/8 = 3/4, then x 5/6 ... it only *adds* survivors
    assert with_late.filter(pl.col("day") == 5)["not_repurchased"].item() == pytest.approx(6 / 8)
    drops = with_late.with_columns(pl.col("not_repurchased").diff().fill_null(0).alias("drop"))
    assert (drops.filter(pl.col("repurchased") == 0)["drop"] == 0).all()  # only second purchases lower the curve
    assert km_curve(early).collect().filter(pl.col("day") > 1)["not_repurchased"].to_list() == pytest.approx(base)


def test_shares_count_only_customers_observed_that_long():
    shares = repurchase_shares(KM, min_n=1).collect()
    # within 7: observed >= 7 are r1, r3, r4, o2, o3, o4 (r2, observed 6, and o1 are out); returned: r1
    # within 14: r1, r4, o3, o4; returned r1.  within 30: r1, o4; returned r1.  within 60: nobody observed.
    assert shares.select("within_days", "observed", "returned").rows() == [
        (7, 6, 1),
        (14, 4, 1),
        (30, 2, 1),
        (60, 0, 0),
        (90, 0, 0),
        (180, 0, 0),
        (365, 0, 0),
    ]
    assert_values(shares["share"].to_list(), [1 / 6, 1 / 4, 1 / 2, None, None, None, None])
    assert_values(shares["km_share"].to_list(), [2 / 7, 3 / 7, 5 / 7, None, None, None, None])
    # min_n: a share from fewer customers is left empty, its counts stay
    shares = repurchase_shares(KM, min_n=3).collect()
    assert_values(shares["share"].to_list()[:3], [1 / 6, 1 / 4, None])
    assert shares["observed"].to_list()[2] == 2


def test_timing_summary_quantiles_repeaters_and_window():
    row = timing_summary(KM, config=SecondPurchaseConfig(min_n=1)).collect().row(0, named=True)
    assert (row["group"], row["first_buyers"], row["repeaters"], row["one_time_buyers"]) == (ALL, 8, 4, 4)
    # p25: first day with S <= 0.75 is day 5 (5/7); p50: S <= 0.5 first at day 20 (2/7); p75 (S <= 0.25)
    # and p90 never: the curve ends at 2/7 on day 30
    assert (row["p25_days"], row["p50_days"], row["p75_days"], row["p90_days"]) == (5, 20, None, None)
    assert (row["km_last_day"], row["km_not_repurchased"]) == (30, pytest.approx(2 / 7))
    # repeaters only: gaps 5, 5, 10, 20
    assert (row["repeaters_mean_gap_days"], row["repeaters_median_gap_days"]) == (10.0, 7.5)
    # window p25-p75 of 4 gaps: sorted index ceil(1) - 1 = 0 -> 5, ceil(3) - 1 = 2 -> 10
    assert (row["window_from_days"], row["window_to_days"], row["window_source"]) == (5, 10, ALL)
    assert_values([row[f"share_{n}d"] for n in (7, 14, 30, 60)], [1 / 6, 1 / 4, 1 / 2, None])
    # min_n 5: 8 buyers keep their quantiles; 4 repeaters are too few for their stats and the window
    row = timing_summary(KM, config=SecondPurchaseConfig(min_n=5)).collect().row(0, named=True)
    assert (row["p25_days"], row["p50_days"]) == (5, 20)
    assert row["repeaters_mean_gap_days"] is None and row["repeaters_median_gap_days"] is None
    assert (row["window_from_days"], row["window_to_days"], row["window_source"]) == (None, None, None)


def test_quantile_exactly_reached_counts():
    # 4 buyers, one repurchases on day 2: S = 3/4 exactly, so p25 is day 2 (not "never")
    four = customers(
        [("a", d("2024-01-01"), d("2024-01-03"), "X")] + [(f"o{i}", d("2024-01-01"), None, "X") for i in range(3)]
    )
    row = timing_summary(four, config=SecondPurchaseConfig(min_n=1)).collect().row(0, named=True)
    assert (row["p25_days"], row["p50_days"]) == (2, None)


def test_window_percentiles_are_inverse_cdf_and_fixed_days():
    ten = customers([(f"c{g}", d("2023-01-01"), d("2023-01-01") + timedelta(days=g), "X") for g in range(1, 11)])
    for window, expected in (
        (Window("percentile", 25, 75), (3, 8)),
        (Window("percentile", 10, 90), (1, 9)),
        (Window("percentile", 50, 100), (5, 10)),
        (Window("days", 14, 60), (14, 60)),
    ):
        row = timing_summary(ten, config=SecondPurchaseConfig(min_n=1, window=window)).collect().row(0, named=True)
        assert (row["window_from_days"], row["window_to_days"]) == expected, window
    assert row["window_source"] == "fixed"


@pytest.mark.parametrize(
    "kwargs",
    [
        {"kind": "percentile", "low": 0, "high": 50},
        {"kind": "percentile", "low": 75, "high": 25},
        {"kind": "percentile", "low": 50, "high": 101},
        {"kind": "days", "low": 30, "high": 10},
    ],
)
def test_bad_windows(kwargs):
    with pytest.raises(UsageError):
        Window(**kwargs)
    with pytest.raises(UsageError):
        SecondPurchaseConfig(min_n=0)


# Groups: A has 4 repeaters (gaps 2, 4, 6, 8) and one one-time buyer; B one repeater (gap 30) and two one-time
# buyers; one customer without a category.
GROUPS = customers(
    [(f"a{g}", d("2024-01-01"), d("2024-01-01") + timedelta(days=g), "A") for g in (2, 4, 6, 8)]
    + [
        ("a0", d("2024-02-25"), None, "A"),  # 5 days since: inside A's window 2-6
        ("b1", d("2023-12-01"), d("2023-12-31"), "B"),
        ("b2", d("2024-02-24"), None, "B"),  # 6 days since: inside the (all) window 4-8
        ("b3", d("2024-02-28"), None, "B"),  # 2 days since: opens in 2 days, closes in 6: upcoming
        ("m1", d("2024-02-23"), None, None),
    ]  # 7 days since: inside the (all) window
)


def test_by_group_with_min_n_and_window_fallback():
    config = SecondPurchaseConfig(by="first_category", min_n=3)
    table = timing_summary(GROUPS, config=config).collect()
    assert table["group"].to_list() == [ALL, "A", "B", MISSING]  # (all) first, then by size
    assert table.select("first_buyers", "repeaters").rows() == [(9, 5), (5, 4), (3, 1), (1, 0)]
    # A: own window p25-p75 of 2, 4, 6, 8 = 2-6; (all): gaps 2, 4, 6, 8, 30: index ceil(1.25)-1 = 1 -> 4,
    # ceil(3.75)-1 = 3 -> 8. B (1 repeater) and (missing) (none) fall back to it.
    assert table.select("window_from_days", "window_to_days", "window_source").rows() == [
        (4, 8, ALL),
        (2, 6, "A"),
        (4, 8, ALL),
        (4, 8, ALL),
    ]
    # stats from fewer than 3 customers are empty: B's repeaters, all of (missing)
    assert table["repeaters_median_gap_days"].to_list() == [6.0, 5.0, None, None]
    assert table["p25_days"].null_count() == 1 and table["p25_days"][3] is None
    # every customer once in its group, and once in (all)
    curve = km_curve(GROUPS, by="first_category").collect()
    assert dict(curve.group_by("group").agg(pl.col("at_risk").max()).iter_rows()) == {
        ALL: 9,
        "A": 5,
        "B": 3,
        MISSING: 1,
    }

    actions = action_list(GROUPS, timing_summary(GROUPS, config=config), config=config).collect()
    # a0: A's window 2-6 closes 2024-02-25 + 6 = 03-02; m1: (all) window 4-8 closes 02-23 + 8 = 03-02 (2024 is
    # a leap year); b2 closes 02-24 + 8 = 03-03; b3 opens 02-28 + 4 = 03-03, closes 03-07 (within 14 days)
    assert actions.select(
        "customer_id", "first_category", "days_since_first", "status", "nudge_date", "window_closes", "window_source"
    ).rows() == [
        ("a0", "A", 5, "open", AS_OF, d("2024-03-02"), "A"),
        ("m1", None, 7, "open", AS_OF, d("2024-03-02"), ALL),
        ("b2", "B", 6, "open", AS_OF, d("2024-03-03"), ALL),
        ("b3", "B", 2, "upcoming", d("2024-03-03"), d("2024-03-07"), ALL),
    ]


def test_action_list_dates_and_closing_horizon():
    # fixed window 10-12 days; as_of 2024-03-01; one-time buyers by days since their first purchase:
    #   s5  (2024-02-25): closes in 7 days, not within --closing 7 (days 0..6) -> left out
    #   s6  (2024-02-24): closes in 6 days -> upcoming, nudge when it opens 2024-03-05, closes 2024-03-07
    #   s10 (2024-02-20): open, closes 2024-03-03;  s12 (2024-02-18): open, last day today
    #   s13 (2024-02-17): closed -> left out; r11: bought again -> left out
    rows = [(f"s{n}", AS_OF - timedelta(days=n), None, "X") for n in (5, 6, 10, 12, 13)]
    rows.append(("r11", AS_OF - timedelta(days=11), AS_OF - timedelta(days=2), "X"))
    frame = customers(rows).with_columns(
        pl.lit(1, pl.UInt32).alias("orders"), pl.lit(25.0).alias("net_spend"), pl.lit(0.0).alias("returns_value")
    )
    config = SecondPurchaseConfig(min_n=1, window=Window("days", 10, 12), closing_days=7)
    actions = action_list(frame, timing_summary(frame, config=config), config=config).collect()
    assert actions.columns == [
        "customer_id",
        "first_purchase",
        "first_category",
        "days_since_first",
        "status",
        "nudge_date",
        "window_opens",
        "window_closes",
        "window_from_days",
        "window_to_days",
        "window_source",
        "orders",
        "net_spend",
        "returns_value",
    ]
    assert actions.select(
        "customer_id", "first_purchase", "days_since_first", "status", "nudge_date", "window_opens", "window_closes"
    ).rows() == [
        ("s12", d("2024-02-18"), 12, "open", d("2024-03-01"), d("2024-02-28"), d("2024-03-01")),
        ("s10", d("2024-02-20"), 10, "open", d("2024-03-01"), d("2024-03-01"), d("2024-03-03")),
        ("s6", d("2024-02-24"), 6, "upcoming", d("2024-03-05"), d("2024-03-05"), d("2024-03-07")),
    ]
    config = SecondPurchaseConfig(min_n=1, window=Window("days", 10, 12), closing_days=0)
    actions = action_list(frame, timing_summary(frame, config=config), config=config).collect()
    assert actions["customer_id"].to_list() == ["s12", "s10"]


def test_no_window_no_actions():
    config = SecondPurchaseConfig(min_n=50)
    assert action_list(KM, timing_summary(KM, config=config), config=config).collect().height == 0


# Value: lines through the stage-1 tables. as_of 2025-06-01, so the last day in the data is 2025-05-31.
def lines(rows) -> pl.LazyFrame:
    return pl.DataFrame(
        [(c, f"{c}{i}", datetime.fromisoformat(t), cents) for i, (c, t, cents) in enumerate(rows)],
        schema={
            "customer_id": pl.String,
            "order_id": pl.String,
            "order_date": pl.Datetime("us"),
            "amount_cents": pl.Int64,
        },
        orient="row",
    ).lazy()


VALUE_AS_OF = date(2025, 6, 1)
VALUE_LINES = lines(
    [
        # a: 100 on day 0; second purchase day 10 (gap 10: 0-30); a return on day 31; 30 on day 365 (2024 is a leap
        # year: 2024-01-01 + 365 days = 2024-12-31, counted); 999 on day 366 (not counted)
        ("a", "2024-01-01 10:00", 10000),
        ("a", "2024-01-11", 5000),
        ("a", "2024-02-01", -2000),
        ("a", "2024-12-31", 3000),
        ("a", "2025-01-01", 99900),
        ("b", "2024-01-01", 4000),
        ("b", "2024-03-01", 1000),  # gap 60: 31-60
        ("c", "2024-02-01", 2000),
        ("c", "2025-03-01", 7000),  # gap 394: never (within 365 days)
        ("d", "2024-01-05 09:00", 3000),
        ("d", "2024-01-05 18:00", 500),  # two orders on the first day: never
        ("f", "2024-01-01", 1000),
        ("f", "2024-12-31", 2500),  # gap 365: 181-365
        ("h", "2024-05-31", 1000),  # observed exactly 365 days (to 2025-05-31): counted, never
        ("i", "2024-06-01", 1000),  # observed 364 days: left out
        ("e", "2025-01-01", 1000),
        ("e", "2025-01-02", 1000),  # observed 150 days: left out
    ]
)


@pytest.mark.parametrize("with_summary", [False, True], ids=["window", "summary-first-purchase"])
def test_first_year_value_from_the_activity_table(with_summary):
    # the first purchase day found in the activity, or taken from the customer summary: the same table
    summary = customer_summary(VALUE_LINES, as_of=VALUE_AS_OF) if with_summary else None
    value = first_year_value(customer_activity(VALUE_LINES), customers=summary).collect().sort("customer_id")
    assert value.select("customer_id", "first_day_cents", "after_first_cents").rows() == [
        ("a", 10000, 6000),
        ("b", 4000, 1000),
        ("c", 2000, 0),
        ("d", 3500, 0),
        ("e", 1000, 1000),
        ("f", 1000, 2500),
        ("h", 1000, 0),
        ("i", 1000, 0),
    ]
    assert value["first_purchase"].to_list()[:2] == [date(2024, 1, 1), date(2024, 1, 1)]


def test_value_by_bucket_hand_computed():
    summary = customer_summary(VALUE_LINES, as_of=VALUE_AS_OF)
    value = first_year_value(customer_activity(VALUE_LINES))
    table = value_by_bucket(summary, value, min_n=1).collect()
    assert table.select("bucket").to_series().cast(pl.String).to_list() == [
        "0-30",
        "31-60",
        "61-90",
        "91-180",
        "181-365",
        "never",
    ]
    assert table["customers"].to_list() == [1, 1, 0, 0, 1, 3]  # a; b; f; c, d, h (i and e not observed 365)
    assert table["share_customers"].to_list() == pytest.approx([1 / 6, 1 / 6, 0, 0, 1 / 6, 3 / 6])
    # spend = first day + 365 days after: a 100 + 50 - 20 + 30 = 160; b 50; f 35; never: c 20, d 35, h 10
    assert_values(table["mean_spend_365d"].to_list(), [160, 50, None, None, 35, 65 / 3])
    assert table["median_spend_365d"][5] == 20.0
    assert table["mean_repeat_spend_365d"].to_list() == [60.0, 10.0, None, None, 25.0, 0.0]
    assert table["total_spend_365d"].to_list() == pytest.approx([160, 50, 0, 0, 35, 65])
    # min_n 2: only the never bucket (3 customers) keeps its mean
    table = value_by_bucket(summary, value, min_n=2).collect()
    assert table["mean_spend_365d"].null_count() == 5


# A textbook Kaplan-Meier, one event time at a time, to check the vectorised one against.
def reference_km(times: list[tuple[int, bool]]) -> dict[int, Fraction]:
    surv, out = Fraction(1), {}
    for t in sorted({t for t, _ in times}):
        at_risk = sum(1 for u, _ in times if u >= t)
        events = sum(1 for u, e in times if u == t and e)
        surv *= 1 - Fraction(events, at_risk)
        out[t] = surv
    return out


buyer = st.tuples(st.integers(min_value=0, max_value=60), st.one_of(st.none(), st.integers(min_value=1, max_value=60)))


@settings(max_examples=60, deadline=None)
@given(st.lists(buyer, min_size=1, max_size=25), st.randoms(use_true_random=False))
def test_km_matches_a_reference_and_ignores_row_order(buyers, rnd):
    last = AS_OF - timedelta(days=1)
    rows, times = [], []
    for i, (observed, gap) in enumerate(buyers):
        first = last - timedelta(days=observed)
        second = first + timedelta(days=gap) if gap is not None and gap <= observed else None
        rows.append((f"c{i}", first, second, "X"))
        times.append((gap if second else observed, second is not None))
    curve = km_curve(customers(rows)).collect()
    expected = reference_km(times)
    assert curve["day"].to_list() == sorted(expected)
    assert curve["not_repurchased"].to_list() == pytest.approx([float(v) for v in expected.values()])
    assert curve["not_repurchased"].is_sorted(descending=True)
    rnd.shuffle(rows)
    assert km_curve(customers(rows)).collect().equals(curve)
    shares = repurchase_shares(customers(rows), min_n=1).collect()
    seen = [(observed, t if e else None) for (observed, _), (t, e) in zip(buyers, times, strict=True)]
    for within, observed, returned in shares.select("within_days", "observed", "returned").iter_rows():
        assert observed == sum(1 for obs, _ in seen if obs >= within)
        assert returned == sum(1 for obs, gap in seen if obs >= within and gap is not None and gap <= within)


DATA = Path(__file__).parent.parent / "data"


def test_cdnow_second_purchase_facts():
    """The CDNOW 1/10 sample (2,357 first-time buyers) against the whole cohort's published facts (reference/
    README.md: 17.5% / 25.2% / 29.2% within 30 / 60 / 90 days, repeaters' median 57, mean 111; 365-day spend
    218 vs 30.5). Data: Fader & Hardie via lifetimes (MIT, tests/data/LICENSE.lifetimes.txt)."""
    rows = [line.split() for line in (DATA / "CDNOW_sample.txt").read_text().splitlines() if line.strip()]
    raw = pl.DataFrame(
        {
            "customer_id": [r[1] for r in rows],
            "order_date": [datetime.strptime(r[2], "%Y%m%d") for r in rows],
            "amount_cents": [round(float(r[4]) * 100) for r in rows],
        }
    ).lazy()
    summary = customer_summary(raw, as_of=date(1998, 7, 1))
    config = SecondPurchaseConfig()
    table, shares, buckets = pl.collect_all(
        [
            timing_summary(summary, config=config),
            repurchase_shares(summary),
            value_by_bucket(summary, first_year_value(customer_activity(raw))),
        ]
    )
    row = table.row(0, named=True)
    assert (row["first_buyers"], row["repeaters"]) == (2357, 1139)
    assert shares.filter(pl.col("within_days").is_in([30, 60, 90])).select("observed", "returned").rows() == [
        (2357, 410),
        (2357, 601),
        (2357, 687),
    ]
    assert [row[f"share_{n}d"] for n in (30, 60, 90)] == pytest.approx([0.175, 0.252, 0.292], abs=0.005)
    assert row["repeaters_median_gap_days"] == 55.0  # whole cohort: 57
    assert row["repeaters_mean_gap_days"] == pytest.approx(107.88, abs=0.01)  # whole cohort: 111
    assert row["p25_days"] == 59 and row["p50_days"] is None  # 51% never came back within the 545 days seen
    spend = dict(zip(buckets["bucket"].cast(pl.String), buckets["mean_spend_365d"], strict=True))
    assert spend["0-30"] == pytest.approx(230.73, abs=0.01)  # whole cohort: 218
    assert spend["never"] == pytest.approx(30.59, abs=0.01)  # whole cohort: 30.5


# --- a history that starts before the data -----------------------------------------------------------------
START = date(2023, 1, 1)


def first_buyers(per_day: dict[range, int], *, as_of: date = date(2024, 3, 1)) -> pl.LazyFrame:
    """``n`` one-time buyers whose first purchase is on each day of a range of days after START."""
    days = [START + timedelta(days=day) for days, n in per_day.items() for day in days for _ in range(n)]
    return customers([(f"c{i}", day, None, "X") for i, day in enumerate(days)], as_of=as_of)


def start_row(frame: pl.LazyFrame, **kwargs) -> dict:
    return history_start(frame, **kwargs).collect().row(0, named=True)


def test_history_that_starts_before_the_data():
    # days 0-29: 2 first purchases a day (60); days 30-89: 1 a day (60): 60 of 120 in the first 30 days (50%,
    # z = (60 - 40) / sqrt(120 x 1/3 x 2/3) = 3.87)
    row = start_row(first_buyers({range(30): 2, range(30, 400): 1}))
    assert row == {
        "data_start": START,
        "start_buyers": 60,
        "early_buyers": 120,
        "start_share": 0.5,
        "observed_365d": 60 + 30,  # first purchase on or before 2023-03-01 (day 59): 2024-02-29 - 365 days
        "observed_365d_from_start": 60,
        "truncated": True,
    }
    # a shop that opens (or a cohort acquired over months): as many first purchases a day later on
    row = start_row(first_buyers({range(400): 1}))
    assert (row["start_share"], row["truncated"]) == (pytest.approx(1 / 3), False)
    # 40% is flagged when it is not chance: 180 of 450 is (z = 30 / 10), 179 of 449 is not, nor 30 of 75
    later = {range(30, 90): 4, range(89, 90): 30}
    assert start_row(first_buyers({range(30): 6, **later}))["truncated"] is True
    assert start_row(first_buyers({range(29): 6, range(29, 30): 5, **later}))["truncated"] is False
    assert start_row(first_buyers({range(30): 1, range(30, 75): 1}))["truncated"] is False  # z = 5 / 4.08
    # nobody after the first 30 days
    row = start_row(first_buyers({range(30): 2}))
    assert (row["start_share"], row["truncated"]) == (1.0, True)


def test_history_start_cannot_tell():
    # fewer than min_n first purchases in the first 30 days; data shorter than 90 days; no customers
    assert start_row(first_buyers({range(10): 2}))["truncated"] is None  # 20 < 30
    assert start_row(first_buyers({range(10): 2}), min_n=20)["truncated"] is True
    assert start_row(first_buyers({range(30): 2}, as_of=START + timedelta(days=89)))["truncated"] is None
    assert start_row(first_buyers({range(30): 2}, as_of=START + timedelta(days=90)))["truncated"] is True
    empty = history_start(first_buyers({})).collect()
    assert empty.height == 1 and empty["truncated"][0] is None and empty["start_buyers"][0] == 0


def test_history_start_on_known_data():
    """The CDNOW cohort (acquired over 12 weeks) is not flagged; the same data from its 5th week is: everyone
    who bought in the first four weeks and again later looks like a new customer in week 5."""
    rows = [line.split() for line in (DATA / "CDNOW_sample.txt").read_text().splitlines() if line.strip()]
    raw = pl.DataFrame(
        {
            "customer_id": [r[1] for r in rows],
            "order_date": [datetime.strptime(r[2], "%Y%m%d") for r in rows],
            "amount_cents": [round(float(r[4]) * 100) for r in rows],
        }
    ).lazy()
    whole = start_row(customer_summary(raw, as_of=date(1998, 7, 1)))
    assert whole["truncated"] is False and whole["start_share"] == pytest.approx(759 / 2357)
    late = customer_summary(raw.filter(pl.col("order_date") >= datetime(1997, 2, 1)), as_of=date(1998, 7, 1))
    assert start_row(late)["truncated"] is True
