"""The silver quality gate: validate new silver deliveries, record results, stop on critical.

For each feed only the pending deliveries are validated: the ``_delivery_id`` values of
its silver table that no earlier passing run listed (results.py). Their rows are read in
hash chunks of about ``Settings.expectations_batch_rows`` rows (chunks.py, written by
DuckDB or by Spark's executors, only the columns the gate reads), each chunk is
validated against ``silver.<feed>.critical`` and ``silver.<feed>.warning`` (one GX call
for both, suites built once per feed and run: validate.py), the chunks side by side in
forked processes, one per core (civlake.forks), and the chunks' results are combined into
one verdict per expectation (combine.py), the same as one batch would give.
The quarantine-rate expectations run on the pending deliveries' ``ingest_audit`` rows.
Everything is recorded (Delta results table, offline HTML report) before a critical
failure raises ``GateFailed``, so the report that explains a stopped build always exists.
"""

from __future__ import annotations

import datetime as dt
import logging
from typing import TYPE_CHECKING

from civlake import forks, tables
from civlake.contracts import get_contract, load_contracts
from civlake.engine.lake_io import exists as lake_exists
from civlake.engine.runtime import EMBEDDED, Engine
from civlake.expectations import batches, chunks
from civlake.expectations.combine import Part, combine
from civlake.expectations.docs import write_data_docs
from civlake.expectations.extras import DIVISIONS_ALL, age_rules
from civlake.expectations.outcome import GateFailed, GateResult, Outcome
from civlake.expectations.results import check_run_id, validated_deliveries, write_results
from civlake.expectations.specs import LINEAGE, SEVERITIES, ExpectationSpec, suite_name
from civlake.expectations.suites import silver_specs
from civlake.settings import Settings

if TYPE_CHECKING:
    from civlake.expectations.validate import Checks

log = logging.getLogger(__name__)
_AUDIT_INDEX = ["delivery_id", "source_unit", "period"]
NOTHING_NEW = "no delivery since the gate last passed"


