"""The clean gate: every loaded, not yet cleaned delivery -> silver + quarantine.

A delivery is the unit of work and of idempotence. Its audit row's ``rows_silver``
is set last, so it doubles as the commit marker: a crash anywhere before it leaves the
delivery pending, and the rerun first deletes whatever half of it reached silver or
quarantine, then writes it again. A rerun with nothing pending writes nothing.

On the embedded engine deliveries are read, cleaned and committed ``runs.SLICE_ROWS``
rows at a time (``runs``), so a 10-million-row snapshot never sits in memory whole. The
ledger is read once per call: what it decides and the final balance check
(``check_invariants``) both use that read, with the counts this call recorded.
"""

from __future__ import annotations

import logging
from datetime import UTC, datetime

import pyarrow as pa

from civlake.clean import carry, lake_io, runs
from civlake.clean.divisions import load_division_map
from civlake.clean.invariants import check_invariants
from civlake.contracts import FeedContract, get_contract
from civlake.engine.lake_io import LakeIO
from civlake.engine.runtime import EMBEDDED, Engine
from civlake.settings import Settings

log = logging.getLogger(__name__)
_NO_DIVISIONS = (
    "no divisions data: silver.divisions is empty, so division codes cannot be validated. "
    "Deliver the divisions feed (统计用区划代码, landing/divisions/<delivery>/), ingest it, "
    "then rerun the clean gate; these deliveries were left pending: {}"
)


_EMPTY_DIVMAP = pa.table({"code": pa.array([], pa.string()), "current": pa.array([], pa.string())})


class CleanGateError(RuntimeError):
    """Some deliveries could not be cleaned; ``summary`` holds what was done."""

    def __init__(self, message: str, summary: dict) -> None:
        super().__init__(message)
        self.summary = summary


def _needs_divisions(contract: FeedContract) -> bool:
    return any(c.kind == "division" for c in contract.columns)


def _pending(audit: list[dict], feeds: list[str] | None) -> list[dict]:
    todo = [
        a for a in audit
        if a["status"] == "loaded" and a["rows_silver"] is None
        and (feeds is None or a["feed_id"] in feeds)
    ]  # fmt: skip
    # divisions first: every other feed validates its codes against silver.divisions
    return sorted(
        todo,
        key=lambda a: (a["feed_id"] != "divisions", a["feed_id"], a["produced_at"] or "",
                       a["delivery_id"]),
    )  # fmt: skip


def _groups(pending: list[dict]) -> list[list[dict]]:
    """Runs of pending deliveries of one feed, cleaned with one division map (on Spark: one
    job). Each divisions delivery is a run of its own: the map is reloaded after it."""
    groups: list[list[dict]] = []
    for a in pending:
        if groups and groups[-1][0]["feed_id"] == a["feed_id"] != "divisions":
            groups[-1].append(a)
        else:
            groups.append([a])
    return groups


def remove_superseded(
    settings: Settings, audit: list[dict], feeds: list[str] | None, *, io: LakeIO
) -> dict:
    """Delete silver rows of deliveries that a resubmission replaced (Delta keeps history)."""
    removed: dict[str, int] = {}
    by_feed: dict[str, list[str]] = {}
    for a in audit:
        if a["status"] == "superseded" and (feeds is None or a["feed_id"] in feeds):
            by_feed.setdefault(a["feed_id"], []).append(a["delivery_id"])
    for feed, ids in sorted(by_feed.items()):
        n = lake_io.delete_deliveries(lake_io.silver_path(settings.lake, feed), ids, io=io)
        if n:
            removed[feed] = n
            log.info("removed %d silver rows of %d superseded %s deliveries", n, len(ids), feed)
    return removed


def _runs(group: list[dict]) -> list[list[dict]]:
    """Deliveries of one feed cleaned in one call, up to ``runs.SLICE_ROWS`` bronze rows
    (binding the macros costs ~0.5 s per call); a larger delivery is a run of its own,
    cleaned a slice at a time."""
    out: list[list[dict]] = []
    rows = 0
    for a in group:
        n = a["rows_bronze"] or 0
        if out and rows + n <= runs.SLICE_ROWS:
            out[-1].append(a)
            rows += n
        else:
            out.append([a])
            rows = n
    return out


