"""Members against comparable non-members (repeat purchase, retention, orders and spend per customer, NPS,
predicted CLV; the definitions are in :mod:`loyalty_cli.metrics.program`), and the long table of
``loyalty program`` that gathers every figure (:func:`program_table`).

Members choose to join, so these are correlations, not the programme's effect.
"""

from __future__ import annotations

from datetime import date, timedelta

import polars as pl

from loyalty_cli.metrics.program import (
    COLUMNS,
    DIFFERENCE,
    MEMBERS,
    OTHERS,
    ProgramConfig,
    _finite,
    _long,
    enrolment_by_cohort,
    member_table,
    point_balances,
    points_by_period,
    program_customers,
    program_summary,
    redemption_rate,
    retained,
    tier_distribution,
    tier_movement,
)


# ------------------------------------------------------------------------------------ members vs others
def comparison_customers(
    people: pl.LazyFrame, activity: pl.LazyFrame, *, as_of: date, config: ProgramConfig
) -> pl.LazyFrame:
    """Per customer who bought: ``group`` (members / non-members), ``start`` (see the module doc), and per
    window whether it closed before ``as_of`` and what happened in it."""
    lag = (pl.col("enrolled") - pl.col("first_purchase")).dt.total_days().clip(lower_bound=0)
    median_lag = lag.filter(pl.col("member")).quantile(0.5, "lower").cast(pl.Int64)
    start = (
        pl.when(pl.col("member"))
        .then(pl.max_horizontal("enrolled", "first_purchase"))
        .otherwise(pl.col("first_purchase") + pl.duration(days=pl.col("_lag")))
    )
    base = (
        people.filter("bought")
        .with_columns(median_lag.alias("_lag"))
        .with_columns(
            start.alias("start"), pl.when("member").then(pl.lit(MEMBERS)).otherwise(pl.lit(OTHERS)).alias("group")
        )
        .filter(pl.col("start").is_not_null() & (pl.col("start") < as_of))
        .select("customer_id", "group", "start")
    )
    window = config.window_days
    day, bought = pl.col("day"), pl.col("purchases") > 0
    within = (day > pl.col("start")) & (day <= pl.col("start") + timedelta(days=window))
    aggs = [
        (within & bought).any().alias("bought_again"),
        pl.col("purchases").filter(within).sum().cast(pl.Int64).alias("orders"),
        (pl.col("net_cents").filter(within).sum() / 100).alias("net_spend"),
    ]
    checks = [(pl.col("start") + timedelta(days=window) < as_of).alias("window_closed")]
    for k in config.retention_months:
        end = k + config.retention_horizon_months
        span = (day >= pl.col("start").dt.offset_by(f"{k}mo")) & (day < pl.col("start").dt.offset_by(f"{end}mo"))
        aggs.append((bought & span).any().alias(retained(k, config)))
        checks.append((pl.col("start").dt.offset_by(f"{end}mo") <= as_of).alias(f"observed_{k}m_to_{end}m"))
    per_customer = (
        base.join(activity.select("customer_id", "day", "purchases", "net_cents"), on="customer_id", how="left")
        .group_by("customer_id")
        .agg(pl.col("group").first(), pl.col("start").first(), *aggs)
    )
    return per_customer.with_columns(checks).sort("customer_id")


def _wilson(x: pl.Expr, n: pl.Expr, z: float) -> tuple[pl.Expr, pl.Expr, pl.Expr]:
    p = x / n
    denom = 1 + z**2 / n
    centre = (p + z**2 / (2 * n)) / denom
    half = z / denom * (p * (1 - p) / n + z**2 / (4 * n**2)).sqrt()
    return p, centre - half, centre + half


def _proportion(frame: pl.LazyFrame, metric: str, flag: str, eligible: pl.Expr | None, z: float) -> pl.LazyFrame:
    """Three rows (members, non-members, difference) for the share of eligible customers with ``flag``."""
    ok = eligible if eligible is not None else pl.lit(True)
    stats = []
    for tag, group in (("1", MEMBERS), ("0", OTHERS)):
        inside = ok & (pl.col("group") == group)
        stats += [inside.sum().alias(f"n{tag}"), (inside & pl.col(flag)).sum().alias(f"x{tag}")]
    one = frame.select(stats)
    p1, l1, u1 = _wilson(pl.col("x1"), pl.col("n1"), z)
    p0, l0, u0 = _wilson(pl.col("x0"), pl.col("n0"), z)
    d = p1 - p0
    rows = [
        one.select(
            pl.lit(MEMBERS).alias("group"),
            p1.alias("value"),
            pl.col("n1").alias("n"),
            l1.alias("ci_low"),
            u1.alias("ci_high"),
        ),
        one.select(
            pl.lit(OTHERS).alias("group"),
            p0.alias("value"),
            pl.col("n0").alias("n"),
            l0.alias("ci_low"),
            u0.alias("ci_high"),
        ),
        one.select(
            pl.lit(DIFFERENCE).alias("group"),
            d.alias("value"),
            (pl.col("n1") + pl.col("n0")).alias("n"),
            (d - ((p1 - l1) ** 2 + (u0 - p0) ** 2).sqrt()).alias("ci_low"),
            (d + ((u1 - p1) ** 2 + (p0 - l0) ** 2).sqrt()).alias("ci_high"),
        ),
    ]
    return _safe(pl.concat(rows).with_columns(pl.lit(metric).alias("metric")))


