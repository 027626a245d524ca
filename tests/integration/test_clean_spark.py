"""Ingest and the clean gate on Spark give the embedded engine's lake, row for row.

One small generated city (with dirt, rejections, a duplicate and a superseded delivery)
is ingested and cleaned twice: into lake A on the embedded engine (delta-rs + DuckDB) and
into lake B on the Spark engine (``engine.runtime.on_session``: delta-spark, the gate as a mapInArrow job). Bronze,
silver, quarantine and ingest_audit must be identical (only the ``*_seconds`` wall-clock
columns differ; every ``*_at`` is the run's ``now``). A rerun on Spark commits nothing,
and Spark repairs the state a crash leaves behind.
"""

from __future__ import annotations

from pathlib import Path

import pyarrow as pa
import pytest

from civlake import lake
from civlake.clean import check_invariants, clean_pending
from civlake.engine.runtime import EMBEDDED, on_session
from civlake.generate import generate
from civlake.ingest import ingest_landing
from civlake.settings import load_settings
from tests.support.parity import compare_tables

pytestmark = [pytest.mark.integration, pytest.mark.spark]
# divisions first (every feed checks codes against it); XLSX + CSV with names and
# OpenCC, a superseded resubmission, JSONL amounts, certificate-derived IDs, and a feed
# with rejected deliveries. Fewer feeds, not fewer kinds: each costs Spark jobs.
FEEDS = [
    "divisions", "assistance_recipients", "elderly_allowance", "benefit_payments",
    "disability_certs", "charity_donations",
]  # fmt: skip
LINEAGE_KEY = ["_delivery_id", "_source_file", "_source_row"]
WALL_CLOCK = ("ingest_seconds", "clean_seconds")


def _settings(home: Path, landing: Path):
    return load_settings(env={"CIVLAKE_HOME": str(home), "CIVLAKE_LANDING": str(landing)})


def _settings_of(lake_root: Path):
    """The settings a lake of the ``lakes`` fixture was made with."""
    return _settings(lake_root.parent, lake_root.parent.parent / "landing")


def _run(settings, now, engine=EMBEDDED) -> tuple[dict, dict]:
    ingested = ingest_landing(settings, now=now, feeds=FEEDS, engine=engine)
    return ingested, clean_pending(settings, feeds=FEEDS, now=now, engine=engine)


@pytest.fixture(scope="module")
def lakes(tmp_path_factory, spark):
    from tests.conftest import NOW

    root = tmp_path_factory.mktemp("parity")
    landing = root / "landing"
    generate(landing, persons=300, months=1, seed=5)
    a, b = _settings(root / "a", landing), _settings(root / "b", landing)
    _run(a, NOW)
    ingested, cleaned = _run(b, NOW, on_session(spark))
    return a.lake, b.lake, ingested, cleaned


def _tables(root: Path) -> dict[str, Path]:
    out = {f"{layer}.{p.name}": p for layer in ("bronze", "silver")
           for p in sorted((root / layer).iterdir())}  # fmt: skip
    out["quarantine"] = root / "quarantine"
    out["ingest_audit"] = root / "ingest_audit"
    return out


def _diff(a: Path, b: Path) -> list[str]:
    ta, tb = _tables(a), _tables(b)
    out = [f"tables differ: {sorted(set(ta) ^ set(tb))}"] if set(ta) != set(tb) else []
    for name, path in sorted(ta.items()):
        if name not in tb:
            continue
        key = {"quarantine": ["feed_id", *LINEAGE_KEY], "ingest_audit": ["feed_id", "delivery_id"]}
        out += compare_tables(
            name, lake.read_arrow(path), lake.read_arrow(tb[name]),
            key=key.get(name, LINEAGE_KEY), ignore=WALL_CLOCK,
        )  # fmt: skip
    return out


def _versions(root: Path) -> dict[str, int]:
    return {name: lake.open_table(p).version() for name, p in _tables(root).items()}


