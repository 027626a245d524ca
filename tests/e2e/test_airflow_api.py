"""The build DAG under a real Airflow server, triggered over its REST API.

GIVEN a tiny generated city cleaned into silver by ``civlake run --through clean``
WHEN Airflow's api-server, scheduler and dag-processor run on a free loopback port on the same
metadata DB, and ``civlake_build`` is triggered with ``POST /api/v2/dags/{id}/dagRuns``
THEN the run succeeds, the warehouse gains ``verify.findings`` and the ``mart`` tables, and
every process the test started is gone afterwards.
"""

from __future__ import annotations

import os
import socket
import subprocess
import sys
from pathlib import Path

import duckdb
import pytest
from civlake.airflow_server import AirflowApi, AirflowServerError, start
from civlake.settings import load_settings

pytestmark = pytest.mark.e2e
CIVLAKE = str(Path(sys.executable).with_name("civlake"))
RUN_TIMEOUT = 600  # seconds; the build takes ~1-2 min on 2 shared cores, retries add more


def _civlake(home: Path, *args: str) -> None:
    env = {**os.environ, "CIVLAKE_HOME": str(home)}
    done = subprocess.run([CIVLAKE, *args], env=env, capture_output=True, text=True, timeout=900)
    assert done.returncode == 0, (
        f"civlake {args[0]} failed:\n{done.stdout[-2000:]}{done.stderr[-4000:]}"
    )


def _tables(warehouse: Path) -> set[tuple[str, str]]:
    if not warehouse.exists():
        return set()
    with duckdb.connect(str(warehouse), read_only=True) as con:
        rows = con.sql("select table_schema, table_name from information_schema.tables").fetchall()
    return {(schema, name) for schema, name in rows}


def _task_logs(airflow_home: Path, run_id: str, *, tail: int = 40) -> str:
    runs = airflow_home / "logs" / "dag_id=civlake_build"
    parts = []
    for log in sorted(runs.glob(f"run_id={run_id}/task_id=*/attempt=*.log")):
        lines = log.read_text(errors="replace").splitlines()
        parts += [f"----- {log} -----", *lines[-tail:]]
    return "\n".join(parts)


def test_build_dag_triggered_over_rest_succeeds_and_leaves_no_process(tmp_path):
    # GIVEN: a small city through the clean gate, nothing built yet.
    home = tmp_path / "data"
    _civlake(home, "generate", "--out", str(home / "landing"), "--persons", "300", "--months", "1")
    _civlake(home, "run", "--through", "clean")
    settings = load_settings(env={"CIVLAKE_HOME": str(home)})
    assert not {s for s, _ in _tables(settings.warehouse)} & {"verify", "mart"}

    # WHEN: Airflow's own processes run the DAG triggered over REST.
    server = start(settings)
    port = int(server.url.rsplit(":", 1)[1])
    try:
        api = AirflowApi(server)
        assert server.password_file.exists(), "api-server did not write the admin password file"
        assert api.unpause("civlake_build")["is_paused"] is False
        run = api.trigger(
            "civlake_build", logical_date="2026-11-02T08:00:00Z", conf={"through": "build"}
        )
        assert run["triggered_by"] == "rest_api"
        try:
            done = api.wait("civlake_build", run["dag_run_id"], timeout=RUN_TIMEOUT)
        except AirflowServerError as exc:
            pytest.fail(f"{exc}\n{_task_logs(settings.airflow_home, run['dag_run_id'])}")
        states = {
            t["task_id"]: t["state"] for t in api.task_instances("civlake_build", run["dag_run_id"])
        }
        assert done["state"] == "success", (
            f"civlake_build ended {done['state']} (tasks: {states})\n{server.logs()}\n"
            f"{_task_logs(settings.airflow_home, run['dag_run_id'])}"
        )
    finally:
        left = server.stop()

    # THEN: no process left behind, the port is free again, and the build did real work.
    assert left == [], f"Airflow processes survived stop(): {left}"
    with socket.socket() as s:
        assert s.connect_ex(("127.0.0.1", port)) != 0, f"port {port} still accepts connections"
    assert states == {
        "resolve": "success",
        "verify": "success",
        "dbt_build": "success",
        "publish": "skipped",  # conf {"through": "build"} stops before publish
    }
    tables = _tables(settings.warehouse)
    assert ("verify", "findings") in tables
    marts = sorted(name for schema, name in tables if schema == "mart")
    assert marts, f"no mart tables in {settings.warehouse}: {sorted(tables)}"
    with duckdb.connect(str(settings.warehouse), read_only=True) as con:
        findings = con.sql("select count(*) from verify.findings").fetchone()[0]
    assert findings > 0, "the generated city plants findings; the compare gate found none"
