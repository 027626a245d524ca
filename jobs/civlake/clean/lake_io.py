"""Lake reads and writes of the clean gate: bronze in, silver/quarantine out, audit update.

Writes go through Delta MERGE with an Arrow source table rather than SQL predicates
built from strings: delivery ids come from upstream manifests and are never pasted into
SQL. Commit conflicts with a concurrent ingest (it appends audit rows) are retried.
Every call goes through the ``io`` it is given (the engine's ``LakeIO``: delta-rs or
delta-spark), so nothing here knows the engine; the slice readers are embedded-only.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pyarrow as pa
from deltalake import DeltaTable

from civlake import lake, tables
from civlake.engine.lake_io import LakeIO


def silver_path(root: Path, feed_id: str) -> Path:
    return tables.path(root, tables.silver(feed_id))


def quarantine_path(root: Path) -> Path:
    return tables.path(root, tables.QUARANTINE)


def audit_path(root: Path) -> Path:
    return tables.path(root, tables.INGEST_AUDIT)


def bronze_path(root: Path, feed_id: str) -> Path:
    return tables.path(root, tables.bronze(feed_id))


def read_audit(root: Path, *, io: LakeIO) -> list[dict]:
    table = io.read_arrow(audit_path(root))
    return [] if table is None else table.to_pylist()


def _match(delivery_ids: list[str], feed_id: str | None) -> dict:
    match: dict = {"_delivery_id": delivery_ids}
    if feed_id is not None:
        match["feed_id"] = feed_id
    return match


def read_rows(
    path: Path | DeltaTable, delivery_ids: list[str], *, feed_id: str | None = None, io: LakeIO
) -> pa.Table | None:
    """Rows of the table whose ``_delivery_id`` is one of ``delivery_ids`` (None: no table).

    Pass an open ``DeltaTable`` to skip re-reading the log (~10 ms per open).
    """
    return io.read_matching(path, _match(delivery_ids, feed_id))


def read_slices(
    table: Path | DeltaTable, delivery_ids: list[str], *, rows: int
) -> Iterator[pa.Table]:
    """``read_rows`` of these deliveries, ``rows`` at a time (the last slice fewer; nothing
    when there are none), in ``read_rows``'s order: a 10-million-row delivery is read a
    slice at a time, never whole (embedded engine)."""
    held: list[pa.RecordBatch] = []
    n = 0
    for batch in lake.scan_matching(
        table, _match(delivery_ids, None), batch_rows=min(rows, 65_536)
    ):
        held.append(batch)
        n += batch.num_rows
        while n >= rows:
            whole = pa.Table.from_batches(held)
            yield whole.slice(0, rows)
            rest = whole.slice(rows)
            held, n = rest.to_batches(), len(rest)
    if n:
        yield pa.Table.from_batches(held)


def count_by_delivery(
    table: Path | DeltaTable, *, feed_id: str | None = None,
    delivery_ids: list[str] | None = None, io: LakeIO,
) -> dict[str, int]:  # fmt: skip
    """Row count per ``_delivery_id`` (of ``delivery_ids`` only, if given); only the
    columns matched on are read, a batch at a time."""
    match: dict = {} if delivery_ids is None else {"_delivery_id": delivery_ids}
    if feed_id is not None:
        match["feed_id"] = feed_id
    return io.count_by(table, "_delivery_id", match=match or None)


def delete_deliveries(
    path: Path, delivery_ids: list[str], *, feed_id: str | None = None, io: LakeIO
) -> int:
    """Delete the rows of these deliveries (quarantine: of this feed only); rows deleted.
    Nothing to delete, no commit: a rerun must leave the table history alone."""
    return io.merge_delete(path, _match(delivery_ids, feed_id))


def append(path: Path, table, *, rows: int | None = None, io: LakeIO) -> None:
    """Append ``table`` (Arrow, or a Spark DataFrame of ``rows`` rows); an empty append
    only creates the table (with its schema) when there is none yet."""
    n = len(table) if rows is None else rows
    if n == 0 and io.exists(path):
        return
    io.retry(lambda: io.append(path, table))


def record_cleans(root: Path, rows: list[dict], *, io: LakeIO) -> None:
    """Set rows_silver/rows_quarantined/cleaned_at/clean_seconds of several deliveries in
    one audit commit (the commit marker of all of them)."""
    if not rows:
        return
    source = pa.table(
        {
            "feed_id": pa.array([r["feed_id"] for r in rows], pa.string()),
            "delivery_id": pa.array([r["delivery_id"] for r in rows], pa.string()),
            "rows_silver": pa.array([r["rows_silver"] for r in rows], pa.int64()),
            "rows_quarantined": pa.array([r["rows_quarantined"] for r in rows], pa.int64()),
            "cleaned_at": pa.array([r["cleaned_at"] for r in rows], pa.timestamp("us", tz="UTC")),
            "clean_seconds": pa.array([r["clean_seconds"] for r in rows], pa.float64()),
        }
    )
    io.merge_update(audit_path(root), source, on=["feed_id", "delivery_id"])
