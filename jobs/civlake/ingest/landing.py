"""Landing -> bronze: discover deliveries, validate them, load each exactly once.

Per delivery (SOURCE_FEEDS.md section 1): manifest -> sha256 of every file -> duplicate
check -> strict decoding and parsing -> header mapping -> row reconciliation -> one bronze
commit -> one audit row -> supersession of an older full delivery of the same unit and
period. Any rejection happens before the bronze commit, so the lake is unchanged.
A crash between the bronze commit and the audit row is repaired on the next run
(bronze rows of a delivery without an audit row are deleted, then it is loaded again).

Files are parsed a batch at a time. Small deliveries (the many daily ones) are held
whole and committed together (``_Buffer``); a large one (a city's monthly hukou
snapshot) is written to uncommitted Parquet files in the bronze table's directory as it
is parsed and committed in one transaction once every file matched its manifest
(``_stream_files``, ``lake.AppendFiles``), so memory is one batch, not the delivery.
"""

from __future__ import annotations

import json
import time
from collections import deque
from collections.abc import Callable, Iterator
from concurrent.futures import Future, ThreadPoolExecutor, wait
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

import pyarrow as pa

from civlake import lake, tables
from civlake.contracts import FeedContract, load_contracts
from civlake.engine.lake_io import LakeIO
from civlake.engine.runtime import EMBEDDED, Engine
from civlake.ingest import audit, bronze
from civlake.ingest.manifest import (
    DeliveryRejected,
    Manifest,
    ManifestFile,
    python_codec,
    read_manifest,
)
from civlake.ingest.readers import read_file
from civlake.osutil import sha256_file
from civlake.settings import Settings

Progress = Callable[[str], None]
# (folder, manifest, contract, now) -> the delivery's bronze rows, or None for no rows
Parse = Callable[[Path, Manifest, FeedContract, datetime], Any]


@dataclass
class FeedSummary:
    loaded: int = 0
    rejected: int = 0
    duplicate: int = 0
    superseded: int = 0
    pending: int = 0
    rows_bronze: int = 0
    new_deliveries: list[str] = field(default_factory=list)
    problems: list[str] = field(default_factory=list)


def discover(landing: Path, feed_id: str) -> tuple[list[Path], list[Path]]:
    """(complete delivery folders, pending folders without a manifest), sorted by name."""
    root = landing / feed_id
    if not root.is_dir():
        return [], []
    complete, pending = [], []
    for folder in sorted(p for p in root.iterdir() if p.is_dir() and not p.name.startswith(".")):
        (complete if (folder / "manifest.json").is_file() else pending).append(folder)
    return complete, pending


def file_label(contract: FeedContract, manifest: Manifest, f: ManifestFile) -> str:
    return f"{contract.feed_id}/{manifest.delivery_id}/{f.name}"


def check_hash(path: Path, f: ManifestFile, label: str) -> None:
    actual = sha256_file(path)
    if actual != f.sha256:
        raise DeliveryRejected(
            "HASH_MISMATCH",
            f"{label}: sha256 is {actual}, manifest says {f.sha256}. The file changed "
            "after the manifest was written or was truncated in transfer; ask for a resend.",
        )


def parse_file(
    folder: Path, manifest: Manifest, f: ManifestFile, contract: FeedContract, now: datetime
) -> Iterator[pa.Table]:
    """One data file of a delivery as bronze rows, a reader batch at a time (memory: one
    batch, not the file). Raises DeliveryRejected on a parse problem, and after the last
    batch when the rows differ from the manifest's: the rows already given are then rows
    of a rejected delivery, and the caller drops them."""
    with_lineage = lineage(manifest, f, contract, now)
    for batch in file_batches(folder, manifest, f, contract):
        yield with_lineage(batch)


def lineage(
    manifest: Manifest, f: ManifestFile, contract: FeedContract, now: datetime
) -> Callable[[pa.RecordBatch], pa.Table]:
    """A reader batch of ``f`` -> its bronze rows (lineage columns and row hashes)."""
    fmt = Path(f.name).suffix.lower().lstrip(".")
    fields = {
        "delivery_id": manifest.delivery_id, "source_file": f.name,
        "source_unit": manifest.source_unit, "period": manifest.period, "mode": manifest.mode,
        "produced_at": manifest.produced_at,
        "file_format": "jsonl" if fmt in ("json", "ndjson") else fmt, "ingested_at": now,
    }  # fmt: skip
    return lambda batch: bronze.with_lineage(pa.Table.from_batches([batch]), contract, **fields)


