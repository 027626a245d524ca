"""Agency routes on a real server: keys, grants, expiry, refusals, audit, changes, verify."""

from __future__ import annotations

import http.client
import json
from datetime import UTC, date, datetime
from urllib.parse import urlsplit

import duckdb
import httpx
import pytest

from civlake.agency import AgencyError, create_agency, load_agencies
from civlake.publish import publish_all
from civlake.serve.app import create_app
from civlake.serve.audit import log_path, read_audit, verify_chain
from civlake.settings import load_settings
from tests.support.sample_warehouse import build_sample_warehouse
from tests.support.server import serve_in_background

pytestmark = pytest.mark.e2e
NOW = datetime(2026, 11, 1, 2, 0, tzinfo=UTC)
ALL_VERIFY = ["verify:is_alive", "verify:is_married", "verify:is_dibao_or_tekun"]


@pytest.fixture(scope="module")
def site(tmp_path_factory):
    home = tmp_path_factory.mktemp("agency")
    settings = load_settings(env={"CIVLAKE_HOME": str(home)})
    written = build_sample_warehouse(settings.warehouse)
    publish_all(settings, now=NOW)
    keys = {
        "medical": create_agency(settings, "广州市医疗保障局",
                                 ["assistance_recipients_current", *ALL_VERIFY], "2030-12-31"),
        "social": create_agency(settings, "广州市人社局", ["deaths_registry"], None),
        "expired": create_agency(settings, "过期部门", ["deaths_registry", *ALL_VERIFY], "2020-01-01"),
    }  # fmt: skip
    app = create_app(settings, public_burst=100_000)
    with serve_in_background(app) as base, httpx.Client(base_url=base, timeout=10) as client:
        yield client, settings, written, keys


def _auth(key: str) -> dict:
    return {"Authorization": f"Bearer {key}"}


def _last_audit(settings) -> dict:
    return read_audit(log_path(settings))[-1]


def test_keys_are_stored_hashed_only(site) -> None:
    _, settings, _, keys = site
    # the register and its write-ahead log, whatever SQLite has not checkpointed yet
    stored = b"".join(p.read_bytes() for p in settings.state_dir.glob("agencies.db*"))
    assert stored and all(k.encode() not in stored for k in keys.values())
    assert all(k[len("clk_0123456789ab_") :].encode() not in stored for k in keys.values())
    assert {a.name for a in load_agencies(settings).values()} >= {"广州市医疗保障局"}
    with pytest.raises(AgencyError, match="no such dataset"):
        create_agency(settings, "某部门", ["not_a_dataset"], None)
    with pytest.raises(AgencyError, match="无条件开放"):
        create_agency(settings, "某部门", ["assistance_statistics"], None)


@pytest.mark.parametrize(
    ("who", "status", "reason"),
    [(None, 401, "missing"), ("clk_000000000000_" + "a" * 43, 401, "unknown key"),
     ("clk_000000000000", 401, "malformed"), ("social", 403, "no grant"),
     ("expired", 401, "expired")],
)  # fmt: skip
def test_conditional_download_refusals_are_audited(site, who, status, reason) -> None:
    client, settings, _, keys = site
    url = "/download/assistance_recipients_current/v1/assistance_recipients_current.csv"
    headers = _auth(keys.get(who, who)) if who else {}
    resp = client.get(url, headers=headers)
    assert resp.status_code == status
    assert resp.json()["success"] is False and reason in resp.json()["error"]["message"]
    entry = _last_audit(settings)
    assert entry["status"] == status and entry["outcome"] == "refused" and reason in entry["reason"]
    if status == 401:  # a refused key names why, first in the message, and as a field
        assert resp.json()["error"]["reason"] == reason
        assert entry["reason"].startswith(f"{reason}: ")
    assert entry["dataset"] == "assistance_recipients_current" and entry["rows"] == 0


