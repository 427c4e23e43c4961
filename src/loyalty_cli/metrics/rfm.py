"""RFM: recency, frequency and monetary scores from the per-customer summary.

Scores run 1..bins, high = good (recent, frequent, big spender), so recency is reversed.

- ``quantile`` (default): cut at the k/bins quantiles; a value's score is 1 + the number of cut points it
  lies above (recency: bins - that). Tied values always share a score. When ties are heavy (most
  customers have one order) several cut points coincide and the bins between them stay empty: a one-time
  buyer can never get a top F score because of an arbitrary tie split.
- ``rank``: equal-size bins over the order (value, customer_id): ties broken by id, never by file order.
- ``fixed``: user breaks per dimension, e.g. recency 30/60/90/180 days (bins = breaks + 1), stable from
  month to month.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Literal

import polars as pl

from loyalty_cli.errors import ConfigError, UsageError, setting

Method = Literal["quantile", "rank", "fixed"]
DIMENSIONS = ("r", "f", "m")
BIN_CHOICES = (3, 4, 5, 10)
_BREAKS = setting("breaks")


@dataclass(frozen=True)
class RfmConfig:
    bins: int = 5
    method: Method = "quantile"
    frequency: Literal["orders", "days"] = "orders"
    monetary: Literal["total", "mean"] = "total"
    breaks: Mapping[str, Sequence[float]] = field(default_factory=dict)

    def __post_init__(self) -> None:
        if self.bins not in BIN_CHOICES:
            raise ConfigError("bins", f"must be one of {', '.join(map(str, BIN_CHOICES))}, got {self.bins}")
        if self.method == "fixed":
            missing = [d for d in DIMENSIONS if d not in self.breaks]
            if missing:
                raise UsageError(
                    f"{setting('method')} fixed needs breaks for {', '.join(missing)}",
                    hint=f"e.g. {_BREAKS} r=30,60,90,180 {_BREAKS} f=1,2,3,5 {_BREAKS} m=50,100,250,500",
                )
        for dim, cuts in self.breaks.items():
            if dim not in DIMENSIONS:
                raise UsageError(f"{_BREAKS}: unknown dimension {dim!r}", hint="Use r, f or m.")
            if list(cuts) != sorted(set(cuts)):
                raise UsageError(f"{_BREAKS} {dim}: cut points must be strictly increasing, got {list(cuts)}")
            if len(cuts) + 1 != self.bins:
                raise UsageError(
                    f"{_BREAKS} {dim} has {len(cuts)} cut points, which make {len(cuts) + 1} scores, "
                    f"but {setting('bins')} is {self.bins}",
                    hint=f"Give {self.bins - 1} cut points per dimension, or change {setting('bins')}.",
                )

    def column(self, dim: str) -> str:
        """The summary column a dimension scores."""
        if dim == "r":
            return "recency_days"
        if dim == "f":
            return "orders" if self.frequency == "orders" else "purchase_days"
        return "net_spend" if self.monetary == "total" else "mean_order_value"


def _above(value: pl.Expr, cuts: Sequence[pl.Expr | float]) -> pl.Expr:
    """How many cut points ``value`` lies strictly above."""
    return pl.sum_horizontal([(value > cut).cast(pl.Int8) for cut in cuts])


def _score(dim: str, config: RfmConfig) -> pl.Expr:
    value = pl.col(config.column(dim))
    n = config.bins
    if config.method == "rank":
        # 0-based position in (value, customer_id) order; recency ranks longest-ago first.
        position = pl.int_range(pl.len()).sort_by([value, pl.col("customer_id")], descending=[dim == "r", False])
        position = pl.int_range(pl.len()).sort_by(position)  # inverse permutation: each row's position
        score = (position * n) // pl.len() + 1
        return score.cast(pl.Int8).alias(f"{dim}_score")
    if config.method == "fixed":
        cuts: Sequence[pl.Expr | float] = list(config.breaks[dim])
    else:
        cuts = [value.quantile(k / n, interpolation="linear") for k in range(1, n)]
    above = _above(value, cuts)
    score = (n - above) if dim == "r" else (above + 1)
    return score.cast(pl.Int8).alias(f"{dim}_score")


def rfm_scores(customers: pl.LazyFrame, *, config: RfmConfig) -> pl.LazyFrame:
    """Add ``r_score, f_score, m_score`` and ``rfm_cell`` (e.g. ``"545"``) to the customer summary."""
    scored = customers.with_columns(*(_score(d, config) for d in DIMENSIONS))
    return scored.with_columns(rfm_cell(config))


def rfm_cell(config: RfmConfig) -> pl.Expr:
    """The scores as one text, ``rfm_cell`` (``"545"``; ``"10-4-5"`` for 10 bins)."""
    return pl.concat_str(
        [pl.col(f"{d}_score").cast(pl.String) for d in DIMENSIONS], separator="-" if config.bins == 10 else ""
    ).alias("rfm_cell")


def rfm_cut_points(scored: pl.LazyFrame, *, config: RfmConfig) -> pl.LazyFrame:
    """Per dimension and score: the value range it covers and how many customers it holds. Scores that
    hold nobody (bins merged by ties) are listed with 0 customers so the merge is visible."""
    parts = []
    for dim in DIMENSIONS:
        col = config.column(dim)
        grid = pl.LazyFrame({"score": list(range(1, config.bins + 1))}, schema={"score": pl.Int8})
        stats = scored.group_by(pl.col(f"{dim}_score").alias("score")).agg(
            pl.col(col).min().cast(pl.Float64).alias("from"),
            pl.col(col).max().cast(pl.Float64).alias("to"),
            pl.len().alias("customers"),
        )
        parts.append(
            grid.join(stats, on="score", how="left")
            .with_columns(pl.col("customers").fill_null(0))
            .select(pl.lit(dim).alias("dimension"), pl.lit(col).alias("column"), "score", "from", "to", "customers")
        )
    table = pl.concat(parts)
    return table.with_columns((pl.col("customers") / pl.col("customers").sum().over("dimension")).alias("share")).sort(
        "dimension", "score", descending=[False, True]
    )


def rfm_thresholds(customers: pl.LazyFrame, *, config: RfmConfig) -> pl.LazyFrame:
    """The cut points themselves (quantile values, or the fixed breaks), one row per dimension and k."""
    rows = []
    for dim in DIMENSIONS:
        value = pl.col(config.column(dim))
        for k in range(1, config.bins):
            cut = (
                pl.lit(float(config.breaks[dim][k - 1]))
                if config.method == "fixed"
                else value.quantile(k / config.bins, interpolation="linear")
            )
            rows.append(
                customers.select(
                    pl.lit(dim).alias("dimension"), pl.lit(k, pl.Int8).alias("k"), cut.cast(pl.Float64).alias("cut")
                )
            )
    return pl.concat(rows)


def _exact_sum(column: str, dtype: pl.DataType) -> pl.Expr:
    """A group's sum that is the same whatever order its rows come in, as a float: integers add up exactly
    (the same value as the float sum of the sorted values, below 2^53); floats by :func:`_stable_sum`."""
    if dtype.is_integer():
        return pl.col(column).cast(pl.Int64).sum().cast(pl.Float64)
    return _stable_sum(column)


def _stable_sum(column: str) -> pl.Expr:
    """A group's float sum that is the same whatever order its rows come in: the values sorted, then added one
    after the other. Polars' own sum (and a sort before it, which the optimiser may drop) depends on the rows'
    order and chunks, so the revenue of a segment changed in its last digits from run to run, and with the
    customers' order (stage 1 in passes)."""
    return pl.col(column).cast(pl.Float64).sort().cum_sum().last()