def _mean(frame: pl.LazyFrame, metric: str, value: str, eligible: pl.Expr | None, z: float) -> pl.LazyFrame:
    """Three rows (members, non-members, difference) for the mean of ``value`` with a normal interval."""
    ok = eligible if eligible is not None else pl.lit(True)
    stats = []
    for tag, group in (("1", MEMBERS), ("0", OTHERS)):
        v = pl.col(value).filter(ok & (pl.col("group") == group) & pl.col(value).is_not_null())
        stats += [v.len().alias(f"n{tag}"), v.mean().alias(f"m{tag}"), v.var().alias(f"v{tag}")]
    one = frame.select(stats)
    se1, se0 = (pl.col("v1") / pl.col("n1")).sqrt(), (pl.col("v0") / pl.col("n0")).sqrt()
    se_d = (pl.col("v1") / pl.col("n1") + pl.col("v0") / pl.col("n0")).sqrt()
    d = pl.col("m1") - pl.col("m0")
    rows = [
        one.select(
            pl.lit(MEMBERS).alias("group"),
            pl.col("m1").alias("value"),
            pl.col("n1").alias("n"),
            (pl.col("m1") - z * se1).alias("ci_low"),
            (pl.col("m1") + z * se1).alias("ci_high"),
        ),
        one.select(
            pl.lit(OTHERS).alias("group"),
            pl.col("m0").alias("value"),
            pl.col("n0").alias("n"),
            (pl.col("m0") - z * se0).alias("ci_low"),
            (pl.col("m0") + z * se0).alias("ci_high"),
        ),
        one.select(
            pl.lit(DIFFERENCE).alias("group"),
            d.alias("value"),
            (pl.col("n1") + pl.col("n0")).alias("n"),
            (d - z * se_d).alias("ci_low"),
            (d + z * se_d).alias("ci_high"),
        ),
    ]
    return _safe(pl.concat(rows).with_columns(pl.lit(metric).alias("metric")))


def _safe(frame: pl.LazyFrame) -> pl.LazyFrame:
    """NaN (0/0 for an empty group) as null: no figure rather than a made-up one."""
    return frame.with_columns(_finite(pl.col(c).cast(pl.Float64)).alias(c) for c in ("value", "ci_low", "ci_high"))


def member_comparison(compared: pl.LazyFrame, *, config: ProgramConfig) -> pl.LazyFrame:
    """Members vs non-members from :func:`comparison_customers`: repeat purchase rate, retention from k
    months (:func:`retained`), orders and net spend per customer in the window; members, non-members,
    difference."""
    z, w = config.z, config.window_days
    closed = pl.col("window_closed")
    parts = [_proportion(compared, f"repeat_purchase_rate_{w}d", "bought_again", closed, z)]
    for k in config.retention_months:
        name = retained(k, config)
        parts.append(_proportion(compared, name, name, pl.col(name.replace("retained", "observed", 1)), z))
    parts.append(_mean(compared, f"orders_per_customer_{w}d", "orders", closed, z))
    parts.append(_mean(compared, f"net_spend_per_customer_{w}d", "net_spend", closed, z))
    return _long(pl.concat(parts), "members_vs_non_members")


def clv_comparison(
    compared: pl.LazyFrame, predictions: pl.LazyFrame, *, column: str, config: ProgramConfig
) -> pl.LazyFrame:
    """Mean predicted CLV (``column`` of :func:`loyalty_cli.metrics.cltv_fitting.fit_cltv`'s customers) of members
    and non-members, over every customer who bought (a forward look from as_of, not a window)."""
    joined = compared.select("customer_id", "group").join(
        predictions.select("customer_id", column), on="customer_id", how="inner"
    )
    joined = joined.collect().sort("customer_id").lazy()  # a fixed order for the mean (see program_table)
    return _long(_mean(joined, f"mean_{column}", column, None, config.z), "members_vs_non_members")


