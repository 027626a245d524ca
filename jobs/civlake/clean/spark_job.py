"""The clean gate as a Spark job: the SAME ``frame.clean_delivery`` on the executors.

The pending deliveries of one feed are read from ``bronze/<feed>`` as one Spark DataFrame
and ``DataFrame.mapInArrow`` hands each Arrow batch to ``clean_delivery``, exactly the
function the embedded engine calls per delivery. Its output (silver and quarantine rows
side by side, told apart by one flag column) is persisted once, counted per delivery,
then written with delta-spark: crash-repair deletes, a silver append, a quarantine append,
and last the audit MERGE that is the commit marker, the same commits in the same order as
``runs.Batch.flush``.

Why run the Python canonicalisers on Spark instead of translating them into Spark SQL:
what a citizen ID, an amount, a date or a division code *means* is defined by the DuckDB
macros in ``sql_macros`` and the OpenCC step (regexes, decimal rounding, lenient
date/timestamp parsing, check characters). A Spark SQL port would be a second
implementation whose regex dialect, decimal and timestamp semantics differ in corner
cases, and parity would have to be re-proven case by case forever. Running the one
implementation per batch makes the engines identical by construction; Spark contributes
what it is for: distribution and Delta I/O. (The cost is Arrow hand-off to Python workers,
which is what mapInArrow is built for: no per-row serialisation.)

Batches may split a delivery or mix several, which is sound because ``clean_delivery`` is
row-local: every output value of a row reads only that row (``__maxd``, the latest
plausible birth date, comes from the row's own ``_produced_at``; ``now`` is a constant;
division codes are looked up in the broadcast map; OpenCC converts each value on its own
and only de-duplicates for speed; quarantine's ``feed_id`` is the feed's). Everything
per delivery (bronze count = audit, silver + quarantine = bronze) is checked on the whole
job's output, grouped by ``_delivery_id``.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Iterator
from datetime import datetime

import pyarrow as pa

from civlake import tables
from civlake.clean import lake_io
from civlake.clean.frame import QUARANTINE_SCHEMA, Cleaned, clean_delivery
from civlake.clean.invariants import bronze_mismatch
from civlake.clean.reviews import known_findings, refuse_foreign_reviews
from civlake.contracts import FeedContract
from civlake.engine import spark_io
from civlake.engine.runtime import Engine
from civlake.settings import Settings

log = logging.getLogger(__name__)
FLAG = "__quarantined"


def output_schema(contract: FeedContract) -> pa.Schema:
    """Silver columns, then quarantine's own columns, then the flag: one row type for both."""
    silver = tables.silver_schema(contract)
    own = [f for f in QUARANTINE_SCHEMA if f.name not in silver.names]
    return pa.schema([*silver, *own, pa.field(FLAG, pa.bool_())])


def _side(part: pa.Table, schema: pa.Schema, quarantined: bool) -> pa.Table:
    n = len(part)
    cols = [
        part[f.name].cast(f.type) if f.name in part.column_names else pa.nulls(n, f.type)
        for f in schema
        if f.name != FLAG
    ]
    return pa.Table.from_arrays([*cols, pa.array([quarantined] * n)], schema=schema)


def clean_batches(
    contract: FeedContract, divmap, now: datetime, schema: pa.Schema,
    known: dict[str, str | None] | None = None,
):  # fmt: skip
    """The function mapInArrow runs: bronze batches in, silver+quarantine batches out.

    ``divmap`` is a Spark broadcast of the division map (or the table itself); ``known``
    the findings a review may name (feed finding_reviews only, civlake.clean.reviews)."""

    def run(batches: Iterator[pa.RecordBatch]) -> Iterator[pa.RecordBatch]:
        dm = getattr(divmap, "value", divmap)
        for batch in batches:
            if batch.num_rows == 0:
                continue
            out = clean_delivery(contract, pa.Table.from_batches([batch]), divmap=dm, now=now)
            if known is not None:
                out = Cleaned(*refuse_foreign_reviews(known, out.silver, out.quarantine))
            both = pa.concat_tables(
                [_side(out.silver, schema, False), _side(out.quarantine, schema, True)]
            )
            yield from both.to_batches()

    return run


