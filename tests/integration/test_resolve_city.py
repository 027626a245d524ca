"""generate -> ingest -> clean -> resolve on a small city, scored against the truth.

Skips until the generator (civlake.generate.generate) and the clean gate
(civlake.clean.clean_pending) are in the tree.
"""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from civlake import lake
from civlake.resolve import evaluate_clustering, resolve_persons
from civlake.resolve.keys import SECRET_ENV
from civlake.settings import load_settings

pytestmark = pytest.mark.integration
NOW = datetime(2026, 11, 26, tzinfo=UTC)


def _require(module: str, name: str):
    mod = pytest.importorskip(module)
    if not hasattr(mod, name):
        pytest.skip(f"{module}.{name} is not there yet")
    return getattr(mod, name)


def test_small_city_meets_clustering_targets(tmp_path):
    generate = _require("civlake.generate", "generate")
    ingest_landing = _require("civlake.ingest", "ingest_landing")
    clean_pending = _require("civlake.clean", "clean_pending")
    landing = tmp_path / "landing"
    generate(landing, persons=300, months=2, seed=3)
    settings = load_settings(
        env={"CIVLAKE_HOME": str(tmp_path / "home"), SECRET_ENV: "city-test"}, landing=landing
    )

    ingest_landing(settings, now=NOW)
    clean_pending(settings, now=NOW)
    stats = resolve_persons(settings, now=NOW)

    xref = lake.read_arrow(lake.table_path(settings.lake, "core", "person_source_xref"))
    scores = evaluate_clustering(xref, tmp_path / "landing_truth" / "records.parquet")
    assert stats["references"] > 0 and scores["references_compared"] > 0
    assert scores["overall"]["f1"] >= 0.995, scores
    if scores["hard_references"]:
        assert scores["invalid_or_missing_id"]["f1"] >= 0.98, scores
