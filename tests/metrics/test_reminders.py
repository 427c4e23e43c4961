"""Reminder lists' metrics (issue 22 part 5): points expiring (inactivity and fixed policies), members near the
next tier, birthdays and sign-up anniversaries, on tiny frames with the expectations worked out by hand."""

from __future__ import annotations

from datetime import date, datetime, timedelta

import polars as pl
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from loyalty_cli.metrics.occasions import next_occurrence, upcoming_anniversaries, upcoming_birthdays
from loyalty_cli.metrics.points_expiry import expiring_points, overdue_points
from loyalty_cli.metrics.tier_progress import earned_points, near_tier, tier_progress
from loyalty_cli.rules.programme import Expiry, Near, Tier

AS_OF = date(2025, 1, 1)
INACTIVITY = Expiry(policy="inactivity", days=365)
FIXED = Expiry(policy="fixed", days=100)
TIERS = (Tier("Bronze", 0), Tier("Silver", 500), Tier("Gold", 1500))


def ledger(*rows: tuple[str, str, float, str]) -> pl.LazyFrame:
    """``customer_id, at, points, type`` as the reader gives them (at a datetime, points Float64)."""
    return pl.LazyFrame(
        [(c, datetime.fromisoformat(a), float(p), t) for c, a, p, t in rows],
        schema={"customer_id": pl.String, "at": pl.Datetime("us"), "points": pl.Float64, "type": pl.String},
        orient="row",
    )


EMPTY = ledger()


# --- points expiring: inactivity --------------------------------------------------------------------------------


def test_inactivity_window_edges_and_balances() -> None:
    points = ledger(
        # A: last activity 2024-01-31 -> expires 2024-01-31 + 365 = 2025-01-30 (a leap year: 366 days later is
        # 2025-01-31); balance 100 - 40 = 60; days until 2025-01-30 - 2025-01-01 = 29
        ("A", "2024-01-10 09:00", 100, "earn"),
        ("A", "2024-01-31 18:30", -40, "redeem"),
        # B: last activity 2024-02-01 -> expires 2025-01-31 = as_of + 30: the window's last day, in
        ("B", "2024-02-01 00:00", 80, "earn"),
        # C: last activity 2024-02-02 -> 2025-02-01 = as_of + 31: out of a 30-day window
        ("C", "2024-02-02 00:00", 80, "earn"),
        # D: expires 2025-01-01 = as_of itself: not in (as_of, as_of + 30]; a note counts it
        ("D", "2024-01-02 12:00", 50, "adjust"),
        # E: zero balance (earned and redeemed it all): nothing to expire
        ("E", "2024-01-20 00:00", 30, "earn"),
        ("E", "2024-01-21 00:00", -30, "redeem"),
        # F: negative balance: nothing to expire
        ("F", "2024-01-20 00:00", -10, "adjust"),
        # G: an expire row is no activity: the last activity is 2023-12-31 -> expired 2024-12-30 < as_of, with
        # 20 of the 50 points still on the ledger (a ledger behind the rule): overdue, not listed
        ("G", "2023-12-31 00:00", 50, "earn"),
        ("G", "2024-02-10 00:00", -30, "expire"),
        # H: a row on the as-of date is not data yet (as of = before that day)
        ("H", "2024-01-15 00:00", 10, "earn"),
        ("H", "2025-01-01 08:00", 10, "earn"),
    )
    got = expiring_points(points, as_of=AS_OF, within_days=30, expiry=INACTIVITY).collect()
    assert got.rows() == [
        # H: last activity 2024-01-15 -> 2025-01-14, 13 days, balance 10 (the as-of day's row left out)
        # one expiry date each: expiring on it = in the window = the balance, the last date = the first
        ("H", date(2025, 1, 14), 13, 10.0, 10.0, date(2025, 1, 14), 10.0, date(2024, 1, 15)),
        ("A", date(2025, 1, 30), 29, 60.0, 60.0, date(2025, 1, 30), 60.0, date(2024, 1, 31)),
        ("B", date(2025, 1, 31), 30, 80.0, 80.0, date(2025, 1, 31), 80.0, date(2024, 2, 1)),
    ]
    assert got.columns == [
        "customer_id",
        "event_date",
        "days_until",
        "points_expiring",
        "points_expiring_in_window",
        "last_event_date",
        "points_balance",
        "last_activity",
    ]
    overdue = overdue_points(points, as_of=AS_OF, expiry=INACTIVITY).collect().row(0, named=True)
    # G: 20 overdue; D: 50 expire on the as-of date
    assert overdue == {"overdue_customers": 1, "overdue_points": 20.0, "today_customers": 1, "today_points": 50.0}


