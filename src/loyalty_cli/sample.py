"""Synthetic shop data: transactions, NPS surveys and contacts for demos, tests and benchmarks.

The shop's catalogue (categories, SKUs, product names, channels) is in :mod:`loyalty_cli.sample_catalog`,
the loyalty programme's draw in :mod:`loyalty_cli.sample_programme`.

Generative process (vectorised with NumPy; Polars only builds the text columns at the end):

* Acquisition: first-purchase days spread over ``[start, end]`` with exponential growth (the last day
  sees 2.5 times as many new customers as the first). Each customer has a favourite category, which
  shapes the first order and how often and how long they keep buying (subscribers stay, gift buyers go).
* Repeat purchases, BG/NBD-like: a purchase rate ``lambda ~ Gamma(0.6, scale 1/25)`` per day and a
  dropout chance ``p ~ Beta(0.8, 2.5)`` after each purchase, so ``Geometric(p)`` purchases at most. The
  candidate repeats in the window form a Poisson process: their count is ``Poisson(lambda * days_left)``
  and the first ``k`` of them are uniform order statistics, drawn from exponential spacings. Candidates
  are thinned by month (November and December keep the most) for mild seasonality.
* Spend, Gamma-Gamma-like: order values ``~ Gamma(6, scale 1/nu)`` with ``nu ~ Gamma(3.5, scale 1/15)``
  per customer. An order has 1-4 lines of distinct SKUs (each with its ``product_name``, from
  ``PRODUCT_NAMES``, no random draw); quantities follow the order value and the price. Subscriptions (3 SKUs,
  bought most often by the customers who favour them) come back about every four weeks, coffee and tea every
  two months or so: the consumables of ``loyalty products``' replenishment cycle.
* Returns: about 3% of orders get a return 3-30 days later and 1% are cancelled within a day, each a new
  order with a ``C``-prefixed id and negative quantities (UCI style). Events after ``end`` are dropped.
* Surveys: about 30% of buyers answer 1-2 NPS surveys after a purchase; frequent, high-spending customers
  score higher. About 2% of scores are blank.
* Contacts: every buyer plus 15% prospects who never bought; ids are numbered in sign-up order.
* Loyalty programme (members and points), drawn last from a random stream of its own, so transactions,
  surveys and contacts are the same with or without it. Every buyer has an *anchor day*: the first
  purchase day (60%: joined at checkout) or 1-14 days later (joined online). A buyer enrols on the anchor
  day with probability ``MEMBER_ENROL[True]`` = 0.6 if they buy again within ``MEMBER_WINDOW_DAYS`` = 365
  days after it, else ``MEMBER_ENROL[False]`` = 0.2: the **built-in member effect** is that members have
  a much higher repeat rate (odds ratio 0.6/0.4 : 0.2/0.8 = 6). The purchases are simulated first, so it
  is pure self-selection, exactly what a member/non-member comparison cannot tell from a causal effect.
  10% of prospects enrol too, on their sign-up day (members with no purchase). Points: 1 per whole
  currency unit of each order from the enrolment day on, 100 welcome points (adjust), returns taken back
  (negative adjust); each time a member's cumulative points pass a multiple of 500 they redeem 500 with
  probability 0.7 at that order; a balance left 365 days after a member's last points event expires.
  Tiers: Bronze on enrolment, Silver from 500 and Gold from 1,500 points earned (one row per tier reached,
  with ``tier_since``).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from pathlib import Path
from typing import Literal

import numpy as np
import polars as pl

from loyalty_cli.io.tempfiles import write_error
from loyalty_cli.io.writers import write_table
from loyalty_cli.sample_catalog import CATALOG, CATEGORY_SHARE, CHANNELS, PRODUCT_NAMES
from loyalty_cli.sample_programme import _programme

SEASON = np.array([0.8, 0.75, 0.8, 0.8, 0.8, 0.75, 0.75, 0.75, 0.8, 0.85, 1.0, 1.0])  # kept share by month
HOURS = np.array([1, 1, 1, 1, 1, 2, 3, 5, 7, 8, 8, 8, 9, 8, 7, 7, 7, 8, 10, 12, 12, 10, 6, 3], float)
HOURS /= HOURS.sum()  # share of orders by hour of day
COMMENTS = (  # detractors (0-6), passives (7-8), promoters (9-10): four each
    "Order arrived late",
    'The "premium" grinder broke after a week',
    "Too expensive, switched shops",
    "Customer service never replied",
    "Good coffee but shipping is slow",
    "Decent, a bit pricey",
    "Fine",
    "Nice beans, boring packaging",
    "Love the beans, will order again",
    'Best "house blend" I have had',
    "Fast delivery",
    "Great service, friendly staff",
)
TOUCHPOINTS = ("post-purchase", "delivery", "quarterly", "annual")  # transactional, then relational
MAX_ORDERS = 60
DAY = 86_400
# The shop shipped in sample_data/ (and the README's figures): generate_sample's defaults.
SAMPLE_CUSTOMERS = 3000
SAMPLE_SEED = 7
TABLES = ("transactions", "surveys", "contacts", "members", "points")  # the files write_sample writes, in order


@dataclass(frozen=True)
class SampleData:
    transactions: pl.DataFrame
    surveys: pl.DataFrame
    contacts: pl.DataFrame
    members: pl.DataFrame | None = None
    points: pl.DataFrame | None = None


def _growth_days(rng: np.random.Generator, size: int, days: int, growth: float = np.log(2.5)) -> np.ndarray:
    """Whole days in [0, days) with a density rising by a factor exp(growth) from first to last day."""
    return np.floor(days * np.log1p(rng.random(size) * np.expm1(growth)) / growth).clip(0, days - 1)


def _seconds(rng: np.random.Generator, day: np.ndarray) -> np.ndarray:
    """Seconds since the start for whole days, at a time of day weighted towards the evening."""
    hour = rng.choice(24, size=day.size, p=HOURS)
    return day.astype(np.int64) * DAY + hour * 3600 + rng.integers(0, 3600, size=day.size)


def _timestamps(start: date, seconds: np.ndarray) -> pl.Series:
    base = (np.datetime64(start, "s") - np.datetime64("1970-01-01", "s")).astype(np.int64)
    return pl.from_epoch(pl.Series((base + seconds) * 1_000_000, dtype=pl.Int64), time_unit="us")


def _arg_sort(keys: np.ndarray) -> np.ndarray:
    """np.argsort for distinct keys, but Polars' is several times faster on millions of rows."""
    return pl.Series(keys).arg_sort().to_numpy()


