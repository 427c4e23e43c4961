"""The library never writes a command-line flag (issue 17): a message names a setting with
:func:`loyalty_cli.errors.setting`, and the CLI words it as its option (:func:`loyalty_cli.cli.flags.render`).

Every module outside cli/ is checked, with no exception: every string constant (docstrings and the parts of
f-strings included) for a ``--`` followed by a letter, and every f-string for a ``--`` followed by a value
(``f"--{name}"``)."""

from __future__ import annotations

import ast
import re
from pathlib import Path

import pytest

import loyalty_cli
from loyalty_cli.cli.flags import render
from loyalty_cli.errors import BadRowsError, setting

PACKAGE = Path(loyalty_cli.__file__).parent

FLAG = re.compile(r"--[A-Za-z]")


def _modules() -> list[Path]:
    return [p for p in sorted(PACKAGE.rglob("*.py")) if not p.is_relative_to(PACKAGE / "cli")]


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


def test_every_module_outside_the_cli_is_checked() -> None:
    modules = _modules()
    assert all(not p.is_relative_to(PACKAGE / "cli") for p in modules)
    swept = {
        "errors.py",
        "pipeline/config.py",
        "pipeline/load.py",
        "app/nps.py",
        "app/report.py",
        "report/header.py",
        "metrics/program.py",
    }
    assert {PACKAGE / module for module in swept} <= set(modules)


def test_no_flag_in_the_library() -> None:
    hits = [hit for path in _modules() for hit in _flags(path, str(path.relative_to(PACKAGE.parent)))]
    assert not hits, "Flags written by the library (use errors.setting(name)):\n" + "\n".join(hits)


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