def test_inactivity_ties_sort_by_most_points_then_id() -> None:
    points = ledger(("B", "2024-01-05", 10, "earn"), ("A", "2024-01-05", 10, "earn"), ("C", "2024-01-05", 90, "earn"))
    got = expiring_points(points, as_of=AS_OF, within_days=30, expiry=INACTIVITY).collect()
    assert got["customer_id"].to_list() == ["C", "A", "B"]


def test_a_one_day_window_is_the_day_after_the_as_of_date() -> None:
    # expires 2025-01-02 (2024-01-03 + 365) is in (2025-01-01, 2025-01-02]; 2025-01-03 is not
    points = ledger(("A", "2024-01-03", 10, "earn"), ("B", "2024-01-04", 10, "earn"))
    got = expiring_points(points, as_of=AS_OF, within_days=1, expiry=INACTIVITY).collect()
    assert got.select("customer_id", "days_until").rows() == [("A", 1)]


@pytest.mark.parametrize("policy", [INACTIVITY, FIXED])
def test_a_ledger_with_no_activity_gives_empty_lists(policy: Expiry) -> None:
    assert expiring_points(EMPTY, as_of=AS_OF, within_days=30, expiry=policy).collect().height == 0
    assert overdue_points(EMPTY, as_of=AS_OF, expiry=policy).collect().row(0) == (0, 0.0, 0, 0.0)
    # only rows on or after the as-of date: none of them is data yet
    later = ledger(("A", "2025-01-01", 10, "earn"), ("A", "2025-03-01", 10, "earn"))
    assert expiring_points(later, as_of=AS_OF, within_days=400, expiry=policy).collect().height == 0


def test_inactivity_activity_types_come_from_the_rules() -> None:
    points = ledger(("A", "2024-01-10", 100, "earn"), ("A", "2024-01-20", -10, "redeem"))
    earn_only = Expiry(policy="inactivity", days=365, activity=("earn",))
    got = expiring_points(points, as_of=AS_OF, within_days=30, expiry=earn_only).collect()
    # the redemption does not count as activity: 2024-01-10 + 365 = 2025-01-09, 8 days
    assert got.select("event_date", "days_until", "points_expiring").rows() == [(date(2025, 1, 9), 8, 90.0)]


# --- points expiring: fixed (first in, first out) -----------------------------------------------------------------


def test_fixed_policy_uses_the_oldest_points_first() -> None:
    # 100-day lots. A earns 50 on 2024-09-25 (expires 2025-01-03), 30 on 2024-10-01 (2025-01-09), 40 on 2024-12-01
    # (2025-03-11); redeems 60 and adjusts -5: 65 used, oldest first -> lot 1 (50) all used, lot 2 keeps
    # 50 + 30 - 65 = 15, lot 3 keeps 40. Balance 120 - 65 = 55.
    # Window (2025-01-01, 2025-01-31]: lot 2's 15 points, on 2025-01-09 (8 days).
    points = ledger(
        ("A", "2024-09-25", 50, "earn"),
        ("A", "2024-10-01", 30, "earn"),
        ("A", "2024-11-01", -60, "redeem"),
        ("A", "2024-12-01", 40, "earn"),
        ("A", "2024-12-05", -5, "adjust"),
        # B: a positive adjust is a lot too: 20 on 2024-09-30 (expires 2025-01-08) and 10 earned on 2024-10-02
        # (2025-01-10), nothing used: 20 points expire on 2025-01-08, 30 in the window, the last on 2025-01-10
        ("B", "2024-09-30", 20, "adjust"),
        ("B", "2024-10-02", 10, "earn"),
        # C: 10 earned 2024-09-01 (expired 2024-12-10, before the as-of date) still on the ledger: overdue;
        # 5 earned 2024-09-23 expire on 2025-01-01, the as-of date itself
        ("C", "2024-09-01", 10, "earn"),
        ("C", "2024-09-23", 5, "earn"),
    )
    got = expiring_points(points, as_of=AS_OF, within_days=30, expiry=FIXED).collect()
    shown = ("customer_id", "event_date", "days_until", "points_expiring", "points_expiring_in_window")
    assert got.select(*shown, "last_event_date", "points_balance").rows() == [
        ("B", date(2025, 1, 8), 7, 20.0, 30.0, date(2025, 1, 10), 30.0),
        ("A", date(2025, 1, 9), 8, 15.0, 15.0, date(2025, 1, 9), 55.0),
    ]
    overdue = overdue_points(points, as_of=AS_OF, expiry=FIXED).collect().row(0, named=True)
    assert overdue == {"overdue_customers": 1, "overdue_points": 10.0, "today_customers": 1, "today_points": 5.0}


