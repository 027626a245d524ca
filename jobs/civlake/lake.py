"""Delta lake I/O on the embedded engine (delta-rs through ``deltalake``).

Paths follow OUTPUTS.md section 6: ``<lake>/bronze/<feed>``, ``<lake>/silver/<feed>``,
``<lake>/quarantine``, ``<lake>/ingest_audit``; the gates add ``<lake>/core/...``.
Every write is one Delta commit, so a failed task leaves the table as it was.

``DeltaRs`` is the embedded engine's ``LakeIO`` (``civlake.engine.lake_io``): the jobs
that run on both engines call these operations through ``engine.lake``, and the Spark
engine's ``DeltaSpark`` (``civlake.engine.spark_io``) answers the same calls with
delta-spark. The module functions are the same delta-rs operations, for code that only
runs embedded (and for tests); nothing here knows about Spark. The streaming writers
(``AppendFiles``, ``overwrite_ordered``, ``overwrite_stream``) and ``scan_matching`` are
embedded-only. Ids are matched as values (an Arrow filter or a MERGE source table),
never pasted into SQL.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import TypeVar
from urllib.parse import unquote

import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.fs as pafs
from deltalake import DeltaTable, write_deltalake
from deltalake.exceptions import CommitFailedError, TableNotFoundError

from civlake.engine.lake_io import Match, exists, match_source, nothing_to_match, retry_on

T = TypeVar("T")
__all__ = [  # Match and exists come from the interface module, for callers of this one
    "DELTA_RS", "AppendFiles", "DeltaRs", "Match", "append", "arrow_dataset", "arrow_table",
    "count_by", "delete_where", "exists", "local_files", "merge_delete", "merge_update",
    "merge_upsert", "open_table", "overwrite", "overwrite_ordered", "overwrite_stream",
    "plain_parquet_files", "read_arrow", "read_distinct", "read_matching", "retry",
    "scan_matching", "table_path",
]  # fmt: skip


def table_path(lake: Path, layer: str, name: str | None = None) -> Path:
    return lake / layer if name is None else lake / layer / name


def open_table(path: Path) -> DeltaTable | None:
    try:
        return DeltaTable(str(path))
    except TableNotFoundError:
        return None


def arrow_dataset(table: DeltaTable, **options):
    """``table`` as a pyarrow dataset (``DeltaTable.to_pyarrow_dataset`` options), its
    files read by Arrow's own filesystem when they are local (``local_files``)."""
    return table.to_pyarrow_dataset(filesystem=local_files(table), **options)


def arrow_table(table: DeltaTable, **options) -> pa.Table:
    """``table`` read whole (``DeltaTable.to_pyarrow_table`` options) like ``arrow_dataset``."""
    return table.to_pyarrow_table(filesystem=local_files(table), **options)


def local_files(table: DeltaTable) -> pafs.FileSystem | None:
    """Arrow's local filesystem rooted at ``table`` when the table is on this machine;
    None (delta-rs' object store) otherwise.

    delta-rs' default hands Arrow its object store through a Python filesystem handler,
    so every buffer read is a Python object. An Arrow I/O thread that freed one after the
    interpreter had begun to exit killed the process ("terminate called without an active
    exception", exit code 134): in 5 to 10 of 10 short runs whose last act was a read, on
    this machine. A stage task dying so after committing its work counts as failed."""
    uri = table.table_uri
    if not uri.startswith("file://"):
        return None
    root = unquote(uri.removeprefix("file://")).rstrip("/") or "/"
    return pafs.SubTreeFileSystem(root, pafs.LocalFileSystem())


def plain_parquet_files(table: DeltaTable) -> list[Path] | None:
    """The table's current data files when they are the table as plain Parquet (reader
    version 1: no deletion vectors or column mapping; not partitioned; local files), for
    DuckDB to read itself (``read_parquet(files, union_by_name = true)``), which is several
    times faster than through delta-rs' Arrow dataset; None otherwise."""
    files = [Path(unquote(u.removeprefix("file://"))) for u in table.file_uris()]
    plain = (
        table.protocol().min_reader_version == 1
        and not table.metadata().partition_columns
        and files and all(f.is_file() for f in files)
    )  # fmt: skip
    return files if plain else None


