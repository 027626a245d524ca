"""The clean gate's one cross-table check: a returned review must be about a finding the
platform gave that district (feed finding_reviews, SOURCE_FEEDS delivery accounting).

A reviewed row (核查结论 filled) whose 核查编号 is no finding of the warehouse is
quarantined as FINDING_UNKNOWN; one about a finding of another district than the
delivering unit (or than the row's 区县代码) as FINDING_OTHER_DISTRICT. Known findings are
those of ``verify.finding_status`` (every finding ever listed, also after it left
``verify.findings``), read from the warehouse the previous run built: the worklist being
returned came from it. Rows without a decision are not reviews and pass as they are.
"""

from __future__ import annotations

import json

import pyarrow as pa

from civlake import tables
from civlake.settings import Settings

_KNOWN = "select finding_id, district_code from verify.finding_status where is_current"


def known_findings(settings: Settings) -> dict[str, str | None]:
    """finding_id -> 12-digit district code ({} before the first verify run)."""
    import duckdb

    if not settings.warehouse.exists():
        return {}
    con = duckdb.connect(str(settings.warehouse))
    try:
        return dict(con.execute(_KNOWN).fetchall())
    except duckdb.CatalogException:
        return {}
    finally:
        con.close()


def _refusal(row: dict, known: dict[str, str | None]) -> tuple[str, str] | None:
    if row.get("decision") is None:
        return None
    fid = row["finding_id"]
    if fid not in known:
        return "FINDING_UNKNOWN", (
            f"核查编号 (finding_id) {fid!r}: no such finding; return the worklist as civlake "
            "wrote it (the 核查编号 column must not be edited)"
        )
    district = (known[fid] or "")[:6]
    claimed = {(row.get("district_code") or "")[:6], row["_source_unit"]} - {""}
    if any(c != district for c in claimed):
        return "FINDING_OTHER_DISTRICT", (
            f"核查编号 (finding_id) {fid!r}: the finding belongs to district {district or '未定'}, "
            f"not to {'/'.join(sorted(claimed))} which returned it"
        )
    return None


def refuse_foreign_reviews(
    known: dict[str, str | None], silver: pa.Table, quarantine: pa.Table
) -> tuple[pa.Table, pa.Table]:
    """Move reviews of unknown or other districts' findings from silver to quarantine;
    ``known`` is :func:`known_findings` (read once per run: on Spark, on the driver)."""
    if not len(silver):
        return silver, quarantine
    rows = silver.to_pylist()
    refused = [_refusal(r, known) for r in rows]
    if not any(refused):
        return silver, quarantine
    keep = pa.array([r is None for r in refused])
    bad = [(row, why) for row, why in zip(rows, refused, strict=True) if why]
    schema = tables.schema(tables.QUARANTINE)
    names = [c for c in silver.column_names if not c.startswith("_")]
    moved = pa.Table.from_pylist(
        [
            {
                "feed_id": tables.REVIEWS_FEED, "_delivery_id": row["_delivery_id"],
                "_source_file": row["_source_file"], "_source_row": row["_source_row"],
                "raw": json.dumps({n: row[n] for n in names}, ensure_ascii=False, default=str),
                "reasons": [reason], "detail": detail, "_ingested_at": row["_ingested_at"],
            }
            for row, (reason, detail) in bad
        ],
        schema=schema,
    )  # fmt: skip
    return silver.filter(keep), pa.concat_tables([quarantine, moved])


__all__ = ["known_findings", "refuse_foreign_reviews"]
