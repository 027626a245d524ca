"""The silver quality gate: validate every silver table, record results, stop on critical.

For each feed the silver table is read once into pandas and validated against
``silver.<feed>.critical`` and ``silver.<feed>.warning``; the quarantine-rate
expectations of those suites run on the feed's ``ingest_audit`` rows. Everything is
recorded (Delta results table, offline HTML report) before a critical failure raises
``GateFailed``, so the report that explains a stopped build always exists.
"""

from __future__ import annotations

import datetime as dt
import logging

from civlake import tables
from civlake.contracts import load_contracts
from civlake.expectations import batches
from civlake.expectations.docs import write_data_docs
from civlake.expectations.extras import DIVISIONS_ALL, age_rules
from civlake.expectations.outcome import GateFailed, GateResult, Outcome
from civlake.expectations.results import check_run_id, write_results
from civlake.expectations.specs import LINEAGE, SEVERITIES, ExpectationSpec, suite_name
from civlake.expectations.suites import silver_specs
from civlake.settings import Settings

log = logging.getLogger(__name__)
_AUDIT_INDEX = ["delivery_id", "source_unit", "period"]


def run_silver_gate(
    settings: Settings,
    *,
    feeds: list[str] | None = None,
    run_id: str,
    at: dt.datetime | None = None,
) -> GateResult:
    """Validate silver tables (all contract feeds by default); raise GateFailed on critical.

    ``at`` stamps the result rows (pass the logical date from the orchestrator for
    reproducible reruns); it defaults to the wall clock.
    """
    check_run_id(run_id)
    at = at or dt.datetime.now(dt.UTC)
    contracts = load_contracts(settings.schemas_dir)
    if feeds is None:
        feeds = sorted(contracts)
    if unknown := sorted(set(feeds) - set(contracts)):
        raise ValueError(f"unknown feed(s) {unknown}; known feeds: {sorted(contracts)}")

    from civlake.expectations.validate import GxSession  # imports GX (~3 s)

    session = GxSession()
    result = GateResult(run_id=run_id)
    divisions = batches.division_sets(settings.lake)
    for feed_id in feeds:
        outcomes, skipped = _run_feed(session, settings, feed_id, run_id, at, divisions)
        if skipped:
            result.feeds_skipped[feed_id] = skipped
            log.info("silver gate: %s skipped: %s", feed_id, skipped)
            continue
        result.feeds_checked.append(feed_id)
        result.outcomes.extend(outcomes)

    result.results_table = write_results(settings.lake, run_id, feeds, result.outcomes)
    result.data_docs = write_data_docs(settings.home / "data_docs", result, at=at)
    log.info("%s", result.summary())
    for o in result.warnings:
        log.warning("%s", o.explain())
    if not result.ok:
        raise GateFailed(result)
    return result


def _run_feed(session, settings, feed_id, run_id, at, divisions) -> tuple[list[Outcome], str]:
    from civlake.expectations.validate import to_outcome

    df = batches.silver_frame(settings.lake, feed_id, age_rules(feed_id))
    if df is None:
        return [], f"no silver table at {tables.path(settings.lake, tables.silver(feed_id))}"
    specs = silver_specs(feed_id, schemas_dir=settings.schemas_dir)
    if divisions is None:
        # Without silver.divisions the referential check cannot run: say so, don't fail.
        specs = [s for s in specs if not _needs_divisions(s)]
        log.warning("silver gate: %s: silver.divisions absent, referential checks skipped", feed_id)
    audit = None
    outcomes: list[Outcome] = []
    for severity in SEVERITIES:
        name = suite_name(feed_id, severity)
        chosen = [s for s in specs if s.severity == severity]
        silver_specs_ = [s for s in chosen if s.batch == "silver"]
        audit_specs = [s for s in chosen if s.batch == "audit"]
        runs = [(df, silver_specs_, list(LINEAGE))]
        if audit_specs:
            audit = audit if audit is not None else batches.audit_frame(settings.lake, feed_id)
            runs.append((audit, audit_specs, _AUDIT_INDEX))
        for frame, group, index in runs:
            if not group:
                continue
            for spec, r in session.validate(frame, name, group, resolve=divisions):
                outcomes.append(
                    to_outcome(
                        spec,
                        r,
                        run_id=run_id,
                        suite=name,
                        feed_id=feed_id,
                        at=at,
                        frame=frame,
                        index_columns=index,
                    )
                )
    return outcomes, ""


def _needs_divisions(spec: ExpectationSpec) -> bool:
    vs = spec.kwargs.get("value_set")
    return isinstance(vs, str) and vs.startswith(DIVISIONS_ALL.split(".")[0])
