"""The pipeline's stages as plain functions: what DAG tasks and the CLI call.

No Airflow here (DESIGN.md boundaries): each stage takes settings and the run's time and
is idempotent, so a retried or re-run task changes nothing it already did.
Stage order: ingest -> clean (+ expectations gate) -> resolve -> verify -> build -> publish.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import datetime

from civlake.settings import Settings

STAGES = ("ingest", "clean", "resolve", "verify", "build", "publish")
Progress = Callable[[str], None]


# dbt selection of the compare gate: entitlement and findings with everything they read.
COMPARE_GATE = "+path:models/verify +path:models/entitlement"


class GateFailed(RuntimeError):
    """A quality gate stopped the run; the message says which gate, feed and check."""


@contextmanager
def engine_scope(settings: Settings, spark=None) -> Iterator[object | None]:
    """Run the enclosed stage on the configured engine.

    On the Spark engine, lake I/O inside goes through delta-spark on ``spark`` (the
    session a ``@task.pyspark`` task was given, else the process's own); the jobs read
    ``lake.active_spark()`` to choose their Spark path. On the embedded engine, nothing.
    """
    if settings.engine != "spark":
        yield None
        return
    from civlake import lake
    from civlake.engine.spark import get_spark

    spark = spark or get_spark(settings)
    with lake.use_spark(spark):
        yield spark


def reaches(through: str, stage: str) -> bool:
    """True when a run that goes ``through`` a stage includes ``stage``."""
    if through not in STAGES:
        raise ValueError(f"unknown stage {through!r}; choose one of {', '.join(STAGES)}")
    return STAGES.index(stage) <= STAGES.index(through)


def ingest(
    settings: Settings, feed_id: str, *, now: datetime, progress: Progress | None = None,
    spark=None,
):  # fmt: skip
    with engine_scope(settings, spark):
        return _ingest(settings, feed_id, now=now, progress=progress)


def _ingest(settings: Settings, feed_id: str, *, now: datetime, progress: Progress | None):
    from civlake.contracts import get_contract
    from civlake.ingest import ingest_landing

    summary = ingest_landing(settings, now=now, feeds=[feed_id], progress=progress)[feed_id]
    if settings.exchange_url and get_contract(feed_id, settings.schemas_dir).api:
        # API feeds also arrive as exchange snapshots; same bronze, same audit ledger.
        from civlake.exchange import merge_into, pull_api_feeds, resolve_token

        pulled = pull_api_feeds(
            settings, base_url=settings.exchange_url, token=resolve_token(), now=now,
            feeds=[feed_id], progress=progress,
        )[feed_id]  # fmt: skip
        merge_into(summary, pulled, settings, feed_id)
    return summary


def clean(settings: Settings, feed_id: str, *, now: datetime, spark=None) -> dict:
    from civlake.clean import clean_pending

    with engine_scope(settings, spark):
        return clean_pending(settings, feeds=[feed_id], now=now)


def expectations(settings: Settings, feed_id: str, *, run_id: str, spark=None):
    from civlake.expectations import run_silver_gate

    with engine_scope(settings, spark):
        return run_silver_gate(settings, feeds=[feed_id], run_id=run_id)


def resolve(settings: Settings, *, now: datetime, spark=None) -> dict:
    from civlake.resolve import resolve_organizations, resolve_persons

    with engine_scope(settings, spark):
        persons = resolve_persons(settings, now=now)
        orgs = resolve_organizations(settings)
    return {"persons": persons, "organizations": orgs}


def verify(settings: Settings, *, now: datetime, spark=None) -> dict:
    """The compare gate: entitlement and findings models (dbt), then district worklists."""
    from civlake.build import run_dbt
    from civlake.verify import write_worklists

    with engine_scope(settings, spark):
        result = run_dbt(settings, select=COMPARE_GATE)
    paths = write_worklists(settings, settings.home / "worklists")
    return {"dbt": result, "worklists": [str(p) for p in paths]}


def build(settings: Settings, *, now: datetime, spark=None) -> dict:
    from civlake.build import generate_docs, run_dbt

    # The compare gate already built (and tested) its models and their ancestors.
    with engine_scope(settings, spark):
        result = run_dbt(settings, exclude=COMPARE_GATE)
    docs = generate_docs(settings)
    return {"dbt": result, "docs": str(docs)}


def publish(settings: Settings, *, now: datetime, spark=None) -> dict:
    # Publishing reads the serving warehouse (DuckDB on both engines: the Spark engine's
    # build leaves a serving copy there), so ``spark`` is accepted and not needed.
    from civlake.publish import publish_all

    return publish_all(settings, now=now, gates_ok=True)