def clean_pending(
    settings: Settings, *, feeds: list[str] | None = None, now: datetime, carry_rows: bool = True,
    engine: Engine = EMBEDDED,
) -> dict:  # fmt: skip
    """Clean every pending delivery (optionally of ``feeds`` only); return a summary.

    ``engine`` runs it: on Spark each feed's run of deliveries is one Spark job
    (``spark_job``). On the embedded engine the rows a full snapshot repeats from the
    unit's previous one are carried, not cleaned again (``civlake.clean.carry``;
    ``carry_rows=False`` cleans every row, the reference the tests compare with).

    Raises ``CleanGateError`` after doing all it can when a delivery could not be
    cleaned (no divisions data, bronze not matching its audit row) or the lake does not
    balance afterwards; the error carries the summary.
    """
    if now.tzinfo is None:
        now = now.replace(tzinfo=UTC)
    for feed in feeds or []:
        get_contract(feed, settings.schemas_dir)  # a typo in feeds fails here, by name
    io = engine.lake
    audit = lake_io.read_audit(settings.lake, io=io)
    summary: dict = {
        "cleaned": [], "superseded_removed": remove_superseded(settings, audit, feeds, io=io),
        "errors": [], "rows_silver": 0, "rows_quarantined": 0,
    }  # fmt: skip
    divmap, blocked, handles = None, [], {}
    batch = runs.Batch(settings)
    pending = _pending(audit, feeds)
    previous = carry.predecessors(audit, pending) if carry_rows else {}
    for group in _groups(pending):
        feed = group[0]["feed_id"]
        contract = get_contract(feed, settings.schemas_dir)
        if divmap is None or feed == "divisions":
            batch.flush()  # the division map reads what divisions deliveries wrote
            divmap = load_division_map(settings.lake, today=now.date(), io=io)
        if divmap is None and _needs_divisions(contract):
            blocked += [f"{a['feed_id']}/{a['delivery_id']}" for a in group]
            continue
        dm = divmap if divmap is not None else _EMPTY_DIVMAP
        if not engine.on_spark:
            cleaned, errors = [], []
            for run in _runs(group):
                done, failed = runs.clean_run(settings, run, dm, now, handles, batch, previous)
                cleaned, errors = cleaned + done, errors + failed
        else:
            from civlake.clean import spark_job

            cleaned, errors = spark_job.clean_feed(engine, settings, contract, group, dm, now)
        summary["errors"] += errors
        for done in cleaned:
            summary["cleaned"].append(done)
            summary["rows_silver"] += done["rows_silver"]
            summary["rows_quarantined"] += done["rows_quarantined"]
        if feed == "divisions":
            divmap = None  # reload: the new release changes what is current
    batch.flush()
    if blocked:
        waiting = [
            a["delivery_id"] for a in audit
            if a["feed_id"] == "divisions" and a["status"] == "loaded" and a["rows_silver"] is None
        ]  # fmt: skip
        hint = (
            f" (divisions deliveries {', '.join(waiting)} are loaded but not cleaned: "
            "run the gate for divisions, or without a feeds filter)"
            if waiting else ""
        )  # fmt: skip
        summary["errors"].append(_NO_DIVISIONS.format(", ".join(blocked)) + hint)
    done = {(d["feed_id"], d["delivery_id"]): d for d in summary["cleaned"]}
    if done:
        # the ledger as read above, with the counts just recorded: one read per call
        ledger = [
            {**a, **{k: done[key][k] for k in ("rows_silver", "rows_quarantined")}}
            for a in audit if (key := (a["feed_id"], a["delivery_id"])) in done
        ]  # fmt: skip
        summary["errors"] += check_invariants(
            settings, deliveries=set(done), audit=ledger, engine=engine
        )
    if summary["errors"]:
        raise CleanGateError("clean gate: " + " | ".join(summary["errors"]), summary)
    return summary


__all__ = ["CleanGateError", "clean_pending", "remove_superseded"]