def _dates(first: date | np.datetime64, days: np.ndarray) -> pl.Series:
    base = (np.datetime64(first, "D") - np.datetime64("1970-01-01", "D")).astype(np.int64)
    return pl.Series(base + days.astype(np.int64)).cast(pl.Int32).cast(pl.Date)


def _simulate_orders(rng: np.random.Generator, n: int, days: int, start: date) -> tuple[np.ndarray, ...]:
    """(favourite category, spend nu per customer; customer, day per order), orders grouped by customer."""
    favourite = rng.choice(len(CATALOG), size=n, p=CATEGORY_SHARE)
    rate = rng.gamma(0.6, 1 / 25, size=n) * np.array([c[5] for c in CATALOG])[favourite]
    dropout = np.clip(rng.beta(0.8, 2.5, size=n) * np.array([c[6] for c in CATALOG])[favourite], 1e-9, 1)
    nu = rng.gamma(3.5, 1 / 15, size=n)
    acquired = _growth_days(rng, n, days)
    days_left = days - acquired
    candidates = rng.poisson(rate * days_left)  # repeat purchases in the window if nobody dropped out
    repeats = np.minimum(np.minimum(candidates, rng.geometric(dropout) - 1), MAX_ORDERS - 1)
    owner = np.repeat(np.arange(n), repeats)
    spacing = rng.exponential(size=owner.size)
    running = np.cumsum(spacing)
    within = running - np.repeat(np.concatenate(([0.0], running))[np.cumsum(repeats) - repeats], repeats)
    total = np.bincount(owner, weights=spacing, minlength=n) + rng.gamma(candidates - repeats + 1.0)
    repeat_day = np.floor(acquired[owner] + days_left[owner] * within / total[owner])
    month = (np.datetime64(start, "D") + repeat_day.astype("timedelta64[D]")).astype("datetime64[M]")
    keep = rng.random(owner.size) < SEASON[month.astype(np.int64) % 12]
    orders = 1 + np.bincount(owner[keep], minlength=n)
    first = np.zeros(orders.sum(), bool)
    first[np.cumsum(orders) - orders] = True
    day = np.empty(first.size)
    day[first], day[~first] = acquired, repeat_day[keep]  # the repeats are already grouped by customer
    return favourite, nu, np.repeat(np.arange(n), orders), day


