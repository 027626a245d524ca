"""One run of the clean gate on the embedded engine: pending deliveries of one feed, read
from bronze, carried, cleaned and committed a slice of ``SLICE_ROWS`` rows at a time.

A delivery larger than a slice (a city's monthly hukou snapshot: ~10 M rows for
Guangzhou) is its own run, and no step holds more of it than two slices: bronze is
scanned in slices, each slice's carry reads only the previous snapshot's rows with that
slice's row hashes, and a slice is cleaned while the next is read and carried and the
one before is committed (``_cleaned``). The outputs are those of cleaning the delivery
whole because every output row
reads only its own bronze row (``frame.clean_delivery``), a carried row only the previous
snapshot's row of the same hash (``carry``), and a returned review only itself
(``reviews``). The audit row (``rows_silver``, the commit marker) is written after the
last slice: a crash between slices leaves the delivery pending, and the rerun first
deletes what of it reached silver and quarantine (``Batch.flush``).
"""

from __future__ import annotations

import itertools
import logging
import time
from collections import Counter
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import ExitStack
from datetime import datetime
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
from deltalake import DeltaTable

from civlake import lake, tables
from civlake.clean import lake_io
from civlake.clean.frame import Cleaned, clean_delivery
from civlake.clean.invariants import bronze_mismatch
from civlake.clean.repeats import Repeats
from civlake.clean.reviews import known_findings, refuse_foreign_reviews
from civlake.contracts import FeedContract, get_contract
from civlake.engine import duck
from civlake.settings import Settings

log = logging.getLogger(__name__)

# Bronze rows cleaned in one ``clean_delivery`` call, and rows a ``Batch`` holds before it
# commits. Binding the macros costs ~0.5 s per call whatever the rows, and a month of
# 100,000 persons brings 235 deliveries (85 of them daily cremation records of a row or
# two): cleaned one by one that was 166 s of a 117k-row clean stage, so small deliveries
# of a feed share a call. Cleaning hukou takes ~1 KB of Arrow memory per row at its peak
# (tests/integration/test_clean_slices.py: 64 MB for 60,000 rows), ~0.5 GB per slice:
# the clean stage's memory follows this number, not the city.
SLICE_ROWS = 500_000
_LINEAGE = ["_delivery_id", "_source_file", "_source_row"]
Handles = dict[Path, DeltaTable | None]
_IO = lake.DELTA_RS  # these runs are the embedded engine's (Spark: clean.spark_job)


def open_once(handles: Handles, path: Path) -> DeltaTable | None:
    """One open table per path and gate run (re-opening re-reads the log, ~10 ms). Enough
    for what a run reads: a pending delivery's bronze rows were committed before its
    audit row, and a previous snapshot's silver before the gate read the ledger."""
    if path not in handles:
        handles[path] = lake.open_table(path)
    return handles[path]


class Batch:
    """Cleaned rows of one feed waiting to be committed together.

    One flush = delete what earlier, crashed runs wrote of these deliveries (once per
    delivery and gate run: a delivery committed in slices is deleted before its first),
    one silver commit, one quarantine commit, then one audit commit setting rows_silver —
    the commit marker — of the deliveries whose last rows are in it. Small daily
    deliveries cost ~5 Delta commits each when written one by one; batched they cost 5
    per feed. Flushing every ``SLICE_ROWS`` rows bounds memory.
    """

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self.feed: str | None = None
        self.cleared: set[tuple[str, str]] = set()
        self._reset()

    def _reset(self) -> None:
        self.silver: list[pa.Table] = []
        self.quarantine: list[pa.Table] = []
        self.ids: list[str] = []
        self.done: list[dict] = []
        self.rows = 0

    def add(
        self, feed: str, delivery_id: str, silver: pa.Table, quarantine: pa.Table,
        done: dict | None,
    ) -> None:  # fmt: skip
        """Rows of one delivery; ``done`` (its audit update) comes with its last rows."""
        if self.feed is not None and feed != self.feed:
            self.flush()
        self.feed = feed
        self.silver.append(silver)
        self.quarantine.append(quarantine)
        if delivery_id not in self.ids:
            self.ids.append(delivery_id)
        if done is not None:
            self.done.append(done)
        self.rows += len(silver) + len(quarantine)
        if self.rows >= SLICE_ROWS:
            self.flush()

    def flush(self) -> None:
        if not self.ids:
            return
        root, feed = self.settings.lake, self.feed
        assert feed is not None
        fresh = [d for d in self.ids if (feed, d) not in self.cleared]
        lake_io.delete_deliveries(lake_io.silver_path(root, feed), fresh, io=_IO)
        lake_io.delete_deliveries(lake_io.quarantine_path(root), fresh, feed_id=feed, io=_IO)
        self.cleared.update((feed, d) for d in fresh)
        lake_io.append(lake_io.silver_path(root, feed), _concat(self.silver), io=_IO)
        lake_io.append(lake_io.quarantine_path(root), _concat(self.quarantine), io=_IO)
        lake_io.record_cleans(root, self.done, io=_IO)
        self._reset()


