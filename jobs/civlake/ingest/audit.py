"""The ``ingest_audit`` Delta table: one row per delivery, the ledger of what arrived."""

from __future__ import annotations

from datetime import datetime
from pathlib import Path

import pyarrow as pa

from civlake import tables
from civlake.engine.lake_io import LakeIO

SCHEMA = tables.schema(tables.INGEST_AUDIT)


def audit_path(lake_root: Path) -> Path:
    return tables.path(lake_root, tables.INGEST_AUDIT)


def read_audit(lake_root: Path, feed_id: str | None = None, *, io: LakeIO) -> list[dict]:
    table = io.read_arrow(
        audit_path(lake_root), filter_sql=None if feed_id is None else f"feed_id = '{_q(feed_id)}'"
    )
    return [] if table is None else table.to_pylist()


def _q(value: str) -> str:
    return value.replace("'", "''")


def append_row(lake_root: Path, row: dict, *, io: LakeIO) -> None:
    full = {name: row.get(name) for name in SCHEMA.names}
    io.append(audit_path(lake_root), pa.Table.from_pylist([full], schema=SCHEMA))


def append_rows(lake_root: Path, rows: list[dict], *, io: LakeIO) -> None:
    full = [{name: row.get(name) for name in SCHEMA.names} for row in rows]
    io.append(audit_path(lake_root), pa.Table.from_pylist(full, schema=SCHEMA))


def reconcile_supersession(
    lake_root: Path, feed_id: str, rows: list[dict] | None = None, *, io: LakeIO
) -> list[tuple[str, str]]:
    """Of the loaded ``full`` deliveries of one source unit and period, only the latest
    produced stays loaded; the others become ``superseded`` (by the latest).

    Idempotent, so it also repairs a crash between an audit commit and this update.
    ``rows``: the feed's ledger just read by the caller (saves a read; on Spark each is a
    job). Changed rows are updated in it too. Returns the (superseded, by) pairs changed.
    """
    latest: dict[tuple, dict] = {}
    rows = read_audit(lake_root, feed_id, io=io) if rows is None else rows
    loaded = [r for r in rows if r["status"] == "loaded" and r["mode"] == "full"]
    for r in loaded:
        key = (r["source_unit"], r["period"])
        rank = (datetime.fromisoformat(r["produced_at"]), r["delivery_id"])
        best = latest.get(key)
        if best is None or rank > (
            datetime.fromisoformat(best["produced_at"]),
            best["delivery_id"],
        ):
            latest[key] = r
    changed = []
    for r in loaded:
        winner = latest[(r["source_unit"], r["period"])]
        if winner["delivery_id"] != r["delivery_id"]:
            mark_superseded(lake_root, feed_id, r["delivery_id"], winner["delivery_id"], io=io)
            r.update(status="superseded", superseded_by=winner["delivery_id"])
            changed.append((r["delivery_id"], winner["delivery_id"]))
    return changed


def mark_superseded(
    lake_root: Path, feed_id: str, delivery_id: str, by: str, *, io: LakeIO
) -> None:
    """One audit commit: this delivery is ``superseded`` by ``by`` (a MERGE keyed on the
    ids, so they are never pasted into SQL; delta-rs or delta-spark, per ``io``)."""
    source = pa.table(
        {
            "feed_id": pa.array([feed_id], pa.string()),
            "delivery_id": pa.array([delivery_id], pa.string()),
            "status": pa.array(["superseded"], pa.string()),
            "superseded_by": pa.array([by], pa.string()),
        }
    )
    io.merge_update(audit_path(lake_root), source, on=["feed_id", "delivery_id"])


def now_utc(now: datetime) -> datetime:
    return now if now.tzinfo else now.astimezone()
