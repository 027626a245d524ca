"""The delivery ledger must balance: rows_declared = rows_bronze = rows_silver + rows_quarantined.

Checked against the tables themselves, not only the audit's own numbers, so a silver
write that went missing (or doubled) after a crash shows up here.
"""

from __future__ import annotations

from civlake.clean import lake_io
from civlake.engine.runtime import EMBEDDED, Engine
from civlake.settings import Settings


class InvariantError(AssertionError):
    """The lake does not balance; the message lists every violation."""


def _n(value: int | None) -> str:
    return "null" if value is None else str(value)


def bronze_mismatch(a: dict, found: int) -> str | None:
    """Why a pending delivery must not be cleaned (its bronze rows do not match its audit
    row), or None. ``a`` is its audit row, ``found`` the rows bronze holds for it."""
    if found != a["rows_bronze"] or (
        a["rows_declared"] is not None and a["rows_declared"] != a["rows_bronze"]
    ):
        feed, did = a["feed_id"], a["delivery_id"]
        return (
            f"{feed}/{did}: manifest declared {a['rows_declared']} rows, audit rows_bronze="
            f"{a['rows_bronze']}, bronze.{feed} holds {found}; the delivery was not cleaned. "
            "Re-ingest it (or repair its ingest_audit row) before cleaning."
        )
    return None


def check_invariants(
    settings: Settings,
    *,
    feeds: list[str] | None = None,
    deliveries: set[tuple[str, str]] | None = None,
    audit: list[dict] | None = None,
    engine: Engine = EMBEDDED,
) -> list[str]:
    """Every violation as one readable line (empty list: the lake balances).

    ``feeds`` / ``deliveries`` (``(feed_id, delivery_id)``) narrow the check, e.g. to
    what one gate run touched while ingestion keeps adding deliveries; with
    ``deliveries`` only their rows are counted. ``audit``: the ledger's rows as the
    caller holds them (the gate: as it read them, with the counts it just recorded),
    instead of reading the ledger again. ``engine``: whose lake I/O counts the rows.
    """
    root, io = settings.lake, engine.lake
    audit = [
        a for a in (lake_io.read_audit(root, io=io) if audit is None else audit)
        if (feeds is None or a["feed_id"] in feeds)
        and (deliveries is None or (a["feed_id"], a["delivery_id"]) in deliveries)
    ]  # fmt: skip
    out: list[str] = []
    by_feed: dict[str, list[dict]] = {}
    for a in audit:
        by_feed.setdefault(a["feed_id"], []).append(a)
    for feed, rows in sorted(by_feed.items()):
        ids = None if deliveries is None else sorted(a["delivery_id"] for a in rows)
        bronze = lake_io.count_by_delivery(lake_io.bronze_path(root, feed), delivery_ids=ids, io=io)
        silver = lake_io.count_by_delivery(lake_io.silver_path(root, feed), delivery_ids=ids, io=io)
        quarantine = lake_io.count_by_delivery(
            lake_io.quarantine_path(root), feed_id=feed, delivery_ids=ids, io=io
        )
        for a in rows:
            d, where = a["delivery_id"], f"{feed}/{a['delivery_id']}"
            if a["status"] != "loaded" and silver.get(d, 0):
                out.append(
                    f"{where}: status {a['status']} but {silver[d]} rows in silver.{feed} "
                    "(only loaded deliveries belong there; rerun the clean gate)"
                )
            if a["status"] != "loaded":
                continue
            declared, in_bronze = a["rows_declared"], a["rows_bronze"]
            if declared is not None and declared != in_bronze:
                out.append(f"{where}: rows_declared={_n(declared)} but rows_bronze={_n(in_bronze)}")
            if bronze.get(d, 0) != in_bronze:
                out.append(
                    f"{where}: audit says rows_bronze={_n(in_bronze)} but bronze.{feed} holds "
                    f"{bronze.get(d, 0)} rows; re-ingest the delivery"
                )
            if a["rows_silver"] is None or a["rows_quarantined"] is None:
                out.append(f"{where}: loaded but not cleaned yet (run the clean gate)")
                continue
            total = a["rows_silver"] + a["rows_quarantined"]
            if total != in_bronze:
                out.append(
                    f"{where}: rows_silver={a['rows_silver']} + rows_quarantined="
                    f"{a['rows_quarantined']} = {total}, not rows_bronze={_n(in_bronze)}"
                )
            if silver.get(d, 0) != a["rows_silver"]:
                out.append(
                    f"{where}: audit says rows_silver={a['rows_silver']} but silver.{feed} "
                    f"holds {silver.get(d, 0)}"
                )
            if quarantine.get(d, 0) != a["rows_quarantined"]:
                out.append(
                    f"{where}: audit says rows_quarantined={a['rows_quarantined']} but "
                    f"quarantine holds {quarantine.get(d, 0)}"
                )
    return out
