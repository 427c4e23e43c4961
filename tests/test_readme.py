"""The README's commands are the ones CI runs, and every command is documented."""

from __future__ import annotations

import re
from pathlib import Path

from loyalty_cli.cli import app

ROOT = Path(__file__).parent.parent
README = (ROOT / "README.md").read_text()


def bash_blocks() -> list[str]:
    return [b.strip() for b in re.findall(r"```bash\n(.*?)```", README, flags=re.S)]


def test_readme_opens_with_two_commands():
    install_and_run, install_and_test = bash_blocks()[:2]
    assert "\n" not in install_and_run and "\n" not in install_and_test
    assert install_and_run.endswith("loyalty segment sample_data/transactions.csv")
    assert (ROOT / "sample_data" / "transactions.csv").is_file()
    assert "pytest" in install_and_test


def test_ci_runs_the_readme_test_command():
    ci = (ROOT / ".ci" / "run").read_text().splitlines()
    assert bash_blocks()[1] in ci


def test_every_command_is_in_the_readme():
    names = [c.name for c in app.registered_commands] + [g.name for g in app.registered_groups]
    for name in names:
        assert f"loyalty {name}" in README, name


def test_exit_codes_are_documented():
    from loyalty_cli.errors import ExitCode

    for code in ExitCode:
        assert f"| {int(code)} |" in README
