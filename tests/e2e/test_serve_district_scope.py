"""District-scoped grants (数据属地回流) on a real server: a 天河区 office gets exactly the
rows of 440106 (district and streets) through changes and downloads, in every format,
never another district's; an unscoped grant still gets every row; audit records the scope.

The oracle is the published city-wide file, filtered here by hand (csv / json / pyarrow
row by row), not the server's filter.
"""

from __future__ import annotations

import csv
import hashlib
import io
import json
from datetime import UTC, date, datetime, timedelta

import duckdb
import httpx
import pyarrow.parquet as pq
import pytest

from civlake.agency import create_agency
from civlake.agency.grants import district_grants
from civlake.publish import publish_all
from civlake.publish.catalog import load_catalog
from civlake.publish.versions import version_dir
from civlake.serve.app import create_app
from civlake.serve.audit import log_path, read_audit
from civlake.settings import load_settings
from tests.support.sample_warehouse import build_sample_warehouse, citizen_id
from tests.support.server import serve_in_background

pytestmark = pytest.mark.e2e
NOW = datetime(2026, 11, 1, 2, 0, tzinfo=UTC)
DATASET = "assistance_recipients_current"
TIANHE = "440106"


@pytest.fixture(scope="module")
def site(tmp_path_factory):
    home = tmp_path_factory.mktemp("district")
    settings = load_settings(env={"CIVLAKE_HOME": str(home)})
    written = build_sample_warehouse(settings.warehouse)
    table = f"publish.{load_catalog()[DATASET].table}"
    rows = written[DATASET]
    # GIVEN street-level rows too: 天河 street 001 is 天河's, 越秀 street 002 is not
    con = duckdb.connect(str(settings.warehouse))
    for seq, division in ((901, "440106001000"), (902, "440104002000"), (903, "440106002000")):
        con.execute(
            f"insert into {table} (id_number, name, assistance_type, division_code,"
            " household_id, since_month, as_of_month)"
            " values (?, ?, '低保', ?, ?, '2026-08', '2026-10')",
            [citizen_id(division[:6], date(1950, 1, 1), seq), f"街道{seq}", division, f"S{seq}"],
        )
    con.close()
    publish_all(settings, now=NOW)
    # AND a second version in which one 天河 resident moved to 越秀 and one moved in
    out = next(r for r in rows if r["division_code"].startswith(TIANHE))
    into = next(r for r in rows if r["division_code"].startswith("440104"))
    con = duckdb.connect(str(settings.warehouse))
    for person, division in ((out, "440104000000"), (into, "440106000000")):
        con.execute(
            f"update {table} set division_code = ? where id_number = ?",
            [division, person["id_number"]],
        )
    con.close()
    publish_all(settings, now=NOW + timedelta(days=1))
    keys = {
        "tianhe": create_agency(settings, "天河区民政局", district_grants(TIANHE, load_catalog()),
                                "2030-12-31"),
        "street": create_agency(settings, "天河某街道", [f"{DATASET}@440106001000"], "2030-12-31"),
        "city": create_agency(settings, "广州市医疗保障局", [DATASET, "deaths_registry"],
                              "2030-12-31"),
    }  # fmt: skip
    app = create_app(settings, public_burst=100_000, key_burst=100_000)
    with serve_in_background(app) as base, httpx.Client(base_url=base, timeout=30) as client:
        yield client, settings, keys, {"out": out["id_number"], "in": into["id_number"]}


def _auth(key: str) -> dict:
    return {"Authorization": f"Bearer {key}"}


def _published(settings, name: str, version: int, filename: str) -> bytes:
    return (version_dir(settings.publish, name, version) / filename).read_bytes()


def _csv_rows(data: bytes) -> list[list[str]]:
    assert data.startswith(b"\xef\xbb\xbf")  # UTF-8 with BOM, as published
    return list(csv.reader(io.StringIO(data.decode("utf-8-sig"))))


def _csv_in(data: bytes, column: str, prefix: str) -> list[list[str]]:
    header, *body = _csv_rows(data)
    at = header.index(column)
    return [header, *(r for r in body if r[at].startswith(prefix))]


def test_changes_hold_exactly_the_districts_rows(site) -> None:
    client, settings, keys, _ = site
    url = f"/api/v1/datasets/{DATASET}/changes"
    # WHEN 天河 pulls everything of version 2
    resp = client.get(url, params={"since_version": 0, "purpose": "属地回流"},
                      headers=_auth(keys["tianhe"]))  # fmt: skip
    assert resp.status_code == 200
    body = resp.json()
    # THEN it gets the city's file filtered to 440106 (streets included), nothing else
    expected = _csv_in(_published(settings, DATASET, 2, f"{DATASET}.csv"), "division_code", TIANHE)
    header = expected[0]
    got = [[str(c[h]) for h in header] for c in body["changes"]]
    assert got == expected[1:] and len(got) >= 3
    assert {"440106001000", "440106002000"} <= {c["division_code"] for c in body["changes"]}
    assert body["version"] == 2 and body["scope"] == TIANHE and body["count"] == len(got)
    entry = read_audit(log_path(settings))[-1]
    assert (entry["agency"], entry["scope"], entry["rows"]) == ("天河区民政局", TIANHE, len(got))
    # AND a street office gets its street only
    street = client.get(url, headers=_auth(keys["street"])).json()["changes"]
    assert [c["division_code"] for c in street] == ["440106001000"]
    assert read_audit(log_path(settings))[-1]["scope"] == "440106001"


