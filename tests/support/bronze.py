"""Hand-made bronze deliveries for tests (of this gate and of the gates after it).

Builds bronze rows and their ``ingest_audit`` row exactly in the layout of
docs/CONVENTIONS.md, so a test can start at "ingested" without landing files.
"""

from __future__ import annotations

import hashlib
import json
from datetime import UTC, datetime
from pathlib import Path

import pyarrow as pa

from civlake import lake
from civlake.contracts import get_contract
from civlake.identifiers import id_check_char, uscc_check_char

UTC_US = pa.timestamp("us", tz="UTC")
AUDIT_SCHEMA = pa.schema(
    [("feed_id", pa.string()), ("delivery_id", pa.string()), ("source_unit", pa.string()),
     ("source_unit_name", pa.string()), ("period", pa.string()), ("mode", pa.string()),
     ("produced_at", pa.string()), ("channel", pa.string()), ("status", pa.string()),
     ("reject_reason", pa.string()), ("reject_detail", pa.string()),
     ("rows_declared", pa.int64()), ("rows_bronze", pa.int64()), ("rows_silver", pa.int64()),
     ("rows_quarantined", pa.int64()), ("files", pa.string()), ("fingerprint", pa.string()),
     ("superseded_by", pa.string()), ("ingested_at", UTC_US), ("cleaned_at", UTC_US),
     ("ingest_seconds", pa.float64()), ("clean_seconds", pa.float64())]
)  # fmt: skip
INGESTED_AT = datetime(2026, 11, 1, 3, 0, tzinfo=UTC)


def bronze_rows(
    feed_id: str, rows: list[dict], *, delivery_id: str, source_unit: str = "440100",
    period: str = "2026-10", mode: str = "full", produced_at: str = "2026-11-01T02:00:00+08:00",
    source_file: str = "data.csv",
) -> pa.Table:  # fmt: skip
    """Bronze table for ``rows`` (dicts by contract column name; ``_malformed`` allowed)."""
    names = get_contract(feed_id).names
    data: dict[str, pa.Array] = {
        n: pa.array([_s(r.get(n)) for r in rows], pa.string()) for n in names
    }
    n = len(rows)
    data["_extra"] = pa.array([r.get("_extra") for r in rows], pa.string())
    data["_malformed"] = pa.array([r.get("_malformed") for r in rows], pa.string())
    for key, value in {
        "_delivery_id": delivery_id, "_source_file": source_file, "_source_unit": source_unit,
        "_period": period, "_mode": mode, "_produced_at": produced_at, "_format": "csv",
    }.items():  # fmt: skip
        data[key] = pa.array([value] * n, pa.string())
    data["_source_row"] = pa.array(range(1, n + 1), pa.int64())
    data["_ingested_at"] = pa.array([INGESTED_AT] * n, UTC_US)
    data["_row_hash"] = pa.array(
        [hashlib.sha256(json.dumps(r, sort_keys=True).encode()).hexdigest() for r in rows],
        pa.string(),
    )
    return pa.table(data)


def audit_row(
    feed_id: str, delivery_id: str, rows: int, *, status: str = "loaded",
    period: str = "2026-10", produced_at: str = "2026-11-01T02:00:00+08:00",
    source_unit: str = "440100", mode: str = "full", rows_declared: int | None = None,
) -> dict:  # fmt: skip
    row = dict.fromkeys(AUDIT_SCHEMA.names)
    row.update(
        feed_id=feed_id, delivery_id=delivery_id, source_unit=source_unit, period=period,
        mode=mode, produced_at=produced_at, channel="file", status=status,
        rows_declared=rows if rows_declared is None else rows_declared, rows_bronze=rows,
        ingested_at=INGESTED_AT, files="[]",
    )  # fmt: skip
    return row


def deliver(lake_root: Path, feed_id: str, rows: list[dict], *, delivery_id: str, **kw) -> None:
    """Append a delivery to ``bronze.<feed>`` and its ``loaded`` row to ``ingest_audit``."""
    audit_kw = {
        k: v for k, v in kw.items() if k in {"period", "produced_at", "source_unit", "mode"}
    }
    lake.append(
        lake.table_path(lake_root, "bronze", feed_id),
        bronze_rows(feed_id, rows, delivery_id=delivery_id, **kw),
    )
    lake.append(
        lake.table_path(lake_root, "ingest_audit"),
        pa.Table.from_pylist(
            [audit_row(feed_id, delivery_id, len(rows), **audit_kw)], AUDIT_SCHEMA
        ),
    )


def set_audit_status(lake_root: Path, feed_id: str, delivery_id: str, status: str) -> None:
    """What ingestion does on a resubmission: the earlier delivery becomes ``superseded``."""
    src = pa.table(
        {
            "feed_id": pa.array([feed_id], pa.string()),
            "delivery_id": pa.array([delivery_id], pa.string()),
            "status": pa.array([status], pa.string()),
        }
    )
    lake.merge_update(
        lake.table_path(lake_root, "ingest_audit"), src, on=["feed_id", "delivery_id"]
    )


def id18(area: str, birth: str, seq: str) -> str:
    """A valid citizen ID from its parts (check char computed)."""
    body = area + birth + seq
    return body + id_check_char(body)


def uscc18(first17: str) -> str:
    return first17 + uscc_check_char(first17)


def _s(value: object) -> str | None:
    """Bronze holds every value as delivered text (a JSON number 1120 -> "1120")."""
    return None if value is None else str(value)
