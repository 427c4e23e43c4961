"""A CSV with a line break inside a quoted value reads on Spark as on Polars: the same tables, the same rejected
rows numbered as Polars numbers them (by record: a row after a value over two lines is one less than its line),
and the same errors. Such a file is read whole: found from its first 64 KB before the read, or by the read (which
is then done again)."""

from __future__ import annotations

import gzip
import shutil
from pathlib import Path

import pytest

from loyalty_cli.errors import DataError
from loyalty_cli.io.sources import inspect_source
from loyalty_cli.spark import SparkSettings, files, jobs, load_transactions_spark
from loyalty_cli.spark.files import HEAD_BYTES, quoted_breaks
from loyalty_cli.spark.parse import RAGGED, UNREADABLE, Problem, _whole
from loyalty_cli.stage1 import load_transactions

from .conftest import CDNOW, assert_same_load, sample_lines, with_field, write_lines

#: a category over two lines, with quotes and a comma in it
BROKEN = '"Gift\nwrapped, ""red"""'
LINES = 2_000  # about 180 KB: line 1,000 is past the first 64 KB


def multiline(path: Path, at: int, bad: int | None = None, lines: int = LINES) -> Path:
    """The sample's first ``lines`` lines, the category of line ``at`` broken over two lines; the amount of line
    ``bad`` no number."""
    head, body = sample_lines()
    body = body[:lines]
    body[at] = with_field(body[at], 4, BROKEN)
    if bad is not None:
        body[bad] = with_field(body[bad], 8, "abc")
    return write_lines(path, head, body)


@pytest.fixture
def reads(monkeypatch: pytest.MonkeyPatch) -> list[frozenset[int]]:
    """The files read whole by each parse (a list: one parse, or two when the first found a broken value)."""
    found: list[frozenset[int]] = []
    parsed_rows = jobs.parsed_rows

    def recording(spark, planned, located, job, whole=frozenset()):
        found.append(whole)
        return parsed_rows(spark, planned, located, job, whole)

    monkeypatch.setattr(jobs, "parsed_rows", recording)
    return found


def test_a_value_over_two_lines_in_the_first_lines_is_read_whole_from_the_start(
    spark_settings: SparkSettings, tmp_path: Path, reads: list[frozenset[int]]
) -> None:
    path = multiline(tmp_path / "notes.csv", at=50, bad=60)
    polars = load_transactions([str(path)], as_of=None, activity=True, on_bad_rows="skip")
    spark = load_transactions_spark([str(path)], as_of=None, activity=True, on_bad_rows="skip", settings=spark_settings)
    assert_same_load(polars, spark)
    # data line 61 is the 62nd record (the header is row 1) but the file's line 63: Polars numbers records
    assert spark.rejects[0]["source_row"].to_list() == [62]
    assert reads == [frozenset({0})]


def test_a_value_over_two_lines_further_down_is_found_by_the_read_and_read_again(
    spark_settings: SparkSettings, tmp_path: Path, reads: list[frozenset[int]]
) -> None:
    head, body = sample_lines()
    other = body[LINES : 2 * LINES]  # other lines: the files do not overlap
    clean = write_lines(tmp_path / "a.csv", head, [with_field(other[0], 8, "xyz"), *other[1:]])
    broken = multiline(tmp_path / "b.csv", at=1500, bad=1800)
    assert (tmp_path / "b.csv").read_bytes().index(b'"Gift') > HEAD_BYTES
    inputs = [str(clean), str(broken)]
    polars = load_transactions(inputs, as_of=None, activity=True, on_bad_rows="skip")
    spark = load_transactions_spark(inputs, as_of=None, activity=True, on_bad_rows="skip", settings=spark_settings)
    assert_same_load(polars, spark)
    assert spark.rejects[0]["source_row"].to_list() == [2, 1802]
    assert reads == [frozenset(), frozenset({1})]  # b.csv read whole the second time; a.csv by lines both times


def test_a_gzip_file_with_a_value_over_lines(spark_settings: SparkSettings, tmp_path: Path) -> None:
    text = multiline(tmp_path / "plain.csv", at=10, bad=20).read_bytes()
    path = tmp_path / "notes.csv.gz"
    path.write_bytes(gzip.compress(text))
    polars = load_transactions([str(path)], as_of=None, on_bad_rows="skip")
    spark = load_transactions_spark([str(path)], as_of=None, on_bad_rows="skip", settings=spark_settings)
    assert_same_load(polars, spark)
    assert spark.rejects[0]["source_row"].to_list() == [22]


def test_bad_rows_after_a_value_over_lines_stop_with_the_same_error(
    spark_settings: SparkSettings, tmp_path: Path
) -> None:
    path = multiline(tmp_path / "notes.csv", at=50, bad=60)
    with pytest.raises(DataError) as polars:
        load_transactions([str(path)], as_of=None)
    with pytest.raises(DataError) as spark:
        load_transactions_spark([str(path)], as_of=None, settings=spark_settings)
    assert str(polars.value) == str(spark.value)
    assert "1 bad row in the transactions" in str(spark.value) and "(row 62;" in str(spark.value)


