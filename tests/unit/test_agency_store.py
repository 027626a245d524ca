"""The agency register: concurrent writers, default expiry, rotation, revocation, the
legacy JSON file, and the reasons a key is refused."""

from __future__ import annotations

import hashlib
import json
import multiprocessing
import sqlite3
from datetime import UTC, date, datetime, timedelta

import pytest

from civlake.agency import (
    AgencyError,
    KeyRefused,
    Register,
    check_key,
    create_agency,
    load_agencies,
    revoke,
    rotate_key,
)
from civlake.agency.store import register_path
from civlake.publish.catalog import load_catalog
from civlake.settings import load_settings
from tests.support.agency_cli import agency_cli

NOW = datetime(2026, 11, 2, 8, 0, tzinfo=UTC)
TODAY = NOW.date()


def _refusal(settings, key: str | None, today: date = TODAY) -> str:
    with pytest.raises(KeyRefused) as refused:
        check_key(load_agencies(settings), key, today)
    assert refused.value.message.startswith(f"{refused.value.reason}: ")
    return refused.value.reason


def _create_ten(home: str, worker: int, start, keys) -> None:
    settings = load_settings(env={"CIVLAKE_HOME": home})
    start.wait()
    for n in range(10):
        keys.put(create_agency(settings, f"部门{worker}-{n}", ["deaths_registry"], None))


def test_concurrent_creates_lose_nothing(tmp_path, monkeypatch) -> None:
    # The catalog is parsed once here, not 80 times (0.4 s each): the race is in the write.
    catalog = load_catalog()
    monkeypatch.setattr("civlake.publish.catalog.load_catalog", lambda *a, **k: catalog)
    # GIVEN 8 processes that each create 10 agencies in a fresh register, released at once
    ctx = multiprocessing.get_context("fork")
    start, keys = ctx.Event(), ctx.Queue()
    workers = [
        ctx.Process(target=_create_ten, args=(str(tmp_path), w, start, keys)) for w in range(8)
    ]
    for w in workers:
        w.start()
    start.set()
    issued = [keys.get(timeout=120) for _ in range(80)]
    for w in workers:
        w.join(timeout=60)
    # THEN every create succeeded, all 80 are registered, and every key works
    assert [w.exitcode for w in workers] == [0] * 8
    settings = load_settings(env={"CIVLAKE_HOME": str(tmp_path)})
    agencies = load_agencies(settings)
    assert len(agencies) == 80 and len({a.name for a in agencies.values()}) == 80
    assert {check_key(agencies, k, TODAY).key_id for k in issued} == set(agencies)


def test_default_expiry_is_365_days_after_creation(settings) -> None:
    create_agency(settings, "默认期限局", ["deaths_registry"], None, now=NOW)
    create_agency(settings, "指定期限局", ["deaths_registry"], "2027-03-31", now=NOW)
    expiry = {a.name: a.expires for a in load_agencies(settings).values()}
    assert expiry == {"默认期限局": TODAY + timedelta(days=365), "指定期限局": date(2027, 3, 31)}
    for never in ("never", "NEVER", "none"):
        with pytest.raises(AgencyError, match="keys expire"):
            create_agency(settings, "永久局", ["deaths_registry"], never, now=NOW)
    with pytest.raises(AgencyError, match="already exists"):
        create_agency(settings, "默认期限局", ["deaths_registry"], None, now=NOW)


def test_key_refusals_name_the_reason(settings) -> None:
    key = create_agency(settings, "原因局", ["deaths_registry"], "2027-01-31", now=NOW)
    assert check_key(load_agencies(settings), key, date(2027, 1, 31)).name == "原因局"
    assert _refusal(settings, key, date(2027, 2, 1)) == "expired"
    assert _refusal(settings, None) == "missing"
    assert _refusal(settings, "") == "missing"
    assert _refusal(settings, "Bearer-ish nonsense") == "malformed"
    assert _refusal(settings, key[:-1]) == "malformed"
    assert _refusal(settings, key[:-1] + ("A" if key[-1] != "A" else "B")) == "unknown key"
    revoke(settings, "原因局", now=NOW)
    assert _refusal(settings, key) == "revoked"  # revoked wins over valid dates


def test_rotate_replaces_the_key_at_once(settings) -> None:
    old = create_agency(settings, "轮换局", ["deaths_registry"], None, now=NOW)
    new = rotate_key(settings, "轮换局", now=NOW + timedelta(days=30))
    agencies = load_agencies(settings)
    fresh = check_key(agencies, new, TODAY)
    assert fresh.expires == TODAY + timedelta(days=30 + 365)
    assert fresh.grants == ("deaths_registry",)
    assert _refusal(settings, old) == "revoked"
    assert sorted(a.status(TODAY) for a in agencies.values()) == ["active", "revoked"]
    with pytest.raises(AgencyError, match="no agency"):
        rotate_key(settings, "没有这个局", now=NOW)