def nps_comparison(compared: pl.LazyFrame, scores: pl.LazyFrame, *, config: ProgramConfig) -> pl.LazyFrame:
    """NPS of members and non-members from each respondent's latest score (``latest_score`` of
    :func:`loyalty_cli.metrics.nps_lists.customer_scores`), adjusted-Wald intervals; the difference with a Wald
    interval (SEs added in quadrature)."""
    z = config.z
    joined = compared.select("customer_id", "group").join(
        scores.select("customer_id", "latest_score"), on="customer_id", how="inner"
    )
    stats = []
    for tag, group in (("1", MEMBERS), ("0", OTHERS)):
        score = pl.col("latest_score").filter(pl.col("group") == group)
        stats += [
            score.len().alias(f"n{tag}"),
            (score >= 9).sum().alias(f"p{tag}"),
            (score <= 6).sum().alias(f"d{tag}"),
        ]
    one = joined.select(stats)

    def nps(tag: str) -> tuple[pl.Expr, pl.Expr, pl.Expr, pl.Expr]:
        n = pl.col(f"n{tag}").cast(pl.Float64)
        p, d = pl.col(f"p{tag}") / n, pl.col(f"d{tag}") / n
        se = ((p + d - (p - d) ** 2) / n).sqrt()
        na = n + 3
        pa, da = (pl.col(f"p{tag}") + 0.75) / na, (pl.col(f"d{tag}") + 0.75) / na
        margin = z * 100 * ((pa + da - (pa - da) ** 2) / na).sqrt()
        centre = 100 * (pa - da)
        return 100 * (p - d), 100 * se, (centre - margin).clip(-100, 100), (centre + margin).clip(-100, 100)

    v1, s1, l1, h1 = nps("1")
    v0, s0, l0, h0 = nps("0")
    sd = (s1**2 + s0**2).sqrt()
    rows = [
        one.select(
            pl.lit(MEMBERS).alias("group"),
            v1.alias("value"),
            pl.col("n1").alias("n"),
            l1.alias("ci_low"),
            h1.alias("ci_high"),
        ),
        one.select(
            pl.lit(OTHERS).alias("group"),
            v0.alias("value"),
            pl.col("n0").alias("n"),
            l0.alias("ci_low"),
            h0.alias("ci_high"),
        ),
        one.select(
            pl.lit(DIFFERENCE).alias("group"),
            (v1 - v0).alias("value"),
            (pl.col("n1") + pl.col("n0")).alias("n"),
            (v1 - v0 - z * sd).alias("ci_low"),
            (v1 - v0 + z * sd).alias("ci_high"),
        ),
    ]
    return _long(_safe(pl.concat(rows).with_columns(pl.lit("nps").alias("metric"))), "members_vs_non_members")


def headline_answers(responses: pl.DataFrame) -> pl.DataFrame:
    """The answers behind one NPS of members and non-members: the relational ones when the surveys have
    both relational and transactional answers (the two are never mixed in one number), else all."""
    kinds = set(responses["survey_type"].drop_nulls().unique()) if "survey_type" in responses.columns else set()
    if {"relational", "transactional"} <= kinds:
        return responses.filter(pl.col("survey_type") == "relational")
    return responses


def program_table(
    customers: pl.DataFrame,
    activity: pl.DataFrame,
    members: pl.DataFrame,
    *,
    as_of: date,
    config: ProgramConfig,
    points: pl.DataFrame | None = None,
    responses: pl.DataFrame | None = None,
    predictions: pl.DataFrame | None = None,
    predicted: str | None = None,
    detail: bool = True,
) -> pl.DataFrame:
    """The long table of ``loyalty program`` (:data:`COLUMNS`): enrolment and points, tiers, members vs
    non-members, their NPS (``responses``: :func:`loyalty_cli.metrics.nps.prepare_responses` rows; each
    respondent's latest answer, of :func:`headline_answers`) and mean predicted
    CLV (column ``predicted`` of ``predictions``, :func:`loyalty_cli.metrics.cltv_fitting.fit_cltv`'s customers).
    ``detail``: also enrolment by cohort, points by period and tier movement.

    The customers compared come out of joins and group-bys in no fixed order; they are put in order (an eager
    sort: a lazy one before a mean is optimised away), as float means taken in another order differ in the
    last digits and the same data must give the same file."""
    member_rows = members.lazy()
    table = member_table(member_rows, as_of=as_of)
    people = program_customers(customers.lazy(), table)
    compared = comparison_customers(people, activity.lazy(), as_of=as_of, config=config).collect()
    compared = compared.sort("customer_id").lazy()
    balances = point_balances(points.lazy(), table) if points is not None else None
    parts = [program_summary(people, balances, as_of=as_of, config=config)]
    if balances is not None:
        parts.append(redemption_rate(balances, people))
    if detail:
        parts.append(enrolment_by_cohort(people, period=config.period))
        if points is not None:
            parts.append(points_by_period(points.lazy(), period=config.period))
    if "tier" in members.columns:
        parts.append(tier_distribution(member_rows, as_of=as_of))
        if detail:
            start, end = config.tier_dates(as_of)
            parts.append(tier_movement(member_rows, start=start, end=end))
    parts.append(member_comparison(compared, config=config))
    if responses is not None:
        from loyalty_cli.metrics.nps_lists import customer_scores

        scores = customer_scores(headline_answers(responses).lazy())
        parts.append(nps_comparison(compared, scores, config=config))
    if predictions is not None and predicted is not None:
        parts.append(clv_comparison(compared, predictions.lazy(), column=predicted, config=config))
    return pl.concat(pl.collect_all(parts)).select(COLUMNS)
