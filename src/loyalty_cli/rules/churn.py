"""Churn rules (``rules/churn.toml``, or the user's copy): when a customer who has not bought for a while is
*lapsing*, then *lapsed*, and which customers are worth a costly win-back offer. Loaded and checked here, every
problem naming the file and the key; :mod:`loyalty_cli.metrics.churn` applies them to the customers.

- ``[lapsing]`` and ``[lapsed]``: each one of ``multiplier`` x the inter-purchase time (IPT; optionally
  bounded by ``min_days`` / ``max_days``), fixed ``days``, or ``percentile`` (that percentile of the repeat
  customers' own IPT). Lapsed comes after lapsing.
- ``[ipt]``: ``own`` (``median`` or ``mean`` of a customer's own gaps) used with at least ``min_gaps`` gaps
  (default 2), else the population's IPT.
- ``[value]``: the ``high`` and ``medium`` quantiles of the value tiers (default 0.8 and 0.5) and the tiers
  worth a ``costly_offer`` (default high and medium).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

from loyalty_cli.errors import RulesError
from loyalty_cli.rules.files import header, parse_toml, rules_text, section

STATUSES: tuple[str, ...] = ("active", "lapsing", "lapsed")
TIERS: tuple[str, ...] = ("high", "medium", "low")
DEFAULT_RULES = "churn"

_TOP_KEYS = {"name", "version", "description", "ipt", "lapsing", "lapsed", "value"}
_IPT_KEYS = {"own", "min_gaps"}
_THRESHOLD_KEYS = {"multiplier", "days", "percentile", "min_days", "max_days"}
_VALUE_KEYS = {"high", "medium", "costly_offer"}
_KINDS = ("multiplier", "days", "percentile")


@dataclass(frozen=True)
class Threshold:
    """Days since the last purchase beyond which a customer is lapsing (or lapsed)."""

    kind: Literal["multiplier", "days", "percentile"]
    value: float
    min_days: float | None = None
    max_days: float | None = None

    @property
    def uses_ipt(self) -> bool:
        return self.kind == "multiplier"

    def describe(self) -> str:
        """The rule in words, e.g. ``1.5 x IPT (at least 14 days)``."""
        if self.kind == "days":
            return f"fixed {self.value:g} days"
        if self.kind == "percentile":
            return f"p{self.value:g} of repeat customers' IPT"
        bounds = [
            f"at least {self.min_days:g} days" if self.min_days is not None else "",
            f"at most {self.max_days:g} days" if self.max_days is not None else "",
        ]
        shown = ", ".join(b for b in bounds if b)
        return f"{self.value:g} x IPT" + (f" ({shown})" if shown else "")


@dataclass(frozen=True)
class ChurnRules:
    source: str
    name: str
    version: str
    description: str
    lapsing: Threshold
    lapsed: Threshold
    own_ipt: Literal["median", "mean"] = "median"
    min_gaps: int = 2
    high: float = 0.8
    medium: float = 0.5
    costly_offer: tuple[str, ...] = ("high", "medium")

    @property
    def uses_ipt(self) -> bool:
        return self.lapsing.uses_ipt or self.lapsed.uses_ipt

    def describe(self) -> str:
        text = f"lapsing after {self.lapsing.describe()}, lapsed after {self.lapsed.describe()}"
        if self.uses_ipt:
            text += (
                f"; IPT = the customer's own {self.own_ipt} gap with {self.min_gaps}+ gaps, else the "
                "population's (median of repeat customers' IPT)"
            )
        return text


def _number(source: str, key: str, value: object, *, minimum: float = 0.0, strict: bool = True) -> float:
    if (
        isinstance(value, bool)
        or not isinstance(value, int | float)
        or not math.isfinite(value)
        or value < minimum
        or (strict and value == minimum)
    ):
        sign = ">" if strict else ">="
        raise RulesError(
            f"{source}: {key} must be a number {sign} {minimum:g}, got {value!r}",
            hint="e.g. multiplier = 1.5, days = 60 or percentile = 90.",
        )
    return float(value)


def _threshold(source: str, data: dict[str, object], key: str) -> Threshold:
    raw = section(source, data, key, _THRESHOLD_KEYS)
    kinds = [k for k in _KINDS if k in raw]
    if len(kinds) != 1:
        found = f"got {', '.join(kinds)}" if kinds else "got none"
        raise RulesError(
            f"{source}: [{key}] needs exactly one of multiplier, days or percentile ({found})",
            hint=f"e.g. [{key}] multiplier = 3 (x the inter-purchase time) or days = 180.",
        )
    kind = kinds[0]
    value = _number(source, f"[{key}] {kind}", raw[kind])
    if kind == "percentile" and value >= 100:
        raise RulesError(
            f"{source}: [{key}] percentile must be between 0 and 100, got {raw[kind]!r}", hint="e.g. percentile = 90."
        )
    bounds: dict[str, float | None] = {"min_days": None, "max_days": None}
    for bound in bounds:
        if bound in raw:
            if kind != "multiplier":
                raise RulesError(
                    f"{source}: [{key}] {bound} only goes with multiplier",
                    hint=f"Remove {bound}, or use multiplier = ...",
                )
            bounds[bound] = _number(source, f"[{key}] {bound}", raw[bound], strict=False)
    low, high = bounds["min_days"], bounds["max_days"]
    if low is not None and high is not None and low > high:
        raise RulesError(f"{source}: [{key}] min_days ({low:g}) is above max_days ({high:g})")
    return Threshold(kind=kind, value=value, min_days=low, max_days=high)  # type: ignore[arg-type]


def _thresholds(source: str, data: dict[str, Any]) -> tuple[Threshold, Threshold]:
    """[lapsing] and [lapsed], lapsed after lapsing."""
    for key in ("lapsing", "lapsed"):
        if key not in data:
            raise RulesError(f"{source}: no [{key}] section", hint=f"Add [{key}] with multiplier, days or percentile.")
    lapsing, lapsed = _threshold(source, data, "lapsing"), _threshold(source, data, "lapsed")
    if lapsing.kind == lapsed.kind and lapsed.value <= lapsing.value:
        raise RulesError(
            f"{source}: [lapsed] {lapsed.kind} ({lapsed.value:g}) must be above [lapsing] "
            f"{lapsing.kind} ({lapsing.value:g})",
            hint="A customer is lapsing first, then lapsed.",
        )
    # bounds that put the lapsed threshold below the lapsing one for everybody, whatever their IPT
    least = lapsing.value if lapsing.kind == "days" else lapsing.min_days
    most = lapsed.value if lapsed.kind == "days" else lapsed.max_days
    if least is not None and most is not None and most <= least:
        raise RulesError(
            f"{source}: [lapsed] is at most {most:g} days, but [lapsing] is at least {least:g}: "
            "nobody could be lapsing",
            hint="A customer is lapsing first, then lapsed: raise [lapsed] "
            "max_days or days, or lower [lapsing] min_days or days.",
        )
    return lapsing, lapsed


def _ipt(source: str, data: dict[str, Any]) -> dict[str, Any]:
    """[ipt]: ``own_ipt`` and ``min_gaps``."""
    ipt = section(source, data, "ipt", _IPT_KEYS)
    own = ipt.get("own", "median")
    if own not in ("median", "mean"):
        raise RulesError(f'{source}: [ipt] own must be "median" or "mean", got {own!r}')
    min_gaps = ipt.get("min_gaps", 2)
    if isinstance(min_gaps, bool) or not isinstance(min_gaps, int) or min_gaps < 1:
        raise RulesError(
            f"{source}: [ipt] min_gaps must be a whole number >= 1, got {min_gaps!r}",
            hint="e.g. min_gaps = 2 (a customer's own IPT needs two gaps, i.e. three purchases).",
        )
    return {"own_ipt": own, "min_gaps": min_gaps}


def _value(source: str, data: dict[str, Any]) -> dict[str, Any]:
    """[value]: the ``high`` and ``medium`` quantiles and the tiers worth a ``costly_offer``."""
    value = section(source, data, "value", _VALUE_KEYS)
    high = _number(source, "[value] high", value.get("high", 0.8))
    medium = _number(source, "[value] medium", value.get("medium", 0.5))
    if not medium < high < 1:
        raise RulesError(
            f"{source}: [value] needs 0 < medium < high < 1 (quantiles of all customers), got "
            f"medium = {medium:g}, high = {high:g}",
            hint="e.g. high = 0.8, medium = 0.5.",
        )
    costly = value.get("costly_offer", ["high", "medium"])
    if not isinstance(costly, list) or any(t not in TIERS for t in costly):
        raise RulesError(
            f"{source}: [value] costly_offer must be a list of tiers (high, medium, low), got {costly!r}",
            hint='e.g. costly_offer = ["high", "medium"].',
        )
    return {"high": high, "medium": medium, "costly_offer": tuple(t for t in TIERS if t in costly)}


def parse_churn_rules(text: str, *, source: str) -> ChurnRules:
    """Parse and check churn rules; every problem names the file and the key."""
    data = parse_toml(text, source=source, keys=_TOP_KEYS, has="Churn rules have")
    lapsing, lapsed = _thresholds(source, data)
    ipt, value = _ipt(source, data), _value(source, data)
    return ChurnRules(source=source, **header(source, data), lapsing=lapsing, lapsed=lapsed, **ipt, **value)


def load_churn_rules(spec: str | Path | None = None) -> ChurnRules:
    """The built-in rules (``None`` or ``"churn"``) or a TOML file."""
    text, source = rules_text(spec, default=DEFAULT_RULES, what="Churn rules")
    return parse_churn_rules(text, source=source)
