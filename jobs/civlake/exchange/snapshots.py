"""What the simulator serves: the API feeds' JSONL deliveries of a landing folder as snapshots.

Each loadable JSONL delivery of an ``api: true`` feed becomes one snapshot with the same id,
period, mode, row count and ``produced_at`` (SOURCE_FEEDS.md section 4). Deliveries that the
file channel would reject or leave pending (no manifest, broken manifest, sha256 or row
count that does not match, a non-JSONL file) are not published: the exchange platform only
serves what its producer finished.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

from civlake.contracts import FeedContract, load_contracts
from civlake.ingest.landing import discover
from civlake.ingest.manifest import DeliveryRejected, read_manifest
from civlake.osutil import sha256_file


@dataclass(frozen=True)
class Snapshot:
    snapshot_id: str
    period: str
    mode: str
    produced_at: str
    # A record is the delivered JSON object; a line that is not one is served as its raw
    # text, so the puller quarantines it exactly as the file channel would (ROW_MALFORMED).
    records: tuple[dict | str, ...]
    # Fault simulation: a listing that declares a count other than what is served.
    declared_rows: int | None = None

    @property
    def rows(self) -> int:
        return len(self.records)

    def listing(self) -> dict:
        return {
            "snapshot_id": self.snapshot_id,
            "period": self.period,
            "mode": self.mode,
            "rows": self.rows if self.declared_rows is None else self.declared_rows,
            "produced_at": self.produced_at,
        }


def _records(path: Path) -> list[dict | str]:
    out: list[dict | str] = []
    with path.open(encoding="utf-8-sig") as fh:
        for line in fh:
            if not line.strip():
                continue
            try:
                obj = json.loads(line)
            except json.JSONDecodeError:
                obj = None
            out.append(obj if isinstance(obj, dict) else line.rstrip("\r\n"))
    return out


def load_delivery(folder: Path, contract: FeedContract) -> Snapshot | None:
    """The delivery as a snapshot, or None when it is not a complete, consistent JSONL one."""
    try:
        manifest = read_manifest(folder, contract)
    except DeliveryRejected:
        return None
    records: list[dict | str] = []
    for f in manifest.files:
        path = folder / f.name
        if path.suffix.lower() != ".jsonl" or sha256_file(path) != f.sha256:
            return None
        try:
            found = _records(path)
        except UnicodeDecodeError:
            return None
        if len(found) != f.rows:
            return None
        records.extend(found)
    return Snapshot(
        snapshot_id=manifest.delivery_id,
        period=manifest.period,
        mode=manifest.mode,
        produced_at=manifest.produced_at,
        records=tuple(records),
    )


def load_snapshots(data: Path, schemas_dir: Path | None = None) -> dict[str, list[Snapshot]]:
    """{feed_id: snapshots oldest first} for every API feed (empty list when none landed)."""
    contracts = load_contracts(schemas_dir)
    out: dict[str, list[Snapshot]] = {}
    for feed_id, contract in sorted(contracts.items()):
        if not contract.api:
            continue
        complete, _pending = discover(data, feed_id)
        snaps = [s for folder in complete if (s := load_delivery(folder, contract)) is not None]
        snaps.sort(key=lambda s: (datetime.fromisoformat(s.produced_at), s.snapshot_id))
        out[feed_id] = snaps
    return out