def test_fixed_policy_two_expiry_dates_in_the_window() -> None:
    # the reviewer's ledger: 100 earned 2024-01-10 (expires 2024-01-10 + 365 = 2025-01-09, 2024 a leap year),
    # 100 earned 2024-02-01 (2025-01-31); an expire row of 10 takes the oldest: 90 + 100 left, balance 190.
    # Window (2025-01-01, 2025-02-10]: 90 expire on 2025-01-09, 190 in the window, the last on 2025-01-31.
    points = ledger(
        ("A", "2024-01-10", 100, "earn"), ("A", "2024-02-01", 100, "earn"), ("A", "2024-03-01", -10, "expire")
    )
    got = expiring_points(points, as_of=AS_OF, within_days=40, expiry=Expiry(policy="fixed", days=365)).collect()
    assert got.rows(named=True) == [
        {
            "customer_id": "A",
            "event_date": date(2025, 1, 9),
            "days_until": 8,
            "points_expiring": 90.0,
            "points_expiring_in_window": 190.0,
            "last_event_date": date(2025, 1, 31),
            "points_balance": 190.0,
            "last_activity": date(2024, 2, 1),  # the expire row of 2024-03-01 is no activity
        }
    ]


def test_fixed_policy_last_activity_is_never_an_expire_row() -> None:
    # the last row is an expire row (2024-12-01): the last activity is the redemption of 2024-11-01
    points = ledger(
        ("A", "2024-09-25", 50, "earn"), ("A", "2024-11-01", -5, "redeem"), ("A", "2024-12-01", -1, "expire")
    )
    got = expiring_points(points, as_of=AS_OF, within_days=30, expiry=FIXED).collect()
    # 2024-09-25 + 100 days = 2025-01-03; 50 - 6 used = 44 left
    assert got.select("event_date", "points_expiring", "last_activity").rows() == [
        (date(2025, 1, 3), 44.0, date(2024, 11, 1))
    ]


def test_fixed_policy_expire_rows_use_the_oldest_points() -> None:
    # 50 earned 2024-08-01 (expired 2024-11-09) taken by its expire row; 30 earned 2024-10-01 expire 2025-01-09
    points = ledger(
        ("A", "2024-08-01", 50, "earn"), ("A", "2024-10-01", 30, "earn"), ("A", "2024-11-09", -50, "expire")
    )
    got = expiring_points(points, as_of=AS_OF, within_days=30, expiry=FIXED).collect()
    assert got.select("event_date", "points_expiring", "points_balance").rows() == [(date(2025, 1, 9), 30.0, 30.0)]
    assert overdue_points(points, as_of=AS_OF, expiry=FIXED).collect().row(0) == (0, 0.0, 0, 0.0)


def test_fixed_policy_all_used_gives_nothing() -> None:
    points = ledger(("A", "2024-10-01", 30, "earn"), ("A", "2024-10-02", -30, "redeem"))
    assert expiring_points(points, as_of=AS_OF, within_days=30, expiry=FIXED).collect().height == 0


# --- near the next tier -----------------------------------------------------------------------------------------


