"""``civlake run`` starts no ingest DAG run for a feed with nothing to do, and only then.

``pipeline.feed_settled`` must say "settled" after a feed was ingested, cleaned and
gated, and must say "work" for each thing the DAG would do: a new delivery folder, a
delivery loaded but not cleaned, bronze rows left by a crash before their audit row, and a
gate that has not passed on the current inputs.
"""

from __future__ import annotations

import shutil

import pytest

from civlake import lake, pipeline, tables
from civlake.generate import generate
from civlake.ingest import audit
from civlake.settings import load_settings
from tests.conftest import NOW
from tests.support.bronze import bronze_rows

pytestmark = pytest.mark.integration
FEED = "elderly_allowance"


@pytest.fixture(scope="module")
def settled(tmp_path_factory):
    root = tmp_path_factory.mktemp("settled")
    generate(root / "landing", persons=200, months=1, seed=31)
    settings = load_settings(
        env={"CIVLAKE_HOME": str(root / "home"), "CIVLAKE_LANDING": str(root / "landing")}
    )
    assert pipeline.feed_settled(settings, FEED) is None  # everything is new
    for feed in ("divisions", FEED):
        pipeline.ingest(settings, feed, now=NOW)
        pipeline.clean(settings, feed, now=NOW)
        pipeline.expectations(settings, feed, run_id="settled")
    return settings


def test_a_gated_feed_is_settled_and_a_never_run_feed_is_not(settled):
    assert pipeline.feed_settled(settled, FEED)
    assert pipeline.feed_settled(settled, "hukou_population") is None


def test_a_new_delivery_folder_is_work(settled, tmp_path):
    folder = next(p for p in sorted((settled.landing / FEED).iterdir()) if p.is_dir())
    copy = folder.with_name(folder.name[:-3] + "999")
    shutil.copytree(folder, copy)
    try:
        assert pipeline.feed_settled(settled, FEED) is None
    finally:
        shutil.rmtree(copy)
    assert pipeline.feed_settled(settled, FEED)


def test_a_gate_without_a_record_of_passing_is_work(settled):
    record = settled.state_dir / "stage_inputs" / f"expectations.{FEED}.json"
    kept = record.read_bytes()
    record.unlink()
    try:
        assert pipeline.feed_settled(settled, FEED) is None
    finally:
        record.write_bytes(kept)
    assert pipeline.feed_settled(settled, FEED)


def test_bronze_rows_without_an_audit_row_are_work(settled, tmp_path):
    home = tmp_path / "home"
    shutil.copytree(settled.home, home)
    copy = load_settings(env={"CIVLAKE_HOME": str(home), "CIVLAKE_LANDING": str(settled.landing)})
    assert pipeline.feed_settled(copy, FEED)
    lake.append(tables.path(copy.lake, tables.bronze(FEED)),
                bronze_rows(FEED, [{}], delivery_id="20261101-440106-777"))  # fmt: skip
    assert pipeline.feed_settled(copy, FEED) is None


def test_a_loaded_delivery_not_yet_cleaned_is_work(settled, tmp_path):
    home = tmp_path / "home"
    shutil.copytree(settled.home, home)
    copy = load_settings(env={"CIVLAKE_HOME": str(home), "CIVLAKE_LANDING": str(settled.landing)})
    row = next(
        r for r in audit.read_audit(copy.lake, FEED, io=lake.DELTA_RS) if r["status"] == "loaded"
    )
    lake.merge_update(
        tables.path(copy.lake, tables.INGEST_AUDIT),
        audit_update(row["delivery_id"]),
        on=["feed_id", "delivery_id"],
    )
    assert pipeline.feed_settled(copy, FEED) is None


def audit_update(delivery_id: str):
    import pyarrow as pa

    return pa.table({"feed_id": [FEED], "delivery_id": [delivery_id],
                     "rows_silver": pa.array([None], pa.int64())})  # fmt: skip


def test_a_feed_never_delivered_is_settled(settled, tmp_path):
    # nothing for it in landing, the ledger or silver: its DAG would do nothing
    home, landing = tmp_path / "home", tmp_path / "landing"
    shutil.copytree(settled.home, home)
    landing.mkdir()
    copy = load_settings(env={"CIVLAKE_HOME": str(home), "CIVLAKE_LANDING": str(landing)})
    assert pipeline.feed_settled(copy, "hukou_population") == "nothing delivered yet"
    # a delivery in landing is work (the module's landing has hukou's)
    assert pipeline.feed_settled(settled, "hukou_population") is None
    # so is a silver table the gate has not passed, though the ledger knows no delivery
    lake.append(tables.path(copy.lake, tables.silver("hukou_population")),
                bronze_rows("hukou_population", [{}], delivery_id="20261101-440100-777"))  # fmt: skip
    assert pipeline.feed_settled(copy, "hukou_population") is None
