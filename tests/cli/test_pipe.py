"""A reader that goes away (``loyalty segment ... | head``) ends the command quietly, as Unix tools end."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

SAMPLE = Path(__file__).parent.parent.parent / "sample_data" / "transactions.csv"


@pytest.mark.parametrize("extra", [[], ["-o", "-"]], ids=["tables", "list on stdout"])
def test_closed_pipe_exits_quietly(tmp_path: Path, extra: list[str]) -> None:
    read_end, write_end = os.pipe()
    os.close(read_end)  # the reader is gone before the first write: every write to stdout fails with EPIPE
    try:
        proc = subprocess.run(
            [sys.executable, "-m", "loyalty_cli", "segment", str(SAMPLE), "--quiet", *extra],
            stdout=write_end,
            stderr=subprocess.PIPE,
            cwd=tmp_path,
            timeout=120,
            check=False,
        )
    finally:
        os.close(write_end)
    assert proc.stderr.decode() == ""
    assert proc.returncode == 141
