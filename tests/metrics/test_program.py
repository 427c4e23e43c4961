"""Programme metrics, hand-computed on a small shop (as of 2024-07-01).

Transactions (day, net): A 2023-01-10 100, 2023-03-01 50, 2024-02-01 30; B 2023-02-01 80; C 2023-01-15 40,
2023-06-01 60, 2023-06-10 -10 (a return); D 2023-05-01 20; E 2024-06-01 10.
Members: A enrolled 2023-01-20 (Bronze, Silver since 2023-03-01), B 2023-01-01 (before its first purchase,
Bronze), F 2024-01-01 (Bronze, never bought).
Ledger: A earn 100, earn 50, redeem 100 (exported as -100), adjust -10 (a return); B earn 80, expire 80;
F adjust +25 (welcome); G earn 5 (not a member).
"""

from __future__ import annotations

from datetime import date, datetime

import polars as pl
import pytest

from loyalty_cli.cli.flags import render
from loyalty_cli.errors import UsageError
from loyalty_cli.metrics import program as pm
from loyalty_cli.metrics import program_comparison as pc
from loyalty_cli.stage1.customers import customer_activity, customer_summary

AS_OF = date(2024, 7, 1)
TX = [
    ("A", "2023-01-10", 100),
    ("A", "2023-03-01", 50),
    ("A", "2024-02-01", 30),
    ("B", "2023-02-01", 80),
    ("C", "2023-01-15", 40),
    ("C", "2023-06-01", 60),
    ("C", "2023-06-10", -10),
    ("D", "2023-05-01", 20),
    ("E", "2024-06-01", 10),
]
MEMBERS = [
    ("A", "2023-01-20", "Bronze", "2023-01-20"),
    ("A", "2023-01-20", "Silver", "2023-03-01"),
    ("B", "2023-01-01", "Bronze", None),
    ("F", "2024-01-01", "Bronze", None),
]
POINTS = [
    ("A", "2023-01-20", "earn", 100.0),
    ("A", "2023-03-01", "earn", 50.0),
    ("A", "2023-06-01", "redeem", -100.0),
    ("A", "2023-06-05", "adjust", -10.0),
    ("B", "2023-02-01", "earn", 80.0),
    ("B", "2024-02-01", "expire", -80.0),
    ("F", "2024-01-01", "adjust", 25.0),
    ("G", "2024-03-01", "earn", 5.0),
]


def _ts(text: str | None) -> datetime | None:
    return datetime.fromisoformat(text) if text else None


@pytest.fixture(scope="module")
def shop() -> dict[str, pl.LazyFrame]:
    lines = pl.LazyFrame(
        {
            "customer_id": [r[0] for r in TX],
            "order_date": [_ts(r[1]) for r in TX],
            "amount_cents": [r[2] * 100 for r in TX],
        },
        schema_overrides={"order_date": pl.Datetime("us")},
    )
    customers, activity = pl.collect_all([customer_summary(lines, as_of=AS_OF), customer_activity(lines)])
    members = pl.LazyFrame(
        {
            "customer_id": [r[0] for r in MEMBERS],
            "enrolled_at": [_ts(r[1]) for r in MEMBERS],
            "tier": [r[2] for r in MEMBERS],
            "tier_since": [_ts(r[3]) for r in MEMBERS],
        },
        schema_overrides={"enrolled_at": pl.Datetime("us"), "tier_since": pl.Datetime("us")},
    )
    points = pl.LazyFrame(
        {
            "customer_id": [r[0] for r in POINTS],
            "at": [_ts(r[1]) for r in POINTS],
            "type": [r[2] for r in POINTS],
            "points": [r[3] for r in POINTS],
        },
        schema_overrides={"at": pl.Datetime("us")},
    )
    table = pm.member_table(members, as_of=AS_OF)
    people = pm.program_customers(customers.lazy(), table)
    return {
        "customers": customers.lazy(),
        "activity": activity.lazy(),
        "members": members,
        "points": points,
        "table": table,
        "people": people,
    }


