"""``loyalty cltv`` within a memory budget (issue 20): the per-customer predictions kept once, in the calibration
summary's order with an order over it, written a slice at a time with the purchase model's columns gathered per
(x, t_x, T) pattern, the same bytes as the whole table; the calibration summary stacked a column at a time; stage
1's customer table not held by a command that does not read it."""

from __future__ import annotations

from datetime import date
from pathlib import Path

import numpy as np
import polars as pl
import pytest
from polars.testing import assert_frame_equal
from typer.testing import CliRunner

from loyalty_cli.app.inputs import InputSpec, load_inputs
from loyalty_cli.cli import app
from loyalty_cli.io import writers
from loyalty_cli.metrics import cltv as cltv_module
from loyalty_cli.metrics import cltv_fitting
from loyalty_cli.metrics.cltv import (
    VALUE_TIERS,
    CltvConfig,
    Horizon,
    calibration_summary,
    tier_index,
    value_tier,
)
from loyalty_cli.metrics.cltv_fitting import fit_cltv, fit_cltv_models
from loyalty_cli.models import discounted_clv
from loyalty_cli.stage1 import shared_reads
from loyalty_cli.stage1.activity_parts import stacked as stacked_parts

SAMPLE = Path(__file__).parent.parent / "sample_data" / "transactions.csv"


@pytest.fixture(scope="module")
def activity() -> pl.DataFrame:
    return load_inputs(InputSpec(transactions=[str(SAMPLE)], activity=True)).activity


def _whole(summary: pl.DataFrame, fit: cltv_module.CltvFit) -> pl.DataFrame:
    """The table as it was made before it was kept in slices: every prediction per customer, then a sorted copy."""
    config, s, unit = fit.config, fit.config.suffix, fit.config.unit
    x = summary["frequency"].to_numpy().astype(np.float64)
    t_x, t_end, m = (summary[c].to_numpy() for c in ("recency", "T", "monetary_value"))
    p, h = fit.purchase, config.horizon_units
    clv = discounted_clv(
        p,
        fit.spend,
        x,
        t_x,
        t_end,
        m,
        months=config.horizon_months,
        discount_monthly=config.discount_monthly,
        unit_days=config.unit_days,
        days_per_month=config.days_per_month,
    )
    predictions = {
        "p_alive": p.p_alive(x, t_x, t_end),
        f"p_no_purchase_{s}": p.probability_no_purchase(h, x, t_x, t_end),
        f"expected_purchases_{s}": p.expected_purchases(h, x, t_x, t_end),
        "expected_spend": fit.spend.expected_spend(x, m),
        f"predicted_clv_{s}": clv,
    }
    return (
        summary.with_columns(pl.Series(k, v) for k, v in predictions.items())
        .sort(f"predicted_clv_{s}", "customer_id", descending=[True, False])
        .with_columns(value_tier().alias("value_tier"))
        .select(
            "customer_id",
            "value_tier",
            f"predicted_clv_{s}",
            f"expected_purchases_{s}",
            "p_alive",
            f"p_no_purchase_{s}",
            "expected_spend",
            "historical_value",
            "orders",
            "purchase_days",
            "first_purchase",
            "last_purchase",
            "frequency",
            pl.col("recency").alias(f"recency_{unit}s"),
            pl.col("T").alias(f"T_{unit}s"),
            "monetary_value",
        )
    )


@pytest.mark.parametrize(
    "config",
    [CltvConfig(), CltvConfig(model="pnbd", unit="day", horizon=Horizon(39, "week")), CltvConfig(model="mbgnbd")],
    ids=["bgnbd-week", "pnbd-day-39w", "mbgnbd"],
)
def test_the_kept_rows_are_the_sorted_table(activity: pl.DataFrame, config: CltvConfig) -> None:
    before = date(2024, 10, 1)
    summary = calibration_summary(activity, before=before, unit=config.unit).collect()
    fit = fit_cltv(summary, config, as_of=before)
    whole = _whole(summary, fit)
    # the slices' columns come per pattern, the whole table's per customer: the same numbers (the models compute
    # each value alone)
    assert_frame_equal(fit.rows.collect(), whole, check_exact=True)
    assert_frame_equal(pl.concat(fit.rows.slices(7)), whole, check_exact=True)
    assert fit.rows.height == summary.height == whole.height
    s = config.suffix
    # totals one column at a time, in the table's order: the sums of the whole table (float sums in that order)
    c = whole
    expected = {
        "customers": c.height,
        "historical_value": float(c["historical_value"].sum()),
        f"expected_purchases_{s}": float(c[f"expected_purchases_{s}"].sum()),
        f"predicted_clv_{s}": float(c[f"predicted_clv_{s}"].sum()),
        "mean_p_alive": float(c["p_alive"].mean()),  # type: ignore[arg-type]
    }
    assert fit.totals() == expected
    assert "customers" not in fit.__dict__  # the totals did not make the whole table
    for name in whole.columns:
        if name in summary.columns or name in fit.per_pattern or name.startswith(("predicted_clv", "expected_s")):
            assert fit.column(name).equals(whole[name]), name
    frame = fit.rows.frame
    assert_frame_equal(fit.customers, whole, check_exact=True)
    assert fit.rows.frame is fit.customers and fit.rows.order is None  # the summary let go of
    assert frame.height == whole.height
    assert fit.totals() == expected  # from the table in memory once it is there
    assert fit.column("p_alive").equals(whole["p_alive"])
    assert_frame_equal(pl.concat(fit.rows.slices(7)), whole, check_exact=True)


