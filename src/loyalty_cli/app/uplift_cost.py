"""The reward's cost of ``uplift`` (its ``cost`` setting), parsed and matched to the treated arms.

The text is one cost for every treated arm, ``2.50`` (per customer treated, also ``2.50/customer``) or
``5/redemption`` (per redemption: a treated customer who bought in the window, see
:mod:`loyalty_cli.metrics.uplift_arms`), or one per arm, ``reward_a=2.5,reward_b=5/redemption`` (lists split into
arms only; every treated arm needs one, 0 for an arm without a reward)."""

from __future__ import annotations

import math
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

from loyalty_cli.errors import ConfigError
from loyalty_cli.metrics.uplift_arms import PER_CUSTOMER, PER_REDEMPTION, RewardCost

HINT = (
    "A cost per customer treated (2.50), per redemption (5/redemption: a treated customer who bought in the "
    "window), or one per arm (reward_a=2.5,reward_b=5/redemption)."
)
_ONE = re.compile(r"(?P<unit>\d+(?:\.\d*)?|\.\d+)\s*(?:/\s*(?P<per>\w+))?", re.IGNORECASE)
_PER = {"customer": PER_CUSTOMER, "customers": PER_CUSTOMER, "redemption": PER_REDEMPTION}
_PER["redemptions"] = PER_REDEMPTION


@dataclass(frozen=True)
class RewardCosts:
    """The cost setting parsed: one cost for every treated arm (``each``), or one per arm by name (``arms``)."""

    each: RewardCost | None = None
    arms: Mapping[str, RewardCost] = field(default_factory=dict)

    def for_arms(self, treated: Sequence[str], *, control: str | None, named: bool) -> dict[str, RewardCost]:
        """Each treated arm's cost. ``named``: the lists are split into arms (``treated`` their names; else one
        treatment group). A cost per arm for lists without arms, for an arm they do not have (or the control
        arm, ``control``), or none for one of their treated arms is a :class:`ConfigError`."""
        if self.each is not None:
            return dict.fromkeys(treated, self.each)
        given = ", ".join(self.arms)
        if not named:
            raise ConfigError(
                "cost",
                f"gives a cost per arm ({given}), but the lists are not split into arms",
                hint="Give one cost for the treatment, e.g. 2.50 or 5/redemption; a cost per arm needs lists "
                "split into arms (a manifest that records arms, or a list with an arm column).",
            )
        unknown = [name for name in self.arms if name not in treated]
        if unknown:
            what = "the control group, which gets no reward" if unknown[0] == control else "not an arm of the lists"
            raise ConfigError(
                "cost",
                f"names the arm {unknown[0]!r}: {what}",
                hint=f"The treated arms: {', '.join(treated)}.",
            )
        missing = [name for name in treated if name not in self.arms]
        if missing:
            raise ConfigError(
                "cost",
                f"gives no cost for the arm {missing[0]!r}",
                hint=f"Give every treated arm a cost (0 for an arm without a reward): {', '.join(treated)}.",
            )
        return {name: self.arms[name] for name in treated}


def parse_cost(text: str | None) -> RewardCosts | None:
    """The cost setting (see the module docstring) as :class:`RewardCosts`; None without one. Text that is not a
    cost, a negative cost, an arm named twice or a cost for some arms and not others is a :class:`ConfigError`."""
    if text is None:
        return None
    parts = [part.strip() for part in text.split(",")]
    if not any("=" in part for part in parts):
        if len(parts) != 1:
            raise ConfigError("cost", f"{text!r}: one cost, or one per arm as NAME=COST", hint=HINT)
        return RewardCosts(each=_one(parts[0], text))
    costs: dict[str, RewardCost] = {}
    for part in parts:
        name, equals, value = (s.strip() for s in part.partition("="))
        if not equals or not name:
            raise ConfigError("cost", f"{text!r}: {part!r} is not NAME=COST", hint=HINT)
        if name in costs:
            raise ConfigError("cost", f"{text!r}: the arm {name!r} is given twice", hint=HINT)
        costs[name] = _one(value, text)
    return RewardCosts(arms=costs)


def _one(value: str, text: str) -> RewardCost:
    match = _ONE.fullmatch(value.strip())
    per = _PER.get((match["per"] or "customer").lower()) if match else None
    if match is None or per is None or not math.isfinite(float(match["unit"])):
        raise ConfigError("cost", f"{text!r}: {value!r} is not a cost", hint=HINT)
    return RewardCost(unit=float(match["unit"]), per=per)  # type: ignore[arg-type]