def sample_shop(n: int, *, seed: int, as_of: date) -> tuple[pl.DataFrame, pl.DataFrame, pl.DataFrame]:
    """Stage-1 tables (customers, activity) and the members of a generated shop (``loyalty sample``)."""
    from loyalty_cli.sample import generate_sample

    data = generate_sample(customers=n, seed=seed)
    lines = data.transactions.lazy().select(
        "customer_id", "order_date", "order_id", (pl.col("amount") * 100).round(0).cast(pl.Int64).alias("amount_cents")
    )
    customers, activity = pl.collect_all([customer_summary(lines, as_of=as_of), customer_activity(lines)])
    assert data.members is not None
    return customers, activity, data.members.with_columns(pl.col("enrolled_at", "tier_since").cast(pl.Datetime("us")))


def figures(frame: pl.LazyFrame) -> dict[str, float | None]:
    return dict(frame.collect().select("metric", "value").iter_rows())


def test_member_table_takes_the_current_tier_and_the_first_enrolment(shop: dict[str, pl.LazyFrame]) -> None:
    table = shop["table"].collect()
    assert table.rows() == [
        ("A", date(2023, 1, 20), "Silver"),
        ("B", date(2023, 1, 1), "Bronze"),
        ("F", date(2024, 1, 1), "Bronze"),
    ]


def test_programme_summary(shop: dict[str, pl.LazyFrame]) -> None:
    config = pm.ProgramConfig(point_value=0.01)
    balances = pm.point_balances(shop["points"], shop["table"])
    out = figures(pm.program_summary(shop["people"], balances, as_of=AS_OF, config=config))
    assert out["customers"] == 5 and out["members"] == 3
    assert out["members_who_bought"] == 2 and out["members_without_purchase"] == 1  # F never bought
    assert out["enrolment_rate"] == pytest.approx(2 / 5)
    assert out["enrolled_before_first_purchase"] == 1  # B
    assert out["median_days_first_purchase_to_enrolment"] == pytest.approx((10 - 31) / 2)  # A +10, B -31
    assert out["active_members_365d"] == 1  # A bought 2024-02-01; B's last purchase is older; F never
    assert out["active_member_rate_365d"] == pytest.approx(1 / 3)
    assert out["points_earned"] == 235 and out["points_redeemed"] == 100 and out["points_expired"] == 80
    assert out["points_adjusted"] == 15  # -10 + 25
    assert out["ledger_customers_not_members"] == 1  # G
    assert out["redeemers"] == 1
    assert out["points_redemption_rate"] == pytest.approx(100 / 235)
    assert out["breakage_rate"] == pytest.approx(80 / 235)
    assert out["outstanding_points"] == 70  # A 40, B 0, F 25, G 5
    assert out["negative_balance_points"] == 0
    assert out["liability"] == pytest.approx(0.70)
    assert out["liability_after_breakage"] == pytest.approx(0.70 * 100 / 180)
    rate = pm.redemption_rate(balances, shop["people"]).collect()
    assert rate.select("metric", "value", "n").row(0) == ("member_redemption_rate", pytest.approx(1 / 3), 3)


def test_negative_balances_are_not_a_liability() -> None:
    points = pl.LazyFrame(
        {
            "customer_id": ["X", "X", "Y"],
            "at": [datetime(2024, 1, 1)] * 3,
            "type": ["earn", "adjust", "earn"],
            "points": [10.0, -30.0, 50.0],
        }
    )
    members = pl.LazyFrame({"customer_id": ["X", "Y"], "enrolled": [date(2023, 1, 1)] * 2})
    out = figures(pm._points_summary(pm.point_balances(points, members), config=pm.ProgramConfig(point_value=1.0)))
    assert out["outstanding_points"] == 50 and out["negative_balance_points"] == -20
    assert out["liability"] == 50
    assert out["liability_after_breakage"] is None  # nothing redeemed or expired yet: no basis


