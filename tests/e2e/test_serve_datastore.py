"""CKAN DataStore, open types and usage figures over a real server, read by the real ckanapi.

The expected rows are never computed by civlake: the test downloads the CSV resource
that package_show links, parses it with the csv module, and filters and sorts it itself.
"""

from __future__ import annotations

import csv
import io
import json
import urllib.error
import urllib.request
from datetime import UTC, datetime

import ckanapi
import delta_sharing
import httpx
import pytest

from civlake.agency import create_agency
from civlake.agency.profile import profile, write_profile
from civlake.publish import publish_all
from civlake.serve.app import create_app
from civlake.serve.audit import log_path, read_audit
from civlake.serve.sharing.names import share_name
from civlake.settings import load_settings
from tests.support.sample_warehouse import build_sample_warehouse
from tests.support.server import serve_in_background

pytestmark = pytest.mark.e2e
PUBLISHED = datetime(2026, 11, 1, 2, 0, tzinfo=UTC)
SERVED = datetime(2026, 11, 20, 9, 0, tzinfo=UTC)  # the server's clock: audit lines, "recent"
NEXT_MONTH = datetime(2026, 12, 1, 2, 0, tzinfo=UTC)
PARSE = {"int": int, "numeric": float, "text": str}


def _published_site(tmp_path_factory, label: str):
    home = tmp_path_factory.mktemp(label)
    settings = load_settings(env={"CIVLAKE_HOME": str(home)})
    build_sample_warehouse(settings.warehouse)
    publish_all(settings, now=PUBLISHED)
    app = create_app(settings, public_burst=100_000, clock=lambda: SERVED)
    return settings, app


@pytest.fixture(scope="module")
def site(tmp_path_factory):
    settings, app = _published_site(tmp_path_factory, "datastore")
    with serve_in_background(app) as base:
        yield base, settings


def _get(url: str) -> bytes:
    with urllib.request.urlopen(url, timeout=10) as resp:
        return resp.read()


def _csv_rows(ckan, dataset: str) -> tuple[str, list[dict]]:
    """The CSV resource's id and its rows, typed by datastore_info's field types."""
    pkg = ckan.action.package_show(id=dataset)
    res = next(r for r in pkg["resources"] if r["format"] == "CSV")
    assert res["datastore_active"] is True
    types = {f["id"]: f["type"] for f in ckan.action.datastore_info(id=res["id"])["fields"]}
    text = _get(res["url"]).decode("utf-8-sig")
    rows = []
    for n, row in enumerate(csv.DictReader(io.StringIO(text)), start=1):
        typed = {k: None if v == "" else PARSE[types[k]](v) for k, v in row.items()}
        rows.append({"_id": n, **typed})
    return res["id"], rows


def test_ckanapi_datastore_search_gives_the_csv_rows(site) -> None:
    base, _ = site
    ckan = ckanapi.RemoteCKAN(base.rstrip("/"), user_agent="civlake-test/1.0")
    rid, rows = _csv_rows(ckan, "assistance_statistics")

    # GIVEN a filter (a list of values and a single one) and a two-key sort
    wanted = {"assistance_type": ["低保", "特困"], "division_code": "440106000000"}
    expected = [r for r in rows
                if r["assistance_type"] in wanted["assistance_type"]
                and r["division_code"] == wanted["division_code"]]  # fmt: skip
    expected.sort(key=lambda r: r["_id"])
    expected.sort(key=lambda r: (r["households"] is None, -(r["households"] or 0)))
    assert len(expected) >= 5  # so that paging by 2 makes several pages

    # WHEN ckanapi pages through datastore_search two rows at a time
    got, offset = [], 0
    while True:
        page = ckan.action.datastore_search(
            resource_id=rid, filters=wanted, sort="households desc, _id asc",
            limit=2, offset=offset,
        )  # fmt: skip
        assert page["total"] == len(expected) and page["limit"] == 2
        got += page["records"]
        if not page["records"]:
            break
        assert f"offset={offset + 2}" in page["_links"]["next"]
        offset += 2
    # THEN it gets exactly the CSV's rows, in that order, with CKAN's row ids
    assert got == expected

    # full text, fields and the other record formats
    found = ckan.action.datastore_search(resource_id=rid, q="天河 低保边缘", limit=1000)
    assert found["records"] == [
        r for r in rows
        if any("天河" in str(v) for v in r.values()) and any("低保边缘" in str(v) for v in r.values())
    ]  # fmt: skip
    per_field = ckan.action.datastore_search(resource_id=rid, q={"division_name": "海珠"})
    assert per_field["total"] == sum(r["division_name"] == "海珠区" for r in rows)
    lists = ckan.action.datastore_search(
        resource_id=rid, fields=["month", "persons"], records_format="lists", limit=3, sort="_id"
    )
    assert [f["id"] for f in lists["fields"]] == ["month", "persons"]
    assert lists["records"] == [[r["month"], r["persons"]] for r in rows[:3]]
    as_csv = ckan.action.datastore_search(
        resource_id=rid, fields="_id,division_name", records_format="csv", limit=4
    )["records"]
    assert as_csv == "".join(f"{r['_id']},{r['division_name']}\n" for r in rows[:4])
    info = ckan.action.datastore_info(id=rid)
    assert info["meta"]["count"] == len(rows)
    assert {f["id"]: f["type"] for f in info["fields"]}["amount_yuan"] == "numeric"
    capped = ckan.action.datastore_search(resource_id=rid, limit=10**9)  # as CKAN: rows_max
    assert capped["limit"] == 32000 and len(capped["records"]) == len(rows)
    no_total = ckan.action.datastore_search(resource_id=rid, include_total=False, limit=1)
    assert "total" not in no_total and len(no_total["records"]) == 1


