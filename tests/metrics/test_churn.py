"""Churn: statuses by own vs population inter-purchase time (hand-computed), thresholds exactly met, rules
validation, value tiers, churn rate by period (by hand and against a brute-force replay), model P(alive)."""

from __future__ import annotations

import random
from datetime import date, datetime, timedelta
from pathlib import Path

import polars as pl
import pytest

from loyalty_cli.errors import RulesError, UsageError
from loyalty_cli.metrics.churn import churn_status, purchase_days, reason, same_customer
from loyalty_cli.metrics.churn_model import model_predictions
from loyalty_cli.metrics.churn_ranking import rank_by_value, status_summary
from loyalty_cli.metrics.churn_rates import churn_rates, churn_tables
from loyalty_cli.rules.churn import load_churn_rules, parse_churn_rules
from loyalty_cli.stage1.customers import customer_activity, customer_summary

ROOT = Path(__file__).parent.parent.parent
AS_OF = date(2024, 7, 1)


def lines(rows) -> pl.LazyFrame:
    """Lines from (customer, day, amount): one order each, at noon."""
    return pl.DataFrame(
        [(c, datetime(d.year, d.month, d.day, 12), round(a * 100)) for c, d, a in rows],
        schema={"customer_id": pl.String, "order_date": pl.Datetime("us"), "amount_cents": pl.Int64},
        orient="row",
    ).lazy()


def history(customer: str, recency: int, gaps: list[int], spend: float) -> list:
    """Purchases ending ``recency`` days before AS_OF with these gaps between them; ``spend`` in total."""
    last = AS_OF - timedelta(days=recency)
    days = [last]
    for gap in reversed(gaps):
        days.insert(0, days[0] - timedelta(days=gap))
    amounts = [spend - 1.0 * (len(days) - 1)] + [1.0] * (len(days) - 1)
    return [(customer, d, a) for d, a in zip(days, amounts, strict=True)]


# Own IPT (median of own gaps) needs 2 gaps; the population IPT is the median of the own IPT of every
# customer with at least one gap: P 10, Q 20, R 6, S 40, W 5 -> median(5, 6, 10, 20, 40) = 10.
#   id  gaps          IPT              lapsing after  lapsed after  days since last  status
#   P   10, 10, 20    own 10           15             30            15 (exactly)     active
#   Q   10, 30        own 20           30             60            31               lapsing
#   R   4, 6, 8       own 6            9              18            18 (exactly)     lapsing
#   S   40            population 10    15             30            30 (exactly)     lapsing (one gap only)
#   T   -             population 10    15             30            15 (exactly)     active (one purchase)
#   U   -             population 10    15             30            100              lapsed
#   V   -             population 10    15             30            23               lapsing
#   W   5, 5          own 5            7.5            15            16               lapsed
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
EXPECTED = {
    "P": ("active", "own", 10.0, 15.0, 30.0),
    "Q": ("lapsing", "own", 20.0, 30.0, 60.0),
    "R": ("lapsing", "own", 6.0, 9.0, 18.0),
    "S": ("lapsing", "population", 10.0, 15.0, 30.0),
    "T": ("active", "population", 10.0, 15.0, 30.0),
    "U": ("lapsed", "population", 10.0, 15.0, 30.0),
    "V": ("lapsing", "population", 10.0, 15.0, 30.0),
    "W": ("lapsed", "own", 5.0, 7.5, 15.0),
}
RULES = load_churn_rules()


def status_of(rows, rules=RULES, as_of=AS_OF) -> pl.DataFrame:
    tx = lines(rows)
    return (
        churn_status(customer_summary(tx, as_of=as_of), customer_activity(tx), rules=rules)
        .collect()
        .sort("customer_id")
    )


def rules_text(**sections: str) -> str:
    base = {"lapsing": "multiplier = 1.5", "lapsed": "multiplier = 3"}
    base.update(sections)
    return "\n".join(f"[{name}]\n{body}" for name, body in base.items()) + "\n"


