"""Stage 1 in passes over customer partitions (issue 20): the same tables as one pass (rows, order, types), the
memory budget setting, the working-set estimate and the plan of passes."""

from __future__ import annotations

import gzip
import random
import tempfile
from datetime import date, datetime, timedelta
from pathlib import Path

import polars as pl
import pytest
from polars.testing import assert_frame_equal

from loyalty_cli.app.inputs import InputSpec, load_inputs
from loyalty_cli.app.messages import Messages
from loyalty_cli.cli.flags import render
from loyalty_cli.errors import ConfigError, DataError, LoyaltyError
from loyalty_cli.io.readers import ReadOptions, read_transactions
from loyalty_cli.memory import default_memory_limit, format_size, parse_memory_limit
from loyalty_cli.stage1 import Loaded, load_transactions, shared_reads
from loyalty_cli.stage1 import partitioned as part_module
from loyalty_cli.stage1 import passes as passes_module
from loyalty_cli.stage1.partitioned import ACTIVITY_ORDER, CUSTOMER_ORDER
from loyalty_cli.stage1.passes import Estimate, Footprint, count_lines, estimate, plan_passes

SAMPLE = Path(__file__).parent.parent / "sample_data" / "transactions.csv"
HEADER = "order_id,customer_id,order_date,amount,category,channel,email\n"
CATEGORIES = ("shoes", "bags", "hats", "socks")


def _shop(path: Path, *, customers: int = 150, seed: int = 7, bad: bool = True) -> Path:
    """A small shop: orders of 1-3 lines over a year, returns, cancellations, customers with only returns (the
    last order of the data is one of theirs), text columns, and (``bad``) rows that are rejected."""
    rng = random.Random(seed)
    start = datetime(2024, 1, 1, 8)
    rows: list[str] = []
    order = 1000
    for c in range(customers):
        cid = f"c{c:04d}"
        email = f"{cid}@example.com" if c % 5 else ""
        for _ in range(rng.randint(1, 6)):
            order += 1
            when = start + timedelta(minutes=rng.randint(0, 360 * 24 * 60))
            for _ in range(rng.randint(1, 3)):
                amount = round(rng.uniform(1, 80), 2) * (-1 if rng.random() < 0.05 else 1)
                rows.append(
                    f"{order},{cid},{when:%Y-%m-%d %H:%M},{amount:.2f},{rng.choice(CATEGORIES)},"
                    f"{rng.choice(('web', 'store'))},{email}"
                )
        if c % 17 == 0:  # a cancelled order (C-prefixed invoice)
            rows.append(f"C{order},{cid},{start + timedelta(days=rng.randint(1, 300)):%Y-%m-%d %H:%M},5.00,hats,web,")
    for r in range(4):  # customers with only returns, one of them with the last order of the data
        rows.append(f"R{r},r{r:03d},2024-{3 + r:02d}-10 10:00,-12.50,bags,web,")
    rows.append("R9,r009,2024-12-30 23:00,-3.00,bags,web,")
    if bad:
        rows += [
            "B1,,2024-02-01 10:00,10.00,shoes,web,",  # no customer id
            "B2,c0001,not a date,10.00,shoes,web,",
            "B3,c0002,2024-02-03 10:00,ten,shoes,web,",
        ]
    rng.shuffle(rows)
    path.write_text(HEADER + "\n".join(rows) + "\n")
    return path


def _load(inputs: list[Path], passes: int | None, **kw: object) -> Loaded:
    kw.setdefault("as_of", None)
    return load_transactions(inputs, passes=passes, **kw)  # type: ignore[arg-type]


