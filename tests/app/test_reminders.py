"""``reminders`` as a library call: inputs read with ``load_inputs``, the lists, the as-of date, the notes, and
the errors in neutral words."""

from __future__ import annotations

from datetime import date
from pathlib import Path

import pytest

from loyalty_cli.app.inputs import InputSpec, load_inputs
from loyalty_cli.app.reminders import RemindersConfig, parse_within, reminders
from loyalty_cli.errors import ConfigError, DataError, UsageError

POINTS = (
    "customer_id,at,points,type\n"
    "A,2024-01-10,480,earn\n"  # A: last activity 2024-01-10 -> expires 2025-01-09; 480 earned: 20 to Silver
    "B,2024-06-01,100,earn\n"  # B: expires 2025-06-01: not within 30 days; 100 earned
    "X,2024-01-05,300,earn\n"  # X: not a member: left out when the members are given
)
MEMBERS = (
    "customer_id,enrolled_at,tier,tier_since\n"
    "A,2023-01-08,Bronze,2023-01-08\n"  # enrolment anniversary 2025-01-08 (7 days, 2 years)
    "B,2023-01-01,Silver,2024-06-01\n"  # 2025-01-01: the as-of date itself, not in the window
)
CONTACTS = (
    "customer_id,email,signed_up_at,birthday,email_consent\n"
    "A,a@example.com,2023-01-05,1990-01-03,yes\n"  # birthday 2025-01-03 (2 days), anniversary 2025-01-05 (2 years)
    "B,b@example.com,2024-12-01,1988-02-29,no\n"  # birthday 2025-02-28: out of 14 days
)


@pytest.fixture
def files(tmp_path: Path) -> dict[str, list[str]]:
    found = {}
    for name, text in (("points", POINTS), ("members", MEMBERS), ("contacts", CONTACTS)):
        path = tmp_path / f"{name}.csv"
        path.write_text(text)
        found[name] = [str(path)]
    return found


def run(files: dict[str, list[str]], *kinds: str, as_of: date | None = None, **config: object):  # noqa: ANN201
    spec = InputSpec(**{k: files[k] for k in kinds}, as_of=as_of, need_customers=False)
    return reminders(load_inputs(spec), RemindersConfig(**config))  # type: ignore[arg-type]


def test_every_list_the_inputs_allow(files: dict[str, list[str]]) -> None:
    result = run(files, "points", "members", "contacts", as_of=date(2025, 1, 1))
    assert list(result.lists) == ["points-expiring", "near-tier", "birthday", "anniversary"]
    assert result.lists["points-expiring"].select("customer_id", "email", "days_until", "points_expiring").rows() == [
        ("A", "a@example.com", 8, 480)  # whole points read as integers
    ]
    # near: 20 <= 0.2 x 500 (A); B earned 100, needs 400; X is no member
    assert result.lists["near-tier"].select("customer_id", "tier", "points_to_next_tier").rows() == [
        ("A", "Bronze", 20)
    ]
    assert result.lists["birthday"].select("customer_id", "event_date").rows() == [("A", date(2025, 1, 3))]
    # with the members: the enrolment's anniversary (A enrolled 2023-01-08), not the sign-up's (2023-01-05)
    assert result.lists["anniversary"].select("customer_id", "event_date", "years", "enrolled_at").rows() == [
        ("A", date(2025, 1, 8), 2, date(2023, 1, 8))
    ]
    assert "signed_up_at" not in result.table.columns
    assert result.anniversary_of == "enrolled_at" and result.members_only
    assert "membership anniversary (the members' enrolled_at)" in result.summary["rule"][3]
    assert result.summary["customers"].to_list() == [1, 1, 1, 1]
    assert result.table.height == 4 and result.table.columns[:3] == ["customer_id", "email", "reminder"]
    assert "birthday" not in result.table.columns  # never the date of birth
    texts = [m.text for m in result.messages]
    assert "1 customer of the ledger not enrolled before the as-of date: left out of the lists" in texts
    # B is Silver in the members file but has earned 100 points: Bronze by the rules
    warnings = [m.text for m in result.messages if m.level == "warning"]
    assert any(w.startswith("The members file gives 1 member another tier") for w in warnings), warnings
    assert result.value is None  # several lists: no value column for duplicates


def test_the_as_of_date_defaults_to_the_day_after_the_last_date(files: dict[str, list[str]]) -> None:
    result = run(files, "points", "contacts")  # last date: B's sign-up, 2024-12-01
    assert result.as_of == date(2024, 12, 2)
    assert any(m.text.startswith("As of 2024-12-02: the day after the last date") for m in result.messages)
    assert run(files, "points").as_of == date(2024, 6, 2)  # without members: X is in the lists' population


