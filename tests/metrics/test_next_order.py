"""Next-order dates (:mod:`loyalty_cli.metrics.next_order`): the dates, gaps and due list by hand for a fixed
population rate, the posterior and the Lomax quantiles against numeric integration, the BG/NBD likelihood the
fit maximises against a double integral, and the fit recovering a simulated shop's purchase rate (where the
completed gaps alone would not)."""

from __future__ import annotations

import math
from datetime import date, timedelta
from functools import partial
from pathlib import Path

import numpy as np
import polars as pl
import pytest
from scipy import integrate, stats
from scipy.optimize import minimize
from scipy.special import gammaln

from loyalty_cli.errors import ModelError
from loyalty_cli.io.rows import Rows
from loyalty_cli.metrics import next_order as no
from loyalty_cli.models import BGNBDModel

AS_OF = date(2024, 4, 1)
# A: 3 purchase days, first 01-01, last 02-10: x = 2, own gap 40 / 2 = 20 days, T = 91 - 1 = 90 days (the last day
#    of data is 03-31); B: one purchase; C: first 03-02, last 03-31: x = 1, own gap 29 days, T = 30 - 1 = 29 days
CUSTOMERS = pl.DataFrame(
    {
        "customer_id": ["A", "B", "C"],
        "first_purchase": [date(2024, 1, 1), date(2024, 3, 20), date(2024, 3, 2)],
        "last_purchase": [date(2024, 2, 10), date(2024, 3, 20), date(2024, 3, 31)],
        "purchase_days": pl.Series([3, 1, 2], dtype=pl.UInt32),
        "recency_days": pl.Series([51, 12, 1], dtype=pl.Int32),
        "net_spend": [30.0, 10.0, 20.0],
        "as_of": [AS_OF] * 3,
    }
)
# the population's rate while active ~ Gamma(r = 2, alpha = 30 days)
PRIOR = no.RatePrior(r=2.0, alpha_days=30.0)


def test_the_table_for_counts_is_the_same_rows_without_the_sort():
    # the report counts the due customers: the same rows, in no order, and no sort in the plan (at 50M lines the
    # sort of every repeat customer's row cost the report ~1 GB)
    ordered = no.next_order_table(CUSTOMERS.lazy(), PRIOR)
    unordered = no.next_order_table(CUSTOMERS.lazy(), PRIOR, ordered=False)
    assert "SORT" in ordered.explain() and "SORT" not in unordered.explain()
    assert unordered.collect().sort("next_order_date", "customer_id").equals(ordered.collect())


@pytest.mark.parametrize("ids", ["sorted", "reversed"])
def test_the_list_is_an_order_over_the_summary(ids: str) -> None:
    # D and E are copies of A under other ids: the same dates, so the ids break the tie (A, D, E). The list is the
    # summary's rows at the positions soonest_first gives, made a slice at a time: the sorted table's rows. With
    # the ids in order (stage 1 in passes) the positions stand for the ids; in another order the ids are sorted.
    a = CUSTOMERS.filter(pl.col("customer_id") == "A")
    copies = [a.with_columns(pl.lit(name).alias("customer_id")) for name in ("D", "E")]
    customers = pl.concat([CUSTOMERS, *copies])
    customers = customers.sort("customer_id", descending=ids == "reversed")
    table = no.next_order_table(customers.lazy(), PRIOR).collect()
    assert table["customer_id"].to_list() == ["C", "A", "D", "E"]
    read = no.table_inputs(customers)
    assert read.columns == list(no.TABLE_INPUTS)
    rows = Rows(read, no.soonest_first(read, PRIOR), lambda part: no.next_order_table(part, PRIOR))
    assert rows.collect().equals(table)
    assert [part.height for part in rows.slices(3)] == [3, 1] and rows.head(2).equals(table.head(2))
    due = partial(no.due, within_days=14)  # C's window opens on 04-06, A's on 04-09: all four
    assert no.soonest_first(read, PRIOR, keep=due).equals(no.soonest_first(read, PRIOR))


