"""Entity resolution on the Spark engine gives the embedded engine's clusters.

One small silver lake (synthetic references with mistyped and missing IDs, an unknown
person with two different typos, organisations with bad USCCs) is written twice; lake A
is resolved embedded, lake B on the Spark engine (silver read and core written
through delta-spark, Splink scoring on SparkAPI). Every core table must be identical.
"""

from __future__ import annotations

import json
import math
import random
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import pyarrow as pa
import pytest

from civlake import lake
from civlake.engine.runtime import on_session
from civlake.resolve import resolve_organizations, resolve_persons, splink_backend
from civlake.resolve.keys import SECRET_ENV
from civlake.settings import load_settings
from tests.support.parity import compare_tables
from tests.support.synthetic import build, make_id, typo_id

pytestmark = [pytest.mark.integration, pytest.mark.spark]
NOW = datetime(2026, 11, 26, tzinfo=UTC)
XREF_KEY = ["feed_id", "_delivery_id", "_source_file", "_source_row", "role"]
USCC_A, USCC_B = "51440100MJ0000001A", "51440100MJ0000002B"


def _lineage(delivery: str, row: int) -> dict:
    return {"_delivery_id": delivery, "_source_file": "f.csv", "_source_row": row,
            "_produced_at": "2026-02-01T02:00:00+08:00"}  # fmt: skip


def _city(lake_dir) -> None:
    """Background population plus the cases only Splink decides."""
    build(lake_dir, persons=150, months=1, seed=5)
    silver = lambda feed: lake.table_path(lake_dir, "silver", feed)  # noqa: E731
    rng = random.Random(1)
    # A person no valid-ID source knows, mistyped two ways: dedupe among leftovers.
    true_id = make_id(rng, date(1940, 2, 2), male=True)
    person = {"id_number_status": "invalid", "sex": "1", "birth_date": date(1940, 2, 2),
              "hukou_division_code": "440106011001"}  # fmt: skip
    lake.append(silver("elderly_allowance"), pa.Table.from_pylist([
        {**person, "id_number": typo_id(rng, true_id), "name": "欧阳明",
         **_lineage("20260201-440100-009", 1)},
        {**person, "id_number": typo_id(rng, true_id), "name": "歐陽明",
         **_lineage("20260201-440100-009", 2)},
    ]))  # fmt: skip
    lake.append(silver("social_organizations"), pa.Table.from_pylist([
        {"uscc": USCC_A, "uscc_status": "valid", "name": "广州市助老协会", "status": "正常",
         **_lineage("20260101-440100-001", 1)},
        {"uscc": USCC_B, "uscc_status": "valid", "name": "广州市慈善会", "status": "正常",
         **_lineage("20260101-440100-001", 2)},
    ]))  # fmt: skip
    lake.append(silver("charity_donations"), pa.Table.from_pylist([
        {"org_uscc": "51440100MJ000000ZZ", "org_uscc_status": "invalid",
         "org_name": "广州市 慈善会", **_lineage("20260205-440100-001", 1)},
        {"org_uscc": "91440101XXXXXXXXX1", "org_uscc_status": "invalid",
         "org_name": "某某公益基金", **_lineage("20260205-440100-001", 2)},
    ]))  # fmt: skip


def _core(settings, name: str) -> pa.Table | None:
    return lake.read_arrow(lake.table_path(settings.lake, "core", name))


@pytest.fixture(scope="module")
def engines(tmp_path_factory, spark):
    mp = pytest.MonkeyPatch()
    a = load_settings(env={"CIVLAKE_HOME": str(tmp_path_factory.mktemp("embedded")),
                           SECRET_ENV: "parity-secret"})  # fmt: skip
    b = load_settings(env={"CIVLAKE_HOME": str(tmp_path_factory.mktemp("spark")),
                           SECRET_ENV: "parity-secret"})  # fmt: skip
    _city(a.lake)
    _city(b.lake)
    on_spark = []
    real_init = splink_backend.Backend.__init__

    def spy(self, spark_session=None):
        on_spark.append(spark_session is not None)
        real_init(self, spark_session)

    stats_a = (resolve_persons(a, now=NOW), resolve_organizations(a))
    mp.setattr(splink_backend.Backend, "__init__", spy)
    engine = on_session(spark)
    stats_b = (resolve_persons(b, now=NOW, engine=engine),
               resolve_organizations(b, engine=engine))  # fmt: skip
    mp.undo()
    yield a, b, stats_a, stats_b, on_spark


@pytest.mark.slow  # the per-stage Spark parity suite: scripts/test -m slow (README)
def test_splink_scored_on_spark_with_the_embedded_model(engines, spark):
    a, b, stats_a, stats_b, on_spark = engines
    assert _splink_views(spark) == set()  # the linkers' views and caches are gone
    # The one-keystroke ID pairs (id_link), link() and cluster_unmatched() each made a
    # Spark linker; training stayed embedded.
    assert on_spark.count(True) == 3 and on_spark.count(False) == 3
    methods = stats_b[0]["match_methods"]
    assert methods.get("probabilistic", 0) > 5 and methods.get("new_person", 0) >= 2
    assert stats_a[0]["match_methods"] == methods
    model_a = json.loads((a.state_dir / "splink_model.json").read_text(encoding="utf-8"))
    model_b = json.loads((b.state_dir / "splink_model.json").read_text(encoding="utf-8"))
    model_a.pop("linker_uid"), model_b.pop("linker_uid")  # a random name, not a parameter
    assert _same_model(model_a, model_b), (model_a, model_b)


