"""Exchange-platform pulls against the simulator on a loopback port (SOURCE_FEEDS.md s.4)."""

from __future__ import annotations

import json
from collections import Counter

import httpx
import pytest

from civlake import lake, pipeline
from civlake.exchange import ExchangeAuthError, RetryPolicy, pull_api_feeds
from civlake.exchange.faults import FaultConfig
from civlake.exchange.simulator import running
from civlake.exchange.snapshots import load_snapshots
from civlake.ingest import audit, ingest_landing
from civlake.ingest.bronze import bronze_path
from civlake.settings import load_settings
from tests.support.api_landing import write_api_landing

TOKEN = "test-token-not-secret"
FAST = RetryPolicy(base_delay=0.02, max_delay=0.2)
API_FEEDS = ["benefit_payments", "social_organizations"]


@pytest.fixture
def landing(tmp_path):
    root = tmp_path / "landing"
    write_api_landing(root, payments=[120, 75], organisations=[30, 30, 34])
    return root


def _settings(tmp_path, name, landing):
    return load_settings(
        env={"CIVLAKE_HOME": str(tmp_path / name), "CIVLAKE_LANDING": str(landing)}
    )


def _bronze_keys(settings, feed_id):
    """(delivery, position, natural key, row hash) of every bronze row, sorted."""
    key = "payment_id" if feed_id == "benefit_payments" else "uscc"
    table = lake.read_arrow(bronze_path(settings.lake, feed_id))
    cols = ["_delivery_id", "_source_row", key, "_row_hash"]
    rows = zip(*(table.column(c).to_pylist() for c in cols), strict=True)
    return sorted(rows)


def _audit(settings):
    fields = ("feed_id", "delivery_id", "status", "rows_declared", "rows_bronze", "superseded_by")
    return sorted(
        tuple(r[f] for f in fields) for r in audit.read_audit(settings.lake, io=lake.DELTA_RS)
    )


def _versions(settings):
    paths = [bronze_path(settings.lake, f) for f in API_FEEDS] + [audit.audit_path(settings.lake)]
    return [lake.open_table(p).version() for p in paths]


def test_pull_with_every_fault_equals_the_file_channel(tmp_path, landing, now):
    # GIVEN the simulator serving the landing's API snapshots with every fault kind on
    faults = FaultConfig(
        rate_limit_every=9, retry_after=1, error_every=5, slow_every=4, slow_seconds=0.05,
        drop_every=7, expire_every=3, expire_max=2,
    )  # fmt: skip
    api = _settings(tmp_path, "api", landing)
    with running(load_snapshots(landing), token=TOKEN, faults=faults) as (url, app):
        # WHEN the puller takes everything in small pages
        result = pull_api_feeds(api, base_url=url, token=TOKEN, now=now, page_size=16, policy=FAST)
        log = app.state.faults.requests()
    # THEN every fault kind was actually exercised ...
    seen = Counter(e["fault"] for e in log)
    for kind in ("rate_limit", "server_error", "slow", "dropped", "cursor_expired"):
        assert seen[kind] > 0, kind
    assert {e["status"] for e in log} >= {200, 410, 429, 500, 503}
    assert result["benefit_payments"].restarts == 2
    # ... and bronze holds exactly the records the file channel loads from the same
    # deliveries: same positions, keys and row hashes, nothing twice, nothing missing.
    files = _settings(tmp_path, "files", landing)
    ingest_landing(files, now=now, feeds=API_FEEDS)
    for feed_id in API_FEEDS:
        got, want = _bronze_keys(api, feed_id), _bronze_keys(files, feed_id)
        assert got == want
        assert len(set(got)) == len(got)
    # Same accounting as file deliveries, including the supersession of a resubmission.
    assert _audit(api) == _audit(files)
    rows = audit.read_audit(api.lake, io=lake.DELTA_RS)
    assert {r["channel"] for r in rows} == {"api"}
    assert all(r["rows_declared"] == r["rows_bronze"] for r in rows)
    assert any(r["status"] == "superseded" for r in rows)
    bronze = lake.read_arrow(bronze_path(api.lake, "benefit_payments"))
    assert set(bronze.column("_source_file").to_pylist()) == {"api"}
    assert set(bronze.column("_format").to_pylist()) == {"api"}