def clean_feed(
    engine: Engine, settings: Settings, contract: FeedContract, deliveries: list[dict],
    divmap: pa.Table, now: datetime,
) -> tuple[list[dict], list[str]]:  # fmt: skip
    """Clean these pending deliveries of one feed on the Spark ``engine`` and commit them.

    Returns (one summary dict per delivery cleaned, one error line per delivery not
    cleaned), like the embedded loop in ``gate``.
    """
    from pyspark import StorageLevel
    from pyspark.sql import functions as F
    from pyspark.sql.pandas.types import from_arrow_schema

    started = time.perf_counter()
    spark, io = engine.spark, engine.lake
    feed, root = contract.feed_id, settings.lake
    schema = output_schema(contract)
    bronze = spark_io.read_df(spark, lake_io.bronze_path(root, feed))
    ids = [a["delivery_id"] for a in deliveries]
    found = (
        {}
        if bronze is None
        else io.count_by(
            lake_io.bronze_path(root, feed), "_delivery_id", match={"_delivery_id": ids}
        )
    )
    errors, good = [], []
    for a in deliveries:
        problem = bronze_mismatch(a, found.get(a["delivery_id"], 0))
        (errors.append(problem) if problem else good.append(a))
    if not good:
        return [], errors
    ids = [a["delivery_id"] for a in good]
    spark_schema = from_arrow_schema(schema)
    shared = None
    if bronze is None:  # only 0-row deliveries: empty outputs still create the tables
        out = spark.createDataFrame([], spark_schema)
    else:
        shared = spark.sparkContext.broadcast(divmap)
        src = bronze.where(F.col("_delivery_id").isin(ids))
        known = known_findings(settings) if feed == tables.REVIEWS_FEED else None
        out = src.mapInArrow(clean_batches(contract, shared, now, schema, known), spark_schema)
    out = out.persist(StorageLevel.MEMORY_AND_DISK)
    try:
        counts: dict[tuple[str, bool], int] = {
            (r[0], bool(r[1])): int(r[2])
            for r in out.groupBy("_delivery_id", FLAG).count().collect()
        }
        done, ok = [], []
        for a in good:
            did = a["delivery_id"]
            s, q = counts.get((did, False), 0), counts.get((did, True), 0)
            if s + q != found.get(did, 0):
                errors.append(
                    f"{feed}/{did}: {found.get(did, 0)} bronze rows but silver+quarantine differ"
                )
                continue
            ok.append(did)
            done.append(
                {"feed_id": feed, "delivery_id": did, "rows_silver": s, "rows_quarantined": q}
            )
        if not done:
            return [], errors
        silver_names = tables.silver_schema(contract).names
        _commit(io, root, feed, out, silver_names, ok, done, now, started)
    finally:
        out.unpersist()
        if shared is not None:
            shared.unpersist()
    return [
        {**d, "rows_bronze": d["rows_silver"] + d["rows_quarantined"],
         "clean_seconds": round(d["clean_seconds"], 3)}
        for d in done
    ], errors  # fmt: skip


def _commit(io, root, feed, out, silver_names, ok, done, now, started) -> None:
    """Crash repair, silver, quarantine, then the audit marker: ``runs.Batch.flush``'s order."""
    from pyspark.sql import functions as F

    lake_io.delete_deliveries(lake_io.silver_path(root, feed), ok, io=io)
    lake_io.delete_deliveries(lake_io.quarantine_path(root), ok, feed_id=feed, io=io)
    mine = out.where(F.col("_delivery_id").isin(ok))
    silver_cols = [f"`{n}`" for n in silver_names]
    quarantine_cols = [f"`{n}`" for n in QUARANTINE_SCHEMA.names]
    n_silver = sum(d["rows_silver"] for d in done)
    n_quarantine = sum(d["rows_quarantined"] for d in done)
    lake_io.append(
        lake_io.silver_path(root, feed),
        mine.where(~F.col(FLAG)).select(*silver_cols),
        rows=n_silver,
        io=io,
    )
    lake_io.append(
        lake_io.quarantine_path(root), mine.where(F.col(FLAG)).select(*quarantine_cols),
        rows=n_quarantine, io=io,
    )  # fmt: skip
    # One job cleaned them all: each delivery is charged the job's wall time in
    # proportion to its rows (equal shares for a job of empty deliveries).
    seconds = time.perf_counter() - started
    total = n_silver + n_quarantine
    for d in done:
        rows = d["rows_silver"] + d["rows_quarantined"]
        share = rows / total if total else 1 / len(done)
        d.update(cleaned_at=now, clean_seconds=seconds * share)
    lake_io.record_cleans(root, done, io=io)
    log.info("cleaned %d %s deliveries on Spark: %d silver, %d quarantined in %.2fs",
             len(done), feed, n_silver, n_quarantine, seconds)  # fmt: skip