def read_arrow(path: Path, *, filter_sql: str | None = None, columns=None) -> pa.Table | None:
    """Whole table (or the rows matching a DuckDB ``where`` clause) as Arrow; None if absent."""
    dt = open_table(path)
    if dt is None:
        return None
    if filter_sql is None:
        return arrow_table(dt, columns=columns)
    import duckdb

    con = duckdb.connect()
    ds = arrow_dataset(dt)  # noqa: F841 - referenced by name in the query
    cols = ", ".join(f'"{c}"' for c in columns) if columns else "*"
    return con.sql(f"select {cols} from ds where {filter_sql}").to_arrow_table()


def append(path: Path, data: pa.Table, *, schema_mode: str | None = "merge") -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    write_deltalake(str(path), data, mode="append", schema_mode=schema_mode)


def overwrite(path: Path, data: pa.Table) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    write_deltalake(str(path), data, mode="overwrite", schema_mode="overwrite")


def overwrite_stream(path: Path, batches: pa.RecordBatchReader) -> None:
    """``overwrite`` from a stream of record batches (embedded engine only): delta-rs
    writes them as they come, so the table never has to fit in memory."""
    path.parent.mkdir(parents=True, exist_ok=True)
    write_deltalake(str(path), batches, mode="overwrite", schema_mode="overwrite")


def delete_where(path: Path, predicate: str) -> int:
    """Delete rows matching a Delta SQL predicate; returns rows deleted (0 if no table)."""
    dt = open_table(path)
    if dt is None:
        return 0
    metrics = dt.delete(predicate)
    return int(metrics.get("num_deleted_rows", 0) or 0)


def _arrow_filter(match: Match):
    cond = None
    for col, want in match.items():
        part = pc.field(col) == want if isinstance(want, str) else pc.field(col).isin(list(want))
        cond = part if cond is None else cond & part
    return cond


def read_matching(
    table: Path | DeltaTable, match: Match, *, columns: list[str] | None = None
) -> pa.Table | None:
    """Rows whose columns hold the values in ``match`` (None: no table).

    On the embedded engine ``table`` may be an open ``DeltaTable`` (``open_table``), which
    skips re-reading the log (~10 ms per open) when one run reads many deliveries.
    """
    dt = table if isinstance(table, DeltaTable) else open_table(table)
    if dt is None:
        return None
    return arrow_dataset(dt).to_table(columns=columns, filter=_arrow_filter(match))


def scan_matching(
    table: Path | DeltaTable, match: Match, *, batch_rows: int = 65_536,
    columns: list[str] | None = None,
) -> Iterator[pa.RecordBatch]:  # fmt: skip
    """``read_matching`` as non-empty record batches of at most ``batch_rows`` rows, in the
    order ``read_matching`` returns them (embedded engine only; nothing if no table).
    ``columns``: only these, in the same row order as a scan of every column.

    Arrow's dataset scan decodes a whole row group before it yields a batch (a 1 M-row
    bronze row group is ~350 MB), so files and row groups are only chosen through the
    dataset (its statistics skip the ones that cannot match) and read with Parquet's
    streaming reader, ``batch_rows`` rows and 1 MB of pages at a time."""
    import pyarrow.parquet as pq

    dt = table if isinstance(table, DeltaTable) else open_table(table)
    if dt is None:
        return
    if dt.metadata().partition_columns:  # values not in the files: let the dataset add them
        ds = arrow_dataset(dt)
        yield from ds.to_batches(filter=_arrow_filter(match), batch_size=batch_rows,
                                 columns=columns)  # fmt: skip
        return
    ds, cond = arrow_dataset(dt), _arrow_filter(match)
    schema = ds.schema
    wanted = schema if columns is None else pa.schema([schema.field(c) for c in columns])
    read = set(schema.names if columns is None else [*columns, *match])
    for fragment in ds.get_fragments(filter=cond):
        for part in fragment.split_by_row_group(cond):
            with fragment.filesystem.open_input_file(fragment.path) as f:
                reader = pq.ParquetFile(f, buffer_size=1 << 20)
                names = [n for n in schema.names if n in read and n in reader.schema_arrow.names]
                for batch in reader.iter_batches(
                    batch_size=batch_rows, row_groups=[part.row_groups[0].id], columns=names
                ):
                    rows = pa.Table.from_batches([batch]).filter(cond)
                    if len(rows):
                        yield from _conform(rows, wanted).to_batches()


