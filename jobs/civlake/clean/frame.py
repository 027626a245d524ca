"""One delivery through the canonicalisers: bronze rows -> silver rows + quarantine rows.

``plan.plan(contract)`` says, column by column, which macro canonicalises a value and
which reason code a bad one earns. Here that plan runs as a handful of DuckDB queries
over the delivery's whole Arrow table, so a 100k-row delivery is a few vectorised
passes, not 100k Python calls. Stage columns that read one delivered field run on that
field's distinct values and are taken back to the rows (``distinct``); names take a
detour through OpenCC, also on distinct values (``canon.to_simplified``)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime

import pyarrow as pa
import pyarrow.compute as pc

from civlake import tables
from civlake.clean import canon, distinct, sql_macros
from civlake.clean.divisions import current_codes
from civlake.clean.plan import REASONS, UTC_US, Plan, plan
from civlake.contracts import FeedContract

LINEAGE = tuple(tables.SILVER_LINEAGE)
QUARANTINE_SCHEMA = tables.schema(tables.QUARANTINE)
lit = sql_macros.lit


@dataclass(frozen=True)
class Cleaned:
    silver: pa.Table
    quarantine: pa.Table


def _checks_stage(p: Plan) -> dict[str, str]:
    """Each check evaluated once into ``k<i>``: reasons and details both read it."""
    return {f"k{i}": f"coalesce({c}, false)" for i, (_, c, _) in enumerate(p.checks)}


def _final_sql(p: Plan, computed: list[tuple[str, str]]) -> str:
    """Reasons of every row (``__reasons`` empty: the row is good) and the ``computed``
    silver values (name, SQL), those that are not a stage column as it is."""
    ks = [(r, f"k{i}") for i, (r, _, _) in enumerate(p.checks)]
    by_reason = {r: [k for rr, k in ks if rr == r] for r in REASONS}
    flags = ", ".join(
        f"CASE WHEN {' OR '.join(items)} THEN {lit(r)} END"
        for r, items in by_reason.items()
        if items
    )
    reasons = (
        "CASE WHEN _malformed IS NOT NULL THEN ['ROW_MALFORMED']"
        f" ELSE list_filter([{flags or 'NULL'}]::VARCHAR[], x -> x IS NOT NULL) END"
    )
    outs = "".join(f'{sql} AS "s__{name}", ' for name, sql in computed)
    return f"SELECT {outs}{reasons} AS __reasons FROM cur"


def _final(con, p: Plan, cur: pa.Table) -> pa.Table:
    """Lineage, silver values and reasons of every row. A silver value that is a stage
    column as it is (most are) is that column of ``cur``: through DuckDB, copying the
    values of a 1,000,000-row hukou month out again cost ~0.8 s."""
    computed = [(name, sql) for name, sql, _ in p.outputs if sql not in cur.column_names]
    con.register("cur", distinct.scannable(cur))
    res = con.execute(_final_sql(p, computed)).to_arrow_table()
    if len(res) != len(cur):
        raise AssertionError("the final clean query changed the row count")
    cols = {n: cur[n] for n in LINEAGE}
    for name, sql, _ in p.outputs:
        cols[f"s__{name}"] = cur[sql] if sql in cur.column_names else res[f"s__{name}"]
    cols["__reasons"] = res["__reasons"]
    return pa.table(cols)


def _quarantine_sql(p: Plan, raw_cols: list[str], fired: list[int]) -> str:
    """Detail and raw JSON of the quarantined rows (table ``bad``): only they need them
    (built for every row, the raw JSON cost ~0.2 s per 50k rows and the wording of the
    delivered values 0.4 s per 500,000 IDs). Only the checks in ``fired`` (those true for
    some bad row) and the wording they name are in the query: a detail of a check that
    no row failed is NULL, which concat_ws skips, and binding all of them took ~50 ms
    for a feed's three bad rows."""
    details = ", ".join(f"CASE WHEN k{i} THEN {p.checks[i][2]} END" for i in fired)
    detail = (
        "CASE WHEN _malformed IS NOT NULL THEN"
        " 'row could not be split into the feed''s fields: ' || left(_malformed, 300)"
        f" ELSE concat_ws('; ', {details or 'NULL'}) END"
    )
    raw_json = "to_json(struct_pack(" + ", ".join(f'"{n}" := "{n}"' for n in raw_cols) + "))"
    named = distinct.reads(details, p.wording)
    wording = "".join(f", {sql} AS {name}" for name, sql in p.wording.items() if name in named)
    return f"SELECT {detail} AS __detail, {raw_json} AS __raw FROM (SELECT *{wording} FROM bad)"


