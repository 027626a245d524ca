"""The engine a stage runs on, as one object built once from validated settings.

``build(settings)`` makes an ``Engine``: its name, its lake I/O (``LakeIO``: delta-rs
embedded, delta-spark on Spark) and its Spark session (None embedded). The stage
functions in ``civlake.pipeline`` build it once per call and pass it to every job;
a job picks its Spark path from ``engine.spark`` and does its lake I/O through
``engine.lake`` wherever it runs on both engines. Nothing is ambient: no job looks up
a session or an I/O implementation by itself.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from civlake import lake
from civlake.engine.lake_io import LakeIO
from civlake.settings import Settings, check_engine


@dataclass(frozen=True)
class Engine:
    """An engine: ``name`` (a ``settings.ENGINES`` name), ``lake`` (its Delta I/O) and
    ``spark`` (its SparkSession; None on the embedded engine)."""

    name: str
    lake: LakeIO
    spark: Any = None

    @property
    def on_spark(self) -> bool:
        return self.spark is not None


EMBEDDED = Engine("duckdb", lake.DELTA_RS)


def on_session(spark) -> Engine:
    """The Spark engine on a session already running (a ``@task.pyspark`` task's, a
    test's): no waiting for executors, which the session's owner already did."""
    from civlake.engine.spark_io import DeltaSpark

    return Engine("spark", DeltaSpark(spark), spark)


def build(settings: Settings, spark=None) -> Engine:
    """The engine ``settings.engine`` names; an unknown name is refused here too (settings
    made by hand skip ``load_settings``'s check). On Spark: ``spark`` (the session a
    ``@task.pyspark`` task was given) or this process's own, once it has an executor."""
    name = check_engine(settings.engine)
    if name != "spark":
        return EMBEDDED
    from civlake.engine.spark import await_executors, get_spark

    spark = spark or get_spark(settings)
    await_executors(spark, settings)
    return on_session(spark)
