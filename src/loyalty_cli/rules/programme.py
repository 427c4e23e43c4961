"""Programme rules (``rules/programme.toml``, or the user's copy): when points expire, the tiers, and when a
member is near the next tier. Loaded and checked here, every problem naming the file and the key;
:mod:`loyalty_cli.metrics.points_expiry` and :mod:`loyalty_cli.metrics.tier_progress` apply them.

- ``[expiry]``: ``policy`` ``inactivity`` (the whole balance expires ``days`` after the last ledger row of one
  of the ``activity`` types) or ``fixed`` (each earning expires ``days`` after it was earned, the oldest points
  used first); ``days``; ``activity`` (inactivity only; default earn, redeem, adjust).
- ``[tiers]`` ``basis`` (``lifetime_earned``: the points of every earn row) and ``[[tier]]`` tables, ``name``
  and ``points`` (the threshold), the first at 0, thresholds rising.
- ``[near]``: ``points`` and/or ``share``: near the next tier when the points still needed are at most
  ``points`` or at most ``share`` x the next threshold.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

from loyalty_cli.errors import RulesError
from loyalty_cli.rules.files import entries, header, parse_toml, rules_text, section

DEFAULT_RULES = "programme"
POLICIES = ("inactivity", "fixed")
BASES = ("lifetime_earned",)
LEDGER_TYPES = ("earn", "redeem", "expire", "adjust")

_TOP_KEYS = {"name", "version", "description", "points", "expiry", "tiers", "tier", "near"}
_EXPIRY_KEYS = {"policy", "days", "activity"}
_TIERS_KEYS = {"basis"}
_TIER_KEYS = {"name", "points"}
_NEAR_KEYS = {"points", "share"}


@dataclass(frozen=True)
class Expiry:
    """``policy``: inactivity or fixed; ``days``: after the last activity, or after each earning;
    ``activity``: the ledger types that count as activity (inactivity)."""

    policy: Literal["inactivity", "fixed"] = "inactivity"
    days: int = 365
    activity: tuple[str, ...] = ("earn", "redeem", "adjust")

    def describe(self) -> str:
        if self.policy == "fixed":
            return f"each earning expires {self.days} days after it was earned (oldest points used first)"
        return f"the whole balance expires {self.days} days after the last {'/'.join(self.activity)} row"


@dataclass(frozen=True)
class Tier:
    name: str
    points: float


@dataclass(frozen=True)
class Near:
    """Near the next tier: points needed <= ``points`` or <= ``share`` x the next threshold (None: not used)."""

    points: float | None = None
    share: float | None = None

    def describe(self) -> str:
        parts = [f"{self.points:g} points" if self.points is not None else "", ""]
        if self.share is not None:
            parts[1] = f"{self.share:.0%} of the next tier's threshold"
        return "within " + " or ".join(p for p in parts if p)


@dataclass(frozen=True)
class ProgrammeRules:
    source: str
    name: str
    version: str
    description: str
    expiry: Expiry
    tiers: tuple[Tier, ...]
    near: Near
    basis: str = "lifetime_earned"
    #: points are whole numbers (the lists' points columns are integers; a fractional point in the ledger is an
    #: error); False: fractions allowed (the columns are decimals)
    whole: bool = True

    def describe(self) -> str:
        tiers = ", ".join(f"{t.name} {t.points:,g}" for t in self.tiers)
        return (
            f"points expiry: {self.expiry.describe()}; tiers by lifetime points earned: {tiers}; near the next "
            f"tier: {self.near.describe()}"
        )


def _number(source: str, key: str, value: object, *, hint: str, minimum: float = 0.0, strict: bool = True) -> float:
    if (
        isinstance(value, bool)
        or not isinstance(value, int | float)
        or not math.isfinite(value)
        or value < minimum
        or (strict and value == minimum)
    ):
        raise RulesError(f"{source}: {key} must be a number {'>' if strict else '>='} {minimum:g}, got {value!r}", hint)
    return float(value)


def _expiry(source: str, data: dict[str, object]) -> Expiry:
    raw = section(source, data, "expiry", _EXPIRY_KEYS)
    policy = raw.get("policy", "inactivity")
    if policy not in POLICIES:
        raise RulesError(
            f'{source}: [expiry] policy must be "inactivity" or "fixed", got {policy!r}',
            hint="inactivity: the balance expires N days after the last activity; fixed: each earning after N days.",
        )
    days = raw.get("days", 365)
    if isinstance(days, bool) or not isinstance(days, int) or days < 1:
        raise RulesError(f"{source}: [expiry] days must be a whole number >= 1, got {days!r}", hint="e.g. days = 365.")
    activity = raw.get("activity", ["earn", "redeem", "adjust"])
    if "activity" in raw and policy == "fixed":
        raise RulesError(
            f'{source}: [expiry] activity only goes with policy = "inactivity"',
            hint="Under the fixed policy each earning expires on its own date: remove activity.",
        )
    if not isinstance(activity, list) or not activity or any(a not in LEDGER_TYPES or a == "expire" for a in activity):
        raise RulesError(
            f"{source}: [expiry] activity must be a list of ledger types (earn, redeem, adjust), got {activity!r}",
            hint='e.g. activity = ["earn", "redeem", "adjust"] (an expire row is not activity).',
        )
    kept = tuple(t for t in LEDGER_TYPES if t in activity)
    return Expiry(policy=policy, days=days, activity=kept)  # type: ignore[arg-type]


def _tiers(source: str, data: dict[str, object]) -> tuple[str, tuple[Tier, ...]]:
    raw = section(source, data, "tiers", _TIERS_KEYS)
    basis = raw.get("basis", "lifetime_earned")
    if basis not in BASES:
        raise RulesError(
            f'{source}: [tiers] basis must be "lifetime_earned", got {basis!r}',
            hint="Tiers are reached by the points of every earn row (redemptions and expiries do not lower them).",
        )
    found = entries(source, data, "tier")
    if not found:
        raise RulesError(
            f"{source}: no [[tier]] tables", hint='Add one per tier, e.g. [[tier]] name = "Bronze" points = 0.'
        )
    tiers: list[Tier] = []
    for i, entry in enumerate(found, start=1):
        where = f"{source}: [[tier]] {i}"
        unknown = set(entry) - _TIER_KEYS
        if unknown:
            raise RulesError(
                f"{where} has unknown key(s) {', '.join(sorted(unknown))}", hint="A tier has name, points."
            )
        name = entry.get("name")
        if not isinstance(name, str) or not name.strip():
            raise RulesError(f"{where} needs a name (text), got {name!r}", hint='e.g. name = "Silver".')
        points = _number(
            source, f"[[tier]] {name!r} points", entry.get("points"), hint="e.g. points = 500.", strict=False
        )
        tiers.append(Tier(name=name.strip(), points=points))
    if tiers[0].points != 0:
        raise RulesError(
            f"{source}: the first [[tier]] ({tiers[0].name!r}) must start at points = 0, got {tiers[0].points:g}",
            hint="Every member has a tier: the first one starts at 0 points.",
        )
    for before, after in zip(tiers, tiers[1:], strict=False):
        if after.points <= before.points:
            raise RulesError(
                f"{source}: [[tier]] {after.name!r} ({after.points:g} points) must be above {before.name!r} "
                f"({before.points:g})",
                hint="List the tiers from the lowest threshold to the highest.",
            )
    names = [t.name for t in tiers]
    repeated = sorted({n for n in names if names.count(n) > 1})
    if repeated:
        raise RulesError(f"{source}: tier name(s) {', '.join(repeated)} given twice", hint="Each tier once.")
    return str(basis), tuple(tiers)


def _near(source: str, data: dict[str, object]) -> Near:
    raw = section(source, data, "near", _NEAR_KEYS)
    if not raw:
        raise RulesError(
            f"{source}: [near] needs points or share (or both)",
            hint="e.g. [near] share = 0.2 (within 20% of the next threshold) or points = 100.",
        )
    points = raw.get("points")
    share = raw.get("share")
    hint = "e.g. points = 100 or share = 0.2."
    near_points = _number(source, "[near] points", points, hint=hint) if points is not None else None
    near_share = _number(source, "[near] share", share, hint=hint) if share is not None else None
    if near_share is not None and near_share >= 1:
        raise RulesError(f"{source}: [near] share must be below 1, got {share!r}", hint="e.g. share = 0.2.")
    return Near(points=near_points, share=near_share)


def _whole(source: str, data: dict[str, object]) -> bool:
    """``[points] whole`` (default true)."""
    table = data.get("points", {})
    if not isinstance(table, dict):
        raise RulesError(f"{source}: points must be a table", hint="e.g. [points] whole = true")
    unknown = set(table) - {"whole"}
    if unknown:
        raise RulesError(
            f"{source}: [points] has unknown key(s) {', '.join(sorted(unknown))}", hint="[points] has whole."
        )
    whole = table.get("whole", True)
    if not isinstance(whole, bool):
        raise RulesError(f"{source}: [points] whole must be true or false, got {whole!r}", hint="e.g. whole = true")
    return whole


def parse_programme_rules(text: str, *, source: str) -> ProgrammeRules:
    """Parse and check programme rules; every problem names the file and the key."""
    data = parse_toml(text, source=source, keys=_TOP_KEYS, has="Programme rules have")
    basis, tiers = _tiers(source, data)
    whole, near = _whole(source, data), _near(source, data)
    if whole:
        fractional = [f"[[tier]] {t.name!r} points = {t.points:g}" for t in tiers if not float(t.points).is_integer()]
        if near.points is not None and not float(near.points).is_integer():
            fractional.append(f"[near] points = {near.points:g}")
        if fractional:
            raise RulesError(
                f"{source}: points are whole numbers ([points] whole = true) but {', '.join(fractional)}",
                hint="Give whole numbers of points, or set whole = false in the [points] table for fractions.",
            )
    return ProgrammeRules(
        source=source,
        **header(source, data),
        expiry=_expiry(source, data),
        tiers=tiers,
        near=near,
        basis=basis,
        whole=whole,
    )


def load_programme_rules(spec: str | Path | None = None) -> ProgrammeRules:
    """The built-in rules (``None`` or ``"programme"``) or a TOML file."""
    text, source = rules_text(spec, default=DEFAULT_RULES, what="Programme rules")
    return parse_programme_rules(text, source=source)
