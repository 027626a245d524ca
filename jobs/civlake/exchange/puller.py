"""Pull the exchange platform's API feeds into bronze, page by atomic page.

Per API feed: list snapshots (oldest first); skip those already in ``ingest_audit`` (loaded
by file or API: one delivery, one audit row); pull the rest in order. Each page is one bronze
commit carrying the cursor that follows it, so after a crash the pull resumes from the last
committed page: no page is loaded twice, none is missed. A finished snapshot is reconciled
(``rows`` of the listing vs records committed) and gets its audit row, channel ``api``.

Expired cursor (410): the snapshot is walked again from its first record and records at
positions already committed are skipped. That is safe because a snapshot is immutable and
its record positions are stable however it is paged (SOURCE_FEEDS.md section 4), so position
p of the re-walk is the very record committed at p before; the page that straddles the
committed boundary contributes only its new tail, committed with that page's next cursor.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from datetime import datetime
from types import SimpleNamespace

from civlake.contracts import FeedContract, load_contracts
from civlake.engine.lake_io import LakeIO
from civlake.engine.runtime import EMBEDDED, Engine
from civlake.exchange import accounting, pages
from civlake.exchange.accounting import PullSummary
from civlake.exchange.client import (
    CursorExpired,
    ExchangeAuthError,
    ExchangeClient,
    ExchangeError,
    ExchangeNotFound,
    RetryPolicy,
)
from civlake.ingest import audit, bronze
from civlake.ingest.landing import _supersession
from civlake.settings import Settings

Progress = Callable[[str], None]
MAX_RESTARTS = 20  # 410s per snapshot before we call the platform broken
MAX_EMPTY_PAGES = 100  # pages without records but with a next cursor


def _walk(
    client: ExchangeClient,
    settings: Settings,
    contract: FeedContract,
    snap: dict,
    state: pages.Progress | None,
    *,
    now: datetime,
    page_size: int,
    summary: PullSummary,
    progress: Progress | None,
    io: LakeIO,
) -> int:
    """Page through the snapshot from where bronze stands; returns records committed in all."""
    feed_id, sid = contract.feed_id, snap["snapshot_id"]
    committed = state.rows if state else 0
    cursor = state.next_cursor if state else None
    if state is not None and cursor is None:
        return committed  # every page is in; only the audit row was missing
    walked, restarts, empty = committed, 0, 0
    path = f"/v1/datasets/{feed_id}/records"
    while True:
        what = f"{feed_id}/{sid} (records after position {walked})"
        try:
            body = client.get_json(
                path, {"snapshot_id": sid, "cursor": cursor, "limit": page_size}, what=what
            )
        except CursorExpired:
            restarts += 1
            summary.restarts += 1
            if restarts > MAX_RESTARTS:
                raise ExchangeError(
                    f"{feed_id}/{sid}: cursor expired {restarts} times; the platform is not "
                    "keeping cursors alive long enough to page through it. Report it to the "
                    "exchange operator; committed pages are kept and a rerun resumes."
                ) from None
            cursor, walked = None, 0
            continue
        records, nxt = body.get("records"), body.get("next_cursor")
        if body.get("snapshot_id") not in (None, sid) or not isinstance(records, list):
            raise ExchangeError(f"{what}: malformed page {str(body)[:300]}")
        first = walked + 1
        walked += len(records)
        fresh = records[max(0, committed - first + 1) :] if walked > committed else []
        if fresh:
            table = pages.page_table(
                fresh, contract, first_position=committed + 1, next_cursor=nxt,
                snapshot=snap, ingested_at=now,
            )  # fmt: skip
            pages.append_page(settings.lake, feed_id, table, io=io)
            committed += len(fresh)
            summary.pages += 1
            summary.rows_bronze += len(fresh)
            if progress:
                progress(f"{feed_id}/{sid}: page committed, rows {committed - len(fresh) + 1}"
                         f"-{committed}")  # fmt: skip
        if nxt is None:
            return committed
        empty = 0 if records else empty + 1
        if empty > MAX_EMPTY_PAGES:
            raise ExchangeError(f"{what}: {empty} empty pages in a row; the platform loops")
        cursor = nxt


def _pull_snapshot(
    client: ExchangeClient,
    settings: Settings,
    contract: FeedContract,
    snap: dict,
    state: pages.Progress | None,
    prior: list[dict],
    *,
    now: datetime,
    page_size: int,
    summary: PullSummary,
    progress: Progress | None,
    io: LakeIO,
) -> dict:
    feed_id, sid = contract.feed_id, str(snap.get("snapshot_id"))
    started = time.perf_counter()
    try:
        accounting.check_listing(snap, contract)
        if state is not None and not state.consistent:
            # Positions with gaps cannot come from contiguous page commits: start clean.
            bronze.remove_delivery(settings.lake, feed_id, sid, io=io)
            state = None
        received = _walk(client, settings, contract, snap, state, now=now,
                         page_size=page_size, summary=summary, progress=progress,
                         io=io)  # fmt: skip
        if received != snap["rows"]:
            bronze.remove_delivery(settings.lake, feed_id, sid, io=io)
            raise accounting.Rejected(
                "ROWCOUNT_MISMATCH",
                f"{feed_id}/{sid}: the snapshot list declares {snap['rows']} records, the API "
                f"served {received}; its bronze rows were removed. Ask the exchange operator "
                "to republish the snapshot.",
            )
        meta = SimpleNamespace(
            mode=snap["mode"], source_unit=pages.source_unit(sid), period=snap["period"],
            produced_at_ts=datetime.fromisoformat(snap["produced_at"]),
        )  # fmt: skip
        newer_by, older = _supersession(meta, prior)
        row = accounting.audit_row(
            snap, feed_id, status="superseded" if newer_by else "loaded",
            superseded_by=newer_by, rows_bronze=received,
            fingerprint=accounting.fingerprint(settings, feed_id, sid, io=io),
        )  # fmt: skip
    except accounting.Rejected as exc:
        older = []
        row = accounting.audit_row(snap, feed_id, status="rejected", reject_reason=exc.reason,
                         reject_detail=exc.detail, rows_bronze=0)  # fmt: skip
    row["ingested_at"] = audit.now_utc(now)
    row["ingest_seconds"] = time.perf_counter() - started
    audit.append_row(settings.lake, row, io=io)
    for old in older:
        audit.mark_superseded(settings.lake, feed_id, old, sid, io=io)
    return row


def _pull_feed(
    client: ExchangeClient,
    settings: Settings,
    contract: FeedContract,
    *,
    now: datetime,
    page_size: int,
    progress: Progress | None,
    io: LakeIO,
) -> PullSummary:
    feed_id = contract.feed_id
    summary = PullSummary()
    try:
        listing = client.get_json(
            f"/v1/datasets/{feed_id}/snapshots", {}, what=f"{feed_id} (snapshot list)"
        ).get("snapshots")
    except ExchangeNotFound as exc:
        summary.problems.append(f"{exc}; is the feed published on this platform?")
        return summary
    if not isinstance(listing, list):
        raise ExchangeError(f"{feed_id}: snapshot list is not a list; check CIVLAKE_EXCHANGE_URL")
    prior = audit.read_audit(settings.lake, feed_id, io=io)
    done = {r["delivery_id"] for r in prior}
    states = pages.committed(settings.lake, feed_id, exclude=done)
    listed = {str(s.get("snapshot_id")) for s in listing if isinstance(s, dict)}
    for sid in sorted(set(states) - done - listed):
        summary.problems.append(
            f"{feed_id}/{sid}: partly pulled but no longer listed by the platform; its rows "
            "stay in bronze unaudited (not used downstream) until the operator republishes it"
        )
    for snap in listing:
        sid = str(snap.get("snapshot_id")) if isinstance(snap, dict) else None
        if sid is None:
            raise ExchangeError(f"{feed_id}: snapshot list entry {snap!r} has no snapshot_id")
        if sid in done:
            summary.skipped += 1
            continue
        try:
            row = _pull_snapshot(client, settings, contract, snap, states.get(sid), prior,
                                 now=now, page_size=page_size, summary=summary,
                                 progress=progress, io=io)  # fmt: skip
        except ExchangeNotFound as exc:
            summary.problems.append(f"{exc}; it was listed a moment ago, rerun to retry")
            continue
        done.add(sid)
        summary.new_deliveries.append(sid)
        if row["status"] == "rejected":
            summary.rejected += 1
            summary.problems.append(f"{feed_id}/{sid}: {row['reject_reason']}: "
                                    f"{row['reject_detail']}")  # fmt: skip
        else:
            setattr(summary, row["status"], getattr(summary, row["status"]) + 1)
        prior = audit.read_audit(settings.lake, feed_id, io=io)  # supersession may have changed
        if progress:
            progress(f"{feed_id}/{sid}: {row['status']} ({row.get('rows_bronze') or 0} rows)")
    return summary


def pull_api_feeds(
    settings: Settings,
    *,
    base_url: str,
    token: str | None,
    now: datetime,
    feeds: list[str] | None = None,
    page_size: int = 1000,
    progress: Progress | None = None,
    policy: RetryPolicy | None = None,
    sleep: Callable[[float], None] = time.sleep,
    engine: Engine = EMBEDDED,
) -> dict[str, PullSummary]:
    """Pull every new snapshot of the API feeds (or ``feeds``) into the lake through
    ``engine``'s lake I/O; {feed_id: PullSummary}."""
    contracts = load_contracts(settings.schemas_dir)
    api_feeds = sorted(f for f, c in contracts.items() if c.api)
    chosen = list(feeds) if feeds else api_feeds
    if bad := [f for f in chosen if f not in api_feeds]:
        raise ValueError(f"not API feeds: {bad}; the exchange serves {api_feeds}")
    if not token:
        raise ExchangeAuthError(
            f"no exchange token for {', '.join(chosen)}: set CIVLAKE_EXCHANGE_TOKEN or the "
            "password of the Airflow connection 'civlake_exchange'; nothing was loaded."
        )
    if page_size < 1:
        raise ValueError(f"page_size must be positive, got {page_size}")
    out: dict[str, PullSummary] = {}
    with ExchangeClient(base_url, token, policy=policy, sleep=sleep) as client:
        for feed_id in chosen:
            # ExchangeAuthError and ExchangeUnavailable propagate: the task fails loudly and
            # a rerun resumes from the committed pages.
            out[feed_id] = _pull_feed(client, settings, contracts[feed_id], now=now,
                                      page_size=page_size, progress=progress,
                                      io=engine.lake)  # fmt: skip
    return out
