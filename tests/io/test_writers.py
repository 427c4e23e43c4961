"""write_table: formats by suffix or fmt, stdout, formula-injection safety, atomic writes."""

from __future__ import annotations

import csv
import io
import json
import os
import sys
from datetime import date
from pathlib import Path

import polars as pl
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from polars.testing import assert_frame_equal

from loyalty_cli.errors import LoyaltyError, UsageError
from loyalty_cli.io import writers
from loyalty_cli.io.writers import atomic_write, neutralise_formulas, output_format, write_table, write_text

TABLE = pl.DataFrame(
    {
        "customer_id": ["17850", "13047", "12583"],
        "segment": ["Champions", "At Risk", "New"],
        "orders": [12, 3, 1],
        "net_spend": [1234.5, -20.25, 0.0],
        "first_purchase": [date(2010, 12, 1), date(2011, 1, 4), date(2011, 2, 28)],
    }
)

RISKY = ["=1+1", "+cmd|' /C calc'!A0", "-2+3+cmd", "@SUM(A1:A2)", "\tTAB", "\rCR", '=HYPERLINK("http://x")']
SAFE = ["plain", "a=b", "x+y", "", None, "'already quoted", " =leading space", "-3.50", "+44", "-1", "1e5"]


def files_in(folder: Path) -> list[str]:
    return sorted(p.name for p in folder.iterdir())


def read_csv_rows(path: Path) -> list[dict[str, str]]:
    with path.open(newline="", encoding="utf-8") as fh:
        return list(csv.DictReader(fh))


# --- formats -------------------------------------------------------------------------------------------


@pytest.mark.parametrize("name", ["out.csv", "OUT.CSV", "out.parquet", "out.pq", "out.json"])
def test_format_from_suffix_round_trips(tmp_path: Path, name: str) -> None:
    target = tmp_path / name
    assert write_table(TABLE, target) == target
    suffix = target.suffix.lower()
    if suffix == ".csv":
        back = pl.read_csv(target, try_parse_dates=True, schema_overrides={"customer_id": pl.String})
    elif suffix in (".parquet", ".pq"):
        back = pl.read_parquet(target)
    else:
        back = pl.DataFrame(json.loads(target.read_text()))
        back = back.with_columns(pl.col("first_purchase").str.to_date())
    assert_frame_equal(back, TABLE)
    assert files_in(tmp_path) == [name]


@pytest.mark.parametrize(("fmt", "magic"), [("csv", b"customer_id,"), ("parquet", b"PAR1"), ("json", b"[{")])
def test_fmt_wins_over_the_suffix(tmp_path: Path, fmt: str, magic: bytes) -> None:
    target = tmp_path / "export.dat"
    write_table(TABLE, target, fmt=fmt)
    assert target.read_bytes().startswith(magic)


def test_output_format() -> None:
    assert output_format("a.csv") == "csv"
    assert output_format(Path("dir.v2/a.Parquet")) == "parquet"
    assert output_format("a.json") == "json"
    assert output_format("-") == "csv"
    assert output_format("-", "json") == "json"
    assert output_format("a.csv", "parquet") == "parquet"


@pytest.mark.parametrize("name", ["out.xlsx", "out", "out.csv.bak", "out.tsv"])
def test_unknown_suffix_is_a_usage_error(tmp_path: Path, name: str) -> None:
    with pytest.raises(UsageError, match="Cannot tell the output format") as info:
        write_table(TABLE, tmp_path / name)
    assert info.value.hint and "--format" in info.value.hint
    assert int(info.value.exit_code) == 2
    assert files_in(tmp_path) == []


def test_unknown_fmt_is_a_usage_error(tmp_path: Path) -> None:
    with pytest.raises(UsageError, match="Unknown format 'xml'"):
        write_table(TABLE, tmp_path / "out.csv", fmt="xml")
    assert files_in(tmp_path) == []


def test_parent_folders_are_created(tmp_path: Path) -> None:
    target = tmp_path / "a" / "b" / "out.csv"
    write_table(TABLE, target)
    assert target.is_file()


def test_lists_are_joined_in_csv_and_kept_in_parquet(tmp_path: Path) -> None:
    df = pl.DataFrame({"id": ["1"], "tags": [["vip", "=cmd"]]})
    write_table(df, tmp_path / "t.csv")
    assert read_csv_rows(tmp_path / "t.csv") == [{"id": "1", "tags": "vip; =cmd"}]
    write_table(df, tmp_path / "t.parquet")
    assert_frame_equal(pl.read_parquet(tmp_path / "t.parquet"), df)