def test_a_move_out_is_a_removal_for_the_district_and_a_change_for_the_city(site) -> None:
    client, _, keys, moved = site
    url = f"/api/v1/datasets/{DATASET}/changes"
    district = client.get(url, params={"since_version": 1}, headers=_auth(keys["tianhe"])).json()
    assert {(c["id_number"], c["_change"]) for c in district["changes"]} == {
        (moved["out"], "removed"), (moved["in"], "added")
    }  # fmt: skip
    removed = next(c for c in district["changes"] if c["_change"] == "removed")
    assert removed["division_code"] is None  # a removal names the key only
    city = client.get(url, params={"since_version": 1}, headers=_auth(keys["city"])).json()
    assert {(c["id_number"], c["_change"]) for c in city["changes"]} == {
        (moved["out"], "changed"), (moved["in"], "changed")
    }  # fmt: skip
    assert city["scope"] == "all"
    # the changes_ file of the version says the same to each of them
    name = f"/download/{DATASET}/v2/changes_{DATASET}.json"
    scoped = client.get(name, headers=_auth(keys["tianhe"])).json()
    assert {(c["id_number"], c["_change"]) for c in scoped} == {
        (moved["out"], "removed"), (moved["in"], "added")
    }  # fmt: skip


@pytest.mark.parametrize("version", [1, 2])
def test_downloads_are_the_published_files_cut_to_the_district(site, version: int) -> None:
    client, settings, keys, _ = site
    base = f"/download/{DATASET}/v{version}/{DATASET}"
    published = {fmt: _published(settings, DATASET, version, f"{DATASET}.{fmt}")
                 for fmt in ("csv", "json", "parquet")}  # fmt: skip
    got = {}
    for fmt in ("csv", "json", "parquet"):
        resp = client.get(f"{base}.{fmt}", headers=_auth(keys["tianhe"]))
        assert resp.status_code == 200, resp.text
        assert f'filename="{DATASET}.{fmt}"' in resp.headers["content-disposition"]
        got[fmt] = resp.content
        entry = read_audit(log_path(settings))[-1]
        assert entry["scope"] == TIANHE and entry["outcome"] == "allowed"
    # CSV: the published lines of 440106, same header, same quoting, with the BOM
    expected_csv = _csv_in(published["csv"], "division_code", TIANHE)
    assert _csv_rows(got["csv"]) == expected_csv
    assert read_audit(log_path(settings))[-3]["rows"] == len(expected_csv) - 1
    # JSON and Parquet: the same rows
    in_tianhe = [r for r in json.loads(published["json"]) if r["division_code"].startswith(TIANHE)]
    assert json.loads(got["json"]) == in_tianhe
    city = pq.read_table(io.BytesIO(published["parquet"]))
    mine = pq.read_table(io.BytesIO(got["parquet"]))
    assert mine.schema == city.schema
    assert mine.to_pylist() == [r for r in city.to_pylist() if r["division_code"][:6] == TIANHE]
    # the datapackage and checksums describe the district's files, not the city's
    package = client.get(f"/download/{DATASET}/v{version}/datapackage.json",
                         headers=_auth(keys["tianhe"])).json()  # fmt: skip
    hashes = {r["path"]: r["hash"] for r in package["resources"]}
    for fmt, data in got.items():
        assert hashes[f"{DATASET}.{fmt}"] == "sha256:" + hashlib.sha256(data).hexdigest()
    sums = client.get(f"/download/{DATASET}/v{version}/SHA256SUMS", headers=_auth(keys["tianhe"]))
    assert f"{hashlib.sha256(got['csv']).hexdigest()}  {DATASET}.csv" in sums.text


def test_never_another_districts_rows(site) -> None:
    client, settings, keys, _ = site
    for name, column in ((DATASET, "division_code"), ("deaths_registry", "hukou_division_code")):
        resp = client.get(f"/download/{name}/v1/{name}.json", headers=_auth(keys["tianhe"]))
        assert resp.status_code == 200
        rows = resp.json()
        assert all(r[column].startswith(TIANHE) for r in rows)
        city = json.loads(_published(settings, name, 1, f"{name}.json"))
        assert len(rows) == sum(r[column].startswith(TIANHE) for r in city)
        assert any(not r[column].startswith(TIANHE) for r in city)  # others exist, withheld


def test_files_about_the_whole_city_are_refused_to_a_district(site) -> None:
    client, settings, keys, _ = site
    resp = client.get(f"/download/{DATASET}/v1/version.json", headers=_auth(keys["tianhe"]))
    assert resp.status_code == 403 and "changes" in resp.json()["error"]["message"]
    entry = read_audit(log_path(settings))[-1]
    assert entry["outcome"] == "refused" and entry["scope"] == TIANHE and entry["rows"] == 0


def test_an_unscoped_grant_still_gets_every_row(site) -> None:
    client, settings, keys, _ = site
    resp = client.get(f"/download/{DATASET}/v2/{DATASET}.csv", headers=_auth(keys["city"]))
    assert resp.content == _published(settings, DATASET, 2, f"{DATASET}.csv")
    entry = read_audit(log_path(settings))[-1]
    assert entry["scope"] == "all" and entry["rows"] == len(_csv_rows(resp.content)) - 1
    changes = client.get(f"/api/v1/datasets/{DATASET}/changes", headers=_auth(keys["city"]))
    assert changes.json()["count"] == len(_csv_rows(resp.content)) - 1


def test_reviews_and_worklists_of_the_district_are_granted(site) -> None:
    _, settings, _, _ = site
    from civlake.agency import load_agencies

    office = next(a for a in load_agencies(settings).values() if a.name == "天河区民政局")
    assert office.has_grant("review:440106") and office.has_grant("worklist:440106000000")
    assert not office.has_grant("review:440104") and not office.has_grant("verify:is_alive")
    assert office.row_scope(DATASET) == TIANHE and office.row_scope("deaths_registry") == TIANHE