def test_tier_progress_and_near() -> None:
    points = ledger(
        ("A", "2024-01-01", 400, "earn"),  # Bronze, 100 to Silver: 100 <= 0.2 x 500 -> near
        ("A", "2024-02-01", -400, "redeem"),  # redemptions do not lower lifetime points
        ("B", "2024-01-01", 399, "earn"),  # 101 to Silver: not near by share; near by points 150
        ("C", "2024-01-01", 500, "earn"),  # exactly Silver (threshold reached), 1000 to Gold
        ("D", "2024-01-01", 1250, "earn"),  # Silver, 250 to Gold <= 0.2 x 1500 = 300 -> near
        ("E", "2024-01-01", 1500, "earn"),  # Gold: the top tier, no next tier
        ("F", "2024-01-01", 450, "adjust"),  # an adjust is not earned: 0, Bronze, 500 to Silver
        ("G", "2025-01-01", 480, "earn"),  # on the as-of date: not data yet
    )
    progress = tier_progress(earned_points(points, as_of=AS_OF), tiers=TIERS).sort("customer_id").collect()
    assert progress.rows() == [
        ("A", "Bronze", "Silver", 400.0, 500.0, 100.0),
        ("B", "Bronze", "Silver", 399.0, 500.0, 101.0),
        ("C", "Silver", "Gold", 500.0, 1500.0, 1000.0),
        ("D", "Silver", "Gold", 1250.0, 1500.0, 250.0),
        ("E", "Gold", None, 1500.0, None, None),
        ("F", "Bronze", "Silver", 0.0, 500.0, 500.0),
    ]  # G has no row before the as-of date: not in the ledger yet
    lazy = progress.lazy()
    assert near_tier(lazy, near=Near(share=0.2)).collect()["customer_id"].to_list() == ["A", "D"]
    assert near_tier(lazy, near=Near(points=101)).collect()["customer_id"].to_list() == ["A", "B"]
    both = near_tier(lazy, near=Near(points=101, share=0.2)).collect()
    assert both["customer_id"].to_list() == ["A", "B", "D"]  # fewest points needed first: 100, 101, 250


def test_members_without_ledger_rows_have_earned_nothing() -> None:
    points = ledger(("A", "2024-01-01", 480, "earn"), ("X", "2024-01-01", 490, "earn"))
    people = pl.LazyFrame({"customer_id": ["A", "M"]})
    earned = earned_points(points, as_of=AS_OF, people=people).sort("customer_id").collect()
    assert earned.rows() == [("A", 480.0), ("M", 0.0)]  # X is not a member: left out
    near = near_tier(tier_progress(earned.lazy(), tiers=TIERS), near=Near(points=500)).collect()
    assert near.select("customer_id", "points_to_next_tier").rows() == [("A", 20.0), ("M", 500.0)]


# --- birthdays and anniversaries -----------------------------------------------------------------------------------


def contacts(**columns: list[date | None]) -> pl.LazyFrame:
    n = len(next(iter(columns.values())))
    ids = [chr(ord("A") + i) for i in range(n)]
    return pl.LazyFrame({"customer_id": ids, **columns}, schema_overrides=dict.fromkeys(columns, pl.Date))


def test_next_occurrence_of_29_february() -> None:
    frame = pl.DataFrame({"day": [date(2000, 2, 29)]})

    def after(as_of: date) -> date:
        return frame.select(next_occurrence(pl.col("day"), as_of)).item()

    assert after(date(2025, 1, 1)) == date(2025, 2, 28)  # 2025 is not a leap year
    assert after(date(2025, 2, 28)) == date(2026, 2, 28)  # strictly after the as-of date
    assert after(date(2027, 3, 1)) == date(2028, 2, 29)  # 2028 is
    assert after(date(2100, 1, 1)) == date(2100, 2, 28)  # 2100 is not (a century)
    assert after(date(2399, 12, 31)) == date(2400, 2, 29)  # 2400 is


def test_birthdays_window_edges_and_leap_days() -> None:
    as_of = date(2025, 2, 20)
    people = contacts(
        birthday=[
            date(1990, 2, 20),  # A: on the as-of date: next one is 2026-02-20, out
            date(1990, 2, 21),  # B: the day after: 1 day, in
            date(2000, 2, 29),  # C: 29 Feb -> 2025-02-28: 8 days, in
            date(1980, 3, 6),  # D: 2025-03-06 = as_of + 14: the last day, in
            date(1980, 3, 7),  # E: as_of + 15: out
            None,  # F: no birthday
            date(2025, 3, 1),  # G: born after the as-of date: not a birthday yet
        ]
    )
    got = upcoming_birthdays(people, as_of=as_of, within_days=14).collect()
    assert got.rows() == [("B", date(2025, 2, 21), 1), ("C", date(2025, 2, 28), 8), ("D", date(2025, 3, 6), 14)]
    assert got.columns == ["customer_id", "event_date", "days_until"]  # no year of birth