def test_statuses_by_own_and_population_ipt():
    table = status_of(SHOP)
    got = {
        r["customer_id"]: (r["status"], r["ipt_source"], r["ipt_days"], r["lapsing_after_days"], r["lapsed_after_days"])
        for r in table.iter_rows(named=True)
    }
    assert got == EXPECTED
    assert table["gaps"].to_list() == [3, 2, 3, 1, 0, 0, 0, 2]
    assert table["own_ipt_days"].to_list() == [10.0, 20.0, 6.0, 40.0, None, None, None, 5.0]
    reasons = dict(zip(table["customer_id"], table["reason"], strict=True))
    assert reasons["P"] == (
        "15 days since the last purchase <= lapsing threshold 1.5 x IPT = 15 days; "
        "IPT = own median gap 10 days (3 gaps)"
    )
    assert reasons["S"] == (
        "30 days since the last purchase > lapsing threshold 1.5 x IPT = 15 days, <= "
        "lapsed threshold 3 x IPT = 30 days; IPT = population 10 days (own: 1 gap, fewer "
        "than 2)"
    )
    assert reasons["U"] == (
        "100 days since the last purchase > lapsed threshold 3 x IPT = 30 days; "
        "IPT = population 10 days (own: 0 gaps, fewer than 2)"
    )
    assert reasons["R"].startswith(
        "18 days since the last purchase > lapsing threshold 1.5 x IPT = 9 days, <= lapsed threshold 3 x IPT = 18 days"
    )


def test_mean_gap_min_gaps_and_bounds():
    # own = mean: P's gaps 10, 10, 20 -> 13.33; lapsing after 20 days: 15 days is active
    rules = parse_churn_rules('[ipt]\nown = "mean"\n' + rules_text(), source="mean.toml")
    table = status_of(SHOP, rules)
    assert table.filter(pl.col("customer_id") == "P").select("ipt_days", "status").row(0) == (
        pytest.approx(40 / 3),
        "active",
    )
    # min_gaps = 1: S uses its own 40-day gap -> lapsing after 60: active at 30 days
    rules = parse_churn_rules("[ipt]\nmin_gaps = 1\n" + rules_text(), source="one.toml")
    assert status_of(SHOP, rules).filter(pl.col("customer_id") == "S")["status"].item() == "active"
    # lapsing: at least 10 days -> R (1.5 x 6 = 9) is lapsing after 10 days; at most 20 -> Q after 20
    rules = parse_churn_rules(rules_text(lapsing="multiplier = 1.5\nmin_days = 10\nmax_days = 20"), source="b.toml")
    table = status_of(SHOP, rules).filter(pl.col("customer_id").is_in(["Q", "R"]))
    assert table["lapsing_after_days"].to_list() == [20.0, 10.0]
    assert "max(" not in table["reason"][0] and "1.5 x IPT (at least 10 days, at most 20 days)" in table["reason"][0]


def test_fixed_days_and_percentile_thresholds():
    rules = parse_churn_rules(rules_text(lapsing="days = 20", lapsed="days = 45"), source="days.toml")
    table = status_of(SHOP, rules)
    assert dict(zip(table["customer_id"], table["status"], strict=True)) == {
        "P": "active",
        "Q": "lapsing",
        "R": "active",
        "S": "lapsing",
        "T": "active",
        "U": "lapsed",
        "V": "lapsing",
        "W": "active",
    }
    assert "IPT" not in table["reason"][0]  # fixed days: the IPT plays no part
    # p50 and p75 of the own IPTs 5, 6, 10, 20, 40 (linear): 10 and 20
    rules = parse_churn_rules(rules_text(lapsing="percentile = 50", lapsed="percentile = 75"), source="p.toml")
    table = status_of(SHOP, rules)
    assert table["lapsing_after_days"].unique().to_list() == [10.0]
    assert table["lapsed_after_days"].unique().to_list() == [20.0]
    assert dict(zip(table["customer_id"], table["status"], strict=True))["Q"] == "lapsed"


def test_no_repeat_customer_leaves_status_empty():
    table = status_of([("A", date(2024, 6, 1), 10), ("B", date(2024, 5, 1), 10)])
    assert table["status"].to_list() == [None, None]
    rules = parse_churn_rules(rules_text(lapsing="days = 20", lapsed="days = 45"), source="d.toml")
    assert status_of([("A", date(2024, 6, 1), 10), ("B", date(2024, 5, 1), 10)], rules)["status"].to_list() == [
        "lapsing",
        "lapsed",
    ]


