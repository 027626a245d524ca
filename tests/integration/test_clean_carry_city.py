"""A generated city's next month, cleaned with carried rows, equals cleaning every row.

Month one of a 300-person city is ingested and cleaned; the lake is copied; the next
month's deliveries (the monthly full snapshots among them) are ingested into both lakes
and cleaned with ``carry_rows`` on in one and off in the other. Silver, quarantine and
each delivery's audit counts must be the same, and the hukou snapshot must have carried
most of its rows (the city changes a few persons a month).
"""

from __future__ import annotations

import shutil
from datetime import timedelta

import pytest

from civlake import lake, tables
from civlake.clean import clean_pending
from civlake.contracts import load_contracts
from civlake.generate import generate
from civlake.ingest import ingest_landing
from civlake.settings import load_settings
from tests.conftest import NOW
from tests.support.landing_months import bring_back, hold_back_last_month

pytestmark = pytest.mark.integration
LINEAGE = ["_delivery_id", "_source_file", "_source_row"]


def _settings(home, landing):
    return load_settings(env={"CIVLAKE_HOME": str(home), "CIVLAKE_LANDING": str(landing)})


def _sorted(path):
    table = lake.read_arrow(path)
    keys = [c for c in ["feed_id", *LINEAGE] if c in table.column_names]
    return table.sort_by([(k, "ascending") for k in keys]).to_pylist()


def test_next_month_with_carried_rows_equals_cleaning_every_row(tmp_path):
    landing = tmp_path / "landing"
    generate(landing, persons=300, months=2, seed=29)
    hold_back_last_month(landing, tmp_path / "later")
    a = _settings(tmp_path / "a", landing)
    ingest_landing(a, now=NOW)
    clean_pending(a, now=NOW)
    shutil.copytree(tmp_path / "a", tmp_path / "b")
    b = _settings(tmp_path / "b", landing)
    bring_back(tmp_path / "later", landing)
    later = NOW + timedelta(days=30)
    ingest_landing(a, now=later)
    ingest_landing(b, now=later)
    carried = clean_pending(a, now=later)
    whole = clean_pending(b, now=later, carry_rows=False)

    for feed in sorted(load_contracts()):
        path = tables.path(a.lake, tables.silver(feed))
        if lake.exists(path):
            assert _sorted(path) == _sorted(tables.path(b.lake, tables.silver(feed))), feed
    assert _sorted(tables.path(a.lake, tables.QUARANTINE)) == _sorted(
        tables.path(b.lake, tables.QUARANTINE)
    )
    counts = ["delivery_id", "rows_silver", "rows_quarantined"]
    assert [{k: d[k] for k in counts} for d in carried["cleaned"]] == [
        {k: d[k] for k in counts} for d in whole["cleaned"]
    ]
    hukou = [d for d in carried["cleaned"] if d["feed_id"] == "hukou_population"
             and d["rows_carried"]]  # fmt: skip
    assert hukou, carried["cleaned"]
    assert sum(d["rows_carried"] for d in hukou) > 0.8 * sum(d["rows_silver"] for d in hukou)
    assert all(d["rows_carried"] == 0 for d in whole["cleaned"])
