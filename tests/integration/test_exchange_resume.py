"""A pull killed mid-way (SIGKILL, in a subprocess) and restarted: no page twice, none missed."""

from __future__ import annotations

import os
import signal
import subprocess
import sys

from civlake import lake
from civlake.exchange import RetryPolicy, pull_api_feeds
from civlake.exchange.faults import FaultConfig
from civlake.exchange.pages import committed
from civlake.exchange.simulator import running
from civlake.exchange.snapshots import load_snapshots
from civlake.ingest import audit
from civlake.ingest.bronze import bronze_path
from civlake.settings import load_settings
from tests.support.api_landing import write_api_landing

TOKEN = "resume-test-token"
KILL_AFTER_PAGES = 6


def _kill_after_pages(url: str, home, n: int) -> list[str]:
    """Run ``python -m civlake.exchange`` and SIGKILL it once it reported n page commits."""
    env = {**os.environ, "CIVLAKE_HOME": str(home), "CIVLAKE_EXCHANGE_TOKEN": TOKEN}
    cmd = [sys.executable, "-m", "civlake.exchange", "--base-url", url, "--page-size", "10",
           "--feed", "benefit_payments"]  # fmt: skip
    proc = subprocess.Popen(cmd, env=env, stdout=subprocess.PIPE, text=True)
    seen: list[str] = []
    try:
        for line in proc.stdout:
            seen.append(line)
            if sum("page committed" in s for s in seen) >= n:
                proc.send_signal(signal.SIGKILL)  # no cleanup, like a lost worker
                break
    finally:
        proc.wait(timeout=60)
        proc.stdout.close()
    return seen


def test_killed_pull_resumes_without_duplicates_or_gaps(tmp_path, now):
    # GIVEN two payment snapshots of 90 and 60 records, served slowly enough (every page
    # delayed) that the kill lands inside the first snapshot
    landing = tmp_path / "landing"
    write_api_landing(landing, payments=[90, 60], organisations=[])
    snaps = load_snapshots(landing)
    home = tmp_path / "data"
    settings = load_settings(env={"CIVLAKE_HOME": str(home)})
    faults = FaultConfig(slow_every=1, slow_seconds=0.05, expire_every=4, expire_max=1)
    with running(snaps, token=TOKEN, faults=faults) as (url, _app):
        # WHEN the puller is killed after a few committed pages ...
        out = _kill_after_pages(url, home, KILL_AFTER_PAGES)
        assert not any("loaded" in line for line in out), "killed too late to test resume"
        partial = committed(settings.lake, "benefit_payments")
        first = snaps["benefit_payments"][0].snapshot_id
        assert KILL_AFTER_PAGES * 10 <= partial[first].rows < 90
        assert partial[first].next_cursor is not None
        assert (
            audit.read_audit(settings.lake, io=lake.DELTA_RS) == []
        )  # nothing finished, nothing audited
        # ... and run again
        result = pull_api_feeds(
            settings, base_url=url, token=TOKEN, now=now, feeds=["benefit_payments"],
            page_size=10, policy=RetryPolicy(base_delay=0.02),
        )["benefit_payments"]  # fmt: skip
    # THEN it continued from the committed cursor (only the missing pages were fetched) ...
    assert result.rows_bronze == 150 - partial[first].rows
    # ... and bronze has every position of every snapshot exactly once, in the records served
    table = lake.read_arrow(bronze_path(settings.lake, "benefit_payments"))
    got = sorted(zip(table.column("_delivery_id").to_pylist(),
                     table.column("_source_row").to_pylist(),
                     table.column("payment_id").to_pylist(), strict=True))  # fmt: skip
    want = sorted(
        (s.snapshot_id, i, rec["payment_id"])
        for s in snaps["benefit_payments"]
        for i, rec in enumerate(s.records, start=1)
    )
    assert got == want
    rows = audit.read_audit(settings.lake, io=lake.DELTA_RS)
    assert sorted(r["delivery_id"] for r in rows) == sorted(
        s.snapshot_id for s in snaps["benefit_payments"]
    )
    assert all(r["status"] == "loaded" and r["rows_declared"] == r["rows_bronze"] for r in rows)


def test_crash_after_last_page_before_audit_finishes_without_refetch(tmp_path, now):
    # GIVEN a snapshot whose every page is committed but whose audit row never was written
    landing = tmp_path / "landing"
    write_api_landing(landing, payments=[25], organisations=[])
    snaps = load_snapshots(landing)
    settings = load_settings(env={"CIVLAKE_HOME": str(tmp_path / "data")})
    with running(snaps, token=TOKEN) as (url, app):
        pull_api_feeds(settings, base_url=url, token=TOKEN, now=now, feeds=["benefit_payments"])
        audit_table = audit.audit_path(settings.lake)
        lake.delete_where(audit_table, "true")  # the crash: audit commit lost
        app.state.faults.configure(FaultConfig())  # reset the request log
        # WHEN the pull runs again
        result = pull_api_feeds(
            settings, base_url=url, token=TOKEN, now=now, feeds=["benefit_payments"]
        )["benefit_payments"]
        log = app.state.faults.requests()
    # THEN the snapshot is finished from bronze alone: audited, no record requested again
    assert result.loaded == 1 and result.pages == 0
    assert [e["path"].rsplit("/", 1)[-1] for e in log] == ["snapshots"]
    assert audit.read_audit(settings.lake, io=lake.DELTA_RS)[0]["rows_bronze"] == 25
