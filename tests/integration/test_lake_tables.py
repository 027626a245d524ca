"""Each Delta table a run writes has exactly its registered schema (civlake.tables).

A small generated city goes through ingest -> clean -> expectations -> resolve; every
table in the lake is then compared with the registry: names and order, types, and
nullability. Every registered table must be written, except those in ``tables.OPTIONAL``.
"""

from __future__ import annotations

from datetime import UTC, datetime

import pyarrow as pa
import pytest
from deltalake import DeltaTable

from civlake import pipeline, tables
from civlake.clean import clean_pending
from civlake.expectations import run_silver_gate
from civlake.generate import generate
from civlake.ingest import ingest_landing
from civlake.resolve.keys import SECRET_ENV
from civlake.settings import load_settings

pytestmark = pytest.mark.integration
NOW = datetime(2026, 11, 26, tzinfo=UTC)


@pytest.fixture(scope="module")
def lake_root(tmp_path_factory):
    # GIVEN a small city with every feed
    tmp = tmp_path_factory.mktemp("tables")
    landing = tmp / "landing"
    generate(landing, persons=200, months=2, seed=5)
    settings = load_settings(
        env={"CIVLAKE_HOME": str(tmp / "home"), SECRET_ENV: "tables-test"}, landing=landing
    )
    # WHEN it runs through the stages that write the lake
    ingest_landing(settings, now=NOW)
    clean_pending(settings, now=NOW)
    run_silver_gate(settings, run_id="tables-test")
    pipeline.resolve(settings, now=NOW)
    return settings.lake


def _written(root) -> list[str]:
    return sorted(log.parent.relative_to(root).as_posix() for log in root.rglob("_delta_log"))


def test_every_written_table_is_registered_with_its_schema(lake_root):
    # THEN each written table's schema is the registered one, field by field
    written = _written(lake_root)
    assert written, "the run wrote no Delta table"
    for name in written:
        actual = pa.schema(DeltaTable(str(lake_root / name)).schema().to_arrow())
        assert _fields(actual) == _fields(tables.schema(name)), name


def _fields(schema: pa.Schema) -> list[tuple[str, str, bool]]:
    """Name, type and nullability; a list's item field is named by the format (Delta
    stores ``element`` where Arrow writes ``item``), so only its value type counts."""

    def kind(t: pa.DataType) -> str:
        return f"list<{kind(t.value_type)}>" if pa.types.is_list(t) else str(t)

    return [(f.name, kind(f.type), f.nullable) for f in schema]


def test_every_registered_table_is_written(lake_root):
    written = set(_written(lake_root))
    missing = [t for t in tables.all_tables() if t not in written and t not in tables.OPTIONAL]
    assert missing == []
