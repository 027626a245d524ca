"""``civlake agency create | list | revoke | rotate`` as an administrator runs them."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from datetime import UTC, datetime, timedelta

import pytest

from civlake.agency import load_agencies
from civlake.settings import load_settings


@pytest.fixture
def civlake(tmp_path):
    env = {**os.environ, "CIVLAKE_HOME": str(tmp_path / "data"), "COLUMNS": "200"}

    def run(*argv: str, ok: bool = True) -> subprocess.CompletedProcess:
        done = subprocess.run(
            [sys.executable, "-m", "civlake.cli", "agency", *argv],
            env=env, capture_output=True, text=True, timeout=120,
        )  # fmt: skip
        assert (done.returncode == 0) == ok, done.stdout + done.stderr
        return done

    run.settings = load_settings(env={"CIVLAKE_HOME": str(tmp_path / "data")})
    return run


def _key(done: subprocess.CompletedProcess) -> str:
    # Acceptance scripts take the key as the last line, alone.
    key = done.stdout.rstrip("\n").rsplit("\n", 1)[-1]
    assert key.startswith("clk_") and " " not in key
    return key


def test_list_shows_keys_lifecycle_but_never_a_key_or_hash(civlake) -> None:
    # GIVEN two agencies, one rotated and one revoked
    keys = [_key(civlake("create", "市医保局", "--grant", "deaths_registry"))]
    keys.append(_key(civlake("create", "市教育局", "--grant", "verify:is_alive")))
    keys.append(_key(civlake("rotate", "市医保局")))
    civlake("revoke", "市教育局")
    hashes = [a.key_sha256 for a in load_agencies(civlake.settings).values()]
    # WHEN the administrator lists them, as a table and as JSON
    table = civlake("list").stdout
    rows = json.loads(civlake("list", "--json").stdout)
    # THEN every key is there with its status, and no secret is printed
    for secret in [*keys, *hashes, *(k[len("clk_0123456789ab_") :] for k in keys)]:
        assert secret not in table and secret not in json.dumps(rows)
    status = sorted((r["name"], r["status"]) for r in rows)
    assert status == [("市医保局", "active"), ("市医保局", "revoked"), ("市教育局", "revoked")]
    assert all(r["key_id"] in table for r in rows)
    assert table.count("revoked") == 2 and "active" in table
    assert set(rows[0]) == {
        "name", "key_id", "grants", "scopes", "created", "expires", "status", "revoked"
    }  # fmt: skip


def test_create_defaults_to_a_365_day_expiry_and_refuses_never(civlake) -> None:
    today = datetime.now(UTC).date()
    civlake("create", "默认局", "--grant", "deaths_registry")
    civlake("create", "指定局", "--grant", "deaths_registry", "--expires", "2030-06-30")
    done = civlake("create", "永久局", "--grant", "deaths_registry", "--expires", "never", ok=False)
    assert done.returncode == 2 and "keys expire" in done.stdout and "Traceback" not in done.stderr
    rows = {r["name"]: r for r in json.loads(civlake("list", "--json").stdout)}
    # the test may straddle midnight UTC: created and expiry are read from the same row
    created = datetime.fromisoformat(rows["默认局"]["created"]).date()
    assert created in (today, today + timedelta(days=1))
    assert rows["默认局"]["expires"] == (created + timedelta(days=365)).isoformat()
    assert rows["指定局"]["expires"] == "2030-06-30" and set(rows) == {"默认局", "指定局"}


def test_revoke_and_rotate_by_cli(civlake) -> None:
    first = _key(civlake("create", "轮换局", "--grant", "deaths_registry"))
    second = _key(civlake("rotate", "轮换局", "--grace-days", "3", "--expires", "2031-01-01"))
    assert second != first
    rows = json.loads(civlake("list", "--json").stdout)
    rotated = datetime.fromisoformat(
        next(r for r in rows if r["expires"] == "2031-01-01")["created"]
    )
    grace_end = (rotated.date() + timedelta(days=3)).isoformat()
    assert sorted(r["expires"] for r in rows) == sorted([grace_end, "2031-01-01"])
    assert {r["status"] for r in rows} == {"active"}
    # revoke one key by its id; the other keeps working
    old_id = next(r["key_id"] for r in rows if r["expires"] == grace_end)
    assert old_id in civlake("revoke", old_id).stdout
    status = {r["key_id"]: r["status"] for r in json.loads(civlake("list", "--json").stdout)}
    assert status[old_id] == "revoked" and sorted(status.values()) == ["active", "revoked"]
    assert "already revoked" in civlake("revoke", old_id).stdout
    assert "no agency or key id" in civlake("revoke", "无此局", ok=False).stdout
    assert "no agency" in civlake("rotate", "无此局", ok=False).stdout


def test_district_office_and_scoped_grants_by_cli(civlake) -> None:
    # GIVEN a district office and a street-scoped grant, as an administrator types them
    _key(civlake("create", "天河区民政局", "--district", "440106"))
    _key(civlake("create", "天河某街道", "--grant", "deaths_registry@440106001000",
                 "--grant", "verify:is_alive"))  # fmt: skip
    # WHEN the register is listed
    rows = {r["name"]: r for r in json.loads(civlake("list", "--json").stdout)}
    table = civlake("list").stdout
    # THEN the office holds its residents' person-level datasets, reviews and worklists
    office = rows["天河区民政局"]
    assert "assistance_recipients_current@440106" in office["grants"]
    assert "deaths_registry@440106" in office["grants"]
    assert office["grants"][-2:] == ["review:440106", "worklist:440106"]
    assert office["scopes"]["deaths_registry"] == ["440106"]
    assert rows["天河某街道"]["scopes"] == {"deaths_registry": ["440106001"]}
    assert "deaths_registry@440106001" in table
    # AND bad codes are refused with the reason, not a traceback
    for argv, says in (
        (["--district", "4401"], "not a district code"),
        (["--district", "440100"], "city or province"),
        (["--grant", "assistance_statistics@440106"], "无条件开放"),
        (["--grant", "deaths_registry@440106001002"], "village"),
    ):
        done = civlake("create", "某区", *argv, ok=False)
        assert says in done.stdout and "Traceback" not in done.stderr, done.stdout