def test_rotate_with_grace_keeps_the_old_key_n_days(settings) -> None:
    old = create_agency(settings, "宽限局", ["deaths_registry"], None, now=NOW)
    new = rotate_key(settings, "宽限局", grace_days=7, expires="2027-06-30", now=NOW)
    last_day = TODAY + timedelta(days=7)
    assert check_key(load_agencies(settings), old, last_day).name == "宽限局"
    assert _refusal(settings, old, last_day + timedelta(days=1)) == "expired"
    assert check_key(load_agencies(settings), new, date(2027, 6, 30)).name == "宽限局"


def test_revoke_by_name_or_by_key_id(settings) -> None:
    a = create_agency(settings, "甲局", ["deaths_registry"], None, now=NOW)
    b = create_agency(settings, "乙局", ["deaths_registry"], None, now=NOW)
    b_id = check_key(load_agencies(settings), b, TODAY).key_id
    assert revoke(settings, b_id, now=NOW) == [b_id]
    assert revoke(settings, b_id, now=NOW) == []  # already revoked: nothing more to do
    assert _refusal(settings, b) == "revoked"
    assert check_key(load_agencies(settings), a, TODAY).name == "甲局"
    assert len(revoke(settings, "甲局", now=NOW)) == 1
    assert _refusal(settings, a) == "revoked"
    with pytest.raises(AgencyError, match="no agency or key id"):
        revoke(settings, "丙局", now=NOW)


def test_a_running_register_sees_other_connections_commits(settings) -> None:
    # GIVEN the register a server holds, already read once
    key = create_agency(settings, "在线局", ["deaths_registry"], None, now=NOW)
    served = Register(settings)
    assert check_key(served.current(), key, TODAY).name == "在线局"
    unchanged = served.current()
    assert served.current() is unchanged  # no reload while nothing changed
    # WHEN another connection revokes the key
    revoke(settings, "在线局", now=NOW)
    # THEN the next lookup refuses it
    with pytest.raises(KeyRefused, match=r"^revoked: "):
        check_key(served.current(), key, TODAY)


def test_another_connection_of_this_process_does_not_blind_a_running_register(
    settings,
) -> None:
    # GIVEN a server's register, and another connection opened and closed in the same
    # process (as an in-process create does): closing a descriptor of the file must not
    # drop the register's locks, or another process deletes the WAL under it
    key = create_agency(settings, "在线局", ["deaths_registry"], None, now=NOW)
    served = Register(settings)
    assert check_key(served.current(), key, TODAY).name == "在线局"
    for round_ in range(3):
        load_agencies(settings)
        # WHEN another process commits
        agency_cli(settings, "create", f"新局{round_}", "--grant", "deaths_registry")
        # THEN the running register sees it
        assert f"新局{round_}" in {a.name for a in served.current().values()}
    agency_cli(settings, "revoke", "在线局")
    with pytest.raises(KeyRefused, match=r"^revoked: "):
        check_key(served.current(), key, TODAY)


def test_a_legacy_agencies_json_is_imported_once(settings) -> None:
    # GIVEN a register written by the JSON store, one key without an expiry
    key = "clk_0123456789ab_" + "k" * 43
    rows = [
        {"name": "旧局", "key_id": "0123456789ab", "grants": ["deaths_registry"],
         "key_sha256": hashlib.sha256(key.encode()).hexdigest(), "expires": None,
         "created_at": "2025-01-02T03:04:05+00:00"},
        {"name": "旧二局", "key_id": "ba9876543210", "grants": ["verify:is_alive"],
         "key_sha256": "0" * 64, "expires": "2026-12-31",
         "created_at": "2025-01-02T03:04:05+00:00"},
    ]  # fmt: skip
    legacy = settings.state_dir / "agencies.json"
    legacy.parent.mkdir(parents=True)
    legacy.write_text(json.dumps({"agencies": rows}, ensure_ascii=False), "utf-8")
    # WHEN the register is first opened
    agencies = load_agencies(settings)
    # THEN the old key works, gets an expiry, and the file is set aside, not read again
    assert check_key(agencies, key, TODAY).expires > TODAY
    assert agencies["ba9876543210"].expires == date(2026, 12, 31)
    assert not legacy.exists() and legacy.with_name("agencies.json.migrated").is_file()
    legacy.write_text(json.dumps({"agencies": [rows[0] | {"key_id": "ffffffffffff"}]}), "utf-8")
    assert set(load_agencies(settings)) == {"0123456789ab", "ba9876543210"}


def test_keys_are_not_stored(settings) -> None:
    key = create_agency(settings, "存储局", ["deaths_registry"], None, now=NOW)
    con = sqlite3.connect(register_path(settings))
    dump = "\n".join(con.iterdump())
    con.close()
    assert key not in dump and hashlib.sha256(key.encode()).hexdigest() in dump
    assert register_path(settings).stat().st_mode & 0o077 == 0
