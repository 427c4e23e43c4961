"""Test arms: a list split into k named arms (``reward_a, reward_b, control``) by shares, with the hash of the
control group (:mod:`loyalty_cli.handoff.control`).

Each customer's ``u`` (the hash of ``<seed>:<customer_id>`` mapped to [0, 1)) falls in one interval of the shares
laid end to end, the **control arm first** and then the others in the order given: with shares 0.4, 0.4, 0.2 for
``reward_a, reward_b, control``, control is ``u < 0.2``, reward_a ``0.2 <= u < 0.6``, reward_b ``0.6 <= u``. So
the control arm is exactly the control group of the holdout share with the same seed (arms ``treatment,control``
with shares ``0.9,0.1`` hold out the same customers as a holdout share of 0.1), and, like it, a customer's arm
depends on the seed and the id alone: not on the list's order or what else is in it.

An arm named ``control`` (any case) is the control group: held out of the campaign, compared with each other
arm by ``loyalty uplift``. Without one, every arm gets a campaign (a test of rewards against each other).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import polars as pl

from loyalty_cli import words
from loyalty_cli.errors import DataError, UsageError, setting
from loyalty_cli.handoff.control import CONTROL, TREATMENT, Split, assign_groups, split_summary, unit_interval
from loyalty_cli.handoff.sets import sibling

ARMS_HASH_METHOD = (
    "fnv1a64+fmix64 of '<seed>:<customer_id>' (UTF-8); u = (hash >> 11) / 2**53; arms take consecutive "
    "intervals of [0, 1) by share, control first, then the others in the order given"
)
ARM_COLUMN = "arm"
#: a share total this far from 1 is an error (0.33,0.33,0.34 is fine; 0.3,0.3,0.3 is not)
SHARE_TOLERANCE = 1e-6
_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9_-]{0,39}")
#: names the files of a list's set use beside its arms (NAME.<arm>.csv must not be one of them)
_RESERVED = re.compile(r"(?i)dropped|changes|manifest|rejects|contacts|part\d+")


@dataclass(frozen=True)
class Arms:
    """Arm names (as given) and their shares of the list (summing to 1). Build with :func:`parse_arms`."""

    names: tuple[str, ...]
    shares: tuple[float, ...]

    @property
    def control(self) -> str | None:
        """The arm that is the control group (named ``control``: :func:`parse_arms` lowercases it), or None."""
        return CONTROL if CONTROL in self.names else None

    @property
    def treated(self) -> tuple[str, ...]:
        """The arms that get a campaign, in the order given."""
        return tuple(n for n in self.names if n != self.control)

    def share(self, name: str) -> float:
        return self.shares[self.names.index(name)]

    @property
    def interval_order(self) -> tuple[str, ...]:
        """The arms in the order their intervals of [0, 1) take: control first, then the others as given."""
        return tuple(([self.control] if self.control else []) + list(self.treated))


def _arm_names(text: str) -> tuple[str, ...]:
    """``reward_a,reward_b,control``, or a count: ``2`` is treatment and control, ``N`` arm_1 .. arm_(N-1) and
    control."""
    text = text.strip()
    if text.isdigit():
        n = int(text)
        if n < 2:
            raise UsageError(
                f"{setting('arms')} {text}: a test needs at least 2 arms", hint=f"e.g. {setting('arms')} 2 or 3"
            )
        return ("treatment", CONTROL) if n == 2 else (*(f"arm_{i}" for i in range(1, n)), CONTROL)
    names = tuple(CONTROL if part.strip().lower() == CONTROL else part.strip() for part in text.split(","))
    bad = [n for n in names if not _NAME.fullmatch(n) or _RESERVED.fullmatch(n)]
    if bad:
        raise UsageError(
            f"{setting('arms')}: {bad[0]!r} is not an arm name",
            hint="Arm names are letters, digits, _ and - (up to 40, starting with a letter or digit; they name the "
            "arms' files), and not dropped, changes, manifest, rejects, contacts or partNN: e.g. "
            f"{setting('arms')} reward_a,reward_b,control",
        )
    if len(names) < 2:
        raise UsageError(
            f"{setting('arms')} {text!r}: a test needs at least 2 arms",
            hint=f"e.g. {setting('arms')} reward_a,control (an arm named control is the control group)",
        )
    seen: dict[str, str] = {}
    for name in names:
        if name.lower() in seen:
            first = seen[name.lower()]
            also = f" ({first!r} and {name!r} differ only in case)" if name != first else ""
            raise UsageError(
                f"{setting('arms')}: the arm {name!r} is named twice{also}",
                hint="Give each arm its own name: each has its own file (and some systems do not tell file names "
                "apart by case).",
            )
        seen[name.lower()] = name
    return names


def _shares(text: str | None, n: int) -> tuple[float, ...]:
    if text is None or not text.strip():
        return tuple([1.0 / n] * n)
    try:
        shares = tuple(float(part) for part in text.split(","))
    except ValueError:
        raise UsageError(
            f"{setting('arm_shares')} {text!r}: expected numbers separated by commas",
            hint=f"One share per arm, summing to 1, e.g. {setting('arm_shares')} 0.4,0.4,0.2",
        ) from None
    if len(shares) != n:
        raise UsageError(
            f"{setting('arm_shares')} gives {words.count(len(shares), 'share')} for {words.count(n, 'arm')}",
            hint=f"One share per arm of {setting('arms')}, in the same order.",
        )
    if any(not 0.0 < s < 1.0 for s in shares):
        raise UsageError(
            f"{setting('arm_shares')} {text!r}: each share must be between 0 and 1 (exclusive)",
            hint=f"e.g. {setting('arm_shares')} 0.4,0.4,0.2",
        )
    total = sum(shares)
    if abs(total - 1.0) > SHARE_TOLERANCE:
        raise UsageError(
            f"{setting('arm_shares')} {text!r} sum to {total:g}, not 1",
            hint="The arms split the whole list: their shares add up to 1, e.g. 0.4,0.4,0.2.",
        )
    return shares


def parse_arms(arms: str | None, shares: str | None = None) -> Arms | None:
    """The arms setting (names, comma-separated, or a count) and the shares setting (one per arm, summing to 1;
    none: equal shares) as :class:`Arms`; None without arms. A :class:`UsageError` for a bad name, a name given
    twice (in any case), fewer than 2 arms, a share count that differs from the arms', a share outside (0, 1), or
    shares that do not sum to 1."""
    if arms is None:
        if shares is not None:
            raise UsageError(
                f"{setting('arm_shares')} needs {setting('arms')}",
                hint=f"e.g. {setting('arms')} reward_a,reward_b,control {setting('arm_shares')} 0.4,0.4,0.2",
            )
        return None
    names = _arm_names(arms)
    return Arms(names=names, shares=_shares(shares, len(names)))


def arm_of(ids: pl.Series, arms: Arms, seed: str) -> pl.Series:
    """Each id's arm (see the module docstring)."""
    order = arms.interval_order
    cuts = np.cumsum([arms.share(name) for name in order])[:-1]  # the last arm takes the rest: no rounding gap
    index = np.searchsorted(cuts, unit_interval(ids, seed), side="right")  # cuts[i-1] <= u < cuts[i]
    return pl.Series(ARM_COLUMN, np.asarray(order, dtype=object)[index], dtype=pl.String)