@pytest.mark.slow  # the per-stage Spark parity suite: scripts/test -m slow (README)
def test_spark_lake_equals_embedded_lake(lakes):
    a, b, ingested, cleaned = lakes
    diff = _diff(a, b)
    print("\n".join(diff))
    assert diff == []
    # the comparison is not vacuous: every feed reached silver, dirt was quarantined,
    # and every kind of delivery outcome occurred
    statuses = {r["status"] for r in lake.read_arrow(b / "ingest_audit").to_pylist()}
    assert {"loaded", "rejected", "superseded"} <= statuses
    assert set(_tables(b)) >= {f"silver.{f}" for f in FEEDS}
    assert cleaned["rows_silver"] > 0 and cleaned["rows_quarantined"] > 0
    quarantined = set(lake.read_arrow(b / "quarantine", columns=["feed_id"])["feed_id"].to_pylist())
    assert len(quarantined) >= 3
    loaded = [r for r in lake.read_arrow(b / "ingest_audit").to_pylist() if r["status"] == "loaded"]
    assert sum(r["rows_bronze"] for r in loaded) == (
        cleaned["rows_silver"] + cleaned["rows_quarantined"]
    )
    assert sum(s.loaded for s in ingested.values()) == len(loaded) == len(cleaned["cleaned"])


@pytest.mark.slow  # the per-stage Spark parity suite: scripts/test -m slow (README)
def test_rerun_on_spark_commits_nothing(lakes, spark, now):
    _, b, _, _ = lakes
    before = _versions(b)
    settings = _settings_of(b)
    ingested, cleaned = _run(settings, now, on_session(spark))
    assert all(not s.new_deliveries for s in ingested.values())
    assert cleaned["cleaned"] == [] and cleaned["superseded_removed"] == {}
    assert _versions(b) == before


@pytest.mark.slow  # the per-stage Spark parity suite: scripts/test -m slow (README)
def test_spark_repairs_a_crash_between_bronze_and_audit(lakes, spark, now):
    """Delete one delivery's audit row: its bronze, silver and quarantine rows are now what
    a crash before the audit commit leaves behind (rows without their ledger entry). The
    next Spark ingest deletes and reloads the bronze rows, the clean gate deletes the
    half-written silver/quarantine rows and writes them once: lake B equals lake A again."""
    a, b, _, _ = lakes
    audit = lake.read_arrow(b / "ingest_audit").to_pylist()
    # A delivery with rows on both sides, so a half-written one is visible; chosen by id,
    # not by the order the audit table happens to be read in.
    victim = min(
        (r for r in audit
         if r["feed_id"] == "assistance_recipients" and r["status"] == "loaded"
         and r["rows_quarantined"] and r["rows_silver"]),
        key=lambda r: r["delivery_id"],
    )  # fmt: skip
    settings, engine = _settings_of(b), on_session(spark)
    gone = engine.lake.merge_delete(
        b / "ingest_audit", {"feed_id": victim["feed_id"], "delivery_id": victim["delivery_id"]}
    )
    assert gone == 1
    left = engine.lake.read_matching(
        b / "silver" / victim["feed_id"], {"_delivery_id": victim["delivery_id"]}
    )
    assert left.num_rows  # half of the delivery is still in silver
    ingested, cleaned = _run(settings, now, engine)
    assert check_invariants(settings, feeds=FEEDS, engine=engine) == []
    assert ingested[victim["feed_id"]].new_deliveries == [victim["delivery_id"]]
    assert [(d["feed_id"], d["delivery_id"]) for d in cleaned["cleaned"]] == [
        (victim["feed_id"], victim["delivery_id"])
    ]
    diff = _diff(a, b)
    print("\n".join(diff))
    assert diff == []


def test_merge_update_and_delete_on_spark_match_rows_by_value(spark, tmp_path):
    """The MERGE primitives bind ids as values: a quote in an id is just a character."""
    path = tmp_path / "t"
    ids = ["a'b", "c", "d"]
    lake.append(path, pa.table({"feed_id": ["f"] * 3, "delivery_id": ids, "n": [1, 2, 3]}))
    on_spark = on_session(spark).lake
    on_spark.merge_update(path, pa.table({"feed_id": ["f"], "delivery_id": ["a'b"], "n": [10]}),
                          on=["feed_id", "delivery_id"])  # fmt: skip
    assert on_spark.merge_delete(path, {"delivery_id": ["c", "x"], "feed_id": "f"}) == 1
    version = lake.open_table(path).version()
    assert on_spark.merge_delete(path, {"delivery_id": ["x"]}) == 0
    assert lake.open_table(path).version() == version  # nothing matched: no commit
    rows = sorted(lake.read_arrow(path).to_pylist(), key=lambda r: r["delivery_id"])
    assert [(r["delivery_id"], r["n"]) for r in rows] == [("a'b", 10), ("d", 3)]