def _conform(rows: pa.Table, schema: pa.Schema) -> pa.Table:
    """``rows`` (of one file) in the table's schema: columns the file lacks read as null."""
    return pa.table(
        [
            rows[f.name].cast(f.type)
            if f.name in rows.column_names
            else pa.nulls(len(rows), f.type)
            for f in schema
        ],
        schema=schema,
    )


def read_distinct(path: Path, columns: list[str]) -> pa.Table | None:
    """The distinct combinations of ``columns`` (None: no table). DuckDB streams the
    scan, so only the distinct values are held, never the table's rows.

    Of plain Parquet files, a row group whose columns each hold one value (min = max, no
    null; or only nulls; or a column the file lacks) is answered from the file's footer
    without reading its rows (``_footer_constants``): bronze's lineage columns are
    constant per delivery, so the ingest's crash check (``bronze.orphan_deliveries``,
    every run) reads footers, not the whole history of every feed."""
    dt = open_table(path)
    if dt is None:
        return None
    import duckdb

    cols = ", ".join(f'"{c}"' for c in columns)
    files = plain_parquet_files(dt)
    if files is None:
        ds = arrow_dataset(dt)  # noqa: F841 - referenced by name in the query
        with duckdb.connect() as con:
            return con.sql(f"select distinct {cols} from ds").to_arrow_table()
    table_schema = arrow_dataset(dt).schema
    schema = pa.schema([table_schema.field(c) for c in columns])
    known: set[tuple] = set()
    scan: list[Path] = []
    for f in files:
        constants = _footer_constants(f, columns)
        if constants is None:
            scan.append(f)
        else:
            known.update(constants)
    parts = [pa.Table.from_pylist([dict(zip(columns, k, strict=True)) for k in known], schema)]
    if scan:
        listed = ", ".join("'" + str(f).replace("'", "''") + "'" for f in scan)
        with duckdb.connect() as con:
            read = f"read_parquet([{listed}], union_by_name = true)"
            have = {r[0] for r in con.sql(f"describe select * from {read}").fetchall()}
            select = ", ".join(f'"{c}"' if c in have else f'null as "{c}"' for c in columns)
            parts.append(
                con.sql(f"select distinct {select} from {read}").to_arrow_table().cast(schema)
            )
    return pa.concat_tables(parts).group_by(columns, use_threads=False).aggregate([])


def _footer_constants(file: Path, columns: list[str]) -> set[tuple] | None:
    """The combinations of ``columns`` in ``file`` when its footer's statistics show every
    row group holding one value per column; None when one does not (or has no
    statistics): then the rows must be read."""
    import pyarrow.parquet as pq

    meta = pq.read_metadata(file)
    position = {meta.schema.column(i).path: i for i in range(meta.num_columns)}
    found = set()
    for g in range(meta.num_row_groups):
        group = meta.row_group(g)
        if not group.num_rows:
            continue
        values = []
        for name in columns:
            if name not in position:  # a column added after the file was written
                values.append(None)
                continue
            stats = group.column(position[name]).statistics
            if stats is None or stats.null_count is None:
                return None
            if stats.null_count == group.num_rows:
                values.append(None)
            elif stats.null_count == 0 and stats.has_min_max and stats.min == stats.max:
                values.append(stats.min)
            else:
                return None
        found.add(tuple(values))
    return found


