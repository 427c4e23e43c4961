"""write_table: formats by suffix or fmt, stdout, formula-injection safety, atomic writes."""

from __future__ import annotations

import csv
import errno
import io
import json
import os
import signal
import stat
import subprocess
import sys
import tempfile
import threading
from datetime import date
from pathlib import Path

import polars as pl
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from polars.testing import assert_frame_equal

from loyalty_cli.cli.flags import render
from loyalty_cli.errors import DataError, LoyaltyError, UsageError
from loyalty_cli.io import destinations, tempfiles, writers
from loyalty_cli.io.formulas import neutralise_formulas
from loyalty_cli.io.writers import atomic_write, output_format, write_table, write_text

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


@pytest.mark.parametrize("name", ["out.xls", "out", "out.csv.bak", "out.tsv"])
def test_unknown_suffix_is_a_usage_error(tmp_path: Path, name: str) -> None:
    with pytest.raises(UsageError, match="Cannot tell the output format") as info:
        write_table(TABLE, tmp_path / name)
    assert info.value.hint and "--format" in render(info.value.hint)
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


def test_formula_like_headers_are_neutralised(tmp_path: Path) -> None:
    """Headers come from the input too (rejects keep the raw columns, nps --by names a column)."""
    df = pl.DataFrame(
        {"=cmd|' /C calc'!A0": ["x"], "@SUM(A1)": [1], "-3.50": [2.5], "a=b": ["=1"], "\tTAB": [None], "+44": ["+44"]}
    )
    write_table(df, tmp_path / "out.csv")
    with (tmp_path / "out.csv").open(newline="", encoding="utf-8") as fh:
        header, row = list(csv.reader(fh))
    assert header == ["'=cmd|' /C calc'!A0", "'@SUM(A1)", "-3.50", "a=b", "'\tTAB", "+44"]  # plain numbers stay
    assert row == ["x", "1", "2.5", "'=1", "", "+44"]
    assert neutralise_formulas(pl.DataFrame({"a": [1], "b": ["x"]})).columns == ["a", "b"]


def test_headers_without_text_columns_are_neutralised() -> None:
    assert neutralise_formulas(pl.DataFrame({"=1+1": [1], "n": [2]})).columns == ["'=1+1", "n"]


def test_header_that_would_repeat_another_is_a_clear_error() -> None:
    with pytest.raises(DataError, match=r"Two columns would both be written as \"'=a\"") as info:
        neutralise_formulas(pl.DataFrame({"=a": [1], "'=a": [2]}))
    assert info.value.hint == "Rename one of the two columns (in the input or with the column mapping)."


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


# --- a set of files: the old files are kept aside until the new ones are all in place ---------------------------


@pytest.fixture
def old_pair(tmp_path: Path) -> tuple[Path, Path]:
    a, b = tmp_path / "a.csv", tmp_path / "b.csv"
    a.write_text("OLD a.csv")
    b.write_text("OLD b.csv")
    a.chmod(0o640)
    return a, b


def no_hard_links(monkeypatch: pytest.MonkeyPatch) -> None:
    """os.link fails as for a file of another user under fs.protected_hardlinks=1 (or on SMB, some FUSE)."""

    def refused(*args: object, **kwargs: object) -> None:
        raise PermissionError(errno.EPERM, "Operation not permitted")

    monkeypatch.setattr(writers.os, "link", refused)


def write_pair(a: Path, b: Path, remove: list[Path] | None = None) -> list[Path]:
    with writers.FileSet() as files:
        files.add(a, lambda fh: fh.write(b"NEW a"))
        files.add(b, lambda fh: fh.write(b"NEW b"))
        return files.commit(remove=remove or [])


