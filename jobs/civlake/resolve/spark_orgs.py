"""``resolve_organizations`` on the Spark engine: the references stay on the executors.

The registry's latest rows (``organizations._latest_registry``: one per USCC, thousands,
not millions) are read to the driver as on the embedded engine and broadcast. Each
silver feed that refers to organisations is resolved by ``mapInArrow`` with the SAME
``organizations._resolve_row`` the embedded engine runs per row (exact USCC, registry
name, one-typo USCC, else a new organisation), so both engines decide alike by
construction. The xref is written by delta-spark from that DataFrame; the organisations
outside the registry (last non-null USCC and name seen, as ``organizations._LastSeen``
keeps them) are a group-by on the executors, unioned with the registry rows and
written the same way.

What reaches the driver: the registry's latest rows, counts and the match-method tally.
"""

from __future__ import annotations

from collections.abc import Iterator

import pyarrow as pa

from civlake import tables
from civlake.engine import spark_io
from civlake.engine.compat import spark_frame
from civlake.engine.runtime import Engine
from civlake.resolve import organizations as orgs

# The order _LastSeen keeps (pandas' sort: nulls last per column). Where that ties, the
# embedded engine goes by reading order: feeds in REFERENCES order (here the feed's
# place), and within a feed, rows of one delivery and row number in two source files by
# the order of their files (here the file name, which can differ from it; ingest gives
# every row of a file its own row number, so only multi-file deliveries can tie).
_SEQ = "_feed_order"
_RESOLVED = pa.schema(
    [*tables.schema(tables.ORG_SOURCE_XREF), ("_produced_at", pa.string()), (_SEQ, pa.int32())]
)
_REGISTRY_INDEX: dict[int, tuple] = {}  # per Python worker: the broadcast's lookups


def _lookups(registry) -> tuple:
    """(one-typo index, USCCs, name -> USCC) of the broadcast registry, built once per
    Python worker."""
    key = id(registry)
    if key not in _REGISTRY_INDEX:
        _REGISTRY_INDEX.clear()  # a reused worker keeps only the current run's
        codes, by_name = registry.value if hasattr(registry, "value") else registry
        _REGISTRY_INDEX[key] = (orgs._one_typo_index(codes), set(codes), by_name)
    return _REGISTRY_INDEX[key]


def resolve_batches(ref: tuple, order: int, registry):
    """The function mapInArrow runs over one feed: silver batches in, resolved
    references out (``_RESOLVED``)."""

    def run(batches: Iterator[pa.RecordBatch]) -> Iterator[pa.RecordBatch]:
        index, by_uscc, by_name = _lookups(registry)
        for batch in batches:
            rows = []
            for rec in batch.to_pylist():
                row = orgs._resolve_row(rec, ref, index, by_uscc, by_name)
                if row is not None:
                    rows.append({**row, _SEQ: order})
            yield pa.RecordBatch.from_pylist(rows, schema=_RESOLVED)

    return run


def _outside(resolved, registry_codes):
    """Organisations referred to but not in the registry, last non-null uscc and name
    in ``_LastSeen``'s order."""
    order = (
        "struct(_produced_at is null, coalesce(_produced_at, ''), _delivery_id is null, "
        "coalesce(_delivery_id, ''), _source_row is null, coalesce(_source_row, 0), "
        f"{_SEQ}, _source_file)"
    )
    return (
        resolved.join(registry_codes, resolved.org_key == registry_codes.uscc, "left_anti")
        .groupBy("org_key")
        .agg(_max_by("org_uscc", order).alias("uscc"), _max_by("org_name", order).alias("name"))
    )


def _max_by(column: str, order: str):
    from pyspark.sql import functions as F

    return F.expr(f"max_by({column}, {order}) filter (where {column} is not null)")


def resolve(settings, *, engine: Engine, latest: pa.Table, by_name: dict[str, str]) -> dict:
    """Writes core/org_source_xref and core/organizations from silver on ``engine``."""
    from pyspark.sql import functions as F
    from pyspark.sql.pandas.types import from_arrow_schema

    spark = engine.spark
    codes = sorted(latest.column("uscc").to_pylist())
    registry = spark.sparkContext.broadcast((codes, by_name))
    parts = []
    for order, ref in enumerate(orgs.REFERENCES):
        df = spark_io.read_df(spark, tables.path(settings.lake, tables.silver(ref[0])))
        if df is not None:
            parts.append(
                df.mapInArrow(resolve_batches(ref, order, registry), from_arrow_schema(_RESOLVED))
            )
    xref_schema = tables.schema(tables.ORG_SOURCE_XREF)
    if parts:
        resolved = parts[0]
        for part in parts[1:]:
            resolved = resolved.unionByName(part)
    else:
        resolved = spark_frame(spark, _RESOLVED.empty_table())
    resolved = resolved.persist()
    try:
        xref = resolved.select(*xref_schema.names).orderBy("feed_id", *orgs.LINEAGE, "role")
        engine.lake.overwrite(tables.path(settings.lake, tables.ORG_SOURCE_XREF), xref)
        registry_codes = spark_frame(spark, pa.table({"uscc": pa.array(codes, pa.string())}))
        outside = _outside(resolved, F.broadcast(registry_codes)).withColumn(
            "in_registry", F.lit(False)
        )
        schema = tables.schema(tables.ORGANIZATIONS)
        registered = pa.concat_tables(
            [schema.empty_table(), latest], promote_options="default"
        ).select(schema.names)
        typed = from_arrow_schema(schema, prefer_timestamp_ntz=True)
        outside = outside.select(
            *[
                (F.col(f.name) if f.name in outside.columns else F.lit(None))
                .cast(f.dataType)
                .alias(f.name)
                for f in typed
            ]
        )
        organizations = spark_frame(spark, registered.cast(schema)).unionByName(outside)
        organizations = organizations.orderBy("org_key").persist()
        try:
            engine.lake.overwrite(tables.path(settings.lake, tables.ORGANIZATIONS), organizations)
            total = organizations.count()
        finally:
            organizations.unpersist()
        methods = {str(r[0]): int(r[1]) for r in resolved.groupBy("match_method").count().collect()}
    finally:
        resolved.unpersist()
        registry.destroy()
    return {
        "organizations": total,
        "in_registry": latest.num_rows,
        "references": sum(methods.values()),
        "match_methods": methods,
    }