def test_kinds_asked_and_windows(files: dict[str, list[str]]) -> None:
    result = run(files, "points", "contacts", as_of=date(2025, 1, 1), kind=("birthday",), within=("birthday=60",))
    assert list(result.lists) == ["birthday"]
    assert result.lists["birthday"]["customer_id"].to_list() == ["A", "B"]  # B: 2025-02-28, 58 days
    assert result.value is None
    points = run(files, "points", as_of=date(2025, 1, 1), kind=("points-expiring",), within=("200",))
    # X (not restricted without members): 2024-01-05 + 365 = 2025-01-04; A 2025-01-09; B 2025-06-01 = 151 days
    assert points.lists["points-expiring"]["customer_id"].to_list() == ["X", "A", "B"]
    assert points.value == "points_expiring_in_window"


def test_parse_within() -> None:
    assert parse_within(()) == {"points-expiring": 30, "birthday": 14, "anniversary": 14}
    assert parse_within(("60", "birthday=7", "anniversary=2w")) == {
        "points-expiring": 60,
        "birthday": 7,
        "anniversary": 14,
    }
    with pytest.raises(ConfigError, match="no date window for 'near-tier'"):
        parse_within(("near-tier=10",))
    with pytest.raises(UsageError, match="expected a number of days"):
        parse_within(("soon",))
    with pytest.raises(UsageError, match="of at least 1"):
        parse_within(("0",))
    # the value is said as given, its kind with it
    with pytest.raises(UsageError, match="⟨within⟩ 'birthday=0': expected a number of days of at least 1"):
        parse_within(("birthday=0",))
    # a KIND=N wins over a plain N, whichever comes first; the later of two of a kind wins
    both = {"points-expiring": 10, "birthday": 7, "anniversary": 10}
    assert parse_within(("birthday=7", "10")) == both
    assert parse_within(("10", "birthday=7")) == both
    assert parse_within(("birthday=3", "10", "birthday=7", "20")) == {**dict.fromkeys(both, 20), "birthday": 7}


def test_errors_in_neutral_words(files: dict[str, list[str]], tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="must be one of points-expiring, near-tier, birthday, anniversary"):
        RemindersConfig(kind=("birthdays",))
    with pytest.raises(UsageError, match="The near-tier list needs \u27e8points\u27e9"):
        run(files, "contacts", as_of=date(2025, 1, 1), kind=("near-tier",))
    with pytest.raises(UsageError, match="Nothing to remind of"):
        run(files, "members", as_of=date(2025, 1, 1))
    bare = tmp_path / "bare.csv"
    bare.write_text("customer_id,email\nA,a@example.com\n")
    with pytest.raises(DataError, match="The birthday list needs a birthday column: the contacts in .*bare.csv"):
        run({"contacts": [str(bare)]}, "contacts", as_of=date(2025, 1, 1), kind=("birthday",))
    # not asked, and no list at all can be made: an error naming the columns
    with pytest.raises(DataError, match="No list can be made from these inputs: the contacts in .*bare.csv have no "):
        run({"contacts": [str(bare)]}, "contacts", as_of=date(2025, 1, 1))
    undated = tmp_path / "undated.csv"
    undated.write_text("customer_id,email,birthday\nA,a@example.com,1990-01-03\n")  # a birthday dates no data
    with pytest.raises(UsageError, match="No as-of date"):
        run({"contacts": [str(undated)]}, "contacts")


def test_a_list_left_out_is_a_warning(files: dict[str, list[str]], tmp_path: Path) -> None:
    no_birthday = tmp_path / "no_birthday.csv"
    no_birthday.write_text("customer_id,email,signed_up_at\nA,a@example.com,2023-01-05\n")
    result = run({"contacts": [str(no_birthday)]}, "contacts", as_of=date(2025, 1, 1))
    assert list(result.lists) == ["anniversary"]
    warnings = [m.text for m in result.messages if m.level == "warning"]
    assert warnings == [
        f"No birthday list: the contacts in {no_birthday} have no birthday column (map it in a [contacts] table of "
        'the mapping file (birthday = "Your column"))'
    ]


def test_members_make_the_anniversaries_without_a_sign_up_date(tmp_path: Path) -> None:
    bare = tmp_path / "bare.csv"
    bare.write_text("customer_id,email\nA,a@example.com\n")
    members = tmp_path / "members.csv"
    members.write_text(MEMBERS)
    found = {"contacts": [str(bare)], "members": [str(members)]}
    result = run(found, "contacts", "members", as_of=date(2025, 1, 1))
    # no birthday column: that list is left out (a warning); the anniversaries come from the enrolment
    assert list(result.lists) == ["anniversary"]
    assert result.lists["anniversary"].select("customer_id", "email", "years").rows() == [("A", "a@example.com", 2)]


def test_members_restrict_the_birthdays(files: dict[str, list[str]], tmp_path: Path) -> None:
    contacts = tmp_path / "more_contacts.csv"
    contacts.write_text(CONTACTS + "Z,z@example.com,2023-01-05,1990-01-04,yes\n")  # Z: no member
    everyone = run({"contacts": [str(contacts)]}, "contacts", as_of=date(2025, 1, 1), kind=("birthday",))
    assert everyone.lists["birthday"]["customer_id"].to_list() == ["A", "Z"]
    assert not everyone.members_only
    found = {**files, "contacts": [str(contacts)]}
    members = run(found, "contacts", "members", as_of=date(2025, 1, 1), kind=("birthday",))
    assert members.lists["birthday"]["customer_id"].to_list() == ["A"]
    texts = [m.text for m in members.messages]
    assert "1 customer of the contacts not enrolled before the as-of date: left out of the lists" in texts
    assert members.summary["rule"][0].endswith("; members only")