def test_a_set_without_hard_links_is_rolled_back_from_copies(
    old_pair: tuple[Path, Path], monkeypatch: pytest.MonkeyPatch
) -> None:
    a, b = old_pair
    no_hard_links(monkeypatch)
    replace, calls = os.replace, []

    def second_rename_fails(src: str, dst: str) -> None:
        calls.append(dst)
        if len(calls) == 2:
            raise OSError(errno.EIO, "Input/output error")
        replace(src, dst)

    monkeypatch.setattr(writers.os, "replace", second_rename_fails)
    with pytest.raises(DataError, match=r"Could not write .*b\.csv: Input/output error"):
        write_pair(a, b)
    assert (a.read_text(), b.read_text()) == ("OLD a.csv", "OLD b.csv")  # not NEW a | OLD b.csv
    assert stat.S_IMODE(a.stat().st_mode) == 0o640
    assert files_in(a.parent) == ["a.csv", "b.csv"]


def test_a_set_without_hard_links_is_written(old_pair: tuple[Path, Path], monkeypatch: pytest.MonkeyPatch) -> None:
    a, b = old_pair
    gone = a.parent / "gone.csv"
    gone.write_text("OLD gone")
    no_hard_links(monkeypatch)
    assert write_pair(a, b, remove=[gone]) == [gone]
    assert (a.read_text(), b.read_text()) == ("NEW a", "NEW b")
    assert stat.S_IMODE(a.stat().st_mode) == 0o640
    assert files_in(a.parent) == ["a.csv", "b.csv"]  # no copy left behind


def test_a_removed_file_without_hard_links_is_put_back(
    old_pair: tuple[Path, Path], monkeypatch: pytest.MonkeyPatch
) -> None:
    a, b = old_pair
    first, second = a.parent / "x.csv", a.parent / "y.csv"
    first.write_text("OLD x")
    second.write_text("OLD y")
    no_hard_links(monkeypatch)
    unlink = os.unlink

    def second_removal_fails(path: str | Path, *args: object, **kwargs: object) -> None:
        if Path(path) == second:
            raise OSError(errno.EIO, "Input/output error")
        unlink(path, *args, **kwargs)  # type: ignore[arg-type]

    monkeypatch.setattr(writers.os, "unlink", second_removal_fails)
    with pytest.raises(DataError, match=r"Could not write .*y\.csv: Input/output error"):
        write_pair(a, b, remove=[first, second])
    assert {p.name: p.read_text() for p in a.parent.iterdir()} == {
        "a.csv": "OLD a.csv",
        "b.csv": "OLD b.csv",
        "x.csv": "OLD x",
        "y.csv": "OLD y",
    }


@pytest.mark.parametrize(
    ("error", "fix"),
    [
        (
            OSError(errno.ENOSPC, "No space left on device"),
            "Free some space (the copy needs as much as the old file), or write to another folder.",
        ),
        (  # another user's file that this user may replace (a group-writable folder) but not read
            PermissionError(errno.EACCES, "Permission denied"),
            "Write to another folder, or remove the old file (or have its owner make it readable) first.",
        ),
    ],
)
def test_a_set_whose_old_file_cannot_be_kept_aside_is_refused_before_any_rename(
    old_pair: tuple[Path, Path], monkeypatch: pytest.MonkeyPatch, error: OSError, fix: str
) -> None:
    a, b = old_pair
    no_hard_links(monkeypatch)
    copyfileobj, renames = destinations.shutil.copyfileobj, []

    def second_copy_fails(src: io.BufferedReader, dst: object, *args: object) -> None:
        if Path(src.name) == b:
            raise error
        copyfileobj(src, dst, *args)  # type: ignore[arg-type]

    monkeypatch.setattr(destinations.shutil, "copyfileobj", second_copy_fails)
    monkeypatch.setattr(writers.os, "replace", lambda src, dst: renames.append(dst))
    with pytest.raises(DataError) as info:
        write_pair(a, b)
    assert info.value.message == (
        f"Could not write {b}: the file there could not be kept aside to put back if the set of files fails "
        f"part-way (no hard link, and a copy failed: {error.strerror})"
    )
    assert info.value.hint == f"Nothing was changed. {fix}"
    assert renames == []
    assert (a.read_text(), b.read_text()) == ("OLD a.csv", "OLD b.csv")
    assert files_in(a.parent) == ["a.csv", "b.csv"]


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


