"""Delta I/O through delta-spark: the Spark engine's ``LakeIO`` (``DeltaSpark``).

Arrow in, Arrow out (and Spark DataFrames in), so the jobs hand the same tables to
either engine through ``engine.lake``. Filters and predicates are written in DuckDB's
dialect (the embedded engine's) and transpiled to Spark SQL with sqlglot, so no
predicate is written twice. Nothing here imports ``civlake.lake`` (delta-rs).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeVar

import pyarrow as pa

from civlake.engine.compat import spark_frame
from civlake.engine.lake_io import (
    Match,
    exists,
    match_source,
    nothing_to_match,
    retry_on,
    table_location,
)

T = TypeVar("T")


def to_spark_sql(expr: str) -> str:
    """A DuckDB SQL expression (a ``where`` clause) in Spark SQL."""
    import sqlglot

    return sqlglot.transpile(expr, read="duckdb", write="spark")[0]


def read_df(spark, path: Path):
    """The Delta table as a Spark DataFrame (None: no table there)."""
    if not exists(path):
        return None
    return spark.read.format("delta").load(str(path))


def read_arrow(spark, path: Path, *, filter_sql: str | None = None, columns=None):
    df = read_df(spark, path)
    if df is None:
        return None
    if filter_sql is not None:
        df = df.where(to_spark_sql(filter_sql))
    if columns:
        df = df.select(*[f"`{c}`" for c in columns])
    return df.toArrow()


def write(spark, path: Path, data, *, mode: str, merge_schema: bool = True) -> None:
    """Append or overwrite (schema too) with one Delta commit; ``data`` is Arrow or a DataFrame."""
    df = spark_frame(spark, data) if isinstance(data, pa.Table) else data
    writer = df.write.format("delta").mode(mode)
    if mode == "overwrite":
        writer = writer.option("overwriteSchema", "true")
    elif merge_schema:
        writer = writer.option("mergeSchema", "true")
    writer.save(str(path))


def delete_where(spark, path: Path, predicate: str) -> int:
    if not exists(path):
        return 0
    from delta.tables import DeltaTable

    table = DeltaTable.forPath(spark, str(path))
    condition = to_spark_sql(predicate)
    before = table.toDF().where(condition).count()
    if before:
        table.delete(condition)
    return before


def _column_filter(match):
    """``Match`` as a Spark Column (values bound as literals, never pasted SQL)."""
    from pyspark.sql import functions as F

    cond = None
    for col, want in match.items():
        c = F.col(f"`{col}`")
        part = c == F.lit(want) if isinstance(want, str) else c.isin(list(want))
        cond = part if cond is None else cond & part
    return cond


def read_matching(spark, path: Path, match, *, columns=None):
    df = read_df(spark, path)
    if df is None:
        return None
    df = df.where(_column_filter(match))
    if columns:
        df = df.select(*[f"`{c}`" for c in columns])
    return df.toArrow()


def read_distinct(spark, path: Path, columns: list[str]):
    df = read_df(spark, path)
    if df is None:
        return None
    return df.select(*[f"`{c}`" for c in columns]).distinct().toArrow()


def count_by(spark, path: Path, column: str, *, match=None) -> dict[str, int]:
    df = read_df(spark, path)
    if df is None:
        return {}
    if match:
        df = df.where(_column_filter(match))
    return {r[0]: int(r[1]) for r in df.groupBy(f"`{column}`").count().collect()}


def _merge(spark, path: Path, source: pa.Table, on: list[str]):
    from delta.tables import DeltaTable

    cond = " AND ".join(f"t.`{k}` = s.`{k}`" for k in on)
    src = spark_frame(spark, source).alias("s")
    return DeltaTable.forPath(spark, str(path)).alias("t").merge(src, cond)


def _metric(result, name: str) -> int:
    """A row-count metric of a MERGE's result DataFrame (0 when not reported)."""
    if result is None or name not in result.columns:
        return 0
    row = result.first()
    return int(row[name] or 0) if row is not None else 0


def merge_delete(spark, path: Path, source: pa.Table, on: list[str]) -> int:
    """Delete target rows matching a source row on ``on`` with one Delta MERGE."""
    return _metric(
        _merge(spark, path, source, on).whenMatchedDelete().execute(), "num_deleted_rows"
    )


def merge_update(spark, path: Path, source: pa.Table, on: list[str], sets: list[str]) -> None:
    """Set ``sets`` from the source on the target rows matching it on ``on`` (one MERGE)."""
    updates = {f"`{c}`": f"s.`{c}`" for c in sets}
    _merge(spark, path, source, on).whenMatchedUpdate(set=updates).execute()


def _conflicts() -> tuple[type[BaseException], ...]:
    from delta.exceptions import (
        ConcurrentAppendException,
        ConcurrentDeleteReadException,
        ConcurrentTransactionException,
        DeltaConcurrentModificationException,
    )
    from deltalake.exceptions import CommitFailedError

    # CommitFailedError: a delta-rs writer on the same table (the lake is shared)
    return (
        CommitFailedError,
        ConcurrentAppendException,
        ConcurrentDeleteReadException,
        ConcurrentTransactionException,
        DeltaConcurrentModificationException,
    )


@dataclass(frozen=True)
class DeltaSpark:
    """The Spark engine's ``LakeIO``: every operation runs on ``spark``'s executors and
    only results (rows asked for, counts, distinct values) reach this process."""

    spark: Any
    name = "delta-spark"

    def exists(self, path: Path) -> bool:
        return exists(path)

    def read_arrow(
        self, path: Path, *, filter_sql: str | None = None, columns: list[str] | None = None
    ) -> pa.Table | None:
        return read_arrow(self.spark, path, filter_sql=filter_sql, columns=columns)

    def append(self, path: Path, data: Any, *, schema_mode: str | None = "merge") -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        write(self.spark, path, data, mode="append", merge_schema=bool(schema_mode))

    def overwrite(self, path: Path, data: Any) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        write(self.spark, path, data, mode="overwrite")

    def delete_where(self, path: Path, predicate: str) -> int:
        return delete_where(self.spark, path, predicate)

    def read_matching(
        self, table: Any, match: Match, *, columns: list[str] | None = None
    ) -> pa.Table | None:
        return read_matching(self.spark, table_location(table), match, columns=columns)

    def read_distinct(self, path: Path, columns: list[str]) -> pa.Table | None:
        return read_distinct(self.spark, path, columns)

    def count_by(self, table: Any, column: str, *, match: Match | None = None) -> dict[str, int]:
        return count_by(self.spark, table_location(table), column, match=match)

    def merge_delete(self, path: Path, match: Match) -> int:
        if nothing_to_match(path, match):
            return 0
        df = read_df(self.spark, path)
        if df is None or not df.where(_column_filter(match)).limit(1).count():
            return 0  # no match, no commit: a rerun leaves history alone
        source = match_source(match)
        return self.retry(lambda: merge_delete(self.spark, path, source, list(match)))

    def merge_update(self, path: Path, source: pa.Table, on: list[str]) -> None:
        sets = [c for c in source.column_names if c not in on]
        self.retry(lambda: merge_update(self.spark, path, source, on, sets))

    def retry(self, op: Callable[[], T]) -> T:
        return retry_on(_conflicts(), op)