def _same_model(a, b) -> bool:
    """Equal, floats to 12 significant digits: DuckDB's parallel sums in Splink's EM
    add in an order that varies between runs, so a probability may differ in its last
    bit or two (0.8139547926954362 against ...64) from one training to the next."""
    if isinstance(a, float) and isinstance(b, float):
        return math.isclose(a, b, rel_tol=1e-12, abs_tol=1e-15)
    if isinstance(a, dict) and isinstance(b, dict):
        return a.keys() == b.keys() and all(_same_model(a[k], b[k]) for k in a)
    if isinstance(a, list) and isinstance(b, list):
        return len(a) == len(b) and all(_same_model(x, y) for x, y in zip(a, b, strict=True))
    return a == b


@pytest.mark.slow  # the per-stage Spark parity suite: scripts/test -m slow (README)
def test_same_partition_of_source_records(engines):
    a, b, *_ = engines
    xref_a, xref_b = _core(a, "person_source_xref"), _core(b, "person_source_xref")
    assert xref_a.num_rows > 100
    assert compare_tables("person_source_xref", xref_a, xref_b, key=XREF_KEY) == []
    # The unknown person's two typos are one new person on both engines.
    (key,) = {r["person_key"] for r in xref_b.to_pylist()
              if r["_delivery_id"] == "20260201-440100-009"}  # fmt: skip
    assert key


@pytest.mark.slow  # the per-stage Spark parity suite: scripts/test -m slow (README)
def test_same_golden_records_and_organizations(engines):
    a, b, *_ = engines
    for name, key in (("persons", ["person_key"]), ("organizations", ["org_key"]),
                      ("org_source_xref", XREF_KEY)):  # fmt: skip
        assert _core(b, name) is not None and _core(b, name).num_rows > 0, name
        assert compare_tables(name, _core(a, name), _core(b, name), key=key) == []


def _splink_views(spark) -> set[str]:
    names = {t.name for t in spark.catalog.listTables() if t.isTemporary}
    return {n for n in names if n.startswith(("__splink__", "profiles_", "tf_lookup_"))}


def test_cluster_lineage_as_parquet_matches_embedded_and_leaves_nothing(spark, monkeypatch):
    """The cluster setting (intermediate tables as parquet in the checkpoint dir) on the
    local session: same merges as DuckDB, and no view or parquet file left behind."""
    import pandas as pd

    from civlake.resolve import linkage, model
    from civlake.resolve.names import name_pinyin, normalize_name

    rng = random.Random(1)
    true_id = make_id(rng, date(1940, 2, 2), male=True)
    names = ["欧阳明", "歐陽明", "陈红"]
    refs = pd.DataFrame({
        "id_number": [typo_id(rng, true_id), typo_id(rng, true_id), "440106195507070021"],
        "name_norm": [normalize_name(n) for n in names],
        "birth_date": ["1940-02-02", "1940-02-02", "1955-07-07"],
        "sex": ["1", "1", "2"], "division": ["440106011001"] * 3, "phone": [None] * 3,
        "stable_key": [None] * 3,
    })  # fmt: skip
    refs["name_pinyin"] = [name_pinyin(n) for n in refs["name_norm"]]
    unmatched = linkage.profiles(refs, pd.Series(["new:a", "new:b", "new:c"]))
    priors = model.settings("dedupe_only").create_settings_dict("duckdb")
    config = linkage.LinkageConfig()
    embedded = linkage.cluster_unmatched(unmatched, priors, config)
    monkeypatch.setattr(splink_backend, "_lineage_method", lambda session: "parquet")
    on_spark = linkage.cluster_unmatched(unmatched, priors, config, spark=spark)
    assert on_spark == embedded == {"new:b": "new:a"}
    assert _splink_views(spark) == set()
    checkpoint = Path(spark.sparkContext._jsc.sc().getCheckpointDir().get().removeprefix("file:"))
    assert checkpoint.is_dir() and not [p for p in checkpoint.iterdir() if "splink" in p.name]


def test_bounded_distance_level_holds_for_the_same_pairs_on_spark(spark):
    """model.DamerauLevenshteinWithin in Spark SQL (Spark's levenshtein, Splink's jar for
    Damerau-Levenshtein) puts exactly the pairs in it that Splink's own level does: IDs a
    few random edits apart, on both sides of the bound (DuckDB: the unit property test)."""
    import splink.comparison_level_library as cll
    from splink.internals.dialects import SplinkDialect

    from civlake.resolve.model import DamerauLevenshteinWithin

    rng = random.Random(3)
    pairs = []
    for _ in range(400):
        born = date(1930, 1, 1) + timedelta(days=rng.randrange(32_000))
        a = make_id(rng, born, male=rng.random() < 0.5)
        b = list(a)
        for _ in range(rng.randint(0, 4)):
            i = rng.randrange(len(b) - 1)
            if rng.random() < 0.5:
                b[i], b[i + 1] = b[i + 1], b[i]
            else:
                b[i] = rng.choice("0123456789")
        pairs.append((a, "".join(b)))
    dialect = SplinkDialect.from_string("spark")
    with splink_backend.backend(spark):  # registers Splink's similarity functions
        frame = spark.createDataFrame(pairs, "v_l string, v_r string")
        frame.createOrReplaceTempView("bounded_level_pairs")
        for threshold in (1, 2):
            ours = DamerauLevenshteinWithin("v", threshold).create_sql(dialect)
            splinks = cll.DamerauLevenshteinLevel("v", threshold).create_sql(dialect)
            rows = spark.sql(f"select {ours}, {splinks} from bounded_level_pairs").collect()
            assert [r[0] for r in rows] == [r[1] for r in rows]
            assert 0 < sum(r[1] for r in rows) < len(rows)
        spark.catalog.dropTempView("bounded_level_pairs")