# --- FIFOs, symbolic links and devices: written to, never replaced ------------------------------------------


@pytest.fixture
def devices_are_never_replaced(monkeypatch: pytest.MonkeyPatch) -> None:
    """A safety net for the tests below (which may run as root): a regression must fail, not replace /dev/null."""
    replace = os.replace

    def guarded(src: str, dst: str) -> None:
        if os.path.abspath(dst).startswith("/dev/"):
            raise AssertionError(f"tried to replace {dst}")
        replace(src, dst)

    monkeypatch.setattr(writers.os, "replace", guarded)


@pytest.mark.skipif(not hasattr(os, "mkfifo"), reason="POSIX FIFOs")
def test_a_fifo_is_written_through_to_its_reader(tmp_path: Path) -> None:
    fifo = tmp_path / "out.csv"
    os.mkfifo(fifo)
    got: list[bytes] = []
    reader = threading.Thread(target=lambda: got.append(fifo.read_bytes()), daemon=True)
    reader.start()
    write_table(TABLE, fifo)
    reader.join(timeout=10)
    assert not reader.is_alive(), "the reader got nothing: the FIFO was replaced"
    assert got[0].decode().splitlines()[0] == "customer_id,segment,orders,net_spend,first_purchase"
    assert stat.S_ISFIFO(fifo.stat().st_mode)
    assert files_in(tmp_path) == ["out.csv"]


@pytest.mark.skipif(os.name != "posix", reason="symbolic links")
def test_a_symlink_stays_a_link_and_its_target_is_replaced(old_file: Path) -> None:
    old_file.chmod(0o640)
    link = old_file.parent / "latest.csv"
    os.symlink(old_file.name, link)  # relative, as ln -s makes it
    write_table(TABLE, link)
    assert link.is_symlink() and os.readlink(link) == old_file.name
    assert read_csv_rows(old_file)[0]["customer_id"] == "17850"
    assert old_file.stat().st_mode & 0o777 == 0o640
    assert files_in(old_file.parent) == ["latest.csv", "segments.csv"]


@pytest.mark.skipif(os.name != "posix", reason="symbolic links")
def test_a_dangling_symlink_gets_its_target_created(tmp_path: Path) -> None:
    (tmp_path / "data").mkdir()
    link = tmp_path / "latest.csv"
    os.symlink("data/new.csv", link)
    write_table(TABLE, link)
    assert link.is_symlink() and read_csv_rows(tmp_path / "data" / "new.csv")[2]["customer_id"] == "12583"


@pytest.mark.skipif(not Path("/dev/null").is_char_device(), reason="needs /dev/null")
@pytest.mark.usefixtures("devices_are_never_replaced")
def test_dev_null_and_links_to_it_are_written_through(tmp_path: Path) -> None:
    assert write_table(TABLE, "/dev/null", fmt="csv") == Path("/dev/null")
    assert Path("/dev/null").is_char_device()
    link = tmp_path / "discard.parquet"
    os.symlink("/dev/null", link)
    write_table(TABLE, link)
    assert link.is_symlink() and os.readlink(link) == "/dev/null"
    assert files_in(tmp_path) == ["discard.parquet"]


@pytest.mark.skipif(not os.path.islink("/dev/stdout"), reason="Linux /dev/stdout")
@pytest.mark.usefixtures("devices_are_never_replaced")
def test_dev_stdout_goes_to_standard_output(capfdbinary: pytest.CaptureFixture[bytes]) -> None:
    write_table(TABLE, "/dev/stdout", fmt="csv")
    assert capfdbinary.readouterr().out.startswith(b"customer_id,segment,")
    assert os.path.islink("/dev/stdout")


# --- a full disk and other operating-system failures --------------------------------------------------------


