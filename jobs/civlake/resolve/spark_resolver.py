"""The Spark engine's person resolver: every city-sized step on the executors.

The same steps as ``persons._resolve_streamed`` (embedded), as Spark DataFrames and
Spark SQL, with the same SQL where there is SQL:

1. the references (``spark_refs.load``: silver read by delta-spark, one query per feed
   and role, names normalised on the executors, numbered by ``ord``);
2. the exact pass: a usable ID is its person (``id:<ID>``), a join;
3. the references without a usable ID, and only those, come to the driver (in batches
   under ``spark.driver.maxResultSize``) for ``persons.link_unresolved``: Splink scores
   them on Spark against the candidate known persons ``spark_known.SparkKnown``
   selects, exactly as ``known.DuckKnown`` does on the embedded engine; the result (one
   row per such reference) goes back to the executors and is joined on ``ord``;
4. person keys: one HMAC-SHA256 per distinct person in Spark SQL
   (``keys.person_key_spark_sql``; the pads are a one-row DataFrame, never query text);
5. the xref and the golden records (``golden._sql``, transpiled to Spark SQL) are
   written by delta-spark straight from their DataFrames.

So the driver holds the dirty subset of the references (invalid or missing IDs), one
part's candidates (``LinkageConfig.score_entities`` entities), the capped training
sample and a few counts; it grows with how dirty the feeds are, not with the city.

Every run resolves every reference again (no incremental state on Spark, unlike
``incremental`` on the embedded engine); the tables written equal the embedded
engine's first run (tests/integration/test_resolve_spark.py,
tests/integration/test_resolve_spark_driver.py).
"""

from __future__ import annotations

import logging
import time
from datetime import datetime
from functools import cache

import pyarrow as pa

from civlake import tables
from civlake.engine.runtime import Engine
from civlake.resolve import golden, linkage, persons, spark_known, spark_refs
from civlake.resolve.keys import hmac_pads, load_secret, person_key_spark_sql
from civlake.resolve.reference_sql import ORDER, RESOLVABLE_SQL
from civlake.resolve.references import REF_COLUMNS

log = logging.getLogger(__name__)

XREF_COLUMNS = ["feed_id", "_delivery_id", "_source_file", "_source_row", "role",
                "person_key", "match_method", "match_probability", "match_detail",
                "id_number"]  # fmt: skip


@cache
def golden_sql(source: str) -> str:
    """``golden._sql`` in Spark SQL. Two DuckDB functions do not transpile as they mean:
    ``arg_max`` skips rows whose value is null (Spark's ``max_by`` does not: it gets a
    ``filter (where value is not null)``), and ``try_strptime`` becomes
    ``try_to_timestamp`` with Spark's pattern letters."""
    import sqlglot
    from sqlglot import exp

    tree = sqlglot.parse_one(golden._sql(source), read="duckdb")
    for node in list(tree.find_all(exp.ArgMax)):
        present = exp.Not(this=exp.Is(this=node.this.copy(), expression=exp.Null()))
        if isinstance(node.parent, exp.Filter):
            where = node.parent.expression
            where.set("this", exp.and_(where.this, present))
        else:
            node.replace(exp.Filter(this=node.copy(), expression=exp.Where(this=present)))
    formats = {"%Y%m%d": "yyyyMMdd"}
    for node in list(tree.find_all(exp.Anonymous)):
        if str(node.this).lower() == "try_strptime":
            value, fmt = node.expressions
            node.replace(exp.Anonymous(this="try_to_timestamp",
                                       expressions=[value.copy(),
                                                    exp.Literal.string(formats[fmt.this])]))  # fmt: skip
    tree.set("order", None)  # the embedded writer's order; Delta keeps none
    return tree.sql("spark")


def _spark_schema(schema: pa.Schema):
    from pyspark.sql.pandas.types import from_arrow_schema

    return from_arrow_schema(schema, prefer_timestamp_ntz=True)


def _typed(df, schema: pa.Schema):
    """``df``'s columns in ``schema``'s order and types."""
    from pyspark.sql import functions as F

    return df.select(
        *[F.col(f"`{f.name}`").cast(f.dataType).alias(f.name) for f in _spark_schema(schema)]
    )


def _linked(spark, refs, settings, config: linkage.LinkageConfig):
    """DataFrame (ord, person_ref, match_method, match_probability, match_detail) of the
    references without a usable ID; the only references that reach the driver."""
    from civlake.engine.compat import spark_frame

    unresolved = refs.where(f"id_status not in ({RESOLVABLE_SQL})").select("ord", *REF_COLUMNS)
    frame = spark_known.collect(unresolved, "ord")
    linked = persons._LINKED_SCHEMA.empty_table()
    if len(frame):
        known = spark_known.SparkKnown(spark, refs)
        try:
            out = persons.link_unresolved(frame[REF_COLUMNS], known, settings, config,
                                          spark=spark)  # fmt: skip
        finally:
            known.close()
        out.insert(0, "ord", frame["ord"])
        linked = pa.Table.from_pandas(out, schema=persons._LINKED_SCHEMA, preserve_index=False)
    return spark_frame(spark, linked), len(frame)