def test_dates_and_gaps_by_hand():
    table = no.next_order_table(CUSTOMERS.lazy(), PRIOR).collect()
    # A: shape r + x = 4, scale alpha + T = 120: shrunk gap 120 / 4 = 30.0 days;
    #    Q(q) = 120 ((1 - q)^(-1/4) - 1): Q(.25) = 8.948 -> day 9, Q(.5) = 22.705 -> day 23, Q(.75) = 49.706 -> day 50,
    #    day k after the end of 03-31 = 03-31 + k: 04-09, 04-23, 05-20
    # C: shape 3, scale 59: shrunk gap 59 / 3 = 19.7; Q(.25) = 5.938 -> 6, Q(.5) = 15.335 -> 16, Q(.75) = 34.657 -> 35:
    #    04-06, 04-16, 05-05
    # B (one-time buyer) gets no row; C's next order (04-16) comes before A's (04-23)
    assert table.columns == [
        "customer_id",
        "purchase_days",
        "first_purchase",
        "last_purchase",
        "days_since_last",
        "own_gap_days",
        "shrunk_gap_days",
        "next_order_date",
        "contact_from",
        "contact_to",
        "net_spend",
        "as_of",
    ]
    rows = table.select(
        "customer_id", "own_gap_days", "shrunk_gap_days", "next_order_date", "contact_from", "contact_to"
    ).rows()
    assert rows == [
        ("C", 29.0, 19.7, date(2024, 4, 16), date(2024, 4, 6), date(2024, 5, 5)),
        ("A", 20.0, 30.0, date(2024, 4, 23), date(2024, 4, 9), date(2024, 5, 20)),
    ]
    assert table["days_since_last"].to_list() == [1, 51]


def test_a_time_falls_on_the_day_it_reaches():
    # as_of - 1 + ceil(t): within the first day after the data (0 < t <= 1) is the as-of day itself
    frame = pl.DataFrame({"as_of": [AS_OF] * 4, "t": [1e-9, 1.0, 1.0001, 30.0]})
    days = frame.select(no.day_of(pl.col("t")))["as_of"].to_list()
    assert days == [AS_OF, AS_OF, AS_OF + timedelta(days=1), AS_OF + timedelta(days=29)]


@pytest.mark.parametrize(("x", "t_days"), [(2, 90), (1, 29), (40, 700)])
def test_posterior_and_quantiles_match_numeric_integration(x: int, t_days: int):
    """The rate given x repeat purchases in T days, prior Gamma(2, 30): prior x Poisson likelihood integrated
    numerically; the Lomax quantile Q(q) is where P(next order within Q | active) = q."""
    r, alpha = PRIOR.r, PRIOR.alpha_days
    prior = stats.gamma(r, scale=1 / alpha).pdf

    top, peak = 50 * (r + x) / (alpha + t_days), (r + x - 1) / (alpha + t_days)

    def weight(lam: float) -> float:  # prior x likelihood, scaled to 1 at its peak (quad's tolerance is absolute)
        return prior(lam) / prior(peak) * (lam / peak) ** x * math.exp(-(lam - peak) * t_days)

    norm = integrate.quad(weight, 0, top, points=[peak], limit=200)[0]
    mean_rate = integrate.quad(lambda lam: lam * weight(lam), 0, top, points=[peak], limit=200)[0] / norm
    assert mean_rate == pytest.approx((r + x) / (alpha + t_days), rel=1e-7)
    frame = pl.DataFrame({"shape": [r + x], "scale": [alpha + t_days]})
    for q in (0.25, 0.5, 0.75):
        quantile = frame.select(no.lomax_quantile(pl.col("shape"), pl.col("scale"), q)).item()
        within = integrate.quad(
            lambda lam, t=quantile: (1 - math.exp(-lam * t)) * weight(lam), 0, top, points=[peak], limit=200
        )
        assert within[0] / norm == pytest.approx(q, rel=1e-7)


def test_bgnbd_likelihood_matches_numeric_integration():
    """The BG/NBD likelihood of one customer (x = 3 repeat purchases, the last at t_x = 20, observed T = 30
    weeks) is the purchase-time density integrated over lambda ~ Gamma(r, alpha) and p ~ Beta(a, b): alive at T,
    (1 - p)^x lambda^x e^(-lambda T), or gone right after the last purchase, p (1 - p)^(x - 1) lambda^x
    e^(-lambda t_x). Each term is a product of a p and a lambda integral, each taken numerically."""
    r, alpha, a, b = 2.0, 4.0, 0.8, 2.5
    x, t_x, t_end = 3, 20.0, 30.0
    lam_pdf, p_pdf = stats.gamma(r, scale=1 / alpha).pdf, stats.beta(a, b).pdf

    def over_lambda(t: float) -> float:
        return integrate.quad(lambda lam: lam**x * math.exp(-lam * t) * lam_pdf(lam), 0, np.inf, epsabs=0)[0]

    def over_p(f) -> float:  # noqa: ANN001 - a function of p
        return integrate.quad(lambda p: f(p) * p_pdf(p), 0, 1, epsabs=0)[0]

    alive = over_p(lambda p: (1 - p) ** x) * over_lambda(t_end)
    gone = over_p(lambda p: p * (1 - p) ** (x - 1)) * over_lambda(t_x)
    model = BGNBDModel.from_params(r=r, alpha=alpha, a=a, b=b)
    loglik = model.log_likelihood_each(np.array([x]), np.array([t_x]), np.array([t_end]))[0]
    assert loglik == pytest.approx(math.log(alive + gone), abs=1e-8)


