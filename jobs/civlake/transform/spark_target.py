"""The dbt project on the Spark engine: session, catalog, serving copy, reading models.

dbt-spark's ``session`` method runs every statement on ``SparkSession.builder
.getOrCreate()``; :func:`prepare` creates the process's Delta-configured session first
(``civlake.engine.spark.get_spark``), so that call returns it instead of a bare session.

Where the tables live: the session catalog is in memory (no Hive metastore), so it is
empty in every new process, yet ``verify`` and ``build`` run in separate tasks and the
findings model reads its previous table. Every model is therefore a Delta table at a
fixed place, ``<home>/spark-warehouse/<schema>/<name>`` (``spark__location_clause``
in dbt/macros/spark_engine.sql), and :func:`register_tables` points the catalog at what
is on disk before each dbt run. Re-registering is cheap (metadata only) and also moves
the catalog when one process builds for two homes (tests, two cities).

Serving (publish, catalog API, verification service) reads the DuckDB warehouse file;
:func:`export_serving_copy` copies the built tables there, same schemas and names, so
serving does not know which engine built them.
"""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any

import pyarrow as pa

from civlake.settings import Settings

log = logging.getLogger("civlake.transform")

# The schemas the dbt project builds (generate_schema_name uses them verbatim); only
# catalog entries in these are ever re-pointed or dropped.
MODEL_SCHEMAS = ("staging", "core", "verify", "mart", "publish")


def spark_warehouse(settings: Settings) -> Path:
    """Root of the Spark engine's model tables: ``<home>/spark-warehouse``."""
    return settings.home / "spark-warehouse"


def model_path(settings: Settings, schema: str, name: str) -> Path:
    return spark_warehouse(settings) / schema / name


def absent_view_name(lake_table: str) -> str:
    """Temporary view standing in for an absent lake table (macro civlake_absent_view)."""
    return "civlake_absent__" + lake_table.replace("/", "__")


def built_tables(settings: Settings) -> list[tuple[str, str]]:
    """(schema, name) of every Delta table under the Spark warehouse, sorted.

    A table counts once its log holds a commit: a build killed while creating a table
    leaves an empty ``_delta_log`` that Delta refuses to register.
    """
    root = spark_warehouse(settings)
    found = [
        (log_dir.parent.parent.name, log_dir.parent.name)
        for log_dir in root.glob("*/*/_delta_log")
        if log_dir.is_dir() and any(log_dir.glob("*.json"))
    ]
    return sorted(found)


def prepare(settings: Settings, absent: list[str]) -> Any:
    """Session, catalog and absent-source views ready for a dbt-spark run; the session."""
    from pyspark.sql.pandas.types import from_arrow_schema

    from civlake import tables
    from civlake.engine.spark import get_spark

    spark = get_spark(settings)
    register_tables(spark, settings)
    for table in absent:
        empty = spark.createDataFrame([], from_arrow_schema(tables.schema(table)))
        empty.createOrReplaceTempView(absent_view_name(table))
        log.warning("lake table %s is absent: building from an empty table", table)
    return spark


def register_tables(spark: Any, settings: Settings) -> None:
    """Make the session catalog name exactly the model tables on disk for these settings.

    Catalog entries of our schemas that point elsewhere (another home built earlier in
    this process) are dropped first: they are external tables, so only the entry goes.
    """
    on_disk = built_tables(settings)
    schemas = {s for s, _ in on_disk} | set(MODEL_SCHEMAS)
    for schema in sorted(schemas):
        spark.sql(f"create schema if not exists `{schema}`")
        for table in spark.catalog.listTables(schema):
            if table.isTemporary:
                continue
            want = model_path(settings, schema, table.name)
            moved = _location(spark, schema, table.name) != want.resolve()
            if moved and table.tableType == "EXTERNAL":
                spark.sql(f"drop table if exists `{schema}`.`{table.name}`")
    for schema, name in on_disk:
        path = model_path(settings, schema, name)
        spark.sql(f"create table if not exists `{schema}`.`{name}` using delta location '{path}'")


def _location(spark: Any, schema: str, name: str) -> Path | None:
    rows = spark.sql(f"describe table extended `{schema}`.`{name}`").collect()
    for row in rows:
        if row[0] == "Location":
            loc = str(row[1])
            return Path(loc.removeprefix("file:")).resolve()
    return None


def read_spark_model(settings: Settings, schema: str, name: str) -> pa.Table:
    """A model built by dbt-spark, read by path as Arrow with delta-rs, as the serving
    copy reads it: never through the Spark driver, whose results are capped
    (``spark.driver.maxResultSize``; at 1,000,000 persons one model is 77 MiB)."""
    from deltalake import DeltaTable

    from civlake import lake

    # DeltaTable itself: a missing model is refused as TableNotFoundError, naming the path.
    return lake.arrow_table(DeltaTable(str(model_path(settings, schema, name))))


def read_spark_models(
    settings: Settings, schemas: tuple[str, ...] | list[str]
) -> dict[str, pa.Table]:
    """Every Spark-built model table of ``schemas``, by ``schema.name``, read by path.

    The parity check (tests.support.parity) compares these with the DuckDB warehouse's
    tables; reading the Delta tables themselves, not the serving copy, keeps the copy
    step out of what is compared.
    """
    wanted = set(schemas)
    return {
        f"{schema}.{name}": read_spark_model(settings, schema, name)
        for schema, name in built_tables(settings)
        if schema in wanted
    }


def export_serving_copy(settings: Settings) -> list[str]:
    """Copy every Spark-built model table into the DuckDB warehouse (same schema.name).

    Called by ``run_dbt`` after a successful Spark build. Each table is replaced whole,
    in one transaction per table; returns the ``schema.name`` list copied.

    The Delta tables are read by delta-rs as an Arrow dataset that DuckDB scans in
    batches, instead of being collected whole through the Spark driver into the JVM and
    then Python (1,000,000 persons: 85 tables in 58 s, 1.5 GiB peak).
    """
    import duckdb

    from civlake import lake

    settings.warehouse.parent.mkdir(parents=True, exist_ok=True)
    copied = []
    con = duckdb.connect(str(settings.warehouse))
    try:
        for schema, name in built_tables(settings):
            # built_tables lists only tables with a commit, so each one opens
            data = lake.arrow_dataset(lake.open_table(model_path(settings, schema, name)))  # noqa: F841 (DuckDB scans it by name)
            con.execute(f'create schema if not exists "{schema}"')
            con.execute(f'create or replace table "{schema}"."{name}" as select * from data')
            copied.append(f"{schema}.{name}")
    finally:
        con.close()
    return copied