def test_value_tiers_and_costly_offers():
    ranked = rank_by_value(status_of(SHOP).lazy(), rules=RULES).collect()
    # spend 800 ... 100: q80 (linear) = 660, q50 = 450 -> high: P, Q; medium: R, S; low: T, U, V, W
    tiers = dict(zip(ranked["customer_id"], ranked["value_tier"], strict=True))
    assert tiers == {
        "P": "high",
        "Q": "high",
        "R": "medium",
        "S": "medium",
        "T": "low",
        "U": "low",
        "V": "low",
        "W": "low",
    }
    assert ranked.select("customer_id", "status", "value_rank", "worth_costly_offer").rows() == [
        ("P", "active", 1, None),
        ("T", "active", 2, None),
        ("Q", "lapsing", 1, True),
        ("R", "lapsing", 2, True),
        ("S", "lapsing", 3, True),
        ("V", "lapsing", 4, False),
        ("U", "lapsed", 1, False),
        ("W", "lapsed", 2, False),  # low-value lapsed: not worth a costly offer
    ]
    summary = status_summary(ranked.lazy()).collect()
    assert summary.select("status", "customers", "net_spend", "high_value", "worth_costly_offer").rows() == [
        ("active", 2, 1200.0, 1, 0),
        ("lapsing", 4, 2000.0, 1, 3),
        ("lapsed", 2, 400.0, 0, 0),
    ]


BAD_RULES = [
    ("[lapsing]\nmultiplier = 1.5\n", "bad.toml: no [lapsed] section"),
    (
        rules_text(lapsing="multiplier = 1.5\ndays = 30"),
        "bad.toml: [lapsing] needs exactly one of multiplier, days or percentile (got multiplier, days)",
    ),
    (rules_text(lapsed="factor = 3"), "bad.toml: [lapsed] has unknown key(s) factor"),
    (rules_text(lapsed="multiplier = -3"), "bad.toml: [lapsed] multiplier must be a number > 0, got -3"),
    (rules_text(lapsed='multiplier = "3"'), "bad.toml: [lapsed] multiplier must be a number > 0, got '3'"),
    (rules_text(lapsed="multiplier = 1"), "bad.toml: [lapsed] multiplier (1) must be above [lapsing] multiplier"),
    (rules_text(lapsing="percentile = 100"), "bad.toml: [lapsing] percentile must be between 0 and 100"),
    (rules_text(lapsing="days = 30\nmin_days = 10"), "bad.toml: [lapsing] min_days only goes with multiplier"),
    (
        rules_text(lapsing="multiplier = 1.5\nmin_days = 30\nmax_days = 10"),
        "bad.toml: [lapsing] min_days (30) is above max_days (10)",
    ),
    (
        rules_text(lapsing="multiplier = 1.5\nmin_days = 60", lapsed="multiplier = 2\nmax_days = 45"),
        "bad.toml: [lapsed] is at most 45 days, but [lapsing] is at least 60: nobody could be lapsing",
    ),
    (
        rules_text(lapsing="multiplier = 1.5\nmin_days = 60", lapsed="days = 50"),
        "bad.toml: [lapsed] is at most 50 days, but [lapsing] is at least 60",
    ),
    ('[ipt]\nown = "mode"\n' + rules_text(), 'bad.toml: [ipt] own must be "median" or "mean", got \'mode\''),
    ("[ipt]\nmin_gaps = 0\n" + rules_text(), "bad.toml: [ipt] min_gaps must be a whole number >= 1, got 0"),
    ("[value]\nhigh = 0.4\nmedium = 0.5\n" + rules_text(), "bad.toml: [value] needs 0 < medium < high < 1"),
    ('[value]\ncostly_offer = ["gold"]\n' + rules_text(), "bad.toml: [value] costly_offer must be a list of tiers"),
    ("bins = 5\n" + rules_text(), "bad.toml: unknown key(s) bins"),
    ("lapsing = 3\n" + rules_text(lapsed="multiplier = 3").split("\n", 2)[2], "bad.toml: [lapsing] must be a table"),
    ("[lapsing\n", "bad.toml is not valid TOML"),
]


@pytest.mark.parametrize(("text", "message"), BAD_RULES)
def test_rules_validation_names_file_and_key(text, message):
    with pytest.raises(RulesError) as err:
        parse_churn_rules(text, source="bad.toml")
    assert err.value.message.startswith(message)


