"""``app.program`` called directly: the config checked in neutral words, and the long table of a small
programme (members, points ledger) read through ``load_inputs``, hand-computed."""

from __future__ import annotations

from datetime import date
from pathlib import Path

import pytest

from loyalty_cli.app.inputs import Inputs, InputSpec, load_inputs
from loyalty_cli.app.program import ProgramConfig, program
from loyalty_cli.errors import ConfigError, LoyaltyError, UsageError, setting

AS_OF = date(2024, 7, 1)
# Customers A-E bought before the as-of date; members A, B (who bought) and F (who did not): enrolment rate
# 2 / 5. Points (every ledger row counts): A earns 150, redeems 100, loses 10 (adjust): 40; B earns 80, 80
# expire: 0; F gets 25 (adjust); G earns 5. Outstanding 40 + 25 + 5 = 70, at 0.01 a point 0.70; earned 235,
# breakage 80 / 235. Tiers as of the as-of date: A Silver, B and F Bronze.
TX = (
    "customer_id,order_date,amount\nA,2023-01-10,100\nA,2023-03-01,50\nA,2024-02-01,30\nB,2023-02-01,80\n"
    "C,2023-01-15,40\nC,2023-06-01,60\nC,2023-06-10,-10\nD,2023-05-01,20\nE,2024-06-01,10\n"
)
MEMBERS = (
    "customer_id,enrolled_at,tier,tier_since\nA,2023-01-20,Bronze,2023-01-20\nA,2023-01-20,Silver,2023-03-01\n"
    "B,2023-01-01,Bronze,\nF,2024-01-01,Bronze,\n"
)
POINTS = (
    "customer_id,at,points,type\nA,2023-01-20,100,earn\nA,2023-03-01,50,earn\nA,2023-06-01,-100,redeem\n"
    "A,2023-06-05,-10,adjust\nB,2023-02-01,80,earn\nB,2024-02-01,80,expire\nF,2024-01-01,25,adjust\n"
    "G,2024-03-01,5,earn\n"
)


@pytest.fixture
def shop(tmp_path: Path) -> Path:
    for name, text in [("tx.csv", TX), ("members.csv", MEMBERS), ("points.csv", POINTS)]:
        (tmp_path / name).write_text(text)
    return tmp_path


def inputs_of(folder: Path, *, points: bool = True, members: str = "members.csv", as_of: date = AS_OF) -> Inputs:
    return load_inputs(
        InputSpec(
            transactions=[str(folder / "tx.csv")],
            members=[str(folder / members)],
            points=[str(folder / "points.csv")] if points else (),
            as_of=as_of,
            activity=True,
        )
    )


def test_config_is_checked_in_neutral_words() -> None:
    for field, value, message in [
        ("period", "day", "must be week, month or quarter, got 'day'"),
        ("point_value", -1.0, "must be 0 or more, got -1.0"),
        ("active_days", 0, "must be 1 or more, got 0"),
        ("window", 0, "must be 1 or more days, got 0"),
    ]:
        with pytest.raises(ConfigError) as caught:
            ProgramConfig(**{field: value})  # type: ignore[arg-type]
        assert caught.value.name == field and caught.value.message == f"{setting(field)} {message}"
    with pytest.raises(UsageError, match="needs a start date before its end date, got 2024-05-01 and 2024-04-01"):
        ProgramConfig(tiers_from=date(2024, 5, 1), tiers_to=date(2024, 4, 1))
    config = ProgramConfig(period="week", point_value=0.01, window=180)
    assert (config.figures.period, config.figures.point_value, config.figures.window_days) == ("week", 0.01, 180)


def test_long_table_with_hand_computed_figures(shop: Path) -> None:
    result = program(inputs_of(shop), ProgramConfig(point_value=0.01))
    assert result.as_of == AS_OF and result.points and result.window == 365
    table = result.table
    assert table.columns == ["section", "metric", "group", "period", "value", "n", "ci_low", "ci_high"]
    value = {(s, m, g): v for s, m, g, v in table.select("section", "metric", "group", "value").iter_rows()}
    assert value[("programme", "customers", None)] == 5
    assert value[("programme", "enrolment_rate", None)] == pytest.approx(2 / 5)
    assert value[("programme", "members_without_purchase", None)] == 1  # F
    assert value[("points", "outstanding_points", None)] == 70
    assert value[("points", "liability", None)] == pytest.approx(0.7)
    assert value[("points", "breakage_rate", None)] == pytest.approx(80 / 235)
    assert value[("tiers", "share_of_members", "Silver")] == pytest.approx(1 / 3)
    texts = [m.text for m in result.messages]
    assert texts[0].startswith("No predicted CLV comparison: the models could not be fitted")
    assert "correlations, not the programme's effect" in texts[-1]


def test_tier_dates_and_members_are_checked_against_the_data(shop: Path) -> None:
    with pytest.raises(UsageError, match="must end by the as-of date 2024-07-01, got 2025-01-01"):
        program(inputs_of(shop), ProgramConfig(tiers_to=date(2025, 1, 1)))
    (shop / "late.csv").write_text("customer_id,enrolled_at\nA,2024-06-30\n")
    with pytest.raises(
        LoyaltyError, match="No member enrolled before the as-of date 2024-06-01 in .*late.csv"
    ) as caught:
        program(inputs_of(shop, members="late.csv", as_of=date(2024, 6, 1)), ProgramConfig())
    assert setting("as_of") in str(caught.value.hint)


def test_without_a_ledger_there_are_no_points_figures(shop: Path) -> None:
    result = program(inputs_of(shop, points=False), ProgramConfig())
    assert not result.points
    assert result.table.filter(result.table["section"].is_in(["points", "points_by_period"])).is_empty()


def test_the_report_leaves_out_the_detail(shop: Path) -> None:
    result = program(inputs_of(shop), ProgramConfig(detail=False, tiers_to=date(2025, 1, 1)))  # no tier movement
    sections = set(result.table["section"])
    assert {"programme", "points", "tiers", "members_vs_non_members"} <= sections
    assert not sections & {"enrolment_by_cohort", "points_by_period", "tier_movement"}
