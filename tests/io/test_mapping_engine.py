"""Where stage 1 runs, at the top of a mapping file (``engine``, ``spark_master``, ``spark_remote``,
``memory_limit``, as in a pipeline file): read and checked with the file, and taken by a command where its
command line gives none (:func:`loyalty_cli.engines.engine_fields`)."""

from __future__ import annotations

from pathlib import Path

import pytest

from loyalty_cli.engines import engine_fields, resolve_settings
from loyalty_cli.errors import ConfigError, RulesError
from loyalty_cli.io.columns import load_mapping_file
from loyalty_cli.spark import SparkSettings

TABLE = '[transactions]\ncustomer_id = "CustomerID"\n'


def mapping(folder: Path, top: str, table: str = TABLE, *, name: str = "columns.toml") -> Path:
    path = folder / name
    path.write_text(f"{top}\n{table}", encoding="utf-8")
    return path


def test_the_settings_at_the_top_are_read_beside_the_tables(tmp_path: Path) -> None:
    path = mapping(tmp_path, 'engine = "spark"\nspark_master = "yarn"\nmemory_limit = "2GB"')
    found = load_mapping_file(path)
    assert found.engine == {"engine": "spark", "spark_master": "yarn", "memory_limit": "2GB"}
    assert found.columns == {"transactions": {"customer_id": "CustomerID"}}  # the tables as before
    remote = load_mapping_file(mapping(tmp_path, 'engine = "spark"\nspark_remote = "sc://h:15002"'))
    assert remote.engine == {"engine": "spark", "spark_remote": "sc://h:15002"}
    assert load_mapping_file(mapping(tmp_path, "memory_limit = 1000000")).engine == {"memory_limit": "1000000"}
    assert load_mapping_file(mapping(tmp_path, "")).engine == {}


def test_the_shipped_mapping_file_sets_no_engine() -> None:
    shipped = Path(__file__).parent.parent.parent / "rules" / "columns.toml"
    assert load_mapping_file(shipped).engine == {}
    assert "# engine = " in shipped.read_text(encoding="utf-8")  # the commented example


@pytest.mark.parametrize(
    ("top", "message"),
    [
        ('engine = "sparc"', "columns.toml: engine must be polars or spark, got 'sparc'"),
        ("engine = true", "columns.toml: engine must be text in quotes, got True"),
        ('spark_master = "yarn"', 'columns.toml: spark_master needs engine = "spark" in the same file'),
        ('engine = "polars"\nspark_remote = "sc://h:1"', 'columns.toml: spark_remote needs engine = "spark"'),
        ('engine = "spark"\nspark_master = ""', "columns.toml: spark_master must be text in quotes, got ''"),
        (
            'engine = "spark"\nspark_remote = "http://h:15002"',
            "columns.toml: spark_remote must be a Spark Connect URL such as sc://host:15002, got 'http://h:15002'",
        ),
        (
            'engine = "spark"\nspark_master = "yarn"\nspark_remote = "sc://h:1"',
            "columns.toml: spark_remote: give a Spark master or a Spark Connect remote, not both",
        ),
        ('memory_limit = "lots"', "columns.toml: memory_limit must be a size such as 1GB or none, got 'lots'"),
        ("memory_limit = 1.5", "columns.toml: memory_limit must be a size in quotes, got 1.5"),
        ('engin = "spark"', "columns.toml: unknown key 'engin'"),
    ],
)
def test_a_bad_setting_names_the_file_and_the_key(tmp_path: Path, top: str, message: str) -> None:
    with pytest.raises(RulesError) as caught:
        load_mapping_file(mapping(tmp_path, top))
    assert caught.value.message.startswith(f"{tmp_path}/{message}")


def test_a_misspelt_key_is_told_what_it_may_be(tmp_path: Path) -> None:
    with pytest.raises(RulesError) as caught:
        load_mapping_file(mapping(tmp_path, 'engin = "spark"'))
    assert caught.value.hint is not None and caught.value.hint.startswith("Did you mean 'engine'? ")


def test_a_setting_under_a_table_is_told_to_move_to_the_top(tmp_path: Path) -> None:
    """TOML puts a key written after a [table] line in that table: the usual slip when appending to the file."""
    with pytest.raises(RulesError) as caught:
        load_mapping_file(mapping(tmp_path, "", TABLE + 'engine = "spark"\n'))
    assert caught.value.message.endswith(
        "columns.toml: [transactions] engine: where stage 1 runs is set at the top of the file, not in a table"
    )
    assert caught.value.hint is not None and caught.value.hint.startswith("Move engine = ... above the first")


@pytest.mark.parametrize(
    ("given", "from_file", "expected"),
    [
        ({}, {"engine": "spark", "spark_master": "yarn"}, {"engine": "spark", "spark_master": "yarn"}),
        # a setting given wins over the file's
        ({"engine": "polars"}, {"engine": "spark"}, {"engine": "polars"}),
        ({"memory_limit": "1GB"}, {"memory_limit": "4GB"}, {"memory_limit": "1GB"}),
        ({}, {"memory_limit": "4GB"}, {"memory_limit": "4GB"}),
        # the file's master or remote belongs to its engine: another engine, or a master or remote given, drops it
        ({"engine": "polars"}, {"engine": "spark", "spark_master": "yarn"}, {"engine": "polars"}),
        (
            {"spark_remote": "sc://h:1"},
            {"engine": "spark", "spark_master": "yarn"},
            {"engine": "spark", "spark_remote": "sc://h:1"},
        ),
        (
            {"engine": "spark"},
            {"engine": "spark", "spark_master": "yarn", "memory_limit": "none"},
            {"engine": "spark", "spark_master": "yarn", "memory_limit": "none"},
        ),
        ({"engine": "spark"}, {}, {"engine": "spark"}),
    ],
)
def test_what_is_given_wins_over_the_file(given: dict, from_file: dict, expected: dict) -> None:
    assert resolve_settings(given, from_file) == expected


def test_engine_fields_take_the_file_where_nothing_is_given(tmp_path: Path) -> None:
    spark = mapping(tmp_path, 'engine = "spark"\nspark_master = "local[3]"\nmemory_limit = "2GB"')
    assert engine_fields(mapping=spark) == {"spark": SparkSettings(master="local[3]")}
    assert engine_fields(mapping=spark, spark_master="local[1]") == {"spark": SparkSettings(master="local[1]")}
    assert engine_fields(mapping=spark, engine="polars") == {"memory_limit": 2 * 1000**3}  # the file's budget
    assert engine_fields(mapping=spark, engine="polars", memory_limit="none") == {"memory_limit": None}
    polars = mapping(tmp_path, 'memory_limit = "512MB"', name="polars.toml")
    assert engine_fields(mapping=polars) == {"memory_limit": 512 * 1000**2}
    # a Spark master given needs the spark engine, given or from the file
    assert engine_fields(mapping=mapping(tmp_path, 'engine = "spark"', name="spark.toml"), spark_master="yarn") == {
        "spark": SparkSettings(master="yarn")
    }
    with pytest.raises(ConfigError, match="needs"):
        engine_fields(mapping=polars, spark_master="yarn")
    assert "memory_limit" in engine_fields()  # no file: polars, the machine's default budget