def test_shipped_rules_load_and_match_the_package(tmp_path):
    assert (ROOT / "rules" / "churn.toml").read_text() == (
        ROOT / "src" / "loyalty_cli" / "rules" / "churn.toml"
    ).read_text()
    rules = load_churn_rules(ROOT / "rules" / "churn.toml")
    assert (rules.lapsing.value, rules.lapsed.value, rules.min_gaps, rules.own_ipt) == (1.5, 3.0, 2, "median")
    assert RULES.source == "built-in churn" and RULES.costly_offer == ("high", "medium")
    with pytest.raises(RulesError, match="Churn rules file not found: missing.toml"):
        load_churn_rules("missing.toml")


# ------------------------------------------------------------------------------------------ churn rates
FIXED = parse_churn_rules(rules_text(lapsing="days = 10", lapsed="days = 20"), source="fixed.toml")


def test_churn_rate_by_hand():
    # Lapsed at the start of day s when s - last purchase before s > 20 days. As of 2024-04-01.
    #   A: Jan 5, Feb 20           Feb 1 lapsed (27)  Mar 1 active (10)  Apr 1 lapsed (41)
    #   B: Jan 25, Jan 28, Mar 25  Feb 1 active (4)   Mar 1 lapsed (32)  Apr 1 active (7)
    #   C: Feb 2                   -                  Mar 1 lapsed (28)  Apr 1 lapsed
    #   D: Mar 10                  -                  -                  Apr 1 lapsed (22)
    #   E: twice a month           active             active             active
    d = date
    rows = [
        ("A", d(2024, 1, 5), 10),
        ("A", d(2024, 2, 20), 10),
        ("B", d(2024, 1, 25), 10),
        ("B", d(2024, 1, 28), 10),
        ("B", d(2024, 3, 25), 10),
        ("C", d(2024, 2, 2), 10),
        ("D", d(2024, 3, 10), 10),
    ]
    rows += [("E", d(2024, m, day), 10) for m in (1, 2, 3) for day in (10, 25)]
    tx = lines(rows)
    status = churn_status(customer_summary(tx, as_of=d(2024, 4, 1)), customer_activity(tx), rules=FIXED)
    rates = churn_rates(status, customer_activity(tx)).collect()
    assert rates.select(
        "period", "customers_at_start", "new_customers", "churned", "reactivated", "lapsed_at_end", "active_at_end"
    ).rows() == [
        ("2024-01", 0, 3, 0, 0, 1, 2),  # A lapses in its first month: new, not churned
        ("2024-02", 2, 1, 1, 1, 2, 2),  # B churns, A comes back, C is new and lapsed by Mar 1
        ("2024-03", 2, 1, 1, 1, 3, 2),  # A churns, B comes back, D is new and lapsed by Apr 1
    ]
    assert rates["churn_rate"].to_list() == [None, 0.5, 0.5]
    assert rates["period_start"].to_list() == [d(2024, 1, 1), d(2024, 2, 1), d(2024, 3, 1)]
    # the statuses at as_of agree with the replay at the last boundary
    assert status.collect().filter(pl.col("status") == "lapsed").height == 3


def brute_force(rows, thresholds: dict[str, float], as_of: date) -> list[tuple]:
    """The churn table by replaying every customer on every month boundary, in plain Python."""
    buys: dict[str, list[date]] = {}
    for c, day, amount in rows:
        if amount > 0:
            buys.setdefault(c, []).append(day)

    def state(c: str, s: date) -> str | None:
        before = [x for x in buys[c] if x < s]
        if not before:
            return None
        return "lapsed" if (s - max(before)).days > thresholds[c] else "active"

    first = min(min(v) for v in buys.values())
    months = []
    m = date(first.year, first.month, 1)
    while m <= as_of:
        months.append(m)
        m = date(m.year + (m.month == 12), m.month % 12 + 1, 1)
    out = []
    for start, end in zip(months, months[1:], strict=False):
        if end > as_of:
            break
        pairs = [(state(c, start), state(c, end)) for c in buys]
        out.append(
            (
                start.strftime("%Y-%m"),
                sum(a == "active" for a, _ in pairs),
                sum(min(buys[c]) >= start and min(buys[c]) < end for c in buys),
                sum(a == "active" and b == "lapsed" for a, b in pairs),
                sum(a == "lapsed" and b == "active" for a, b in pairs),
                sum(b == "lapsed" for _, b in pairs),
                sum(b == "active" for _, b in pairs),
            )
        )
    return out


