"""The build DAG under a real Airflow server, triggered over its REST API.

GIVEN a tiny generated city cleaned into silver by ``civlake run --through clean``
WHEN Airflow's api-server, scheduler and dag-processor run on a free loopback port on the same
metadata DB, and ``civlake_build`` is triggered with ``POST /api/v2/dags/{id}/dagRuns``
THEN the run succeeds, the warehouse gains ``verify.findings`` and the ``mart`` tables, and
every process the test started is gone afterwards.
"""

from __future__ import annotations

import contextlib
import os
import socket
import subprocess
import sys
import time
from pathlib import Path

import duckdb
import pytest

from civlake.airflow_server import (
    AirflowApi,
    AirflowServer,
    AirflowServerError,
    start,
    wait_healthy,
)
from civlake.osutil import free_port
from civlake.settings import load_settings

pytestmark = pytest.mark.e2e
REPO = Path(__file__).resolve().parents[2]
CIVLAKE = str(Path(sys.executable).with_name("civlake"))
RUN_TIMEOUT = 600  # seconds; the build takes ~1-2 min on 2 shared cores, retries add more


def _civlake(home: Path, *args: str) -> None:
    env = {**os.environ, "CIVLAKE_HOME": str(home)}
    done = subprocess.run([CIVLAKE, *args], env=env, capture_output=True, text=True, timeout=900)
    assert done.returncode == 0, (
        f"civlake {args[0]} failed:\n{done.stdout[-2000:]}{done.stderr[-4000:]}"
    )


def _airflow_cli(settings, port: int, command: str) -> str:
    script = (
        f'eval "$({sys.executable} -m civlake.airflow_server --port {port})"; airflow {command}'
    )
    env = {**os.environ, "CIVLAKE_HOME": str(settings.home)}
    done = subprocess.run(
        ["bash", "-c", script], env=env, capture_output=True, text=True, timeout=300
    )
    assert done.returncode == 0, (
        f"airflow {command} failed:\n{done.stdout[-2000:]}{done.stderr[-3000:]}"
    )
    return done.stdout


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


@pytest.fixture(scope="module")
def cleaned_city(tmp_path_factory):
    """A small city through the clean gate (``civlake run``, in-process DAGs), nothing built."""
    home = tmp_path_factory.mktemp("airflow_api") / "data"
    _civlake(home, "generate", "--out", str(home / "landing"), "--persons", "300", "--months", "1")
    _civlake(home, "run", "--through", "clean")
    return load_settings(env={"CIVLAKE_HOME": str(home)})


def test_build_dag_triggered_over_rest_succeeds_and_leaves_no_process(cleaned_city):
    # GIVEN: a small city through the clean gate, nothing built yet.
    settings = cleaned_city
    assert not {s for s, _ in _tables(settings.warehouse)} & {"verify", "mart"}

    # WHEN: Airflow's own processes run the DAG triggered over REST.
    server = start(settings)
    port = int(server.url.rsplit(":", 1)[1])
    try:
        api = AirflowApi(server)
        assert server.password_file.exists(), "api-server did not write the admin password file"
        # The README's second-shell recipe: civlake's env, then the airflow CLI.
        _airflow_cli(settings, port, "dags unpause civlake_build")
        assert api.unpause("civlake_build")["is_paused"] is False  # and PATCH is idempotent
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


def test_airflow_ui_script_serves_the_runs_civlake_run_recorded(cleaned_city):
    # GIVEN: the metadata DB `civlake run` wrote; WHEN: scripts/airflow-ui starts standalone.
    settings = cleaned_city
    port = free_port()
    log_dir = settings.home / "airflow-ui-test"
    log_dir.mkdir(exist_ok=True)
    env = {
        **os.environ,
        "CIVLAKE_HOME": str(settings.home),
        # Free ports for the log servers (8793/8794 by default) on a shared machine.
        "AIRFLOW__LOGGING__WORKER_LOG_SERVER_PORT": str(free_port()),
        "AIRFLOW__LOGGING__TRIGGER_LOG_SERVER_PORT": str(free_port()),
    }
    with open(log_dir / "standalone.log", "wb") as log:
        proc = subprocess.Popen(
            ["bash", str(REPO / "scripts" / "airflow-ui"), "--port", str(port)],
            env=env, stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
            start_new_session=True,
        )  # fmt: skip
        server = AirflowServer(
            url=f"http://127.0.0.1:{port}", env={"AIRFLOW_HOME": str(settings.airflow_home)},
            log_dir=log_dir, processes={"standalone": proc},
        )  # fmt: skip
        try:
            wait_healthy(server, ("scheduler", "dag-processor", "triggerer"), timeout=300)
            api = AirflowApi(server)
            runs = api.dag_runs("ingest_divisions")
        finally:
            left = server.stop()

    # THEN: the banner says where to go, the API (with the admin JWT) shows civlake run's
    # in-process runs, and nothing is left running.
    banner = (log_dir / "standalone.log").read_text(errors="replace")
    assert f"http://127.0.0.1:{port}" in banner
    assert str(server.password_file) in banner
    assert server.password_file.exists()
    assert any(r["state"] == "success" for r in runs), runs
    assert left == [], f"processes survived stop(): {left}"


def test_stop_reaches_processes_that_left_the_process_group(tmp_path):
    # Airflow's task supervisor moves each task into its own process group; stop() must
    # still find it. A shell with one plain and one new-group child stands in (no Airflow).
    script = "sleep 300 & perl -e 'setpgrp(0, 0); sleep 300' & wait"
    proc = subprocess.Popen(["bash", "-c", script], start_new_session=True)
    (tmp_path / "fake.log").write_text("")
    server = AirflowServer(
        url="http://127.0.0.1:9", env={}, log_dir=tmp_path, processes={"fake": proc}
    )
    deadline = time.monotonic() + 10
    while _groups(proc.pid) < 2 and time.monotonic() < deadline:
        time.sleep(0.1)
    children = _children(proc.pid)
    assert _groups(proc.pid) == 2, "the stand-in did not start a child in its own group"

    assert server.stop(grace=5) == []
    assert proc.returncode is not None
    for pid in children:
        assert not Path(f"/proc/{pid}").exists() or "Z" in _state(pid)


def _children(pid: int) -> list[int]:
    text = Path(f"/proc/{pid}/task/{pid}/children").read_text()
    return [int(p) for p in text.split()]


def _groups(pid: int) -> int:
    """How many process groups the children of ``pid`` are in."""
    pgids = set()
    for child in _children(pid):
        with contextlib.suppress(ProcessLookupError):
            pgids.add(os.getpgid(child))
    return len(pgids)


def _state(pid: int) -> str:
    stat = Path(f"/proc/{pid}/stat").read_text()
    return stat[stat.rindex(")") + 2]
