"""Start and stop a real Airflow server on the project's metadata DB, and talk to its REST API.

``civlake run`` runs DAGs in-process (``dag.test()``); this module is for the other way:
Airflow's own processes (api-server, scheduler, dag-processor) on the same AIRFLOW_HOME, so a
run triggered over REST API v2 or from the UI executes exactly as in a deployment. Used by
``tests/e2e/test_airflow_api.py``; ``scripts/airflow-ui`` is the person-facing equivalent
(``airflow standalone``, with this module's environment). ``AirflowApi`` is a small REST API v2
client (JWT from the simple auth manager; trigger, unpause, wait for a run).

Stopping is strict on purpose: Airflow's task supervisor puts each task in its own process
group, so killing the started processes' groups is not enough. ``stop`` signals every
process in their sessions and below them, and reports any that survived.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
import urllib.error
import urllib.parse
import urllib.request
from contextlib import contextmanager, suppress
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Any

from civlake.orchestrate import airflow_env
from civlake.osutil import free_port
from civlake.settings import Settings

COMPONENTS = ("api-server", "scheduler", "dag-processor")
ADMIN = "admin"  # simple auth manager's default user (airflow.cfg: simple_auth_manager_users)


class AirflowServerError(RuntimeError):
    """Airflow's processes did not come up, or a REST call failed; the message says which."""


def standalone_env(settings: Settings, *, port: int) -> dict[str, str]:
    """What Airflow's processes need on top of ``civlake run``'s environment (no os.environ)."""
    venv_bin = str(Path(sys.executable).parent)
    return {
        **airflow_env(settings),
        # `airflow standalone` and task supervisors start `airflow` by name.
        "PATH": f"{venv_bin}{os.pathsep}{os.environ.get('PATH', '')}",
        # Loopback only: the lake holds personal data; put a proxy in front to share the UI.
        "AIRFLOW__API__HOST": "127.0.0.1",
        "AIRFLOW__API__PORT": str(port),
        # Workers report task state to the api-server; its default URL assumes port 8080.
        "AIRFLOW__CORE__EXECUTION_API_SERVER_URL": f"http://127.0.0.1:{port}/execution/",
    }


def server_env(settings: Settings, *, port: int, log_server_port: int) -> dict[str, str]:
    """Full environment for the processes ``start`` launches (tests: quiet neighbours)."""
    return {
        **os.environ,
        **standalone_env(settings, port=port),
        # The scheduler serves task logs on 8793 by default: shared machines collide there.
        "AIRFLOW__LOGGING__WORKER_LOG_SERVER_PORT": str(log_server_port),
        # SQLite allows one writer: one task at a time keeps the scheduler from lock errors.
        "AIRFLOW__CORE__PARALLELISM": "1",
        "AIRFLOW__LOGGING__LOGGING_LEVEL": "INFO",
    }


@dataclass
class AirflowServer:
    """Running Airflow processes; ``url`` is the api-server's base URL."""

    url: str
    env: dict[str, str]
    log_dir: Path
    processes: dict[str, subprocess.Popen] = field(default_factory=dict)
    _logs: list[IO[bytes]] = field(default_factory=list)

    @property
    def password_file(self) -> Path:
        return Path(self.env["AIRFLOW_HOME"]) / "simple_auth_manager_passwords.json.generated"

    def logs(self, *, tail: int = 60) -> str:
        """The last lines of each process's output, for a failure message."""
        parts = []
        for name in self.processes:
            path = self.log_dir / f"{name}.log"
            lines = path.read_text(errors="replace").splitlines() if path.exists() else []
            parts.append(f"----- airflow {name} ({path}) -----")
            parts.extend(lines[-tail:])
        return "\n".join(parts)

    def stop(self, *, grace: float = 20.0) -> list[int]:
        """Stop every process started here and everything below it; return pids still alive."""
        sessions = {p.pid for p in self.processes.values()}
        _signal_all(_tree(sessions), signal.SIGTERM)
        deadline = time.monotonic() + grace
        while _tree(sessions) and time.monotonic() < deadline:
            time.sleep(0.3)
        _signal_all(_tree(sessions), signal.SIGKILL)
        for proc in self.processes.values():
            with suppress(subprocess.TimeoutExpired):
                proc.wait(timeout=5)
        for log in self._logs:
            log.close()
        time.sleep(0.2)
        return sorted(_tree(sessions))


