"""The clean gate: every loaded, not yet cleaned delivery -> silver + quarantine.

A delivery is the unit of work and of idempotence. Its audit row's ``rows_silver``
is set last, so it doubles as the commit marker: a crash anywhere before it leaves the
delivery pending, and the rerun first deletes whatever half of it reached silver or
quarantine, then writes it again. A rerun with nothing pending writes nothing.
"""

from __future__ import annotations

import logging
import time
from collections import Counter
from datetime import UTC, datetime

import pyarrow as pa
import pyarrow.compute as pc

from civlake import lake, tables
from civlake.clean import carry, lake_io
from civlake.clean.divisions import load_division_map
from civlake.clean.frame import Cleaned, clean_delivery
from civlake.clean.invariants import bronze_mismatch, check_invariants
from civlake.clean.reviews import known_findings, refuse_foreign_reviews
from civlake.contracts import FeedContract, get_contract
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


def remove_superseded(settings: Settings, audit: list[dict], feeds: list[str] | None) -> dict:
    """Delete silver rows of deliveries that a resubmission replaced (Delta keeps history)."""
    removed: dict[str, int] = {}
    by_feed: dict[str, list[str]] = {}
    for a in audit:
        if a["status"] == "superseded" and (feeds is None or a["feed_id"] in feeds):
            by_feed.setdefault(a["feed_id"], []).append(a["delivery_id"])
    for feed, ids in sorted(by_feed.items()):
        n = lake_io.delete_deliveries(lake_io.silver_path(settings.lake, feed), ids)
        if n:
            removed[feed] = n
            log.info("removed %d silver rows of %d superseded %s deliveries", n, len(ids), feed)
    return removed


class _Batch:
    """Cleaned deliveries of one feed waiting to be committed together.

    One flush = delete any half-written rows of these deliveries (crash repair), one
    silver commit, one quarantine commit, then one audit commit setting rows_silver — the
    commit marker — for all of them. Small daily deliveries cost ~5 Delta commits each
    when written one by one; batched they cost 5 per feed. Flushing every ~500k rows
    bounds memory.
    """

    FLUSH_ROWS = 500_000

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self.feed: str | None = None
        self.silver: list[pa.Table] = []
        self.quarantine: list[pa.Table] = []
        self.done: list[dict] = []
        self.rows = 0

    def add(self, feed: str, silver: pa.Table, quarantine: pa.Table, done: dict) -> None:
        if self.feed is not None and feed != self.feed:
            self.flush()
        self.feed = feed
        self.silver.append(silver)
        self.quarantine.append(quarantine)
        self.done.append(done)
        self.rows += len(silver) + len(quarantine)
        if self.rows >= self.FLUSH_ROWS:
            self.flush()

    def flush(self) -> None:
        if not self.done:
            return
        root, feed = self.settings.lake, self.feed
        ids = [d["delivery_id"] for d in self.done]
        lake_io.delete_deliveries(lake_io.silver_path(root, feed), ids)
        lake_io.delete_deliveries(lake_io.quarantine_path(root), ids, feed_id=feed)
        lake_io.append(lake_io.silver_path(root, feed), _concat(self.silver))
        lake_io.append(lake_io.quarantine_path(root), _concat(self.quarantine))
        lake_io.record_cleans(root, self.done)
        self.silver, self.quarantine, self.done, self.rows = [], [], [], 0


def _concat(tables: list[pa.Table]) -> pa.Table:
    return tables[0] if len(tables) == 1 else pa.concat_tables(tables, promote_options="default")


# Deliveries of one feed cleaned in one call, up to this many bronze rows. Binding the
# macros costs ~0.5 s per call whatever the rows, and a month of 100,000 persons brings
# 235 deliveries (85 of them daily cremation records of a row or two): cleaned one by
# one that was 166 s of a 117k-row clean stage. Row-local cleaning makes the outputs
# the same (``frame.clean_delivery``); the cap keeps one call's bronze bounded.
RUN_ROWS = 500_000


def _runs(group: list[dict]) -> list[list[dict]]:
    runs: list[list[dict]] = []
    rows = 0
    for a in group:
        n = a["rows_bronze"] or 0
        if runs and rows + n <= RUN_ROWS:
            runs[-1].append(a)
            rows += n
        else:
            runs.append([a])
            rows = n
    return runs