def test_enrolment_by_cohort(shop: dict[str, pl.LazyFrame]) -> None:
    out = pm.enrolment_by_cohort(shop["people"]).collect()
    assert out.select("period", "value", "n").rows() == [
        ("2023-01", 0.5, 2),
        ("2023-02", 1.0, 1),
        ("2023-05", 0.0, 1),
        ("2024-06", 0.0, 1),
    ]


def test_points_by_period(shop: dict[str, pl.LazyFrame]) -> None:
    out = pm.points_by_period(shop["points"]).collect()
    wide = out.pivot("metric", index="period", values="value")
    assert wide.rows() == [
        ("2023-01", 100, 0, 0, 0, 100),
        ("2023-02", 80, 0, 0, 0, 180),
        ("2023-03", 50, 0, 0, 0, 230),
        ("2023-06", 0, 100, 0, -10, 120),
        ("2024-01", 0, 0, 0, 25, 145),
        ("2024-02", 0, 0, 80, 0, 65),
        ("2024-03", 5, 0, 0, 0, 70),
    ]
    assert wide.columns[1:] == [
        "points_earned",
        "points_redeemed",
        "points_expired",
        "points_adjusted",
        "points_balance",
    ]


def test_tiers_and_movement(shop: dict[str, pl.LazyFrame]) -> None:
    dist = pm.tier_distribution(shop["members"], as_of=AS_OF).collect()
    assert dist.select("group", "n", "value").rows() == [
        ("Bronze", 2, pytest.approx(2 / 3)),
        ("Silver", 1, pytest.approx(1 / 3)),
    ]
    moves = pm.tier_movement(shop["members"], start=date(2023, 2, 15), end=AS_OF).collect()
    assert moves.select("group", "n").rows() == [
        ("(not a member) -> Bronze", 1),
        ("Bronze -> Bronze", 1),
        ("Bronze -> Silver", 1),
    ]
    assert moves["period"][0] == "2023-02-15 to 2024-07-01"
    start, end = pm.ProgramConfig().tier_dates(AS_OF)
    assert (start, end) == (date(2023, 7, 1), AS_OF)
    moves = pm.tier_movement(shop["members"], start=start, end=end).collect()
    assert moves.select("group", "n").rows() == [
        ("(not a member) -> Bronze", 1),
        ("Bronze -> Bronze", 1),
        ("Silver -> Silver", 1),
    ]


def test_comparison_starts_and_windows(shop: dict[str, pl.LazyFrame]) -> None:
    compared = pc.comparison_customers(
        shop["people"], shop["activity"], as_of=AS_OF, config=pm.ProgramConfig()
    ).collect()
    # A from enrolment, B from its first purchase (enrolled before it), C D E from their first purchase (the
    # members' median lag, clipped at 0 for B, is the lower of 0 and 10 days). F never bought: not compared.
    assert compared.select(
        "customer_id", "group", "start", "bought_again", "orders", "net_spend", "window_closed"
    ).rows() == [
        ("A", "members", date(2023, 1, 20), True, 1, 50.0, True),
        ("B", "members", date(2023, 2, 1), False, 0, 0.0, True),
        ("C", "non-members", date(2023, 1, 15), True, 1, 50.0, True),  # 60 bought, 10 returned
        ("D", "non-members", date(2023, 5, 1), False, 0, 0.0, True),
        ("E", "non-members", date(2024, 6, 1), False, 0, 0.0, False),
    ]
    # retained from k months = a purchase in [start + k months, start + k + 3 months): A's 2024-02-01 is in
    # months 12..14 after 2023-01-20 (not 6..8), C's 2023-06-01 in months 3..5 after 2023-01-15
    assert compared["retained_3m_to_6m"].to_list() == [False, False, True, False, False]
    assert compared["retained_6m_to_9m"].to_list() == [False, False, False, False, False]
    assert compared["retained_12m_to_15m"].to_list() == [True, False, False, False, False]
    # observed once start + k + 3 months is on or before as_of: D (2023-05-01 + 15 months = 2024-08-01) not
    assert compared["observed_12m_to_15m"].to_list() == [True, True, True, False, False]
    assert compared["observed_6m_to_9m"].to_list() == [True, True, True, True, False]