def resolve(
    settings, *, now: datetime, config: linkage.LinkageConfig, engine: Engine
) -> dict | None:
    """Writes core/person_source_xref and core/persons from silver on ``engine`` (Spark);
    None when silver is not as the contracts type it (the caller takes the pandas path)."""
    started = time.perf_counter()
    scratch = spark_refs.scratch_dir(engine.spark)
    try:
        refs = spark_refs.load(engine.spark, settings.lake, settings.schemas_dir, scratch)
        if refs is None:
            return None
        count, total, unresolved, methods = _resolve(settings, now, config, engine, refs)
    finally:
        spark_refs.drop(engine.spark, scratch)
    log.info("resolve_persons (spark): %d references, %d without a usable ID on the driver, "
             "%.1f s", count, unresolved, time.perf_counter() - started)  # fmt: skip
    # Every reference resolved again (the incremental figures of ``_resolve_streamed``).
    return {
        "references": count,
        "persons": total,
        "unresolved_on_driver": unresolved,
        "new_references": count,
        "kept": 0,
        "provisional": 0,
        "carried": 0,
        "gone": 0,
        "persons_touched": total,
        "match_methods": methods,
    }


def _resolve(settings, now: datetime, config: linkage.LinkageConfig, engine: Engine, refs):
    """Links, keys and writes ``refs``; (references, persons, references without a
    usable ID, match methods)."""
    from pyspark.sql import functions as F
    from pyspark.sql.types import BinaryType, StructField, StructType

    spark = engine.spark
    count = refs.count()
    linked, unresolved = _linked(spark, refs, settings, config)
    method = " ".join(f"when '{s}' then '{m}'" for s, m in persons.METHOD_BY_STATUS.items())
    resolved = (
        refs.alias("r")
        .join(linked.alias("l"), "ord", "left")
        .selectExpr(
            "r.*",
            "coalesce(l.person_ref, 'id:' || r.id_number) as person_ref",
            f"coalesce(l.match_method, case r.id_status {method} end) as match_method",
            "case when l.ord is null then 1.0d else l.match_probability end as match_probability",
            "l.match_detail",
        )
    )
    inner, outer = hmac_pads(load_secret(settings))
    pads = spark.createDataFrame(
        [(inner, outer)],
        StructType([StructField("ipad", BinaryType()), StructField("opad", BinaryType())]),
    ).alias("pads")
    canonical = "case when person_ref like 'id:%' then substr(person_ref, 4) else person_ref end"
    keys = (
        resolved.select("person_ref")
        .distinct()
        .crossJoin(F.broadcast(pads))
        .selectExpr("person_ref", f"{person_key_spark_sql(canonical, 'pads')} as person_key")
    )
    keyed = resolved.join(keys, "person_ref").persist()
    try:
        xref = keyed.select(*XREF_COLUMNS).withColumn("resolved_at", F.lit(now))
        xref_schema = tables.schema(tables.PERSON_SOURCE_XREF)
        engine.lake.overwrite(tables.path(settings.lake, tables.PERSON_SOURCE_XREF),
                              _typed(xref.orderBy(*ORDER), xref_schema))  # fmt: skip
        lo, hi = golden.PANDAS_DATES
        cut = {c: f"case when {c} between date '{lo}' and date '{hi}' then {c} end as {c}"
               for c in ("birth_date", "death_date", "status_changed_on")}  # fmt: skip
        keyed.selectExpr(
            *[cut.get(c, c) for c in persons.GOLDEN_COLUMNS],
            "case when person_ref like 'id:%' then substr(person_ref, 4) end as canon_id",
        ).createOrReplaceTempView("civlake_golden_refs")
        try:
            golden_records = spark.sql(golden_sql("civlake_golden_refs"))
        finally:
            spark.catalog.dropTempView("civlake_golden_refs")
        golden_records = golden_records.withColumn("resolved_at", F.lit(now))
        persons_schema = tables.schema(tables.PERSONS)
        engine.lake.overwrite(tables.path(settings.lake, tables.PERSONS),
                              _typed(golden_records, persons_schema))  # fmt: skip
        total = keyed.select("person_key").distinct().count()
        methods = {str(r[0]): int(r[1]) for r in keyed.groupBy("match_method").count().collect()}
    finally:
        keyed.unpersist()
    return count, total, unresolved, methods