def run_silver_gate(
    settings: Settings,
    *,
    feeds: list[str] | None = None,
    run_id: str,
    at: dt.datetime | None = None,
    engine: Engine = EMBEDDED,
) -> GateResult:
    """Validate silver tables (all contract feeds by default) on ``engine``; raise
    GateFailed on critical.

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

    session = _LazySession()
    result = GateResult(run_id=run_id)
    io = engine.lake
    divisions = batches.division_sets(settings.lake, io=io)
    ledger = batches.read_ledger(settings.lake, io=io)
    for feed_id in feeds:
        outcomes, skipped = _run_feed(
            session, settings, feed_id, run_id, at, divisions, ledger, engine
        )
        if skipped:
            result.feeds_skipped[feed_id] = skipped
            log.info("silver gate: %s skipped: %s", feed_id, skipped)
            continue
        result.feeds_checked.append(feed_id)
        result.outcomes.extend(outcomes)

    result.results_table = write_results(
        settings.lake, run_id, result.feeds_checked, result.outcomes, io=io
    )
    result.data_docs = write_data_docs(settings.home / "data_docs", result, at=at)
    log.info("%s", result.summary())
    for o in result.warnings:
        log.warning("%s", o.explain())
    if not result.ok:
        raise GateFailed(result)
    return result


def _run_feed(
    lazy, settings, feed_id, run_id, at, divisions, ledger, engine: Engine
) -> tuple[list[Outcome], str]:
    silver = tables.path(settings.lake, tables.silver(feed_id))
    rows = chunks.delivery_rows(silver, io=engine.lake)
    if not rows:
        return [], f"no silver table at {silver}" if not lake_exists(silver) else NOTHING_NEW
    done = validated_deliveries(settings.lake, feed_id, exclude_run=run_id, io=engine.lake)
    # A delivery's silver rows are fixed once cleaned (the ledger's rows_silver): one that
    # now holds another count was changed after a gate passed it, so it is checked again.
    cleaned = batches.cleaned_rows(ledger, feed_id)
    changed = {d for d in done if d in rows and d in cleaned and rows[d] != cleaned[d]}
    pending = sorted(d for d in (set(rows) - done) | changed if d is not None)
    if not pending:
        return [], NOTHING_NEW
    session = lazy.get()
    specs = silver_specs(feed_id, schemas_dir=settings.schemas_dir)
    if divisions is None:
        # Without silver.divisions the referential check cannot run: say so, don't fail.
        specs = [s for s in specs if not _needs_divisions(s)]
        log.warning("silver gate: %s: silver.divisions absent, referential checks skipped", feed_id)
    parts: dict[int, list[Part]] = {i: [] for i in range(len(specs))}
    n_rows = sum(rows[d] for d in pending)
    workers = settings.expectations_workers or forks.default_workers()
    n_chunks = chunks.chunk_count(n_rows, settings.expectations_batch_rows, workers=workers)
    log.info(
        "silver gate: %s: %d pending deliveries, %d rows in %d chunks",
        feed_id, len(pending), n_rows, n_chunks,
    )  # fmt: skip
    key = get_contract(feed_id, settings.schemas_dir).natural_key
    work = settings.state_dir / "expectations_chunks" / feed_id
    # The feed's GX suites are built once for all its chunks. Fewer chunks than workers
    # (a small feed's one): the suite is dealt out to the workers instead, each checking
    # the whole chunk against its share (GX's cost is per expectation, not per row).
    shares = workers if n_chunks < workers else 1
    suites = _suites(session, feed_id, specs, divisions, shares)
    rules = age_rules(feed_id)
    with chunks.pending_chunks(
        settings,
        silver,
        deliveries=pending,
        key=key,
        chunks=n_chunks,
        work=work,
        engine=engine,
        columns=_read_columns(suites, rules),
    ) as pending_chunks:
        if suites:

            def validate(job: tuple[chunks.Chunk, int]) -> list[tuple[int, Part]]:
                chunk, share = job  # the suites are inherited, not sent: specs by identity
                frame = batches.chunk_frame(chunk.read(), rules)
                return _parts(session, frame, suites[share], specs, list(LINEAGE))

            # chunk by chunk, so that each spec's parts come in chunk order (combine.py)
            jobs = [(chunk, share) for chunk in pending_chunks for share in range(len(suites))]
            for found in forks.map_in_forks(validate, jobs, workers):
                for i, part in found:
                    parts[i].append(part)
    if audit_checks := _checks(session, feed_id, specs, "audit", divisions):
        audit = batches.audit_frame(ledger, feed_id, pending)
        for i, part in _parts(session, audit, audit_checks, specs, _AUDIT_INDEX):
            parts[i].append(part)
    return _outcomes(specs, parts, run_id, feed_id, at, tuple(pending)), ""


class _LazySession:
    """The run's GX session, made when a feed first has a pending delivery: importing GX
    costs ~3.7 s and 290 MiB, paid by each Airflow task (one per feed) that starts a gate,
    also when the gate then finds nothing new (the inputs of every feed's gate change
    when silver.divisions does)."""

    def __init__(self) -> None:
        self._session = None

    def get(self):
        if self._session is None:
            from civlake.expectations.validate import GxSession  # imports GX

            self._session = GxSession()
        return self._session


def _checks(session, feed_id, specs, batch, divisions):
    """The specs of one batch kind, both severities, as one GX suite (None: no spec)."""
    return session.checks(feed_id, [s for s in specs if s.batch == batch], resolve=divisions)


def _suites(session, feed_id, specs, divisions, shares: int) -> list[Checks]:
    """The silver specs as GX suites: one, or the one dealt out into ``shares``."""
    silver = [s for s in specs if s.batch == "silver"]
    return session.checks_in_shares(feed_id, silver, resolve=divisions, shares=shares)


def _read_columns(suites: list[Checks], rules) -> list[str] | None:
    """The silver columns the gate reads: those the suites name (None: a spec names no
    column, so every column), the lineage (order, examples) and the age rules' inputs."""
    if any(c.columns is None for c in suites):
        return None
    named = [name for c in suites for name in c.columns]
    inputs = [c for r in rules for c in (r.birth, r.at)]
    return list(dict.fromkeys([*named, *LINEAGE, *inputs]))


def _parts(session, frame, checks, specs, index) -> list[tuple[int, Part]]:
    """Validate one batch against both severities' specs in one GX call: each spec's
    part, with the spec's position in ``specs``."""
    from civlake.expectations.validate import part_of

    at_of = {id(s): i for i, s in enumerate(specs)}
    return [
        (at_of[id(spec)], part_of(spec, r, frame=frame, index_columns=index))
        for spec, r in session.validate(frame, checks)
    ]


def _outcomes(specs, parts, run_id, feed_id, at, deliveries) -> list[Outcome]:
    """One outcome per spec, in the order of the suites (severity, then silver, audit)."""
    from civlake.expectations.validate import to_outcome

    out = []
    for severity in SEVERITIES:
        for batch, order in (("silver", LINEAGE), ("audit", batches.AUDIT_ORDER[1:])):
            for i, spec in enumerate(specs):
                if spec.severity != severity or spec.batch != batch or not parts[i]:
                    continue
                out.append(
                    to_outcome(
                        spec,
                        combine(spec, parts[i], order=order),
                        run_id=run_id,
                        suite=suite_name(feed_id, severity),
                        feed_id=feed_id,
                        at=at,
                        deliveries=deliveries,
                    )
                )
    return out


def _needs_divisions(spec: ExpectationSpec) -> bool:
    vs = spec.kwargs.get("value_set")
    return isinstance(vs, str) and vs.startswith(DIVISIONS_ALL.split(".")[0])