class FullDisk(io.FileIO):
    """A temporary file on a disk that fills up after ``room`` bytes."""

    room = 100

    def write(self, data) -> int:  # noqa: ANN001
        if self.tell() + len(data) > self.room:
            raise OSError(errno.ENOSPC, "No space left on device")
        return super().write(data)


@pytest.fixture
def full_disk(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(writers.os, "fdopen", lambda fd, mode="rb", *a, **k: FullDisk(fd, "wb"))


@pytest.mark.usefixtures("full_disk")
@pytest.mark.parametrize("name", ["segments.parquet", "segments.csv", "segments.json"])
def test_a_full_disk_is_a_clear_error_and_keeps_the_old_file(tmp_path: Path, name: str) -> None:
    old = tmp_path / name
    old.write_bytes(b"old")
    big = pl.concat([TABLE] * 200)
    with pytest.raises(DataError) as info:
        write_table(big, old)  # Polars' Parquet writer wraps the error in its own: the OSError is what counts
    assert info.value.message == f"Could not write {old}: No space left on device"
    assert info.value.hint == (
        "Free some space (or raise the quota), or write to another disk; the old file, if any, is unchanged."
    )
    assert old.read_bytes() == b"old"
    assert files_in(tmp_path) == [name]


@pytest.mark.parametrize(
    ("code", "words", "hint"),
    [
        (errno.ENOSPC, "No space left on device", "Free some space"),
        (errno.EDQUOT, "Disk quota exceeded", "Free some space"),
        (errno.EROFS, "Read-only file system", "Write to a folder this user can write to"),
        (errno.EACCES, "Permission denied", "Write to a folder this user can write to"),
    ],
)
def test_os_errors_while_serialising(
    old_file: Path, monkeypatch: pytest.MonkeyPatch, code: int, words: str, hint: str
) -> None:
    def fails(df: pl.DataFrame, fmt: str, fh, *sheet: str) -> None:  # noqa: ANN001
        fh.write(b"customer_id,segment\n")
        raise OSError(code, words)

    monkeypatch.setattr(writers, "_serialise", fails)
    with pytest.raises(DataError) as info:
        write_table(TABLE, old_file)
    assert info.value.message == f"Could not write {old_file}: {words}"
    assert info.value.hint and info.value.hint.startswith(hint)
    assert old_file.read_text() == "old,content\n1,2\n"
    assert files_in(old_file.parent) == ["segments.csv"]


# --- temporary files: removed on an interrupt, and stale ones (their process gone) on the next run ----------


def dead_pid() -> int:
    child = subprocess.Popen([sys.executable, "-c", "pass"])
    child.wait()
    return child.pid


def test_sigterm_while_writing_removes_the_temporary_file(tmp_path: Path) -> None:
    (tmp_path / "out.csv").write_text("old\n")
    script = (
        "import os, signal, time\n"
        "from loyalty_cli.io.writers import atomic_write\n"
        "def write(fh):\n"
        "    fh.write(b'half of it')\n"
        "    os.kill(os.getpid(), signal.SIGTERM)\n"
        "    time.sleep(5)\n"
        f"atomic_write({str(tmp_path / 'out.csv')!r}, write)\n"
    )
    done = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=60)
    assert done.returncode != 0 and "KeyboardInterrupt" in done.stderr  # unwound like Ctrl-C, not killed
    assert files_in(tmp_path) == ["out.csv"]
    assert (tmp_path / "out.csv").read_text() == "old\n"


def test_sigterm_handler_is_restored_and_a_program_handler_kept() -> None:
    assert signal.getsignal(signal.SIGTERM) == signal.SIG_DFL
    with tempfiles.terminate_as_interrupt():
        assert signal.getsignal(signal.SIGTERM) != signal.SIG_DFL
    assert signal.getsignal(signal.SIGTERM) == signal.SIG_DFL
    previous = signal.signal(signal.SIGTERM, signal.SIG_IGN)
    try:
        with tempfiles.terminate_as_interrupt():
            assert signal.getsignal(signal.SIGTERM) == signal.SIG_IGN
    finally:
        signal.signal(signal.SIGTERM, previous)


