"""The import direction of the house (design.md section 2): io reads and writes, metrics and models compute,
the report renders, and only the CLI knows typer and rich. Every import counts, also one inside a function."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

PACKAGE = Path(__file__).parent.parent / "src" / "loyalty_cli"

# layer -> the loyalty_cli packages and modules it must never import
FORBIDDEN = {
    "io": {"metrics", "models", "report", "cli", "stage1", "pipeline", "rules", "handoff", "spark"},
    # the list hand-off builds on io (parsing, atomic writes), errors, schema and words only
    "handoff": {
        "metrics",
        "models",
        "report",
        "cli",
        "app",
        "pipeline",
        "stage1",
        "rules",
        "sample",
    },
    "metrics": {"report", "cli", "pipeline"},
    # rules files are read, checked and compiled below the metrics that apply them and the commands that name them
    "rules": {"metrics", "app", "cli", "report", "pipeline"},
    "models": {"metrics", "report", "cli", "pipeline", "io"},
    "report": {"cli", "app"},
    "app": {"cli"},
    # stage 1 on Spark sits beside stage1, below the seam (app/inputs.py): it reads and summarises lines only
    "spark": {"cli", "app", "pipeline", "report", "metrics", "models", "handoff", "rules"},
    # nothing below the seam chooses the engine
    "stage1": {"cli", "app", "pipeline", "report", "spark"},
}
THIRD_PARTY_ONLY_IN_CLI = {"typer", "rich", "click"}
THIRD_PARTY_ONLY_IN_SPARK = {"pyspark", "py4j"}


def imported_modules(path: Path, source: str | None = None) -> set[str]:
    """Every module a file imports, as dotted names (relative imports resolved against the package)."""
    tree = ast.parse(source if source is not None else path.read_text(encoding="utf-8"), filename=str(path))
    parts = path.relative_to(PACKAGE.parent).with_suffix("").parts
    names: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                anchor = parts[: len(parts) - node.level]
                base = ".".join([*anchor, base] if base else anchor)
            names.add(base)
            names.update(f"{base}.{alias.name}" for alias in node.names)
    return names


def layer_of(path: Path) -> str:
    rel = path.relative_to(PACKAGE)
    return rel.parts[0] if len(rel.parts) > 1 else rel.stem


def modules() -> list[Path]:
    return sorted(PACKAGE.rglob("*.py"))


@pytest.mark.parametrize("path", modules(), ids=lambda p: str(p.relative_to(PACKAGE)))
def test_imports_point_one_way(path: Path) -> None:
    layer = layer_of(path)
    imported = imported_modules(path)
    inside = {name.split(".")[1] for name in imported if name.startswith("loyalty_cli.") and name.count(".") >= 1}
    bad = sorted(inside & FORBIDDEN.get(layer, set()))
    assert not bad, f"{path.relative_to(PACKAGE)} ({layer}) imports loyalty_cli.{bad[0]}"
    if layer != "cli":
        third = sorted({name.split(".")[0] for name in imported} & THIRD_PARTY_ONLY_IN_CLI)
        assert not third, f"{path.relative_to(PACKAGE)} imports {third[0]}: only loyalty_cli.cli may"
    if layer != "spark":
        third = sorted({name.split(".")[0] for name in imported} & THIRD_PARTY_ONLY_IN_SPARK)
        assert not third, f"{path.relative_to(PACKAGE)} imports {third[0]}: only loyalty_cli.spark may"


def test_the_check_sees_imports_inside_functions_and_relative_ones() -> None:
    source = "def f():\n    from ..cli import app\n    import typer.testing\n"
    names = imported_modules(PACKAGE / "io" / "readers.py", source)
    assert {"loyalty_cli.cli", "loyalty_cli.cli.app", "typer.testing"} <= names