def file_batches(
    folder: Path, manifest: Manifest, f: ManifestFile, contract: FeedContract
) -> Iterator[pa.RecordBatch]:
    """The reader's non-empty batches of one data file; after the last one, raises
    DeliveryRejected when the file's rows differ from what the manifest declares."""
    path = folder / f.name
    label = file_label(contract, manifest, f)
    # A CSV without a declared encoding is read in the contract's encoding.
    codec = python_codec(f.encoding or contract.encodings[0], path.suffix.lower().lstrip("."))
    found = 0
    for batch in read_file(path, contract, codec, label):
        if batch.num_rows:
            found += batch.num_rows
            yield batch
    if found != f.rows:
        raise DeliveryRejected(
            "ROWCOUNT_MISMATCH",
            f"{label}: manifest declares {f.rows} data rows, the file has {found} "
            "(title, header, total and blank rows not counted).",
        )


def _parse_files(
    folder: Path, manifest: Manifest, contract: FeedContract, now: datetime
) -> pa.Table | None:
    """All files of a delivery as one bronze table; raises DeliveryRejected on any problem.
    Every file's hash is checked before any file is parsed; then files are parsed in the
    manifest's order and the first problem rejects the delivery."""
    for f in manifest.files:
        check_hash(folder / f.name, f, file_label(contract, manifest, f))
    parts = [t for f in manifest.files for t in parse_file(folder, manifest, f, contract, now)]
    return pa.concat_tables(parts) if parts else None


# A delivery above this (declared rows, or bytes of its files: the manifest may lie) is
# written to bronze as it is parsed (_stream_files) instead of as one table in memory: a
# city's monthly hukou snapshot is ~10 M rows, ~1.3 GB of CSV, ~8 GiB parsed whole.
STREAM_ROWS = 500_000
STREAM_BYTES = 64 << 20
# Threads hashing a streamed delivery's batches (_stream_files).
HASHING = 2


def _is_large(folder: Path, manifest: Manifest) -> bool:
    declared = sum(f.rows for f in manifest.files)
    size = sum((folder / f.name).stat().st_size for f in manifest.files)
    return declared > STREAM_ROWS or size > STREAM_BYTES


def _stream_files(
    lake_root: Path, folder: Path, manifest: Manifest, contract: FeedContract, now: datetime
) -> lake.AppendFiles | None:
    """``_parse_files`` for a large delivery: the same checks in the same order, but each
    batch of bronze rows goes to a Parquet file in the bronze table's directory as it is
    parsed. The files are committed later, with the delivery's audit row (``_Buffer``);
    on any problem they are deleted here and the lake is unchanged.

    The files' sha256 is checked by a thread of its own while they are parsed (hashlib
    leaves the GIL): a file that is not what its manifest says rejects the delivery as
    HASH_MISMATCH, whatever the parse made of it, as when it was checked first."""

    def check_hashes() -> None:
        for f in manifest.files:
            check_hash(folder / f.name, f, file_label(contract, manifest, f))

    checking = ThreadPoolExecutor(max_workers=1, thread_name_prefix="bronze-sha256")
    checked = checking.submit(check_hashes)
    writer = lake.AppendFiles(
        bronze.bronze_path(lake_root, contract.feed_id), tables.bronze_schema(contract),
        dictionary=False,  # a snapshot's rows are mostly distinct: see AppendFiles
        statistics=bronze.FILTERED,
    )  # fmt: skip
    # Parsing holds the GIL; hashing (polars-hash) and the Parquet write (encoding and zstd)
    # do not. So each parsed batch gets its lineage and row hashes in one of two hashing
    # threads while the next is parsed here, and the hashed batches are written in turn
    # by one writing thread: at most HASHING + 1 batches in flight. The files are the
    # same as written in turn.
    hashing = ThreadPoolExecutor(max_workers=HASHING, thread_name_prefix="bronze-hash")
    writing = ThreadPoolExecutor(max_workers=1, thread_name_prefix="bronze-write")
    hashed: deque[Future] = deque()
    written: Future | None = None

    def write_oldest() -> None:
        nonlocal written
        rows = hashed.popleft().result()
        if written is not None:
            written.result()
        written = writing.submit(writer.write, rows)

    try:
        for f in manifest.files:
            with_lineage = lineage(manifest, f, contract, now)
            for batch in file_batches(folder, manifest, f, contract):
                hashed.append(hashing.submit(with_lineage, batch))
                if len(hashed) > HASHING:
                    write_oldest()
        while hashed:
            write_oldest()
        if written is not None:
            written.result()
        checked.result()
    except BaseException as failed:
        wait([checked, *hashed, *([written] if written is not None else [])])
        writer.discard()
        if (mismatch := checked.exception()) is not None and mismatch is not failed:
            raise mismatch from failed
        raise
    finally:
        hashing.shutdown(wait=True)
        writing.shutdown(wait=True)
        checking.shutdown(wait=True)
    if not writer.num_rows:
        writer.discard()
        return None
    return writer