def test_model_columns_by_hand():
    # BG/NBD r = 2, alpha = 30 days (30/7 weeks), a = 1, b = 3; P(alive) = 1 / (1 + a / (b + x - 1)
    # ((alpha + T) / (alpha + t_x))^(r + x)): A (x = 2, t_x = 40, T = 90 days) 1 / (1 + (1/4) (120/70)^4) = 2401 /
    # 7585; C (t_x = T) 1 / (1 + 1/3) = 0.75
    model = BGNBDModel.from_params(r=2.0, alpha=30 / 7, a=1.0, b=3.0)
    grouped = no.patterns(CUSTOMERS.lazy()).collect()
    columns = no.model_columns(model, grouped).sort("x")
    assert columns.select(no.PATTERN).rows() == [(1, 29, 29), (2, 40, 90)]
    assert columns["p_alive"].to_list() == pytest.approx([0.75, 2401 / 7585])
    assert columns["expected_purchases_30d"].to_list() == pytest.approx(
        model.expected_purchases(30 / 7, [1, 2], [29 / 7, 40 / 7], [29 / 7, 90 / 7]).tolist()
    )
    prior = no.RatePrior.of(model)
    assert (prior.r, prior.alpha_days, prior.typical_gap_days, prior.mean_gap_days) == pytest.approx((2, 30, 15, 30))


def test_due_needs_the_window_open_and_p_alive():
    model = BGNBDModel.from_params(r=2.0, alpha=30 / 7, a=1.0, b=3.0)
    predictions = no.model_columns(model, no.patterns(CUSTOMERS.lazy()).collect())
    table = no.next_order_table(CUSTOMERS.lazy(), PRIOR, predictions.lazy())
    assert table.collect()["p_alive"].to_list() == pytest.approx([0.75, 2401 / 7585])  # C, A

    def due(days: int, floor: float) -> list[str]:
        return no.due(table, within_days=days, min_p_alive=floor).collect()["customer_id"].to_list()

    # C's window opens 04-06 = as_of + 5, A's 04-09 = as_of + 8; P(alive) C 0.75, A 0.317
    assert due(5, 0.0) == [] and due(6, 0.0) == ["C"] and due(8, 0.0) == ["C"] and due(9, 0.0) == ["C", "A"]
    assert due(9, 0.5) == ["C"] and due(9, 0.3) == ["C", "A"] and due(9, 0.8) == []
    counts = no.due_counts(table, days=(6, 9), min_p_alive=0.5).collect()
    assert counts.rows() == [(6, 1, 1), (9, 2, 1)]


def test_fewer_than_30_repeat_customers_is_a_model_error():
    grouped = pl.DataFrame(
        {"x": [0, 1, 2], "t_x_days": [0, 10, 20], "T_days": [30, 30, 30], "customers": [100, 20, 9]},
        schema_overrides={"customers": pl.UInt32},
    )
    with pytest.raises(ModelError, match="Only 29 customers bought on two different days") as caught:
        no.fit_rate_model(grouped)
    assert "second-purchase" in str(caught.value.hint)


# ------------------------------------------------------------------------------------------- the fit, simulated
R, ALPHA_DAYS, A, B = 2.5, 60.0, 0.8, 2.5  # true mean gap while active alpha / (r - 1) = 40 days
SIM_AS_OF = date(2024, 1, 1)