def _lines(
    rng: np.random.Generator,
    favourite: np.ndarray,
    nu: np.ndarray,
    customer: np.ndarray,
    first: np.ndarray,
    prices: np.ndarray,
) -> tuple[np.ndarray, ...]:
    """(order, sku, quantity) per line: 1-4 distinct SKUs, mostly from the customer's favourite category."""
    sizes = np.array([c[2] for c in CATALOG])
    order = np.repeat(np.arange(customer.size), rng.choice(4, size=customer.size, p=[0.5, 0.28, 0.14, 0.08]) + 1)
    owner = customer[order]
    loyal = rng.random(order.size) < np.where(first[order], 0.85, 0.6)
    category = np.where(loyal, favourite[owner], rng.choice(len(CATALOG), order.size, p=CATEGORY_SHARE))
    first_sku = np.cumsum(sizes) - sizes
    sku = first_sku[category] + (rng.random(order.size) * sizes[category]).astype(np.int64)
    weight = rng.gamma(2.0, size=order.size)
    order_value = rng.gamma(6.0, 1 / nu[customer])
    value = order_value[order] * weight / np.bincount(order, weights=weight)[order]
    quantity = np.clip(np.round(value / prices[sku]), 1, 10).astype(np.int64)
    repeated = np.zeros(order.size, bool)  # an order has at most 4 lines: compare with the 3 before
    for back in (1, 2, 3):
        repeated[back:] |= (order[back:] == order[:-back]) & (sku[back:] == sku[:-back])
    return order[~repeated], sku[~repeated], quantity[~repeated]


