"""The lake sources dbt reads on DuckDB: views over delta_scan written into the warehouse
before each dbt command, an empty table with the lake's schema for an absent table."""

from __future__ import annotations

import duckdb
import pyarrow as pa
import pytest

from civlake import lake, tables
from civlake.engine.duck import load_delta
from civlake.transform.delta_source import LAKE_FILE, lake_sources, prepare
from civlake.transform.runner import DBT_DIR, absent_lake_tables

pytestmark = pytest.mark.integration
MODELS = DBT_DIR / "models"
DIVISIONS = tables.silver("divisions")
HUKOU = tables.silver("hukou_population")


def _rows(table: str, n: int) -> pa.Table:
    return pa.Table.from_pylist([{}] * n, tables.schema(table))  # rows of nulls


def _warehouse(settings) -> duckdb.DuckDBPyConnection:
    con = duckdb.connect(str(settings.warehouse), read_only=True)
    load_delta(con)
    return con


def _kind(con, schema: str, name: str) -> str:
    return con.execute(
        "select table_type from information_schema.tables where table_schema = ? and "
        "table_name = ?",
        [schema, name],
    ).fetchone()[0]


def test_every_lake_source_is_a_view_of_the_lake_or_an_empty_stand_in(settings) -> None:
    sources = {s.lake_table: s for s in lake_sources(MODELS)}
    # every silver table dbt reads is a lake source
    assert {tables.silver(f) for f in ("divisions", "hukou_population")} <= set(sources)
    div, hukou = sources[DIVISIONS], sources[HUKOU]

    # GIVEN a lake holding only silver.divisions (2 rows)
    lake.append(tables.path(settings.lake, DIVISIONS), _rows(DIVISIONS, 2))
    # WHEN the warehouse's sources are prepared
    prepare(settings, MODELS, absent_lake_tables(settings))
    # THEN divisions reads the lake, and the absent hukou table is empty with its lake schema
    with _warehouse(settings) as con:
        assert con.sql(f"select count(*) from {div.schema}.{div.name}").fetchone() == (2,)
        assert _kind(con, div.schema, div.name) == "VIEW"
        empty = con.sql(f"select * from {hukou.schema}.{hukou.name}").to_arrow_table()
        assert empty.num_rows == 0 and _kind(con, hukou.schema, hukou.name) == "BASE TABLE"
        # (a silver source also names each row's lake file: macros/lake_staging.sql)
        assert empty.schema.names == [*tables.schema(HUKOU).names, LAKE_FILE]

    # WHEN the lake grows (a row more, and the hukou table arrives) and sources are
    # prepared again
    lake.append(tables.path(settings.lake, DIVISIONS), _rows(DIVISIONS, 1))
    lake.append(tables.path(settings.lake, HUKOU), _rows(HUKOU, 3))
    prepare(settings, MODELS, absent_lake_tables(settings))
    # THEN both read the lake as it is now, and the source schemas hold the sources only
    with _warehouse(settings) as con:
        assert con.sql(f"select count(*) from {div.schema}.{div.name}").fetchone() == (3,)
        assert con.sql(f"select count(*) from {hukou.schema}.{hukou.name}").fetchone() == (3,)
        assert _kind(con, hukou.schema, hukou.name) == "VIEW"
        files = con.sql(f"select distinct {LAKE_FILE} from {hukou.schema}.{hukou.name}").fetchall()
        lake_files = {str(p) for p in tables.path(settings.lake, HUKOU).glob("*.parquet")}
        assert {f for (f,) in files} <= lake_files and files
        held = con.execute(
            "select table_schema, table_name from information_schema.tables "
            "where table_schema in (select unnest(?))",
            [sorted({s.schema for s in sources.values()})],
        ).fetchall()
        assert sorted(held) == sorted((s.schema, s.name) for s in sources.values())
