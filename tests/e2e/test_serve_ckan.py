"""civlake serve on a real loopback port, read by the real ckanapi client and Frictionless."""

from __future__ import annotations

import csv
import hashlib
import io
import json
import re
import urllib.request
from datetime import UTC, datetime, timedelta

import ckanapi
import httpx
import pytest
from frictionless import validate

from civlake.publish import load_catalog, publish_all
from civlake.serve.app import create_app
from civlake.serve.audit import log_path, read_audit
from civlake.settings import load_settings
from tests.support.sample_warehouse import build_sample_warehouse
from tests.support.server import serve_in_background

pytestmark = pytest.mark.e2e
NOW = datetime(2026, 11, 1, 2, 0, tzinfo=UTC)


@pytest.fixture(scope="module")
def site(tmp_path_factory):
    home = tmp_path_factory.mktemp("serve")
    settings = load_settings(env={"CIVLAKE_HOME": str(home)})
    written = build_sample_warehouse(settings.warehouse)
    publish_all(settings, now=NOW)
    # Generous public limits: this module downloads every file; rate limits have their own test.
    app = create_app(settings, public_burst=100_000)
    with serve_in_background(app) as base:
        yield base, settings, written


def _get(url: str) -> bytes:
    with urllib.request.urlopen(url, timeout=10) as resp:
        return resp.read()


def test_ckanapi_lists_searches_shows_and_downloads(site) -> None:
    base, _, _ = site
    ckan = ckanapi.RemoteCKAN(base.rstrip("/"), user_agent="civlake-test/1.0")
    names = ckan.action.package_list()
    assert set(names) == set(load_catalog())
    assert ckan.action.organization_list() == ["gz-mzj", "gz-shzz"]

    found = ckan.action.package_search(
        q="低保", fq='theme:社会救助 +open_type:"无条件开放"', rows=5,
        **{"facet.field": ["tags", "organization"]},
    )  # fmt: skip
    assert [p["name"] for p in found["results"]] == ["assistance_statistics"]
    tags = {i["name"]: i["count"] for i in found["search_facets"]["tags"]["items"]}
    assert tags["低保"] == 1

    page = ckan.action.package_search(rows=3, start=3, sort="name asc")
    assert page["count"] == len(names) and [p["name"] for p in page["results"]] == names[3:6]

    pkg = ckan.action.package_show(id="assistance_statistics")
    assert pkg["open_type"] == "无条件开放" and pkg["version"] == "1"
    csv_res = next(r for r in pkg["resources"] if r["format"] == "CSV")
    data = _get(csv_res["url"])
    assert data.startswith(b"\xef\xbb\xbf")
    assert "sha256:" + hashlib.sha256(data).hexdigest() == csv_res["hash"]
    assert "/v1/" in csv_res["url"]

    with pytest.raises(ckanapi.NotFound):
        ckan.action.package_show(id="no_such_dataset")
    with pytest.raises(ckanapi.ValidationError):
        ckan.action.package_search(fq="theme:x OR 1=1")


def test_both_action_prefixes_answer_get_and_post(site) -> None:
    base, _, _ = site
    for prefix in ("api/3/action", "api/action"):
        body = json.loads(_get(f"{base}{prefix}/package_show?id=deaths_registry"))
        assert set(body) == {"help", "success", "result"} and body["success"] is True
        req = urllib.request.Request(
            f"{base}{prefix}/package_search", data=b'{"rows": 1}',
            headers={"Content-Type": "application/json"}, method="POST",
        )  # fmt: skip
        with urllib.request.urlopen(req, timeout=10) as resp:
            assert json.loads(resp.read())["result"]["count"] == len(load_catalog())
    # the envelope's help link answers too
    help_url = json.loads(_get(f"{base}api/action/package_list"))["help"]
    assert "Names of all datasets" in json.loads(_get(help_url))["result"]


def test_every_open_package_validates_over_http(site) -> None:
    base, _, _ = site
    for name, ds in load_catalog().items():
        if not ds.is_open:
            continue
        report = validate(f"{base}download/{name}/v1/datapackage.json")
        assert report.valid, (name, report.flatten(["type", "note"])[:3])