def test_member_comparison_rates_means_and_intervals(shop: dict[str, pl.LazyFrame]) -> None:
    compared = pc.comparison_customers(shop["people"], shop["activity"], as_of=AS_OF, config=pm.ProgramConfig())
    out = pc.member_comparison(compared, config=pm.ProgramConfig()).collect()
    get = {
        (m, g): (v, n, lo, hi)
        for m, g, v, n, lo, hi in out.select("metric", "group", "value", "n", "ci_low", "ci_high").iter_rows()
    }
    v, n, lo, hi = get[("repeat_purchase_rate_365d", "members")]
    assert (v, n) == (0.5, 2)
    # Wilson, z = 1.96: centre (0.5 + 0.9604) / 2.9208 = 0.5, half 0.67112 / 2 ... = 0.4062
    assert lo == pytest.approx(0.0945, abs=1e-4) and hi == pytest.approx(0.9055, abs=1e-4)
    assert get[("repeat_purchase_rate_365d", "non-members")][:2] == (0.5, 2)  # C yes, D no; E too recent
    d = get[("repeat_purchase_rate_365d", "difference")]
    assert d[0] == 0 and d[2] == pytest.approx(-(0.5 - 0.0945) * 2**0.5, abs=1e-3)
    assert get[("retained_3m_to_6m", "members")][:2] == (0.0, 2)
    assert get[("retained_3m_to_6m", "non-members")][:2] == (0.5, 2)  # C yes, D no
    assert get[("retained_12m_to_15m", "members")][:2] == (0.5, 2)  # A yes, B no
    assert get[("retained_12m_to_15m", "non-members")][:2] == (0.0, 1)  # D's 15 months are not over
    assert get[("orders_per_customer_365d", "members")][:2] == (0.5, 2)
    v, n, lo, hi = get[("net_spend_per_customer_365d", "members")]
    assert (v, n) == (25.0, 2)  # 50 and 0: sd 35.36, se 25
    assert lo == pytest.approx(25 - 1.959964 * 25) and hi == pytest.approx(25 + 1.959964 * 25)
    d = get[("net_spend_per_customer_365d", "difference")]
    assert d[0] == 0 and d[3] == pytest.approx(1.959964 * (25**2 + 25**2) ** 0.5)


def _retention_flags(as_of: date, horizon: int = 3) -> list[tuple]:
    """M (member, enrolled at its first purchase 2023-04-01) buys again 2023-07-01; X (non-member, first
    purchase 2023-04-01) on 2023-09-30 (the last day of months 3..5) and 2023-10-01; Y (non-member, first
    purchase 2023-04-01) only on 2024-01-15. Activity dated on or after as_of is not in the data."""
    day = date(2023, 4, 1)
    people = pl.LazyFrame(
        {
            "customer_id": ["M", "X", "Y"],
            "member": [True, False, False],
            "enrolled": [day, None, None],
            "first_purchase": [day] * 3,
            "last_purchase": [day] * 3,
            "bought": [True] * 3,
        }
    )
    rows = [("M", day), ("M", date(2023, 7, 1)), ("X", day), ("X", date(2023, 9, 30)), ("X", date(2023, 10, 1))]
    rows += [("Y", day), ("Y", date(2024, 1, 15))]
    activity = pl.LazyFrame(
        {
            "customer_id": [r[0] for r in rows],
            "day": [r[1] for r in rows],
            "purchases": [1] * 7,
            "net_cents": [100] * 7,
        },
        schema_overrides={"purchases": pl.UInt32},
    ).filter(pl.col("day") < as_of)
    config = pm.ProgramConfig(retention_months=(3,), retention_horizon_months=horizon)
    name = pm.retained(3, config)
    compared = pc.comparison_customers(people, activity, as_of=as_of, config=config).collect()
    return compared.select("customer_id", name, name.replace("retained", "observed")).rows()


