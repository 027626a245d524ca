"""A new month never changes the person_key of a reference resolved in an earlier month.

Issue 17's acceptance: "a second month leaves existing person keys unchanged". A generated
city's first month is resolved, then its next month lands and everything is resolved
again; every reference of the first month (same feed, delivery, file, row and role) must
keep its person_key, also those matched by the model (no usable ID), not only those keyed
by their ID. Through the pipeline's stages, on a generated city (the resolver keeps what
an earlier run resolved by construction: tests/integration/test_resolve_incremental.py).
"""

from __future__ import annotations

from datetime import timedelta

import pytest

from civlake import lake, pipeline, tables
from civlake.generate import generate
from civlake.settings import load_settings
from tests.conftest import NOW
from tests.support.landing_months import bring_back, hold_back_last_month

pytestmark = pytest.mark.integration
REF = ["feed_id", "_delivery_id", "_source_file", "_source_row", "role"]
FIRST = ["divisions", "hukou_population"]


def _run(settings, now):
    from civlake.contracts import load_contracts

    for feed in [*FIRST, *(f for f in sorted(load_contracts()) if f not in FIRST)]:
        pipeline.ingest(settings, feed, now=now)
        pipeline.clean(settings, feed, now=now)
    pipeline.resolve(settings, now=now)
    xref = lake.read_arrow(tables.path(settings.lake, tables.PERSON_SOURCE_XREF))
    return {tuple(r[c] for c in REF): r for r in xref.to_pylist()}


def test_a_second_month_keeps_every_existing_person_key(tmp_path):
    landing = tmp_path / "landing"
    generate(landing, persons=1500, months=2, seed=37)
    hold_back_last_month(landing, tmp_path / "later")
    settings = load_settings(
        env={"CIVLAKE_HOME": str(tmp_path / "home"), "CIVLAKE_LANDING": str(landing)}
    )
    first = _run(settings, NOW)
    bring_back(tmp_path / "later", landing)
    second = _run(settings, NOW + timedelta(days=30))

    assert len(second) > len(first)
    moved = {
        ref: (row["match_method"], row["person_key"][:8], second[ref]["match_method"],
              second[ref]["person_key"][:8])
        for ref, row in first.items()
        if ref in second and second[ref]["person_key"] != row["person_key"]
    }  # fmt: skip
    gone = [ref for ref in first if ref not in second]
    assert not gone, gone[:5]
    assert not moved, f"{len(moved)} of {len(first)} references changed person: " + str(
        list(moved.items())[:10]
    )
    # Keys of IDs are HMACs of the ID; the test is about the references without one.
    methods = {row["match_method"] for row in first.values()}
    assert methods & {"probabilistic", "new_person"}, methods