def segment_summary(
    segmented: pl.LazyFrame,
    *,
    config: RfmConfig,
    order: Sequence[str],
    actions: Mapping[str, str | None] | None = None,
) -> pl.LazyFrame:
    """Per segment: customers, share of customers and of net revenue, mean R/F/M values, and with ``actions``
    (segment name -> the tactic for it) the segment's ``action`` last. Segments of the map that hold nobody are
    listed with 0 so the table always shows the whole map, in map order."""
    r, f, m = (config.column(d) for d in DIMENSIONS)
    schema = segmented.collect_schema()
    summed = dict.fromkeys(("net_spend", r, f, m))  # each column once (m is often net_spend)
    # grouped by the segment itself (an Enum: no text per customer), named as text once per segment
    stats = (
        segmented.group_by("segment")
        .agg(pl.len().alias("customers"), *(_exact_sum(c, schema[c]).alias(f"sum_{c}") for c in summed))
        .select(
            pl.col("segment").cast(pl.String),
            "customers",
            pl.col("sum_net_spend").alias("revenue"),
            *((pl.col(f"sum_{c}") / pl.col("customers")).alias(f"mean_{c}") for c in (r, f, m)),
        )
    )
    per_name: dict[str, list[str | None]] = {"segment": list(order)}
    if actions is not None:
        per_name["action"] = [actions.get(name) for name in order]
    names = pl.LazyFrame(per_name, schema=dict.fromkeys(per_name, pl.String))
    return (
        names.join(stats, on="segment", how="left", maintain_order="left")
        .with_columns(pl.col("customers").fill_null(0), pl.col("revenue").fill_null(0.0))
        .with_columns(
            (pl.col("customers") / pl.col("customers").sum()).alias("share_customers"),
            (pl.col("revenue") / pl.col("revenue").sum()).alias("share_revenue"),
        )
        .select(
            "segment",
            "customers",
            "share_customers",
            "revenue",
            "share_revenue",
            f"mean_{r}",
            f"mean_{f}",
            f"mean_{m}",
            *list(per_name)[1:],  # the action
        )
    )