def _concat(parts: list[pa.Table]) -> pa.Table:
    return parts[0] if len(parts) == 1 else pa.concat_tables(parts, promote_options="default")


def _counts(column: pa.ChunkedArray) -> Counter:
    vc = pc.value_counts(column)
    return Counter(dict(zip(vc.field("values").to_pylist(), vc.field("counts").to_pylist(),
                            strict=True)))  # fmt: skip


def clean_run(
    settings: Settings, run: list[dict], divmap: pa.Table, now: datetime, handles: Handles,
    batch: Batch, previous: dict[str, str],
) -> tuple[list[dict], list[str]]:  # fmt: skip
    """Clean these pending deliveries of one feed a slice at a time and add each
    delivery's rows to ``batch``; return (summaries, error lines). A full delivery with a
    cleaned predecessor in ``previous`` first takes the rows it repeats from it."""
    started = time.perf_counter()
    feed, root = run[0]["feed_id"], settings.lake
    contract = get_contract(feed, settings.schemas_dir)
    bronze = open_once(handles, lake_io.bronze_path(root, feed))
    ids = [a["delivery_id"] for a in run]
    found = {} if bronze is None else lake_io.count_by_delivery(bronze, delivery_ids=ids, io=_IO)
    errors, good = [], []
    for a in run:
        problem = bronze_mismatch(a, found.get(a["delivery_id"], 0))
        (errors.append(problem) if problem else good.append(a))
    if not good:
        return [], errors
    known = known_findings(settings) if feed == tables.REVIEWS_FEED else None
    good_ids = [a["delivery_id"] for a in good]
    if bronze is None or not sum(found.get(did, 0) for did in good_ids):
        # only 0-row deliveries (incrementals without changes): one empty table is cleaned,
        # and its appends still create silver and quarantine
        slices = iter([pa.table({"_delivery_id": pa.array([], pa.string())})])
    else:
        slices = lake_io.read_slices(bronze, good_ids, rows=SLICE_ROWS)
    with ExitStack() as stack:
        repeats = _repeats(stack, settings, handles, contract, good_ids, previous, bronze)
        return _clean_slices(
            contract, good, found, slices, repeats, divmap, now, known, batch, previous, errors,
            started,
        )  # fmt: skip


def _repeats(
    stack: ExitStack, settings: Settings, handles: Handles, contract: FeedContract,
    ids: list[str], previous: dict[str, str], bronze: DeltaTable | None,
) -> Repeats | None:  # fmt: skip
    """The previous snapshots' rows these deliveries repeat, joined once (None: nothing
    to carry)."""
    if bronze is None or not any(did in previous for did in ids):
        return None
    silver = open_once(handles, lake_io.silver_path(settings.lake, contract.feed_id))
    if silver is None:
        return None
    return Repeats.build(stack, settings, contract, bronze, silver, ids, previous)


