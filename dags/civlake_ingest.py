"""Ingest DAGs, one per feed, generated from the contracts in ``schemas/``.

Adding a feed is adding a contract: this file holds no feed-specific code. Each DAG
loads the feed's new complete deliveries into bronze, runs the clean gate into silver and
quarantine, then the feed's Great Expectations suite; it emits the feed's bronze and
silver Assets, which schedule the build DAG (``civlake_build``).
Logic lives in ``civlake.pipeline``; tasks import it at run time, not at parse time.
The engine is chosen once, when this file is parsed (``CIVLAKE_ENGINE``): on Spark every
task is a ``@task.pyspark`` task of the Apache Spark provider and passes the session it is
given to the stage (``civlake.orchestrate.stage_task``); otherwise ``spark`` is None.
"""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

from airflow.sdk import DAG, Asset, Param, get_current_context

from civlake.orchestrate import stage_task

SCHEMAS = Path(__file__).resolve().parents[1] / "schemas"
DEFAULT_ARGS = {
    "owner": "civlake",
    "retries": 2,
    "retry_delay": timedelta(seconds=30),
    "retry_exponential_backoff": True,
    "max_retry_delay": timedelta(minutes=10),
}


def bronze_asset(feed_id: str) -> Asset:
    return Asset(name=f"bronze.{feed_id}", uri=f"civlake://lake/bronze/{feed_id}")


def silver_asset(feed_id: str) -> Asset:
    return Asset(name=f"silver.{feed_id}", uri=f"civlake://lake/silver/{feed_id}")


def feed_ids() -> list[str]:
    # Only file names are read at parse time; contracts are parsed inside the tasks.
    return sorted(p.stem for p in SCHEMAS.glob("*.yaml") if not p.name.startswith("_"))


def _through() -> str:
    return get_current_context()["params"].get("through", "publish")


def make_ingest_dag(feed_id: str) -> DAG:
    with DAG(
        dag_id=f"ingest_{feed_id}",
        description=f"landing -> bronze -> silver for feed {feed_id}",
        doc_md=__doc__,
        schedule="@hourly",
        catchup=False,
        max_active_runs=1,
        default_args=DEFAULT_ARGS,
        tags=["civlake", "ingest", feed_id],
        params={"through": Param("publish", type="string")},
    ) as dag:

        @stage_task(task_id="ingest", outlets=[bronze_asset(feed_id)])
        def ingest_task(spark=None, **context) -> dict:
            from civlake import pipeline
            from civlake.settings import load_settings

            summary = pipeline.ingest(
                load_settings(), feed_id, now=context["logical_date"], spark=spark
            )
            return {"loaded": summary.loaded, "rejected": summary.rejected,
                    "rows_bronze": summary.rows_bronze, "problems": summary.problems}  # fmt: skip

        @stage_task(task_id="clean")
        def clean_task(spark=None, **context) -> dict:
            from airflow.sdk.exceptions import AirflowSkipException

            from civlake import pipeline
            from civlake.settings import load_settings

            if not pipeline.reaches(_through(), "clean"):
                raise AirflowSkipException("run stops after ingest")
            return pipeline.clean(
                load_settings(), feed_id, now=context["logical_date"], spark=spark
            )

        @stage_task(task_id="expectations", outlets=[silver_asset(feed_id)])
        def expectations_task(spark=None, **context) -> dict:
            from airflow.sdk.exceptions import AirflowSkipException

            from civlake import pipeline
            from civlake.settings import load_settings

            if not pipeline.reaches(_through(), "clean"):
                raise AirflowSkipException("run stops after ingest")
            result = pipeline.expectations(
                load_settings(), feed_id, run_id=context["run_id"], spark=spark
            )
            return {"success": bool(getattr(result, "success", True))}

        ingest_task() >> clean_task() >> expectations_task()
    return dag


for _feed in feed_ids():
    globals()[f"ingest_{_feed}"] = make_ingest_dag(_feed)