def test_retention_from_k_months_is_final_once_observed() -> None:
    assert pm.retained(3, pm.ProgramConfig()) == "retained_3m_to_6m"
    # months 3..5 after 2023-04-01 end on 2023-09-30: observed as of 2023-10-01 (exclusive), not a day earlier
    assert _retention_flags(date(2023, 10, 1)) == [("M", True, True), ("X", True, True), ("Y", False, True)]
    assert [r[2] for r in _retention_flags(date(2023, 9, 30))] == [False, False, False]
    # a year later nothing observed has changed: X's 2023-10-01 and Y's 2024-01-15 are after months 3..5
    # (an open-ended "on or after 3 months" turned Y from no to yes)
    assert _retention_flags(date(2024, 10, 1)) == _retention_flags(date(2023, 10, 1))
    # a 1-month horizon: month 3 only (2023-07-01 .. 2023-07-31): M yes, X no
    assert _retention_flags(date(2024, 10, 1), horizon=1) == [
        ("M", True, True),
        ("X", False, True),
        ("Y", False, True),
    ]
    with pytest.raises(UsageError, match="The retention horizon must be 1 or more months, got 0"):
        pm.ProgramConfig(retention_horizon_months=0)


def test_empty_groups_give_no_figure(shop: dict[str, pl.LazyFrame]) -> None:
    compared = pc.comparison_customers(
        shop["people"], shop["activity"], as_of=AS_OF, config=pm.ProgramConfig(window_days=600)
    ).collect()
    out = pc.member_comparison(compared.lazy(), config=pm.ProgramConfig(window_days=600)).collect()
    row = out.filter(pl.col("metric") == "repeat_purchase_rate_600d", pl.col("group") == "non-members")
    assert row.select("value", "n", "ci_low").row(0) == (None, 0, None)  # no 600-day window has closed yet
    out = pc.member_comparison(
        compared.lazy().filter(pl.col("group") == "members"), config=pm.ProgramConfig()
    ).collect()
    row = out.filter(pl.col("metric") == "net_spend_per_customer_365d", pl.col("group") == "non-members")
    assert row.select("value", "n", "ci_low").row(0) == (None, 0, None)


def test_nps_and_clv_comparisons(shop: dict[str, pl.LazyFrame]) -> None:
    compared = pc.comparison_customers(shop["people"], shop["activity"], as_of=AS_OF, config=pm.ProgramConfig())
    scores = pl.LazyFrame({"customer_id": ["A", "B", "C", "D", "F"], "latest_score": [10, 6, 9, 9, 0]})
    out = pc.nps_comparison(compared, scores, config=pm.ProgramConfig()).collect()
    assert out.select("group", "value", "n").rows() == [
        ("members", 0.0, 2),
        ("non-members", 100.0, 2),
        ("difference", -100.0, 4),
    ]
    members = out.row(0, named=True)  # adjusted Wald: p = d = 1.75 / 5 -> 0 +/- 1.96 * 100 * sqrt(0.7 / 5)
    assert members["ci_high"] == pytest.approx(1.959964 * 100 * (0.7 / 5) ** 0.5)
    predictions = pl.LazyFrame({"customer_id": ["A", "B", "C", "D", "E"], "clv": [10.0, 20.0, 1.0, 3.0, 5.0]})
    out = pc.clv_comparison(compared, predictions, column="clv", config=pm.ProgramConfig()).collect()
    assert out.select("metric", "group", "value", "n").rows() == [
        ("mean_clv", "members", 15.0, 2),
        ("mean_clv", "non-members", 3.0, 3),
        ("mean_clv", "difference", 12.0, 5),
    ]


