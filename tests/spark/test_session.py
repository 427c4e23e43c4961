"""The session: a missing pyspark or Java is a clear error with the install hint (exit 1), found before any JVM
starts; Spark's output stays off our stdout and stderr; settings are checked."""

from __future__ import annotations

import builtins
import sys
from pathlib import Path

import pytest

from loyalty_cli.errors import ConfigError, ExitCode, LoyaltyError
from loyalty_cli.spark import SparkSettings, load_transactions_spark
from loyalty_cli.spark.session import INSTALL_HINT, check_pyspark, java_version

from .conftest import SAMPLE


def test_without_pyspark_the_error_says_how_to_install_it(monkeypatch: pytest.MonkeyPatch) -> None:
    real = builtins.__import__

    def no_pyspark(name: str, *args, **kwargs):  # type: ignore[no-untyped-def]
        if name == "pyspark" or name.startswith("pyspark."):
            raise ImportError("No module named 'pyspark'")
        return real(name, *args, **kwargs)

    monkeypatch.setattr(builtins, "__import__", no_pyspark)
    monkeypatch.delitem(sys.modules, "pyspark", raising=False)
    with pytest.raises(LoyaltyError) as error:
        check_pyspark()
    assert error.value.exit_code == ExitCode.BAD_INPUT
    assert "needs pyspark, which is not installed" in error.value.message
    assert error.value.hint == INSTALL_HINT == "pip install 'loyalty-cli[spark]'"


def test_without_java_the_error_says_what_is_missing(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.delenv("JAVA_HOME", raising=False)
    monkeypatch.setenv("PATH", str(tmp_path))
    with pytest.raises(LoyaltyError, match="needs Java 17 or later: no java on the PATH and JAVA_HOME is not set"):
        java_version()
    monkeypatch.setenv("JAVA_HOME", str(tmp_path))
    with pytest.raises(LoyaltyError, match=r"JAVA_HOME \(.*\) has no bin/java") as error:
        java_version()
    assert "openjdk-17-jre-headless" in (error.value.hint or "")


def test_an_old_java_is_refused(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    java = tmp_path / "bin" / "java"
    java.parent.mkdir()
    java.write_text("#!/bin/sh\necho 'openjdk version \"1.8.0_402\"' >&2\n")
    java.chmod(0o755)
    monkeypatch.setenv("JAVA_HOME", str(tmp_path))
    with pytest.raises(LoyaltyError, match="is Java 8"):
        java_version()


def test_settings_are_checked(monkeypatch: pytest.MonkeyPatch) -> None:
    with pytest.raises(ConfigError, match="not both"):
        SparkSettings(master="local[2]", remote="sc://localhost:15002")
    with pytest.raises(ConfigError, match="Spark Connect URL"):
        SparkSettings(remote="localhost:15002")
    monkeypatch.delenv("SPARK_REMOTE", raising=False)
    assert SparkSettings().target() == ("master", "local[*]")
    monkeypatch.setenv("SPARK_REMOTE", "sc://spark:15002")
    assert SparkSettings().target() == ("remote", "sc://spark:15002")
    assert SparkSettings(master="local[2]").target() == ("master", "local[2]")


def test_spark_says_nothing_on_our_stdout_and_stderr(
    spark_settings: SparkSettings, capfd: pytest.CaptureFixture[str]
) -> None:
    capfd.readouterr()
    load_transactions_spark([str(SAMPLE)], as_of=None, settings=spark_settings)
    out, err = capfd.readouterr()
    assert out == "" and err == ""