def test_bad_names_are_409_unknown_resources_404_restricted_403(site) -> None:
    base, settings = site
    ckan = ckanapi.RemoteCKAN(base.rstrip("/"), user_agent="civlake-test/1.0")
    rid = ckan.action.package_show(id="marriage_statistics")["resources"][0]["id"]
    for bad in ({"sort": "registrations desc, nope asc"}, {"fields": ["month", "nope"]},
                {"filters": {"nope": "x"}}, {"q": {"nope": "x"}}, {"sort": 'month; drop table x'},
                {"limit": -1}, {"records_format": "xml"}, {"distinct": True}):  # fmt: skip
        with pytest.raises(ckanapi.ValidationError) as err:
            ckan.action.datastore_search(resource_id=rid, **bad)
        assert set(err.value.error_dict) & {"sort", "fields", "filters", "q", "limit",
                                            "records_format", "distinct"}  # fmt: skip
    with pytest.raises(ckanapi.ValidationError) as err:
        ckan.action.datastore_search(resource_id=rid, sort="nope")
    assert 'field "nope" not in resource' in err.value.error_dict["sort"][0]
    with pytest.raises(ckanapi.NotFound):
        ckan.action.datastore_search(resource_id="440100-MZ-KF-0003-v99-csv")
    with pytest.raises(ckanapi.NotFound):
        ckan.action.datastore_info(id="no-such-resource")

    # person-level resources: refused anonymously, and (for now) with a granted key too
    restricted = ckan.action.package_show(id="deaths_registry")["resources"]
    assert all(r["datastore_active"] is False for r in restricted)
    with pytest.raises(ckanapi.NotAuthorized):
        ckan.action.datastore_search(resource_id=restricted[0]["id"])
    key = create_agency(settings, "人社局", ["deaths_registry"], None, now=SERVED)
    answer = httpx.post(
        f"{base}api/action/datastore_search", json={"resource_id": restricted[0]["id"]},
        headers={"Authorization": f"Bearer {key}"}, timeout=10,
    )  # fmt: skip
    assert answer.status_code == 403 and answer.json()["error"]["__type"] == "Authorization Error"
    refusals = [e for e in read_audit(log_path(settings)) if e["status"] == 403]
    assert refusals and all(e["dataset"] == "deaths_registry" for e in refusals)


def test_both_prefixes_get_and_post(site) -> None:
    base, _ = site
    pkg = json.loads(_get(f"{base}api/3/action/package_show?id=civil_divisions"))["result"]
    rid = next(r["id"] for r in pkg["resources"] if r["format"] == "Parquet")
    for prefix in ("api/3/action", "api/action"):
        got = json.loads(_get(f"{base}{prefix}/datastore_info?id={rid}"))
        assert got["success"] is True and got["result"]["meta"]["count"] == 11
        body = json.dumps({"resource_id": rid, "filters": {"division_name": "天河区"}}).encode()
        req = urllib.request.Request(f"{base}{prefix}/datastore_search", data=body,
                                     headers={"Content-Type": "application/json"})  # fmt: skip
        with urllib.request.urlopen(req, timeout=10) as resp:
            records = json.loads(resp.read())["result"]["records"]
        assert [r["division_code"] for r in records] == ["440106000000"]
    with pytest.raises(urllib.error.HTTPError) as err:
        _get(f"{base}api/3/action/datastore_search?resource_id={rid}&fields=nope")
    assert err.value.code == 409


