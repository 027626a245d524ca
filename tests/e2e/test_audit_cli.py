"""``civlake audit verify | checkpoint | show`` on the log a real server wrote from hostile
requests: it verifies, reads back record by record, and a cut tail is caught."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import httpx
import pytest

from civlake.agency import create_agency
from civlake.serve.app import create_app
from civlake.serve.audit import log_path
from civlake.settings import load_settings
from tests.support.sample_warehouse import build_sample_warehouse
from tests.support.server import serve_in_background

pytestmark = pytest.mark.e2e
CIVLAKE = str(Path(sys.executable).parent / "civlake")
AGENCY = "广州市医疗保障局"
PURPOSE = "医保\u2028核验\u2029\x85\x0b\x1c\x00\x1b[2J\u202e"


def _civlake(home: Path, *args: str) -> subprocess.CompletedProcess:
    env = {k: v for k, v in os.environ.items() if not k.startswith("CIVLAKE_")}
    env["CIVLAKE_HOME"] = str(home)
    return subprocess.run(
        [CIVLAKE, "audit", *args], env=env, capture_output=True, text=True, timeout=120
    )


@pytest.fixture(scope="module")
def served(tmp_path_factory):
    home = tmp_path_factory.mktemp("audit")
    settings = load_settings(env={"CIVLAKE_HOME": str(home)})
    written = build_sample_warehouse(settings.warehouse)
    key = create_agency(settings, AGENCY, ["verify:is_alive"], "2030-12-31")
    id_number = written["persons"][0]["id_number"]
    auth = {"Authorization": f"Bearer {key}"}
    with serve_in_background(create_app(settings)) as base, httpx.Client(base_url=base) as client:
        # GIVEN requests carrying line separators, controls and a lone surrogate in every
        # field a client controls: path, query, purpose; with and without a key
        client.get("/api/v1/datasets/a\u2028b\x85/changes", params={"purpose": PURPOSE})
        ok = client.post("/api/v1/verify", headers=auth,
                         json={"question": "is_alive", "id_number": id_number, "purpose": PURPOSE})  # fmt: skip
        assert ok.status_code == 200
        body = '{"question": "is_alive", "id_number": "%s", "purpose": "x\\ud800\\u2028"}'
        lone = client.post("/api/v1/verify", headers=auth | {"content-type": "application/json"},
                           content=(body % id_number).encode())  # fmt: skip
        assert lone.status_code < 500
        client.post("/api/v1/verify", json={"purpose": "\u2028" * 1_000_000}, headers=auth)
        client.get("/api/3/action/package_search", params={"q": "低保\u2028\r\n"})
    return home, settings


def test_audit_verify_accepts_the_log_hostile_requests_left(served) -> None:
    home, settings = served
    assert b"\xe2\x80\xa8" not in log_path(settings).read_bytes()
    result = _civlake(home, "verify")
    assert result.returncode == 0, result.stdout + result.stderr
    assert "intact, 5 lines" in result.stdout


def test_audit_show_gives_reviewers_each_record_and_filters(served) -> None:
    home, _ = served
    shown = _civlake(home, "show", "--agency", AGENCY, "--json")
    assert shown.returncode == 0, shown.stderr
    records = [json.loads(line) for line in shown.stdout.splitlines()]
    # the verification and the lone-surrogate request (answered or refused, audited either way)
    assert len(records) == 2 and all(r["agency"] == AGENCY for r in records)
    assert records[0]["purpose"] == PURPOSE and records[0]["status"] == 200
    refused = _civlake(home, "show", "--status", "refused", "--json").stdout.splitlines()
    assert {401, 413} <= {json.loads(line)["status"] for line in refused}
    assert _civlake(home, "show", "--status", "401", "--json").stdout.count("\n") == 1
    assert _civlake(home, "show", "--since", "2100-01-01", "--json").stdout == ""
    assert len(_civlake(home, "show", "--until", "2100-01-01", "--json").stdout.splitlines()) == 5
    table = _civlake(home, "show", "--status", "200")
    assert table.returncode == 0 and AGENCY in table.stdout
    # Escaped for the screen: nothing a client sent can break a line or drive the terminal.
    assert "\\u2028" in table.stdout
    assert not any(c in table.stdout for c in "\u2028\u2029\x85\x1b\u202e\x00")
    bad = _civlake(home, "show", "--since", "yesterday")
    assert bad.returncode == 2 and "not a date" in bad.stdout


def test_checkpoint_then_a_cut_tail_fails_verify_naming_the_line(served, tmp_path) -> None:
    home, settings = served
    taken = _civlake(home, "checkpoint")
    assert taken.returncode == 0 and "seq 5" in taken.stdout, taken.stdout + taken.stderr
    log = log_path(settings)
    kept = log.read_bytes()
    try:
        # WHEN the last line is cut (what the server account could do to hide a pull)
        log.write_bytes(b"".join(line + b"\n" for line in kept.split(b"\n")[:3]))
        result = _civlake(home, "verify")
        # THEN verify fails and names where the missing lines begin
        assert result.returncode == 1
        assert "line 4: truncated" in result.stdout
        assert _civlake(home, "checkpoint").returncode == 1  # no checkpoint of a bad log
        # WHEN a line is edited instead
        lines = kept.split(b"\n")
        lines[1] = lines[1].replace(b'"status": 200', b'"status": 403')
        log.write_bytes(b"\n".join(lines))
        assert "line 2: edited" in _civlake(home, "verify").stdout
    finally:
        log.write_bytes(kept)
    assert _civlake(home, "verify").returncode == 0