@pytest.mark.parametrize("rules", [FIXED, RULES], ids=["fixed-days", "ipt-multiplier"])
def test_churn_rate_matches_a_brute_force_replay(rules):
    rng = random.Random(7)
    rows = []
    for i in range(40):
        day = date(2023, 1, 1) + timedelta(days=rng.randint(0, 300))
        cadence = rng.choice([3, 7, 15, 30, 60])
        while day < date(2024, 2, 15):
            rows.append((f"c{i:02d}", day, rng.choice([10, 20, -5]) if rows else 10))
            day += timedelta(days=max(1, int(rng.expovariate(1 / cadence))))
    rows = [r for r in rows if r[1] < date(2024, 2, 15)]
    as_of = date(2024, 2, 15)
    tx = lines(rows)
    status = churn_status(customer_summary(tx, as_of=as_of), customer_activity(tx), rules=rules)
    table = status.collect()
    thresholds = dict(zip(table["customer_id"], table["lapsed_after_days"], strict=True))
    # a return-only day is not a purchase: net the customer's day first, as the activity table does
    net: dict[tuple[str, date], float] = {}
    for c, day, amount in rows:
        net[(c, day)] = net.get((c, day), 0) + (1 if amount > 0 else 0)
    purchases = [(c, day, n) for (c, day), n in net.items()]
    expected = brute_force(purchases, thresholds, as_of)
    got = churn_rates(status, customer_activity(tx)).collect()
    assert (
        got.select(
            "period", "customers_at_start", "new_customers", "churned", "reactivated", "lapsed_at_end", "active_at_end"
        ).rows()
        == expected
    )
    assert sum(r[3] for r in expected) > 5 and sum(r[4] for r in expected) > 0  # the fixture exercises both


@pytest.mark.parametrize("period", ["week", "month", "quarter"])
@pytest.mark.parametrize("rules", [FIXED, RULES], ids=["fixed-days", "ipt-multiplier"])
def test_churn_tables_collects_the_status_once_and_matches_the_lazy_composition(rules, period):
    # customers listed out of id order, some with a single purchase period, returns and one-day gaps
    rng = random.Random(11)
    rows = []
    for i in rng.sample(range(60), 60):
        day = date(2023, 1, 1) + timedelta(days=rng.randint(0, 400))
        for _ in range(rng.choice([1, 1, 2, 3, 8])):
            rows.append((f"c{i:02d}", day, rng.choice([10, 25, -5])))
            day += timedelta(days=rng.choice([1, 3, 20, 45, 90]))
    rows = [r for r in rows if r[1] < date(2024, 3, 10)] + [("c99", date(2023, 6, 1), 10)]
    tx = lines(rows)
    customers, activity = customer_summary(tx, as_of=date(2024, 3, 10)), customer_activity(tx)
    status, rates = churn_tables(customers, activity, rules=rules, period=period)
    assert isinstance(status, pl.DataFrame) and isinstance(rates, pl.DataFrame)
    lazy = churn_status(customers, activity, rules=rules)
    lazy_status, lazy_rates = pl.collect_all([lazy, churn_rates(lazy, activity, period=period)])
    assert status.sort("customer_id").equals(lazy_status.sort("customer_id"))
    assert rates.equals(lazy_rates)
    # the rates from the collected status read it as a table: no status plan (its window and joins) inside
    plan = churn_rates(status, activity, period=period).explain()
    assert "own_ipt_days" not in plan and "population_ipt" not in plan
    assert rates["churned"].sum() > 0  # the fixture has churn to count


def test_purchase_days_number_the_customers_in_order_and_sort_their_days():
    # the days of purchases only (B's return day is not one), numbered by the customers' rows, sorted by both;
    # a day before 1970 sorts before the later ones (the key holds negative days)
    customers = pl.LazyFrame({"customer_id": ["B", "A"], "tier": ["x", "y"]})
    activity = pl.LazyFrame(
        {
            "customer_id": ["A", "B", "A", "B", "Z", "A"],
            "day": [
                date(2024, 3, 1),
                date(2024, 1, 9),
                date(1969, 12, 30),
                date(2024, 1, 2),
                date(2024, 1, 1),
                date(2024, 1, 5),
            ],
            "purchases": [1, 0, 2, 1, 1, 1],
        }
    )
    got = purchase_days(customers, activity, keep=["customer_id", "tier"]).with_columns(
        pl.col("_day").cast(pl.Date), same_customer(1).alias("prev"), same_customer(-1).alias("next")
    )
    assert got.collect().rows() == [
        (0, date(2024, 1, 2), "B", "x", False, False),
        (1, date(1969, 12, 30), "A", "y", False, True),
        (1, date(2024, 1, 5), "A", "y", True, True),
        (1, date(2024, 3, 1), "A", "y", True, False),
    ]


