"""Sample sizes for a reward test: how many customers each arm needs to detect a given difference.

Normal approximations, two-sided, for one treatment arm against a control group (``ratio`` = treatment size /
control size), with ``z_a = z_(1 - alpha/2)`` and ``z_b = z_power``:

- **Two proportions** (repurchase rates ``p0`` control, ``p1 = p0 + d`` treatment), unpooled variance:
  ``n_control = (z_a + z_b)^2 (p1 (1 - p1) / ratio + p0 (1 - p0)) / d^2``. With equal groups (ratio 1) this is the
  textbook ``n = (z_a + z_b)^2 (p0 q0 + p1 q1) / d^2`` per group: p0 = 0.10, p1 = 0.12, alpha 0.05, power 0.8 gives
  3,838.1, i.e. 3,839 customers per group.
- **Two means** (revenue per customer, common standard deviation ``sd``):
  ``n_control = (z_a + z_b)^2 sd^2 (1 + 1 / ratio) / d^2``; sd = 40, d = 5 gives 1,004.7, i.e. 1,005 per group.

**Arms** (:func:`plan_sizes`): k treatment arms each compared with one control, the arms' shares of the list fixed
(e.g. 0.4, 0.4, 0.2). Each comparison is planned at the Bonferroni level alpha / k: the uplift analysis adjusts its
p-values by Holm's method, which rejects whenever Bonferroni does, so a comparison planned for Bonferroni has at
least the planned power under Holm (the plan is conservative). The list size needed is the largest of the
comparisons' ``n_control / control share``; each arm needs that times its share, rounded up, and the list the sum
of the arms' (at most one customer per arm above the unrounded size).

:func:`detectable_difference` goes the other way: the smallest difference that a given number of customers (split by
the shares) detects with the same power and alpha. Pure Python (``statistics.NormalDist``): no data, no NumPy.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from statistics import NormalDist

_NORMAL = NormalDist()
#: a share total this close to 1 is 1 (shares typed as 0.33,0.33,0.34 are fine; 0.3,0.3 is not)
SHARE_TOLERANCE = 1e-6


def z_sum(alpha: float, power: float) -> float:
    """``z_(1 - alpha/2) + z_power``: the two-sided critical value plus the power's quantile."""
    if not 0.0 < alpha < 1.0:
        raise ValueError(f"alpha must be in (0, 1), got {alpha}")
    if not 0.0 < power < 1.0:
        raise ValueError(f"power must be in (0, 1), got {power}")
    return _NORMAL.inv_cdf(1.0 - alpha / 2.0) + _NORMAL.inv_cdf(power)


def bonferroni(alpha: float, comparisons: int) -> float:
    """The per-comparison level of ``comparisons`` tests at family-wise level ``alpha``."""
    if comparisons < 1:
        raise ValueError(f"comparisons must be at least 1, got {comparisons}")
    return alpha / comparisons


@dataclass(frozen=True)
class Proportions:
    """A repurchase-rate test: control rate ``p0``, treatment rate ``p1`` (unpooled normal approximation)."""

    p0: float
    p1: float

    def __post_init__(self) -> None:
        if not (0.0 <= self.p0 <= 1.0 and 0.0 <= self.p1 <= 1.0):
            raise ValueError(f"rates must be in [0, 1], got {self.p0} and {self.p1}")
        if self.p1 == self.p0:
            raise ValueError("the difference must not be 0")

    @property
    def difference(self) -> float:
        return self.p1 - self.p0

    def n_control(self, z: float, ratio: float) -> float:
        """Customers the control needs when the treatment has ``ratio`` times as many (unrounded)."""
        q0, q1 = 1.0 - self.p0, 1.0 - self.p1
        return z**2 * (self.p1 * q1 / ratio + self.p0 * q0) / self.difference**2


@dataclass(frozen=True)
class Means:
    """A revenue-per-customer test: control mean ``m0``, treatment mean ``m1``, common standard deviation ``sd``."""

    m0: float
    m1: float
    sd: float

    def __post_init__(self) -> None:
        if not self.sd > 0.0:
            raise ValueError(f"the standard deviation must be > 0, got {self.sd}")
        if self.m1 == self.m0:
            raise ValueError("the difference must not be 0")

    @property
    def difference(self) -> float:
        return self.m1 - self.m0

    def n_control(self, z: float, ratio: float) -> float:
        return z**2 * self.sd**2 * (1.0 + 1.0 / ratio) / self.difference**2