def _clean_slices(
    contract: FeedContract, good: list[dict], found: dict[str, int], slices, repeats,
    divmap: pa.Table, now: datetime, known, batch: Batch, previous: dict[str, str],
    errors: list[str], started: float,
) -> tuple[list[dict], list[str]]:  # fmt: skip
    feed = contract.feed_id
    seen: Counter = Counter()
    sums: dict[str, Counter] = {a["delivery_id"]: Counter() for a in good}
    failed: set[str] = set()
    for piece, here, todo, carried, out in _cleaned(
        contract, slices, repeats, good, found, divmap, now
    ):
        if known is not None:  # reviews must name a finding of that district
            out = Cleaned(*refuse_foreign_reviews(known, out.silver, out.quarantine))
        spent, started = time.perf_counter() - started, time.perf_counter()
        silvers, quarantines = _by_delivery(out.silver), _by_delivery(out.quarantine)
        for a in todo:
            did = a["delivery_id"]
            if did in failed:
                continue
            silver = silvers.get(did, out.silver.slice(0, 0))
            if len(carried.get(did, ())):
                silver = _in_bronze_order(pa.concat_tables([carried[did], silver]), piece)
            quarantine = quarantines.get(did, out.quarantine.slice(0, 0))
            if len(silver) + len(quarantine) != here[did]:
                failed.add(did)
                errors.append(
                    f"{feed}/{did}: {here[did]} bronze rows in a slice but {len(silver)} "
                    f"silver + {len(quarantine)} quarantined; the delivery stays pending "
                    "(a fault of the clean gate: report it with this line)"
                )
                continue
            seen[did] += here[did]
            share = spent * here[did] / len(piece) if len(piece) else spent / len(todo)
            sums[did].update(silver=len(silver), quarantine=len(quarantine),
                             carried=len(carried.get(did, ())), seconds=share)  # fmt: skip
            done = None
            if seen[did] == found.get(did, 0):
                s = sums[did]
                done = {
                    "feed_id": feed, "delivery_id": did, "rows_silver": s["silver"],
                    "rows_quarantined": s["quarantine"], "cleaned_at": now,
                    "clean_seconds": s["seconds"],
                }  # fmt: skip
            batch.add(feed, did, silver, quarantine, done)
    return _summaries(feed, good, found, seen, sums, failed, previous, errors), errors


def _cleaned(
    contract: FeedContract, slices: Iterator[pa.Table], repeats: Repeats | None,
    good: list[dict], found: dict[str, int], divmap: pa.Table, now: datetime,
) -> Iterator[tuple[pa.Table, Counter, list[dict], dict[str, pa.Table], Cleaned]]:  # fmt: skip
    """(slice, its rows per delivery, the deliveries in it, their carried rows, the
    cleaned rest) for each slice of bronze, in order.

    With more than one slice, each slice is cleaned in a thread of its own while this
    thread reads and carries the next and the caller commits the one before: the macros'
    queries and Arrow release the GIL, and a single hukou slice kept one of two cores
    idle half of the time. At most two slices are in flight, so memory still follows
    the slice size."""

    def prepare(piece: pa.Table, first: bool):
        here = _counts(piece["_delivery_id"])
        todo = [a for a in good if here[a["delivery_id"]] or (first and not found.get(
            a["delivery_id"], 0))]  # fmt: skip
        rest, carried = _carry(repeats, todo, piece, divmap)
        return piece, here, todo, carried, rest

    def clean(rest: pa.Table) -> Cleaned:
        return clean_delivery(contract, rest, divmap=divmap, now=now, threads=duck.cores())

    slices = iter(slices)
    head = next(slices, None)
    if head is None:
        return
    second = next(slices, None)
    if second is None:  # one slice: nothing to overlap
        piece, here, todo, carried, rest = prepare(head, True)
        yield piece, here, todo, carried, clean(rest)
        return
    with ThreadPoolExecutor(max_workers=1, thread_name_prefix="clean-slice") as pool:
        ahead = None
        for i, piece in enumerate(itertools.chain([head, second], slices)):
            *got, rest = prepare(piece, i == 0)
            job = pool.submit(clean, rest)
            if ahead is not None:
                yield *ahead[0], ahead[1].result()
            ahead = (got, job)
        yield *ahead[0], ahead[1].result()


def _summaries(
    feed: str, good: list[dict], found: dict[str, int], seen: Counter,
    sums: dict[str, Counter], failed: set[str], previous: dict[str, str], errors: list[str],
) -> list[dict]:  # fmt: skip
    """One summary per delivery cleaned in full; an error line for one read short."""
    cleaned = []
    for a in good:
        did, s = a["delivery_id"], sums[a["delivery_id"]]
        if did in failed:
            continue
        if seen[did] != found.get(did, 0):
            errors.append(f"{feed}/{did}: bronze held {found.get(did, 0)} rows when counted "
                          f"but {seen[did]} when read; rerun the clean gate")  # fmt: skip
            continue
        log.info("cleaned %s/%s: %d silver (%d carried from %s), %d quarantined in %.2fs",
                 feed, did, s["silver"], s["carried"], previous.get(did), s["quarantine"],
                 s["seconds"])  # fmt: skip
        cleaned.append({
            "feed_id": feed, "delivery_id": did, "rows_bronze": found.get(did, 0),
            "rows_silver": s["silver"], "rows_quarantined": s["quarantine"],
            "rows_carried": s["carried"], "clean_seconds": round(s["seconds"], 3),
        })  # fmt: skip
    return cleaned


