"""The Spark session of the process: local (``local[*]``), a cluster master, or Spark Connect; quiet; one reused.

Spark's own output (the JVM's log, its progress bar, the Python workers' warnings) never reaches our stderr or
stdout: the JVM is started with both pointed at a log file of its own (removed at exit), and Spark's Python
warnings are silenced around our calls (:func:`quiet`). A missing pyspark, pandas or Java is a
:class:`~loyalty_cli.errors.LoyaltyError` (exit 1) with the install hint, found before any JVM starts.
"""

from __future__ import annotations

import atexit
import contextlib
import os
import re
import shutil
import subprocess
import sys
import tempfile
import warnings
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from loyalty_cli.errors import ConfigError, LoyaltyError, setting

if TYPE_CHECKING:
    from pyspark.sql import SparkSession

INSTALL_HINT = "pip install 'loyalty-cli[spark]'"
CONNECT_HINT = "pip install 'loyalty-cli[spark-connect]' (Spark Connect's client needs grpcio besides pyspark)"
JAVA_HINT = (
    "Install a Java runtime 17 or later (e.g. apt-get install openjdk-17-jre-headless) and put it on the PATH or "
    f"set JAVA_HOME; or run on a Spark Connect server ({setting('spark_remote')} sc://HOST:15002)."
)
DEFAULT_MASTER = "local[*]"
#: rows per Arrow batch between Spark and Polars (Spark's default, 10,000, costs Polars a call each)
ARROW_BATCH_ROWS = 100_000
# Settings of a session started here, in local mode: no web UI (nobody looks at it, and it takes a port), and
# (below) the Python of this process for the workers: polars and loyalty_cli are importable there.
_LOCAL = {"spark.ui.enabled": "false"}
# Settings of a session started here: the customer-sized tables come back to the driver whatever their size.
_STARTED = {"spark.driver.maxResultSize": "0"}
# Settings of every session: no progress bar, days and times in UTC (the lines' timestamps are naive: local
# wall-clock time, which no session time zone may shift), and larger Arrow batches.
_RUNTIME = {
    "spark.sql.session.timeZone": "UTC",
    "spark.sql.execution.arrow.maxRecordsPerBatch": str(ARROW_BATCH_ROWS),
}


@dataclass(frozen=True)
class SparkSettings:
    """Where stage 1 runs on Spark. ``master``: a Spark master URL (``local[*]``, ``local[2]``, ``yarn``,
    ``spark://host:7077``); ``remote``: a Spark Connect URL (``sc://host:15002``); neither: ``SPARK_REMOTE``
    when set, else ``local[*]``. ``config``: more Spark settings (``spark.driver.memory`` ...), applied last.
    ``bucket_lines``: about how many lines the summary of one bucket of customers holds (one Polars call)."""

    master: str | None = None
    remote: str | None = None
    config: Mapping[str, str] = field(default_factory=dict)
    bucket_lines: int = 1_000_000

    def __post_init__(self) -> None:
        if self.master is not None and self.remote is not None:
            raise ConfigError(
                "spark_remote", f"give a Spark master or a Spark Connect remote, not both ({self.master})"
            )
        if self.remote is not None and not self.remote.startswith("sc://"):
            raise ConfigError(
                "spark_remote", f"must be a Spark Connect URL such as sc://host:15002, got {self.remote!r}"
            )
        if self.bucket_lines < 1:
            raise ConfigError("spark_bucket_lines", f"must be at least 1, got {self.bucket_lines}")

    def target(self) -> tuple[str, str]:
        """``("remote", url)`` or ``("master", url)``: where the session runs."""
        if self.remote is not None:
            return "remote", self.remote
        if self.master is not None:
            return "master", self.master
        env = os.environ.get("SPARK_REMOTE")
        if env:
            return "remote", env
        return "master", DEFAULT_MASTER


_session: dict[str, Any] = {}  # "key": the settings it was made for, "spark": the session


def get_session(settings: SparkSettings | None = None) -> SparkSession:
    """The session for ``settings``: the one made before when it was made for the same, else a new one."""
    settings = settings or SparkSettings()
    kind, url = settings.target()
    key = (kind, url, tuple(sorted(settings.config.items())))
    current = _session.get("spark")
    if current is not None and _session.get("key") == key and _alive(current):
        return current
    check_pyspark(remote=kind == "remote")
    if current is not None:
        with contextlib.suppress(Exception):
            current.stop()
        _session.clear()
    spark = _connect(url, settings.config) if kind == "remote" else _start(url, settings.config)
    _session.update(key=key, spark=spark)
    return spark


def check_pyspark(*, remote: bool = False) -> None:
    """A clear error when pyspark (or pandas, which its Arrow functions import) is missing."""
    for module in ("pyspark", "pandas"):
        try:
            __import__(module)
        except ImportError:
            raise LoyaltyError(
                f"The Spark engine needs {module}, which is not installed in this Python ({sys.executable})",
                hint=INSTALL_HINT,
            ) from None
    if remote:
        for module in ("grpc", "google.protobuf", "zstandard"):
            try:
                __import__(module)
            except ImportError:
                raise LoyaltyError(
                    f"Spark Connect needs the Python module {module}, which is not installed", hint=CONNECT_HINT
                ) from None