def _run_stages(
    contract: FeedContract, p: Plan, bronze: pa.Table, *, divmap: pa.Table, today: date,
    by_value: bool, threads: int,
) -> tuple[pa.Table, pa.ChunkedArray, pa.Table]:  # fmt: skip
    """Run the plan's stages; each stage's new columns are appended to the Arrow table.
    Returns (silver values and reasons of every row, which rows are quarantined, their
    detail and raw JSON).

    Separate queries because, inlined into one, DuckDB re-evaluates a macro every time a
    later stage or a check mentions its column (100k rows: 10.9 s; MATERIALIZED CTEs:
    6 s). Stages select only their new columns: ``SELECT *`` copied every string column
    through DuckDB once per stage. A plain projection keeps row order (DuckDB's
    ``preserve_insertion_order``), which the column appends rely on; row counts are
    checked anyway.
    """
    con = canon.connection(contract.path.parent if contract.path else None)
    con.execute(f"SET threads = {int(threads)}")
    try:
        con.register("cur", distinct.scannable(bronze))
        maxd = con.execute(
            "SELECT coalesce(try_cast(substr(_produced_at, 1, 10) AS DATE), $today) AS m FROM cur",
            {"today": today},
        ).to_arrow_table()["m"]
        cur = bronze.append_column("__maxd", maxd)
        if by_value:
            parts = distinct.split(p.stages, cur.column_names)
            cur = distinct.by_value(con, cur, parts, feed=contract.feed_id)
        else:
            parts = distinct.Split(rows=p.stages)
        for stage in [{}, *parts.rows, _checks_stage(p)]:
            cur = distinct.evaluate(con, cur, [stage], feed=contract.feed_id)
            for out, delivered in p.lookups.items():
                if delivered in cur.column_names and out not in cur.column_names:
                    cur = cur.append_column(out, current_codes(cur[delivered], divmap))
        res = _final(con, p, cur)
        is_bad = pc.greater(pc.list_value_length(res["__reasons"]), 0)
        # One chunk per column: DuckDB scanned a filtered table whose columns were chunked
        # differently (bronze from several slices' pieces, the stages' columns whole) out of
        # step, pairing rows with other rows' raw JSON
        bad = cur.filter(is_bad).combine_chunks()
        if len(bad):
            con.register("bad", bad)
            fired = [i for i in range(len(p.checks)) if pc.any(bad[f"k{i}"]).as_py()]
            sql = _quarantine_sql(p, [*contract.names, "_extra"], fired)
            extra = con.execute(sql).to_arrow_table()
            con.unregister("bad")
        else:
            extra = pa.table({"__detail": pa.array([], pa.string()),
                              "__raw": pa.array([], pa.string())})  # fmt: skip
        return res, is_bad, extra
    finally:
        con.unregister("cur")


def _prepare(contract: FeedContract, bronze: pa.Table) -> pa.Table:
    """Absent optional columns read as blank (SOURCE_FEEDS.md section 2)."""
    for name in [*contract.names, "_extra", "_malformed", *LINEAGE]:
        if name not in bronze.column_names:
            typ = {"_source_row": pa.int64(), "_ingested_at": pa.timestamp("us", tz="UTC")}.get(
                name, pa.string()
            )
            bronze = bronze.append_column(name, pa.nulls(len(bronze), typ))
    for name in contract.names:
        if bronze.schema.field(name).type != pa.string():
            bronze = bronze.set_column(
                bronze.column_names.index(name), name, bronze[name].cast(pa.string())
            )
    return bronze


# Rows canonicalised at a time. Each stage adds columns to its slice, so a 10-million-row
# hukou snapshot cleaned in one piece needs ~25 GiB; in slices, the stages' columns
# exist for one slice only.
SLICE_ROWS = 500_000


