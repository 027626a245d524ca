"""``<lake>/expectation_results``: one row per expectation per suite per run.

A run validates a feed's pending deliveries (the ones no earlier run passed) as one
batch, so each row is that expectation's verdict over all of them, with counts summed
over them, and ``details.deliveries`` lists them. ``delivery_id`` stays NULL: no row is
about one delivery (a row per delivery would need GX to attribute every failing row, and
the uniqueness and ``mostly`` verdicts are over the batch). A delivery counts as
validated once a run that listed it had no failed critical expectation for its feed
(``validated_deliveries``); a delivery of a run with a critical failure stays pending and
is validated again by the next run, which fails again until the data is fixed.

``mart_data_governance`` takes each feed's latest run: its pass rate is the share of
expectations that passed on the deliveries that arrived since the gate last passed (plus
any still failing), not on the whole history. A run with nothing pending writes no rows,
so the latest verdict stays in force until something new arrives.

Rerunning a gate with the same ``run_id`` replaces that run's rows (delete + append in
two Delta commits; a crash in between leaves the run absent, never doubled), so a
retried Airflow task does not double-count the expectation pass rate in the marts; the
retried run re-validates the deliveries it had listed (``exclude_run``).
"""

from __future__ import annotations

import json
import re
from pathlib import Path

import pyarrow as pa

from civlake import tables
from civlake.engine.lake_io import LakeIO
from civlake.expectations.outcome import Outcome

SCHEMA = tables.schema(tables.EXPECTATION_RESULTS)


_FEED = re.compile(r"^[a-z][a-z0-9_]*$")
_RUN_ID = re.compile(r"^[A-Za-z0-9_.:+\-]{1,200}$")


def check_run_id(run_id: str) -> str:
    """Run ids go into a Delta predicate; allow only the characters Airflow uses."""
    if not _RUN_ID.match(run_id):
        raise ValueError(
            f"run_id {run_id!r} is not allowed: use letters, digits and . _ : + - only "
            "(Airflow run ids such as 'manual__2026-11-01T02:00:00+00:00' qualify)"
        )
    return run_id


def results_path(lake_root: Path) -> Path:
    return tables.path(lake_root, tables.EXPECTATION_RESULTS)


def validated_deliveries(
    lake_root: Path, feed_id: str, *, exclude_run: str, io: LakeIO
) -> set[str]:
    """Deliveries of ``feed_id`` listed by a run (other than ``exclude_run``) that had no
    failed critical expectation."""
    rows = io.read_matching(
        results_path(lake_root),
        {"feed_id": feed_id},
        columns=["run_id", "severity", "success", "details"],
    )
    if rows is None:
        return set()
    failed: set[str] = set()
    listed: dict[str, set[str]] = {}
    for r in rows.to_pylist():
        if r["run_id"] == exclude_run:
            continue
        if r["severity"] == "critical" and not r["success"]:
            failed.add(r["run_id"])
        details = json.loads(r["details"] or "{}")
        listed.setdefault(r["run_id"], set()).update(details.get("deliveries") or ())
    return set().union(*(d for run, d in listed.items() if run not in failed))


def write_results(
    lake_root: Path, run_id: str, feeds: list[str], outcomes: list[Outcome], *, io: LakeIO
) -> Path:
    """Replace the rows of ``run_id`` for ``feeds`` (other feeds of the run stay: the
    ingest DAGs gate one feed each, possibly under the same run id)."""
    path = results_path(lake_root)
    if io.exists(path) and feeds:
        for feed in feeds:
            if not _FEED.match(feed):
                raise ValueError(f"feed id {feed!r} is not snake_case")
        in_list = ", ".join(f"'{f}'" for f in feeds)
        io.delete_where(path, f"run_id = '{check_run_id(run_id)}' AND feed_id IN ({in_list})")
    rows = {
        "run_id": [o.run_id for o in outcomes],
        "suite": [o.suite for o in outcomes],
        "feed_id": [o.feed_id for o in outcomes],
        "delivery_id": [None for _ in outcomes],
        "expectation": [o.expectation for o in outcomes],
        "expectation_type": [o.expectation_type for o in outcomes],
        "column": [o.column for o in outcomes],
        "severity": [o.severity for o in outcomes],
        "success": [o.success for o in outcomes],
        "unexpected_count": [o.unexpected_count for o in outcomes],
        "element_count": [
            o.element_count if isinstance(o.element_count, int) else None for o in outcomes
        ],
        "details": [o.details() for o in outcomes],
        "at": [o.at for o in outcomes],
    }
    if outcomes:
        io.append(path, pa.table(rows, schema=SCHEMA))
    return path