def test_retry_after_is_honoured(tmp_path, landing, now):
    faults = FaultConfig(rate_limit_every=4, retry_after=1)
    settings = _settings(tmp_path, "data", landing)
    with running(load_snapshots(landing), token=TOKEN, faults=faults) as (url, app):
        pull_api_feeds(
            settings, base_url=url, token=TOKEN, now=now, feeds=["social_organizations"],
            page_size=12, policy=FAST,
        )  # fmt: skip
        log = app.state.faults.requests()
    limited = [i for i, e in enumerate(log) if e["status"] == 429]
    assert len(limited) >= 2
    for i in limited:
        gap = log[i + 1]["at"] - log[i]["at"]
        # waited the announced second, and not much more (no extra backoff on top)
        assert 1.0 <= gap < 1.8, gap


def test_bad_token_stops_at_once_and_leaves_the_lake_unchanged(tmp_path, landing, now):
    settings = _settings(tmp_path, "data", landing)
    with running(load_snapshots(landing), token=TOKEN) as (url, app):
        with pytest.raises(ExchangeAuthError) as err:
            pull_api_feeds(settings, base_url=url, token="wrong", now=now, policy=FAST)
        log = app.state.faults.requests()
    message = str(err.value)
    assert "benefit_payments" in message and "CIVLAKE_EXCHANGE_TOKEN" in message
    assert len(log) == 1 and log[0]["status"] == 401  # no retries of a refused token
    assert not settings.lake.exists() or not any(settings.lake.rglob("_delta_log"))


def test_rerun_with_nothing_new_is_a_no_op(tmp_path, landing, now):
    settings = _settings(tmp_path, "data", landing)
    with running(load_snapshots(landing), token=TOKEN) as (url, _app):
        first = pull_api_feeds(settings, base_url=url, token=TOKEN, now=now, policy=FAST)
        versions = _versions(settings)
        again = pull_api_feeds(settings, base_url=url, token=TOKEN, now=now, policy=FAST)
    assert sum(s.loaded + s.superseded for s in first.values()) == 5
    assert all(s.new_deliveries == [] and s.pages == 0 for s in again.values())
    assert [s.skipped for s in again.values()] == [2, 3]
    assert _versions(settings) == versions  # not a single Delta commit


def test_snapshot_already_loaded_by_file_is_not_pulled(tmp_path, landing, now):
    settings = _settings(tmp_path, "data", landing)
    ingest_landing(settings, now=now, feeds=["benefit_payments"])
    before = _bronze_keys(settings, "benefit_payments")
    with running(load_snapshots(landing), token=TOKEN) as (url, _app):
        result = pull_api_feeds(
            settings, base_url=url, token=TOKEN, now=now, feeds=["benefit_payments"]
        )
    assert result["benefit_payments"].skipped == 2 and result["benefit_payments"].pages == 0
    assert _bronze_keys(settings, "benefit_payments") == before


def test_declared_count_mismatch_rejects_and_removes_rows(tmp_path, landing, now):
    from dataclasses import replace

    feeds = load_snapshots(landing)
    bad = feeds["benefit_payments"][0]
    feeds["benefit_payments"][0] = replace(bad, declared_rows=bad.rows + 3)
    settings = _settings(tmp_path, "data", landing)
    with running(feeds, token=TOKEN) as (url, _app):
        result = pull_api_feeds(
            settings, base_url=url, token=TOKEN, now=now, feeds=["benefit_payments"], page_size=50
        )
    assert result["benefit_payments"].rejected == 1
    row = next(
        r
        for r in audit.read_audit(settings.lake, io=lake.DELTA_RS)
        if r["delivery_id"] == bad.snapshot_id
    )
    assert row["status"] == "rejected" and row["reject_reason"] == "ROWCOUNT_MISMATCH"
    assert row["rows_declared"] == bad.rows + 3 and row["rows_bronze"] == 0
    ids = {k[0] for k in _bronze_keys(settings, "benefit_payments")}
    assert ids == {feeds["benefit_payments"][1].snapshot_id}