def test_open_downloads_never_hold_person_rows(site) -> None:
    base, _, written = site
    ids = {p["id_number"] for p in written["persons"]}
    names = {p["name"] for p in written["persons"]}
    for name, ds in load_catalog().items():
        if not ds.is_open:
            continue
        pkg = json.loads(_get(f"{base}api/3/action/package_show?id={name}"))["result"]
        for res in pkg["resources"]:
            text = _get(res["url"]).decode("utf-8", errors="replace")
            assert not ids & set(re.findall(r"\d{17}[\dX]", text)), name
            assert not any(n in text for n in names), name
        csv_url = next(r["url"] for r in pkg["resources"] if r["format"] == "CSV")
        counts = ds.suppression.counts if ds.suppression else ()
        for row in csv.DictReader(io.StringIO(_get(csv_url).decode("utf-8-sig"))):
            assert all(row[c] == "" or not 1 <= int(row[c]) <= 4 for c in counts), (name, row)


def test_dcat_catalog_has_mandatory_dcat_ap_properties(site) -> None:
    base, _, _ = site
    doc = json.loads(_get(f"{base}catalog.jsonld"))
    assert doc["@type"] == "dcat:Catalog"
    assert doc["dct:title"] and doc["dct:description"] and doc["dct:publisher"]["foaf:name"]
    assert len(doc["dcat:dataset"]) == len(load_catalog())
    for node in doc["dcat:dataset"]:
        assert node["@type"] == "dcat:Dataset" and node["dct:title"] and node["dct:description"]
        assert node["dct:publisher"]["@type"] == "foaf:Agent"
        assert node["dcat:theme"]["@type"] == "skos:Concept"
        for dist in node["dcat:distribution"]:
            assert dist["dcat:accessURL"]["@id"].startswith(base)
            assert dist["dct:license"]["@type"] == "dct:LicenseDocument"


def test_web_page_searches_filters_and_links_downloads(site) -> None:
    base, _, _ = site
    home = _get(base).decode()
    assert "广州市民政数据开放目录" in home and "/dataset/marriage_statistics" in home
    # no CDN or remote assets: no scripts or stylesheets, absolute links only to this server
    assert "<script" not in home and "<link" not in home and "src=" not in home
    assert all(u.startswith(base) for u in re.findall(r'href="((?:https?:)?//[^"]*)"', home))
    only = _get(f"{base}?theme=%E6%AE%A1%E8%91%AC%E6%9C%8D%E5%8A%A1").decode()  # 殡葬服务
    assert "/dataset/deaths_registry" in only and "/dataset/marriage_statistics" not in only
    cond = _get(
        f"{base}?open_type=%E6%9C%89%E6%9D%A1%E4%BB%B6%E5%BC%80%E6%94%BE"
    ).decode()  # 有条件开放
    assert "/dataset/deaths_registry" in cond and "/dataset/civil_divisions" not in cond
    # the search box takes fielded queries, and text that is no query is searched as typed
    fielded = _get(f"{base}?q=tags%3A%E7%A6%BB%E5%A9%9A").decode()  # tags:离婚
    assert "/dataset/marriage_statistics" in fielded and "/dataset/deaths_registry" not in fielded
    assert "/dataset/" not in _get(f"{base}?q=%28%E4%BD%8E%E4%BF%9D").decode()  # (低保
    page = _get(f"{base}dataset/civil_divisions").decode()
    assert "区划代码" in page and "/download/civil_divisions/v1/civil_divisions.csv" in page


