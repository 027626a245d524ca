"""The golden records written a slice of the person_key space at a time, each slice's
query on every thread, are the records of the whole city in one query (``golden.
stream_persons``; resolution slices when the city's references outgrow the memory limit,
and only a limit under ``golden.ONE_THREAD_BELOW`` keeps a slice on one thread)."""

from __future__ import annotations

import shutil
from datetime import UTC, datetime
from pathlib import Path

import pytest

from civlake import lake, tables
from civlake.engine import duck
from civlake.resolve import golden, persons, resolve_persons
from civlake.resolve.keys import SECRET_ENV
from civlake.settings import load_settings
from tests.support.silver_city import build_silver

pytestmark = pytest.mark.integration
NOW = datetime(2026, 12, 1, tzinfo=UTC)
LIMIT = "2GB"


def _resolve(home: Path, silver: Path) -> None:
    (home / "lake").mkdir(parents=True)
    shutil.copytree(silver, home / "lake" / "silver")
    env = {"CIVLAKE_HOME": str(home), SECRET_ENV: "slices-test", "CIVLAKE_MEMORY_LIMIT": LIMIT}
    resolve_persons(load_settings(env=env), now=NOW)


def test_golden_records_in_slices_on_every_thread_equal_the_whole_city(tmp_path, monkeypatch):
    # GIVEN silver for 6,000 persons, resolved once as one slice under a 2GB limit
    refs = build_silver(tmp_path / "city", persons=6_000)
    silver = tmp_path / "city" / "silver"
    _resolve(tmp_path / "whole", silver)
    # WHEN it is resolved again with slices of ~2,048 references (the least a slice
    # takes), the limit still above the one-thread line
    assert golden.ONE_THREAD_BELOW <= 2 * 10**9
    monkeypatch.setattr(persons, "SLICE_BYTES_PER_REF", 2 * 10**9 // 2_048)
    queries = []
    real_sliced = duck.sliced

    def counting(con, parts, **kwargs):
        def seen():
            for sql, params in parts:
                threads = con.execute("select current_setting('threads')").fetchone()[0]
                queries.append(threads)
                yield sql, params

        return real_sliced(con, seen(), **kwargs)

    monkeypatch.setattr(golden.duck, "sliced", counting)
    _resolve(tmp_path / "sliced", silver)
    # THEN it ran several slices, each on more than one thread (this machine has two cores)
    assert len(queries) >= refs // 2_048 >= 2
    assert min(queries) >= 2, queries
    # AND wrote the same persons, row for row and in person_key order
    path = tables.PERSONS
    whole = lake.read_arrow(tables.path(tmp_path / "whole" / "lake", path))
    sliced = lake.read_arrow(tables.path(tmp_path / "sliced" / "lake", path))
    assert sliced.equals(whole)
    keys = sliced["person_key"].to_pylist()
    assert keys == sorted(keys) and len(keys) == len(set(keys))
