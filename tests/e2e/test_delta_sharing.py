"""Delta Sharing with the stock ``delta-sharing`` connector against a real server.

Two published versions of the sample warehouse (one recipient's case ended, one
changed, one added between them); agencies made by ``civlake agency create --profile``
as an administrator would; the agency side is the unmodified Python connector reading
its profile, and every answer is compared with the published Parquet read directly.
"""

from __future__ import annotations

import json
import shutil
import stat
from datetime import UTC, datetime, timedelta
from pathlib import Path
from urllib.parse import quote

import delta_sharing
import duckdb
import httpx
import pyarrow.parquet as pq
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from requests.exceptions import HTTPError

from civlake.agency import create_agency, revoke
from civlake.cli import main
from civlake.publish import publish_all
from civlake.publish.versions import version_dir
from civlake.serve.app import create_app
from civlake.serve.audit import log_path, read_audit, verify_chain
from civlake.serve.sharing.names import share_name
from civlake.serve.sharing.signing import FileGrant, load_sharing_secret, sign
from civlake.settings import REPO_ROOT, load_settings
from tests.support.sample_warehouse import build_sample_warehouse
from tests.support.server import serve_in_background

pytestmark = pytest.mark.e2e
DS = "assistance_recipients_current"
V1_AT = datetime(2026, 11, 1, 2, 0, tzinfo=UTC)
V2_AT = datetime(2026, 11, 2, 2, 0, tzinfo=UTC)
DISTRICT = "440106"  # 天河区
UNLIMITED = {"key_rate_per_minute": 10**6, "key_burst": 10**6,
             "public_rate_per_minute": 10**6, "public_burst": 10**6}  # fmt: skip


@pytest.fixture(scope="module")
def site(tmp_path_factory):
    home = tmp_path_factory.mktemp("sharing")
    settings = load_settings(env={"CIVLAKE_HOME": str(home)})
    written = build_sample_warehouse(settings.warehouse)
    publish_all(settings, now=V1_AT)
    changed = _change_warehouse(settings, written[DS])
    publish_all(settings, now=V2_AT)
    app = create_app(settings, **UNLIMITED)
    with serve_in_background(app) as base:
        profiles = {}
        with pytest.MonkeyPatch.context() as mp:
            mp.setenv("CIVLAKE_HOME", str(home))
            for who, name, extra in [
                ("medical", "广州市医疗保障局", ["--grant", DS, "--grant", "verify:is_alive"]),
                ("social", "广州市人社局", ["--grant", "deaths_registry"]),
                ("district", "天河区民政局", ["--grant", f"{DS}@{DISTRICT}"]),
                ("expired", "过期部门", ["--grant", DS, "--expires", "2020-01-01"]),
                ("revoked", "已撤销部门", ["--grant", DS]),
            ]:
                path = home / f"{who}.share"
                argv = [
                    "agency",
                    "create",
                    name,
                    *extra,
                    "--profile",
                    str(path),
                    "--endpoint",
                    base,
                ]
                assert main(argv) == 0
                profiles[who] = (str(path), share_name(name))
        yield settings, base, profiles, changed


def _change_warehouse(settings, rows: list[dict]) -> dict:
    """Between the versions: one case ends, one in the district changes, one is added."""
    in_district = [r for r in rows if r["division_code"].startswith(DISTRICT)]
    gone, edited = rows[0], in_district[-1]
    assert gone["id_number"] != edited["id_number"]
    con = duckdb.connect(str(settings.warehouse))
    table = "publish.pub_assistance_recipients_current"
    con.execute(f"delete from {table} where id_number = ?", [gone["id_number"]])
    new_type = "特困" if edited["assistance_type"] == "低保" else "低保"
    con.execute(f"update {table} set assistance_type = ? where id_number = ?",
                [new_type, edited["id_number"]])  # fmt: skip
    added = "440106199001019999"
    con.execute(f"insert into {table} select ? as id_number, * exclude (id_number) from {table} "
                "where id_number = ?", [added, edited["id_number"]])  # fmt: skip
    con.close()
    return {"gone": gone["id_number"], "edited": edited["id_number"], "added": added}


def _profile(profiles, who: str) -> dict:
    return json.loads(Path(profiles[who][0]).read_text(encoding="utf-8"))


def _url(profiles, who: str, table: str = DS, share: str | None = None) -> str:
    path, own = profiles[who]
    return f"{path}#{share or own}.civlake.{table}"


def _published(settings, version: int, district: str | None = None) -> list[dict]:
    rows = pq.read_table(version_dir(settings.publish, DS, version) / f"{DS}.parquet").to_pylist()
    return [r for r in rows if district is None or r["division_code"].startswith(district)]


