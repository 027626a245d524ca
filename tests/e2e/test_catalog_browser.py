"""The catalog web page in headless Chromium, and /catalog.jsonld against DCAT-AP 3.0 SHACL.

The server runs on a real loopback port over a sample warehouse published for real;
Chromium (Debian's package, installed by scripts/install-browser) loads the page,
searches, opens a dataset and follows a download link like a citizen would.
"""

from __future__ import annotations

import hashlib
import json
import urllib.request
from datetime import UTC, datetime
from pathlib import Path

import pyshacl
import pytest
from rdflib import Graph
from rdflib import namespace as ns

from civlake.publish import load_catalog, publish_all
from civlake.serve.app import create_app
from civlake.settings import load_settings
from tests.e2e.browser import Browser, find_chromium
from tests.support.sample_warehouse import build_sample_warehouse
from tests.support.server import serve_in_background

pytestmark = pytest.mark.e2e
NOW = datetime(2026, 11, 1, 2, 0, tzinfo=UTC)
ARTIFACTS = Path(__file__).resolve().parents[1] / "artifacts"
SHAPES = Path(__file__).resolve().parent / "shapes" / "dcat-ap-3.0-mandatory-and-ranges.ttl"


@pytest.fixture(scope="module")
def site(tmp_path_factory):
    home = tmp_path_factory.mktemp("browser")
    settings = load_settings(env={"CIVLAKE_HOME": str(home)})
    build_sample_warehouse(settings.warehouse)
    publish_all(settings, now=NOW)
    with serve_in_background(create_app(settings)) as base:
        yield base


@pytest.fixture(scope="module")
def browser():
    binary = find_chromium()
    if binary is None:
        pytest.skip("chromium is not installed and scripts/install-browser could not install it")
    with Browser(binary) as b:
        yield b


def _json(url: str) -> dict:
    with urllib.request.urlopen(url, timeout=10) as resp:
        return json.loads(resp.read())


def _texts(browser: Browser, selector: str) -> list[str]:
    expr = f"[...document.querySelectorAll({json.dumps(selector)})].map(e => e.textContent.trim())"
    return browser.evaluate(expr)


def test_load_search_open_dataset_and_download(site, browser: Browser) -> None:
    # GIVEN the catalog page as a visitor first sees it
    browser.goto(site)
    assert browser.evaluate("document.title") == "广州市民政数据开放目录"
    listed = _texts(browser, ".card h3 a")
    titles = {ds.title for ds in load_catalog().values()}
    assert set(listed) == titles, "the front page lists every catalog entry"
    browser.screenshot(ARTIFACTS / "catalog_index.png")

    # WHEN the visitor types 低保 into the search box, picks 无条件开放 and submits the form
    browser.evaluate(
        "(() => { document.querySelector('input[name=q]').value = '低保';"
        " document.querySelector('select[name=open_type]').value = '无条件开放'; })()"
    )
    browser.click_and_wait("form.search button[type=submit]")

    # THEN the page shows what the CKAN search API finds for the same question
    api = _json(
        f"{site}api/3/action/package_search?q=%E4%BD%8E%E4%BF%9D"
        "&fq=open_type:%22%E6%97%A0%E6%9D%A1%E4%BB%B6%E5%BC%80%E6%94%BE%22&rows=100"
    )["result"]
    assert api["count"] >= 1
    assert _texts(browser, ".card h3 a") == [p["title"] for p in api["results"]]
    assert "q=%E4%BD%8E%E4%BF%9D" in browser.url
    assert browser.evaluate("document.querySelector('input[name=q]').value") == "低保"
    links = _texts(browser, ".card a[href*='/download/']")
    assert len(links) == len(set(links)), f"download links must be told apart: {links}"
    browser.screenshot(ARTIFACTS / "catalog_search.png")

    # WHEN the visitor opens the first hit
    first = api["results"][0]
    browser.click_and_wait(".card h3 a")
    assert browser.url == f"{site}dataset/{first['name']}"
    assert (
        browser.evaluate("document.querySelector('h2').firstChild.textContent.trim()")
        == (first["title"])
    )
    heads, cells = (_texts(browser, f"main > table:first-of-type {c}") for c in ("th", "td"))
    meta = dict(zip(heads, cells, strict=True))
    assert meta["信息资源代码"] == first["identifier"]
    assert meta["开放类型"] == "无条件开放"
    browser.screenshot(ARTIFACTS / "catalog_dataset.png")

    # AND follows the CSV download link of the newest version
    csv = next(r for r in first["resources"] if r["format"] == "CSV")
    saved = browser.click_download(f'a[href="{csv["url"]}"]')

    # THEN the browser saved exactly the published file (same bytes as the checksum says)
    data = saved.read_bytes()
    assert data.startswith(b"\xef\xbb\xbf"), "CSV for Excel starts with a UTF-8 BOM"
    assert "sha256:" + hashlib.sha256(data).hexdigest() == csv["hash"]
    assert len(data) == csv["size"]


def test_unknown_dataset_page_says_so_in_chinese(site, browser: Browser) -> None:
    browser.goto(f"{site}dataset/no_such_dataset")
    assert browser.evaluate("document.querySelector('h2').textContent") == "未找到"
    assert "no_such_dataset" in browser.evaluate("document.body.innerText")
    browser.click_and_wait("main a[href='/']")
    assert browser.url == site


def _validate(catalog: dict) -> tuple[bool, Graph, str]:
    data = Graph().parse(data=json.dumps(catalog), format="json-ld")
    shapes = Graph().parse(SHAPES, format="turtle")
    conforms, results, report = pyshacl.validate(data, shacl_graph=shapes, inference="none")
    return conforms, results, report


def test_catalog_jsonld_conforms_to_dcat_ap_3_shapes(site) -> None:
    catalog = _json(f"{site}catalog.jsonld")
    conforms, _, report = _validate(catalog)
    assert conforms, report

    # Not vacuous: the shapes' target classes are the ones every node is typed with.
    data = Graph().parse(data=json.dumps(catalog), format="json-ld")
    assert len(set(data.subjects(ns.RDF.type, ns.DCAT.Dataset))) == len(load_catalog())
    assert len(set(data.subjects(ns.RDF.type, ns.DCAT.Distribution))) == sum(
        len(d["dcat:distribution"]) for d in catalog["dcat:dataset"]
    )
    assert set(data.subjects(ns.RDF.type, ns.DCAT.Distribution)), "published datasets have files"


def test_dcat_ap_shapes_reject_what_dcat_ap_forbids(site) -> None:
    # GIVEN the served catalogue with three DCAT-AP violations planted in it
    catalog = _json(f"{site}catalog.jsonld")
    del catalog["dct:title"]  # a Catalogue's title is mandatory
    catalog["dcat:dataset"][0]["dct:issued"] = {"@value": "yesterday", "@type": "xsd:string"}
    with_files = next(d for d in catalog["dcat:dataset"] if d["dcat:distribution"])
    del with_files["dcat:distribution"][0]["dcat:accessURL"]

    # WHEN validated THEN each violation is reported on the property it concerns
    conforms, results, _ = _validate(catalog)
    assert not conforms
    paths = {str(o) for o in results.objects(predicate=ns.SH.resultPath)}
    assert {
        "http://purl.org/dc/terms/title",
        "http://purl.org/dc/terms/issued",
        str(ns.DCAT.accessURL),
    } <= paths
