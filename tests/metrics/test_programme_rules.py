"""Programme rules (``rules/programme.toml``): the shipped file, and every problem of a user's copy named with
the file and the key."""

from __future__ import annotations

from pathlib import Path

import pytest

from loyalty_cli.errors import RulesError
from loyalty_cli.rules.programme import Expiry, Near, Tier, load_programme_rules, parse_programme_rules
from loyalty_cli.sample_programme import EXPIRY_DAYS, TIERS

ROOT = Path(__file__).parent.parent.parent
TIER_TABLES = '[[tier]]\nname = "Bronze"\npoints = 0\n[[tier]]\nname = "Silver"\npoints = 500\n'


def test_the_shipped_rules_are_the_sample_programmes() -> None:
    assert (ROOT / "rules" / "programme.toml").read_text() == (
        ROOT / "src" / "loyalty_cli" / "rules" / "programme.toml"
    ).read_text()
    rules = load_programme_rules()
    assert rules.source == "built-in programme"
    assert rules.expiry == Expiry(policy="inactivity", days=EXPIRY_DAYS, activity=("earn", "redeem", "adjust"))
    assert [(t.name, t.points) for t in rules.tiers] == [(name, float(points)) for name, points in TIERS]
    assert rules.near == Near(share=0.2)
    assert rules.basis == "lifetime_earned"
    assert rules.whole is True
    assert load_programme_rules(ROOT / "rules" / "programme.toml").tiers == rules.tiers


def test_a_minimal_file_and_the_fixed_policy() -> None:
    rules = parse_programme_rules(
        '[expiry]\npolicy = "fixed"\ndays = 90\n[near]\npoints = 50\n' + TIER_TABLES, source="mine.toml"
    )
    assert rules.expiry == Expiry(policy="fixed", days=90)
    assert rules.tiers == (Tier("Bronze", 0.0), Tier("Silver", 500.0))
    assert rules.near == Near(points=50.0)
    assert rules.name == "mine"
    assert "each earning expires 90 days after it was earned" in rules.describe()
    assert rules.whole is True  # no [points] table: whole points
    fractions = parse_programme_rules("[points]\nwhole = false\n[near]\npoints = 2.5\n" + TIER_TABLES, source="f.toml")
    assert fractions.whole is False and fractions.near == Near(points=2.5)


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("[near]\nshare = 0.2\n", "bad.toml: no [[tier]] tables"),
        ('[near]\nshare = 0.2\n[expiry]\npolicy = "rolling"\n' + TIER_TABLES, 'policy must be "inactivity" or'),
        ("[near]\nshare = 0.2\n[expiry]\ndays = 0\n" + TIER_TABLES, "[expiry] days must be a whole number >= 1, got 0"),
        ("[near]\nshare = 0.2\n[expiry]\ndays = 30.5\n" + TIER_TABLES, "[expiry] days must be a whole number"),
        (
            '[near]\nshare = 0.2\n[expiry]\nactivity = ["earn", "expire"]\n' + TIER_TABLES,
            "[expiry] activity must be a list of ledger types",
        ),
        (
            '[near]\nshare = 0.2\n[expiry]\npolicy = "fixed"\nactivity = ["earn"]\n' + TIER_TABLES,
            'activity only goes with policy = "inactivity"',
        ),
        ("[near]\nshare = 0.2\n[expiry]\ndayz = 3\n" + TIER_TABLES, "bad.toml: [expiry] has unknown key(s) dayz"),
        ('[near]\nshare = 0.2\n[tiers]\nbasis = "balance"\n' + TIER_TABLES, '[tiers] basis must be "lifetime_earned"'),
        ('[near]\nshare = 0.2\n[[tier]]\nname = "Silver"\npoints = 500\n', "the first [[tier]] ('Silver') must start"),
        (
            "[near]\nshare = 0.2\n" + TIER_TABLES + '[[tier]]\nname = "Gold"\npoints = 400\n',
            "[[tier]] 'Gold' (400 points) must be above 'Silver' (500)",
        ),
        ("[near]\nshare = 0.2\n" + TIER_TABLES + '[[tier]]\nname = "Silver"\npoints = 900\n', "Silver given twice"),
        ('[near]\nshare = 0.2\n[[tier]]\nname = ""\npoints = 0\n', "[[tier]] 1 needs a name"),
        ('[near]\nshare = 0.2\n[[tier]]\nname = "B"\npoints = -1\n', "points must be a number >= 0, got -1"),
        ('[near]\nshare = 0.2\n[[tier]]\nname = "B"\npoints = 0\ncolour = "x"\n', "[[tier]] 1 has unknown key(s)"),
        (TIER_TABLES, "bad.toml: [near] needs points or share"),
        ("[near]\nshare = 1.5\n" + TIER_TABLES, "[near] share must be below 1, got 1.5"),
        ("[near]\npoints = 0\n" + TIER_TABLES, "[near] points must be a number > 0, got 0"),
        ("[near]\nshare = 0.2\nlevel = 3\n" + TIER_TABLES, "[near] has unknown key(s) level"),
        ("tiers_x = 1\n[near]\nshare = 0.2\n" + TIER_TABLES, "bad.toml: unknown key(s) tiers_x"),
        ("[near\n", "bad.toml is not valid TOML"),
        ("[points]\nwhole = 1\n[near]\nshare = 0.2\n" + TIER_TABLES, "[points] whole must be true or false, got 1"),
        ("[points]\nround = true\n[near]\nshare = 0.2\n" + TIER_TABLES, "[points] has unknown key(s) round"),
        ("[near]\npoints = 2.5\n" + TIER_TABLES, "points are whole numbers ([points] whole = true) but [near] points"),
        (
            '[near]\nshare = 0.2\n[[tier]]\nname = "B"\npoints = 0\n[[tier]]\nname = "S"\npoints = 99.5\n',
            "but [[tier]] 'S' points = 99.5",
        ),
    ],
)
def test_problems_name_the_file_and_the_key(text: str, message: str) -> None:
    with pytest.raises(RulesError) as info:
        parse_programme_rules(text, source="bad.toml")
    assert message in info.value.message, info.value.message


def test_a_missing_rules_file_is_an_error_with_a_hint(tmp_path: Path) -> None:
    with pytest.raises(RulesError) as info:
        load_programme_rules(tmp_path / "nope.toml")
    assert "nope.toml" in info.value.message
    assert info.value.hint and "rules/programme.toml" in info.value.hint