def test_granted_download_is_audited_with_rows(site) -> None:
    client, settings, written, keys = site
    url = "/download/assistance_recipients_current/v1/assistance_recipients_current.csv"
    resp = client.get(url, headers=_auth(keys["medical"]))
    assert resp.status_code == 200
    entry = _last_audit(settings)
    assert entry["agency"] == "广州市医疗保障局" and entry["outcome"] == "allowed"
    assert entry["rows"] == len(written["assistance_recipients_current"])


def test_path_traversal_is_refused_and_audited(site) -> None:
    client, settings, _, _ = site
    parts = urlsplit(str(client.base_url))
    for raw in (
        "/download/civil_divisions/v1/../../../state/agencies.json",
        "/download/civil_divisions/v1/..%2F..%2F..%2Fstate%2Fagencies.json",
        "/download/civil_divisions/v1/%2e%2e%2fversion.json",
    ):
        # http.client sends the path as written (httpx would normalise the dots away).
        conn = http.client.HTTPConnection(parts.hostname, parts.port, timeout=10)
        conn.request("GET", raw)
        resp = conn.getresponse()
        body = resp.read()
        conn.close()
        assert resp.status in (400, 404), raw
        assert b"key_sha256" not in body
        assert _last_audit(settings)["outcome"] == "refused"
    assert client.get("/download/civil_divisions/v1/agencies.json").status_code == 404


def test_injection_in_search_params_is_harmless(site) -> None:
    client, settings, _, _ = site
    resp = client.get("/api/3/action/package_search", params={"q": "'; drop table x; --"})
    assert resp.status_code == 200 and resp.json()["result"]["count"] == 0
    resp = client.get("/api/3/action/package_search", params={"fq": 'theme:"x" OR name:*'})
    assert resp.status_code == 409 and resp.json()["error"]["__type"] == "Validation Error"
    assert _last_audit(settings)["status"] == 409
    resp = client.get("/api/3/action/package_search", params={"rows": "10; select 1"})
    assert resp.status_code == 409 and "rows" in resp.json()["error"]
    resp = client.get("/", params={"q": "<script>alert(1)</script>"})
    assert resp.status_code == 200 and "<script>alert" not in resp.text


def test_oversized_body_is_refused_and_audited(site) -> None:
    client, settings, _, keys = site
    resp = client.post("/api/v1/verify", content=b"{" + b" " * 100_000 + b"}",
                       headers=_auth(keys["medical"]) | {"Content-Type": "application/json"})  # fmt: skip
    assert resp.status_code == 413
    assert _last_audit(settings)["status"] == 413


def test_verify_answers_yes_or_no_and_never_a_record(site) -> None:
    client, settings, written, keys = site
    alive_dibao = next(p for p in written["persons"] if p["assistance"] and not p["death_date"])
    dead = next(p for p in written["persons"] if p["death_date"])
    unmarried = next(p for p in written["persons"] if not p["is_married"])
    cases = [
        ("is_alive", alive_dibao, True), ("is_alive", dead, False),
        ("is_dibao_or_tekun", alive_dibao, True),
        ("is_married", unmarried, False),
    ]  # fmt: skip
    for question, person, expected in cases:
        resp = client.post("/api/v1/verify", headers=_auth(keys["medical"]),
                           json={"question": question, "id_number": person["id_number"],
                                 "purpose": "医保参保资助资格核验"})  # fmt: skip
        assert resp.status_code == 200 and resp.json() == {"answer": expected}
        entry = _last_audit(settings)
        assert entry["question"] == question and entry["purpose"] == "医保参保资助资格核验"
        assert entry["rows"] == 0 and person["id_number"] not in json.dumps(entry)
    # an unknown (but well-formed) ID is simply "no"
    from tests.support.sample_warehouse import citizen_id

    stranger = citizen_id("440106", date(1990, 1, 1), 999)
    resp = client.post("/api/v1/verify", headers=_auth(keys["medical"]),
                       json={"question": "is_alive", "id_number": stranger, "purpose": "核验"})  # fmt: skip
    assert resp.json() == {"answer": False}


