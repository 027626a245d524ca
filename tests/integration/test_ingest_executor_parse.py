"""The Spark engine's ingest decides every delivery as the embedded engine does.

On Spark the files are parsed on the executors (``civlake.ingest.spark_job``): each file
task yields its bronze rows and one outcome row, and the driver replays each delivery's
outcomes. The function the executors run is plain Python over Arrow batches, so here it
runs in this process on every delivery of a generated city (with its planted delivery
faults) and on hand-made deliveries whose files fail in different ways, and must give
exactly what ``landing._parse_files`` gives: the same bronze rows, or the same rejection
reason and detail. (The Spark job itself is covered by test_clean_spark and the engine
parity test.)
"""

from __future__ import annotations

import pyarrow as pa
import pyarrow.compute as pc
import pytest

from civlake import tables
from civlake.contracts import load_contracts
from civlake.generate import generate
from civlake.ingest import landing, spark_job
from civlake.ingest.manifest import DeliveryRejected, read_manifest
from tests.conftest import NOW
from tests.deliveries import csv_bytes, headers, write_delivery

pytestmark = pytest.mark.integration


def _embedded(folder, manifest, contract):
    try:
        table = landing._parse_files(folder, manifest, contract, NOW)
    except DeliveryRejected as exc:
        return ("rejected", exc.reason, exc.detail)
    return ("rows", None if table is None else table)


def _on_executor(folder, manifest, contract):
    schema = spark_job.output_schema(contract)
    tasks = pa.RecordBatch.from_pylist(spark_job.tasks_of(folder, 0, manifest))
    out = pa.Table.from_batches(
        list(spark_job.parse_tasks(contract, [manifest], NOW, schema)([tasks])), schema=schema
    )
    flag = out[spark_job.OUTCOME]
    outcome_rows = out.filter(flag).select(spark_job.OUTCOME_COLUMNS).to_pylist()
    outcomes = spark_job.outcomes_by_delivery(outcome_rows, [manifest])[manifest.delivery_id]
    try:
        n = spark_job.decide(outcomes)
    except DeliveryRejected as exc:
        return ("rejected", exc.reason, exc.detail)
    rows = out.filter(pc.invert(flag)).select(tables.bronze_schema(contract).names)
    assert rows.num_rows == n
    return ("rows", rows if n else None)


def _assert_same(folder, contract):
    manifest = read_manifest(folder, contract)
    want, got = _embedded(folder, manifest, contract), _on_executor(folder, manifest, contract)
    if want[0] == "rejected" or got[0] == "rejected":
        assert got == want, folder
        return want[1]
    if want[1] is None:
        assert got[1] is None, folder
        return "empty"
    bronze = tables.bronze_schema(contract)
    assert got[1].cast(bronze).to_pylist() == want[1].cast(bronze).to_pylist(), folder
    return "loaded"


def test_every_delivery_of_a_generated_city_is_decided_alike(tmp_path):
    landing_dir = tmp_path / "landing"
    generate(landing_dir, persons=200, months=1, seed=19)
    contracts = load_contracts()
    seen: dict[str, int] = {}
    for feed_id, contract in sorted(contracts.items()):
        complete, _ = landing.discover(landing_dir, feed_id)
        for folder in complete:
            try:
                read_manifest(folder, contract)
            except DeliveryRejected:
                continue  # not parsed on either engine
            kind = _assert_same(folder, contract)
            seen[kind] = seen.get(kind, 0) + 1
    # The city must have exercised loads and at least one file-level rejection.
    assert seen.get("loaded", 0) > 20, seen
    assert set(seen) - {"loaded", "empty"}, seen


def test_a_hash_mismatch_in_a_later_file_wins_over_a_parse_error_in_an_earlier_one(
    tmp_path,
):
    feed = "elderly_allowance"
    contract = load_contracts()[feed]
    good = csv_bytes(headers(feed), [])
    broken = "\ufeff".encode() + b"\xff\xfe not a header\n"
    folder = write_delivery(
        tmp_path, feed, "20261101-440106-001", {"a.csv": broken, "b.csv": good},
        rows={"a.csv": 1, "b.csv": 0}, sha_override={"b.csv": "0" * 64},
    )  # fmt: skip
    assert _assert_same(folder, contract) == "HASH_MISMATCH"


def test_the_first_failing_file_in_manifest_order_rejects_the_delivery(tmp_path):
    feed = "elderly_allowance"
    contract = load_contracts()[feed]
    cols = headers(feed)
    folder = write_delivery(
        tmp_path, feed, "20261101-440106-002",
        {"a.csv": csv_bytes(cols, []), "b.csv": csv_bytes(cols[:-3], []),
         "c.csv": csv_bytes(cols, [])},
        rows={"a.csv": 5, "b.csv": 0, "c.csv": 0},
    )  # fmt: skip
    # a.csv declares rows it does not have: ROWCOUNT_MISMATCH on a.csv, before b.csv's header.
    reason = _assert_same(folder, contract)
    assert reason == "ROWCOUNT_MISMATCH"