def count_by(
    table: Path | DeltaTable, column: str, *, match: Match | None = None
) -> dict[str, int]:
    """Row count per value of ``column`` (of the rows matching ``match``); only the
    columns involved are read. ``table`` as in ``read_matching``."""
    dt = table if isinstance(table, DeltaTable) else open_table(table)
    if dt is None:
        return {}
    flt = _arrow_filter(match) if match else None
    # a batch at a time: the column of a 10-million-row table is ~250 MB, its counts a few
    counts: dict[str, int] = {}
    for batch in arrow_dataset(dt).to_batches(columns=[column], filter=flt):
        grouped = pa.Table.from_batches([batch]).group_by(column).aggregate([(column, "count")])
        for key, n in zip(grouped[column].to_pylist(), grouped[f"{column}_count"].to_pylist(),
                          strict=True):  # fmt: skip
            counts[key] = counts.get(key, 0) + n
    return counts


def merge_delete(path: Path, match: Match) -> int:
    """Delete the rows matching ``match`` with one MERGE (values from an Arrow source,
    no SQL strings); rows deleted. No match, no commit: a rerun leaves history alone."""
    if nothing_to_match(path, match):
        return 0
    keys = list(match)
    hit = read_matching(path, match, columns=keys[:1])
    if hit is None or len(hit) == 0:
        return 0
    source = match_source(match)
    pred = " AND ".join(f"t.{k} = s.{k}" for k in keys)

    def run() -> int:
        res = (
            DeltaTable(str(path))
            .merge(source, predicate=pred, source_alias="s", target_alias="t")
            .when_matched_delete()
            .execute()
        )
        return int(res.get("num_target_rows_deleted", 0) or 0)

    return retry(run)


def merge_update(path: Path, source: pa.Table, on: list[str]) -> None:
    """Set every non-key column of ``source`` on the target rows matching it on ``on``
    (one MERGE, one commit); target rows without a source row are left alone."""
    sets = [c for c in source.column_names if c not in on]
    pred = " AND ".join(f"t.{k} = s.{k}" for k in on)

    def run() -> None:
        DeltaTable(str(path)).merge(
            source, predicate=pred, source_alias="s", target_alias="t"
        ).when_matched_update(updates={c: f"s.{c}" for c in sets}).execute()

    retry(run)


def merge_upsert(path: Path, batches, on: list[str]) -> None:
    """Replace the target rows matching ``batches`` on ``on`` and insert the others, in
    one MERGE and one commit, streamed from the batches (a RecordBatchReader, so it is
    not retried: a stream is read once)."""
    pred = " AND ".join(f"t.{k} = s.{k}" for k in on)
    DeltaTable(str(path)).merge(
        batches, predicate=pred, source_alias="s", target_alias="t"
    ).when_matched_update_all().when_not_matched_insert_all().execute()


def retry(op: Callable[[], T]) -> T:
    """Run a delta-rs commit, again after a conflict with a concurrent writer (an ingest
    appending audit rows while the clean gate updates them), with backoff."""
    return retry_on((CommitFailedError,), op)


