"""The Spark edge: Delta's jars (resolved once from Maven Central) and the session.

Delta's Spark jars are resolved with Maven into a cache under the project data folder
(``data/spark-jars``, or ``CIVLAKE_SPARK_JARS``) on first use, and read from there ever
after, so runs and tests work offline. Spark's own Ivy resolver is not used: it does
not go through this machine's registry proxy, Maven does. On a cluster the same two
jars come from the image or ``--packages io.delta:delta-spark_4.2_2.13:<version>``
(README, "Running on a Spark cluster").
"""

from __future__ import annotations

import fcntl
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from civlake.settings import Settings

SPARK_LINE = "4.2"  # pyspark 4.2.x: Delta publishes one artifact per Spark line
# The pip package delta-spark is 4.4.1, but Maven Central serves 4.4.0 as the newest
# delta-spark_4.2_2.13; the Python side is a thin wrapper over the same JVM API.
DELTA_VERSION = "4.4.0"
DELTA_ARTIFACTS = (f"delta-spark_{SPARK_LINE}_2.13", "delta-storage")


class SparkSetupError(RuntimeError):
    """The Spark engine cannot start; the message says what to do."""


def delta_jars(settings: Settings) -> list[Path]:
    """Paths of Delta's Spark jars, fetched into the cache with Maven the first time."""
    cache = settings.spark_jars
    wanted = [cache / f"{a}-{DELTA_VERSION}.jar" for a in DELTA_ARTIFACTS]
    if all(p.is_file() for p in wanted):
        return wanted
    cache.mkdir(parents=True, exist_ok=True)
    # Two processes starting Spark on an empty cache (two Airflow workers, two test
    # workers) take turns; each jar is fetched beside the cache and renamed into it, so a
    # process that looks without the lock never sees half a jar.
    with open(cache / ".fetch.lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        for artifact, path in zip(DELTA_ARTIFACTS, wanted, strict=True):
            if path.is_file():
                continue
            with tempfile.TemporaryDirectory(dir=cache) as fetched:
                _maven_copy(f"io.delta:{artifact}:{DELTA_VERSION}", Path(fetched))
                got = Path(fetched) / path.name
                if not got.is_file():
                    raise SparkSetupError(f"Maven did not produce {path}")
                os.replace(got, path)
    return wanted


def _maven_copy(coordinate: str, dest: Path) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        cmd = [
            "mvn", "-q", "-B", "-f", _empty_pom(Path(tmp)),
            "org.apache.maven.plugins:maven-dependency-plugin:3.8.1:copy",
            f"-Dartifact={coordinate}", f"-DoutputDirectory={dest}",
        ]  # fmt: skip
        try:
            done = subprocess.run(cmd, capture_output=True, text=True, timeout=600)
        except FileNotFoundError as exc:
            raise SparkSetupError(
                "the Spark engine needs Delta's jars and Maven (mvn) is not installed to "
                f"fetch {coordinate}; install Maven, or put the jar in {dest} "
                "(CIVLAKE_SPARK_JARS)"
            ) from exc
    if done.returncode != 0:
        tail = (done.stdout + done.stderr).strip().splitlines()[-3:]
        raise SparkSetupError(
            f"could not fetch {coordinate} from Maven Central into {dest}: "
            + " | ".join(tail)
            + ". Check the network or registry mirror, or copy the jar there by hand."
        )


def _empty_pom(folder: Path) -> str:
    pom = folder / "pom.xml"
    pom.write_text(
        '<project xmlns="http://maven.apache.org/POM/4.0.0"><modelVersion>4.0.0</modelVersion>'
        "<groupId>civlake</groupId><artifactId>jars</artifactId><version>1</version>"
        "<packaging>pom</packaging></project>"
    )
    return str(pom)


def spark_conf(settings: Settings) -> dict[str, str]:
    """Session configuration of the Spark engine (also what a cluster submit passes)."""
    cores = os.cpu_count() or 2
    partitions = settings.spark_shuffle_partitions or max(2, 2 * cores)
    return {
        "spark.jars": ",".join(str(p) for p in delta_jars(settings)),
        "spark.sql.extensions": "io.delta.sql.DeltaSparkSessionExtension",
        "spark.sql.catalog.spark_catalog": "org.apache.spark.sql.delta.catalog.DeltaCatalog",
        # Small shuffles on one machine: 200 partitions of a few rows each cost more
        # than the work; on a cluster set CIVLAKE_SPARK_SHUFFLE_PARTITIONS.
        "spark.sql.shuffle.partitions": str(partitions),
        "spark.databricks.delta.snapshotPartitions": str(max(1, cores)),
        "spark.sql.session.timeZone": "UTC",
        "spark.sql.warehouse.dir": str(settings.home / "spark-warehouse"),
        "spark.driver.memory": settings.spark_driver_memory,
        # 4g by default: settings.py says why.
        "spark.driver.maxResultSize": settings.spark_max_result_size,
        "spark.ui.enabled": "false",
        "spark.ui.showConsoleProgress": "false",
        "spark.sql.execution.arrow.pyspark.enabled": "true",
        **_executor_conf(settings),
    }


def _executor_conf(settings: Settings) -> dict[str, str]:
    """Executor sizes for a cluster master, where they are set (settings.py says why)."""
    conf = {
        "spark.executor.memory": settings.spark_executor_memory,
        "spark.executor.cores": settings.spark_executor_cores,
        "spark.cores.max": settings.spark_cores_max,
    }
    return {key: str(value) for key, value in conf.items() if value is not None}


def is_local(master: str) -> bool:
    """True for an in-process master (``local``, ``local[N]``): no executors to wait for."""
    return master.startswith("local") and not master.startswith("local-cluster")


def await_executors(spark, settings: Settings, *, poll: float = 1.0) -> None:
    """Return once the session's application has an executor; else stop it and raise.

    On a cluster, an application that gets no executor (every core taken by another
    application, or executors bigger than any worker's free memory) waits for ever:
    Spark only logs "Initial job has not accepted any resources". Each stage task is
    its own application, so this is checked before the stage starts its first job.
    """
    sc = spark.sparkContext
    if is_local(sc.master):
        return
    deadline = time.monotonic() + settings.spark_executor_timeout
    while time.monotonic() < deadline:
        # the driver itself is listed too: more than one entry means an executor joined
        if sc._jsc.sc().getExecutorMemoryStatus().size() > 1:
            return
        time.sleep(poll)
    app = sc.applicationId
    spark.stop()
    wanted = ", ".join(f"{k}={v}" for k, v in _executor_conf(settings).items()) or "defaults"
    raise SparkSetupError(
        f"Spark application {app} got no executor from {sc.master} within "
        f"{settings.spark_executor_timeout} s (executors: {wanted}). Check the master's "
        "web UI: free cores and worker memory must fit CIVLAKE_SPARK_EXECUTOR_CORES, "
        "CIVLAKE_SPARK_EXECUTOR_MEMORY and CIVLAKE_SPARK_CORES_MAX, and no other "
        "application may hold every core (CIVLAKE_SPARK_EXECUTOR_TIMEOUT to wait longer)."
    )


def get_spark(settings: Settings):
    """The process's SparkSession for these settings (created once, then reused)."""
    os.environ.setdefault("SPARK_LOCAL_IP", "127.0.0.1")
    # Python workers (mapInArrow, UDFs) must import civlake: run them on this interpreter,
    # not whatever ``python3`` is on PATH (a cluster sets PYSPARK_PYTHON to its own env).
    os.environ.setdefault("PYSPARK_PYTHON", sys.executable)
    from pyspark.sql import SparkSession

    active = SparkSession.getActiveSession()
    if active is not None:
        return active
    builder = SparkSession.builder.master(settings.spark_master).appName("civlake")
    for key, value in spark_conf(settings).items():
        builder = builder.config(key, value)
    try:
        spark = builder.getOrCreate()
    except Exception as exc:  # the JVM did not start: say why in a person's words
        raise SparkSetupError(
            f"Spark did not start (master {settings.spark_master}): {exc}. "
            "Check that Java 17+ is installed (java -version) and JAVA_HOME is set."
        ) from exc
    spark.sparkContext.setLogLevel(settings.spark_log_level)
    return spark
