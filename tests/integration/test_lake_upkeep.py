"""civlake.lake_upkeep: a ledger table that took many small commits is compacted and
checkpointed once they pile up, reads the same rows, and does not count as new input."""

from __future__ import annotations

import pyarrow as pa
import pytest
from deltalake import DeltaTable

from civlake import lake, stage_inputs, tables
from civlake.lake_upkeep import (
    COMMITS_BETWEEN,
    commits_since_checkpoint,
    keep_ledgers_small,
    keep_small,
)

pytestmark = pytest.mark.integration


def _rows(i: int) -> pa.Table:
    return pa.table({"delivery_id": [f"d{i}-a", f"d{i}-b"], "rows": pa.array([i, i + 1])})


def _sorted(path) -> list[dict]:
    return sorted(lake.read_arrow(path).to_pylist(), key=lambda r: r["delivery_id"])


def _live_files(path) -> int:
    return len(DeltaTable(str(path)).file_uris())


def test_a_table_of_many_small_commits_is_compacted_once_they_pile_up(tmp_path):
    path = tmp_path / "ledger"
    # GIVEN a table that took 6 small commits (one file each)
    for i in range(6):
        lake.append(path, _rows(i))
    before, version = _sorted(path), DeltaTable(str(path)).version()
    assert commits_since_checkpoint(path) == 6 and _live_files(path) == 6
    # WHEN fewer commits than the trigger have piled up THEN nothing is done
    assert keep_small(path, commits_between=7) is None
    assert DeltaTable(str(path)).version() == version
    # WHEN as many as the trigger THEN one file, a checkpoint, the same rows
    done = keep_small(path, commits_between=6)
    assert done is not None and done["files_removed"] == 6 and done["files_added"] == 1
    assert _live_files(path) == 1 and _sorted(path) == before
    assert commits_since_checkpoint(path) == 0
    # AND the compaction is not new input for the stages: the data version is the last
    # append's, until the next append
    assert stage_inputs.table_version(path) == version
    lake.append(path, _rows(6))
    assert stage_inputs.table_version(path) == DeltaTable(str(path)).version() == version + 2
    # AND it triggers again only after as many commits more
    assert keep_small(path, commits_between=6) is None


def test_the_ledgers_of_a_lake_are_kept_small_and_a_second_call_changes_nothing(tmp_path):
    lake_root = tmp_path / "lake"
    audit = tables.path(lake_root, tables.INGEST_AUDIT)
    results = tables.path(lake_root, tables.EXPECTATION_RESULTS)
    # GIVEN the ingest ledger past the trigger and the results table below it
    for i in range(COMMITS_BETWEEN):
        lake.append(audit, _rows(i))
    lake.append(results, _rows(0))
    # WHEN the ledgers are kept small THEN only the ingest ledger is compacted
    done = keep_ledgers_small(lake_root)
    assert set(done) == {tables.INGEST_AUDIT}
    assert _live_files(audit) == 1 and len(_sorted(audit)) == 2 * COMMITS_BETWEEN
    # AND a second call (a run that wrote nothing) writes nothing
    versions = {p: DeltaTable(str(p)).version() for p in (audit, results)}
    assert keep_ledgers_small(lake_root) == {}
    assert {p: DeltaTable(str(p)).version() for p in versions} == versions


def test_a_table_without_commits_or_log_is_left_alone(tmp_path):
    assert commits_since_checkpoint(tmp_path / "none") == 0
    assert keep_small(tmp_path / "none", commits_between=1) is None
