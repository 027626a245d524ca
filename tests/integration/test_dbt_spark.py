"""The same dbt project on dbt-spark (session method, Delta tables) and dbt-duckdb.

GIVEN one small lake written as real Delta tables (the hand-written city of
test_verify_rules, which has a positive case for every verification rule), WHEN the
project is built with dbt-duckdb into one warehouse and with dbt-spark into another
home, THEN every model table holds the same rows on both engines
(tests.support.parity.compare_tables), findings ids, amounts and evidence included.

GIVEN the hand-made city of test_dbt_build (divisions with versions, deaths, marriages,
organisations: every mart and publish model has rows), WHEN the WHOLE project is built on
both engines, THEN every model table (staging, core, marts, publish) is identical too.
That build is tables only on Spark (``resource_types``): the data tests read the same
tables the comparison checks row for row, and each would be one more Spark job.
"""

from __future__ import annotations

import duckdb
import pytest

from civlake.settings import load_settings
from civlake.transform import read_model, run_dbt
from civlake.transform.spark_target import built_tables, model_path
from tests.integration import test_dbt_build
from tests.integration.test_verify_rules import SELECT, build_city
from tests.support.parity import CLOCK_COLUMNS, compare_tables

pytestmark = [pytest.mark.integration, pytest.mark.spark, pytest.mark.slow]  # scripts/test -m slow
# Each staged row's lake file: DuckDB's staging copies only the files it has not staged
# (dbt/macros/lake_staging.sql); dbt-spark rebuilds the staging tables and has no such column.
DUCKDB_STAGING = ("_lake_file",)


def _settings(root, engine: str):
    return load_settings(
        lake=root / "lake",
        warehouse=root / engine / "warehouse.duckdb",
        engine=engine,
        env={"CIVLAKE_HOME": str(root / engine)},
    )


@pytest.fixture(scope="module")
def engines(tmp_path_factory, spark):
    root = tmp_path_factory.mktemp("dbt_spark")
    duck, spk = _settings(root, "duckdb"), _settings(root, "spark")
    build_city().write(duck.lake)
    duck_run = run_dbt(duck, select=SELECT)
    spark_run = run_dbt(spk, select=SELECT)
    return duck, spk, duck_run, spark_run


def _duckdb_models(settings) -> list[tuple[str, str]]:
    con = duckdb.connect(str(settings.warehouse), read_only=True)
    try:
        return sorted(
            con.execute(
                "select table_schema, table_name from information_schema.tables "
                # not the lake's sources: views, or an empty table for an absent one
                # (delta_source.prepare), which dbt-spark reads as a temp view instead
                "where table_schema not like 'lake%'"
            ).fetchall()
        )
    finally:
        con.close()


def test_every_model_is_built_on_spark(engines):
    duck, spk, _, spark_run = engines
    assert spark_run["success"]
    assert built_tables(spk) == _duckdb_models(duck)
    for schema, name in built_tables(spk):
        assert (model_path(spk, schema, name) / "_delta_log").is_dir()


def test_every_model_table_identical(engines):
    duck, spk, *_ = engines
    diffs = []
    for schema, name in _duckdb_models(duck):
        left = read_model(duck, schema, name)
        right = read_model(spk, schema, name)
        # The build's own time (run_started_at) differs between the two builds: findings'
        # first_detected_at, and finding_status's valid_from (SCD2 from the build time;
        # dim_division's valid_from is data and compared).
        run_time = ("valid_from",) if name == "finding_status" else ()
        diffs += compare_tables(
            f"{schema}.{name}",
            left,
            right,
            ignore=("first_detected_at", *run_time, *DUCKDB_STAGING),
        )
    assert not diffs, "\n".join(diffs)


def test_findings_ids_amounts_and_evidence(engines):
    duck, spk, *_ = engines
    cols = ["finding_id", "rule_code", "amount_at_risk", "evidence"]
    left = read_model(duck, "verify", "findings").select(cols)
    right = read_model(spk, "verify", "findings").select(cols)
    assert left.num_rows > 10
    # Every rule of the hand-written city has a finding on Spark too.
    assert len(set(right["rule_code"].to_pylist())) >= 10
    assert compare_tables("findings", left, right, key=["finding_id"]) == []


def test_serving_copy_in_duckdb_warehouse(engines):
    _, spk, _, spark_run = engines
    assert "verify.findings" in spark_run["serving_copy"]
    con = duckdb.connect(str(spk.warehouse), read_only=True)
    try:
        (n,) = con.execute("select count(*) from verify.findings").fetchone()
    finally:
        con.close()
    assert n == read_model(spk, "verify", "findings").num_rows


def test_later_process_finds_the_tables_again(engines, spark):
    """A new process starts with an empty session catalog: run_dbt re-registers the
    Delta tables on disk, so findings still sees its previous table (first_detected_at
    survives) and its upstream models resolve."""
    _, spk, *_ = engines
    before = read_model(spk, "verify", "findings").to_pylist()
    for table in spark.catalog.listTables("verify"):
        if not table.isTemporary:
            spark.sql(f"drop table verify.`{table.name}`")  # external: the entry only
    run_dbt(spk, select="findings")
    after = read_model(spk, "verify", "findings").to_pylist()
    first = {r["finding_id"]: r["first_detected_at"] for r in before}
    assert {r["finding_id"]: r["first_detected_at"] for r in after} == first


@pytest.fixture(scope="module")
def whole_project(tmp_path_factory, spark):
    root = tmp_path_factory.mktemp("dbt_spark_whole")
    duck, spk = _settings(root, "duckdb"), _settings(root, "spark")
    test_dbt_build.build_city().write(duck.lake)
    run_dbt(duck)
    spark_run = run_dbt(spk, resource_types=("model", "seed"))
    return duck, spk, spark_run


def test_whole_project_builds_every_model_on_spark(whole_project):
    duck, spk, spark_run = whole_project
    assert spark_run["success"]
    assert built_tables(spk) == _duckdb_models(duck)
    schemas = {schema for schema, _ in built_tables(spk)}
    assert {"staging", "core", "verify", "mart", "publish"} <= schemas


def test_whole_project_every_model_identical(whole_project):
    duck, spk, _ = whole_project
    diffs, empty = [], []
    for schema, name in _duckdb_models(duck):
        left = read_model(duck, schema, name)
        right = read_model(spk, schema, name)
        diffs += compare_tables(
            f"{schema}.{name}", left, right, ignore=(*CLOCK_COLUMNS, *DUCKDB_STAGING)
        )
        if schema in ("mart", "publish") and left.num_rows == 0:
            empty.append(f"{schema}.{name}")
    assert not diffs, "\n".join(diffs)
    # The comparison means something: the city gives the marts and publish tables rows.
    assert len(empty) <= 3, empty
