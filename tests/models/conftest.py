"""Shared data for the model tests.

CDNOW data (CDNOW_sample.txt, cdnow_customers_summary*.csv, clv_cumulative_transactions.csv) by Fader &
Hardie, as redistributed by the lifetimes project (MIT licence, tests/data/LICENSE.lifetimes.txt)."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pytest

DATA = Path(__file__).parent.parent / "data"


@dataclass(frozen=True)
class Summary:
    ids: np.ndarray
    x: np.ndarray
    t_x: np.ndarray
    T: np.ndarray
    zbar: np.ndarray | None = None

    def rows(self, *ids: int) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray | None]:
        i = np.searchsorted(self.ids, ids)
        assert np.array_equal(self.ids[i], ids)
        return self.x[i], self.t_x[i], self.T[i], None if self.zbar is None else self.zbar[i]


def _read_csv(name: str) -> np.ndarray:
    return np.genfromtxt(DATA / name, delimiter=",", names=True)


@pytest.fixture(scope="session")
def cdnow() -> Summary:
    """Hardie's 39-week calibration summary in weeks, 2 decimals (cdnow_customers_summary.csv)."""
    d = _read_csv("cdnow_customers_summary.csv")
    return Summary(d["ID"].astype(int), d["frequency"], d["recency"], d["T"])


@pytest.fixture(scope="session")
def cdnow_spend() -> Summary:
    """The same with the mean repeat spend (cdnow_customers_summary_with_transactions.csv)."""
    d = _read_csv("cdnow_customers_summary_with_transactions.csv")
    return Summary(d["ID"].astype(int), d["x"], d["t_x"], d["T"], d["zbar"])


@dataclass(frozen=True)
class Transactions:
    customer: np.ndarray  # one row per customer-day with a purchase, sorted by customer then day
    day: np.ndarray  # days since 1997-01-01
    value: np.ndarray  # spend of that customer-day


CALIBRATION_END = int((np.datetime64("1997-09-30") - np.datetime64("1997-01-01")).astype(int))


@pytest.fixture(scope="session")
def cdnow_days() -> Transactions:
    """CDNOW_sample.txt aggregated to one purchase per customer-day (the published convention)."""
    raw = np.loadtxt(DATA / "CDNOW_sample.txt", usecols=(1, 2, 4))
    customer = raw[:, 0].astype(np.int64)
    ymd = raw[:, 1].astype(np.int64)
    dates = (ymd // 10000 - 1970).astype("datetime64[Y]").astype("datetime64[M]") + (ymd // 100 % 100 - 1)
    day = (dates.astype("datetime64[D]") + (ymd % 100 - 1) - np.datetime64("1997-01-01")).astype(np.int64)
    keys, inverse = np.unique(np.column_stack([customer, day]), axis=0, return_inverse=True)
    value = np.bincount(inverse.ravel(), weights=raw[:, 2])
    return Transactions(keys[:, 0], keys[:, 1], value)


@pytest.fixture(scope="session")
def cdnow_exact(cdnow_days: Transactions) -> Summary:
    """The calibration summary built from the transactions (exact days / 7, as the published CLVs use)."""
    cal = cdnow_days.day <= CALIBRATION_END
    customer, day, value = cdnow_days.customer[cal], cdnow_days.day[cal], cdnow_days.value[cal]
    ids, first_idx, counts = np.unique(customer, return_index=True, return_counts=True)
    first, last = day[first_idx], day[first_idx + counts - 1]
    x = (counts - 1).astype(float)
    total = np.bincount(np.searchsorted(ids, customer), weights=value)
    zbar = np.where(x > 0, (total - value[first_idx]) / np.maximum(x, 1), 0.0)
    return Summary(ids, x, (last - first) / 7.0, (CALIBRATION_END - first) / 7.0, zbar)


def simulate_bgnbd(
    n: int, r: float, alpha: float, a: float, b: float, T: np.ndarray, rng: np.random.Generator
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(x, t_x, T) of n customers drawn from the BG/NBD, vectorised.

    While active a customer buys at Poisson rate lambda ~ Gamma(r, alpha); after each repeat purchase they
    drop out with probability p ~ Beta(a, b), so the repeat purchase after which they leave is K ~
    Geometric(p). With N ~ Poisson(lambda T) arrivals in (0, T], x = min(N, K), and given N = n the x-th
    arrival time is T times the x-th order statistic of n uniforms, T * Beta(x, n - x + 1)."""
    lam = rng.gamma(r, 1.0 / alpha, n)
    p = rng.beta(a, b, n)
    k = rng.geometric(p)
    arrivals = rng.poisson(lam * T)
    x = np.minimum(arrivals, k)
    t_x = np.zeros(n)
    pos = x > 0
    t_x[pos] = T[pos] * rng.beta(x[pos], arrivals[pos] - x[pos] + 1)
    return x.astype(float), t_x, T.astype(float)


@pytest.fixture(scope="session")
def simulate():
    return simulate_bgnbd


def rare_dropout_days(seed: int = 0, n: int = 500) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(x, t_x, T) in whole days of n customers who almost never drop out (BG/NBD with a = 0.02, b = 0.5;
    about 0.4 purchases a week): their BG/NBD fit lands at the boundary, a near 0 with b's standard error
    larger than b. Observed for 20 to 52 weeks."""
    rng = np.random.default_rng(seed)
    T = np.floor(rng.uniform(140, 364, n)) / 7
    x, t_x, T = simulate_bgnbd(n, 0.8, 4.0, 0.02, 0.5, T, rng)
    return x, np.floor(t_x * 7), T * 7


@pytest.fixture(scope="session")
def rare_dropout():
    """:func:`rare_dropout_days` in weeks."""
    x, t_x, T = rare_dropout_days()
    return x, t_x / 7, T / 7
