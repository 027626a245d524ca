"""Person references as a Spark DataFrame, built on the executors from silver.

The Spark twin of ``reference_sql.load``: the same rows, columns and values, from the
same SQL (``reference_sql._role_select`` per feed and role, ``reference_sql.refs_sql``),
transpiled from DuckDB's dialect with sqlglot, so the per-feed role definitions live in
one place. Names get their comparison forms once per distinct name, by the same Python
functions (``names.normalize_name``, ``names.name_pinyin``) run in ``mapInArrow`` on the
executors, and are joined back.

``ord`` is a reference's place in ``reference_sql.ORDER`` (the order every path reads
references in): increasing in that order, not dense (``monotonically_increasing_id`` of
the sorted rows: partition index, then position). The numbered references are written
once as parquet beside the session's checkpoints and read back from there, so every
later step reads the same numbers.

What reaches the driver: the silver tables' schemas, and counts.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from pathlib import Path

import pyarrow as pa

from civlake import tables
from civlake.contracts import load_contracts
from civlake.engine import spark_io
from civlake.resolve import reference_sql
from civlake.resolve.names import name_pinyin, normalize_name
from civlake.resolve.splink_backend import _checkpoint_dir as checkpoint_dir

NAMES_SCHEMA = pa.schema(
    [("name", pa.string()), ("name_norm", pa.string()), ("name_pinyin", pa.string())]
)


def spark_sql(duckdb_sql: str) -> str:
    """A DuckDB query in Spark SQL."""
    import sqlglot

    return sqlglot.transpile(duckdb_sql, read="duckdb", write="spark")[0]


def _arrow_schema(df) -> pa.Schema:
    from pyspark.sql.pandas.types import to_arrow_schema

    # The zone only labels timestamp columns (no reference reads one); Spark's is UTC.
    return to_arrow_schema(df.schema, timezone="UTC")


def _normalize(batches: Iterator[pa.RecordBatch]) -> Iterator[pa.RecordBatch]:
    """mapInArrow: distinct names in, (name, name_norm, name_pinyin) out."""
    # The uncached functions: a worker sees each distinct name once.
    norm, pinyin = normalize_name.__wrapped__, name_pinyin.__wrapped__
    for batch in batches:
        raw = batch.column(0).to_pylist()
        normed = [norm(n) for n in raw]
        yield pa.RecordBatch.from_pydict(
            {"name": raw, "name_norm": normed, "name_pinyin": [pinyin(n) for n in normed]},
            schema=NAMES_SCHEMA,
        )


def scratch_dir(spark) -> str:
    """A new folder for one run's intermediate files, on the session's checkpoint
    storage (shared by every executor on a cluster); ``drop`` removes it."""
    return f"{checkpoint_dir(spark).rstrip('/')}/civlake-resolve-{uuid.uuid4().hex[:12]}"


def drop(spark, folder: str) -> None:
    """Delete ``folder`` (a ``scratch_dir``) and what it holds."""
    jvm = spark.sparkContext._jvm
    path = jvm.org.apache.hadoop.fs.Path(folder)
    path.getFileSystem(spark.sparkContext._jsc.hadoopConfiguration()).delete(path, True)


def load(spark, lake_dir: Path, schemas_dir: Path | None, scratch: str):
    """The references (``references.REF_COLUMNS`` and ``ord``), written to ``scratch``
    (a folder of ``scratch_dir``; the caller drops it) and read back; None when the SQL
    path does not apply (no person table in silver, or one the contracts do not type:
    ``reference_sql._usable``)."""
    from pyspark.sql.pandas.types import from_arrow_schema

    silver = []
    for feed in load_contracts(schemas_dir).values():
        if not feed.persons:
            continue
        df = spark_io.read_df(spark, tables.path(lake_dir, tables.silver(feed.feed_id)))
        if df is None:
            continue
        if not reference_sql._usable(feed, _arrow_schema(df)):
            return None
        silver.append((feed, df))
    if not silver:
        return None
    views = [f"civlake_resolve_silver_{i}" for i in range(len(silver))]
    try:
        selects = []
        for (feed, df), view in zip(silver, views, strict=True):
            df.createOrReplaceTempView(view)
            schema = _arrow_schema(df)
            selects += [
                spark_sql(reference_sql._role_select(feed, view, set(schema.names), r))
                for r in feed.persons
            ]
        raw = spark.sql("\nunion all\n".join(selects))
        raw.createOrReplaceTempView("civlake_resolve_refs_raw")
        names = (
            raw.where("name is not null")
            .select("name")
            .distinct()
            .mapInArrow(_normalize, from_arrow_schema(NAMES_SCHEMA))
        )
        names.createOrReplaceTempView("civlake_resolve_names")
        refs = spark.sql(
            spark_sql(reference_sql.refs_sql("civlake_resolve_refs_raw", "civlake_resolve_names"))
        )
        refs = refs.orderBy(*reference_sql.ORDER).selectExpr(
            "*", "monotonically_increasing_id() as ord"
        )
        # Written once and read back: every later step reads these rows with these
        # numbers, which a recomputation (a cache miss, a lost block) could change
        # (the sort's range partitions decide them).
        refs.write.parquet(scratch)
        return spark.read.parquet(scratch)
    finally:
        for view in [*views, "civlake_resolve_refs_raw", "civlake_resolve_names"]:
            spark.catalog.dropTempView(view)
