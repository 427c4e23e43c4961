"""A file or folder whose name holds glob characters (``export [eu]/``) is read as it is named: Polars' scans
glob by default, which found no file there."""

from __future__ import annotations

import shutil
from pathlib import Path

from typer.testing import CliRunner

from loyalty_cli.cli import app

RUNNER = CliRunner()
SAMPLE = Path(__file__).parent.parent.parent / "sample_data" / "transactions.csv"


def test_a_folder_with_brackets_in_its_name_reads_like_any_other(tmp_path: Path) -> None:
    folder = tmp_path / "export [eu]"
    folder.mkdir()
    shutil.copy(SAMPLE, folder / "tx*.csv")
    outputs = []
    for given in (SAMPLE, folder, folder / "tx*.csv"):
        out = tmp_path / f"out{len(outputs)}.csv"
        result = RUNNER.invoke(app, ["segment", str(given), "-q", "-o", str(out)])
        assert result.exit_code == 0, result.output
        outputs.append(out.read_bytes())
    assert outputs[0] == outputs[1] == outputs[2]