class _ParquetPart:
    """One Parquet file written into a Delta table's directory, batch by batch, and the
    AddAction that commits it (row count and null counts as its stats)."""

    def __init__(
        self, path: Path, schema: pa.Schema, *, row_group_rows: int, dictionary: bool = True,
        statistics: bool | list[str] = True,
    ) -> None:  # fmt: skip
        import uuid

        import pyarrow.parquet as pq

        self.path, self.schema, self.row_group_rows = path, schema, row_group_rows
        self.name = f"part-00000-{uuid.uuid4()}-c000.zstd.parquet"
        self.rows = 0
        self._flat = [f.name for f in schema if not pa.types.is_nested(f.type)]
        self._nulls = dict.fromkeys(self._flat, 0)
        self._writer = pq.ParquetWriter(
            path / self.name, schema, compression="zstd", use_dictionary=dictionary,
            write_statistics=statistics,
        )  # fmt: skip

    def write(self, data: pa.RecordBatch | pa.Table) -> None:
        self._writer.write(data, row_group_size=self.row_group_rows)
        self.rows += data.num_rows
        for column in self._flat:
            self._nulls[column] += data.column(column).null_count

    def close(self):
        """Finish the file; its AddAction."""
        import json

        from deltalake.transaction import AddAction

        self._writer.close()
        stats = json.dumps({"numRecords": self.rows, "nullCount": self._nulls})
        size = (self.path / self.name).stat().st_size
        return AddAction(self.name, size, {}, int(time.time() * 1000), True, stats)


def overwrite_ordered(
    path: Path,
    batches: pa.RecordBatchReader | list[pa.RecordBatchReader],
    *,
    row_group_rows: int,
) -> int:
    """``overwrite`` from a stream, keeping the stream's row order (embedded engine only);
    rows written. The batches go as they come into one Parquet file (row groups of at
    most ``row_group_rows``), then one commit adds it and drops the old files, so memory
    is one batch and a crash before the commit leaves the old version. (delta-rs's own
    writer takes a stream in parallel: a 1 M-row table came back in another order.)

    A list of streams is written one after the other, each into its own file (none for
    a stream without rows): rows a later run deletes together (the dedupe gate's
    provisional references) then sit in files of their own, and the delete drops those
    files without rewriting the others, which readers copying by file keep
    (dbt/macros/lake_staging.sql)."""
    from deltalake import Schema
    from deltalake.transaction import create_table_with_add_actions

    streams = batches if isinstance(batches, list) else [batches]
    schema = streams[0].schema
    path.mkdir(parents=True, exist_ok=True)
    adds, rows = [], 0
    for stream in streams:
        part = None
        for batch in stream:
            if batch.num_rows:
                part = part or _ParquetPart(path, schema, row_group_rows=row_group_rows)
                part.write(batch)
        if part is not None:
            adds.append(part.close())
            rows += part.rows
    if not adds:  # no rows at all: one file of none, so that the table is written
        adds.append(_ParquetPart(path, schema, row_group_rows=row_group_rows).close())
    table = open_table(path)
    if table is None:
        create_table_with_add_actions(str(path), Schema.from_arrow(schema), adds)
    else:
        table.create_write_transaction(adds, "overwrite", schema)
    return rows