def start(
    settings: Settings,
    *,
    port: int | None = None,
    components: tuple[str, ...] = COMPONENTS,
    extra_env: dict[str, str] | None = None,
    timeout: float = 180.0,
) -> AirflowServer:
    """Start Airflow's processes on a loopback port and wait until the API reports them healthy.

    The metadata DB is created first if ``civlake run`` has not done it yet. Each process
    gets its own session so ``AirflowServer.stop`` can find everything it spawned.
    """
    port = port or free_port()
    env = {**server_env(settings, port=port, log_server_port=free_port()), **(extra_env or {})}
    home = Path(env["AIRFLOW_HOME"])
    log_dir = home / "server-logs"
    log_dir.mkdir(parents=True, exist_ok=True)
    airflow = str(Path(sys.executable).with_name("airflow"))
    _migrate(airflow, env, home)
    server = AirflowServer(url=f"http://127.0.0.1:{port}", env=env, log_dir=log_dir)
    try:
        for name in components:
            args = (
                [name, "--host", "127.0.0.1", "--port", str(port)]
                if name == "api-server"
                else [name]
            )
            log = open(log_dir / f"{name}.log", "wb")  # noqa: SIM115 - closed by stop()
            server._logs.append(log)
            server.processes[name] = subprocess.Popen(
                [airflow, *args], env=env, stdout=log, stderr=subprocess.STDOUT,
                stdin=subprocess.DEVNULL, start_new_session=True,
            )  # fmt: skip
        wait_healthy(server, components, timeout=timeout)
    except BaseException:
        server.stop()
        raise
    return server


@contextmanager
def running(settings: Settings, **kwargs: Any):
    """``with running(settings) as server:`` — started, and always stopped on exit."""
    server = start(settings, **kwargs)
    try:
        yield server
    finally:
        left = server.stop()
    # Only reached when the body succeeded: a body's own error is the more useful one.
    if left:
        raise AirflowServerError(f"Airflow processes still alive after stop: pids {left}")


def _migrate(airflow: str, env: dict[str, str], home: Path) -> None:
    # Same stamp as civlake.orchestrate.prepare_airflow: migrate once per AIRFLOW_HOME.
    stamp = home / ".db-migrated"
    if stamp.exists():
        return
    done = subprocess.run([airflow, "db", "migrate"], env=env, capture_output=True, text=True)
    if done.returncode != 0:
        raise AirflowServerError(
            f"`airflow db migrate` failed for AIRFLOW_HOME={home}:\n{done.stderr[-3000:]}"
        )
    stamp.touch()


def wait_healthy(server: AirflowServer, components: tuple[str, ...], *, timeout: float) -> None:
    """Poll ``/api/v2/monitor/health`` until the components that report health are healthy."""
    wanted = {"scheduler", "dag_processor", "triggerer"} & {c.replace("-", "_") for c in components}
    deadline = time.monotonic() + timeout
    last = "no answer yet"
    while time.monotonic() < deadline:
        for name, proc in server.processes.items():
            if proc.poll() is not None:
                raise AirflowServerError(
                    f"airflow {name} exited with code {proc.returncode} while starting; "
                    f"its output:\n{server.logs()}"
                )
        try:
            with urllib.request.urlopen(f"{server.url}/api/v2/monitor/health", timeout=5) as r:
                health = json.load(r)
            last = json.dumps(health)
            if all(health.get(c, {}).get("status") == "healthy" for c in wanted):
                return
        except (OSError, ValueError) as exc:
            last = str(exc)
        time.sleep(1.0)
    raise AirflowServerError(
        f"Airflow at {server.url} not healthy after {timeout:.0f}s (last: {last}).\n{server.logs()}"
    )


def _processes() -> dict[int, tuple[int, int, str]]:
    """pid -> (ppid, session id, state) of every process, from /proc (Linux)."""
    table = {}
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            text = stat.read_text()
        except OSError:
            continue  # exited while we looked
        fields = text[text.rindex(")") + 2 :].split()
        table[int(stat.parent.name)] = (int(fields[1]), int(fields[3]), fields[0])
    return table


def _tree(sessions: set[int]) -> set[int]:
    """Live (non-zombie) processes in the given sessions or descended from them."""
    table = _processes()
    found = {pid for pid, (_, sid, _) in table.items() if sid in sessions}
    frontier = set(found)
    while frontier:
        frontier = {pid for pid, (ppid, _, _) in table.items() if ppid in frontier} - found
        found |= frontier
    return {pid for pid in found if table[pid][2] != "Z"}


