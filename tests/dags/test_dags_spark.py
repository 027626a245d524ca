"""The DAGs on the Spark engine: parsed with ``CIVLAKE_ENGINE=spark`` their stage tasks are
the Apache Spark provider's ``@task.pyspark`` tasks, and one ingest DAG run through Airflow
(``dag.test``) writes bronze and silver as Delta tables committed by Spark.

Airflow runs in a subprocess: its configuration (and the engine, read when the DAG files
are parsed) must be in place before import, and ``@task.pyspark`` stops the session it
ran on, which must not be this test process's shared one.
"""

from __future__ import annotations

import json
import os
import sqlite3
import subprocess
import sys
from pathlib import Path

import pytest

from civlake import lake
from civlake.engine.compat import read_protocol
from civlake.orchestrate import SPARK_CONN_ID, airflow_env
from civlake.settings import load_settings
from tests.deliveries import csv_bytes, headers, write_delivery

pytestmark = [pytest.mark.dags, pytest.mark.spark]
REPO = Path(__file__).resolve().parents[2]
FEED = "divisions"  # the one feed whose clean gate needs no other feed
SPARK_STAGES = {"ingest", "clean", "expectations", "resolve", "verify", "dbt_build"}


@pytest.fixture
def spark_settings(tmp_path):
    return load_settings(
        env={
            "CIVLAKE_HOME": str(tmp_path / "data"),
            "CIVLAKE_ENGINE": "spark",
            "CIVLAKE_SPARK_MASTER": "local[1]",
        }
    )


def _python(settings, code: str, **extra: str) -> subprocess.CompletedProcess:
    env = {
        # this checkout's code first, whatever the venv's editable install points at
        **os.environ, **airflow_env(settings), "PYTHONPATH": f"{REPO / 'jobs'}:{REPO}",
        "CIVLAKE_SPARK_DRIVER_MEMORY": "1g", "CIVLAKE_SPARK_SHUFFLE_PARTITIONS": "2", **extra,
    }  # fmt: skip
    return subprocess.run(
        [sys.executable, "-c", code], env=env, capture_output=True, text=True, timeout=1200
    )


PARSE = f"""
import json, os
from airflow.dag_processing.dagbag import DagBag

def tasks():
    bag = DagBag(dag_folder={str(REPO / "dags")!r})
    assert not bag.import_errors, bag.import_errors
    return {{
        f"{{d.dag_id}}.{{t.task_id}}": {{
            "operator": type(t).__name__, "conn_id": getattr(t, "conn_id", None),
            "config": getattr(t, "config_kwargs", None),
        }}
        for d in bag.dags.values() for t in d.tasks
    }}

spark = tasks()
os.environ["CIVLAKE_ENGINE"] = "duckdb"
print(json.dumps({{"spark": spark, "duckdb": tasks()}}))
"""


def test_dags_parse_on_spark_with_pyspark_tasks(spark_settings):
    out = _python(spark_settings, PARSE)
    assert out.returncode == 0, out.stderr[-3000:]
    parsed = json.loads(out.stdout.strip().splitlines()[-1])
    spark, embedded = parsed["spark"], parsed["duckdb"]
    assert set(spark) == set(embedded)  # same DAGs and tasks: only the task kind differs
    assert f"ingest_{FEED}.ingest" in spark and "civlake_build.resolve" in spark
    for name, t in spark.items():
        if name.split(".", 1)[1] in SPARK_STAGES:
            assert t["operator"] == "_PySparkDecoratedOperator", (name, t)
            assert t["conn_id"] == SPARK_CONN_ID, (name, t)
            conf = t["config"]
            assert conf["spark.sql.extensions"] == "io.delta.sql.DeltaSparkSessionExtension"
            assert conf["spark.sql.session.timeZone"] == "UTC"
            assert all(Path(j).is_file() for j in conf["spark.jars"].split(",")), conf
        else:  # publish copies the warehouse's publish schema out: no Spark needed
            assert t["operator"] == "_PythonDecoratedOperator", (name, t)
    assert {t["operator"] for t in embedded.values()} == {"_PythonDecoratedOperator"}


RUN = f"""
from datetime import UTC, datetime
from civlake.orchestrate import load_dags, prepare_airflow, run_dag
from civlake.settings import load_settings

prepare_airflow(load_settings())
dag = load_dags()["ingest_{FEED}"]
run_dag(dag, logical_date=datetime(2026, 11, 2, 8, tzinfo=UTC), conf={{"through": "clean"}})
"""


@pytest.mark.slow  # the per-stage Spark parity suite: scripts/test -m slow (README)
def test_ingest_dag_runs_on_spark_and_spark_writes_the_lake(spark_settings):
    # GIVEN one complete delivery of one feed: two valid rows, one with an unknown level
    rows = [
        ["440100000000", "广州市", "2", "440000000000", "", "1990-01-01", "", ""],
        ["440106000000", "天河区", "3", "440100000000", "", "1990-01-01", "", ""],
        ["440199000000", "无级别", "X", "440100000000", "", "1990-01-01", "", ""],
    ]
    write_delivery(spark_settings.landing, FEED, "20261101-440100-001",
                   {"d.csv": csv_bytes(headers(FEED), rows)})  # fmt: skip
    # WHEN its ingest DAG runs through Airflow with the Spark engine
    out = _python(spark_settings, RUN)
    assert out.returncode == 0, out.stdout[-3000:] + out.stderr[-5000:]
    # THEN the tasks ran as pyspark tasks and succeeded
    with sqlite3.connect(spark_settings.airflow_home / "airflow.db") as con:
        tis = con.execute(
            "select task_id, operator, state from task_instance where dag_id = ?",
            (f"ingest_{FEED}",),
        ).fetchall()
    assert sorted(tis) == [
        (t, "_PySparkDecoratedOperator", "success") for t in ("clean", "expectations", "ingest")
    ], tis
    # AND bronze, silver, quarantine and the audit are Delta tables committed by Spark
    for table in (f"bronze/{FEED}", f"silver/{FEED}", "quarantine", "ingest_audit"):
        engines = read_protocol(spark_settings.lake / table).engines
        assert engines and all(e.startswith("Apache-Spark/") for e in engines), (table, engines)
    bronze = lake.read_arrow(lake.table_path(spark_settings.lake, "bronze", FEED))
    silver = lake.read_arrow(lake.table_path(spark_settings.lake, "silver", FEED))
    quarantine = lake.read_arrow(lake.table_path(spark_settings.lake, "quarantine"))
    assert bronze.num_rows == 3
    assert sorted(silver["division_code"].to_pylist()) == ["440100000000", "440106000000"]
    assert quarantine["_source_row"].to_pylist() == [3], quarantine