def test_verify_refusals(site) -> None:
    client, settings, written, keys = site
    body = {"question": "is_alive", "id_number": written["persons"][0]["id_number"], "purpose": "x"}
    assert client.post("/api/v1/verify", json=body).status_code == 401
    assert (
        client.post("/api/v1/verify", json=body, headers=_auth(keys["social"])).status_code == 403
    )
    resp = client.post("/api/v1/verify", json=body, headers=_auth(keys["expired"]))
    assert resp.status_code == 401 and resp.json()["error"]["reason"] == "expired"
    bad = body | {"id_number": "440106199001011230"}
    resp = client.post("/api/v1/verify", json=bad, headers=_auth(keys["medical"]))
    assert resp.status_code == 409 and "id_number" in resp.json()["error"]
    resp = client.post("/api/v1/verify", json=body | {"name": "x"}, headers=_auth(keys["medical"]))
    assert resp.status_code == 409
    resp = client.post(
        "/api/v1/verify", json=body | {"purpose": ""}, headers=_auth(keys["medical"])
    )
    assert resp.status_code == 409
    refused = [e for e in read_audit(log_path(settings)) if e["path"] == "/api/v1/verify"]
    assert {401, 403, 409} <= {e["status"] for e in refused}
    assert verify_chain(log_path(settings)) is None


def test_changes_since_version(site) -> None:
    client, settings, written, keys = site
    url = "/api/v1/datasets/assistance_recipients_current/changes"
    full = client.get(url, params={"since_version": 0, "purpose": "首次全量"},
                      headers=_auth(keys["medical"])).json()  # fmt: skip
    assert full["version"] == 1 and full["count"] == len(written["assistance_recipients_current"])
    assert {c["_change"] for c in full["changes"]} == {"added"}

    # GIVEN a new version in which one case ended
    gone = written["assistance_recipients_current"][1]["id_number"]
    con = duckdb.connect(str(settings.warehouse))
    con.execute("delete from publish.pub_assistance_recipients_current where id_number = ?", [gone])
    con.close()
    publish_all(settings, now=NOW.replace(day=2))
    # WHEN the agency pulls the changes since the version it has
    resp = client.get(url, params={"since_version": 1}, headers=_auth(keys["medical"]))
    # THEN it gets exactly that removal, and the pull is audited with its row count
    assert resp.status_code == 200
    assert [(c["id_number"], c["_change"]) for c in resp.json()["changes"]] == [(gone, "removed")]
    assert _last_audit(settings)["rows"] == 1 and _last_audit(settings)["version"] == 2
    assert client.get(url, params={"since_version": 1}).status_code == 401
    assert (
        client.get(url, params={"since_version": 1}, headers=_auth(keys["social"])).status_code
        == 403
    )
    assert (
        client.get(url, params={"since_version": 9}, headers=_auth(keys["medical"])).status_code
        == 409
    )


def test_agency_created_while_serving_works_at_once(site) -> None:
    client, settings, _, _ = site
    key = create_agency(settings, "广州市教育局", ["assistance_recipients_current"], "2031-01-01")
    url = "/api/v1/datasets/assistance_recipients_current/changes"
    assert client.get(url, headers=_auth(key)).status_code == 200


def test_rate_limit_per_key(tmp_path) -> None:
    settings = load_settings(env={"CIVLAKE_HOME": str(tmp_path)})
    build_sample_warehouse(settings.warehouse)
    publish_all(settings, now=NOW)
    key = create_agency(settings, "频繁部门", ["deaths_registry"], None)
    app = create_app(settings, key_burst=3, key_rate_per_minute=1)
    with serve_in_background(app) as base, httpx.Client(base_url=base) as client:
        url = "/api/v1/datasets/deaths_registry/changes"
        codes = [client.get(url, headers=_auth(key)).status_code for _ in range(5)]
        assert codes == [200, 200, 200, 429, 429]
        resp = client.get(url, headers=_auth(key))
        assert int(resp.headers["Retry-After"]) >= 1
    assert read_audit(log_path(settings))[-1]["status"] == 429
