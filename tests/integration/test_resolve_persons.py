"""resolve_persons on real Delta silver tables (built directly, not via the clean gate)."""

from __future__ import annotations

import json
from datetime import UTC, date, datetime

import pyarrow as pa
import pytest

from civlake import lake
from civlake.resolve import evaluate_clustering, resolve_persons
from civlake.resolve.keys import SECRET_ENV
from civlake.settings import load_settings
from tests.support.synthetic import build, make_id, typo_id

pytestmark = pytest.mark.integration
NOW = datetime(2026, 11, 26, tzinfo=UTC)


def _settings(home, secret="test-city-secret"):
    return load_settings(env={"CIVLAKE_HOME": str(home), SECRET_ENV: secret})


def _xref(settings):
    return lake.read_arrow(lake.table_path(settings.lake, "core", "person_source_xref"))


@pytest.fixture(scope="module")
def city(tmp_path_factory):
    home = tmp_path_factory.mktemp("city")
    settings = _settings(home)
    truth = build(settings.lake, persons=300, months=2, seed=11)
    stats = resolve_persons(settings, now=NOW)
    yield settings, truth, stats


def test_clustering_meets_targets_on_dirty_references(city):
    settings, truth, stats = city
    scores = evaluate_clustering(_xref(settings), truth)
    assert scores["truth_not_in_xref"] == 0 and scores["xref_not_in_truth"] == 0
    assert scores["hard_references"] > 10, "fixture must exercise the probabilistic path"
    assert scores["overall"]["f1"] >= 0.995
    assert scores["invalid_or_missing_id"]["f1"] >= 0.98
    assert stats["match_methods"].get("probabilistic", 0) > 0
    saved = json.loads((settings.state_dir / "splink_model.json").read_text(encoding="utf-8"))
    compared = [c["output_column_name"] for c in saved["comparisons"]]
    assert compared == ["id_number", "name", "birth_date", "sex", "division", "phone",
                        "stable_key"]  # fmt: skip
    for comparison in saved["comparisons"]:  # trained or prior, never missing or zero
        for level in comparison["comparison_levels"]:
            if not level.get("is_null_level"):
                assert 0 < level["m_probability"] <= 1 and 0 < level["u_probability"] <= 1


def test_no_raw_id_outside_the_restricted_column(city):
    settings, _, _ = city
    xref = _xref(settings).to_pylist()
    ids = {r["id_number"] for r in xref if r["id_number"]}
    for row in xref:
        for column, value in row.items():
            if column != "id_number" and isinstance(value, str):
                assert value not in ids and not any(i in value for i in ids if len(i) == 18)


def test_rerun_and_second_machine_give_identical_keys(city, tmp_path):
    settings, _, _ = city
    before = _xref(settings).drop_columns(["resolved_at"]).sort_by(
        [("feed_id", "ascending"), ("_delivery_id", "ascending"), ("_source_row", "ascending"),
         ("role", "ascending")])  # fmt: skip
    resolve_persons(settings, now=NOW)
    again = _xref(settings).drop_columns(["resolved_at"]).sort_by(
        [("feed_id", "ascending"), ("_delivery_id", "ascending"), ("_source_row", "ascending"),
         ("role", "ascending")])  # fmt: skip
    assert again.equals(before)
    # A second machine: fresh home, same lake contents, same secret in the environment.
    other = _settings(tmp_path / "other")
    build(other.lake, persons=300, months=2, seed=11)
    resolve_persons(other, now=NOW)
    theirs = _xref(other).drop_columns(["resolved_at"]).sort_by(
        [("feed_id", "ascending"), ("_delivery_id", "ascending"), ("_source_row", "ascending"),
         ("role", "ascending")])  # fmt: skip
    assert theirs.column("person_key").equals(before.column("person_key"))
    assert not (other.secrets_dir / "person_key.secret").exists()


def test_typo_id_and_traditional_name_link_to_the_hukou_person(tmp_path):
    import random

    settings = _settings(tmp_path)
    rng = random.Random(3)
    build(settings.lake, persons=200, months=1, seed=5)  # background population
    true_id = make_id(rng, date(1941, 3, 9), male=True)
    lineage = {"_source_file": "f.csv", "_produced_at": "2026-02-01T02:00:00+08:00"}
    lake.append(
        lake.table_path(settings.lake, "silver", "hukou_population"),
        pa.Table.from_pylist([{
            "id_number": true_id, "id_number_status": "valid", "name": "刘国华", "sex": "1",
            "birth_date": date(1941, 3, 9), "hukou_division_code": "440106011001",
            "person_status": "正常", "_delivery_id": "20260201-440100-001",
            "_source_row": 1, **lineage}]),
    )  # fmt: skip
    bad = typo_id(rng, true_id)
    lake.append(
        lake.table_path(settings.lake, "silver", "elderly_allowance"),
        pa.Table.from_pylist([
            {"id_number": bad, "id_number_status": "invalid", "name": "劉國華", "sex": "1",
             "birth_date": date(1941, 3, 9), "hukou_division_code": "440106011001",
             "_delivery_id": "20260201-440100-009", "_source_row": 1, **lineage},
            {"id_number": None, "id_number_status": "missing", "name": "刘 国华", "sex": "1",
             "birth_date": date(1941, 3, 9), "hukou_division_code": "440106011001",
             "_delivery_id": "20260201-440100-009", "_source_row": 2, **lineage},
        ]),
    )  # fmt: skip
    resolve_persons(settings, now=NOW)
    rows = [r for r in _xref(settings).to_pylist()
            if r["_delivery_id"] in ("20260201-440100-001", "20260201-440100-009")]  # fmt: skip
    assert {r["person_key"] for r in rows} == {rows[0]["person_key"]}
    methods = sorted(r["match_method"] for r in rows)
    assert methods == ["id_exact", "probabilistic", "probabilistic"]
    assert all(r["match_probability"] >= 0.95 for r in rows)
    persons = lake.read_arrow(lake.table_path(settings.lake, "core", "persons")).to_pylist()
    (golden,) = [p for p in persons if p["person_key"] == rows[0]["person_key"]]
    assert golden["name"] == "刘国华" and golden["id_number"] == true_id
    assert golden["source_feeds"] == ["elderly_allowance", "hukou_population"]


