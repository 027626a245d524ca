"""The pipeline's stages as plain functions: what DAG tasks and the CLI call.

No Airflow here (DESIGN.md boundaries): each stage takes settings and the run's time and
is idempotent, so a retried or re-run task changes nothing it already did. A stage that
does work builds its engine once (``civlake.engine.runtime.build``: on Spark, from the
session a ``@task.pyspark`` task was given, else the process's own) and passes it down.
Stage order: ingest -> clean (+ expectations gate) -> resolve -> verify -> build -> publish.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime

from civlake.settings import Settings

STAGES = ("ingest", "clean", "resolve", "verify", "build", "publish")
# A stage whose inputs are what they were when it last completed writes nothing
# (civlake.stage_inputs): a run with nothing new changes nothing.
UNCHANGED = "inputs unchanged since the last run"
DBT_FILES = ["dbt_project.yml", "profiles.yml", "models/**/*", "macros/**/*", "seeds/**/*",
             "tests/**/*"]  # fmt: skip
Progress = Callable[[str], None]


# dbt selection of the compare gate: entitlement and findings with everything they read.
COMPARE_GATE = "+path:models/verify +path:models/entitlement"


def reaches(through: str, stage: str) -> bool:
    """True when a run that goes ``through`` a stage includes ``stage``."""
    if through not in STAGES:
        raise ValueError(f"unknown stage {through!r}; choose one of {', '.join(STAGES)}")
    return STAGES.index(stage) <= STAGES.index(through)


def ingest(
    settings: Settings, feed_id: str, *, now: datetime, progress: Progress | None = None,
    spark=None,
):  # fmt: skip
    from civlake.contracts import get_contract
    from civlake.engine.runtime import build as build_engine
    from civlake.ingest import ingest_landing

    engine = build_engine(settings, spark)
    summaries = ingest_landing(settings, now=now, feeds=[feed_id], progress=progress,
                               engine=engine)  # fmt: skip
    summary = summaries[feed_id]
    if settings.exchange_url and get_contract(feed_id, settings.schemas_dir).api:
        # API feeds also arrive as exchange snapshots; same bronze, same audit ledger.
        from civlake.exchange import merge_into, pull_api_feeds, resolve_token

        pulled = pull_api_feeds(
            settings, base_url=settings.exchange_url, token=resolve_token(settings), now=now,
            feeds=[feed_id], progress=progress, engine=engine,
        )[feed_id]  # fmt: skip
        merge_into(summary, pulled, settings, feed_id, io=engine.lake)
    return summary


def clean(settings: Settings, feed_id: str, *, now: datetime, spark=None) -> dict:
    from civlake.clean import clean_pending
    from civlake.engine.runtime import build as build_engine

    return clean_pending(settings, feeds=[feed_id], now=now, engine=build_engine(settings, spark))


def _expectations_fingerprint(settings: Settings, feed_id: str) -> tuple[str, dict, dict]:
    """(stage name, inputs, outputs) of a feed's expectations gate (``stage_inputs``)."""
    from civlake import stage_inputs, tables

    # Each feed's gate appends to the one results table: only its existence is an output.
    # The ledger is shared by every feed, so the feed's own ledger rows are the input,
    # not the table's version (another feed's delivery must not re-run this gate).
    lake_dir = settings.lake
    reads = [tables.path(lake_dir, tables.silver(f)) for f in (feed_id, "divisions")]
    audit = tables.path(lake_dir, tables.INGEST_AUDIT)
    results = tables.path(lake_dir, tables.EXPECTATION_RESULTS)
    inputs = {
        "tables": stage_inputs.versions(lake_dir, reads),
        "ledger": stage_inputs.rows_hash(audit, "feed_id", feed_id),
    }
    outputs = {"results": stage_inputs.table_version(results) is not None}
    return f"expectations.{feed_id}", inputs, outputs


def expectations(settings: Settings, feed_id: str, *, run_id: str, spark=None):
    from civlake import stage_inputs
    from civlake.engine.runtime import build as build_engine
    from civlake.expectations import run_silver_gate
    from civlake.expectations.outcome import GateResult

    stage, inputs, outputs = _expectations_fingerprint(settings, feed_id)
    if stage_inputs.unchanged(settings, stage, inputs, outputs):
        return GateResult(run_id=run_id, feeds_skipped={feed_id: UNCHANGED})
    engine = build_engine(settings, spark)
    result = run_silver_gate(settings, feeds=[feed_id], run_id=run_id, engine=engine)
    stage_inputs.record(settings, stage, inputs, outputs | {"results": True})
    return result


def feed_settled(settings: Settings, feed_id: str) -> str | None:
    """Why the feed's ingest DAG (ingest -> clean -> expectations) would do nothing now,
    or None when it has work: a delivery in landing the ledger lacks, a loaded delivery not
    yet cleaned, bronze rows without an audit row (a crash), an expectations gate whose
    inputs changed since it passed (or failed), or an exchange pull that only running
    can tell. A feed never delivered (nothing in landing, the ledger or silver) is
    settled. ``civlake run`` does not start a DAG run for a settled feed."""
    from civlake import lake, stage_inputs, tables
    from civlake.contracts import get_contract
    from civlake.engine.runtime import EMBEDDED
    from civlake.ingest import audit, bronze
    from civlake.ingest.landing import discover

    if settings.exchange_url and get_contract(feed_id, settings.schemas_dir).api:
        return None
    # Read with delta-rs on either engine: asking costs no Spark session (a few small reads).
    io = EMBEDDED.lake
    ledger = audit.read_audit(settings.lake, feed_id, io=io)
    known = {r["delivery_id"] for r in ledger}
    complete, _waiting = discover(settings.landing, feed_id)
    if any(f.name not in known for f in complete):
        return None
    if any(r["status"] == "loaded" and r["rows_silver"] is None for r in ledger):
        return None
    if bronze.orphan_deliveries(settings.lake, feed_id, known, io=io):
        return None
    if not ledger and not lake.exists(tables.path(settings.lake, tables.silver(feed_id))):
        # the DAG would ingest nothing, clean nothing and gate no silver table
        return "nothing delivered yet"
    stage, inputs, outputs = _expectations_fingerprint(settings, feed_id)
    if not stage_inputs.unchanged(settings, stage, inputs, outputs):
        return None
    return "nothing new in landing, nothing left to clean, silver gate passed on these inputs"


