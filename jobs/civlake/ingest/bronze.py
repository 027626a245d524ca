"""Bronze writes: delivered rows + lineage columns, one Delta commit per delivery."""

from __future__ import annotations

from datetime import datetime
from pathlib import Path

import pyarrow as pa

from civlake import tables
from civlake.contracts import FeedContract
from civlake.engine.lake_io import LakeIO

LINEAGE = tables.BRONZE_LINEAGE
# The columns readers of bronze filter on (the clean gate and crash repair select a
# delivery's rows): their min/max are kept in a streamed file's row groups, the others'
# are not written (~10 % of the Parquet write of a hukou snapshot, values nobody prunes by).
FILTERED = [c for c in LINEAGE if c != "_row_hash"]


def bronze_path(lake_root: Path, feed_id: str) -> Path:
    return tables.path(lake_root, tables.bronze(feed_id))


def with_lineage(
    batch: pa.Table,
    contract: FeedContract,
    *,
    delivery_id: str,
    source_file: str,
    source_unit: str,
    period: str,
    mode: str,
    produced_at: str,
    file_format: str,
    ingested_at: datetime,
) -> pa.Table:
    """Add lineage columns and a row hash (sha256 of the delivered values: ``row_hashes``)."""
    n = batch.num_rows

    def const(value, typ=pa.string()):  # noqa: B008 (an immutable type)
        # one scalar repeated in Arrow: ~6 us for a daily delivery's few rows, ~4 ms for
        # a million (a Python list of n values cost 20 ms per 30,000 rows and column)
        return pa.repeat(pa.scalar(value, typ), n)

    table = batch
    for name, value in (
        ("_delivery_id", delivery_id),
        ("_source_file", source_file),
        ("_source_unit", source_unit),
        ("_period", period),
        ("_mode", mode),
        ("_produced_at", produced_at),
        ("_format", file_format),
    ):
        table = table.append_column(name, const(value))
    table = table.append_column("_ingested_at", const(ingested_at, pa.timestamp("us", tz="UTC")))
    hashes = row_hashes(table, [*contract.names, "_extra", "_malformed"])
    table = table.append_column("_row_hash", hashes)
    order = [*contract.names, "_extra", "_malformed", *LINEAGE]
    return table.select(order)


# Below this many rows a table is hashed with hashlib, above it with polars-hash (the
# same sha256, in Rust): ~0.27 us a row against hashlib's ~0.85 (one OpenSSL context per
# row), and without the GIL, so a streamed delivery's batches are hashed while the next
# one is parsed (landing._stream_files). The call costs ~1 ms more, which a small
# delivery (a daily file of a few rows) would feel.
GIL_FREE_ROWS = 4096


def row_hashes(table: pa.Table, columns: list[str]) -> pa.Array:
    """sha256 (hex) of each row's ``columns``: the values joined by \x1f, a null as NUL
    (so that null and "" hash differently).

    The row is joined in Arrow, then hashed with hashlib (OpenSSL) or, for a table of
    ``GIL_FREE_ROWS`` or more, polars-hash's ``sha2_256``: the same digest.
    ``sha256(a || chr(31) || coalesce(b, chr(0)) || ...)`` in DuckDB built an
    intermediate string per ``||`` (~2.5 us a row against ~1 us)."""
    import pyarrow.compute as pc

    joined = pc.binary_join_element_wise(
        *(table.column(c) for c in columns), "\x1f", null_handling="replace",
        null_replacement="\x00",
    )  # fmt: skip
    if len(joined) < GIL_FREE_ROWS:
        import hashlib

        sha256 = hashlib.sha256
        rows = joined.cast(pa.binary()).to_pylist()
        return pa.array([sha256(row).hexdigest() for row in rows], pa.string())
    import polars as pl
    import polars_hash  # noqa: F401  (registers the chash namespace)

    frame = pl.from_arrow(pa.table({"r": joined.cast(pa.large_string())}))
    digests = frame.select(pl.col("r").chash.sha2_256()).to_arrow().column(0)
    return digests.combine_chunks().cast(pa.string())


def orphan_deliveries(lake_root: Path, feed_id: str, audited: set[str], *, io: LakeIO) -> list[str]:
    """Delivery ids in bronze without an audit row: a crash between the two commits.

    API snapshots (``_format`` api) are excluded: their committed pages are the exchange
    puller's resume checkpoint, and the puller repairs them itself (civlake.exchange)."""
    table = io.read_distinct(bronze_path(lake_root, feed_id), ["_delivery_id", "_format"])
    if table is None:
        return []
    pairs = zip(
        table.column("_delivery_id").to_pylist(), table.column("_format").to_pylist(), strict=True
    )
    ids = {d for d, fmt in pairs if fmt != "api"}
    return sorted(ids - audited)


def remove_delivery(lake_root: Path, feed_id: str, delivery_id: str, *, io: LakeIO) -> int:
    """Delete a delivery's bronze rows (crash repair); the id is matched, not pasted into SQL."""
    return io.merge_delete(bronze_path(lake_root, feed_id), {"_delivery_id": delivery_id})