def clean_delivery(
    contract: FeedContract, bronze: pa.Table, *, divmap: pa.Table, now: datetime,
    slice_rows: int = SLICE_ROWS, by_value: bool = True, threads: int = 1,
) -> Cleaned:  # fmt: skip
    """Canonicalise one delivery's bronze rows; every row lands in exactly one output.

    ``divmap`` maps any known 12-digit division code to today's code (``divisions``).
    Rows without ``_produced_at`` check birth dates against ``now``. Every output value
    of a row reads only that row, so a delivery is cleaned in slices of ``slice_rows``
    (the Spark engine relies on the same property: its batches split deliveries).
    ``by_value=False`` evaluates every macro on every row, the reference for the
    per-distinct-value evaluation (``distinct``) that the gate uses. ``threads``: DuckDB
    threads of the macros' queries (the embedded gate gives it the machine's cores; a
    Spark task, one of many on its executor, keeps one).
    """
    if len(bronze) > slice_rows:
        starts = range(0, len(bronze), slice_rows)
        parts = [
            clean_delivery(
                contract,
                bronze.slice(at, slice_rows),
                divmap=divmap,
                now=now,
                slice_rows=slice_rows,
                by_value=by_value,
                threads=threads,
            )
            for at in starts
        ]
        return Cleaned(
            silver=pa.concat_tables([part.silver for part in parts]),
            quarantine=pa.concat_tables([part.quarantine for part in parts]),
        )
    p = plan(contract)
    bronze = _prepare(contract, bronze)
    res, is_bad, extra = _run_stages(
        contract, p, bronze, divmap=divmap, today=now.date(), by_value=by_value, threads=threads
    )
    good, bad = _good_rows(res, is_bad), res.filter(is_bad)
    schema = tables.silver_schema(contract)
    cols = []
    for f in schema:
        col = good[f"s__{f.name}" if f.name not in LINEAGE else f.name]
        if f.name in p.names:
            col = canon.to_simplified(col)
        if pa.types.is_timestamp(f.type) and f.name not in LINEAGE:
            col = col.cast(pa.timestamp("us"))  # naive UTC from the macros
        cols.append(pa.array(col).cast(f.type) if isinstance(col, pa.Array) else col.cast(f.type))
    silver = pa.Table.from_arrays(cols, schema=schema)
    quarantine = pa.table(
        {
            "feed_id": pa.array([contract.feed_id] * len(bad), pa.string()),
            "_delivery_id": bad["_delivery_id"],
            "_source_file": bad["_source_file"],
            "_source_row": bad["_source_row"].cast(pa.int64()),
            "raw": extra["__raw"],
            "reasons": bad["__reasons"],
            "detail": extra["__detail"],
            "_ingested_at": _utc(bad["_ingested_at"]),
        },
        schema=QUARANTINE_SCHEMA,
    )
    return Cleaned(silver=silver, quarantine=quarantine)


# Most slices have no or only a few quarantined rows: their good rows are the slices of
# ``res`` between them (zero-copy) instead of a filtered copy of every column (~0.3 s per
# 500,000 hukou rows). More bad rows than this: filtered, to keep the chunks few.
_FEW_BAD = 64


def _good_rows(res: pa.Table, is_bad: pa.ChunkedArray) -> pa.Table:
    """The rows of ``res`` where ``is_bad`` is false, in order."""
    bad = pc.indices_nonzero(is_bad).to_pylist()
    if len(bad) > _FEW_BAD:
        return res.filter(pc.invert(is_bad))
    starts, ends = [0, *(i + 1 for i in bad)], [*bad, len(res)]
    parts = [res.slice(a, b - a) for a, b in zip(starts, ends, strict=True) if b > a]
    return pa.concat_tables(parts) if parts else res.slice(0, 0)


def _utc(col: pa.ChunkedArray) -> pa.ChunkedArray:
    if pa.types.is_timestamp(col.type) and col.type.tz is None:
        return col.cast(pa.timestamp("us")).cast(UTC_US)
    return col.cast(UTC_US)
