"""Caseworker decisions posted to the API (核查反馈): looked up and written as a delivery.

A review posted to ``POST /api/v1/findings/{id}/review`` is written into the landing
folder as a one-row JSONL delivery of the feed ``finding_reviews`` (manifest last), so
there is one path in: the next ``civlake run`` ingests, cleans and applies it exactly as
it does a returned worklist, with the same accounting and quarantine.
"""

from __future__ import annotations

import json
import tempfile
from datetime import datetime
from pathlib import Path

import duckdb

from civlake.ingest.deliver import deliver
from civlake.settings import Settings

DECISIONS = ("属实", "不属实", "已整改", "无法核实")
FEED = "finding_reviews"
_DISTRICT = "select district_code from verify.finding_status where finding_id = ? and is_current"


def finding_district(warehouse: Path, finding_id: str) -> str | None:
    """The 12-digit district of a finding ever listed, '' when it has none, None when
    the warehouse has no such finding."""
    if not warehouse.exists():
        return None
    try:
        con = duckdb.connect(str(warehouse), read_only=True)
    except duckdb.IOException:
        return None
    try:
        row = con.execute(_DISTRICT, [finding_id]).fetchone()
    except duckdb.CatalogException:
        return None
    finally:
        con.close()
    return None if row is None else (row[0] or "")


def write_review(
    settings: Settings, *, finding_id: str, district: str, decision: str, note: str | None,
    reviewer: str, agency: str, now: datetime,
) -> str:  # fmt: skip
    """Land the review as a delivery of ``finding_reviews``; returns its delivery_id."""
    row = {
        "finding_id": finding_id, "district_code": district, "decision": decision,
        "note": note, "reviewer": reviewer, "reviewed_on": now.date().isoformat(),
    }  # fmt: skip
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / f"review_{finding_id[:12]}.jsonl"
        path.write_text(json.dumps(row, ensure_ascii=False) + "\n", encoding="utf-8")
        folder = deliver(
            settings.landing, FEED, [path], source_unit=district[:6],
            period=now.strftime("%Y-%m"), produced_at=now, source_unit_name=agency,
            schemas_dir=settings.schemas_dir,
        )  # fmt: skip
    return folder.name


def worklist_file(settings: Settings, district: str) -> Path | None:
    """The district's current worklist XLSX (``<district6>_<name>_比对核查工作清单.xlsx``)."""
    found = sorted(settings.worklists_dir.glob(f"{district[:6]}_*.xlsx"))
    return found[0] if found else None