def _by_delivery(table: pa.Table) -> dict[str, pa.Table]:
    """Each delivery's rows of ``table``, in the table's order. A slice brings its
    deliveries one after the other (bronze order), so each is one run of rows, taken as
    a zero-copy slice: a filter per delivery read the whole table once per delivery (a
    small feed's month is ~50 deliveries of a few hundred rows, ~30 ms a feed). Rows of
    a delivery in several runs are filtered."""
    if len(table) == 0:
        return {}
    runs = pc.run_end_encode(table["_delivery_id"].combine_chunks())
    ids, ends = runs.values.to_pylist(), runs.run_ends.to_pylist()
    if len(set(ids)) < len(ids):
        column = table["_delivery_id"]
        return {did: table.filter(pc.equal(column, did)) for did in dict.fromkeys(ids)}
    starts = [0, *ends[:-1]]
    return {did: table.slice(a, b - a) for did, a, b in zip(ids, starts, ends, strict=True)}


def _rows_of(table: pa.Table, did: str) -> pa.Table:
    """The rows of delivery ``did``; ``table`` itself when it holds no other (a slice of a
    large snapshot): filtering copies every column of every row (~0.3 s a 500,000-row
    hukou slice, three times per slice)."""
    mine = pc.equal(table["_delivery_id"], did)
    if mine.null_count == 0 and pc.all(mine).as_py() is not False:
        return table
    return table.filter(mine)


def _in_bronze_order(silver: pa.Table, piece: pa.Table) -> pa.Table:
    """``silver`` (a delivery's carried and cleaned rows of one slice) in the slice's
    bronze order, the order cleaning every row gives. Rows are matched by lineage as
    one int64 key each (file number, row) and sorted with numpy: an Arrow join on the
    three lineage strings took 2.5 s per 1,000,000-person month."""
    did = silver["_delivery_id"][0].as_py() if len(silver) else None
    mine = _rows_of(piece, did)
    if mine["_source_row"].null_count or silver["_source_row"].null_count:
        return _in_bronze_order_by_join(silver, piece)
    files = pc.unique(mine["_source_file"].combine_chunks())

    def key(t: pa.Table) -> np.ndarray:
        file_no = pc.index_in(t["_source_file"], value_set=files).to_numpy(zero_copy_only=False)
        return file_no.astype(np.int64) * (1 << 32) + t["_source_row"].to_numpy()

    bronze_keys, silver_keys = key(mine), key(silver)
    by_key = np.argsort(bronze_keys, kind="stable")
    at = by_key[np.searchsorted(bronze_keys[by_key], silver_keys)]
    return silver.take(pa.array(np.argsort(at, kind="stable")))


def _in_bronze_order_by_join(silver: pa.Table, piece: pa.Table) -> pa.Table:
    pos = piece.select(_LINEAGE).append_column("__pos", pa.array(range(len(piece)), pa.int64()))
    at = silver.select(_LINEAGE).append_column("__i", pa.array(range(len(silver)), pa.int64()))
    joined = at.join(pos, _LINEAGE, join_type="inner", use_threads=False)
    return silver.take(joined.sort_by("__pos")["__i"])


def _carry(
    repeats: Repeats | None, todo: list[dict], piece: pa.Table, divmap: pa.Table
) -> tuple[pa.Table, dict[str, pa.Table]]:
    """(bronze rows of the slice still to clean, carried silver rows per delivery)."""
    carried: dict[str, pa.Table] = {}
    if repeats is None:
        return piece, carried
    parts = []
    pieces = _by_delivery(piece)
    for a in todo:
        did = a["delivery_id"]
        mine = pieces.get(did, piece.slice(0, 0))
        if did in repeats.tables:
            split = repeats.split(did, mine, divmap)
            carried[did], mine = split.silver, split.rest
        parts.append(mine)
    return pa.concat_tables(parts), carried