def test_fit_cltv_models_keeps_its_summary(activity: pl.DataFrame) -> None:
    models = fit_cltv_models(activity, CltvConfig(), before=date(2024, 10, 1))
    fit = models.fitted()
    assert_frame_equal(fit.customers, _whole(models.summary, fit), check_exact=True)
    plan = calibration_summary(activity, before=date(2024, 10, 1), unit="week")
    assert models.summary.columns == plan.collect_schema().names()


@pytest.mark.parametrize("n", [*range(1, 42), 97, 1000, 4321])
def test_the_tier_index_cuts_where_the_tier_does(n: int) -> None:
    """Tiers by place: high the first 20% (1-based place / n <= 0.2), medium up to 50%, low the rest; e.g. n = 10:
    places 1-2 high, 3-5 medium, 6-10 low."""
    frame = pl.DataFrame({"i": range(n)}).select(value_tier().alias("tier"), tier_index().alias("index"))
    labels = [label for label, _ in VALUE_TIERS]
    assert frame["tier"].to_list() == [labels[i] for i in frame["index"]]
    assert frame["index"].dtype == pl.UInt8
    if n == 10:
        assert frame["tier"].to_list() == ["high"] * 2 + ["medium"] * 3 + ["low"] * 5


def test_the_parts_are_stacked_a_column_at_a_time() -> None:
    parts = [
        pl.DataFrame({"customer_id": ["a", "b"], "orders": [1, 2], "value": [1.5, None]}),
        pl.DataFrame({"customer_id": ["c"], "orders": [3], "value": [0.25]}),
        pl.DataFrame({"customer_id": ["d", "e"], "orders": [4, 5], "value": [2.0, 3.0]}),
    ]
    expected = pl.concat(parts, how="vertical", rechunk=True)
    frames = list(parts)
    stacked = stacked_parts(frames)
    assert_frame_equal(stacked, expected, check_exact=True)
    assert stacked.n_chunks("all") == [1, 1, 1]
    assert all(frame.width == 0 for frame in frames)  # let go of, column by column


def _cltv(target: Path, *more: str) -> Path:
    result = CliRunner().invoke(app, ["cltv", str(SAMPLE), "-o", str(target), "-q", *more])
    assert result.exit_code == 0, result.output
    return target