def _clean_run(
    settings: Settings, run: list[dict], divmap: pa.Table, now: datetime, bronze_tables: dict,
    batch: _Batch, previous: dict[str, str],
) -> tuple[list[dict], list[str]]:  # fmt: skip
    """Clean these pending deliveries of one feed with one ``clean_delivery`` call and add
    each delivery's share to ``batch``; return (summaries, error lines). A full delivery
    with a cleaned predecessor in ``previous`` first takes the rows it repeats from it
    (``carry``)."""
    feed, root = run[0]["feed_id"], settings.lake
    started = time.perf_counter()
    contract = get_contract(feed, settings.schemas_dir)
    # bronze rows of an audited delivery were committed before its audit row, so one
    # open per feed and run sees them all (re-opening costs ~10 ms per delivery)
    if feed not in bronze_tables:
        bronze_tables[feed] = lake.open_table(lake_io.bronze_path(root, feed))
    handle = bronze_tables[feed]
    ids = [a["delivery_id"] for a in run]
    bronze = None if handle is None else lake_io.read_rows(handle, ids)
    # A delivery of 0 rows (an incremental with no changes) may come before the feed's
    # bronze table exists: it cleans as an empty table.
    bronze = pa.table({"_delivery_id": pa.array([], pa.string())}) if bronze is None else bronze
    found = Counter(bronze["_delivery_id"].to_pylist())
    errors, good = [], []
    for a in run:
        problem = bronze_mismatch(a, found[a["delivery_id"]])
        (errors.append(problem) if problem else good.append(a))
    if not good:
        return [], errors
    if len(good) < len(run):
        keep = pa.array([a["delivery_id"] for a in good], pa.string())
        bronze = bronze.filter(pc.is_in(bronze["_delivery_id"], value_set=keep))
    bronze, carried = _carry(settings, contract, good, bronze, divmap, previous)
    out = clean_delivery(contract, bronze, divmap=divmap, now=now)
    if feed == tables.REVIEWS_FEED:  # reviews must name a finding of that district
        known = known_findings(settings)
        out = Cleaned(*refuse_foreign_reviews(known, out.silver, out.quarantine))
    seconds = time.perf_counter() - started
    cleaned = []
    for a in good:
        did = a["delivery_id"]
        silver = out.silver.filter(pc.equal(out.silver["_delivery_id"], did))
        if did in carried:
            silver = pa.concat_tables([carried[did], silver]).sort_by(_FILE_ORDER)
        quarantine = out.quarantine.filter(pc.equal(out.quarantine["_delivery_id"], did))
        if len(silver) + len(quarantine) != found[did]:
            errors.append(f"{feed}/{did}: {found[did]} bronze rows but silver+quarantine differ")
            continue
        # one call cleaned them all: each is charged the call's time by its share of rows
        share = seconds * found[did] / len(bronze) if len(bronze) else seconds / len(good)
        batch.add(feed, silver, quarantine, {
            "feed_id": feed, "delivery_id": did, "rows_silver": len(silver),
            "rows_quarantined": len(quarantine), "cleaned_at": now, "clean_seconds": share,
        })  # fmt: skip
        n_carried = len(carried[did]) if did in carried else 0
        log.info("cleaned %s/%s: %d silver (%d carried from %s), %d quarantined in %.2fs",
                 feed, did, len(silver), n_carried, previous.get(did), len(quarantine),
                 share)  # fmt: skip
        cleaned.append({
            "feed_id": feed, "delivery_id": did, "rows_bronze": found[did],
            "rows_silver": len(silver), "rows_quarantined": len(quarantine),
            "rows_carried": n_carried, "clean_seconds": round(share, 3),
        })  # fmt: skip
    return cleaned, errors


_FILE_ORDER = [("_source_file", "ascending"), ("_source_row", "ascending")]


def _carry(
    settings: Settings, contract: FeedContract, good: list[dict], bronze: pa.Table,
    divmap: pa.Table, previous: dict[str, str],
) -> tuple[pa.Table, dict[str, pa.Table]]:  # fmt: skip
    """(bronze rows still to clean, carried silver rows per delivery)."""
    carried: dict[str, pa.Table] = {}
    if not any(a["delivery_id"] in previous for a in good):
        return bronze, carried
    parts = []
    for a in good:
        did = a["delivery_id"]
        mine = bronze.filter(pc.equal(bronze["_delivery_id"], did))
        if did in previous:
            prior = carry.read_previous(settings.lake, contract.feed_id, previous[did])
            split = carry.carry(contract, mine, prior, divmap)
            carried[did], mine = split.silver, split.rest
        parts.append(mine)
    return pa.concat_tables(parts), carried


def clean_pending(
    settings: Settings, *, feeds: list[str] | None = None, now: datetime, carry_rows: bool = True
) -> dict:
    """Clean every pending delivery (optionally of ``feeds`` only); return a summary.

    On the embedded engine the rows a full snapshot repeats from the unit's previous one
    are carried, not cleaned again (``civlake.clean.carry``; ``carry_rows=False`` cleans
    every row, the reference the tests compare with).

    Raises ``CleanGateError`` after doing all it can when a delivery could not be
    cleaned (no divisions data, bronze not matching its audit row) or the lake does not
    balance afterwards; the error carries the summary.
    """
    if now.tzinfo is None:
        now = now.replace(tzinfo=UTC)
    for feed in feeds or []:
        get_contract(feed, settings.schemas_dir)  # a typo in feeds fails here, by name
    audit = lake_io.read_audit(settings.lake)
    summary: dict = {
        "cleaned": [], "superseded_removed": remove_superseded(settings, audit, feeds),
        "errors": [], "rows_silver": 0, "rows_quarantined": 0,
    }  # fmt: skip
    divmap, blocked, bronze_tables = None, [], {}
    spark = lake.active_spark()
    batch = _Batch(settings)
    pending = _pending(audit, feeds)
    previous = carry.predecessors(audit, pending) if carry_rows else {}
    for group in _groups(pending):
        feed = group[0]["feed_id"]
        contract = get_contract(feed, settings.schemas_dir)
        if divmap is None or feed == "divisions":
            batch.flush()  # the division map reads what divisions deliveries wrote
            divmap = load_division_map(settings.lake, today=now.date())
        if divmap is None and _needs_divisions(contract):
            blocked += [f"{a['feed_id']}/{a['delivery_id']}" for a in group]
            continue
        dm = divmap if divmap is not None else _EMPTY_DIVMAP
        if spark is None:
            cleaned, errors = [], []
            for run in _runs(group):
                done, failed = _clean_run(settings, run, dm, now, bronze_tables, batch, previous)
                cleaned, errors = cleaned + done, errors + failed
        else:
            from civlake.clean import spark_job

            cleaned, errors = spark_job.clean_feed(spark, settings, contract, group, dm, now)
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
    done = {(d["feed_id"], d["delivery_id"]) for d in summary["cleaned"]}
    if done:
        summary["errors"] += check_invariants(settings, deliveries=done)
    if summary["errors"]:
        raise CleanGateError("clean gate: " + " | ".join(summary["errors"]), summary)
    return summary


__all__ = ["CleanGateError", "clean_pending", "remove_superseded"]