def test_a_remote_file_with_a_line_too_long_after_a_value_over_lines(
    spark_settings: SparkSettings, tmp_path: Path
) -> None:
    """A file URL is read whole by Spark, and its error is worded from that read: as the Polars engine words it
    for a local copy (the line, counted in lines, not records)."""
    path = multiline(tmp_path / "notes.csv", at=50)
    head, *body = path.read_text(encoding="utf-8").split("\n")
    body[70] += ",extra"
    path.write_text("\n".join([head, *body]), encoding="utf-8")
    with pytest.raises(DataError) as polars:
        load_transactions([str(path)], as_of=None)
    with pytest.raises(DataError) as spark:
        load_transactions_spark([path.as_uri()], as_of=None, settings=spark_settings)
    assert str(spark.value) == str(polars.value).replace(str(path), path.as_uri())
    assert "notes.csv, line 72: 12 fields where the header has 11" in str(spark.value)


def test_a_remote_file_with_a_value_over_lines(spark_settings: SparkSettings, tmp_path: Path) -> None:
    local = multiline(tmp_path / "local.csv", at=5, bad=900)
    shutil.copy(local, tmp_path / "remote.csv")
    url = (tmp_path / "remote.csv").as_uri()
    polars = load_transactions([str(local)], as_of=None, on_bad_rows="skip")
    spark = load_transactions_spark([url], as_of=None, on_bad_rows="skip", settings=spark_settings)
    assert polars.customers.sort("customer_id").equals(spark.customers)
    assert polars.rejects[0].drop("source_file").equals(spark.rejects[0].drop("source_file"))
    assert spark.rejects[0]["source_file"].to_list() == [url]


def test_files_whose_first_lines_break_a_value_over_lines(tmp_path: Path) -> None:
    """Only a CSV with a line holding an odd number of quotes in its first 64 KB; not a line cut at 64 KB, nor
    quotes doubled inside a value, nor a whitespace-aligned file."""
    head, body = sample_lines()
    quoted = with_field(body[1], 4, '"Gifts, ""wrapped"""')
    files = {
        "plain.csv": write_lines(tmp_path / "plain.csv", head, body[:100]),
        "quoted.csv": write_lines(tmp_path / "quoted.csv", head, [quoted, *body[:100]]),
        "broken.csv": multiline(tmp_path / "broken.csv", at=3, lines=100),
        "cut.csv": write_lines(tmp_path / "cut.csv", head, body[:1000]),
        "cdnow.txt": CDNOW,
    }
    cut = files["cut.csv"].read_bytes()
    start = cut.rindex(b"\n", 0, HEAD_BYTES) + 1  # the line cut at 64 KB: a quote in it
    assert cut.index(b"\n", start) > HEAD_BYTES
    files["cut.csv"].write_bytes(cut[:start] + b'"' + cut[start + 1 :])
    sources = [inspect_source(Path(p)) for p in files.values()]
    assert quoted_breaks(sources) == {list(files).index("broken.csv")}


def test_a_file_read_whole_numbers_its_records_and_says_what_stops_it(tmp_path: Path) -> None:
    """The executors' read of a whole file (no Spark here): gzip or not, rows numbered by record from the
    header's 0 (the driver adds 1); a line with too many fields found by its line, and Polars' error otherwise."""
    path = multiline(tmp_path / "notes.csv", at=1, lines=4)
    src = inspect_source(path)
    text = path.read_bytes()
    for content in (text, gzip.compress(text)):
        raw = _whole(src, content)
        assert not isinstance(raw, Problem)
        assert raw["_row"].to_list() == [1, 2, 3, 4] and raw["category"][1] == 'Gift\nwrapped, "red"'
    head, *body = text.decode().split("\n")
    body[3] += ",extra"  # the file's line 5 (the header is line 1, the value over lines 3 and 4)
    assert _whole(src, "\n".join([head, *body]).encode()) == Problem(4, f"{RAGGED}12")
    # a remote file is inspected from its first lines only: past them, text that is not UTF-8 stops Polars
    assert _whole(src, text.replace(b"Coffee", b"Caf\xe9")) == Problem(0, f"{UNREADABLE}invalid utf-8 sequence")


def test_a_file_too_large_to_read_whole_is_refused(
    spark_settings: SparkSettings, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = multiline(tmp_path / "notes.csv", at=1, lines=10)
    monkeypatch.setattr(jobs, "WHOLE_LIMIT", 1000)
    with pytest.raises(DataError, match=r"notes\.csv has a line break inside a quoted value, and the Spark engine"):
        load_transactions_spark([str(path)], as_of=None, settings=spark_settings)


def test_a_remote_file_read_whole_that_polars_cannot_read(
    spark_settings: SparkSettings, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A remote file is inspected from its first lines (here 100): text that is not UTF-8 further down stops the
    whole read, and the error names the file and says what Polars said. In the first lines: a clear error too."""
    monkeypatch.setattr(files, "SAMPLE_LINES", 100)
    path = multiline(tmp_path / "notes.csv", at=5)
    text = path.read_bytes()
    path.write_bytes(text[:100_000] + text[100_000:].replace(b"Coffee", b"Caf\xe9"))  # past the first 100 lines
    with pytest.raises(DataError) as error:
        load_transactions_spark([path.as_uri()], as_of=None, settings=spark_settings)
    assert str(error.value).startswith(f"Could not read {path.as_uri()}: invalid utf-8 sequence\nHint: Check the")
    path.write_bytes(text.replace(b"Coffee", b"Caf\xe9"))
    with pytest.raises(DataError, match=r"notes\.csv is not valid UTF-8 text \(in its first lines\)"):
        load_transactions_spark([path.as_uri()], as_of=None, settings=spark_settings)