def assign_arms(table: pl.DataFrame, arms: Arms, *, seed: str, id_column: str = "customer_id") -> pl.DataFrame:
    """``table`` with an ``arm`` column (a :class:`DataError` when it has one already)."""
    if ARM_COLUMN in table.columns:
        raise DataError(
            f"The list has a column {ARM_COLUMN!r} already: the split into {setting('arms')} would overwrite it",
            hint=f"Rename that column, or split the list without {setting('arms')}.",
        )
    return table.with_columns(arm_of(table[id_column], arms, seed))


@dataclass(frozen=True)
class ArmSplit:
    """What a split into arms did, recorded in the list's manifest (``loyalty uplift`` reads it back)."""

    arms: Arms
    seed: str
    counts: tuple[int, ...]  # customers per arm, in the arms' order

    @property
    def total(self) -> int:
        return sum(self.counts)

    def count(self, name: str) -> int:
        return self.counts[self.arms.names.index(name)]

    def to_dict(self, files: dict[str, list[str]]) -> dict[str, Any]:
        """The manifest's ``arms`` entry; ``files``: each arm's files (paths relative to the manifest)."""
        return {
            "seed": self.seed,
            "hash": ARMS_HASH_METHOD,
            "column": ARM_COLUMN,
            "control": self.arms.control,
            "interval_order": list(self.arms.interval_order),
            "arms": [
                {
                    "name": name,
                    "share": share,
                    "customers": n,
                    "realised_share": round(n / self.total, 6) if self.total else 0.0,
                    "files": files.get(name, []),
                }
                for name, share, n in zip(self.arms.names, self.arms.shares, self.counts, strict=True)
            ],
        }


def split_counts(arm_column: pl.Series, arms: Arms, seed: str) -> ArmSplit:
    counts = arm_column.value_counts()
    found = dict(zip(counts[ARM_COLUMN].to_list(), counts["count"].to_list(), strict=True))
    return ArmSplit(arms=arms, seed=seed, counts=tuple(int(found.get(n, 0)) for n in arms.names))


def split_list(
    rows: pl.DataFrame, path: Path, *, holdout_share: float | None, arms: Arms | None, seed: str
) -> tuple[list[tuple[str, Path, pl.DataFrame]], Split | None, ArmSplit | None]:
    """The files of a screened list written to ``path``: (group or arm, path, rows), ``control`` the one held out,
    and the split made. The list at ``path`` (``treatment``); or with a holdout share its treatment group there
    and its control group at ``<stem>.control<suffix>``; or with arms each arm at ``<stem>.<arm><suffix>`` with
    an ``arm`` column, in the arms' order, and nothing at ``path``."""
    if arms is not None:
        with_arms = assign_arms(rows, arms, seed=seed)
        files = [(arm, sibling(path, arm), with_arms.filter(pl.col(ARM_COLUMN) == arm)) for arm in arms.names]
        return files, None, split_counts(with_arms[ARM_COLUMN], arms, seed)
    if holdout_share is None:
        return [(TREATMENT, path, rows)], None, None
    grouped = assign_groups(rows, share=holdout_share, seed=seed, column="_group")
    split = split_summary(grouped["_group"], share=holdout_share, seed=seed)
    return (
        [
            (TREATMENT, path, grouped.filter(pl.col("_group") == TREATMENT).drop("_group")),
            (CONTROL, sibling(path, CONTROL), grouped.filter(pl.col("_group") == CONTROL).drop("_group")),
        ],
        split,
        None,
    )