class AppendFiles:
    """Rows appended to a Delta table in one commit, written before it (embedded engine
    only): ``write`` puts them into Parquet files in the table's directory as they come
    (a new file every ``FILE_ROWS`` rows), ``commit`` adds every file in one transaction,
    ``discard`` deletes them. Memory is one batch, however many rows are appended.

    Until ``commit`` the files are in the directory but not in the Delta log, and Delta
    readers see only the files the log adds: a crash or a ``discard`` leaves the table
    as it was (a stray file of a crash is removed by ``vacuum``, never read). If the table
    exists with another schema (an older contract), the commit appends the written rows
    through ``append``'s schema merge instead, streamed from the files, then deletes them.

    ``dictionary=False`` writes no dictionary pages: for rows that are mostly distinct
    values (a register's IDs, names, addresses, row hashes) written a block of ~15,000
    rows at a time, each row group's dictionary holds nearly every value, costing ~25 % of
    the write and making the file ~10 % bigger (a hukou snapshot's bronze rows).
    ``statistics``: the columns whose min/max go into the row groups (all by default);
    readers skip row groups by them only for the columns they filter on.
    """

    FILE_ROWS = 1_000_000
    ROW_GROUP_ROWS = 131_072

    def __init__(
        self, path: Path, schema: pa.Schema, *, dictionary: bool = True,
        statistics: bool | list[str] = True,
    ) -> None:  # fmt: skip
        path.mkdir(parents=True, exist_ok=True)
        self.path, self.schema, self.dictionary = path, schema, dictionary
        self.statistics = statistics
        self.num_rows = 0
        self._part: _ParquetPart | None = None
        self._adds: list = []

    def write(self, data: pa.RecordBatch | pa.Table) -> None:
        if not data.num_rows:
            return
        data = data.select(self.schema.names).cast(self.schema)
        if self._part is None:
            self._part = _ParquetPart(
                self.path, self.schema, row_group_rows=self.ROW_GROUP_ROWS,
                dictionary=self.dictionary, statistics=self.statistics,
            )  # fmt: skip
        self._part.write(data)
        self.num_rows += data.num_rows
        if self._part.rows >= self.FILE_ROWS:
            self._close_part()

    def next_file(self) -> None:
        """Rows written from now on go into a new file (see ``overwrite_ordered``)."""
        self._close_part()

    def _close_part(self) -> None:
        if self._part is not None:
            self._adds.append(self._part.close())
            self._part = None

    @property
    def files(self) -> list[Path]:
        names = [a.path for a in self._adds] + ([self._part.name] if self._part else [])
        return [self.path / name for name in names]

    def commit(self) -> int:
        """One commit adding every file written (none if no rows); rows committed."""
        from deltalake import Schema
        from deltalake.transaction import create_table_with_add_actions

        self._close_part()
        if not self._adds:
            return 0
        table = open_table(self.path)
        # the table's column order: readers match a file's columns by name
        same = _in_order_of(table, self.schema) if table is not None else None
        if table is None:
            create_table_with_add_actions(
                str(self.path), Schema.from_arrow(self.schema), self._adds
            )
        elif same is not None:
            adds = self._adds

            def append_files() -> None:
                DeltaTable(str(self.path)).create_write_transaction(adds, "append", same)

            retry(append_files)
        else:
            write_deltalake(str(self.path), self._written(), mode="append", schema_mode="merge")
            self.discard()
        rows, self._adds = self.num_rows, []
        return rows

    def _written(self) -> pa.RecordBatchReader:
        """The rows written so far, read back a batch at a time."""
        import pyarrow.parquet as pq

        def batches() -> Iterator[pa.RecordBatch]:
            for file in self.files:
                yield from pq.ParquetFile(file).iter_batches(batch_size=65_536)

        return pa.RecordBatchReader.from_batches(self.schema, batches())

    def discard(self) -> None:
        """Delete the files written; the table is as it was."""
        if self._part is not None:
            self._part._writer.close()
        for file in self.files:
            file.unlink(missing_ok=True)
        self._part, self._adds = None, []


def _in_order_of(table: DeltaTable, schema: pa.Schema) -> pa.Schema | None:
    """``schema`` with its fields in ``table``'s order if the table has exactly these
    columns and types (a schema merge puts new columns last); None if it has not."""
    from deltalake import Schema

    names = [f.name for f in table.schema().fields]
    if sorted(names) != sorted(schema.names):
        return None
    ordered = pa.schema([schema.field(n) for n in names])
    return ordered if Schema.from_arrow(ordered) == table.schema() else None


class DeltaRs:
    """The embedded engine's ``LakeIO``: the module's delta-rs operations."""

    name = "delta-rs"
    exists = staticmethod(exists)
    read_arrow = staticmethod(read_arrow)
    append = staticmethod(append)
    overwrite = staticmethod(overwrite)
    delete_where = staticmethod(delete_where)
    read_matching = staticmethod(read_matching)
    read_distinct = staticmethod(read_distinct)
    count_by = staticmethod(count_by)
    merge_delete = staticmethod(merge_delete)
    merge_update = staticmethod(merge_update)
    retry = staticmethod(retry)

    def __repr__(self) -> str:
        return "DeltaRs()"


DELTA_RS = DeltaRs()
