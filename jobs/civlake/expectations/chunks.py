"""Pending silver rows in chunks of bounded size, written by the stage's engine.

The gate validates only the deliveries no earlier gate passed (``pending``), and never
as one frame: the pending rows are written once to a temp folder of Parquet files,
partitioned by ``hash(natural key, _delivery_id) mod n``, and read back one chunk at a
time. Duplicates of a key within a delivery (what the uniqueness expectation looks for)
share a hash, so they always land in the same chunk; every other expectation in use is
row-level. ``n`` is chosen so that a chunk holds about ``Settings.expectations_batch_rows``
rows: hash buckets spread by about the square root of their size (±500 rows at 250,000),
so ``n`` leaves 10 % headroom; only one key repeated thousands of times in one delivery
could push a chunk past the setting. Only the columns the gate reads are written
(``columns``: what the suite names, the lineage, an age rule's inputs), so a chunk of
rows costs less to write, read back and turn into a pandas frame.

Embedded engine: DuckDB (``engine.duck.database``: ``CIVLAKE_MEMORY_LIMIT``, spilling to
the state folder) reads the pending deliveries' rows, from the table's Parquet files
itself when they are plain Parquet (``lake.plain_parquet_files``), else through
delta-rs' Arrow dataset, and writes the chunks with one ``COPY ... PARTITION_BY``.
Spark: the executors write the same layout (``partitionBy``); nothing is collected to the
driver. The two engines hash differently, so their chunks differ; the gate's results do
not depend on the chunking (combine.py).
"""

from __future__ import annotations

import math
import shutil
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq

from civlake import lake
from civlake.engine.lake_io import LakeIO
from civlake.engine.runtime import Engine
from civlake.settings import Settings

CHUNK_COLUMN = "gx_chunk"
HEADROOM = 1.1


def chunk_count(rows: int, batch_rows: int, *, workers: int = 1) -> int:
    """Hash buckets for ``rows`` rows so that one holds about ``batch_rows`` at most; more
    than one bucket is rounded up to a multiple of ``workers``, so that the processes
    validating them side by side (civlake.forks) finish together."""
    if rows <= batch_rows:
        return 1
    n = math.ceil(rows * HEADROOM / batch_rows)
    return math.ceil(n / workers) * workers


def delivery_rows(silver: Path, *, io: LakeIO) -> dict[str, int]:
    """Rows per ``_delivery_id`` of a silver table (that one column is read); {} if absent."""
    return io.count_by(silver, "_delivery_id")


def silver_schema(silver: Path) -> pa.Schema:
    """The silver table's Arrow schema from its Delta log (both engines write the same
    protocol), so chunks written by either engine are read back with the same types."""
    table = lake.open_table(silver)
    if table is None:
        raise FileNotFoundError(f"no Delta table at {silver}")
    return lake.arrow_dataset(table).schema


@contextmanager
def pending_chunks(
    settings: Settings,
    silver: Path,
    *,
    deliveries: Sequence[str],
    key: Sequence[str],
    chunks: int,
    work: Path,
    engine: Engine,
    columns: Sequence[str] | None = None,
) -> Iterator[list[Chunk]]:
    """The rows of ``deliveries`` in ``chunks`` hash chunks (``Chunk.read``: one Arrow
    table at a time).

    ``columns``: the columns to keep, in the table's order (names it lacks are ignored;
    None: every column). ``work`` is a scratch folder of this feed (removed afterwards,
    also on error)."""
    schema = silver_schema(silver)
    if columns is not None:
        wanted = set(columns)
        schema = pa.schema([f for f in schema if f.name in wanted])
    shutil.rmtree(work, ignore_errors=True)
    work.parent.mkdir(parents=True, exist_ok=True)
    try:
        # Also for one chunk: on Spark, reading the rows directly would collect them.
        if engine.on_spark:
            _spark_write(engine.spark, silver, deliveries, key, chunks, work, schema.names)
        else:
            _duckdb_write(settings, silver, deliveries, key, chunks, work, schema.names)
        yield list(_chunks(work, schema))
    finally:
        shutil.rmtree(work, ignore_errors=True)


