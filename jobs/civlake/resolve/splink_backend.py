"""Which database Splink runs on: embedded DuckDB, or the Spark engine's session.

The linkage code (``linkage.py``) is written once against Splink's Linker; this module is
the only place that knows the two backends apart. Scoring (``link``, ``cluster_unmatched``)
follows the engine: given its session (``engine.spark``) it runs on ``SparkAPI``, so the blocked
pairs, which grow with the city, are computed by Spark. Training always runs embedded
(see ``linkage.train``): it works on a bounded sample of pairs, and Splink's samplers
draw differently on each backend, so one trainer is what keeps the engines' models equal.

Spark needs two things Splink does not set up itself:

* the Damerau-Levenshtein and Jaro-Winkler functions our comparisons call, which Spark
  lacks; Splink ships them as a Scala jar (``scala-udf-similarity``), added to the session
  with ``ADD JAR`` (driver and executors) the first time a linker is made;
* a way to cut the lineage of its intermediate tables. On a local master they are
  cached (``persist``); on a cluster they are written as parquet to the checkpoint
  directory, the session's own when set (``spark.checkpoint.dir``, shared storage),
  else a local temporary one, removed when the process ends. The views, caches and parquet files a linker created are
  removed when it is done, so a long-lived session does not accumulate them.
"""

from __future__ import annotations

import atexit
import logging
import shutil
import tempfile
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pandas as pd

log = logging.getLogger(__name__)

# Spark applications whose classpath has Splink's jar. Keyed by application id, not by
# id() of the session: each @task.pyspark task makes and stops its own session, and a new
# session object can reuse a stopped one's id(), which skipped ADD JAR on the new app.
_JAR_ADDED: set[str] = set()


def _add_similarity_jar(spark) -> None:
    key = spark.sparkContext.applicationId
    if key in _JAR_ADDED:
        return
    from splink.backends.spark import similarity_jar_location

    spark.sql(f"ADD JAR '{similarity_jar_location()}'")
    _JAR_ADDED.add(key)


def _checkpoint_dir(spark) -> str:
    jsc = spark.sparkContext._jsc.sc()
    if jsc.getCheckpointDir().isEmpty():
        folder = tempfile.mkdtemp(prefix="civlake-splink-")
        # Spark never removes it: this process does, when it ends (an Airflow task's
        # process runs the exit handlers registered after its fork).
        atexit.register(shutil.rmtree, folder, ignore_errors=True)
        spark.sparkContext.setCheckpointDir(folder)
        log.info("Spark had no checkpoint dir; Splink's intermediate tables go to %s", folder)
    return jsc.getCheckpointDir().get()


def _spark_frame(spark, frame: pd.DataFrame):
    """A Spark DataFrame typed by us, not inferred: a column null in every row (no phone
    among the leftovers) would otherwise be NullType, which Splink's SQL cannot compare."""
    from pyspark.sql import types as T

    fields = []
    for name in frame.columns:
        if name == "unique_id":
            typ = T.LongType()
        elif name.startswith("tf_"):
            typ = T.DoubleType()
        else:
            typ = T.StringType()
        fields.append(T.StructField(name, typ, True))
    rows = frame.astype(object).where(frame.notna(), None)
    return spark.createDataFrame(rows, schema=T.StructType(fields))


def _lineage_method(spark) -> str:
    return "persist" if spark.sparkContext.master.startswith("local") else "parquet"


class Backend:
    """One linker's database: registers frames, then cleans up what it made."""

    def __init__(self, spark=None):
        self.spark = spark
        self._views: list[str] = []
        if spark is None:
            from splink import DuckDBAPI

            self.api = DuckDBAPI()
            return
        from splink import SparkAPI

        _add_similarity_jar(spark)
        # One machine: cached tables (memory, spilling to its disk) are the cheap way to
        # cut lineage. A cluster: parquet in the checkpoint dir survives a lost executor.
        method = _lineage_method(spark)
        self.checkpoint_dir = _checkpoint_dir(spark) if method == "parquet" else None
        self.api = SparkAPI(spark_session=spark, break_lineage_method=method)
        self._before = self._splink_views()

    def _splink_views(self) -> set[str]:
        tables = self.spark.catalog.listTables()
        return {t.name for t in tables if t.isTemporary and t.name.startswith("__splink__")}

    def register(self, frame: pd.DataFrame, name: str):
        """Register ``frame`` under ``name`` (made unique on Spark, where temp views are
        shared by every job using the session)."""
        if self.spark is None:
            return self.api.register(frame, table_name=name)
        name = f"{name}_{uuid.uuid4().hex[:12]}"
        self._views.append(name)
        return self.api.register(_spark_frame(self.spark, frame), table_name=name)

    def close(self) -> None:
        """Drop what this linker made. Splink forgets some of its own tables (the blocked
        pairs it drops itself are only dropped on Delta-table lineage), so every Splink
        view that appeared since this backend was made goes, with its cache or parquet."""
        if self.spark is None:
            return
        made = set(getattr(self.api, "_created_tables", ()))
        made |= self._splink_views() - self._before
        for name in [*made, *self._views]:
            self.spark.catalog.dropTempView(name)  # also uncaches a persisted table
        if self.checkpoint_dir is None:
            return
        local = Path(self.checkpoint_dir.removeprefix("file:"))
        if local.is_dir():
            for name in made:
                shutil.rmtree(local / name, ignore_errors=True)


@contextmanager
def backend(spark=None) -> Iterator[Backend]:
    db = Backend(spark)
    try:
        yield db
    finally:
        db.close()