def test_granted_datasets_are_conditional_not_public(site) -> None:
    base, _ = site
    ckan = ckanapi.RemoteCKAN(base.rstrip("/"), user_agent="civlake-test/1.0")
    for name in ("assistance_recipients_current", "deaths_registry"):
        pkg = ckan.action.package_show(id=name)
        assert (pkg["open_type"], pkg["share_type"]) == ("有条件开放", "有条件共享")
        csv_url = next(r["url"] for r in pkg["resources"] if r["format"] == "CSV")
        with pytest.raises(urllib.error.HTTPError) as err:  # conditional is not public
            _get(csv_url)
        assert err.value.code == 401
        page = _get(f"{base}dataset/{name}").decode()
        assert "如何申请使用" in page and f"civlake agency create 部门名称 --grant {name}" in page
        assert "有条件开放" in page and pkg["author"] in page
    assert "@440106" in _get(f"{base}dataset/deaths_registry").decode()  # district-scoped grants
    assert "如何申请使用" not in _get(f"{base}dataset/marriage_statistics").decode()
    conditional = _get(f"{base}?open_type=%E6%9C%89%E6%9D%A1%E4%BB%B6%E5%BC%80%E6%94%BE").decode()
    assert (
        "/dataset/deaths_registry" in conditional and "/dataset/civil_divisions" not in conditional
    )
    closed = _get(f"{base}?open_type=%E4%B8%8D%E4%BA%88%E5%BC%80%E6%94%BE").decode()  # 不予开放
    assert "/dataset/deaths_registry" not in closed
    dcat = json.loads(_get(f"{base}catalog.jsonld"))
    node = next(d for d in dcat["dcat:dataset"] if d["dct:identifier"] == "440100-MZ-GX-0102")
    assert node["dct:accessRights"]["dct:description"]["@value"] == "有条件开放；有条件共享"


def test_usage_is_counted_shown_and_published(tmp_path_factory) -> None:
    # GIVEN a fresh server (no request but ours in its audit log)
    settings, app = _published_site(tmp_path_factory, "usage")
    key = create_agency(settings, "人社局", ["deaths_registry"], None, now=SERVED)
    with serve_in_background(app) as base:
        ckan = ckanapi.RemoteCKAN(base.rstrip("/"), user_agent="civlake-test/1.0")
        pkg = ckan.action.package_show(id="marriage_statistics")
        assert pkg["tracking_summary"] == {"total": 0, "recent": 0}
        csv_res = next(r for r in pkg["resources"] if r["format"] == "CSV")
        parquet = next(r for r in pkg["resources"] if r["format"] == "Parquet")
        # WHEN it downloads data files 6 times, queries 7 times and pulls changes 5 times
        for _ in range(3):
            _get(csv_res["url"])
            _get(parquet["url"])
        _get(f"{base}download/marriage_statistics/v1/datapackage.json")  # a description: not usage
        for i in range(7):
            ckan.action.datastore_search(resource_id=csv_res["id"], limit=1, offset=i)
        with pytest.raises(ckanapi.ValidationError):  # refused: not usage
            ckan.action.datastore_search(resource_id=csv_res["id"], sort="nope")
        with httpx.Client(base_url=base, timeout=10) as client:
            auth = {"Authorization": f"Bearer {key}"}
            for _ in range(5):
                pull = client.get("/api/v1/datasets/deaths_registry/changes", headers=auth)
                assert pull.status_code == 200
            assert client.get("/api/v1/datasets/deaths_registry/changes").status_code == 401
        # AND the stock Delta Sharing connector loads the table (its one data file: a query,
        # however many HEAD and range requests the reader makes for it)
        share = tmp_path_factory.mktemp("profile") / "social.share"
        write_profile(share, profile(settings, key, server=base))
        frame = delta_sharing.load_as_pandas(
            f"{share}#{share_name('人社局')}.civlake.deaths_registry"
        )
        assert len(frame) == ckan.action.package_show(id="deaths_registry")["versions"][-1]["rows"]

        # THEN package_show and the catalog page show exactly those counts
        pkg = ckan.action.package_show(id="marriage_statistics")
        assert pkg["tracking_summary"] == {"total": 13, "recent": 13}
        assert pkg["usage"] == {"downloads": 6, "queries": 7}
        deaths = ckan.action.package_show(id="deaths_registry")
        assert deaths["usage"] == {"downloads": 0, "queries": 6}
        assert "下载 6 次 · 查询 7 次" in _get(f"{base}dataset/marriage_statistics").decode()

    # AND the publish job publishes the month once it is over, and only then
    assert "dataset_usage_statistics" in publish_all(settings, now=PUBLISHED)["unchanged"]
    published = publish_all(settings, now=NEXT_MONTH)["published"]
    assert published["dataset_usage_statistics"]["version"] == 2
    assert "dataset_usage_statistics" in publish_all(settings, now=NEXT_MONTH)["unchanged"]
    path = settings.publish / "dataset_usage_statistics" / "v2" / "dataset_usage_statistics.csv"
    table = list(csv.DictReader(io.StringIO(path.read_text("utf-8-sig"))))
    figures = {r["dataset"]: (r["downloads"], r["queries"]) for r in table}
    assert {r["month"] for r in table} == {"2026-11"}
    assert figures.pop("marriage_statistics") == ("6", "7")
    assert figures.pop("deaths_registry") == ("0", "6")
    assert set(figures.values()) == {("0", "0")}
    # aggregates only: the audit log's agencies, addresses and keys are not in the file
    text = path.read_text("utf-8-sig")
    assert "人社局" not in text and "127.0.0.1" not in text