def test_simulator_contract_paging_auth_and_cursor(landing):
    snaps = load_snapshots(landing)
    with running(snaps, token=TOKEN) as (url, _app):
        auth = {"Authorization": f"Bearer {TOKEN}"}
        base = f"{url}/v1/datasets/social_organizations"
        assert httpx.get(f"{base}/snapshots").status_code == 401
        listing = httpx.get(f"{base}/snapshots", headers=auth).json()["snapshots"]
        assert [s["snapshot_id"] for s in listing] == [
            s.snapshot_id for s in snaps["social_organizations"]
        ]
        first = listing[0]
        page = httpx.get(f"{base}/records", headers=auth,
                         params={"snapshot_id": first["snapshot_id"], "limit": 20}).json()  # fmt: skip
        assert len(page["records"]) == 20 and page["next_cursor"]
        # a cursor is only valid for its own snapshot
        other = httpx.get(f"{base}/records", headers=auth,
                          params={"snapshot_id": listing[1]["snapshot_id"],
                                  "cursor": page["next_cursor"]})  # fmt: skip
        assert other.status_code == 410
        latest = httpx.get(f"{base}/records", headers=auth, params={"limit": 1}).json()
        assert latest["snapshot_id"] == listing[-1]["snapshot_id"]
        missing = httpx.get(f"{url}/v1/datasets/nope/snapshots", headers=auth)
        assert missing.status_code == 404
        httpx.post(f"{url}/_control/expire-cursors", headers=auth)
        expired = httpx.get(f"{base}/records", headers=auth,
                            params={"snapshot_id": first["snapshot_id"],
                                    "cursor": page["next_cursor"]})  # fmt: skip
        assert expired.status_code == 410


def test_pipeline_ingest_pulls_api_feeds_when_configured(tmp_path, landing, now):
    empty = tmp_path / "empty_landing"
    empty.mkdir()
    with running(load_snapshots(landing), token=TOKEN) as (url, _app):
        settings = load_settings(env={
            "CIVLAKE_HOME": str(tmp_path / "data"), "CIVLAKE_LANDING": str(empty),
            "CIVLAKE_EXCHANGE_URL": url, "CIVLAKE_EXCHANGE_TOKEN": TOKEN,
        })  # fmt: skip
        summary = pipeline.ingest(settings, "benefit_payments", now=now)
    assert summary.loaded == 2 and len(summary.new_deliveries) == 2
    assert summary.rows_bronze == sum(s.rows for s in load_snapshots(landing)["benefit_payments"])


def test_generated_city_api_feeds(tmp_path, now):
    generate = pytest.importorskip("civlake.generate")
    if not hasattr(generate, "generate"):
        pytest.skip("civlake.generate.generate is not available yet")
    landing = tmp_path / "city"
    generate.generate(landing, persons=300, months=2, seed=5)
    snaps = load_snapshots(landing)
    assert snaps["benefit_payments"], "the generated city has no payment snapshots"
    api, files = _settings(tmp_path, "api", landing), _settings(tmp_path, "files", landing)
    with running(snaps, token=TOKEN, faults=FaultConfig(error_every=4, drop_every=5)) as (url, _):
        pull_api_feeds(api, base_url=url, token=TOKEN, now=now, page_size=200, policy=FAST)
    ingest_landing(files, now=now, feeds=API_FEEDS)
    served = {(f, s.snapshot_id) for f, ss in snaps.items() for s in ss}
    loaded_by_file = {
        (r["feed_id"], r["delivery_id"]): r for r in audit.read_audit(files.lake, io=lake.DELTA_RS)
        if r["status"] in ("loaded", "superseded")
    }  # fmt: skip
    # every delivery the file channel accepts is a snapshot, with the same rows in bronze
    assert served == set(loaded_by_file)
    for feed_id in API_FEEDS:
        want = [k for k in _bronze_keys(files, feed_id) if (feed_id, k[0]) in served]
        assert _bronze_keys(api, feed_id) == want
    assert json.loads(audit.read_audit(api.lake, io=lake.DELTA_RS)[0]["files"])[0]["name"] == "api"
