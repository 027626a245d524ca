"""A delivery larger than a slice is cleaned a slice at a time (clean/runs.py).

Hukou-like monthly snapshots (dirty IDs, traditional names, an obsolete and an unknown
division code, impossible dates, bad statuses) are cleaned with ``runs.SLICE_ROWS``
lowered to a few thousand rows and compared with cleaning them whole: the same silver
and quarantine row for row, the same counts, and in the second month the same rows
carried. A crash between two slices' commits, then a rerun, gives the same lake as a run
without the crash. The memory test runs the gate in a subprocess and reads Arrow's peak
allocation there.
"""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from datetime import timedelta
from pathlib import Path

import pyarrow as pa
import pytest

from civlake import lake, tables
from civlake.clean import check_invariants, clean_pending, runs
from civlake.settings import REPO_ROOT, Settings
from tests.support.hukou_months import (
    D_AT,
    D_ID,
    FEED,
    NOW,
    P_ID,
    deliver_files,
    month_one,
    month_two,
    snapshot_lake,
)  # fmt: skip

pytestmark = pytest.mark.integration
LATER = NOW + timedelta(days=31)
LINEAGE = ["feed_id", "_delivery_id", "_source_file", "_source_row"]


def _rows(s: Settings, name: str) -> list[dict]:
    """A table's rows, ordered by lineage (Delta gives no order across files)."""
    t = lake.read_arrow(tables.path(s.lake, name))
    return t.sort_by([(k, "ascending") for k in LINEAGE if k in t.column_names]).to_pylist()


def _same_lake(a: Settings, b: Settings) -> None:
    assert _rows(a, tables.silver(FEED)) == _rows(b, tables.silver(FEED))
    assert _rows(a, tables.QUARANTINE) == _rows(b, tables.QUARANTINE)
    counts = ["feed_id", "delivery_id", "rows_bronze", "rows_silver", "rows_quarantined"]
    assert [{k: r[k] for k in counts} for r in _rows(a, tables.INGEST_AUDIT)] == [
        {k: r[k] for k in counts} for r in _rows(b, tables.INGEST_AUDIT)
    ]
    assert check_invariants(a) == [] and check_invariants(b) == []


def test_sliced_snapshots_equal_cleaning_them_whole(tmp_path, monkeypatch):
    rows = month_one(30_000, seed=3)
    whole, sliced = (
        snapshot_lake(tmp_path / "whole", rows),
        snapshot_lake(tmp_path / "sliced", rows),
    )
    calls, written = [], {}
    real, add = runs.clean_delivery, runs.Batch.add
    monkeypatch.setattr(runs, "clean_delivery", lambda *a, **k: calls.append(1) or real(*a, **k))

    def add_and_keep(self, feed, did, silver, quarantine, done):
        written.setdefault((self.settings.lake, did), []).append(silver)
        add(self, feed, did, silver, quarantine, done)

    monkeypatch.setattr(runs.Batch, "add", add_and_keep)

    # WHEN month one and then month two are cleaned whole in one lake, in 4,000-row
    # slices in the other
    first_whole = clean_pending(whole, now=NOW)
    monkeypatch.setattr(runs, "SLICE_ROWS", 4_000)
    calls.clear()
    first_sliced = clean_pending(sliced, now=NOW)
    assert len(calls) == 8  # 30,000 rows in 4,000-row slices
    later = month_two(rows, seed=4)
    deliver_files(whole.lake, later, delivery_id=D_ID, at=D_AT)
    deliver_files(sliced.lake, later, delivery_id=D_ID, at=D_AT)
    second_sliced = clean_pending(sliced, now=LATER)
    monkeypatch.setattr(runs, "SLICE_ROWS", 500_000)
    second_whole = clean_pending(whole, now=LATER)

    # THEN silver, quarantine, the ledger and each delivery's summary are the same
    _same_lake(sliced, whole)
    keep = ["delivery_id", "rows_bronze", "rows_silver", "rows_quarantined", "rows_carried"]
    for got, want in [(first_sliced, first_whole), (second_sliced, second_whole)]:
        assert [{k: d[k] for k in keep} for d in got["cleaned"]] == [
            {k: d[k] for k in keep} for d in want["cleaned"]
        ]
    [d] = second_sliced["cleaned"]
    assert d["rows_carried"] > 0.8 * d["rows_silver"]
    [p] = first_sliced["cleaned"]
    assert 0 < p["rows_quarantined"] < 0.1 * p["rows_bronze"]
    # and the gate hands each delivery's silver rows over in the same order, slice after
    # slice (Delta itself keeps no order across a table's files)
    for did in (P_ID, D_ID):
        got, want = written[sliced.lake, did], written[whole.lake, did]
        assert len(got) > len(want) == 1
        assert pa.concat_tables(got).to_pylist() == want[0].to_pylist()