def test_unknown_person_with_two_different_typos_is_one_new_person(tmp_path):
    import random

    settings = _settings(tmp_path)
    build(settings.lake, persons=200, months=1, seed=5)
    rng = random.Random(1)
    true_id = make_id(rng, date(1940, 2, 2), male=True)
    lineage = {"_source_file": "f.csv", "_produced_at": "2026-02-01T02:00:00+08:00",
               "_delivery_id": "20260201-440100-009"}  # fmt: skip
    person = {"id_number_status": "invalid", "sex": "1", "birth_date": date(1940, 2, 2),
              "hukou_division_code": "440106011001", **lineage}  # fmt: skip
    lake.append(
        lake.table_path(settings.lake, "silver", "elderly_allowance"),
        pa.Table.from_pylist([
            {**person, "id_number": typo_id(rng, true_id), "name": "欧阳明", "_source_row": 1},
            {**person, "id_number": typo_id(rng, true_id), "name": "歐陽明", "_source_row": 2},
        ]),
    )  # fmt: skip
    resolve_persons(settings, now=NOW)
    rows = [r for r in _xref(settings).to_pylist() if r["_delivery_id"] == "20260201-440100-009"]
    assert len({r["id_number"] for r in rows}) == 2
    assert len({r["person_key"] for r in rows}) == 1
    assert {r["match_method"] for r in rows} == {"new_person"}


def test_reference_matching_two_persons_equally_is_not_linked(tmp_path):
    import random

    settings = _settings(tmp_path)
    build(settings.lake, persons=200, months=1, seed=5)
    rng = random.Random(9)
    born = date(1944, 6, 6)
    namesakes = [make_id(rng, born, male=False) for _ in range(2)]
    lineage = {"_source_file": "f.csv", "_produced_at": "2026-02-01T02:00:00+08:00"}
    lake.append(
        lake.table_path(settings.lake, "silver", "hukou_population"),
        pa.Table.from_pylist([
            {"id_number": i, "id_number_status": "valid", "name": "王秀英", "sex": "2",
             "birth_date": born, "person_status": "正常", "_delivery_id": "20260201-440100-001",
             "_source_row": n, **lineage}
            for n, i in enumerate(namesakes, start=1)
        ]),
    )  # fmt: skip
    lake.append(
        lake.table_path(settings.lake, "silver", "elderly_allowance"),
        pa.Table.from_pylist([
            {"id_number": None, "id_number_status": "missing", "name": "王秀英", "sex": "2",
             "birth_date": born, "_delivery_id": "20260201-440100-009", "_source_row": 1,
             **lineage}]),
    )  # fmt: skip
    resolve_persons(settings, now=NOW)
    xref = _xref(settings).to_pylist()
    (ref,) = [r for r in xref if r["_delivery_id"] == "20260201-440100-009"]
    hukou_keys = {r["person_key"] for r in xref if r["id_number"] in namesakes}
    assert len(hukou_keys) == 2
    assert ref["match_method"] == "new_person" and ref["person_key"] not in hukou_keys


def test_empty_lake_writes_typed_empty_tables(tmp_path):
    settings = _settings(tmp_path)
    assert resolve_persons(settings, now=NOW)["persons"] == 0
    persons = lake.read_arrow(lake.table_path(settings.lake, "core", "persons"))
    assert persons.num_rows == 0
    assert persons.schema.field("person_key").type == pa.string()
    assert persons.schema.field("birth_date").type == pa.date32()
    assert _xref(settings).schema.field("_source_row").type == pa.int64()


def test_lake_without_any_valid_id_still_resolves(tmp_path):
    settings = _settings(tmp_path)
    lineage = {"_source_file": "f.csv", "_produced_at": "2026-02-01T02:00:00+08:00",
               "_delivery_id": "20260201-440100-001"}  # fmt: skip
    row = {"id_number_status": "invalid", "sex": "1", "birth_date": date(1941, 3, 9),
           "hukou_division_code": "440106011001", **lineage}  # fmt: skip
    lake.append(
        lake.table_path(settings.lake, "silver", "elderly_allowance"),
        pa.Table.from_pylist([
            {**row, "id_number": "440106194103090011", "name": "刘国华", "_source_row": 1},
            {**row, "id_number": "440106194103090011", "name": "劉國華", "_source_row": 2},
            {**row, "id_number": "440106195507070021", "name": "陈红", "_source_row": 3,
             "birth_date": date(1955, 7, 7)},
        ]),
    )  # fmt: skip
    stats = resolve_persons(settings, now=NOW)
    assert stats["match_methods"] == {"new_person": 3} and stats["persons"] == 2