def test_write_text(tmp_path: Path) -> None:
    target = write_text("héllo\n", tmp_path / "note.txt")
    assert target.read_text(encoding="utf-8") == "héllo\n"


# --- stdout ----------------------------------------------------------------------------------------------


def test_dash_writes_csv_to_stdout(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.chdir(tmp_path)
    assert write_table(TABLE, "-") is None
    out, err = capsys.readouterr()
    assert err == ""
    assert out.splitlines()[0] == "customer_id,segment,orders,net_spend,first_purchase"
    assert_frame_equal(
        pl.read_csv(io.StringIO(out), try_parse_dates=True, schema_overrides={"customer_id": pl.String}), TABLE
    )
    assert files_in(tmp_path) == []  # no file called '-'


def test_dash_with_fmt_json(capsys: pytest.CaptureFixture[str]) -> None:
    write_table(TABLE, "-", fmt="json")
    out = capsys.readouterr().out
    assert json.loads(out)[0] == {
        "customer_id": "17850",
        "segment": "Champions",
        "orders": 12,
        "net_spend": 1234.5,
        "first_purchase": "2010-12-01",
    }


def test_dash_with_fmt_parquet_writes_bytes(capfdbinary: pytest.CaptureFixture[bytes]) -> None:
    write_table(TABLE, "-", fmt="parquet")
    out = capfdbinary.readouterr().out
    assert out.startswith(b"PAR1")
    assert_frame_equal(pl.read_parquet(io.BytesIO(out)), TABLE)


def test_dash_csv_is_neutralised_too(capfdbinary: pytest.CaptureFixture[bytes]) -> None:
    write_table(pl.DataFrame({"name": ["=cmd"]}), "-")
    assert capfdbinary.readouterr().out == b"name\n'=cmd\n"


def test_dash_without_a_binary_buffer(monkeypatch: pytest.MonkeyPatch) -> None:
    text = io.StringIO()  # has no .buffer, like some wrapped streams
    monkeypatch.setattr(sys, "stdout", text)
    write_table(pl.DataFrame({"a": [1]}), "-")
    assert text.getvalue() == "a\n1\n"


# --- formula injection -------------------------------------------------------------------------------------


def risky_frame() -> pl.DataFrame:
    n = len(RISKY) + len(SAFE)
    return pl.DataFrame(
        {
            "text": RISKY + SAFE,
            "count": list(range(-3, n - 3)),
            "money": [-(i + 0.25) for i in range(n)],
        }
    )


def test_csv_neutralises_formula_cells(tmp_path: Path) -> None:
    df = risky_frame()
    write_table(df, tmp_path / "out.csv")
    back = pl.read_csv(tmp_path / "out.csv", schema_overrides={"text": pl.String})
    for original, written in zip(df["text"], back["text"], strict=True):
        if original in RISKY:
            assert written == "'" + original
        else:
            assert written == original  # plain text, and text that is a plain number, untouched
    # numeric columns, negative numbers included, are untouched and read back as numbers
    assert back.schema["count"] == pl.Int64 and back.schema["money"] == pl.Float64
    assert back["count"].to_list() == df["count"].to_list()
    assert back["money"].to_list() == df["money"].to_list()
    raw = (tmp_path / "out.csv").read_text()
    assert "\n=" not in raw and ",=" not in raw and "'-3" not in raw


def test_parquet_and_json_are_not_altered(tmp_path: Path) -> None:
    df = risky_frame()
    write_table(df, tmp_path / "out.parquet")
    assert_frame_equal(pl.read_parquet(tmp_path / "out.parquet"), df)
    write_table(df, tmp_path / "out.json")
    assert [r["text"] for r in json.loads((tmp_path / "out.json").read_text())] == df["text"].to_list()


def test_categorical_and_enum_columns_are_neutralised(tmp_path: Path) -> None:
    df = pl.DataFrame({"cat": ["=a", "b"], "enum": ["@x", "y"]}).with_columns(
        pl.col("cat").cast(pl.Categorical), pl.col("enum").cast(pl.Enum(["@x", "y"]))
    )
    write_table(df, tmp_path / "out.csv")
    assert read_csv_rows(tmp_path / "out.csv") == [{"cat": "'=a", "enum": "'@x"}, {"cat": "b", "enum": "y"}]


def test_neutralise_leaves_frames_without_text_alone() -> None:
    df = pl.DataFrame({"a": [-1, 2], "b": [-1.5, None]})
    assert neutralise_formulas(df) is df


@settings(max_examples=60, deadline=None)
@given(st.lists(st.one_of(st.none(), st.text(st.characters(codec="utf-8"), max_size=12)), min_size=1, max_size=8))
def test_csv_round_trip_changes_only_formula_cells(values: list[str | None]) -> None:
    buffer = io.BytesIO()
    writers._serialise(pl.DataFrame({"v": values}, schema={"v": pl.String}), "csv", buffer)
    back = pl.read_csv(io.BytesIO(buffer.getvalue()), infer_schema=False)["v"].to_list()
    for original, written in zip(values, back, strict=True):
        if original is None:
            assert written is None
        elif original[:1] in ("=", "+", "-", "@", "\t", "\r") and written != original:
            assert written == "'" + original
        else:
            assert written == original
        assert written is None or written[:1] not in ("=", "@", "\t", "\r")


# --- atomic writes -----------------------------------------------------------------------------------------


@pytest.fixture
def old_file(tmp_path: Path) -> Path:
    target = tmp_path / "segments.csv"
    target.write_text("old,content\n1,2\n")
    return target


def test_replaces_an_existing_file(old_file: Path) -> None:
    write_table(TABLE, old_file)
    assert read_csv_rows(old_file)[0]["customer_id"] == "17850"
    assert files_in(old_file.parent) == ["segments.csv"]


def test_crash_in_the_middle_of_writing_keeps_the_old_file(old_file: Path) -> None:
    def half_then_crash(fh) -> None:  # noqa: ANN001
        fh.write(b"customer_id,seg")
        fh.flush()
        raise RuntimeError("killed")

    with pytest.raises(RuntimeError, match="killed"):
        atomic_write(old_file, half_then_crash)
    assert old_file.read_text() == "old,content\n1,2\n"
    assert files_in(old_file.parent) == ["segments.csv"]  # no temp file left behind


def test_crash_writing_a_new_file_creates_nothing(tmp_path: Path) -> None:
    def crash(fh) -> None:  # noqa: ANN001
        fh.write(b"partial")
        raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        atomic_write(tmp_path / "new.csv", crash)
    assert files_in(tmp_path) == []


def test_interrupt_at_fsync_keeps_the_old_file(old_file: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    def interrupted(fd: int) -> None:
        raise KeyboardInterrupt

    monkeypatch.setattr(writers.os, "fsync", interrupted)
    with pytest.raises(KeyboardInterrupt):
        write_table(TABLE, old_file)
    assert old_file.read_text() == "old,content\n1,2\n"
    assert files_in(old_file.parent) == ["segments.csv"]


def test_failed_rename_keeps_the_old_file(old_file: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    def no_rename(src: str, dst: str) -> None:
        raise PermissionError(13, "Permission denied")

    monkeypatch.setattr(writers.os, "replace", no_rename)
    with pytest.raises(LoyaltyError, match="Could not write .*segments.csv: Permission denied") as info:
        write_table(TABLE, old_file)
    assert info.value.hint
    assert old_file.read_text() == "old,content\n1,2\n"
    assert files_in(old_file.parent) == ["segments.csv"]


def test_failed_rename_of_a_new_file_creates_nothing(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    def no_rename(src: str, dst: str) -> None:
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(writers.os, "replace", no_rename)
    with pytest.raises(LoyaltyError, match="No space left on device"):
        write_table(TABLE, tmp_path / "new.parquet")
    assert files_in(tmp_path) == []


def test_target_that_is_a_folder_is_a_clear_error(tmp_path: Path) -> None:
    (tmp_path / "out.csv").mkdir()
    with pytest.raises(LoyaltyError, match="Could not write .*out.csv"):
        write_table(TABLE, tmp_path / "out.csv")
    assert files_in(tmp_path) == ["out.csv"]
    assert files_in(tmp_path / "out.csv") == []


def test_folder_that_cannot_be_created_is_a_clear_error(tmp_path: Path) -> None:
    (tmp_path / "file").write_text("x")
    with pytest.raises(LoyaltyError, match="Could not write"):
        write_table(TABLE, tmp_path / "file" / "out.csv")


@pytest.mark.skipif(os.name != "posix", reason="POSIX permissions")
def test_new_files_get_the_usual_permissions(tmp_path: Path) -> None:
    umask = os.umask(0o027)
    try:
        write_table(TABLE, tmp_path / "new.csv")
    finally:
        os.umask(umask)
    assert (tmp_path / "new.csv").stat().st_mode & 0o777 == 0o640  # 0o666 less the umask, not mkstemp's 0o600


@pytest.mark.skipif(os.name != "posix", reason="POSIX permissions")
def test_replaced_files_keep_their_permissions(old_file: Path) -> None:
    old_file.chmod(0o664)
    write_table(TABLE, old_file)
    assert old_file.stat().st_mode & 0o777 == 0o664
