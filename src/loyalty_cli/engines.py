"""Where stage 1 runs, from the settings a person gives (``engine``, ``memory_limit``, ``spark_master``,
``spark_remote``): the :class:`~loyalty_cli.app.inputs.InputSpec` fields that choose the engine at the seam.

The settings given (a command line, a pipeline step) win over those at the top of the mapping file
(``rules/columns.toml``): a setting given replaces the file's, and an engine or a Spark master or remote
given drops the file's Spark master and remote (they belong to the file's engine, and would conflict)."""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any

from loyalty_cli.errors import ConfigError, setting
from loyalty_cli.memory import default_memory_limit, parse_memory_limit

if TYPE_CHECKING:
    from loyalty_cli.io.columns import MappingFile

ENGINES = ("polars", "spark")
SPARK_PLACES = ("spark_master", "spark_remote")


def engine_fields(
    *,
    engine: str | None = None,
    memory_limit: str | None = None,
    spark_master: str | None = None,
    spark_remote: str | None = None,
    mapping: Path | MappingFile | None = None,
) -> dict[str, Any]:
    """``memory_limit`` (bytes; not given: from the machine's available memory) on Polars, ``spark`` settings
    on Spark. ``engine`` None: not given (the mapping file's, else polars); ``mapping``: the mapping file (its
    settings where none is given, see the module). A setting that cannot work is a :class:`ConfigError` naming
    it; a bad mapping file a :class:`~loyalty_cli.errors.RulesError` naming the file and the key."""
    given = {"engine": engine, "memory_limit": memory_limit, "spark_master": spark_master, "spark_remote": spark_remote}
    chosen = resolve_settings({k: v for k, v in given.items() if v is not None}, mapping_engine(mapping))
    engine = chosen.get("engine", "polars")
    if engine not in ENGINES:
        raise ConfigError("engine", f"must be polars or spark, got {engine!r}")
    if engine == "polars":
        for name in SPARK_PLACES:
            if chosen.get(name):
                raise ConfigError(name, f"needs {setting('engine')} spark")
        limit = chosen.get("memory_limit")
        return {"memory_limit": default_memory_limit() if limit is None else parse_memory_limit(limit)}
    from loyalty_cli.spark.session import SparkSettings

    return {"spark": SparkSettings(master=chosen.get("spark_master"), remote=chosen.get("spark_remote"))}


def resolve_settings(given: Mapping[str, str], from_file: Mapping[str, str]) -> dict[str, str]:
    """The settings given over the file's: each given one wins; an engine given other than the file's, or a
    Spark master or remote given, drops the file's Spark master and remote."""
    taken = {key: value for key, value in from_file.items() if key not in given}
    other_engine = given.get("engine", from_file.get("engine", "polars")) != from_file.get("engine", "polars")
    if other_engine or given.keys() & set(SPARK_PLACES):
        for name in SPARK_PLACES:
            taken.pop(name, None)
    return {**taken, **given}


def mapping_engine(mapping: Path | MappingFile | None) -> dict[str, str]:
    """The engine settings at the top of a mapping file (none without one)."""
    if mapping is None:
        return {}
    from loyalty_cli.io.columns import load_mapping_file

    return dict(load_mapping_file(mapping).engine)
