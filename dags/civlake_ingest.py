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

from airflow.sdk import DAG, Param, get_current_context

from civlake.dag_common import DEFAULT_ARGS, bronze_asset, feed_ids, silver_asset
from civlake.orchestrate import stage_task


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
            from civlake.expectations import GateFailed
            from civlake.orchestrate import fails_without_retry
            from civlake.settings import load_settings

            if not pipeline.reaches(_through(), "clean"):
                raise AirflowSkipException("run stops after ingest")
            with fails_without_retry(GateFailed):
                result = pipeline.expectations(
                    load_settings(), feed_id, run_id=context["run_id"], spark=spark
                )
            return {"success": bool(getattr(result, "success", True))}

        ingest_task() >> clean_task() >> expectations_task()
    return dag


for _feed in feed_ids():
    globals()[f"ingest_{_feed}"] = make_ingest_dag(_feed)