@pytest.mark.parametrize("more", [(), ("--holdout", "90"), ("--model", "pnbd", "--unit", "day")], ids=str)
def test_cltv_writes_the_same_files_a_slice_at_a_time(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path, more: tuple[str, ...]
) -> None:
    whole_csv, whole_parquet = _cltv(tmp_path / "whole.csv", *more), _cltv(tmp_path / "whole.parquet", *more)
    monkeypatch.setattr(writers, "CHUNK_ROWS", 250)  # ~1,000 customers: several slices
    monkeypatch.setattr(writers, "WHOLE_ROWS", 250)
    sliced_csv, sliced_parquet = _cltv(tmp_path / "sliced.csv", *more), _cltv(tmp_path / "sliced.parquet", *more)
    assert sliced_csv.read_bytes() == whole_csv.read_bytes()
    assert_frame_equal(pl.read_parquet(sliced_parquet), pl.read_parquet(whole_parquet), check_exact=True)
    import pyarrow.parquet as pq

    customers = pl.read_parquet(whole_parquet).height
    assert pq.ParquetFile(sliced_parquet).metadata.num_row_groups == -(-customers // 250) > 1


def test_the_shown_top_list_is_the_first_rows(tmp_path: Path) -> None:
    from loyalty_cli.app.cltv import CltvSettings, cltv

    inputs = load_inputs(InputSpec(transactions=[str(SAMPLE)], activity=True, customers=False))
    for settings in (CltvSettings(), CltvSettings(holdout=90)):
        result = cltv(inputs, settings)
        assert_frame_equal(result.top(5), result.customers.head(5), check_exact=True)
        assert_frame_equal(result.top(10**6), result.customers, check_exact=True)


def test_a_command_that_does_not_read_the_customer_table_does_not_hold_it() -> None:
    spec = InputSpec(transactions=[str(SAMPLE)], activity=True)
    kept, let_go = load_inputs(spec), load_inputs(InputSpec(transactions=[str(SAMPLE)], activity=True, customers=False))
    assert "customers" in kept.tables and "customers" not in let_go.tables
    assert let_go.loaded is not None and let_go.loaded.customers.is_empty()
    assert let_go.loaded.customers.schema == kept.customers.schema
    assert let_go.as_of == kept.as_of
    order = ["customer_id", "day"]  # in one pass, in the group-by's order
    assert_frame_equal(let_go.activity.sort(order), kept.activity.sort(order), check_exact=True)
    assert let_go.loaded.left_out_note() == kept.loaded.left_out_note()  # type: ignore[union-attr]


def test_a_pipeline_keeps_the_customer_table_for_its_other_steps() -> None:
    with shared_reads() as cache:
        let_go = load_inputs(InputSpec(transactions=[str(SAMPLE)], activity=True, customers=False))
        kept = load_inputs(InputSpec(transactions=[str(SAMPLE)], activity=True))
        assert "customers" not in let_go.tables and kept.customers.height > 0
        assert all(loaded.customers.height == kept.customers.height for loaded in cache.values())


def test_nobody_before_the_as_of_date_is_still_an_error_without_the_table(tmp_path: Path) -> None:
    from loyalty_cli.errors import DataError

    returns = tmp_path / "returns.csv"
    returns.write_text("order_id,customer_id,order_date,amount\n1,a,2024-01-02,-5.00\n2,b,2024-01-03,-2.00\n")
    with pytest.raises(DataError, match="No customer made a purchase"):
        load_inputs(InputSpec(transactions=[str(returns)], activity=True, customers=False))


@pytest.mark.parametrize("more", [(), ("--unit", "day", "--horizon", "39w")], ids=str)
def test_cltv_in_passes_and_slices_writes_the_one_pass_files(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path, tiny_footprint: None, more: tuple[str, ...]
) -> None:
    """Within a budget: stage 1 in passes, the activity in parts, the summary stacked a column at a time, its
    ids and history on disk during the fit, the list written a slice at a time: the one-pass files, byte for
    byte (the model tables too)."""
    tables = ("--tables", str(tmp_path / "one"))
    one = _cltv(tmp_path / "one.csv", *more, *tables)
    monkeypatch.setattr(writers, "CHUNK_ROWS", 300)
    monkeypatch.setattr(writers, "WHOLE_ROWS", 300)
    aside: list[Path] = []
    write = pl.DataFrame.write_parquet

    def spy(frame: pl.DataFrame, file: Path, **kw: object) -> None:
        aside.append(Path(file))
        write(frame, file, **kw)  # type: ignore[arg-type]

    monkeypatch.setattr(pl.DataFrame, "write_parquet", spy)
    many = _cltv(tmp_path / "many.csv", *more, "--tables", str(tmp_path / "many"), "--memory-limit", "20kB")
    assert [p.name for p in aside] == ["summary.parquet"] and not aside[0].exists()  # set aside, then removed
    assert many.read_bytes() == one.read_bytes()
    for name in ("parameters.csv", "totals.csv"):
        assert (tmp_path / "many" / name).read_bytes() == (tmp_path / "one" / name).read_bytes()


def test_the_summary_set_aside_comes_back_the_same(activity: pl.DataFrame, monkeypatch: pytest.MonkeyPatch) -> None:
    """The same summary (its order fixed), fitted with its ids and history on disk or in memory: the same fit."""
    config, before = CltvConfig(), date(2024, 10, 1)
    summary = calibration_summary(activity, before=before, unit="week").collect()
    monkeypatch.setattr(cltv_fitting, "calibration_summary", lambda *a, **k: summary.lazy())
    monkeypatch.setattr(cltv_fitting, "in_parts", lambda _: True)
    models = fit_cltv_models(activity, config, before=before)
    assert_frame_equal(models.summary, summary, check_exact=True)
    assert_frame_equal(models.fitted().customers, fit_cltv(summary, config, as_of=before).customers, check_exact=True)
    assert models.fitted().rows.frame.n_chunks("all") == [1] * models.fitted().rows.frame.width


def test_a_full_disk_for_the_summary_set_aside_is_a_clear_error(
    activity: pl.DataFrame, monkeypatch: pytest.MonkeyPatch
) -> None:
    from loyalty_cli.errors import LoyaltyError

    def full(*args: object, **kwargs: object) -> None:
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(cltv_fitting, "in_parts", lambda _: True)
    monkeypatch.setattr(pl.DataFrame, "write_parquet", full)
    with pytest.raises(LoyaltyError, match="temporary folder .*No space left on device") as caught:
        fit_cltv_models(activity, CltvConfig(), before=date(2024, 10, 1))
    assert "TMPDIR" in str(caught.value.hint)