def _returns(
    rng: np.random.Generator, order: np.ndarray, quantity: np.ndarray, seconds: np.ndarray, end_seconds: int
) -> tuple[np.ndarray, ...]:
    """(returned order, its return's seconds; line index, negative quantity per returned line)."""
    u = rng.random(seconds.size)
    cancelled = (u >= 0.03) & (u < 0.04)
    later = (seconds // DAY + rng.integers(3, 31, u.size)) * DAY + rng.integers(8 * 3600, 22 * 3600, u.size)
    when = np.where(cancelled, seconds + rng.integers(1800, DAY, u.size), later)
    returned = (u < 0.04) & (when < end_seconds)
    first_line = np.ones(order.size, bool)
    first_line[1:] = order[1:] != order[:-1]
    line = np.flatnonzero(returned[order] & (cancelled[order] | first_line | (rng.random(order.size) < 0.4)))
    share = np.where(cancelled[order[line]], 1.0, rng.random(line.size))
    source = np.flatnonzero(returned)
    return source, when[source], line, -np.ceil(share * quantity[line]).astype(np.int64)


def _contacts(
    rng: np.random.Generator, first_day: np.ndarray, days: int, start: date, end: date
) -> tuple[np.ndarray, pl.DataFrame]:
    """(contacts row of each buyer, contacts). Buyers and prospects are numbered in sign-up order."""
    lag = np.where(rng.random(first_day.size) < 0.55, 0, np.floor(rng.exponential(60, first_day.size)))
    prospects = _growth_days(rng, round(0.15 * first_day.size), days)
    signup = np.concatenate((np.maximum(first_day - lag, 0), prospects))
    total = signup.size
    by_signup = np.argsort(signup + rng.random(total))  # random order within a day
    row = np.empty(total, np.int64)
    row[by_signup] = np.arange(total)
    number = pl.Series(np.arange(1, total + 1)).cast(pl.String).str.zfill(max(6, len(str(total))))
    domain = pl.Series(["@example.com", "@example.org"]).gather(rng.random(total) < 0.3)
    age_days = rng.uniform(18 * 365.25, 80 * 365.25, total)
    contacts = pl.DataFrame(
        {
            "customer_id": "C" + number,
            "email": "c" + number + domain,
            "signed_up_at": _dates(start, signup[by_signup]),
            "birthday": _dates(end, -age_days).set(pl.Series(rng.random(total) < 0.4), None),
            "email_consent": pl.Series(["no", "yes"]).gather(rng.random(total) < 0.8),
        }
    )
    return row[: first_day.size], contacts


def _transactions(
    rng: np.random.Generator,
    favourite: np.ndarray,
    nu: np.ndarray,
    customer: np.ndarray,
    day: np.ndarray,
    first: np.ndarray,
    days: int,
    start: date,
    row: np.ndarray,
    contacts: pl.DataFrame,
) -> pl.DataFrame:
    """Order lines and their returns, sorted by order_date, order_id, sku."""
    sizes = np.array([c[2] for c in CATALOG])
    prices = np.repeat([c[3] for c in CATALOG], sizes) * np.exp(rng.normal(0, 0.35, sizes.sum()))
    prices = np.round(np.maximum(np.round(prices), 1) - 0.01, 2)  # 11.99, 7.99, ...
    sku_names = pl.Series([f"{c[1]}-{i + 1:03d}" for c in CATALOG for i in range(c[2])])
    sku_category = pl.Series(np.repeat([c[0] for c in CATALOG], sizes))
    sku_product = pl.Series([name for c in CATALOG for name in PRODUCT_NAMES[c[0]]])
    seconds = _seconds(rng, day)
    preferred = rng.choice(3, size=nu.size, p=[0.55, 0.25, 0.2])
    channel = np.where(rng.random(day.size) < 0.8, preferred[customer], rng.integers(0, 3, day.size))
    order, sku, quantity = _lines(rng, favourite, nu, customer, first, prices)
    source, when, line, back = _returns(rng, order, quantity, seconds, days * DAY)
    # Events (orders, then returns) are numbered by time, orders before returns within a second, with
    # numbers of one width: so sorting lines by (number, SKU) sorts them by (order_date, order_id, sku).
    event_seconds = np.concatenate((seconds, when))
    number = np.empty(event_seconds.size, np.int64)
    by_time = _arg_sort(
        (2 * event_seconds + (np.arange(number.size) >= customer.size)) * number.size + np.arange(number.size)
    )
    number[by_time] = 10 ** max(5, len(str(number.size))) + np.arange(number.size)
    order_ids = pl.concat(
        [pl.Series(number[: customer.size]).cast(pl.String), "C" + pl.Series(number[customer.size :]).cast(pl.String)],
        rechunk=True,
    )
    event = np.concatenate((order, customer.size + np.searchsorted(source, order[line])))
    sku = np.concatenate((sku, sku[line]))
    sorted_rows = _arg_sort(number[event] * 64 + sku)  # fewer than 64 SKUs, numbered in text order
    event, sku = event[sorted_rows], sku[sorted_rows]
    owner = row[np.concatenate((customer, customer[source]))[event]]
    quantities, unit_prices = pl.Series(np.concatenate((quantity, back))[sorted_rows]), pl.Series(prices[sku])
    return pl.DataFrame(
        {
            "order_id": order_ids.gather(event),
            "customer_id": contacts["customer_id"].gather(owner),
            "order_date": _timestamps(start, event_seconds[event]),
            "sku": sku_names.gather(sku),
            "category": sku_category.gather(sku),
            "channel": pl.Series(CHANNELS).gather(np.concatenate((channel, channel[source]))[event]),
            "quantity": quantities,
            "unit_price": unit_prices,
            "amount": (quantities * unit_prices).round(2),
            "email": contacts["email"].gather(owner),
            "product_name": sku_product.gather(sku),  # last: added after the others, which it leaves as they were
        }
    )


def _surveys(
    rng: np.random.Generator,
    nu: np.ndarray,
    day: np.ndarray,
    counts: np.ndarray,
    offsets: np.ndarray,
    days: int,
    start: date,
    row: np.ndarray,
    ids: pl.Series,
) -> pl.DataFrame:
    """30% of buyers answer once or twice after one of their orders; value and frequency raise the score."""
    answers = np.where(rng.random(nu.size) < 0.3, 1 + (rng.random(nu.size) < 0.3), 0)
    who = np.repeat(np.arange(nu.size), answers)
    relational = rng.random(who.size) < 0.7
    delay = np.where(relational, rng.integers(5, 61, who.size), rng.integers(1, 8, who.size))
    answered = day[offsets[who] + (rng.random(who.size) * counts[who]).astype(np.int64)] + delay
    latent = 7.6 + 0.8 * np.log(counts[who]) + 0.5 * np.log(6 / nu[who] / 36) + rng.normal(0, 2, who.size)
    score = np.clip(np.round(latent), 0, 10).astype(np.int64)
    band = (score >= 7).astype(np.int64) + (score >= 9)
    kept = answered < days
    seconds = _seconds(rng, answered)
    keep = np.flatnonzero(kept)[np.lexsort((row[who][kept], seconds[kept]))]  # id order = row order
    return pl.DataFrame(
        {
            "customer_id": ids.gather(row[who]),
            "responded_at": _timestamps(start, seconds),
            "score": pl.Series(score).set(pl.Series(rng.random(who.size) < 0.02), None),
            "comment": pl.Series(COMMENTS)
            .gather(band * 4 + rng.integers(0, 4, who.size))
            .set(pl.Series(rng.random(who.size) < 0.35), None),
            "survey_type": pl.Series(["transactional", "relational"]).gather(relational),
            "touchpoint": pl.Series(TOUCHPOINTS).gather(2 * relational + rng.integers(0, 2, who.size)),
        }
    )[keep]


def generate_sample(
    *,
    customers: int = SAMPLE_CUSTOMERS,
    seed: int = SAMPLE_SEED,
    start: date = date(2023, 1, 1),
    end: date = date(2024, 12, 31),
) -> SampleData:
    """Simulate ``customers`` buyers (plus 15% prospects) between ``start`` and ``end``; see the module doc.

    The same arguments give identical frames. Rows are sorted: transactions by order_date, order_id, sku;
    surveys by responded_at, customer_id; contacts by customer_id.
    """
    if customers < 1 or end < start:
        raise ValueError("generate_sample needs customers >= 1 and start <= end")
    rng = np.random.default_rng(seed)
    days = (end - start).days + 1
    favourite, nu, customer, day = _simulate_orders(rng, customers, days, start)
    counts = np.bincount(customer, minlength=customers)
    offsets = np.cumsum(counts) - counts
    first = np.zeros(customer.size, bool)
    first[offsets] = True
    row, contacts = _contacts(rng, day[offsets], days, start, end)
    transactions = _transactions(rng, favourite, nu, customer, day, first, days, start, row, contacts)
    surveys = _surveys(rng, nu, day, counts, offsets, days, start, row, contacts["customer_id"])
    members, points = _programme(np.random.default_rng([seed, 1]), transactions, contacts, end)
    return SampleData(transactions, surveys, contacts, members, points)


def write_sample(data: SampleData, folder: Path, *, fmt: Literal["csv", "parquet"] = "csv") -> list[Path]:
    """Writes transactions.<ext>, surveys.<ext>, contacts.<ext> (and members.<ext>, points.<ext> when the
    data has them) into folder (create it). Returns paths."""
    folder = Path(folder)
    try:
        folder.mkdir(parents=True, exist_ok=True)
    except OSError as exc:  # a file of that name, no permission, ...
        raise write_error(folder, exc) from None
    paths = []
    for name, path in zip(TABLES, sample_paths(folder, fmt), strict=True):
        df: pl.DataFrame | None = getattr(data, name)
        if df is None:
            continue
        if fmt == "csv":  # "2024-05-01 13:45:00" rather than Polars' ISO "2024-05-01T13:45:00.000000"
            df = df.with_columns(pl.col(pl.Datetime).dt.to_string("%Y-%m-%d %H:%M:%S"))
        write_table(df, path, fmt=fmt)
        paths.append(path)
    return paths


def sample_paths(folder: Path, fmt: Literal["csv", "parquet"] = "csv") -> list[Path]:
    """The files ``write_sample`` writes into ``folder`` (those of ``TABLES``), whether they exist or not."""
    return [Path(folder) / f"{name}.{fmt}" for name in TABLES]
