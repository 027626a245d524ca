"""Conformance on feeds that civlake.generate did not write.

A hand-written city (tests/fixtures/foreign/city.py) goes through the stable command line
(OUTPUTS.md section 6) exactly as an acceptance check would send it; the assertions read
only the outputs (lake tables and warehouse) and compare them with what SOURCE_FEEDS.md
and OUTPUTS.md say, planted row by row. The resubmission of 越秀区 arrives *before* the
delivery it replaces (the older one lands in a second run), and the first run holds an
empty delivery of a feed that has no rows yet.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from datetime import date
from decimal import Decimal
from pathlib import Path

import duckdb
import pytest

from civlake import lake
from civlake.contracts import load_contracts
from tests.fixtures.foreign.city import add_late_arrivals, build_landing

pytestmark = pytest.mark.e2e
CIVLAKE = str(Path(sys.executable).with_name("civlake"))


def _run(home: Path) -> subprocess.CompletedProcess:
    env = {**os.environ, "CIVLAKE_HOME": str(home)}
    args = ["run", "--landing", str(home / "landing"), "--lake", str(home / "lake"),
            "--warehouse", str(home / "warehouse.duckdb"), "--publish", str(home / "publish")]  # fmt: skip
    done = subprocess.run([CIVLAKE, *args], env=env, capture_output=True, text=True, timeout=1200)
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-6000:]
    return done


def _table(home: Path, name: str) -> list[dict]:
    table = lake.read_arrow(home / "lake" / name)
    return [] if table is None else table.to_pylist()


def _warehouse(home: Path, sql: str) -> list[dict]:
    with duckdb.connect(str(home / "warehouse.duckdb"), read_only=True) as con:
        cur = con.execute(sql)
        cols = [d[0] for d in cur.description]
        return [dict(zip(cols, row, strict=True)) for row in cur.fetchall()]


def _state(home: Path) -> dict:
    """What a rerun must leave unchanged (timings and run timestamps aside)."""
    volatile = {"ingested_at", "cleaned_at", "ingest_seconds", "clean_seconds"}
    audit = sorted(
        json.dumps({k: v for k, v in r.items() if k not in volatile}, default=str, sort_keys=True)
        for r in _table(home, "ingest_audit")
    )
    counts = {f: len(_table(home, f"silver/{f}")) for f in load_contracts()}
    quarantine = sorted(
        (r["feed_id"], r["_delivery_id"], r["_source_row"]) for r in _table(home, "quarantine")
    )
    findings = _warehouse(
        home,
        "SELECT finding_id, rule_code, amount_at_risk, first_detected_at FROM verify.findings "
        "ORDER BY finding_id",
    )
    persons = _warehouse(home, "SELECT person_key FROM core.dim_person ORDER BY 1")
    return {"audit": audit, "silver": counts, "quarantine": quarantine,
            "findings": findings, "persons": persons}  # fmt: skip


@pytest.fixture(scope="module")
def city(tmp_path_factory):
    home = tmp_path_factory.mktemp("foreign") / "data"
    expect = build_landing(home / "landing")
    _run(home)
    add_late_arrivals(home / "landing", expect)
    _run(home)
    return {"home": home, "expect": expect}


def test_every_delivery_has_the_status_the_spec_gives(city):
    audit = {(r["feed_id"], r["delivery_id"]): r for r in _table(city["home"], "ingest_audit")}
    for key, (status, reason) in city["expect"].audit.items():
        assert key in audit, f"no audit row for {key}"
        got = audit[key]
        assert (got["status"], got["reject_reason"]) == (status, reason), (key, got)
        if status == "rejected":
            assert got["reject_detail"], key
    for key in city["expect"].pending:
        assert key not in audit, f"{key} has no manifest yet and must not be ingested"
    unexpected = set(audit) - set(city["expect"].audit)
    assert not unexpected, unexpected


def test_loaded_deliveries_reconcile(city):
    audit = _table(city["home"], "ingest_audit")
    loaded = [r for r in audit if r["status"] == "loaded"]
    for r in loaded:
        key = (r["feed_id"], r["delivery_id"])
        assert r["rows_declared"] == r["rows_bronze"], key
        assert r["rows_bronze"] == r["rows_silver"] + r["rows_quarantined"], key
    for feed in load_contracts():
        silver = _table(city["home"], f"silver/{feed}")
        assert len(silver) == sum(r["rows_silver"] for r in loaded if r["feed_id"] == feed), feed


def test_superseded_rows_stay_in_bronze_but_leave_silver(city):
    home = city["home"]
    old = "20261101-440104-001"
    audit = [r for r in _table(home, "ingest_audit") if r["delivery_id"] == old]
    assert [(r["status"], r["superseded_by"]) for r in audit] == [
        ("superseded", "20261103-440104-001")
    ]
    bronze = [r for r in _table(home, "bronze/assistance_recipients") if r["_delivery_id"] == old]
    assert len(bronze) == audit[0]["rows_declared"] > 0
    silver = _table(home, "silver/assistance_recipients")
    assert not [r for r in silver if r["_delivery_id"] == old]
    quarantine = _table(home, "quarantine")
    assert not [r for r in quarantine if r["_delivery_id"] == old]


def test_quarantine_reasons_row_by_row(city):
    home, expect = city["home"], city["expect"]
    got = {
        (r["feed_id"], r["_delivery_id"], r["_source_file"], r["_source_row"]): r
        for r in _table(home, "quarantine")
    }
    superseded = {d for (_, d), (s, _) in expect.audit.items() if s == "superseded"}
    live = {k: v for k, v in got.items() if k[1] not in superseded}
    for key, reasons in expect.quarantine.items():
        assert key in got, f"{key} should be quarantined with {reasons}"
        assert set(got[key]["reasons"]) == reasons, (key, got[key]["reasons"], got[key]["detail"])
        assert got[key]["detail"], key
        json.loads(got[key]["raw"])
    assert set(live) == set(expect.quarantine), set(live) ^ set(expect.quarantine)


def test_silver_values_and_statuses(city):
    home, expect = city["home"], city["expect"]
    by_feed: dict[str, dict] = {}
    for feed in {k[0] for k in expect.silver}:
        by_feed[feed] = {
            (r["_delivery_id"], r["_source_file"], r["_source_row"]): r
            for r in _table(home, f"silver/{feed}")
        }
    problems = []
    for (feed, delivery, file, row), want in expect.silver.items():
        got = by_feed[feed].get((delivery, file, row))
        if got is None:
            problems.append(f"{feed} {delivery} row {row}: not in silver")
            continue
        for col, value in want.items():
            if got.get(col) != value:
                problems.append(f"{feed} {delivery} row {row} {col}: {got.get(col)!r} != {value!r}")
    assert not problems, "\n".join(problems)
    for feed, delivery, file, row in expect.kept_missing_id:
        assert (delivery, file, row) in {
            (r["_delivery_id"], r["_source_file"], r["_source_row"])
            for r in _table(home, f"silver/{feed}")
        }, (feed, delivery, row)


def test_secondary_reference_without_id_is_dropped(city):
    xref = {
        (r["feed_id"], r["_delivery_id"], r["_source_file"], r["_source_row"], r["role"])
        for r in _warehouse(city["home"], "SELECT * FROM core.person_source_xref")
    }
    for feed, delivery, file, row, role in city["expect"].dropped_refs:
        assert (feed, delivery, file, row, role) not in xref
        subject = {k for k in xref if k[:4] == (feed, delivery, file, row)}
        assert subject, f"{feed} {delivery} row {row}: the subject must still be referenced"


def test_golden_records_follow_hukou_the_id_and_the_death_precedence(city):
    from tests.fixtures.foreign.city import P2, P3, P11, P12

    people = {
        r["id_number"]: r
        for r in _warehouse(
            city["home"], "SELECT * FROM core.dim_person WHERE id_number IS NOT NULL"
        )
    }
    # certificate 2026-08-10 beats cremation 2026-08-11 and the hukou status date 2026-08-12
    assert (people[P3.id]["is_alive"], people[P3.id]["death_date"]) == (False, date(2026, 8, 10))
    assert people[P2.id]["is_alive"] is True and people[P2.id]["death_date"] is None
    assert people[P2.id]["hukou_division_code"] == "440104000000"
    # hukou delivered 9 (unspecified) and 鄭潔: the golden record takes the ID's sex, simplified
    assert (people[P12.id]["sex"], people[P12.id]["name"]) == ("2", "郑洁")
    assert people[P11.id]["birth_date"] == date(1955, 5, 5)
    keys = [r["person_key"] for r in people.values()]
    assert len(set(keys)) == len(keys) and not set(keys) & set(people)


def test_repaired_ids_match_by_their_repair(city):
    got = {
        (r["feed_id"], r["_delivery_id"], r["_source_file"], r["_source_row"], r["role"]): r
        for r in _warehouse(city["home"], "SELECT * FROM core.person_source_xref")
    }
    for key, method in city["expect"].match_methods.items():
        assert key in got, key
        assert got[key]["match_method"] == method, (key, got[key]["match_method"])


def _xref_by_ref(home: Path) -> dict[tuple, dict]:
    return {
        (r["feed_id"], r["_delivery_id"], r["_source_file"], r["_source_row"], r["role"]): r
        for r in _warehouse(home, "SELECT * FROM core.person_source_xref")
    }


def test_corrupted_ids_are_tied_to_the_person_they_were_typed_from(city):
    home, expect = city["home"], city["expect"]
    assert len(expect.same_person) >= 12
    assert {k[4] for k in expect.same_person} >= {"payee", "person", "volunteer", "guardian"}
    keys = {
        r["id_number"]: r["person_key"] for r in _warehouse(home, "SELECT * FROM core.dim_person")
    }
    xref = _xref_by_ref(home)
    wrong = []
    for ref, true_id in expect.same_person.items():
        got = xref.get(ref)
        if got is None or got["person_key"] != keys[true_id]:
            wrong.append((ref, got and (got["match_method"], got["match_detail"])))
            continue
        # the reviewer sees why: the keystroke and the agreeing name, never the ID
        assert got["match_method"] == "probabilistic" and 0 < got["match_probability"] <= 1, got
        assert got["match_detail"] and true_id not in got["match_detail"], got
    assert not wrong, wrong


def test_a_typo_that_fits_two_namesakes_is_not_guessed(city):
    home, expect = city["home"], city["expect"]
    assert expect.ambiguous
    keys = {
        r["id_number"]: r["person_key"] for r in _warehouse(home, "SELECT * FROM core.dim_person")
    }
    xref = _xref_by_ref(home)
    for ref, ids in expect.ambiguous.items():
        got = xref[ref]
        assert got["person_key"] not in {keys[i] for i in ids}, (ref, got)
        assert got["match_method"] == "new_person", got
        assert "存疑未合并" in got["match_detail"], got
    # and the namesakes themselves stay two persons
    for ids in expect.ambiguous.values():
        assert len({keys[i] for i in ids}) == len(ids)


def test_planted_findings(city):
    rows = _warehouse(city["home"], "SELECT * FROM verify.findings")
    spec_columns = {"finding_id", "rule_code", "severity", "person_key", "org_uscc", "id_number",
                    "program_code", "feed_id", "attribute", "period_start", "period_end",
                    "amount_at_risk", "evidence", "recommended_action", "first_detected_at"}  # fmt: skip
    assert rows and spec_columns <= set(rows[0]), spec_columns - set(rows[0] if rows else {})
    for rule, who, program, amount in city["expect"].findings:
        hits = [
            r for r in rows
            if r["rule_code"] == rule and who in (r["id_number"], r["org_uscc"])
            and (program is None or r["program_code"] == program)
        ]  # fmt: skip
        assert hits, f"{rule} for {who} {program or ''} not found"
        if amount is not None:
            assert sum(Decimal(str(r["amount_at_risk"])) for r in hits) == amount, (rule, hits)
        for r in hits:
            assert r["severity"] in {"high", "medium", "low"}
            assert r["recommended_action"] and json.loads(r["evidence"]) is not None
    for rule, who in city["expect"].absent_findings:
        assert not [r for r in rows if r["rule_code"] == rule and r["id_number"] == who], (
            rule,
            who,
        )
    # Precision: every finding is one that was planted (each one a caseworker sent out).
    planted = {(rule, who) for rule, who, _, _ in city["expect"].findings}
    planted |= {("ID_MISMATCH", who) for who, _, _ in city["expect"].id_mismatch}
    unplanted = [
        (r["rule_code"], r["id_number"] or r["org_uscc"], r["program_code"], r["amount_at_risk"])
        for r in rows
        if (r["rule_code"], r["id_number"] or r["org_uscc"]) not in planted
    ]
    assert not unplanted, unplanted


def test_id_mismatch_against_hukou_after_normalisation(city):
    rows = _warehouse(city["home"], "SELECT * FROM verify.findings WHERE rule_code = 'ID_MISMATCH'")
    got = {(r["id_number"], r["feed_id"], r["attribute"]) for r in rows}
    for key in city["expect"].id_mismatch:
        assert key in got, (key, got)
    for who in city["expect"].no_id_mismatch:
        assert not [k for k in got if k[0] == who], (who, got)


def test_marts_hold_no_raw_id_or_name(city):
    secrets = city["expect"].secret_values
    tables = _warehouse(
        city["home"],
        "SELECT table_name FROM information_schema.tables WHERE table_schema = 'mart'",
    )
    assert tables
    leaks = []
    for t in tables:
        name = t["table_name"]
        for row in _warehouse(city["home"], f'SELECT * FROM mart."{name}"'):
            for col, value in row.items():
                if col in secrets:
                    leaks.append((name, col, "column name"))
                if isinstance(value, str) and any(s in value for s in secrets):
                    leaks.append((name, col, value))
    assert not leaks, leaks[:10]


def test_open_datasets_hold_no_raw_id_or_name(city):
    # Conditional (有条件共享) datasets are person-level by design and go to granted
    # agencies only; every other published file is open and must be aggregate.
    secrets = city["expect"].secret_values
    publish = city["home"] / "publish"
    checked = 0
    for package in publish.glob("*/v*/datapackage.json"):
        if "有条件" in package.read_text(encoding="utf-8"):
            continue
        for path in package.parent.glob("*.csv"):
            text = path.read_text(encoding="utf-8-sig")
            leaked = sorted(s for s in secrets if s in text)
            assert not leaked, (path.relative_to(publish), leaked)
            checked += 1
    assert checked


def _versions(home: Path) -> dict[str, int]:
    """Every Delta table's last commit number, read from its log by this test."""
    lake_dir = home / "lake"
    return {
        str(log.parent.relative_to(lake_dir)): max(int(f.name[:20]) for f in log.glob("*.json"))
        for log in lake_dir.glob("**/_delta_log")
    }


def test_a_second_run_changes_nothing(city):
    home = city["home"]
    before = _state(home)
    versions = _versions(home)
    warehouse = (home / "warehouse.duckdb").read_bytes()
    _run(home)
    assert _state(home) == before
    # A run with nothing new writes nothing: no new Delta version on any table (no
    # re-resolution, no new expectation results) and the same warehouse file.
    assert _versions(home) == versions
    assert (home / "warehouse.duckdb").read_bytes() == warehouse