def _parser(lake_root: Path) -> Parse:
    """The embedded engine's parse: a large delivery streamed, the others whole."""

    def parse(folder: Path, manifest: Manifest, contract: FeedContract, now: datetime):
        if _is_large(folder, manifest):
            return _stream_files(lake_root, folder, manifest, contract, now)
        return _parse_files(folder, manifest, contract, now)

    return parse


def _audit_row(manifest: Manifest | None, folder: Path, feed_id: str, **fields) -> dict:
    base = {"feed_id": feed_id, "delivery_id": folder.name, "channel": "file"}
    if manifest is not None:
        base.update(
            source_unit=manifest.source_unit,
            source_unit_name=manifest.source_unit_name,
            period=manifest.period,
            mode=manifest.mode,
            produced_at=manifest.produced_at,
            rows_declared=manifest.rows_declared,
            fingerprint=manifest.fingerprint,
            files=json.dumps(
                [{"name": f.name, "sha256": f.sha256, "rows": f.rows, "encoding": f.encoding}
                 for f in manifest.files],
                ensure_ascii=False,
            ),
        )  # fmt: skip
    base.update(fields)
    return base


def _supersession(manifest: Manifest, prior: list[dict]) -> tuple[str | None, list[str]]:
    """(id of the newer loaded delivery that supersedes this one, ids this one supersedes)."""
    if manifest.mode != "full":
        return None, []
    older, newer_by = [], None
    for row in prior:
        if (row.get("status"), row.get("mode"), row.get("source_unit"), row.get("period")) != (
            "loaded", "full", manifest.source_unit, manifest.period,
        ):  # fmt: skip
            continue
        theirs = datetime.fromisoformat(row["produced_at"])
        if theirs < manifest.produced_at_ts:
            older.append(row["delivery_id"])
        else:
            newer_by = row["delivery_id"]
    return newer_by, older


def evaluate_delivery(
    settings: Settings, contract: FeedContract, folder: Path, prior: list[dict], now: datetime,
    parse: Parse = _parse_files,
):  # fmt: skip
    """Validate and parse one delivery folder without writing: (audit row, bronze rows).

    ``prior`` is the feed's audit ledger so far (including deliveries evaluated earlier in
    this run). Older loaded full deliveries of the same unit and period are superseded by
    :func:`audit.reconcile_supersession` after the rows are committed. ``parse`` gives the
    delivery's rows (anything with ``num_rows``) or raises DeliveryRejected: the files
    parsed here, or, on Spark, the outcome of the executors' parse (``ingest.spark_job``).
    """
    started = time.perf_counter()
    feed_id = contract.feed_id
    manifest = None
    table = None
    try:
        manifest = read_manifest(folder, contract)
        fingerprints = {r["fingerprint"] for r in prior if r["status"] in ("loaded", "superseded")}
        if manifest.fingerprint in fingerprints:
            # identical data already loaded: a no-op, whatever its delivery_id
            if any(sha256_file(folder / f.name) != f.sha256 for f in manifest.files):
                raise DeliveryRejected(
                    "HASH_MISMATCH", f"{feed_id}/{folder.name}: file hash differs from manifest"
                )
            row = _audit_row(manifest, folder, feed_id, status="duplicate", rows_bronze=0)
        else:
            table = parse(folder, manifest, contract, now)
            newer_by, _older = _supersession(manifest, prior)
            row = _audit_row(
                manifest,
                folder,
                feed_id,
                status="superseded" if newer_by else "loaded",
                superseded_by=newer_by,
                rows_bronze=0 if table is None else table.num_rows,
            )
    except DeliveryRejected as exc:
        row = _audit_row(
            manifest, folder, feed_id, status="rejected", reject_reason=exc.reason,
            reject_detail=exc.detail, rows_bronze=0,
        )  # fmt: skip
    row["ingested_at"] = now
    row["ingest_seconds"] = time.perf_counter() - started
    return row, table


class _Buffer:
    """Deliveries evaluated but not yet committed. One flush = one bronze commit holding
    every buffered delivery whole (each delivery stays atomic), then one audit commit.
    A crash between the two leaves bronze rows without an audit row: the next run deletes
    them and loads those deliveries again (``bronze.orphan_deliveries``). Flushing every
    ~500k rows bounds memory; a large delivery arrives already written to uncommitted
    files (``_stream_files``) and is flushed at once, the buffered small ones in the same
    commit."""

    FLUSH_ROWS = 500_000

    def __init__(self, settings: Settings, feed_id: str, io: LakeIO) -> None:
        self.settings, self.feed_id, self.io = settings, feed_id, io
        self.tables: list[pa.Table] = []
        self.rows: list[dict] = []

    def add(self, row: dict, table: pa.Table | lake.AppendFiles | None) -> None:
        self.rows.append(row)
        if isinstance(table, lake.AppendFiles):
            self.flush(table)
            return
        if table is not None:
            self.tables.append(table)
        if sum(t.num_rows for t in self.tables) >= self.FLUSH_ROWS:
            self.flush()

    def flush(self, written: lake.AppendFiles | None = None) -> None:
        data = pa.concat_tables(self.tables, promote_options="default") if self.tables else None
        if written is not None:
            if data is not None:
                written.write(data)
            written.commit()
        elif data is not None:
            self.io.append(bronze.bronze_path(self.settings.lake, self.feed_id), data)
        if self.rows:
            audit.append_rows(self.settings.lake, self.rows, io=self.io)
        self.tables, self.rows = [], []