@dataclass(frozen=True)
class Chunk:
    """One chunk folder's Parquet files (what a worker process is sent to validate)."""

    files: tuple[Path, ...]
    schema: pa.Schema

    def read(self) -> pa.Table:
        """The chunk's rows as one table of the silver schema."""
        parts = [pq.read_table(f) for f in self.files]
        table = pa.concat_tables(parts, promote_options="permissive")
        return _as_schema(table, self.schema)


def _chunks(work: Path, schema: pa.Schema) -> Iterator[Chunk]:
    for folder in sorted(work.glob(f"{CHUNK_COLUMN}=*")):
        files = sorted(p for p in folder.iterdir() if p.suffix == ".parquet")
        if files:
            yield Chunk(tuple(files), schema)


def _as_schema(table: pa.Table, schema: pa.Schema) -> pa.Table:
    """``table`` in the silver table's types (DuckDB writes an all-null column as int32,
    Spark timestamps without a zone; the examples must read the same on both engines)."""
    columns = [
        pa.nulls(len(table), f.type) if pa.types.is_null(f.type) else table[f.name].cast(f.type)
        for f in schema
    ]
    return pa.table(columns, schema=schema)


def _ident(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


def _literal(text: str) -> str:
    return "'" + text.replace("'", "''") + "'"


def _duckdb_write(settings, silver, deliveries, key, chunks, work, columns) -> None:
    import pyarrow.compute as pc

    from civlake.engine import duck

    table = lake.open_table(silver)
    files = lake.plain_parquet_files(table)
    hashed = ", ".join(_ident(c) for c in [*key, "_delivery_id"])
    kept = ", ".join(_ident(c) for c in columns)
    # One database per feed: the ingest DAGs gate their feeds concurrently.
    with duck.database(settings, f"expectations_chunks_{work.name}") as con:
        if files is not None:
            # DuckDB reads the table's Parquet files itself: at 1 M persons (hukou's 1.9 M
            # rows) the gate's peak RSS is ~870 MiB lower than with the Arrow dataset
            # scan below, in about the same time.
            ids = pa.table({"id": pa.array(list(deliveries), pa.string())})  # noqa: F841
            con.read_parquet([str(f) for f in files], union_by_name=True).create_view("files")
            source = "(SELECT * FROM files WHERE _delivery_id IN (SELECT id FROM ids))"
        else:
            # The Delta table's files of the pending deliveries, streamed (Arrow dataset
            # scan); the key is hashed, so it is read even where the chunks do not keep it.
            scanned = list(dict.fromkeys([*columns, *key, "_delivery_id"]))
            scan = lake.arrow_dataset(table).scanner(
                columns=scanned, filter=pc.field("_delivery_id").isin(list(deliveries))
            )
            rows = scan.to_reader()  # noqa: F841 - scanned by name below
            source = "rows"
        con.execute(
            f"COPY (SELECT {kept}, hash({hashed}) % {int(chunks)} AS {CHUNK_COLUMN} "
            f"FROM {source}) "
            f"TO {_literal(str(work))} (FORMAT parquet, PARTITION_BY ({CHUNK_COLUMN}))"
        )


def _spark_write(spark, silver, deliveries, key, chunks, work, columns) -> None:
    from pyspark.sql import functions as F

    from civlake.engine.spark_io import read_df

    df = read_df(spark, silver).where(F.col("_delivery_id").isin(list(deliveries)))
    bucket = F.pmod(F.xxhash64(*[F.col(f"`{c}`") for c in [*key, "_delivery_id"]]), F.lit(chunks))
    (
        df.withColumn(CHUNK_COLUMN, bucket)
        .select(*[F.col(f"`{c}`") for c in [*columns, CHUNK_COLUMN]])
        .write.mode("overwrite")
        .partitionBy(CHUNK_COLUMN)
        .parquet(str(work))
    )