def _signal_all(pids: set[int], sig: signal.Signals) -> None:
    for pid in pids:
        with suppress(ProcessLookupError, PermissionError):
            os.kill(pid, sig)


class AirflowApi:
    """Minimal client for Airflow's REST API v2 with the simple auth manager's JWT.

    The token comes from ``POST /auth/token`` with the admin password the api-server wrote to
    ``AIRFLOW_HOME/simple_auth_manager_passwords.json.generated``; when that file is absent
    (``AIRFLOW__CORE__SIMPLE_AUTH_MANAGER_ALL_ADMINS=True``) ``GET /auth/token`` issues one.
    """

    def __init__(self, server: AirflowServer) -> None:
        self.server = server
        self._token: str | None = None

    def token(self) -> str:
        if self._token is None:
            file = self.server.password_file
            if file.exists():
                password = json.loads(file.read_text())[ADMIN]
                body = {"username": ADMIN, "password": password}
                answer = self._call("POST", "/auth/token", body, auth=False)
            else:
                answer = self._call("GET", "/auth/token", auth=False)
            self._token = answer["access_token"]
        return self._token

    def unpause(self, dag_id: str) -> dict:
        return self._call("PATCH", f"/api/v2/dags/{dag_id}", {"is_paused": False})

    def trigger(self, dag_id: str, *, logical_date: str, conf: dict) -> dict:
        body = {"logical_date": logical_date, "conf": conf}
        return self._call("POST", f"/api/v2/dags/{dag_id}/dagRuns", body)

    def dag_run(self, dag_id: str, run_id: str) -> dict:
        return self._call("GET", f"/api/v2/dags/{dag_id}/dagRuns/{_quote(run_id)}")

    def dag_runs(self, dag_id: str) -> list[dict]:
        return self._call("GET", f"/api/v2/dags/{dag_id}/dagRuns")["dag_runs"]

    def task_instances(self, dag_id: str, run_id: str) -> list[dict]:
        path = f"/api/v2/dags/{dag_id}/dagRuns/{_quote(run_id)}/taskInstances"
        return self._call("GET", path)["task_instances"]

    def wait(self, dag_id: str, run_id: str, *, timeout: float, poll: float = 5.0) -> dict:
        """Poll until the run is finished (success or failed); raise on timeout."""
        deadline = time.monotonic() + timeout
        while True:
            run = self.dag_run(dag_id, run_id)
            if run["state"] in ("success", "failed"):
                return run
            if time.monotonic() > deadline:
                tasks = {t["task_id"]: t["state"] for t in self.task_instances(dag_id, run_id)}
                raise AirflowServerError(
                    f"DAG run {dag_id}/{run_id} still {run['state']} after {timeout:.0f}s "
                    f"(tasks: {tasks}).\n{self.server.logs()}"
                )
            time.sleep(poll)

    def _call(self, method: str, path: str, body: dict | None = None, *, auth: bool = True):
        headers = {"Content-Type": "application/json", "Accept": "application/json"}
        if auth:
            headers["Authorization"] = f"Bearer {self.token()}"
        data = None if body is None else json.dumps(body).encode()
        request = urllib.request.Request(self.server.url + path, data, headers, method=method)
        try:
            with urllib.request.urlopen(request, timeout=60) as response:
                return json.load(response)
        except urllib.error.HTTPError as exc:
            detail = exc.read().decode(errors="replace")[:2000]
            raise AirflowServerError(f"{method} {path} -> HTTP {exc.code}: {detail}") from exc


def _quote(run_id: str) -> str:
    # Manual run ids hold '+' and ':' (manual__2026-11-02T08:00:00+00:00).
    return urllib.parse.quote(run_id, safe="")


def main(argv: list[str] | None = None) -> int:
    """``python -m civlake.airflow_server --port N``: print the env as shell ``export`` lines.

    ``scripts/airflow-ui`` evaluates them, so the UI and ``civlake run`` share one definition.
    """
    import argparse
    import shlex

    from civlake.settings import load_settings

    parser = argparse.ArgumentParser(description=main.__doc__)
    parser.add_argument("--port", type=int, default=8080)
    args = parser.parse_args(argv)
    for key, value in standalone_env(load_settings(), port=args.port).items():
        print(f"export {key}={shlex.quote(value)}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