def test_config_checks() -> None:
    with pytest.raises(UsageError) as caught:
        pm.ProgramConfig(point_value=-1)
    assert "point-value" in render(str(caught.value))
    with pytest.raises(UsageError) as caught:
        pm.ProgramConfig(window_days=0)
    assert "window" in render(str(caught.value))
    with pytest.raises(UsageError, match="start date before"):
        pm.ProgramConfig(tiers_from=date(2024, 8, 1)).tier_dates(AS_OF)
    with pytest.raises(UsageError, match="must end by the as-of date"):  # that data is not read
        pm.ProgramConfig(tiers_to=date(2024, 9, 1)).tier_dates(AS_OF)


def test_generator_member_effect_is_recovered_within_the_interval() -> None:
    """The synthetic shop enrols buyers who buy again within 365 days of their anchor day with probability
    0.6, others with 0.2 (sample_programme.MEMBER_ENROL): given the pooled repeat rate r of the compared customers,
    members should show 0.6r / (0.6r + 0.2(1 - r)) and non-members 0.4r / (0.4r + 0.8(1 - r))."""
    from loyalty_cli.sample_programme import MEMBER_ENROL

    as_of = date(2025, 1, 1)
    customers, activity, members_df = sample_shop(2500, seed=5, as_of=as_of)
    members = members_df.lazy()
    people = pm.program_customers(customers.lazy(), pm.member_table(members, as_of=as_of))
    compared = pc.comparison_customers(people, activity.lazy(), as_of=as_of, config=pm.ProgramConfig())
    out = (
        pc.member_comparison(compared, config=pm.ProgramConfig())
        .filter(pl.col("metric") == "repeat_purchase_rate_365d")
        .collect()
    )
    rows = {g: (v, n, lo, hi) for g, v, n, lo, hi in out.select("group", "value", "n", "ci_low", "ci_high").iter_rows()}
    (p1, n1, *_), (p0, n0, *_) = rows["members"], rows["non-members"]
    r = (p1 * n1 + p0 * n0) / (n1 + n0)
    a, b = MEMBER_ENROL[True], MEMBER_ENROL[False]
    expected = {
        "members": a * r / (a * r + b * (1 - r)),
        "non-members": (1 - a) * r / ((1 - a) * r + (1 - b) * (1 - r)),
    }
    expected["difference"] = expected["members"] - expected["non-members"]
    for group, value in expected.items():
        _, _, lo, hi = rows[group]
        assert lo <= value <= hi, (group, value, lo, hi)
    assert rows["difference"][2] > 0.2  # a large, clearly detected difference


def test_program_table_is_the_same_to_the_last_digit_whatever_the_row_order() -> None:
    """The compared customers come out of joins in no fixed order; the table is put in order before its
    float means, so reruns write the same file."""
    as_of = date(2025, 1, 1)
    customers, activity, members = sample_shop(1500, seed=2, as_of=as_of)
    clv = customers.select("customer_id", (pl.col("net_spend") / 7).alias("predicted_clv_12m"))
    tables = []
    for seed in range(4):
        shuffled = [frame.sample(fraction=1.0, shuffle=True, seed=seed) for frame in (customers, activity, clv)]
        # several chunks, as a streaming collect leaves them
        chunked = [
            pl.concat([f.head(f.height // 3), f.tail(f.height - f.height // 3)], rechunk=False) for f in shuffled
        ]
        tables.append(
            pc.program_table(
                chunked[0],
                chunked[1],
                members,
                as_of=as_of,
                config=pm.ProgramConfig(),
                predictions=chunked[2],
                predicted="predicted_clv_12m",
            )
        )
    assert all(t.equals(tables[0]) for t in tables[1:])
    assert "mean_predicted_clv_12m" in tables[0]["metric"].to_list()


def test_members_nps_never_mixes_relational_and_transactional_answers() -> None:
    from loyalty_cli.metrics.program_comparison import headline_answers

    both = pl.DataFrame({"customer_id": ["A", "B", "C"], "survey_type": ["relational", "transactional", None]})
    assert headline_answers(both)["customer_id"].to_list() == ["A"]
    one = both.filter(pl.col("survey_type") != "relational")
    assert headline_answers(one).equals(one)  # one kind (or untyped): every answer
