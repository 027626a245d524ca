"""Build DAG: dedupe gate -> compare gate -> dbt build -> publish.

Scheduled by any silver Asset of the ingest DAGs, and runnable by hand with a logical date
for backfills (``airflow dags trigger civlake_build`` / the UI). dbt runs in a plain
``@task`` through dbt's programmatic runner (``civlake.transform.run_dbt``) rather than
astronomer-cosmos: the project is small enough that one task with dbt's own DAG and
retries is simpler to operate, runs in-process on the embedded default (no second
interpreter, no per-model task overhead of ~1 s each), and a failure names the dbt model
or test in the task log. Cosmos stays an option once models need per-model retries.
On the Spark engine (``CIVLAKE_ENGINE`` when this file is parsed) resolve, verify and the
dbt build are ``@task.pyspark`` tasks of the Apache Spark provider and run on the session
it gives them (``civlake.orchestrate.stage_task``); publish only copies the warehouse's
publish schema out, so it stays a plain task on both engines.
"""

from __future__ import annotations

from functools import reduce

from airflow.sdk import DAG, Param, get_current_context, task

from civlake.dag_common import DEFAULT_ARGS, WAREHOUSE, feed_ids, silver_asset
from civlake.orchestrate import stage_task

SILVER = [silver_asset(f) for f in feed_ids()]


def _stage(stage: str, spark=None):
    """Run one pipeline stage (on ``spark`` when given) unless the run stops before it."""
    from airflow.sdk.exceptions import AirflowSkipException

    from civlake import pipeline
    from civlake.settings import load_settings

    context = get_current_context()
    through = context["params"].get("through", "publish")
    if not pipeline.reaches(through, stage):
        raise AirflowSkipException(f"run stops after {through}")
    return getattr(pipeline, stage)(load_settings(), now=context["logical_date"], spark=spark)


with DAG(
    dag_id="civlake_build",
    description="dedupe -> compare -> dbt build -> publish",
    doc_md=__doc__,
    schedule=reduce(lambda a, b: a | b, SILVER),
    catchup=False,
    max_active_runs=1,
    default_args=DEFAULT_ARGS,
    tags=["civlake", "build"],
    params={"through": Param("publish", type="string")},
) as dag:

    @stage_task(task_id="resolve")
    def resolve_task(spark=None) -> dict:
        return _json_safe(_stage("resolve", spark))

    @stage_task(task_id="verify")
    def verify_task(spark=None) -> dict:
        return _json_safe(_stage("verify", spark))

    @stage_task(task_id="dbt_build", outlets=[WAREHOUSE])
    def build_task(spark=None) -> dict:
        return _json_safe(_stage("build", spark))

    @task(task_id="publish", retries=0)
    def publish_task() -> dict:
        return _json_safe(_stage("publish"))

    resolve_task() >> verify_task() >> build_task() >> publish_task()


def _json_safe(value):
    import json

    return json.loads(json.dumps(value, default=str))