def _resolve_fingerprint(settings: Settings) -> tuple[dict, dict]:
    from civlake import stage_inputs, tables
    from civlake.resolve.keys import load_secret, secret_fingerprint
    from civlake.resolve.linkage import LinkageConfig

    secret = load_secret(settings)
    # Returned worklists name findings, not persons: a review does not re-run the dedupe.
    reviews = tables.path(settings.lake, tables.silver(tables.REVIEWS_FEED))
    silver = [p for p in stage_inputs.lake_tables(settings.lake / "silver") if p != reviews]
    inputs = {
        "tables": stage_inputs.versions(settings.lake, silver),
        "contracts": stage_inputs.tree_hash(settings.schemas_dir, ["*.yaml"]),
        # Keys are HMACs under the secret: a new secret must re-key (never logged).
        "secret": secret_fingerprint(secret),
        "linkage": repr(LinkageConfig.from_settings(settings)),
    }
    outputs = {"tables": stage_inputs.versions(settings.lake / "core")}
    return inputs, outputs


def resolve(settings: Settings, *, now: datetime, spark=None) -> dict:
    from civlake import stage_inputs
    from civlake.engine.runtime import build as build_engine
    from civlake.resolve import resolve_organizations, resolve_persons

    inputs, outputs = _resolve_fingerprint(settings)
    if stage_inputs.unchanged(settings, "resolve", inputs, outputs):
        return {"skipped": UNCHANGED}
    engine = build_engine(settings, spark)
    persons = resolve_persons(settings, now=now, engine=engine)
    orgs = resolve_organizations(settings, engine=engine)
    stage_inputs.record(settings, "resolve", inputs, _resolve_fingerprint(settings)[1])
    return {"persons": persons, "organizations": orgs}


def _dbt_inputs(settings: Settings) -> dict:
    """What a dbt build reads: every lake table, the project, the engine."""
    from civlake import stage_inputs
    from civlake.transform.runner import DBT_DIR

    return {
        "tables": stage_inputs.versions(settings.lake),
        "project": stage_inputs.tree_hash(DBT_DIR, DBT_FILES),
        "engine": settings.engine,
        "warehouse": str(settings.warehouse),
    }


def verify(settings: Settings, *, now: datetime, spark=None) -> dict:
    """The compare gate: entitlement and findings models (dbt), then district worklists."""
    from civlake import stage_inputs
    from civlake.engine.runtime import build as build_engine
    from civlake.transform import run_dbt
    from civlake.verify import write_worklists

    worklists = settings.worklists_dir
    inputs = _dbt_inputs(settings)

    def outputs() -> dict:
        # build rewrites the warehouse after this stage: its existence is this one's output
        return {"warehouse": settings.warehouse.exists(),
                "worklists": stage_inputs.file_stamp(worklists)}  # fmt: skip

    if stage_inputs.unchanged(settings, "verify", inputs, outputs()):
        return {"skipped": UNCHANGED}
    build_engine(settings, spark)  # on Spark: the session dbt-spark uses, with an executor
    # The build stage writes the run's manifest (the docs site reads it).
    result = run_dbt(settings, select=COMPARE_GATE, write_manifest=False, unit_tests=False)
    paths = write_worklists(settings, worklists)
    stage_inputs.record(settings, "verify", inputs, outputs())
    return {"dbt": result, "worklists": [str(p) for p in paths]}


def build(settings: Settings, *, now: datetime, spark=None) -> dict:
    from civlake import stage_inputs
    from civlake.engine.runtime import build as build_engine
    from civlake.transform import generate_docs, run_dbt

    inputs = _dbt_inputs(settings)

    def outputs() -> dict:
        return {"warehouse": stage_inputs.file_stamp(settings.warehouse)}

    if stage_inputs.unchanged(settings, "build", inputs, outputs()):
        return {"skipped": UNCHANGED}
    # The compare gate already built (and tested) its models and their ancestors.
    build_engine(settings, spark)  # on Spark: the session dbt-spark uses, with an executor
    # The models, the data tests, and the manifest the docs read (unit tests: CI's).
    result = run_dbt(settings, exclude=COMPARE_GATE, unit_tests=False)
    docs = generate_docs(settings)
    stage_inputs.record(settings, "build", inputs, outputs())
    return {"dbt": result, "docs": str(docs)}


def publish(settings: Settings, *, now: datetime, spark=None) -> dict:
    # Publishing reads the serving warehouse (DuckDB on both engines: the Spark engine's
    # build leaves a serving copy there), so ``spark`` is accepted and not needed.
    from civlake.lake_upkeep import keep_ledgers_small
    from civlake.publish import publish_all

    result = publish_all(settings, now=now, gates_ok=True)
    # The run's last stage: no task writes the lake now (delta-rs: the embedded engine).
    if settings.engine == "duckdb":
        result["lake_upkeep"] = keep_ledgers_small(settings.lake)
    return result