def java_version() -> tuple[Path, int]:
    """The Java that Spark would start (``JAVA_HOME``, else ``java`` on the PATH) and its major version; a clear
    error when there is none or it is older than 17."""
    home = os.environ.get("JAVA_HOME")
    found = Path(home, "bin", "java") if home else (Path(w) if (w := shutil.which("java")) else None)
    if found is None or not found.exists():
        where = f"JAVA_HOME ({home}) has no bin/java" if home else "no java on the PATH and JAVA_HOME is not set"
        raise LoyaltyError(f"The Spark engine needs Java 17 or later: {where}", hint=JAVA_HINT)
    try:
        done = subprocess.run([str(found), "-version"], capture_output=True, text=True, timeout=60, check=False)
    except (OSError, subprocess.SubprocessError) as exc:
        message = f"The Spark engine needs Java 17 or later: {found} does not run ({exc})"
        raise LoyaltyError(message, hint=JAVA_HINT) from None
    match = re.search(r'version "(\d+)(?:\.(\d+))?', done.stderr + done.stdout)
    if match is None:
        raise LoyaltyError(f"The Spark engine needs Java 17 or later: {found} does not say its version", hint=JAVA_HINT)
    major = int(match.group(1))
    if major == 1 and match.group(2):  # 1.8 is Java 8
        major = int(match.group(2))
    if major < 17:
        raise LoyaltyError(f"The Spark engine needs Java 17 or later: {found} is Java {major}", hint=JAVA_HINT)
    return found, major


def _start(master: str, config: Mapping[str, str]) -> SparkSession:
    """A session on ``master``, its JVM started here with its output in a log file."""
    from pyspark.sql import SparkSession

    java_version()
    builder = SparkSession.builder.master(master).appName("loyalty-cli")
    local = master.startswith("local")
    settings = {**(_LOCAL if local else {}), **_STARTED, "spark.ui.showConsoleProgress": "false", **_RUNTIME}
    if local:
        settings["spark.pyspark.python"] = sys.executable
    for name, value in {**settings, **config}.items():
        builder = builder.config(name, value)
    remote = os.environ.pop("SPARK_REMOTE", None)  # pyspark would take it for a second, conflicting master
    try:
        with _output_to_log():
            spark = builder.getOrCreate()
    finally:
        if remote is not None:
            os.environ["SPARK_REMOTE"] = remote
    spark.sparkContext.setLogLevel("ERROR")
    for name, value in _RUNTIME.items():  # a session that was running already keeps its own otherwise
        spark.conf.set(name, config.get(name, value))
    return spark


def _connect(url: str, config: Mapping[str, str]) -> SparkSession:
    from pyspark.sql import SparkSession

    builder = SparkSession.builder.remote(url)
    with quiet():
        spark = builder.getOrCreate()
        for name, value in {**_RUNTIME, **config}.items():
            spark.conf.set(name, value)
    return spark


def _alive(spark: SparkSession) -> bool:
    try:
        context = getattr(spark, "sparkContext", None)
    except Exception:  # Spark Connect has none
        return True
    return context is None or getattr(context, "_jsc", None) is not None


_log: dict[str, str] = {}


def keep_log() -> str | None:
    """The file the JVM of this process writes its output to, kept at exit (to be read after a failure); None
    when no JVM was started here."""
    path = _log.get("path")
    if path is not None:
        atexit.unregister(_remove_log)
    return path


@contextlib.contextmanager
def _output_to_log() -> Iterator[None]:
    """Within this block, file descriptors 1 and 2 point at the log file: a process started here (the JVM, and
    the Python workers it forks) keeps writing there; ours are put back at the end."""
    if "path" not in _log:
        handle, path = tempfile.mkstemp(prefix=f"loyalty-spark-{os.getpid()}-", suffix=".log")
        os.close(handle)
        _log["path"] = path
        atexit.register(_remove_log, path)
    for stream in (sys.stdout, sys.stderr):
        with contextlib.suppress(Exception):
            stream.flush()
    saved = [os.dup(1), os.dup(2)]
    target = os.open(_log["path"], os.O_WRONLY | os.O_APPEND)
    try:
        os.dup2(target, 1)
        os.dup2(target, 2)
        with quiet():
            yield
    finally:
        os.dup2(saved[0], 1)
        os.dup2(saved[1], 2)
        for fd in (*saved, target):
            os.close(fd)


def _remove_log(path: str) -> None:
    with contextlib.suppress(OSError):
        os.unlink(path)


@contextlib.contextmanager
def quiet() -> Iterator[None]:
    """Spark's Python warnings (e.g. about the pandas version) are not ours to show: silenced in this block."""
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", module=r"pyspark(\.|$)")
        warnings.filterwarnings("ignore", category=FutureWarning, message=r".*PySpark.*")
        warnings.filterwarnings("ignore", category=DeprecationWarning, module=r"py4j(\.|$)")
        yield
