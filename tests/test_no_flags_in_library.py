"""The library never writes a command-line flag (issue 17): a message names a setting with
:func:`loyalty_cli.errors.setting`, and the CLI words it as its option (:func:`loyalty_cli.cli.flags.render`).

Every string constant of a swept module (docstrings and the parts of f-strings included) is checked for a
``--`` followed by a letter, and every f-string for a ``--`` followed by a value (``f"--{name}"``)."""

from __future__ import annotations

import ast
import re
from pathlib import Path

import pytest

import loyalty_cli
from loyalty_cli.cli.flags import render
from loyalty_cli.errors import BadRowsError, setting

PACKAGE = Path(loyalty_cli.__file__).parent

# Every module outside cli/ is swept but these: others are editing them, and their sweep comes next. Once they
# are done, drop the list.
REMAINING = ("app/report.py", "app/uplift.py", "app/validate.py", "report")

# Flag text the library still writes, waiting for a decision: a module and a part of the line that holds it. Each
# is checked to be still there, so that fixing one means removing it here.
PENDING = {
    # shown by report/program.py too, which words no setting references yet (the report's sweep)
    "metrics/program.py": "hold out a random control group (--holdout-share on the list commands)",
    # the step option the user wrote, as its flag: asserted by tests/cli/test_rules.py and tests/cli/test_run.py
    "pipeline/config.py": 'f"{command} has no option --{flag}"',
}

FLAG = re.compile(r"--[A-Za-z]")


def _remaining(path: Path) -> bool:
    return any(path == PACKAGE / entry or path.is_relative_to(PACKAGE / entry) for entry in REMAINING)


def _modules() -> list[Path]:
    return [p for p in sorted(PACKAGE.rglob("*.py")) if not p.is_relative_to(PACKAGE / "cli") and not _remaining(p)]


def _flags(path: Path, name: str) -> list[str]:
    """``name:line: text`` for each flag in a string constant of the module at ``path``, and for each ``--``
    that ends a part of an f-string before a value (``f"--{key}"``)."""
    text = path.read_text(encoding="utf-8")
    lines = text.splitlines()
    hits: list[tuple[int, str]] = []
    for node in ast.walk(ast.parse(text, filename=str(path))):
        if isinstance(node, ast.Constant) and isinstance(node.value, str):
            for match in FLAG.finditer(node.value):
                line = node.lineno + node.value.count("\n", 0, match.start())
                start = node.value.rfind("\n", 0, match.start()) + 1
                end = node.value.find("\n", match.start())
                hits.append((line, node.value[start : end if end >= 0 else None].strip()))
        if isinstance(node, ast.JoinedStr):
            for part, after in zip(node.values, node.values[1:], strict=False):
                if isinstance(part, ast.Constant) and str(part.value).endswith("--"):
                    if isinstance(after, ast.FormattedValue):
                        hits.append((after.lineno, lines[after.lineno - 1].strip()))
    return [f"{name}:{line}: {hit}" for line, hit in sorted(hits, key=lambda h: h[0])]


def test_the_swept_modules_exist() -> None:
    """A module renamed or moved would silently drop out of the list (and into the check)."""
    assert all((PACKAGE / entry).exists() for entry in REMAINING)
    assert all((PACKAGE / module).is_file() for module in PENDING)
    modules = _modules()
    assert all(not p.is_relative_to(PACKAGE / "cli") for p in modules)
    assert {PACKAGE / "errors.py", PACKAGE / "pipeline" / "config.py", PACKAGE / "app" / "nps.py"} <= set(modules)
    assert PACKAGE / "app" / "report.py" not in modules


def _pending(hit: str) -> bool:
    module, _, rest = hit.partition(":")
    fragment = PENDING.get(Path(module).relative_to("loyalty_cli").as_posix())
    return fragment is not None and fragment in rest.partition(": ")[2]


def test_no_flag_in_the_library() -> None:
    hits = [hit for path in _modules() for hit in _flags(path, str(path.relative_to(PACKAGE.parent)))]
    written = [hit for hit in hits if not _pending(hit)]
    assert not written, "Flags written by the library (use errors.setting(name)):\n" + "\n".join(written)
    assert len(hits) == len(PENDING), "a pending flag is gone: remove it from PENDING"


def test_the_check_finds_flags(tmp_path: Path) -> None:
    module = tmp_path / "m.py"
    module.write_text(
        '"""Docs.\n\nOn --as-of."""\n\nx = f"pass {y} --on-bad-rows skip"\nz = "xn--[a-z] -- a"\nw = f"no --{k}"\n'
    )
    assert _flags(module, "m.py") == ["m.py:3: On --as-of.", "m.py:5: --on-bad-rows skip", 'm.py:7: w = f"no --{k}"']


@pytest.mark.parametrize("rendered_first", [False, True])
def test_a_bad_rows_error_worded_for_a_pipeline_keeps_its_fixes(rendered_first: bool) -> None:
    """A pipeline words the way to go on its own way (:meth:`BadRowsError.going_on`), after the CLI has worded
    the settings the fixes name: both stay as they were shown."""
    error = BadRowsError("2 bad rows", [f"Check {setting('date_format')}.", "Or fix the export."])
    assert render(error.hint or "") == (
        "Check --date-format. Or fix the export. To go on without them, pass --on-bad-rows skip: every rejected "
        "row is written with its reason to a rejects file."
    )
    if rendered_first:
        error.hint = render(error.hint or "")
    shown = error.going_on('set on_bad_rows = "skip" in p.toml')
    assert shown.message == "2 bad rows"
    assert render(shown.hint or "") == (
        'Check --date-format. Or fix the export. To go on without them, set on_bad_rows = "skip" in p.toml.'
    )
    assert shown.going_on("x").hint == shown.going_on("x").going_on("x").hint
    assert BadRowsError("1 bad row").going_on("skip them").hint == "To go on without them, skip them."
