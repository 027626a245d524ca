"""Run the DAGs through Airflow, in-process, on the embedded default.

``civlake run`` sets up an Airflow home under the project data folder (SQLite metadata DB,
examples off, low parallelism), then runs the ingest DAGs (divisions first: the clean gate
validates division codes against it, then hukou: the authority for identity) and the build
DAG with ``dag.test()``: real Airflow task runs, recorded in the metadata DB, without a
scheduler process. ``airflow standalone`` on the same AIRFLOW_HOME shows them in the UI.

On the Spark engine (``CIVLAKE_ENGINE=spark``) the DAG files make their stage tasks
``@task.pyspark`` tasks of the Apache Spark provider (``stage_task``): the provider builds
the SparkSession from the ``civlake_spark`` connection, which this module provides through
the environment (``AIRFLOW_CONN_CIVLAKE_SPARK``, master from ``CIVLAKE_SPARK_MASTER``), and
hands it to the stage. The embedded engine keeps plain ``@task`` tasks, in-process.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import datetime
from pathlib import Path

from civlake.settings import REPO_ROOT, Settings

FIRST_FEEDS = ("divisions", "hukou_population")
SPARK_CONN_ID = "civlake_spark"


class RunFailed(RuntimeError):
    """A DAG run did not succeed; the message names the DAG and the failed task."""


def airflow_env(settings: Settings) -> dict[str, str]:
    home = settings.airflow_home
    return {
        "AIRFLOW_HOME": str(home),
        "AIRFLOW__CORE__DAGS_FOLDER": str(REPO_ROOT / "dags"),
        "AIRFLOW__CORE__LOAD_EXAMPLES": "False",
        "AIRFLOW__CORE__PARALLELISM": "2",
        "AIRFLOW__CORE__MAX_ACTIVE_TASKS_PER_DAG": "2",
        "AIRFLOW__DATABASE__SQL_ALCHEMY_CONN": f"sqlite:///{home / 'airflow.db'}",
        "AIRFLOW__LOGGING__BASE_LOG_FOLDER": str(home / "logs"),
        "AIRFLOW__CORE__UNIT_TEST_MODE": "False",
        # Task logs go to files; the terminal shows civlake's own per-stage lines.
        "AIRFLOW__LOGGING__LOGGING_LEVEL": os.environ.get(
            "AIRFLOW__LOGGING__LOGGING_LEVEL", "WARNING"
        ),
        "SPARK_LOCAL_IP": "127.0.0.1",
        "CIVLAKE_HOME": str(settings.home),
        "CIVLAKE_LANDING": str(settings.landing),
        "CIVLAKE_LAKE": str(settings.lake),
        "CIVLAKE_WAREHOUSE": str(settings.warehouse),
        "CIVLAKE_PUBLISH": str(settings.publish),
        "CIVLAKE_ENGINE": settings.engine,
        **(spark_env(settings) if settings.engine == "spark" else {}),
    }


def spark_env(settings: Settings) -> dict[str, str]:
    """What ``@task.pyspark`` tasks need: the Spark connection and the workers' Python.

    The connection is JSON (host = the master URL as Spark takes it: ``local[*]``,
    ``spark://host:7077``, ``yarn``), so the provider's PySparkOperator uses it verbatim.
    """
    conn = {"conn_type": "spark", "host": settings.spark_master}
    return {
        "CIVLAKE_SPARK_MASTER": settings.spark_master,
        f"AIRFLOW_CONN_{SPARK_CONN_ID.upper()}": json.dumps(conn),
        # Python workers run civlake code (mapInArrow): this interpreter, unless a
        # cluster image says otherwise.
        "PYSPARK_PYTHON": os.environ.get("PYSPARK_PYTHON", sys.executable),
    }


@contextmanager
def fails_without_retry(*errors: type[BaseException]) -> Iterator[None]:
    """Fail the task at once, without Airflow's retries, on ``errors``: faults the same
    inputs raise again (a critical expectation broken by the data). Retries are for the
    transient ones; three tries of a failed gate only delayed the stop by ~2 minutes."""
    from airflow.sdk.exceptions import AirflowFailException

    try:
        yield
    except errors as exc:
        raise AirflowFailException(str(exc)) from exc


def stage_task(**kwargs):
    """The task decorator for a pipeline stage on the engine chosen when the DAG is parsed.

    Spark engine: ``@task.pyspark`` on the ``civlake_spark`` connection with civlake's
    session configuration (Delta jars and extensions, UTC), so the provider submits the
    stage to Spark and passes the session as ``spark``; embedded: plain ``@task`` (the
    stage gets ``spark=None``). This is the only place the DAG files differ per engine.
    """
    from airflow.sdk import task

    from civlake.settings import load_settings

    settings = load_settings()
    if settings.engine != "spark":
        return task(**kwargs)
    from civlake.engine.spark import spark_conf

    return task.pyspark(conn_id=SPARK_CONN_ID, config_kwargs=spark_conf(settings), **kwargs)


def prepare_airflow(settings: Settings) -> None:
    """Point this process at the project's Airflow home and create its DB once."""
    env = airflow_env(settings)
    os.environ.update(env)
    settings.airflow_home.mkdir(parents=True, exist_ok=True)
    if settings.engine == "spark":  # fetch Delta's jars now, not while a DAG file parses
        from civlake.engine.spark import delta_jars

        delta_jars(settings)
    stamp = settings.airflow_home / ".db-migrated"
    if not stamp.exists():
        airflow = Path(sys.executable).with_name("airflow")
        subprocess.run(
            [str(airflow), "db", "migrate"], env={**os.environ, **env}, check=True,
            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
        )  # fmt: skip
        stamp.touch()


def load_dags() -> dict:
    from airflow.dag_processing.dagbag import DagBag

    bag = DagBag(dag_folder=str(REPO_ROOT / "dags"))
    if bag.import_errors:
        errors = "; ".join(f"{k}: {v}" for k, v in bag.import_errors.items())
        raise RunFailed(f"DAG files failed to import: {errors}")
    return bag.dags


def run_dag(dag, *, logical_date: datetime, conf: dict) -> None:
    from airflow.utils.state import DagRunState

    dag_run = dag.test(logical_date=logical_date, run_conf=conf)
    if dag_run is None or dag_run.state != DagRunState.SUCCESS:
        failed = []
        if dag_run is not None:
            failed = [ti.task_id for ti in dag_run.get_task_instances() if ti.state == "failed"]
        log = Path(os.environ["AIRFLOW__LOGGING__BASE_LOG_FOLDER"]) / f"dag_id={dag.dag_id}"
        raise RunFailed(
            f"DAG {dag.dag_id} did not succeed (failed task(s): {', '.join(failed) or 'unknown'}). "
            f"The task's error is printed above; task logs are under {log}."
        )


def run_pipeline(
    settings: Settings,
    *,
    through: str,
    logical_date: datetime,
    progress: Callable[[str], None] = print,
) -> None:
    prepare_airflow(settings)
    dags = load_dags()
    feeds = sorted(d.removeprefix("ingest_") for d in dags if d.startswith("ingest_"))
    ordered = [f for f in FIRST_FEEDS if f in feeds] + [f for f in feeds if f not in FIRST_FEEDS]
    from civlake.pipeline import feed_settled

    for i, feed in enumerate(ordered, start=1):
        started = time.perf_counter()
        if settled := feed_settled(settings, feed):
            # A DAG run would only re-check what is checked here (~2 s of Airflow each).
            progress(
                f"[{i}/{len(ordered)}] ingest_{feed}: {_feed_counts(settings, feed)} "
                f"(DAG not run: {settled})"
            )
            continue
        run_dag(dags[f"ingest_{feed}"], logical_date=logical_date, conf={"through": through})
        progress(
            f"[{i}/{len(ordered)}] ingest_{feed}: {_feed_counts(settings, feed)} "
            f"({time.perf_counter() - started:.1f}s)"
        )
    if through not in ("ingest", "clean"):
        started = time.perf_counter()
        progress(
            f"civlake_build: resolve -> verify -> dbt build -> publish (through {through}) ..."
        )
        run_dag(dags["civlake_build"], logical_date=logical_date, conf={"through": through})
        progress(f"civlake_build: done ({time.perf_counter() - started:.1f}s)")


def _feed_counts(settings: Settings, feed: str) -> str:
    """One line of delivery accounting for a feed, read back from ingest_audit."""
    from civlake.engine.runtime import EMBEDDED
    from civlake.ingest.audit import read_audit

    rows = read_audit(settings.lake, feed, io=EMBEDDED.lake)  # a small read: no Spark session
    if not rows:
        return "no deliveries"
    status: dict[str, int] = {}
    for r in rows:
        status[r["status"]] = status.get(r["status"], 0) + 1
    loaded = [r for r in rows if r["status"] == "loaded"]
    silver = sum(r["rows_silver"] or 0 for r in loaded)
    quarantined = sum(r["rows_quarantined"] or 0 for r in loaded)
    deliveries = ", ".join(f"{n} {s}" for s, n in sorted(status.items()))
    return (
        f"{deliveries}; {sum(r['rows_bronze'] or 0 for r in loaded):,} rows -> "
        f"silver {silver:,}, quarantined {quarantined:,}"
    )