def test_ckanapi_finds_datasets_by_fielded_queries(site) -> None:
    base, _, _ = site
    catalog = load_catalog()
    for get_only in (False, True):  # ckanapi POSTs JSON by default; GET as a browser would
        ckan = ckanapi.RemoteCKAN(
            base.rstrip("/"), user_agent="civlake-test/1.0", get_only=get_only
        )

        def found(ckan=ckan, **params) -> set[str]:
            return {p["name"] for p in ckan.action.package_search(rows=100, **params)["results"]}

        assert found(q="tags:低保") == {"assistance_recipients_current", "assistance_statistics"}
        assert found(q="organization:gz-shzz") == {
            "social_organization_registry", "social_organization_statistics"}  # fmt: skip
        assert found(q="res_format:CSV") == set(catalog)  # every published version has a CSV
        assert found(q="res_format:csv") == set()  # a string field: case matters, as in Solr
        assert found(q="name:deaths_registry") == {"deaths_registry"}
        assert found(q='title:"社会救助 统计"') == {"assistance_statistics"}
        assert found(q="tags:死亡 AND NOT groups:殡葬服务") == set()
        assert found(q="tags:(低保 OR 死亡) -level:person") == {
            "assistance_statistics", "deaths_cremations_statistics"}  # fmt: skip
        assert found(q="*:*", fq="organization:gz-mzj +tags:统计") == {
            n for n, ds in catalog.items() if ds.publisher_id == "gz-mzj" and "统计" in ds.keywords
        }
        result = ckan.action.package_search(
            q="tags:统计", sort="name desc", rows=2, start=1,
            **{"facet.field": ["organization", "res_format"], "facet.limit": 5},
        )  # fmt: skip
        every = sorted((n for n, ds in catalog.items() if "统计" in ds.keywords), reverse=True)
        assert result["count"] == len(every)
        assert [p["name"] for p in result["results"]] == every[1:3]
        assert result["facets"]["res_format"]["CSV"] == len(every)
        orgs = {i["name"]: i for i in result["search_facets"]["organization"]["items"]}
        assert sum(i["count"] for i in orgs.values()) == len(every)
        assert orgs["gz-mzj"]["display_name"] == catalog["assistance_statistics"].publisher
        with pytest.raises(ckanapi.ValidationError):
            ckan.action.package_search(q="publisher:gz-mzj")  # no such field
        with pytest.raises(ckanapi.ValidationError):
            ckan.action.package_search(q='title:("低保"')


class _Clock:
    def __init__(self) -> None:
        self.at = NOW

    def __call__(self) -> datetime:
        return self.at


def test_failed_auth_flood_is_throttled_and_audited_in_aggregate(tmp_path) -> None:
    # GIVEN a server with the default limits (10 failed authentications a minute)
    settings = load_settings(env={"CIVLAKE_HOME": str(tmp_path)})
    clock = _Clock()
    app = create_app(settings, clock=clock)
    verify_url = "/api/v1/verify"
    bad = {"Authorization": "Bearer clk_000000000000_" + "a" * 43}
    body = {"question": "is_alive", "id_number": "440106199001011234", "purpose": "flood"}
    with serve_in_background(app) as base, httpx.Client(base_url=base, timeout=10) as client:
        # WHEN one address sends 50 requests with a wrong key
        answers = [client.post(verify_url, json=body, headers=bad) for _ in range(50)]
        # THEN the first 10 are refused as unauthorised, the rest throttled with Retry-After
        assert [r.status_code for r in answers] == [401] * 10 + [429] * 40
        assert all(int(r.headers["Retry-After"]) == 6 for r in answers[10:])
        assert answers[-1].json()["error"]["__type"] == "Rate Limit Error"
        # the address is throttled on the routes that take a key, not on the public ones
        assert client.get("/api/v1/datasets/deaths_registry/changes").status_code == 429
        assert client.get("/api/3/action/package_list").status_code == 200
        # AND the log holds one line per 401, none per 429 while the window is open
        lines = read_audit(log_path(settings))
        assert sum(e["path"] == verify_url for e in lines) == 10
        assert not any(e["status"] == 429 for e in lines)
        # WHEN the window is over, the next request writes the aggregate first
        clock.at = NOW + timedelta(seconds=61)
        assert client.post(verify_url, json=body, headers=bad).status_code == 401
    lines = read_audit(log_path(settings))
    throttled = [e for e in lines if e["status"] == 429]
    assert len(throttled) == 1
    (agg,) = throttled
    assert agg["action"] == "throttled" and agg["refused"] == 41 and agg["client"] == "127.0.0.1"
    assert agg["outcome"] == "refused" and "41 requests refused" in agg["reason"]
    assert agg["at"] == NOW.isoformat() and agg["until"] == clock.at.isoformat()
    assert len(lines) == 10 + 1 + 1 + 1  # 401s, package_list, the aggregate, the last 401


def test_rate_limits_come_from_settings(tmp_path) -> None:
    env = {"CIVLAKE_HOME": str(tmp_path), "CIVLAKE_RATE_PUBLIC_BURST": "3",
           "CIVLAKE_RATE_AUTH_FAIL_BURST": "2"}  # fmt: skip
    app = create_app(load_settings(env=env))
    with serve_in_background(app) as base, httpx.Client(base_url=base, timeout=10) as client:
        public = [client.get("/api/3/action/package_list").status_code for _ in range(4)]
        keyed = [client.get("/api/v1/datasets/x/changes").status_code for _ in range(3)]
    assert public == [200, 200, 200, 429] and keyed == [401, 401, 429]