def ingest_feed(
    settings: Settings, contract: FeedContract, *, now: datetime, progress: Progress | None = None,
    engine: Engine = EMBEDDED, ledger: list[dict] | None = None,
) -> FeedSummary:  # fmt: skip
    """Load the feed's new deliveries. ``ledger``: the feed's audit rows, if the caller
    read them (else read here)."""
    feed_id, io = contract.feed_id, engine.lake
    summary = FeedSummary()
    complete, pending = discover(settings.landing, feed_id)
    summary.pending = len(pending)
    prior = audit.read_audit(settings.lake, feed_id, io=io) if ledger is None else ledger
    done = {r["delivery_id"] for r in prior}
    for orphan in bronze.orphan_deliveries(settings.lake, feed_id, done, io=io):
        bronze.remove_delivery(settings.lake, feed_id, orphan, io=io)
    todo = [f for f in complete if f.name not in done]
    # Oldest production first, so resubmissions normally supersede in arrival order.
    todo.sort(key=lambda f: (_produced_key(f), f.name))
    buffer, parse = _Buffer(settings, feed_id, io), _parser(settings.lake)
    if engine.on_spark and todo:
        from civlake.ingest import spark_job

        # The files are parsed on the executors; what is decided here is only their
        # outcomes (rows or problem per file), in the same order as below.
        parsed = spark_job.ParsedOnExecutors(engine, settings, contract, todo, prior, now)
        buffer, parse = parsed, parsed.parse
    for folder in todo:
        row, table = evaluate_delivery(settings, contract, folder, prior, now, parse)
        buffer.add(row, table)
        prior.append(row)
        summary.new_deliveries.append(folder.name)
        if row["status"] == "rejected":
            summary.problems.append(
                f"{feed_id}/{folder.name}: {row['reject_reason']}: {row['reject_detail']}"
            )
        if progress:
            progress(
                f"{feed_id}/{folder.name}: {row['status']} ({row.get('rows_bronze') or 0} rows)"
            )
    buffer.flush()
    # The ledger now: the rows read at the start and every row this run appended (the
    # same dicts the flushes wrote), without reading it back (~40 ms CPU a feed).
    ledger = prior
    if todo:
        audit.reconcile_supersession(settings.lake, feed_id, ledger, io=io)
    for r in ledger:
        setattr(summary, r["status"], getattr(summary, r["status"]) + 1)
        summary.rows_bronze += r["rows_bronze"] or 0
    return summary


def _produced_key(folder: Path) -> str:
    try:
        return str(
            json.loads((folder / "manifest.json").read_text(encoding="utf-8-sig"))["produced_at"]
        )
    except Exception:  # unreadable manifests are rejected later, with the reason
        return ""


def ingest_landing(
    settings: Settings,
    *,
    now: datetime,
    feeds: list[str] | None = None,
    progress: Progress | None = None,
    engine: Engine = EMBEDDED,
) -> dict[str, FeedSummary]:
    """Ingest every complete delivery in landing (of ``feeds``) on ``engine``: on Spark the
    files are parsed on the executors (``ingest.spark_job``)."""
    contracts = load_contracts(settings.schemas_dir)
    chosen = feeds or sorted(contracts)
    if not settings.landing.is_dir():
        raise FileNotFoundError(
            f"landing folder {settings.landing} does not exist: generate sample feeds with "
            "`civlake generate --out <dir>` or point --landing / CIVLAKE_LANDING at the deliveries"
        )
    # The ledger of every feed in one read: opening the audit table replays its log, ~40 ms
    # of CPU however few rows a feed has.
    ledgers: dict[str, list[dict]] = {f: [] for f in chosen}
    for row in audit.read_audit(settings.lake, io=engine.lake):
        if row["feed_id"] in ledgers:
            ledgers[row["feed_id"]].append(row)
    return {
        f: ingest_feed(
            settings, contracts[f], now=now, progress=progress, engine=engine, ledger=ledgers[f]
        )
        for f in chosen
    }