def test_birthdays_across_the_year_end_and_in_a_leap_year() -> None:
    people = contacts(birthday=[date(1970, 1, 3), date(1970, 12, 30), date(2004, 2, 29)])
    got = upcoming_birthdays(people, as_of=date(2024, 12, 29), within_days=7).collect()
    # A: 2025-01-03 (5 days); B: 2024-12-30 (1 day); C: no
    assert got.select("customer_id", "days_until").rows() == [("B", 1), ("A", 5)]
    leap = upcoming_birthdays(people, as_of=date(2028, 2, 27), within_days=2).collect()
    assert leap.rows() == [("C", date(2028, 2, 29), 2)]  # 2028 is a leap year: the 29th itself


def test_anniversaries_need_a_full_year_and_a_past_sign_up() -> None:
    as_of = date(2025, 1, 1)
    people = contacts(
        signed_up_at=[
            date(2024, 1, 5),  # A: 2025-01-05, 1 year, 4 days
            date(2024, 12, 20),  # B: next anniversary 2025-12-20: out of the window
            date(2025, 1, 3),  # C: signed up after the as-of date: not there yet
            date(2020, 2, 29),  # D: 29 Feb -> 2025-02-28, 5 years, 58 days: out of 30
            date(2022, 1, 1),  # E: on the as-of date's month and day: next is 2026: out
            date(2023, 1, 31),  # F: 2025-01-31 = as_of + 30, 2 years: in
        ]
    )
    got = upcoming_anniversaries(people, as_of=as_of, within_days=30).collect()
    assert got.rows() == [
        ("A", date(2025, 1, 5), 4, 1, date(2024, 1, 5)),
        ("F", date(2025, 1, 31), 30, 2, date(2023, 1, 31)),
    ]
    longer = upcoming_anniversaries(people, as_of=as_of, within_days=58).collect()
    assert longer.filter(pl.col("customer_id") == "D").select("event_date", "years").row(0) == (date(2025, 2, 28), 5)


def test_a_contact_sign_up_the_day_before_is_no_anniversary_yet() -> None:
    # signed up 2024-12-31: the next anniversary 2025-12-31 is 1 year, 364 days ahead
    people = contacts(signed_up_at=[date(2024, 12, 31)])
    assert upcoming_anniversaries(people, as_of=date(2025, 1, 1), within_days=363).collect().height == 0
    assert upcoming_anniversaries(people, as_of=date(2025, 1, 1), within_days=364).collect()["years"].to_list() == [1]
    # signed up on 29 February of the as-of year, as of the next day: the first anniversary is a year on (28
    # February 2025), never 0 years (no guard needed: only dates before the as-of date are read)
    leap = contacts(signed_up_at=[date(2024, 2, 29)])
    got = upcoming_anniversaries(leap, as_of=date(2024, 3, 1), within_days=366).collect()
    assert got.select("event_date", "years").rows() == [(date(2025, 2, 28), 1)]


def test_membership_anniversaries_count_from_the_enrolment() -> None:
    members = pl.LazyFrame(
        {"customer_id": ["A", "B"], "enrolled_at": [date(2022, 1, 10), date(2024, 6, 1)]},
    )
    got = upcoming_anniversaries(members, as_of=date(2025, 1, 1), within_days=14, column="enrolled_at").collect()
    # A: 2025-01-10, 9 days, 3 years; B's (2025-06-01) is out of the window
    assert got.rows(named=True) == [
        {
            "customer_id": "A",
            "event_date": date(2025, 1, 10),
            "days_until": 9,
            "years": 3,
            "enrolled_at": date(2022, 1, 10),
        }
    ]


def test_contacts_repeated_get_one_row_and_future_sign_ups_are_left_out() -> None:
    people = pl.LazyFrame(
        {
            "customer_id": ["A", "A", "B"],
            "birthday": [date(1990, 1, 10), date(1991, 1, 5), date(1990, 1, 6)],
            "signed_up_at": [date(2023, 1, 2), date(2022, 1, 8), date(2025, 1, 2)],
        }
    )
    got = upcoming_birthdays(people, as_of=date(2025, 1, 1), within_days=14).collect()
    # A: the earliest birthday of its rows, 1990-01-10 (then 1991-01-05 is a later date); B signed up after
    assert got.rows() == [("A", date(2025, 1, 10), 9)]


# --- properties: the cumulative sums against a plain first-in, first-out walk; dates against the calendar -------

LEDGER_ROWS = st.lists(
    st.tuples(
        st.sampled_from("ABC"),
        st.integers(0, 330),  # days after 2024-01-01
        st.integers(1, 60),
        st.sampled_from(["earn", "earn", "redeem", "expire", "adjust", "adjust-"]),
    ),
    max_size=25,
)


