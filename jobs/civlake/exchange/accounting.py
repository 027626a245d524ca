"""Snapshot accounting: the listing's checks, the pull summary and the audit row.

A snapshot is recorded in ``ingest_audit`` like a file delivery (channel ``api``), so
duplicates, supersession and reconciliation work the same whichever channel brought it.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass, field
from datetime import datetime

from civlake.contracts import FeedContract
from civlake.engine.lake_io import LakeIO
from civlake.exchange import pages
from civlake.ingest import audit, bronze
from civlake.ingest.landing import FeedSummary
from civlake.ingest.manifest import DELIVERY_ID, PERIOD_PATTERNS
from civlake.settings import Settings


@dataclass
class PullSummary:
    loaded: int = 0
    rejected: int = 0
    superseded: int = 0
    skipped: int = 0  # listed snapshots already audited (by file or API): no-ops
    pages: int = 0  # pages committed in this run
    rows_bronze: int = 0  # rows committed in this run
    restarts: int = 0  # snapshot re-walks after an expired cursor
    new_deliveries: list[str] = field(default_factory=list)
    problems: list[str] = field(default_factory=list)


class Rejected(Exception):
    def __init__(self, reason: str, detail: str) -> None:
        super().__init__(detail)
        self.reason, self.detail = reason, detail


def check_listing(snap: dict, contract: FeedContract) -> None:
    sid = str(snap.get("snapshot_id"))
    where = f"{contract.feed_id}/{sid}"
    if not DELIVERY_ID.match(sid):
        raise Rejected("MANIFEST_INVALID", f"{where}: snapshot_id is not YYYYMMDD-unit-seq")
    if not PERIOD_PATTERNS[contract.cadence].match(str(snap.get("period"))):
        raise Rejected("MANIFEST_INVALID", f"{where}: period {snap.get('period')!r} is not "
                        f"in the feed's {contract.cadence} format")  # fmt: skip
    if snap.get("mode") not in contract.modes:
        raise Rejected("MANIFEST_INVALID", f"{where}: mode {snap.get('mode')!r} not allowed")
    rows = snap.get("rows")
    if isinstance(rows, bool) or not isinstance(rows, int) or rows < 0:
        raise Rejected("MANIFEST_INVALID", f"{where}: rows {rows!r} is not a count")
    try:
        ts = datetime.fromisoformat(str(snap.get("produced_at")))
    except ValueError:
        ts = None
    if ts is None or ts.tzinfo is None:
        raise Rejected("MANIFEST_INVALID", f"{where}: produced_at must be ISO 8601 with offset")


def fingerprint(settings: Settings, feed_id: str, sid: str, *, io: LakeIO) -> str:
    """Identity of the snapshot's data: hash of its row hashes in position order."""
    table = io.read_arrow(
        bronze.bronze_path(settings.lake, feed_id),
        filter_sql=f"_delivery_id = '{sid.replace(chr(39), '')}' AND _format = 'api'",
        columns=["_source_row", "_row_hash"],
    )
    digest = hashlib.sha256()
    if table is not None:
        for h in table.sort_by("_source_row").column("_row_hash").to_pylist():
            digest.update(h.encode())
    return f"api:{digest.hexdigest()}"


def audit_row(snap: dict, feed_id: str, **fields) -> dict:
    sid = str(snap.get("snapshot_id"))
    rows = snap.get("rows") if isinstance(snap.get("rows"), int) else None
    files = [{"name": pages.SOURCE_FILE, "sha256": None, "rows": rows, "encoding": None}]
    row = {
        "feed_id": feed_id,
        "delivery_id": sid,
        "source_unit": pages.source_unit(sid),
        "source_unit_name": None,
        "period": snap.get("period"),
        "mode": snap.get("mode"),
        "produced_at": snap.get("produced_at"),
        "channel": "api",
        "rows_declared": rows,
        "files": json.dumps(files),
    }
    row.update(fields)
    return row


def merge_into(
    summary: FeedSummary, pulled: PullSummary, settings: Settings, feed_id: str, *, io: LakeIO
) -> None:
    """Fold a pull into the file channel's ``FeedSummary``; counts are re-read from the
    audit ledger, which now holds both channels' deliveries."""
    summary.new_deliveries.extend(pulled.new_deliveries)
    summary.problems.extend(pulled.problems)
    for name in ("loaded", "rejected", "duplicate", "superseded"):
        setattr(summary, name, 0)
    summary.rows_bronze = 0
    for row in audit.read_audit(settings.lake, feed_id, io=io):
        setattr(summary, row["status"], getattr(summary, row["status"]) + 1)
        summary.rows_bronze += row["rows_bronze"] or 0