def test_a_crash_between_slices_then_a_rerun_gives_the_uninterruptedsnapshot_lake(
    tmp_path, monkeypatch
):
    rows = month_one(16_000, seed=5)
    crashed, clean = (
        snapshot_lake(tmp_path / "crashed", rows),
        snapshot_lake(tmp_path / "clean", rows),
    )
    monkeypatch.setattr(runs, "SLICE_ROWS", 4_000)
    clean_pending(clean, now=NOW)
    flushes = []
    real = runs.Batch.flush

    def flush_then_crash(self):
        real(self)
        flushes.append(self.feed)
        if len(flushes) == 2:
            raise OSError("disk full (simulated) after the second slice's commits")

    # GIVEN the gate died after committing two of the snapshot's four slices
    monkeypatch.setattr(runs.Batch, "flush", flush_then_crash)
    with pytest.raises(OSError, match="simulated"):
        clean_pending(crashed, now=NOW)
    silver = lake.read_arrow(tables.path(crashed.lake, tables.silver(FEED)))
    quarantine = lake.read_arrow(tables.path(crashed.lake, tables.QUARANTINE))
    assert 0 < len(silver) + len(quarantine) <= 8_000
    [audit] = [r for r in _rows(crashed, tables.INGEST_AUDIT) if r["feed_id"] == FEED]
    assert audit["rows_silver"] is None  # no commit marker: still pending
    # WHEN it reruns THEN the half-written snapshot is replaced, not doubled
    monkeypatch.setattr(runs.Batch, "flush", real)
    clean_pending(crashed, now=NOW)
    _same_lake(crashed, clean)


_PEAK = """
import json, sys
from datetime import datetime
import pyarrow as pa
from civlake.clean import clean_pending, runs
from civlake.settings import load_settings
home, slice_rows = sys.argv[1], int(sys.argv[2])
pool, held, real = pa.default_memory_pool(), [], runs.clean_delivery
def clean_delivery(*args, **kw):
    held.append(pool.bytes_allocated())
    return real(*args, **kw)
runs.SLICE_ROWS, runs.clean_delivery = slice_rows, clean_delivery
s = load_settings(lake=home + "/lake", env={"CIVLAKE_HOME": home})
done = clean_pending(s, now=datetime.fromisoformat(sys.argv[3]))
print(json.dumps({"peak": pool.max_memory(), "held": held,
                  "rows": sum(d["rows_bronze"] for d in done["cleaned"])}))
"""


def _run_measured(home: Path, slice_rows: int) -> dict:
    """Clean the lake at ``home`` in a fresh process: Arrow's peak allocation there, and
    the bytes allocated when each ``clean_delivery`` call starts."""
    out = subprocess.run(
        [sys.executable, "-c", _PEAK, str(home), str(slice_rows), NOW.isoformat()],
        capture_output=True, text=True, check=True, cwd=REPO_ROOT,
    )  # fmt: skip
    return json.loads(out.stdout.strip().splitlines()[-1])


def test_memory_follows_the_slice_not_the_delivery(tmp_path):
    # GIVEN a 60,000-row snapshot of one file in two copies of one lake
    rows = month_one(60_000, seed=6)
    s = snapshot_lake(tmp_path / "a", rows, files=1)
    shutil.copytree(tmp_path / "a", tmp_path / "b")
    bronze = lake.read_arrow(tables.path(s.lake, tables.bronze(FEED)))
    slice_bytes = bronze.slice(0, 2_000).nbytes
    # WHEN the gate cleans it whole in one process and in 2,000-row slices in another
    whole, sliced = _run_measured(tmp_path / "a", 500_000), _run_measured(tmp_path / "b", 2_000)
    assert whole["rows"] == sliced["rows"] == 60_000
    print(f"Arrow peak: whole {whole['peak']:,} B, sliced {sliced['peak']:,} B; a slice of "
          f"bronze {slice_bytes:,} B; held per slice {sliced['held']}")  # fmt: skip
    # THEN what is held does not grow slice after slice: once the slices in flight are
    # there (one cleaned while the next is read and the one before committed, runs._cleaned),
    # it stays flat; a gate keeping its silver until the end would hold ~25 slices more
    # by the last
    held = sliced["held"]
    assert len(held) == 30
    assert max(held[5:]) - min(held[5:]) < slice_bytes
    assert max(held) - held[0] < 8 * slice_bytes
    # and the peak is a fraction of cleaning it whole (the rest is the Parquet reader's
    # pages, a few MB whatever the delivery)
    assert sliced["peak"] < whole["peak"] / 2
