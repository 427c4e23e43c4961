"""Where stage 1 runs, from the settings a person gives (``engine``, ``memory_limit``, ``spark_master``,
``spark_remote``): the :class:`~loyalty_cli.app.inputs.InputSpec` fields that choose the engine at the seam."""

from __future__ import annotations

from typing import Any

from loyalty_cli.errors import ConfigError, setting
from loyalty_cli.memory import default_memory_limit, parse_memory_limit

ENGINES = ("polars", "spark")


def engine_fields(
    *,
    engine: str = "polars",
    memory_limit: str | None = None,
    spark_master: str | None = None,
    spark_remote: str | None = None,
) -> dict[str, Any]:
    """``memory_limit`` (bytes; not given: from the machine's available memory) on Polars, ``spark`` settings
    on Spark. A setting that cannot work is a :class:`ConfigError` naming it."""
    if engine not in ENGINES:
        raise ConfigError("engine", f"must be polars or spark, got {engine!r}")
    if engine == "polars":
        for name, value in (("spark_master", spark_master), ("spark_remote", spark_remote)):
            if value:
                raise ConfigError(name, f"needs {setting('engine')} spark")
        return {"memory_limit": default_memory_limit() if memory_limit is None else parse_memory_limit(memory_limit)}
    from loyalty_cli.spark.session import SparkSettings

    return {"spark": SparkSettings(master=spark_master, remote=spark_remote)}