def test_status_and_rates_are_right_when_a_lazy_input_changes_its_row_order():
    # the customers as a plan whose rows come in another order each time it runs (no common subplan kept):
    # the numbers given to the customers must come with their own rows, not from another evaluation
    tx = lines(SHOP)
    customers = customer_summary(tx, as_of=AS_OF).sort(pl.int_range(pl.len()).shuffle())
    activity = customer_activity(tx)
    no_cache = pl.QueryOptFlags(comm_subplan_elim=False)
    status = churn_status(customers, activity, rules=RULES)
    for _ in range(3):
        table = status.collect(optimizations=no_cache).sort("customer_id")
        got = {r["customer_id"]: (r["status"], r["ipt_source"], r["ipt_days"]) for r in table.iter_rows(named=True)}
        assert got == {k: v[:3] for k, v in EXPECTED.items()}
        rates = churn_rates(status, activity).collect(optimizations=no_cache)
        assert rates.equals(churn_rates(table, activity).collect())


def test_the_reasons_written_after_sorting_are_the_statuss_own(monkeypatch):
    # churn_tables without the reasons, ranked, then the reasons added (3 rows at a time: slices of 3, 3 and 2):
    # the same rows as with them from the start
    from loyalty_cli.metrics import churn as module

    monkeypatch.setattr(module, "REASON_ROWS", 3)
    tx = lines(SHOP)
    customers, activity = customer_summary(tx, as_of=AS_OF).collect(), customer_activity(tx)
    full, rates = churn_tables(customers, activity, rules=RULES)
    bare, same_rates = churn_tables(customers, activity, rules=RULES, reasons=False)
    assert "reason" not in bare.columns and rates.equals(same_rates)
    ranked = module.with_reasons(rank_by_value(bare.lazy(), rules=RULES).collect(), RULES)
    want = rank_by_value(full.lazy(), rules=RULES).collect()
    assert ranked.columns[-1] == "reason" and ranked.select(want.columns).equals(want)
    assert ranked["reason"].n_chunks() == 1
    assert ranked.with_columns(reason(RULES).alias("again"))["again"].equals(ranked["reason"], check_names=False)
    assert module.with_reasons(bare.head(0), RULES).columns[-1] == "reason"  # no customer: the column all the same
    assert ranked.filter(pl.col("customer_id") == "U")["reason"].item().startswith("100 days since the last purchase")


# ------------------------------------------------------------------------------------------------ models
def test_model_p_alive_and_bgnbd_one_time_buyers():
    from loyalty_cli.io.readers import read_transactions
    from loyalty_cli.io.validate import collect_checked

    scan = read_transactions([ROOT / "sample_data" / "transactions.csv"])
    tx = scan.rows
    (table, activity), _ = collect_checked(
        [scan],
        [churn_status(customer_summary(tx, as_of=None), customer_activity(tx), rules=RULES), customer_activity(tx)],
    )
    as_of = table["as_of"][0]
    bg = model_predictions(activity, as_of=as_of, model="bgnbd").predictions.join(table, on="customer_id")
    one_time = bg.filter(pl.col("purchase_days") == 1)
    assert one_time.height > 0 and one_time["p_alive"].null_count() == one_time.height
    repeat = bg.filter(pl.col("purchase_days") > 1)
    assert repeat["p_alive"].null_count() == 0 and repeat["p_alive"].is_between(0, 1).all()
    assert bg["predicted_value"].null_count() == 0 and (bg["predicted_value"] >= 0).all()
    mbg = model_predictions(activity, as_of=as_of, model="mbgnbd").predictions.join(table, on="customer_id")
    assert mbg["p_alive"].null_count() == 0
    # a lapsed customer is, on average, less likely alive than an active one
    means = mbg.group_by("status").agg(pl.col("p_alive").mean()).sort("status")["p_alive"].to_list()
    assert means[0] > means[2]
    with pytest.raises(UsageError):
        model_predictions(activity, as_of=as_of, model="nope")