def test_one_email_per_customer_the_smallest(tmp_path: Path) -> None:
    contacts = tmp_path / "contacts.csv"
    # A has two rows: the list takes the smallest email (a@ before b@), whichever row comes first
    contacts.write_text(
        "customer_id,email,birthday\nA,b@example.com,1990-01-03\nA,a@example.com,1990-01-03\n"
        "B,c@example.com,1990-01-04\n"
    )
    result = run({"contacts": [str(contacts)]}, "contacts", as_of=date(2025, 1, 1), kind=("birthday",))
    assert result.table.select("customer_id", "email").rows() == [("A", "a@example.com"), ("B", "c@example.com")]


def test_points_types_follow_the_rules_not_the_values(tmp_path: Path) -> None:
    import polars as pl

    # whole points (the default rules): Int64 from a CSV (text) and from a Parquet file of integers alike
    text = tmp_path / "points.csv"
    text.write_text("customer_id,at,points,type\nA,2024-01-10,480,earn\n")
    parquet = tmp_path / "points.parquet"
    pl.DataFrame({"customer_id": ["A"], "at": [date(2024, 1, 10)], "points": [480], "type": ["earn"]}).write_parquet(
        parquet
    )
    schemas = {}
    for path in (text, parquet):
        result = run({"points": [str(path)]}, "points", as_of=date(2025, 1, 1))
        schemas[path.name] = {c: t for c, t in result.table.schema.items() if "points" in c}
        assert result.lists["near-tier"]["points_to_next_tier"].to_list() == [20]  # 500 - 480
    assert schemas["points.csv"] == schemas["points.parquet"]
    assert set(schemas["points.csv"].values()) == {pl.Int64}
    # an empty list has the same types
    empty = run({"points": [str(parquet)]}, "points", as_of=date(2024, 1, 11), kind=("points-expiring",))
    assert empty.table.height == 0
    assert {c: t for c, t in empty.table.schema.items() if "points" in c} == {
        c: t for c, t in schemas["points.parquet"].items() if c in empty.table.columns
    }
    # a fraction of a point with whole points: an error naming the row, never a silent rounding
    fractional = tmp_path / "points_half.csv"
    fractional.write_text("customer_id,at,points,type\nA,2024-01-10,480.5,earn\nB,2024-01-11,3,earn\n")
    with pytest.raises(DataError, match=r"points: 1 ledger row with a fraction of a point \(e.g. customer A: 480.5\)"):
        run({"points": [str(fractional)]}, "points", as_of=date(2025, 1, 1))
    # rules with whole = false: Float64 columns, the fraction kept (500 - 480.5 = 19.5)
    rules = tmp_path / "programme.toml"
    rules.write_text(
        '[points]\nwhole = false\n[expiry]\npolicy = "inactivity"\ndays = 365\n'
        '[[tier]]\nname = "Bronze"\npoints = 0\n[[tier]]\nname = "Silver"\npoints = 500\n[near]\nshare = 0.2\n'
    )
    found = run({"points": [str(fractional)]}, "points", as_of=date(2025, 1, 1), rules=str(rules))
    assert {t for c, t in found.table.schema.items() if "points" in c} == {pl.Float64}
    assert found.lists["near-tier"].filter(pl.col("customer_id") == "A")["points_to_next_tier"].to_list() == [19.5]


def test_repeated_ledger_files_stop_and_rows_repeated_within_one_are_said(tmp_path: Path) -> None:
    from dataclasses import replace

    from loyalty_cli.io.readers import ReadOptions

    first = tmp_path / "a.csv"
    first.write_text(POINTS)
    copy = tmp_path / "b.csv"
    copy.write_text(POINTS)
    spec = InputSpec(points=[str(first), str(copy)], as_of=date(2025, 1, 1), need_customers=False)
    with pytest.raises(DataError, match="Overlapping files in the points: 3 lines in 1 file repeat lines"):
        load_inputs(spec)
    kept = load_inputs(replace(spec, options=ReadOptions(on_overlap="keep-first")))
    result = reminders(kept, RemindersConfig(kind=("near-tier",)))
    # A: 480 earned once (not 960: Silver already), 20 to Silver
    assert result.lists["near-tier"].select("customer_id", "points_to_next_tier").rows() == [("A", 20)]
    # a row repeated within one file: counted twice, and said
    twice = tmp_path / "twice.csv"
    twice.write_text(POINTS + "B,2024-06-01,100,earn\n")
    result = run({"points": [str(twice)]}, "points", as_of=date(2025, 1, 1))
    texts = [m.text for m in result.messages]
    assert any(t.startswith("1 row of the points ledger repeats another row exactly") for t in texts), texts