def test_stale_temporary_files_are_removed_and_live_ones_kept(tmp_path: Path) -> None:
    host, me = tempfiles.owner_tag().rsplit("-", 1)
    stale = tmp_path / f".segments.csv.loyalty-{host}-{dead_pid()}-k2j4h8aa.tmp"
    live = tmp_path / f".other.csv.loyalty-{host}-{me}-abcd1234.tmp"  # a run writing at this moment
    elsewhere = tmp_path / f".segments.csv.loyalty-otherhost-{dead_pid()}-abcd1234.tmp"  # a shared folder
    not_ours = [tmp_path / ".segments.csv.x8a2k1zz.tmp", tmp_path / "notes.loyalty-x-1-y.tmp"]
    for path in (stale, live, elsewhere, *not_ours):
        path.write_bytes(b"x" * 100)
    write_table(TABLE, tmp_path / "segments.csv")
    assert not stale.exists()
    assert all(p.exists() for p in (live, elsewhere, *not_ours))


def test_temporary_files_name_their_process(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    seen: list[str] = []
    monkeypatch.setattr(writers.os, "fsync", lambda fd: seen.extend(files_in(tmp_path)))
    write_table(TABLE, tmp_path / "segments.csv")
    assert len(seen) == 1 and tempfiles.TEMP_FILE.match(seen[0])
    assert f".segments.csv.loyalty-{tempfiles.owner_tag()}-" in seen[0]


def test_stale_rejects_workspaces_are_removed(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from loyalty_cli.io.readers import read_transactions
    from loyalty_cli.io.validate import collect_checked

    temp = tmp_path / "tmp"
    temp.mkdir()
    monkeypatch.setattr(tempfile, "tempdir", str(temp))
    host, me = tempfiles.owner_tag().rsplit("-", 1)
    stale = temp / f"loyalty-rejects-{host}-{dead_pid()}-a1b2c3d4"
    live = temp / f"loyalty-rejects-{host}-{me}-e5f6g7h8"
    old_style = temp / "loyalty-rejects-q9w8e7r6"  # no owner in the name: cannot tell, left alone
    for folder in (stale, live, old_style):
        folder.mkdir()
        (folder / "rejects_0.parquet").write_bytes(b"x" * 1000)
    orders = tmp_path / "orders.csv"
    orders.write_text("customer_id,order_date,amount\nc1,2024-01-02,10\n,2024-01-03,5\n")
    os.utime(orders, (1_750_000_000, 1_750_000_000))
    scan = read_transactions([orders], None)
    _, (rejects,) = collect_checked([scan], [scan.rows], on_bad_rows="skip")
    assert rejects.height == 1
    assert sorted(p.name for p in temp.iterdir()) == sorted([live.name, old_style.name])


def test_an_interrupt_while_reading_removes_the_rejects_workspace(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from loyalty_cli.io import validate
    from loyalty_cli.io.readers import read_transactions

    temp = tmp_path / "tmp"
    temp.mkdir()
    monkeypatch.setattr(tempfile, "tempdir", str(temp))
    orders = tmp_path / "orders.csv"
    orders.write_text("customer_id,order_date,amount\nc1,2024-01-02,10\n")
    os.utime(orders, (1_750_000_000, 1_750_000_000))
    scan = read_transactions([orders], None)

    def interrupted(*args, **kwargs):  # noqa: ANN002, ANN003, ANN202
        assert [p.name.startswith(f"loyalty-rejects-{tempfiles.owner_tag()}-") for p in temp.iterdir()] == [True]
        raise KeyboardInterrupt

    monkeypatch.setattr(validate, "_collect", interrupted)
    with pytest.raises(KeyboardInterrupt):
        validate.collect_checked([scan], [scan.rows])
    assert list(temp.iterdir()) == []
