"""The export time that "a date in the future" is measured against: the file's modification time, or the time
of the run when that is a placeholder or cannot be read (never 1990, which would refuse every later date)."""

from __future__ import annotations

import os
from datetime import UTC, datetime, timedelta
from pathlib import Path

from loyalty_cli.io.checks import _export_time
from loyalty_cli.io.sources import Source


def test_a_real_modification_time_is_the_export_time(tmp_path: Path) -> None:
    path = tmp_path / "t.csv"
    path.write_text("a\n1\n")
    os.utime(path, (1_735_689_600, 1_735_689_600))  # 2025-01-01 00:00 UTC
    saved, words = _export_time(Source(path=path, format="csv"))
    assert saved == datetime(2025, 1, 1)
    assert words == "the file was saved, 2025-01-01 00:00 UTC"


def test_a_placeholder_or_unreadable_time_is_the_time_of_the_run(tmp_path: Path) -> None:
    placeholder = tmp_path / "old.csv"
    placeholder.write_text("a\n1\n")
    os.utime(placeholder, (0, 0))  # 1970: a placeholder
    gone = tmp_path / "gone.csv"  # stat() fails
    now = datetime.now(UTC).replace(tzinfo=None)
    for path in (placeholder, gone):
        saved, words = _export_time(Source(path=path, format="csv"))
        assert abs(saved - now) < timedelta(minutes=1)
        assert words.startswith("this run, ")
