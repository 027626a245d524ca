"""Delta lake I/O on the embedded engine (delta-rs through ``deltalake``).

Paths follow OUTPUTS.md section 6: ``<lake>/bronze/<feed>``, ``<lake>/silver/<feed>``,
``<lake>/quarantine``, ``<lake>/ingest_audit``; the gates add ``<lake>/core/...``.
Every write is one Delta commit, so a failed task leaves the table as it was.

The same functions serve the Spark engine: inside ``with use_spark(session):`` they read
and write through delta-spark (``format("delta")``) instead of delta-rs, so the jobs
above them are written once and the engine is chosen at this edge.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from pathlib import Path

import pyarrow as pa
from deltalake import DeltaTable, write_deltalake
from deltalake.exceptions import TableNotFoundError

_SPARK: ContextVar = ContextVar("civlake_lake_spark", default=None)


@contextmanager
def use_spark(spark) -> Iterator[None]:
    """Route this module's reads and writes through delta-spark on ``spark``."""
    token = _SPARK.set(spark)
    try:
        yield
    finally:
        _SPARK.reset(token)


def active_spark():
    """The SparkSession lake I/O goes through, or None on the embedded engine."""
    return _SPARK.get()


def table_path(lake: Path, layer: str, name: str | None = None) -> Path:
    return lake / layer if name is None else lake / layer / name


def exists(path: Path) -> bool:
    return (path / "_delta_log").is_dir()


def open_table(path: Path) -> DeltaTable | None:
    try:
        return DeltaTable(str(path))
    except TableNotFoundError:
        return None


def read_arrow(path: Path, *, filter_sql: str | None = None, columns=None) -> pa.Table | None:
    """Whole table (or the rows matching a DuckDB ``where`` clause) as Arrow; None if absent."""
    spark = _SPARK.get()
    if spark is not None:
        from civlake.engine import spark_io

        return spark_io.read_arrow(spark, path, filter_sql=filter_sql, columns=columns)
    dt = open_table(path)
    if dt is None:
        return None
    if filter_sql is None:
        return dt.to_pyarrow_table(columns=columns)
    import duckdb

    con = duckdb.connect()
    ds = dt.to_pyarrow_dataset()  # noqa: F841 - referenced by name in the query
    cols = ", ".join(f'"{c}"' for c in columns) if columns else "*"
    return con.sql(f"select {cols} from ds where {filter_sql}").to_arrow_table()


def append(path: Path, data: pa.Table, *, schema_mode: str | None = "merge") -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    spark = _SPARK.get()
    if spark is not None:
        from civlake.engine import spark_io

        return spark_io.write(spark, path, data, mode="append", merge_schema=bool(schema_mode))
    write_deltalake(str(path), data, mode="append", schema_mode=schema_mode)


def overwrite(path: Path, data: pa.Table) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    spark = _SPARK.get()
    if spark is not None:
        from civlake.engine import spark_io

        return spark_io.write(spark, path, data, mode="overwrite")
    write_deltalake(str(path), data, mode="overwrite", schema_mode="overwrite")


def delete_where(path: Path, predicate: str) -> int:
    """Delete rows matching a Delta SQL predicate; returns rows deleted (0 if no table)."""
    spark = _SPARK.get()
    if spark is not None:
        from civlake.engine import spark_io

        return spark_io.delete_where(spark, path, predicate)
    dt = open_table(path)
    if dt is None:
        return 0
    metrics = dt.delete(predicate)
    return int(metrics.get("num_deleted_rows", 0) or 0)
