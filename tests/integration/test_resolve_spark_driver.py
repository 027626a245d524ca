"""The Spark resolver brings nothing city-sized to the driver.

A city of 4,000 persons is resolved on the Spark engine with ``spark.driver.maxResultSize``
at 1 MiB, a cap its references exceed (the test shows a plain collect of them fails):
the run must succeed, bring only the references without a usable ID to the driver, and
write exactly the embedded engine's tables.
"""

from __future__ import annotations

import random
from datetime import UTC, datetime

import pyarrow as pa
import pytest

from civlake import lake
from civlake.engine.runtime import on_session
from civlake.resolve import resolve_organizations, resolve_persons, spark_refs
from civlake.resolve.keys import SECRET_ENV
from civlake.settings import load_settings
from tests.support.parity import compare_tables
from tests.support.synthetic import build, org_code, org_reference

pytestmark = [pytest.mark.integration, pytest.mark.spark]
NOW = datetime(2026, 11, 26, tzinfo=UTC)
XREF_KEY = ["feed_id", "_delivery_id", "_source_file", "_source_row", "role"]
CAP = "1m"


@pytest.fixture
def capped(spark):
    """The session with ``spark.driver.maxResultSize`` = CAP, set on the running
    context's own configuration (a job reads it when it starts), restored after."""
    conf = spark.sparkContext._jsc.sc().conf()
    before = conf.get("spark.driver.maxResultSize", "1g")
    conf.set("spark.driver.maxResultSize", CAP)
    yield spark
    conf.set("spark.driver.maxResultSize", before)


def _organizations(lake_dir, rng: random.Random) -> None:
    """A registry of 30 (each delivered twice, the later row wins) and 600 references of
    every kind: exact and normalised codes, codes outside the registry, bad codes with
    a registry name or one typo away, unknown codes and names, nothing at all. Lineage
    identifies each row, as ingest makes it; produced_at repeats or is missing."""

    registry = [org_code(rng) for _ in range(30)]
    names = {c: f"组织{i}" for i, c in enumerate(registry)}
    outside = [org_code(rng) for _ in range(10)]

    def lineage(delivery: str, i: int) -> dict:
        at = rng.choice(["2026-01-01T02:00:00+08:00", "2026-02-01T02:00:00+08:00", None])
        return {"_delivery_id": delivery, "_source_file": "f.csv", "_source_row": i,
                "_produced_at": at}  # fmt: skip

    def ref(i: int, named: bool) -> dict:
        uscc, status, name = org_reference(rng, registry, names, outside)
        row = {"org_uscc": uscc, "org_uscc_status": status,
               **lineage(rng.choice(["20260101-440100-007", "20260201-440100-007"]), i)}  # fmt: skip
        return {**row, "org_name": name} if named else row

    silver = lambda feed: lake.table_path(lake_dir, "silver", feed)  # noqa: E731
    lake.append(silver("social_organizations"), pa.Table.from_pylist(
        [{"uscc": c, "uscc_status": "valid", "name": names[c],
          "status": rng.choice(["正常", "注销"]), **lineage("20260101-440100-008", i)}
         for i, c in enumerate(registry * 2)]))  # fmt: skip
    lake.append(silver("charity_donations"), pa.Table.from_pylist(
        [ref(i, True) for i in range(400)]))  # fmt: skip
    lake.append(silver("volunteer_service"), pa.Table.from_pylist(
        [{**ref(i, False), "name": None} for i in range(10_000, 10_200)]))  # fmt: skip


def _core(settings, name: str):
    return lake.read_arrow(lake.table_path(settings.lake, "core", name))


@pytest.mark.slow  # the per-stage Spark parity suite: scripts/test -m slow (README)
def test_capped_driver_resolves_the_city_as_embedded(tmp_path, capped):
    # GIVEN one city in two lakes, and a driver whose results are capped at 1 MiB
    a = load_settings(env={"CIVLAKE_HOME": str(tmp_path / "a"), SECRET_ENV: "cap-secret"})
    b = load_settings(env={"CIVLAKE_HOME": str(tmp_path / "b"), SECRET_ENV: "cap-secret"})
    for settings in (a, b):
        build(settings.lake, persons=4_000, months=1, seed=11)
        _organizations(settings.lake, random.Random(3))
    scratch = spark_refs.scratch_dir(capped)
    try:
        refs = spark_refs.load(capped, b.lake, b.schemas_dir, scratch)
        with pytest.raises(Exception, match="maxResultSize"):
            refs.toArrow()  # the references do not fit under the cap
    finally:
        spark_refs.drop(capped, scratch)
    # WHEN lake A is resolved embedded and lake B on the capped Spark engine
    stats_a = resolve_persons(a, now=NOW), resolve_organizations(a)
    engine = on_session(capped)
    stats_b = resolve_persons(b, now=NOW, engine=engine), resolve_organizations(b, engine=engine)
    # THEN only the references without a usable ID came to the driver ...
    methods = stats_b[0]["match_methods"]
    dirty = sum(n for m, n in methods.items() if not m.startswith("id_"))
    assert 0 < stats_b[0]["unresolved_on_driver"] == dirty < stats_b[0]["references"] / 10
    assert methods == stats_a[0]["match_methods"] and methods.get("probabilistic", 0) > 0
    # ... and every core table is the embedded engine's
    for name, key in (("person_source_xref", XREF_KEY), ("persons", ["person_key"]),
                      ("organizations", ["org_key"]), ("org_source_xref", XREF_KEY)):  # fmt: skip
        assert _core(b, name).num_rows > 0, name
        assert compare_tables(name, _core(a, name), _core(b, name), key=key) == [], name
    assert stats_b[1]["match_methods"] == stats_a[1]["match_methods"]