def _same(one: Loaded, many: Loaded) -> None:
    """The same tables, rows, values (exactly) and types; in passes in customer order (in one pass the group-by's:
    sorted here to compare)."""
    assert_frame_equal(one.customers.sort(CUSTOMER_ORDER), many.customers, check_exact=True)
    assert many.customers["customer_id"].is_sorted() and many.customers["customer_id"].is_unique().all()
    assert_frame_equal(one.no_purchase, many.no_purchase, check_exact=True)
    if one.activity is not None or many.activity_parts is not None:  # in passes: left in its parts, merged here
        assert one.activity is not None and many.activity is None and many.activity_parts is not None
        assert_frame_equal(one.activity.sort(ACTIVITY_ORDER), many.activity_table(), check_exact=True)
    assert len(one.rejects) == len(many.rejects)
    for a, b in zip(one.rejects, many.rejects, strict=True):  # in the files' order, both
        assert_frame_equal(a, b, check_exact=True)
    assert one.lines.keys() == many.lines.keys()
    for name in one.lines:
        assert_frame_equal(one.lines[name], many.lines[name], check_exact=True)
    assert one.as_of == many.as_of
    assert one.scan.left_out == many.scan.left_out


LINES = {
    "last": lambda rows: rows.select(pl.col("order_date").max().dt.date().alias("last")),
    "per_category": lambda rows: rows.group_by("category").agg(pl.len().alias("lines")).sort("category"),
}


@pytest.mark.parametrize("passes", [2, 3, 7])
@pytest.mark.parametrize("as_of", [None, date(2024, 7, 1)])
def test_the_sample_in_passes_gives_the_one_pass_tables(passes: int, as_of: date | None) -> None:
    one = _load([SAMPLE], None, as_of=as_of, activity=True, lines=LINES)
    many = _load([SAMPLE], passes, as_of=as_of, activity=True, lines=LINES)
    assert (one.passes, many.passes) == (1, passes)
    assert one.customers.height > 1000
    _same(one, many)
    # every column of the merged customer table cut alike (the as-of date too): stage 2's eager steps copy none
    assert len({tuple(c.chunk_lengths()) for c in many.customers.get_columns()}) == 1


@pytest.mark.parametrize("passes", [3, 7])
@pytest.mark.parametrize("as_of", [None, date(2024, 6, 15)])
def test_a_shop_with_bad_rows_returns_and_text_columns_in_passes(
    tmp_path: Path, passes: int, as_of: date | None
) -> None:
    shop = _shop(tmp_path / "shop.csv")
    one = _load([shop], None, as_of=as_of, on_bad_rows="skip", activity=True, lines=LINES)
    many = _load([shop], passes, as_of=as_of, on_bad_rows="skip", activity=True, lines=LINES)
    assert sum(r.height for r in one.rejects) == 3
    assert {"email", "first_category", "first_channel"} <= set(one.customers.columns)
    if as_of is None:  # the day after the last order of all, a return of a customer who never bought
        assert one.as_of == date(2024, 12, 31)
        assert one.no_purchase["customers"][0] >= 5
    else:
        assert one.scan.left_out[0] > 0  # lines after the as-of date, counted in the read
    _same(one, many)


def test_the_as_of_date_comes_from_every_part_also_one_without_purchases(tmp_path: Path) -> None:
    """Parts whose customers made no purchase have no summary rows, but their last order still moves the as-of
    date, as in one pass."""
    shop = tmp_path / "tiny.csv"
    shop.write_text(
        HEADER + "1,a,2024-01-02 10:00,10.00,shoes,web,\n2,b,2024-01-05 10:00,5.00,bags,web,\n"
        "3,z,2024-03-01 10:00,-4.00,bags,web,\n"
    )
    one = _load([shop], None, activity=True)
    assert one.as_of == date(2024, 3, 2)
    for passes in (2, 3, 7, 16):
        _same(one, _load([shop], passes, activity=True))


def test_bad_rows_under_error_stop_the_same_way(tmp_path: Path) -> None:
    shop = _shop(tmp_path / "shop.csv", customers=30)
    errors = []
    for passes in (None, 4):
        with pytest.raises(DataError) as info:
            _load([shop], passes)
        errors.append(str(info.value))
    assert errors[0] == errors[1] and "3 bad rows" in errors[0]


