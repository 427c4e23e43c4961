"""Control groups: a deterministic treatment/control split of a customer list.

Each customer's group comes from a stable hash of the seed and the customer id alone, so the same customer
lands in the same group on every run, on every machine, whatever else is in the list or its order. Python's
``hash()`` (salted per process) and Polars' ``hash()`` (not stable across versions) are never used.

The hash, precisely (so any other tool can reproduce a split):

1. ``text = f"{seed}:{customer_id}"`` as UTF-8 bytes;
2. ``h`` = 64-bit FNV-1a of ``text`` (offset basis 0xcbf29ce484222325, prime 0x100000001b3);
3. ``h`` = MurmurHash3's 64-bit finaliser (fmix64) of ``h``, which spreads FNV's weak low bits;
4. ``u = (h >> 11) / 2**53``, uniform on [0, 1); the customer is in the **control** group when ``u < share``.

The hash runs vectorised over the ids' bytes (one NumPy step per byte position, not per customer). The same ``u``
splits a list into named test arms by shares (:mod:`loyalty_cli.handoff.arms`), the control arm taking
``u < its share``: the control group of this module for the same share and seed.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
import polars as pl
import pyarrow as pa

from loyalty_cli import words
from loyalty_cli.errors import ConfigError, DataError, setting

HASH_METHOD = "fnv1a64+fmix64 of '<seed>:<customer_id>' (UTF-8); u = (hash >> 11) / 2**53; control when u < share"
TREATMENT = "treatment"
CONTROL = "control"

_FNV_OFFSET = np.uint64(0xCBF29CE484222325)
_FNV_PRIME = np.uint64(0x100000001B3)
_FMIX_1 = np.uint64(0xFF51AFD7ED558CCD)
_FMIX_2 = np.uint64(0xC4CEB9FE1A85EC53)


def _fnv_state(prefix: bytes) -> np.uint64:
    """FNV-1a state after the seed prefix (the same for every customer: computed once)."""
    h = int(_FNV_OFFSET)
    for byte in prefix:
        h = ((h ^ byte) * int(_FNV_PRIME)) & 0xFFFFFFFFFFFFFFFF
    return np.uint64(h)


def _fmix64(h: np.ndarray) -> np.ndarray:
    h = h ^ (h >> np.uint64(33))
    h = h * _FMIX_1
    h = h ^ (h >> np.uint64(33))
    h = h * _FMIX_2
    return h ^ (h >> np.uint64(33))


def stable_hash(ids: pl.Series, seed: str) -> np.ndarray:
    """64-bit hash (uint64) of ``f"{seed}:{id}"`` for every id; see the module docstring."""
    if ids.null_count():
        raise DataError(
            f"{words.count(ids.null_count(), 'customer')} without an id cannot be put in a group",
            hint="Every row of a list needs a customer id.",
        )
    arr: Any = ids.cast(pl.String).rechunk().to_arrow()
    if isinstance(arr, pa.ChunkedArray):
        arr = arr.combine_chunks()
    arr = arr.cast(pa.large_binary())
    n = len(arr)
    _, offsets_buf, data_buf = arr.buffers()
    offsets = np.frombuffer(offsets_buf, dtype=np.int64)[arr.offset : arr.offset + n + 1]
    data = np.frombuffer(data_buf, dtype=np.uint8) if data_buf is not None else np.zeros(0, np.uint8)
    starts = offsets[:-1]
    lengths = np.diff(offsets)
    h = np.full(n, _fnv_state(f"{seed}:".encode()), dtype=np.uint64)
    longest = int(lengths.max()) if n else 0
    with np.errstate(over="ignore"):
        for position in range(longest):  # one vectorised step per byte position
            active = np.flatnonzero(lengths > position)
            byte = data[starts[active] + position].astype(np.uint64)
            h[active] = (h[active] ^ byte) * _FNV_PRIME
        return _fmix64(h)


def unit_interval(ids: pl.Series, seed: str) -> np.ndarray:
    """The hash of each id mapped to [0, 1): the top 53 bits over 2**53."""
    return (stable_hash(ids, seed) >> np.uint64(11)).astype(np.float64) / float(2**53)


def check_share(share: float) -> float:
    if not 0.0 < share < 1.0:
        raise ConfigError(
            "holdout_share",
            f"must be between 0 and 1 (exclusive), got {share:g}",
            hint=f"e.g. {setting('holdout_share')} 0.1 keeps 10% of the list as a control group.",
        )
    return share


def is_control(customer_id: str | pl.Expr, *, share: float, seed: str) -> pl.Expr:
    """A boolean expression: True for customers in the control group. Works lazily (per batch)."""
    check_share(share)
    col = pl.col(customer_id) if isinstance(customer_id, str) else customer_id
    return col.map_batches(
        lambda s: pl.Series(s.name, unit_interval(s, seed) < share), return_dtype=pl.Boolean, is_elementwise=True
    )


def assign_groups(
    table: pl.DataFrame, *, share: float, seed: str, id_column: str = "customer_id", column: str = "group"
) -> pl.DataFrame:
    """``table`` with a ``group`` column: ``control`` for a share of the customers, ``treatment`` for the rest."""
    return table.with_columns(
        pl.when(is_control(id_column, share=share, seed=seed))
        .then(pl.lit(CONTROL))
        .otherwise(pl.lit(TREATMENT))
        .alias(column)
    )


@dataclass(frozen=True)
class Split:
    """What a split did: recorded in the list's manifest so the uplift report can be traced back."""

    share: float
    seed: str
    treatment: int
    control: int

    @property
    def control_share(self) -> float:
        total = self.treatment + self.control
        return self.control / total if total else 0.0

    def to_dict(self) -> dict[str, Any]:
        return {
            "share": self.share,
            "seed": self.seed,
            "treatment": self.treatment,
            "control": self.control,
            "control_share": round(self.control_share, 6),
            "hash": HASH_METHOD,
        }


def split_summary(groups: pl.Series, *, share: float, seed: str) -> Split:
    """Counts of a ``group`` column made by :func:`assign_groups`."""
    control = int((groups == CONTROL).sum())
    return Split(share=share, seed=seed, treatment=groups.len() - control, control=control)