def simulate_bgnbd(seed: int, n: int) -> pl.DataFrame:
    """A customer summary of ``n`` BG/NBD customers (rate ~ Gamma(R, ALPHA_DAYS) per day, after each repeat
    purchase gone with p ~ Beta(A, B)), first purchases 91, 182, 364 or 728 days before the last day of data;
    purchases on one day are one purchase day."""
    rng = np.random.default_rng(seed)
    lam = rng.gamma(R, 1 / ALPHA_DAYS, n)
    t_end = rng.choice(np.array([91, 182, 364, 728]), n)
    times = np.cumsum(rng.exponential(1.0, (n, 80)), axis=1) / lam[:, None]
    repeats_before_gone = rng.geometric(rng.beta(A, B, n))
    kept = (times < t_end[:, None] + 1) & (np.arange(1, 81)[None, :] <= repeats_before_gone[:, None])
    days = np.where(kept, np.floor(times), -1).astype(np.int64)
    before = np.concatenate([np.zeros((n, 1), np.int64), days[:, :-1]], axis=1)
    x = (kept & (days != before)).sum(axis=1)
    last = np.where(kept, days, 0).max(axis=1)
    first = np.datetime64(SIM_AS_OF - timedelta(days=1), "D") - t_end
    return pl.DataFrame(
        {
            "customer_id": np.arange(n),
            "first_purchase": first,
            "last_purchase": first + last,
            "purchase_days": x + 1,
            "as_of": np.full(n, np.datetime64(SIM_AS_OF, "D")),
        }
    ).with_columns(pl.col("first_purchase", "last_purchase", "as_of").cast(pl.Date))


@pytest.fixture(scope="module")
def simulated() -> pl.DataFrame:
    return simulate_bgnbd(7, 20_000)


def test_fit_recovers_the_simulated_purchase_rate(simulated: pl.DataFrame):
    model = no.fit_rate_model(no.patterns(simulated.lazy()).collect(), "bgnbd")
    prior = no.RatePrior.of(model)
    assert prior.r == pytest.approx(R, rel=0.1)
    assert prior.alpha_days == pytest.approx(ALPHA_DAYS, rel=0.05)
    assert (model.params["a"], model.params["b"]) == pytest.approx((A, B), rel=0.1)
    assert prior.mean_gap_days == pytest.approx(40.0, rel=0.15)


def test_completed_gaps_alone_make_customers_faster(simulated: pl.DataFrame):
    """Why the rate is not fitted on the completed gaps alone (n gaps summing to S, S | n ~ Gamma(n, lambda),
    lambda ~ Gamma(alpha, beta)): the gaps that end inside the window of observation are the short ones."""
    repeat = simulated.filter(pl.col("purchase_days") >= 2)
    n = (repeat["purchase_days"] - 1).cast(pl.Float64).to_numpy()
    s = (repeat["last_purchase"] - repeat["first_purchase"]).dt.total_days().cast(pl.Float64).to_numpy()

    def minus_loglik(theta: np.ndarray) -> float:
        shape, rate = np.exp(theta)
        return -float(
            np.sum(gammaln(n + shape) - gammaln(shape) + shape * np.log(rate) - (n + shape) * np.log(rate + s))
        )

    shape, rate = np.exp(minimize(minus_loglik, [0.0, 3.0], method="L-BFGS-B").x)
    mean_gap = rate / (shape - 1)
    assert mean_gap < 0.8 * 40.0  # 30.4 days for a true 40


def test_cdnow_fit_is_the_published_bgnbd(tmp_path):
    """On the CDNOW calibration period (to 1997-09-30) the patterns in days, fitted in weeks, give Fader, Hardie
    & Lee's BG/NBD (r 0.243, alpha 4.414 weeks, a 0.793, b 2.426): the same conventions as ``loyalty cltv``."""
    from loyalty_cli.io.readers import read_transactions
    from loyalty_cli.stage1.customers import customer_summary

    data = Path(__file__).parent.parent / "data" / "CDNOW_sample.txt"
    rows = [line.split() for line in data.read_text().splitlines() if line.strip()]
    path = tmp_path / "cdnow.csv"
    pl.DataFrame(
        {"customer_id": [r[1] for r in rows], "date": [r[2] for r in rows], "amount": [r[4] for r in rows]}
    ).write_csv(path)
    lines = read_transactions([path]).rows.filter(pl.col("order_date") < pl.datetime(1997, 10, 1))
    customers = customer_summary(lines, as_of=date(1997, 10, 1))
    model = no.fit_rate_model(no.patterns(customers).collect(), "bgnbd")
    params = model.params
    assert (params["r"], params["alpha"], params["a"], params["b"]) == pytest.approx(
        (0.243, 4.414, 0.793, 2.426), abs=5e-3
    )
    assert no.RatePrior.of(model).alpha_days == pytest.approx(4.414 * 7, abs=0.04)