def fifo_expiring(
    rows: list[tuple[str, int, int, str]], *, within: int, days: int
) -> dict[str, tuple[date, float, float, date]]:
    """The fixed policy by hand: each customer's earnings in time order, used one point at a time, oldest first.
    Per customer with points expiring in (AS_OF, AS_OF + within]: (first expiry date, points expiring on it,
    points expiring in the window, last expiry date in it)."""
    start = date(2024, 1, 1)
    found: dict[str, tuple[date, float, float, date]] = {}
    for customer in sorted({r[0] for r in rows}):
        mine = sorted((d, p if t in ("earn", "adjust") else -p) for c, d, p, t in rows if c == customer)
        lots = [[start + timedelta(days=d + days), float(p)] for d, p in mine if p > 0]
        used = sum(-p for _, p in mine if p < 0)
        for lot in lots:  # oldest first
            take = min(lot[1], used)
            lot[1] -= take
            used -= take
        balance = sum(p for _, p in mine)
        inside = [(day, left) for day, left in lots if AS_OF < day <= AS_OF + timedelta(days=within) and left > 0]
        if inside and balance > 0:
            first = min(d for d, _ in inside)
            on_first = sum(left for d, left in inside if d == first)
            total = sum(left for _, left in inside)
            assert total <= balance  # the points left sum to the balance: what expires never exceeds it
            found[customer] = (first, on_first, total, max(d for d, _ in inside))
    return found


@settings(max_examples=60, deadline=None)
@given(LEDGER_ROWS, st.integers(1, 120), st.integers(30, 400))
def test_fixed_policy_matches_a_plain_fifo_walk(rows: list[tuple[str, int, int, str]], within: int, days: int) -> None:
    start = datetime(2024, 1, 1)
    frame = pl.LazyFrame(
        {
            "customer_id": [c for c, _, _, _ in rows],
            "at": [start + timedelta(days=d) for _, d, _, _ in rows],
            "points": [float(p if t in ("earn", "adjust") else -p) for _, _, p, t in rows],
            "type": [t.rstrip("-") for _, _, _, t in rows],
        },
        schema={"customer_id": pl.String, "at": pl.Datetime("us"), "points": pl.Float64, "type": pl.String},
    )
    got = expiring_points(frame, as_of=AS_OF, within_days=within, expiry=Expiry(policy="fixed", days=days)).collect()
    columns = ("customer_id", "event_date", "points_expiring", "points_expiring_in_window", "last_event_date")
    assert {c: tuple(rest) for c, *rest in got.select(columns).rows()} == fifo_expiring(rows, within=within, days=days)
    # row order does not matter
    shuffled = expiring_points(
        frame.reverse(), as_of=AS_OF, within_days=within, expiry=Expiry(policy="fixed", days=days)
    ).collect()
    assert shuffled.equals(got)


@settings(max_examples=200, deadline=None)
@given(st.dates(date(1900, 1, 1), date(2030, 12, 31)), st.dates(date(1950, 1, 1), date(2100, 12, 31)))
def test_next_occurrence_is_the_calendars(day: date, as_of: date) -> None:
    got = pl.DataFrame({"day": [day]}).select(next_occurrence(pl.col("day"), as_of)).item()
    assert as_of < got <= as_of + timedelta(days=366)
    leap_day_moved = (day.month, day.day) == (2, 29) and (got.month, got.day) == (2, 28)
    assert (got.month, got.day) == (day.month, day.day) or leap_day_moved
    # nothing in between: the year before the occurrence has none after the as-of date
    if not leap_day_moved:
        try:
            earlier = got.replace(year=got.year - 1)
        except ValueError:  # 29 February of a year before a leap year cannot be: fine
            earlier = None
        assert earlier is None or earlier <= as_of


def test_the_age_only_when_asked() -> None:
    people = contacts(birthday=[date(2000, 2, 29), date(1990, 1, 2)])
    plain = upcoming_birthdays(people, as_of=date(2025, 1, 1), within_days=60).collect()
    assert "age" not in plain.columns
    aged = upcoming_birthdays(people, as_of=date(2025, 1, 1), within_days=60, age=True).collect()
    # B turns 35 on 2025-01-02 (2025 - 1990); A turns 25 on 2025-02-28 (2025 - 2000, the leap day moved)
    assert aged.rows() == [("B", date(2025, 1, 2), 1, 35), ("A", date(2025, 2, 28), 58, 25)]
