"""DagBag integrity and one ingest DAG run through Airflow (in a subprocess, so the
Airflow configuration of the test's own project folder is in place before import)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from civlake import lake
from civlake.contracts import load_contracts
from civlake.orchestrate import airflow_env
from tests.deliveries import csv_bytes, headers, write_delivery

pytestmark = pytest.mark.dags
REPO = Path(__file__).resolve().parents[2]


def _python(settings, code: str) -> subprocess.CompletedProcess:
    # this checkout's code first, whatever the venv's editable install points at
    env = {**os.environ, **airflow_env(settings), "PYTHONPATH": f"{REPO / 'jobs'}:{REPO}"}
    return subprocess.run(
        [sys.executable, "-c", code], env=env, capture_output=True, text=True, timeout=300
    )


def test_dagbag_loads_every_dag_without_errors(settings):
    code = (
        "import json; from airflow.dag_processing.dagbag import DagBag\n"
        f"bag = DagBag(dag_folder={str(REPO / 'dags')!r})\n"
        "print(json.dumps({'errors': {k: str(v) for k, v in bag.import_errors.items()},"
        " 'dags': {d.dag_id: {'tags': sorted(d.tags), 'retries': d.default_args.get('retries'),"
        " 'tasks': [t.task_id for t in d.tasks]} for d in bag.dags.values()}}))"
    )
    out = _python(settings, code)
    assert out.returncode == 0, out.stderr[-3000:]
    result = json.loads(out.stdout.strip().splitlines()[-1])
    assert result["errors"] == {}
    feeds = set(load_contracts())
    assert {f"ingest_{f}" for f in feeds} | {"civlake_build"} == set(result["dags"])
    for dag_id, dag in result["dags"].items():
        assert "civlake" in dag["tags"], dag_id
        assert dag["retries"] >= 1, dag_id
    assert result["dags"]["civlake_build"]["tasks"] == ["resolve", "verify", "dbt_build", "publish"]


def test_ingest_dag_runs_end_to_end_through_airflow(settings):
    # GIVEN one complete delivery and one folder still being written
    row = [
        "440106193001011234",
        "张伟",
        "1",
        "1930-01-01",
        "440106",
        "90-99岁",
        "300",
        "2020-01",
        "正常",
        "",
    ]
    write_delivery(settings.landing, "elderly_allowance", "20261101-440100-001",
                   {"e.csv": csv_bytes(headers("elderly_allowance"), [row])})  # fmt: skip
    write_delivery(settings.landing, "elderly_allowance", "20261102-440100-001",
                   {"e.csv": csv_bytes(headers("elderly_allowance"), [row])}, manifest=False)  # fmt: skip
    # WHEN the CLI runs the pipeline through ingest (all ingest DAGs, via dag.test)
    env = {**os.environ, "CIVLAKE_HOME": str(settings.home)}
    out = subprocess.run([str(Path(sys.executable).with_name("civlake")), "run", "--through", "ingest"],
                         env=env, capture_output=True, text=True, timeout=600)  # fmt: skip
    # THEN the delivery is in bronze, the pending one is reported, the DAG run is recorded
    assert out.returncode == 0, out.stdout[-3000:] + out.stderr[-3000:]
    assert lake.read_arrow(settings.lake / "bronze" / "elderly_allowance").num_rows == 1
    assert "elderly_allowance" in out.stdout
    db = settings.airflow_home / "airflow.db"
    import sqlite3

    with sqlite3.connect(db) as con:
        states = dict(con.execute(
            "select task_id, state from task_instance where dag_id = 'ingest_elderly_allowance'"
        ).fetchall())  # fmt: skip
    assert states["ingest"] == "success"
