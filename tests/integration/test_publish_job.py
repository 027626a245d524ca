"""publish_all on a real DuckDB warehouse: versions, formats, suppression, change sets."""

from __future__ import annotations

import csv
import hashlib
import json
import re
from datetime import UTC, datetime
from pathlib import Path

import duckdb
import pyarrow.parquet as pq
import pytest
from frictionless import validate

from civlake.publish import load_catalog, publish_all
from civlake.publish.versions import list_versions
from civlake.settings import load_settings
from tests.support.sample_warehouse import build_sample_warehouse

pytestmark = pytest.mark.integration
NOW = datetime(2026, 11, 1, 2, 0, tzinfo=UTC)
CITIZEN_ID = re.compile(r"\b\d{17}[\dX]\b")


@pytest.fixture
def env(tmp_path: Path):
    settings = load_settings(env={"CIVLAKE_HOME": str(tmp_path)})
    written = build_sample_warehouse(settings.warehouse)
    return settings, written


def test_first_publish_writes_valid_packages(env) -> None:
    settings, _ = env
    result = publish_all(settings, now=NOW)
    catalog = load_catalog()
    assert result["status"] == "ok" and set(result["published"]) == set(catalog)
    for name in catalog:
        vdir = settings.publish / name / "v1"
        report = validate(str(vdir / "datapackage.json"))
        assert report.valid, (name, report.flatten(["type", "note"])[:3])
        assert (vdir / f"{name}.csv").read_bytes().startswith(b"\xef\xbb\xbf")
        for line in (vdir / "SHA256SUMS").read_text().splitlines():
            digest, fname = line.split("  ")
            assert hashlib.sha256((vdir / fname).read_bytes()).hexdigest() == digest
        rows = pq.read_table(vdir / f"{name}.parquet").num_rows
        assert len(json.loads((vdir / f"{name}.json").read_text("utf-8"))) == rows
        assert (settings.publish / name / "CHANGELOG.md").read_text("utf-8").startswith("## v1")


def test_open_datasets_are_aggregates_with_small_cells_suppressed(env) -> None:
    settings, written = env
    publish_all(settings, now=NOW)
    ids = {p["id_number"] for p in written["persons"]}
    names = {p["name"] for p in written["persons"]}
    for name, ds in load_catalog().items():
        if not ds.is_open:
            continue
        path = settings.publish / name / "v1" / f"{name}.csv"
        text = path.read_text("utf-8-sig")
        assert not (set(CITIZEN_ID.findall(text)) & ids) and not any(n in text for n in names)
        counts = ds.suppression.counts if ds.suppression else ()
        for row in csv.DictReader(path.open(encoding="utf-8-sig")):
            for col in counts:
                assert row[col] == "" or not 1 <= int(row[col]) <= 4, (name, col, row)


def test_unchanged_content_is_not_republished_and_changes_make_a_new_version(env) -> None:
    settings, written = env
    publish_all(settings, now=NOW)
    again = publish_all(settings, now=NOW.replace(day=2))
    assert again["published"] == {} and again["unchanged"]["deaths_registry"] == 1

    # GIVEN one more death and one assistance case ended
    con = duckdb.connect(str(settings.warehouse))
    gone = written["assistance_recipients_current"][0]["id_number"]
    con.execute("delete from publish.pub_assistance_recipients_current where id_number = ?", [gone])
    con.execute(
        "insert into publish.pub_deaths_registry values "
        "('440106199001011234', '新逝者', date '2026-10-30', 'cremation_records', '440106000000')"
    )
    con.close()
    # WHEN publishing again
    result = publish_all(settings, now=NOW.replace(day=3))
    # THEN both get v2, v1 stays, and the change set says exactly what changed
    assert result["published"]["deaths_registry"]["version"] == 2
    assert list_versions(settings.publish, "assistance_recipients_current") == [1, 2]
    assert (settings.publish / "deaths_registry" / "v1" / "deaths_registry.csv").is_file()
    changes = pq.read_table(
        settings.publish / "assistance_recipients_current" / "v2"
        / "changes_assistance_recipients_current.parquet"
    ).to_pylist()  # fmt: skip
    assert [(c["id_number"], c["_change"]) for c in changes] == [(gone, "removed")]
    manifest = json.loads(
        (settings.publish / "deaths_registry" / "v2" / "version.json").read_text()
    )
    assert manifest["changes_since_previous"] == {"added": 1, "changed": 0, "removed": 0}
    assert "statistics" not in "".join(result["published"])  # aggregates did not change


def test_failed_gates_publish_nothing(env) -> None:
    settings, _ = env
    result = publish_all(settings, now=NOW, gates_ok=False)
    assert result["status"] == "skipped" and "gates" in result["reason"]
    assert not settings.publish.exists() or not any(settings.publish.iterdir())


def test_open_model_with_person_column_is_refused(env) -> None:
    settings, _ = env
    con = duckdb.connect(str(settings.warehouse))
    con.execute("alter table publish.pub_marriage_statistics add column id_number varchar")
    con.close()
    result = publish_all(settings, now=NOW)
    assert result["status"] == "partial"
    assert "person-level columns ['id_number']" in result["errors"]["marriage_statistics"]
    assert not (settings.publish / "marriage_statistics").exists()


def test_missing_model_is_reported_not_fatal(env) -> None:
    settings, _ = env
    con = duckdb.connect(str(settings.warehouse))
    con.execute("drop table publish.pub_civil_divisions")
    con.close()
    result = publish_all(settings, now=NOW)
    assert "publish.pub_civil_divisions is not in warehouse" in result["missing"]["civil_divisions"]
    assert "assistance_statistics" in result["published"]
