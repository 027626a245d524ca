"""Ingest on Spark: the delivered files are parsed on the executors, not the driver.

The embedded engine parses each delivery in this process (``landing._parse_files``). On
Spark, one job takes a feed's new deliveries at once: a DataFrame of one row per data file
(its folder, name, declared rows and the manifest's lineage fields), one partition per
file, and ``mapInArrow`` runs the SAME ``landing.check_hash`` and ``landing.parse_file``
on the executors, so bronze rows are identical by construction. Besides the bronze rows
each task yields one outcome row for its file: rows found, or the problem that rejects
the delivery (reason and detail, as ``DeliveryRejected`` says them).

The job's output is persisted on the executors; only the outcome rows (one per file)
come to the driver. ``landing.ingest_feed`` then decides each delivery in order exactly
as on the embedded engine (``parse`` replays a delivery's outcomes: every file's hash
first, then the files in manifest order, the first problem wins), and ``flush`` appends
the rows of the deliveries that were not rejected or duplicates with one delta-spark
commit, then the audit rows: the embedded buffer's commits in the same order.

Deliveries whose manifest cannot be read, or whose data is already in the ledger, are
not parsed (``evaluate_delivery`` decides them without their files); a duplicate within
one run is parsed and then not written.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

import pyarrow as pa

from civlake import tables
from civlake.contracts import FeedContract
from civlake.engine.compat import spark_frame
from civlake.engine.runtime import Engine
from civlake.ingest import audit, bronze, landing
from civlake.ingest.manifest import DeliveryRejected, Manifest, read_manifest
from civlake.settings import Settings

OUTCOME = "__outcome"  # true on a file's outcome row, false on a bronze row
_TASK = pa.schema(
    [("folder", pa.string()), ("manifest_index", pa.int64()), ("file_index", pa.int64())]
)
_OUTCOME_FIELDS = [
    pa.field(OUTCOME, pa.bool_()), pa.field("__file_index", pa.int64()),
    pa.field("__stage", pa.string()), pa.field("__rows", pa.int64()),
    pa.field("__reason", pa.string()), pa.field("__detail", pa.string()),
]  # fmt: skip


def output_schema(contract: FeedContract) -> pa.Schema:
    return pa.schema([*tables.bronze_schema(contract), *_OUTCOME_FIELDS])


@dataclass(frozen=True)
class FileOutcome:
    stage: str  # "hash" (the check failed), "parse" (reading failed) or "ok"
    rows: int
    problem: DeliveryRejected | None


def decide(outcomes: list[FileOutcome]) -> int:
    """A delivery's bronze rows from its files' outcomes (in manifest order), or the
    DeliveryRejected that ``landing._parse_files`` would raise: any file's hash first,
    then the first file that failed to parse."""
    for stage in ("hash", "parse"):
        for o in outcomes:
            if o.stage == stage and o.problem is not None:
                raise o.problem
    return sum(o.rows for o in outcomes)


def tasks_of(folder: Path, manifest_index: int, manifest: Manifest) -> list[dict]:
    """One parse task per data file of the delivery."""
    return [
        {"folder": str(folder), "manifest_index": manifest_index, "file_index": i}
        for i in range(len(manifest.files))
    ]


def parse_tasks(contract: FeedContract, manifests: list[Manifest], now: datetime, schema):
    """The function mapInArrow runs: file tasks in, bronze rows and outcome rows out."""

    def outcome_row(task: dict, stage: str, rows: int, problem: DeliveryRejected | None):
        manifest = manifests[task["manifest_index"]]
        f = manifest.files[task["file_index"]]
        values = {
            "_delivery_id": manifest.delivery_id, "_source_file": f.name, OUTCOME: True,
            "__file_index": task["file_index"], "__stage": stage, "__rows": rows,
            "__reason": problem.reason if problem else None,
            "__detail": problem.detail if problem else None,
        }  # fmt: skip
        return pa.RecordBatch.from_pylist([values], schema=schema)

    def with_flag(table: pa.Table) -> pa.RecordBatch:
        n = table.num_rows
        cols = [
            table[f.name] if f.name in table.column_names else pa.nulls(n, f.type)
            for f in schema
            if f.name != OUTCOME
        ]
        names = [f.name for f in schema if f.name != OUTCOME]
        out = pa.Table.from_arrays(cols, names=names)
        out = out.append_column(OUTCOME, pa.array([False] * n))
        return out.select(schema.names).cast(schema).combine_chunks().to_batches()

    def run(batches: Iterator[pa.RecordBatch]) -> Iterator[pa.RecordBatch]:
        for batch in batches:
            for task in batch.to_pylist():
                manifest = manifests[task["manifest_index"]]
                f = manifest.files[task["file_index"]]
                folder = Path(task["folder"])
                label = landing.file_label(contract, manifest, f)
                try:
                    landing.check_hash(folder / f.name, f, label)
                except DeliveryRejected as exc:
                    yield outcome_row(task, "hash", 0, exc)
                    continue
                # A batch at a time: a file that then fails leaves rows of a rejected
                # delivery in the job's output, which ``flush`` never selects.
                rows = 0
                try:
                    for table in landing.parse_file(folder, manifest, f, contract, now):
                        rows += table.num_rows
                        yield from with_flag(table)
                except DeliveryRejected as exc:
                    yield outcome_row(task, "parse", 0, exc)
                    continue
                yield outcome_row(task, "ok", rows, None)

    return run


OUTCOME_COLUMNS = ["_delivery_id", "__file_index", "__stage", "__rows", "__reason", "__detail"]


def outcomes_by_delivery(
    rows: list[dict], manifests: list[Manifest]
) -> dict[str, list[FileOutcome]]:
    """The outcome rows of a parse job, per delivery, in manifest file order."""
    found: dict[str, dict[int, FileOutcome]] = {}
    for r in rows:
        problem = DeliveryRejected(r["__reason"], r["__detail"]) if r["__reason"] else None
        found.setdefault(r["_delivery_id"], {})[int(r["__file_index"])] = FileOutcome(
            r["__stage"], int(r["__rows"]), problem
        )
    return {
        m.delivery_id: [found[m.delivery_id][i] for i in range(len(m.files))] for m in manifests
    }


@dataclass
class Parsed:
    """What ``parse`` hands back for a delivery parsed on the executors."""

    delivery_id: str
    num_rows: int


class ParsedOnExecutors:
    """One feed's new deliveries parsed by one Spark job; ``parse`` replays a delivery's
    outcome for ``landing.evaluate_delivery``, ``add``/``flush`` commit like its buffer."""

    def __init__(
        self, engine: Engine, settings: Settings, contract: FeedContract, folders: list[Path],
        prior: list[dict], now: datetime,
    ) -> None:  # fmt: skip
        from pyspark import StorageLevel
        from pyspark.sql.pandas.types import from_arrow_schema

        self.spark, self.io = engine.spark, engine.lake
        self.settings, self.contract = settings, contract
        self.rows: list[dict] = []
        self.written: list[str] = []
        known = {r["fingerprint"] for r in prior if r["status"] in ("loaded", "superseded")}
        manifests, tasks = [], []
        for folder in folders:
            try:
                manifest = read_manifest(folder, contract)
            except DeliveryRejected:
                continue  # evaluate_delivery rejects it again, with the reason
            if manifest.fingerprint in known:
                continue  # a duplicate of loaded data: decided without parsing
            tasks += tasks_of(folder, len(manifests), manifest)
            manifests.append(manifest)
        self.outcomes: dict[str, list[FileOutcome]] = {}
        self.frame = None
        if not tasks:
            return
        schema = output_schema(contract)
        source = spark_frame(self.spark, pa.Table.from_pylist(tasks, schema=_TASK))
        frame = source.repartition(len(tasks)).mapInArrow(
            parse_tasks(contract, manifests, now, schema), from_arrow_schema(schema)
        )
        self.frame = frame.persist(StorageLevel.MEMORY_AND_DISK)
        cols = [f"`{c}`" for c in OUTCOME_COLUMNS]
        outcome_rows = self.frame.where(f"`{OUTCOME}`").select(*cols).collect()
        self.outcomes = outcomes_by_delivery([r.asDict() for r in outcome_rows], manifests)

    def parse(self, folder: Path, manifest: Manifest, contract: FeedContract, now: datetime):
        """The delivery's outcome, decided as ``landing._parse_files`` decides it."""
        outcomes = self.outcomes.get(manifest.delivery_id)
        if outcomes is None:
            raise RuntimeError(
                f"{contract.feed_id}/{manifest.delivery_id} was not parsed by the Spark job "
                "of this run (its manifest changed during the run?); rerun the ingest"
            )
        rows = decide(outcomes)
        return Parsed(manifest.delivery_id, rows) if rows else None

    def add(self, row: dict, parsed: Parsed | None) -> None:
        self.rows.append(row)
        if parsed is not None:
            self.written.append(parsed.delivery_id)

    def flush(self) -> None:
        """One bronze commit of every delivery added with rows, then the audit rows."""
        from pyspark.sql import functions as F

        try:
            if self.written and self.frame is not None:
                names = [f"`{n}`" for n in tables.bronze_schema(self.contract).names]
                rows = self.frame.where(~F.col(OUTCOME)).where(
                    F.col("_delivery_id").isin(self.written)
                )
                self.io.append(bronze.bronze_path(self.settings.lake, self.contract.feed_id),
                               rows.select(*names))  # fmt: skip
            if self.rows:
                audit.append_rows(self.settings.lake, self.rows, io=self.io)
        finally:
            if self.frame is not None:
                self.frame.unpersist()
            self.rows, self.written, self.frame = [], [], None