Outcome = Proportions | Means


def n_per_group(outcome: Outcome, *, alpha: float, power: float, ratio: float = 1.0) -> tuple[float, float]:
    """(control, treatment) sizes, unrounded, for one comparison at two-sided ``alpha`` and ``power``; the
    treatment is ``ratio`` times the control."""
    if not ratio > 0.0:
        raise ValueError(f"ratio must be > 0, got {ratio}")
    n_c = outcome.n_control(z_sum(alpha, power), ratio)
    return n_c, ratio * n_c


@dataclass(frozen=True)
class SizePlan:
    """The customers needed: ``needed`` per arm (the shares' order, rounded up), ``total`` (their sum: the list
    size); ``alpha``: the per-comparison level (Bonferroni), ``comparisons``: the treatment arms."""

    names: tuple[str, ...]
    shares: tuple[float, ...]
    control: str
    needed: tuple[int, ...]
    total: int
    alpha: float
    comparisons: int


def check_shares(names: Sequence[str], shares: Sequence[float], control: str) -> None:
    if len(names) != len(shares) or len(names) < 2:
        raise ValueError("one share per arm, at least two arms")
    if control not in names:
        raise ValueError(f"no control arm {control!r} among {names}")
    if any(not s > 0.0 for s in shares) or abs(sum(shares) - 1.0) > SHARE_TOLERANCE:
        raise ValueError(f"shares must be > 0 and sum to 1, got {shares}")


def _ceil(x: float) -> int:
    """Rounded up, but 3839.0000000001 (floating-point noise) is 3839."""
    return math.ceil(x - 1e-9)


def plan_sizes(
    outcome: Outcome,
    *,
    names: Sequence[str],
    shares: Sequence[float],
    control: str = "control",
    alpha: float = 0.05,
    power: float = 0.8,
) -> SizePlan:
    """The customers each arm needs (see the module docstring): every treatment arm compared with ``control`` at
    ``alpha / k`` (k treatment arms) and ``power``, the list split by ``shares``."""
    check_shares(names, shares, control)
    c = names.index(control)
    k = len(names) - 1
    level = bonferroni(alpha, k)
    s_c = shares[c]
    arms = [s for i, s in enumerate(shares) if i != c]
    total = max(n_per_group(outcome, alpha=level, power=power, ratio=s / s_c)[0] / s_c for s in arms)
    return SizePlan(
        names=tuple(names),
        shares=tuple(shares),
        control=control,
        needed=(needed := tuple(_ceil(total * s) for s in shares)),
        total=sum(needed),
        alpha=level,
        comparisons=k,
    )


def detectable_difference(
    kind: str,
    *,
    baseline: float,
    available: int,
    treatment_share: float,
    control_share: float,
    alpha: float,
    power: float,
    sd: float | None = None,
) -> float | None:
    """The smallest increase over ``baseline`` that ``available`` customers, a ``treatment_share`` and a
    ``control_share`` of them, detect at ``alpha`` (per comparison) and ``power``: ``kind`` ``proportion``
    (``baseline`` a rate; solved by bisection, as the treatment's variance moves with the difference; None when
    even a rate of 1 is not detectable) or ``mean`` (``sd`` the common standard deviation; closed form)."""
    n_c, n_t = available * control_share, available * treatment_share
    if n_c <= 0 or n_t <= 0:
        return None
    z = z_sum(alpha, power)
    if kind == "mean":
        if sd is None or not sd > 0:
            return None
        return z * sd * math.sqrt(1.0 / n_c + 1.0 / n_t)
    if kind != "proportion":
        raise ValueError(f"kind must be proportion or mean, got {kind!r}")
    ratio = n_t / n_c
    if baseline >= 1.0 or Proportions(baseline, 1.0).n_control(z, ratio) > n_c:
        return None
    low, high = 0.0, 1.0 - baseline  # needed(d) falls as d grows (module tests): bisect on it
    for _ in range(100):
        mid = (low + high) / 2.0
        if mid > 0 and Proportions(baseline, baseline + mid).n_control(z, ratio) <= n_c:
            high = mid
        else:
            low = mid
    return high