def _records(frame) -> list[dict]:
    return sorted(
        frame.to_dict("records"), key=lambda r: json.dumps(r, sort_keys=True, default=str)
    )


def _expected_changes(old: list[dict], new: list[dict]) -> list[dict]:
    """The change feed from two versions, computed here without civlake's code."""
    before = {r["id_number"]: r for r in old}
    after = {r["id_number"]: r for r in new}
    out = [r | {"_change_type": "insert"} for k, r in after.items() if k not in before]
    out += [r | {"_change_type": "delete"} for k, r in before.items() if k not in after]
    for k in before.keys() & after.keys():
        if before[k] != after[k]:
            out += [before[k] | {"_change_type": "update_preimage"},
                    after[k] | {"_change_type": "update_postimage"}]  # fmt: skip
    return out


def _last_audit(settings, **match) -> dict:
    lines = [e for e in read_audit(log_path(settings)) if match.items() <= e.items()]
    return lines[-1]


def test_profile_is_the_agency_key_with_its_expiry_and_private(site) -> None:
    _, base, profiles, _ = site
    path = profiles["expired"][0]
    content = _profile(profiles, "expired")
    assert content["shareCredentialsVersion"] == 1
    assert content["endpoint"] == base.rstrip("/") + "/delta-sharing"
    assert content["bearerToken"].startswith("clk_")
    assert content["expirationTime"] == "2020-01-02T00:00:00Z"  # valid through 2020-01-01 UTC
    assert stat.S_IMODE(Path(path).stat().st_mode) == 0o600


def test_list_all_tables_is_exactly_the_granted_published_tables(site) -> None:
    settings, _, profiles, _ = site
    medical = delta_sharing.SharingClient(profiles["medical"][0])
    tables = medical.list_all_tables()
    assert [(t.share, t.schema, t.name) for t in tables] == [
        (profiles["medical"][1], "civlake", DS)
    ]
    social = delta_sharing.SharingClient(profiles["social"][0]).list_all_tables()
    assert [t.name for t in social] == ["deaths_registry"]
    assert _last_audit(settings, agency="广州市人社局")["action"] == "sharing_list"