def _two_files(tmp_path: Path) -> list[Path]:
    shop = _shop(tmp_path / "shop.csv", bad=False)
    lines = shop.read_text().splitlines()
    body = lines[1:]
    first, second = body[: len(body) * 2 // 3], body[len(body) // 2 :]  # the middle sixth in both
    a, b = tmp_path / "a.csv", tmp_path / "b.csv"
    a.write_text("\n".join([lines[0], *first]) + "\n")
    b.write_text("\n".join([lines[0], *second]) + "\n")
    return [b, a]


@pytest.mark.parametrize("passes", [2, 5])
def test_lines_repeated_across_files_keep_first_in_passes(tmp_path: Path, passes: int) -> None:
    files = _two_files(tmp_path)
    options = ReadOptions(on_overlap="keep-first")
    one = _load(files, None, options=options, activity=True, lines=LINES)
    many = _load(files, passes, options=options, activity=True, lines=LINES)
    assert one.scan.overlap is not None and many.scan.overlap is not None
    assert one.scan.overlap.found and one.scan.overlap.found == many.scan.overlap.found
    _same(one, many)


def test_lines_repeated_across_files_stop_the_same_way(tmp_path: Path) -> None:
    files = _two_files(tmp_path)
    errors = []
    for passes in (None, 3):
        with pytest.raises(DataError) as info:
            _load(files, passes)
        errors.append(str(info.value))
    assert errors[0] == errors[1] and "Overlapping files" in errors[0]


def test_repeats_come_before_bad_rows_in_passes(tmp_path: Path) -> None:
    """A duplicate export causes both: like one pass, the partitioned read says the repeats first."""
    files = _two_files(tmp_path)
    with files[0].open("a") as fh:
        fh.write("B1,,2024-02-01 10:00,10.00,shoes,web,\n")
    errors = []
    for passes in (None, 3):
        with pytest.raises(DataError) as info:
            _load(files, passes)
        errors.append(str(info.value))
    assert errors[0] == errors[1] and "Overlapping files" in errors[0]


def test_the_temporary_folder_is_removed_after_the_passes_and_on_an_interrupt(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    temp = tmp_path / "tmp"
    temp.mkdir()
    monkeypatch.setattr(tempfile, "tempdir", str(temp))
    seen: list[str] = []

    def looked(i: int, n: int) -> None:
        seen.extend(p.name for p in temp.iterdir() if p.name.startswith("loyalty-spill-"))

    _load([SAMPLE], 3, on_pass=looked)
    assert seen and list(temp.iterdir()) == []

    def interrupted(*args: object, **kwargs: object) -> None:
        raise KeyboardInterrupt

    monkeypatch.setattr(part_module, "_pass", interrupted)
    with pytest.raises(KeyboardInterrupt):
        _load([SAMPLE], 3)
    assert list(temp.iterdir()) == []


def test_too_little_disk_for_the_spill_files_is_said_before_reading(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(part_module, "SPILL_BYTES_PER_COLUMN", 10**15)
    with pytest.raises(LoyaltyError, match="Not enough free disk for the partitioned read"):
        _load([SAMPLE], 3)


def test_a_pipeline_shares_a_partitioned_read() -> None:
    with shared_reads() as cache:
        first = load_transactions([SAMPLE], as_of=None, passes=3)
        again = load_transactions([SAMPLE], as_of=None)
        at_date = load_transactions([SAMPLE], as_of=first.as_of)
    assert first.passes == 3 and again is first and at_date is first
    assert first.activity_table() is not None and len(cache) == 2  # a pipeline keeps the activity table


# --- through load_inputs and a command ---------------------------------------------------------------------


def test_load_inputs_takes_passes_for_a_budget_and_says_so(tiny_footprint: Footprint) -> None:
    lines, _ = count_lines(read_transactions([SAMPLE]).sources)
    budget = 1000 + -(-20 * lines // 3)  # the lines' share of 3 passes fits, not that of 2
    messages = Messages()
    many = load_inputs(InputSpec(transactions=[str(SAMPLE)], activity=True, memory_limit=budget), messages)
    one = load_inputs(InputSpec(transactions=[str(SAMPLE)], activity=True))
    assert (many.passes, one.passes) == (3, 1)
    assert f"Stage 1 in 3 passes over customer partitions for a memory budget of {format_size(budget)}" in [
        m.text for m in messages.items
    ]
    assert_frame_equal(one.customers.sort(CUSTOMER_ORDER), many.customers, check_exact=True)
    assert_frame_equal(one.activity.sort(ACTIVITY_ORDER), many.activity, check_exact=True)
    assert one.as_of == many.as_of


def test_segment_is_the_same_within_a_budget(tiny_footprint: Footprint) -> None:
    from loyalty_cli.app.segment import SegmentConfig, segment

    one = segment(load_inputs(InputSpec(transactions=[str(SAMPLE)])), SegmentConfig())
    many_inputs = load_inputs(InputSpec(transactions=[str(SAMPLE)], memory_limit=50_000))
    assert many_inputs.passes > 1
    many = segment(many_inputs, SegmentConfig())
    assert_frame_equal(one.customers, many.customers, check_exact=True)  # in segment, value and id order
    assert_frame_equal(one.cut_points, many.cut_points, check_exact=True)
    # the segments' revenue and means are float sums in the streaming engine's thread order: their last digits
    # change from run to run in one pass too
    assert_frame_equal(one.summary, many.summary, rel_tol=1e-12)


def test_the_activity_without_stage_1_takes_passes_too(tmp_path: Path, tiny_footprint: Footprint) -> None:
    """``summary=False`` (uplift): the activity table and the lines plans, in passes within a budget."""
    shop = _shop(tmp_path / "shop.csv")
    spec = {"transactions": [str(shop)], "summary": False, "activity": True, "on_bad_rows": "skip", "lines": LINES}
    one = load_inputs(InputSpec(**spec))  # type: ignore[arg-type]
    many = load_inputs(InputSpec(**spec, memory_limit=5_000))  # type: ignore[arg-type]
    assert many.passes > 1 and one.passes == 1
    assert one.tables.keys() == many.tables.keys() == {"activity", "last", "per_category"}
    assert_frame_equal(one.tables["activity"].sort(ACTIVITY_ORDER), many.tables["activity"], check_exact=True)
    for name in ("last", "per_category"):
        assert_frame_equal(one.tables[name], many.tables[name], check_exact=True)
    assert_frame_equal(one.rejects["transactions"], many.rejects["transactions"], check_exact=True)


# --- the budget, the estimate and the plan -----------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "size"),
    [
        ("1GB", 10**9),
        ("512MB", 512 * 10**6),
        ("1.5 GiB", 3 * 2**29),
        ("2000000000", 2 * 10**9),
        (" 750 mb ", 750 * 10**6),
        (".5G", 5 * 10**8),
        ("64KiB", 65536),
        (123456, 123456),
        (1e9, 10**9),
        ("none", None),
        ("Unlimited", None),
        (None, None),
    ],
)
def test_a_budget_is_read_as_people_write_it(text: str | int | float | None, size: int | None) -> None:
    assert parse_memory_limit(text) == size


@pytest.mark.parametrize("text", ["abc", "1 GBs", "-1GB", "1e9", "0", "0.1", "1,5GB", "GB", True, float("nan")])
def test_a_bad_budget_names_the_setting(text: object) -> None:
    with pytest.raises(ConfigError) as info:
        parse_memory_limit(text)  # type: ignore[arg-type]
    assert info.value.name == "memory_limit"
    assert render(info.value.message).startswith("--memory-limit must be a size")


def test_the_default_budget_is_a_share_of_the_available_memory(tmp_path: Path) -> None:
    from loyalty_cli.memory import FALLBACK, available_memory

    meminfo = tmp_path / "meminfo"
    meminfo.write_text("MemTotal:       24683584 kB\nMemAvailable:    8000000 kB\n")
    assert available_memory(meminfo) == 8_192_000_000
    assert default_memory_limit(8_192_000_000) == 4_096_000_000
    assert default_memory_limit(0) == FALLBACK
    assert default_memory_limit() > 0
    assert format_size(10**9) == "1.0 GB" and format_size(1536 * 10**6) == "1.5 GB" and format_size(999) == "999 bytes"


def _estimate(lines: int, footprint: Footprint = passes_module.FOOTPRINT, *, csv: bool = False) -> Estimate:
    return Estimate(lines=lines, exact=True, line_bytes=footprint.per_line, csv=csv, footprint=footprint)


def test_the_passes_for_a_budget() -> None:
    fp = Footprint(fixed=100, per_line=10, pass_fixed=100, partitioned_read=0, max_passes=10)
    found = _estimate(1000, fp)  # 10,100 bytes in one pass
    assert plan_passes(found, None) == 1
    assert plan_passes(found, 10_100) == 1
    assert plan_passes(found, 10_099) == 2
    assert plan_passes(found, 100 + 3334) == 3
    assert plan_passes(found, 100 + 3333) == 4  # 10,000 / 3,333 bytes: 3.0003 passes
    assert plan_passes(found, 100 + 10_000 // 7) == 8
    assert found.pass_bytes(8) <= 100 + 10_000 // 7


def test_the_measured_footprint_reads_50_million_lines_in_8_passes_for_1_gb() -> None:
    """Measured (stage1/passes.py): 8 passes peaked at 824 MiB (864 MB), 7 at 801 MiB; 4 at 1277 MiB."""
    fifty_million = _estimate(50_000_000)
    assert fifty_million.one_pass > 4 * 10**9  # measured: 3.4 GB
    assert plan_passes(fifty_million, 10**9) == 8
    assert plan_passes(_estimate(10_000_000), 500 * 10**6) == 9  # measured: 7 passes peaked at 392 MiB


def test_an_impossible_budget_is_a_clear_error() -> None:
    fifty_million = _estimate(50_000_000)
    least = max(fifty_million.floor, fifty_million.pass_bytes(passes_module.FOOTPRINT.max_passes))
    with pytest.raises(ConfigError) as info:
        plan_passes(fifty_million, 300 * 10**6)  # below what the partitioned read itself takes
    assert info.value.name == "memory_limit"
    shown = render(str(info.value))
    assert shown.startswith("--memory-limit of 300 MB is too small for these transactions (50,000,000 lines, 4.7 GB")
    assert f"reading them in passes needs at least {format_size(least)}" in shown
    assert f"Hint: Give at least {format_size(least)}, or none" in shown
    with pytest.raises(ConfigError, match="needs at least 800 MB"):  # CSV files take more to read
        plan_passes(_estimate(50_000_000, csv=True), 700 * 10**6)
    with pytest.raises(ConfigError, match="too small"):  # more passes than the most there may be
        plan_passes(_estimate(10**12), 10**9)
    assert plan_passes(_estimate(1000), 300 * 10**6) == 1  # small enough for one pass: no floor


def test_the_lines_are_counted_from_footers_or_estimated_from_the_first_bytes(tmp_path: Path) -> None:
    shop = _shop(tmp_path / "shop.csv", customers=2000, bad=False)
    lines = shop.read_text().count("\n") - 1
    frame = pl.read_csv(shop, infer_schema=False)
    frame.write_parquet(tmp_path / "shop.parquet")
    (tmp_path / "shop.csv.gz").write_bytes(gzip.compress(shop.read_bytes()))
    assert count_lines(read_transactions([tmp_path / "shop.parquet"]).sources) == (lines, True)
    for name in ("shop.csv", "shop.csv.gz"):
        counted, exact = count_lines(read_transactions([tmp_path / name]).sources)
        assert not exact and abs(counted - lines) < 0.05 * lines, (name, counted, lines)
    small, _ = count_lines(read_transactions([SAMPLE]).sources)
    assert abs(small - 16815) < 0.05 * 16815


def test_the_estimate_grows_with_lines_the_activity_table_and_text_columns(tmp_path: Path) -> None:
    fp = passes_module.FOOTPRINT
    plain = tmp_path / "plain.csv"
    plain.write_text("customer_id,order_date,amount\n" + "c1,2024-01-02,10\n" * 100)
    base = estimate(read_transactions([plain]))
    assert base.lines == 100 and base.one_pass == fp.fixed + 100 * fp.per_line and base.csv
    with_activity = estimate(read_transactions([plain]), activity=True)
    assert with_activity.one_pass == base.one_pass + 100 * fp.activity_per_line
    assert estimate(read_transactions([plain]), activity=True, summary=False).line_bytes == fp.activity_per_line
    texts = estimate(read_transactions([SAMPLE]))
    assert texts.one_pass == fp.fixed + texts.lines * (fp.per_line + 3 * fp.text_per_line)
    assert texts.pass_bytes(4) == fp.pass_fixed + -(-texts.lines * (fp.per_line + 3 * fp.text_per_line) // 4)
    assert texts.describe().startswith("about 16,")


# --- the commands that read the activity table: in its parts, one at a time (issue 20) ----------------------

ACTIVITY_COMMANDS = {
    "retention": ["-o", "long.csv", "--wide", "wide.csv", "--cohorts", "cohorts.csv"],
    "retention-week": ["--period", "week", "-o", "long.csv", "--wide", "wide.csv"],
    "churn": ["-o", "status.csv", "--rates", "rates.csv"],
    "churn-model": ["--model", "mbgnbd", "--rank-by", "predicted", "-o", "status.csv", "--rates", "rates.csv"],
    "second-purchase": ["-o", "actions.csv", "--summary", "timing.csv"],
    "second-purchase-by": ["--by", "first_category", "-o", "actions.csv", "--summary", "timing.csv"],
    "lifecycle": ["-o", "todo.csv", "--summary", "stages.csv"],
    "cltv": ["--holdout", "90", "-o", "clv.csv", "--tables", "checks"],
}


def _written(folder: Path) -> dict[str, bytes]:
    return {str(p.relative_to(folder)): p.read_bytes() for p in sorted(folder.rglob("*")) if p.is_file()}


def _run_in(folder: Path, command: str, data: Path, *extra: str) -> str:
    from typer.testing import CliRunner

    from loyalty_cli.cli import app

    folder.mkdir()
    name = command.removesuffix("-by") if command.startswith("second") else command.split("-")[0]
    args = [name, str(data)]
    with pytest.MonkeyPatch.context() as mp:
        mp.chdir(folder)
        result = CliRunner(env={"COLUMNS": "200", "NO_COLOR": "1"}).invoke(
            app, [*args, *ACTIVITY_COMMANDS[command], *extra]
        )
    assert result.exit_code == 0, result.output
    return result.output


#: the models do not fit the random shop (no repeat pattern): these run on the sample only
MODEL_COMMANDS = ("churn-model", "cltv")


@pytest.mark.parametrize(
    ("command", "data"),
    [(c, "sample") for c in ACTIVITY_COMMANDS] + [(c, "shop") for c in ACTIVITY_COMMANDS if c not in MODEL_COMMANDS],
)
def test_an_activity_command_writes_the_same_files_in_passes(
    tmp_path: Path, tiny_footprint: Footprint, command: str, data: str
) -> None:
    """Every file the command writes is byte for byte the one-pass file when the activity table stays in its
    parts (a tiny budget: several passes, each command reading one part at a time)."""
    source = SAMPLE if data == "sample" else _shop(tmp_path / "shop.csv", customers=400, bad=False)
    one = _run_in(tmp_path / "one", command, source)
    many = _run_in(tmp_path / "many", command, source, "--memory-limit", "20kB")
    assert "passes over customer partitions" in many and "passes over customer partitions" not in one
    files = _written(tmp_path / "one")
    assert len(files) >= 2 and all(files.values())
    assert _written(tmp_path / "many") == files
    # and what it shows (the tables on the terminal), but for the note of the passes and the folder's name
    shown = [line for line in many.splitlines() if "passes over customer partitions" not in line]
    assert "\n".join(shown).replace("/many/", "/one/") == one.rstrip("\n").replace("/many/", "/one/")


def test_the_activity_parts_are_removed_with_the_inputs(tiny_footprint: Footprint) -> None:
    import gc

    inputs = load_inputs(InputSpec(transactions=[str(SAMPLE)], activity=True, memory_limit=20_000))
    parts = inputs.loaded.activity_parts if inputs.loaded is not None else None
    assert parts is not None and inputs.passes == len(parts.files) > 1
    assert all(path.is_file() for path in parts.files)
    one = load_inputs(InputSpec(transactions=[str(SAMPLE)], activity=True))
    assert_frame_equal(one.activity.sort(ACTIVITY_ORDER), inputs.activity, check_exact=True)  # merged when asked
    assert_frame_equal(one.activity.sort(ACTIVITY_ORDER), inputs.get("activity"), check_exact=True)  # type: ignore[arg-type]
    folder = parts.folder
    del inputs, parts
    gc.collect()
    assert not folder.exists()
