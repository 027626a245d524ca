"""Person resolution on the embedded engine under a DuckDB memory limit smaller than the
city (issue 17: memory is set by the batch, not by the city).

A generated city whose references, as Arrow, take more than the limit resolves under it
(spilling to state/duckdb_tmp, sorting and grouping a slice at a time, writing Parquet a
batch at a time) and writes exactly what the unlimited run writes, row for row.
"""

from __future__ import annotations

import shutil
from datetime import UTC, datetime
from pathlib import Path

import pytest
from deltalake import DeltaTable

from civlake import lake, tables
from civlake.resolve import resolve_persons
from civlake.resolve.keys import SECRET_ENV
from civlake.settings import load_settings
from tests.support.silver_city import build_silver

pytestmark = pytest.mark.integration
NOW = datetime(2026, 12, 1, tzinfo=UTC)
# Above DuckDB's own floor for the golden-record query (~60 MB on two threads whatever
# the city: one hash table per aggregate and thread), below the city's references.
LIMIT = "96MB"
LIMIT_BYTES = 96 * 10**6
OUTPUTS = (tables.PERSON_SOURCE_XREF, tables.PERSONS)


def _resolve(home: Path, silver: Path, limit: str | None) -> dict:
    (home / "lake").mkdir(parents=True)
    shutil.copytree(silver, home / "lake" / "silver")
    env = {"CIVLAKE_HOME": str(home), SECRET_ENV: "bounded-test"}
    if limit:
        env["CIVLAKE_MEMORY_LIMIT"] = limit
    settings = load_settings(env=env)
    stats = resolve_persons(settings, now=NOW)
    stats.pop("seconds")
    return stats


def test_resolve_persons_under_a_limit_smaller_than_the_city(tmp_path):
    # GIVEN silver for 300,000 persons (about 353,000 references; ~40 s in all here)
    refs = build_silver(tmp_path / "city", persons=300_000)
    silver = tmp_path / "city" / "silver"
    # WHEN resolution runs without a limit and under a 96 MB one
    free = _resolve(tmp_path / "free", silver, None)
    bounded = _resolve(tmp_path / "bounded", silver, LIMIT)
    assert free["references"] == bounded["references"] == refs
    # THEN the city's references take more than the limit: the two tables resolution
    # writes, read back as Arrow, are larger than it
    got = {n: lake.read_arrow(tables.path(tmp_path / "bounded" / "lake", n)) for n in OUTPUTS}
    assert sum(t.nbytes for t in got.values()) > LIMIT_BYTES
    # AND the bounded run writes what the free one writes, row for row and in order,
    # with the registered schemas, each table in one commit
    assert bounded == free
    for name, table in got.items():
        expected = lake.read_arrow(tables.path(tmp_path / "free" / "lake", name))
        assert table.schema == tables.schema(name)
        assert table.equals(expected), name
        assert DeltaTable(str(tables.path(tmp_path / "bounded" / "lake", name))).version() == 0
    xref = got[tables.PERSON_SOURCE_XREF]
    lineage = list(zip(*(xref[c].to_pylist() for c in ("feed_id", "_source_row")), strict=True))
    assert lineage == sorted(lineage), "xref must come back in lineage order"
    keys = got[tables.PERSONS]["person_key"].to_pylist()
    assert keys == sorted(keys) and len(set(keys)) == len(keys)