@pytest.mark.parametrize("version", [1, 2])
def test_load_as_pandas_returns_the_published_rows_of_a_version(site, version) -> None:
    settings, _, profiles, changed = site
    before = len(read_audit(log_path(settings)))
    frame = delta_sharing.load_as_pandas(_url(profiles, "medical"), version=version)
    assert _records(frame) == _records_of(_published(settings, version))
    assert (changed["added"] in set(frame["id_number"])) == (version == 2)
    # every request audited: the query, then each fetch of the file by its signed URL,
    # whose rows count once however many range requests the reader makes
    lines = read_audit(log_path(settings))[before:]
    assert [e["action"] for e in lines[:2]] == ["sharing_metadata", "sharing_query"]
    fetches = lines[2:]
    assert fetches and {e["action"] for e in fetches} == {"sharing_file"}
    assert {(e["agency"], e["dataset"], e["version"], e["status"] // 100) for e in fetches} == {
        ("广州市医疗保障局", DS, version, 2)
    }
    assert sum(e["rows"] for e in fetches) == len(frame)


def _records_of(rows: list[dict]):
    import pandas as pd

    return _records(pd.DataFrame(rows))


def test_latest_and_timestamp_pick_the_version_current_then(site) -> None:
    settings, _, profiles, _ = site
    url = _url(profiles, "medical")
    assert delta_sharing.get_table_version(url) == 2
    latest = delta_sharing.load_as_pandas(url)
    assert _records(latest) == _records_of(_published(settings, 2))
    between = (V1_AT + timedelta(hours=12)).strftime("%Y-%m-%dT%H:%M:%SZ")
    then = delta_sharing.load_as_pandas(url, timestamp=between)
    assert _records(then) == _records_of(_published(settings, 1))


def test_table_changes_are_exactly_the_rows_changed_between_versions(site) -> None:
    settings, _, profiles, changed = site
    url = _url(profiles, "medical")
    frame = delta_sharing.load_table_changes_as_pandas(url, starting_version=2, ending_version=2)
    assert set(frame["_commit_version"]) == {2}
    assert set(frame["_commit_timestamp"]) == {int(V2_AT.timestamp() * 1000)}
    got = frame.drop(columns=["_commit_version", "_commit_timestamp"])
    expected = _expected_changes(_published(settings, 1), _published(settings, 2))
    assert _records(got) == _records_of(expected)
    kinds = {(r["id_number"], r["_change_type"]) for r in expected}
    assert kinds == {(changed["gone"], "delete"), (changed["added"], "insert"),
                     (changed["edited"], "update_preimage"), (changed["edited"], "update_postimage")}  # fmt: skip
    # From the first version: version 1 arrives as inserts, then version 2's changes.
    both = delta_sharing.load_table_changes_as_pandas(url, starting_version=1, ending_version=2)
    assert (both["_commit_version"] == 1).sum() == len(_published(settings, 1))
    assert set(both.loc[both["_commit_version"] == 1, "_change_type"]) == {"insert"}
    assert (both["_commit_version"] == 2).sum() == len(expected)


def test_district_scoped_grant_sees_only_its_district(site) -> None:
    settings, _, profiles, changed = site
    url = _url(profiles, "district")
    frame = delta_sharing.load_as_pandas(url, version=2)
    mine = _published(settings, 2, DISTRICT)
    assert 0 < len(mine) < len(_published(settings, 2))
    assert _records(frame) == _records_of(mine)
    changes = delta_sharing.load_table_changes_as_pandas(url, starting_version=2)
    expected = _expected_changes(_published(settings, 1, DISTRICT), mine)
    assert _records(changes.drop(columns=["_commit_version", "_commit_timestamp"])) == _records_of(
        expected
    )
    assert changed["gone"] not in set(changes["id_number"]) or changed["gone"].startswith(DISTRICT)
    assert _last_audit(settings, action="sharing_file", agency="天河区民政局")["scope"] == DISTRICT


def test_ungranted_table_and_other_share_are_refused_and_audited(site) -> None:
    settings, _, profiles, _ = site
    with pytest.raises(HTTPError) as refused:
        delta_sharing.load_as_pandas(_url(profiles, "social", DS))
    assert refused.value.response.status_code == 403
    assert refused.value.response.json()["errorCode"] == "PERMISSION_DENIED"
    entry = _last_audit(settings, agency="广州市人社局")
    assert entry["status"] == 403 and entry["dataset"] == DS and "no grant" in entry["reason"]
    with pytest.raises(HTTPError) as other:
        delta_sharing.load_as_pandas(_url(profiles, "social", DS, share=profiles["medical"][1]))
    assert other.value.response.status_code == 404
    assert _last_audit(settings, agency="广州市人社局")["outcome"] == "refused"


@pytest.mark.parametrize(("who", "reason"), [("expired", "expired"), ("revoked", "revoked")])
def test_expired_or_revoked_profile_is_refused_and_audited(site, who, reason) -> None:
    settings, _, profiles, _ = site
    if who == "revoked":
        revoke(settings, "已撤销部门")
    with pytest.raises(HTTPError) as refused:
        delta_sharing.SharingClient(profiles[who][0]).list_all_tables()
    assert refused.value.response.status_code == 401
    assert refused.value.response.json()["errorCode"] == "UNAUTHENTICATED"
    entry = read_audit(log_path(settings))[-1]
    assert entry["status"] == 401 and entry["reason"].startswith(f"{reason}: ")


def _query(base: str, profiles, who: str) -> list[dict]:
    share = profiles[who][1]
    key = _profile(profiles, who)["bearerToken"]
    resp = httpx.post(
        f"{base}delta-sharing/shares/{share}/schemas/civlake/tables/{DS}/query",
        json={"version": 1}, headers={"Authorization": f"Bearer {key}"}, timeout=10,
    )  # fmt: skip
    assert resp.status_code == 200 and resp.headers["delta-table-version"] == "1"
    return [json.loads(line) for line in resp.text.splitlines()]


def test_signed_urls_tampered_or_expired_are_refused_and_audited(site) -> None:
    settings, base, profiles, _ = site
    url = _query(base, profiles, "medical")[2]["file"]["url"]
    ok = httpx.get(url, timeout=10)
    assert ok.status_code == 200 and ok.content[:4] == b"PAR1"
    assert _last_audit(settings)["rows"] == len(_published(settings, 1))
    token = url.rsplit("/", 1)[1]
    payload, mac = token.split(".")
    # the same URL naming another dataset (payload edited), and a MAC with one bit flipped
    edited = payload[:-2] + ("A" if payload[-2] != "A" else "B") + payload[-1]
    flipped = mac[:-1] + ("A" if mac[-1] != "A" else "B")
    for bad in (f"{edited}.{mac}", f"{payload}.{flipped}", "not-a-token"):
        resp = httpx.get(f"{base}delta-sharing/files/{bad}", timeout=10)
        assert resp.status_code == 403 and resp.json()["errorCode"] == "PERMISSION_DENIED"
        entry = _last_audit(settings)
        assert entry["status"] == 403 and entry["reason"].startswith(("tampered", "malformed"))
        assert entry["rows"] == 0
    key_id = _profile(profiles, "medical")["bearerToken"].split("_")[1]
    stale = FileGrant(key_id, DS, 1, "data", "all", int(datetime.now(UTC).timestamp()) - 1)
    resp = httpx.get(f"{base}delta-sharing/files/{sign(stale, load_sharing_secret(settings))}")
    assert resp.status_code == 403 and "expired" in resp.json()["message"]
    assert _last_audit(settings)["reason"].startswith("expired")
    assert verify_chain(log_path(settings)) is None


def test_readme_lines_for_agencies_work_as_written(site, tmp_path, monkeypatch) -> None:
    settings, _, profiles, _ = site
    readme = (REPO_ROOT / "README.md").read_text(encoding="utf-8")
    section = readme.split("**Agencies with stock tools: Delta Sharing.**", 1)[1]
    code = section.split("```python\n", 1)[1].split("```", 1)[0]
    # GIVEN the profile `civlake agency create ... --profile agency.share` wrote
    shutil.copy(profiles["medical"][0], tmp_path / "agency.share")
    monkeypatch.chdir(tmp_path)
    # WHEN the agency runs the README's lines THEN it has the latest rows and the changes
    names: dict = {}
    exec(compile(code, "README.md", "exec"), names)
    assert _records(names["df"]) == _records_of(_published(settings, 2))
    changes = names["new"].drop(columns=["_commit_version", "_commit_timestamp"])
    expected = _expected_changes(_published(settings, 1), _published(settings, 2))
    assert _records(changes) == _records_of(expected)


def test_versions_by_time_limits_and_streaming_queries(site) -> None:
    _, base, profiles, _ = site
    url = _url(profiles, "medical")
    after_v1 = (V1_AT + timedelta(hours=1)).strftime("%Y-%m-%dT%H:%M:%SZ")
    assert delta_sharing.get_table_version(url, starting_timestamp=after_v1) == 2
    assert len(delta_sharing.load_as_pandas(url, limit=3)) == 3
    meta = delta_sharing.get_table_metadata(url)
    assert meta.name == DS and meta.configuration == {"enableChangeDataFeed": "true"}
    # GIVEN a streaming reader's query from version 1 (the Spark connector sends these)
    share = profiles["medical"][1]
    key = _profile(profiles, "medical")["bearerToken"]
    resp = httpx.post(
        f"{base}delta-sharing/shares/{share}/schemas/civlake/tables/{DS}/query",
        json={"startingVersion": 1}, headers={"Authorization": f"Bearer {key}"}, timeout=10,
    )  # fmt: skip
    # THEN each version arrives as its file, replacing the one before
    lines = [json.loads(line) for line in resp.text.splitlines()]
    actions = [(kind, body["version"]) for line in lines[2:] for kind, body in line.items()]
    assert actions == [("add", 1), ("add", 2), ("remove", 2)]
    assert resp.headers["delta-table-version"] == "1"
    for line in lines[2:]:
        (body,) = line.values()
        fetched = httpx.get(body["url"], timeout=10)
        assert fetched.status_code == 200 and len(fetched.content) == body["size"]


def test_urls_handed_out_die_with_their_key(site) -> None:
    settings, base, _, _ = site
    # GIVEN an agency that queried and holds a signed URL
    key = create_agency(settings, "即将撤销部门", [DS], "2030-12-31")
    share = share_name("即将撤销部门")
    resp = httpx.post(
        f"{base}delta-sharing/shares/{share}/schemas/civlake/tables/{DS}/query",
        json={}, headers={"Authorization": f"Bearer {key}"}, timeout=10,
    )  # fmt: skip
    url = json.loads(resp.text.splitlines()[2])["file"]["url"]
    assert httpx.get(url, timeout=10).status_code == 200
    # WHEN its key is revoked THEN the URL it still holds is refused, and audited
    revoke(settings, "即将撤销部门")
    refused = httpx.get(url, timeout=10)
    assert refused.status_code == 403 and refused.json()["message"].startswith("revoked")
    entry = _last_audit(settings)
    assert (entry["agency"], entry["status"], entry["rows"]) == ("即将撤销部门", 403, 0)


def test_pages_and_bad_parameters_answer_in_the_protocols_shape(site) -> None:
    settings, base, profiles, _ = site
    share = profiles["medical"][1]
    auth = {"Authorization": f"Bearer {_profile(profiles, 'medical')['bearerToken']}"}
    with httpx.Client(base_url=f"{base}delta-sharing", headers=auth, timeout=10) as client:
        empty = client.get("/shares", params={"maxResults": 0}).json()
        assert empty == {"items": [], "nextPageToken": "0"}
        assert [s["name"] for s in client.get("/shares", params={"pageToken": "0"}).json()["items"]] == [share]  # fmt: skip
        table = f"/shares/{share}/schemas/civlake/tables/{DS}"
        for method, path, kwargs in [
            ("POST", "/query", {"json": {"version": 9}}),
            ("POST", "/query", {"json": {"version": 1, "timestamp": "2026-11-01T00:00:00Z"}}),
            ("POST", "/query", {"content": b"[1]"}),
            ("POST", "/query", {"json": {"timestamp": 5}}),
            ("GET", "/changes", {}),
            ("GET", "/changes", {"params": {"startingVersion": 3}}),
            ("GET", "/metadata", {"params": {"timestamp": "yesterday"}}),
        ]:
            resp = client.request(method, table + path, **kwargs)
            assert resp.status_code == 400, (path, kwargs)
            assert resp.json()["errorCode"] == "INVALID_PARAMETER_VALUE" and resp.json()["message"]
            assert _last_audit(settings)["outcome"] == "refused"
        assert client.get(f"/shares/{share}/schemas/other/tables").status_code == 404


def test_rotate_writes_a_new_profile_and_the_old_one_stops(site, tmp_path, monkeypatch) -> None:
    settings, base, _, _ = site
    monkeypatch.setenv("CIVLAKE_HOME", str(settings.home))
    old, new = tmp_path / "old.share", tmp_path / "new.share"
    assert main(["agency", "create", "轮换部门", "--grant", DS, "--profile", str(old),
                 "--endpoint", base]) == 0  # fmt: skip
    assert [t.name for t in delta_sharing.SharingClient(str(old)).list_all_tables()] == [DS]
    assert main(["agency", "rotate", "轮换部门", "--profile", str(new), "--endpoint", base]) == 0
    assert stat.S_IMODE(new.stat().st_mode) == 0o600
    assert [t.name for t in delta_sharing.SharingClient(str(new)).list_all_tables()] == [DS]
    with pytest.raises(HTTPError) as refused:
        delta_sharing.SharingClient(str(old)).list_all_tables()
    assert refused.value.response.status_code == 401


def test_typed_columns_arrive_as_published(site) -> None:
    # deaths_registry has date columns: the schema string must name them so the
    # connector converts them (a wrong type here fails in the client, not the server)
    settings, _, profiles, _ = site
    frame = delta_sharing.load_as_pandas(_url(profiles, "social", "deaths_registry"))
    path = version_dir(settings.publish, "deaths_registry", 1) / "deaths_registry.parquet"
    assert len(frame) > 0
    assert _records(frame) == _records_of(pq.read_table(path).to_pylist())


@settings(max_examples=40, derandomize=True, database=None, deadline=None,
          suppress_health_check=list(HealthCheck))  # fmt: skip
@given(
    part=st.text(min_size=1, max_size=40).filter(lambda t: "/" not in t and t not in {".", ".."}),
    value=st.one_of(st.text(max_size=30), st.integers(-(10**20), 10**20), st.none(), st.booleans()),
    field=st.sampled_from(
        ["version", "timestamp", "startingVersion", "endingVersion", "limitHint"]
    ),
)
def test_odd_names_and_values_never_break_the_server(site, part, value, field) -> None:
    _, base, profiles, _ = site
    share = profiles["medical"][1]
    auth = {"Authorization": f"Bearer {_profile(profiles, 'medical')['bearerToken']}"}
    quoted = quote(part, safe="")
    with httpx.Client(base_url=f"{base}delta-sharing", headers=auth, timeout=10) as client:
        for method, path, kwargs in [
            ("GET", f"/shares/{quoted}/all-tables", {}),
            ("GET", f"/shares/{share}/schemas/civlake/tables/{quoted}/metadata", {}),
            ("POST", f"/shares/{share}/schemas/civlake/tables/{DS}/query", {"json": {field: value}}),
            ("GET", f"/shares/{share}/schemas/civlake/tables/{DS}/changes",
             {"params": {field: "" if value is None else str(value)}}),
            ("GET", f"/files/{quoted}", {}),
        ]:  # fmt: skip
            resp = client.request(method, path, **kwargs)
            assert resp.status_code < 500, (method, path, kwargs, resp.text)
            if resp.status_code >= 400:  # the protocol's shape; the guard's own refusals
                body = resp.json()  # (a NUL, a path trick) keep the server-wide envelope
                assert "errorCode" in body or body.get("success") is False
