"""Caseworkers' decisions flow back (issue 20 items 1-2), end to end on a generated city.

civlake writes the district worklists; a caseworker of 越秀区 fills one with openpyxl
(不属实, 属实, a value not on the list, a row with an id civlake never gave); it goes back
into the landing folder with a manifest, as does a decision posted to the review API
(real server, real key); ``civlake run`` again. Then the next data (the missing payment
arrives) and a third run. The oracle is what the caseworker wrote, not the platform's
own tables.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from datetime import UTC, date, datetime
from pathlib import Path

import duckdb
import httpx
import openpyxl
import pytest

from civlake import lake
from civlake.agency import create_agency
from civlake.ingest.deliver import deliver
from civlake.serve.app import create_app
from civlake.serve.audit import log_path, read_audit
from civlake.settings import load_settings
from tests.support.server import serve_in_background

pytestmark = pytest.mark.e2e
CIVLAKE = str(Path(sys.executable).with_name("civlake"))
DISTRICT = "440104"  # 越秀区: the seed-21 city has four findings there, one CJHL_UNCLAIMED
OTHER = "440103"
UNKNOWN_ID = "0" * 32
RETURNED_AT = datetime(2026, 11, 6, 9, 0, tzinfo=UTC)
NOTE = "经核实为同名不同人"


def _civlake(home: Path, *args: str) -> subprocess.CompletedProcess:
    env = {**os.environ, "CIVLAKE_HOME": str(home)}
    run = subprocess.run([CIVLAKE, *args], env=env, capture_output=True, text=True, timeout=1500)
    assert run.returncode == 0, run.stdout[-3000:] + run.stderr[-5000:]
    return run


def _rows(path: Path) -> list[tuple[str, dict]]:
    """(sheet, row by header) of every data row of a worklist's rule sheets, in order."""
    book = openpyxl.load_workbook(path, read_only=True)
    out = []
    for sheet in book.worksheets[1:]:  # the first is 汇总
        values = list(sheet.values)
        out += [(sheet.title, dict(zip(values[0], r, strict=False))) for r in values[1:] if any(r)]
    book.close()
    return out


def _worklists(home: Path) -> dict[str, dict[str, dict]]:
    """district (6 digits) -> 核查编号 -> row, over every worklist written."""
    return {
        path.name[:6]: {row["核查编号"]: row for _, row in _rows(path)}
        for path in sorted((home / "worklists").glob("*.xlsx"))
    }


def _query(home: Path, sql: str, *params) -> list[dict]:
    with duckdb.connect(str(home / "warehouse.duckdb"), read_only=True) as con:
        cur = con.execute(sql, list(params))
        cols = [d[0] for d in cur.description]
        return [dict(zip(cols, r, strict=True)) for r in cur.fetchall()]


def _status(home: Path) -> dict[str, list[dict]]:
    spells: dict[str, list[dict]] = {}
    for row in _query(home, "select * from verify.finding_status order by valid_from"):
        spells.setdefault(row["finding_id"], []).append(row)
    return spells


def _fill(path: Path, decisions: dict[str, tuple], added: list[str]) -> None:
    """What a caseworker does in Excel: fill 核查结论/处理说明/核查人/核查日期 by 核查编号,
    and (mistakes) add rows of their own with ids ``added`` (never given to this district)."""
    book = openpyxl.load_workbook(path)
    for sheet in book.worksheets[1:]:
        header = [c.value for c in sheet[1]]
        col = {h: i + 1 for i, h in enumerate(header)}
        for r in range(2, sheet.max_row + 1):
            fid = sheet.cell(r, col["核查编号"]).value
            if fid in decisions:
                for name, value in zip(("核查结论", "处理说明", "核查人", "核查日期"),
                                       decisions[fid], strict=True):  # fmt: skip
                    sheet.cell(r, col[name]).value = value
    first = book.worksheets[1]
    header = [c.value for c in first[1]]
    for fid in added:
        extra = first.max_row + 1
        for name, value in (("核查编号", fid), ("核查结论", "属实"), ("核查人", "张三"),
                            ("区县代码", f"{DISTRICT}000000")):  # fmt: skip
            first.cell(extra, header.index(name) + 1).value = value
    book.save(path)


def _api_calls(settings, finding_api: str, finding_other: str) -> dict:
    keys = {
        "district": create_agency(settings, "越秀区民政局", [f"review:{DISTRICT}",
                                  f"worklist:{DISTRICT}"], "2030-12-31"),
        "other": create_agency(settings, "荔湾区民政局", [f"review:{OTHER}"], "2030-12-31"),
        "no_grant": create_agency(settings, "越秀区某街道", [f"worklist:{DISTRICT}"],
                                  "2030-12-31"),
    }  # fmt: skip
    body = {"decision": "不属实", "note": "系统外已停发", "reviewer": "李四"}
    out = {}
    app = create_app(settings, public_burst=100_000, key_burst=100_000)
    with serve_in_background(app) as base, httpx.Client(base_url=base, timeout=30) as client:

        def post(key: str, fid: str, payload: dict) -> httpx.Response:
            return client.post(f"/api/v1/findings/{fid}/review", json=payload,
                               headers={"Authorization": f"Bearer {key}"})  # fmt: skip

        out["other_district"] = post(keys["other"], finding_api, body)
        out["no_grant"] = post(keys["no_grant"], finding_api, body)
        out["no_key"] = client.post(f"/api/v1/findings/{finding_api}/review", json=body)
        out["unknown"] = post(keys["district"], UNKNOWN_ID, body)
        out["bad_decision"] = post(keys["district"], finding_api, {**body, "decision": "待定"})
        out["someone_elses"] = post(keys["district"], finding_other, body)
        out["granted"] = post(keys["district"], finding_api, body)
        auth = {"Authorization": f"Bearer {keys['district']}"}
        out["worklist"] = client.get(f"/api/v1/worklists/{DISTRICT}", headers=auth)
        out["worklist_other"] = client.get(f"/api/v1/worklists/{OTHER}", headers=auth)
    out["audit"] = read_audit(log_path(settings))
    return out


@pytest.fixture(scope="module")
def loop(tmp_path_factory):
    # GIVEN a generated city, run once: worklists written
    home = tmp_path_factory.mktemp("reviews") / "data"
    landing = home / "landing"
    # The smallest city the generator makes (every planted case needs 200 persons), one
    # month: three civlake runs' cost is mostly per run and per feed, not per row.
    _civlake(home, "generate", "--out", str(landing), "--persons", "200", "--months", "1",
             "--seed", "21")  # fmt: skip
    # (through verify: the worklists are written there, and build/publish only add CPU)
    _civlake(home, "run", "--landing", str(landing), "--through", "verify")
    first = _worklists(home)
    findings = _query(
        home,
        "select finding_id, rule_code, id_number, program_code, amount_at_risk, period_end "
        "from verify.findings where district_code = ? order by rule_code, finding_id",
        f"{DISTRICT}000000",
    )
    unclaimed = next(f for f in findings if f["rule_code"] in ("CJHL_UNCLAIMED", "CJSH_UNCLAIMED"))
    others = [f["finding_id"] for f in findings if f is not unclaimed]
    other_district = _query(
        home, "select finding_id from verify.findings where district_code = ? limit 1",
        f"{OTHER}000000",
    )[0]["finding_id"]  # fmt: skip
    # WHEN the district's caseworker fills the worklist and it goes back with a manifest
    returned = home.parent / "returned" / next((home / "worklists").glob(f"{DISTRICT}_*")).name
    returned.parent.mkdir()
    shutil.copyfile(next((home / "worklists").glob(f"{DISTRICT}_*")), returned)
    day = date(2026, 11, 5)
    decisions = {
        others[0]: ("不属实", NOTE, "张三", day),
        unclaimed["finding_id"]: ("属实", "已联系家属补办", "张三", day),
        others[1]: ("待定", None, "张三", day),  # not a value of the list
    }
    _fill(returned, decisions, added=[UNKNOWN_ID, other_district])
    order = [row["核查编号"] for _, row in _rows(returned)]
    delivery = deliver(landing, "finding_reviews", [returned], source_unit=DISTRICT,
                       period="2026-11", produced_at=RETURNED_AT)  # fmt: skip
    # AND another decision arrives through the review API
    settings = load_settings(env={"CIVLAKE_HOME": str(home)})
    api = _api_calls(settings, others[2], other_district)
    _civlake(home, "run", "--landing", str(landing), "--through", "verify")
    reviewed = {"worklists": _worklists(home), "status": _status(home)}
    # AND next month's data shows the fix: the unclaimed subsidy is paid
    payment = home.parent / "payment" / "补发.jsonl"
    payment.parent.mkdir()
    payment.write_text(json.dumps({
        "payment_id": "FIX-000001", "pay_month": unclaimed["period_end"],
        "program_code": unclaimed["program_code"], "id_number": unclaimed["id_number"],
        "amount": str(unclaimed["amount_at_risk"]), "status": "success",
        "paid_at": "2026-11-20T10:00:00+08:00",
    }, ensure_ascii=False) + "\n", encoding="utf-8")  # fmt: skip
    deliver(landing, "benefit_payments", [payment], source_unit="440100", period="2026-11",
            produced_at=datetime(2026, 12, 1, 2, 0, tzinfo=UTC))  # fmt: skip
    _civlake(home, "run", "--landing", str(landing), "--through", "verify")
    return {
        "home": home, "first": first, "reviewed": reviewed, "fixed": _worklists(home),
        "fixed_status": _status(home), "unclaimed": unclaimed["finding_id"], "others": others,
        "order": order, "delivery": delivery.name, "file": returned.name, "api": api,
        "other_district": other_district,
    }  # fmt: skip


def test_the_worklist_has_the_caseworker_columns(loop):
    book = openpyxl.load_workbook(next((loop["home"] / "worklists").glob(f"{DISTRICT}_*")))
    sheet = book.worksheets[1]
    header = [c.value for c in sheet[1]]
    for column in ("核查编号", "历史", "核查结论", "处理说明", "核查人", "核查日期", "区县代码"):
        assert column in header
    assert sheet.freeze_panes == "A2"
    rules = {str(v.sqref): v for v in sheet.data_validations.dataValidation}
    letter = openpyxl.utils.get_column_letter(header.index("核查结论") + 1)
    listed = next(v for ref, v in rules.items() if ref.startswith(letter))
    assert listed.type == "list" and "不属实" in listed.formula1
    day = openpyxl.utils.get_column_letter(header.index("核查日期") + 1)
    assert next(v for ref, v in rules.items() if ref.startswith(day)).type == "date"
    # IDs stay masked
    ids = [r["身份证号/信用代码"] for _, r in _rows(next((loop["home"] / "worklists").glob("*")))]
    assert all("*" in i for i in ids if i and len(i) == 18)


def test_a_dismissed_finding_leaves_the_next_worklist(loop):
    dismissed = loop["others"][0]
    assert dismissed in loop["first"][DISTRICT]
    assert dismissed not in loop["reviewed"]["worklists"].get(DISTRICT, {})
    current = loop["reviewed"]["status"][dismissed][-1]
    assert (current["status"], current["reason"], current["reviewer"], current["is_current"]) == (
        "dismissed", NOTE, "张三", True,
    )  # fmt: skip
    assert loop["reviewed"]["status"][dismissed][0]["valid_to"] == current["valid_from"]


def test_a_confirmed_finding_stays_with_its_history(loop):
    row = loop["reviewed"]["worklists"][DISTRICT][loop["unclaimed"]]
    assert "2026-11 属实（张三）" in row["历史"]
    assert loop["reviewed"]["status"][loop["unclaimed"]][-1]["status"] == "confirmed"


def test_the_api_decision_is_applied_by_the_next_run(loop):
    via_api = loop["others"][2]
    assert via_api not in loop["reviewed"]["worklists"].get(DISTRICT, {})
    current = loop["reviewed"]["status"][via_api][-1]
    assert (current["status"], current["reviewer"]) == ("dismissed", "李四")


def test_bad_rows_are_quarantined_naming_feed_delivery_file_row_and_field(loop):
    quarantine = lake.read_arrow(loop["home"] / "lake" / "quarantine").to_pylist()
    mine = {r["_source_row"]: r for r in quarantine if r["_delivery_id"] == loop["delivery"]}
    bad_row = loop["order"].index(loop["others"][1]) + 1
    unknown_row = loop["order"].index(UNKNOWN_ID) + 1
    foreign_row = loop["order"].index(loop["other_district"]) + 1
    assert set(mine) == {bad_row, unknown_row, foreign_row}
    for r in mine.values():
        assert (r["feed_id"], r["_source_file"]) == ("finding_reviews", loop["file"])
    assert mine[bad_row]["reasons"] == ["ENUM_INVALID"]
    assert "decision" in mine[bad_row]["detail"] or "核查结论" in mine[bad_row]["detail"]
    assert mine[unknown_row]["reasons"] == ["FINDING_UNKNOWN"]
    assert "核查编号" in mine[unknown_row]["detail"]
    assert mine[foreign_row]["reasons"] == ["FINDING_OTHER_DISTRICT"]
    assert OTHER in mine[foreign_row]["detail"]


def test_unfilled_rows_are_counted_as_not_reviewed(loop):
    [account] = _query(
        loop["home"], "select * from verify.finding_review_deliveries where delivery_id = ?",
        loop["delivery"],
    )  # fmt: skip
    total = len(loop["order"])
    assert account["rows_declared"] == total
    assert (account["rows_reviewed"], account["rows_quarantined"]) == (2, 3)
    assert account["rows_not_reviewed"] == total - 5


def test_a_finding_resolves_when_the_next_data_shows_the_fix(loop):
    unclaimed = loop["unclaimed"]
    assert unclaimed not in loop["fixed"].get(DISTRICT, {})
    current = loop["fixed_status"][unclaimed][-1]
    assert (current["status"], current["changed_by"]) == ("resolved", "data")
    assert [s["status"] for s in loop["fixed_status"][unclaimed]] == [
        "open", "confirmed", "resolved",
    ]  # fmt: skip
    # the dismissed one is still dismissed and still off the list
    assert loop["fixed_status"][loop["others"][0]][-1]["status"] == "dismissed"
    assert loop["others"][0] not in loop["fixed"].get(DISTRICT, {})


def test_review_api_grants_and_refusals(loop):
    api = loop["api"]
    assert api["granted"].status_code == 202, api["granted"].text
    assert api["granted"].json()["feed"] == "finding_reviews"
    assert api["other_district"].status_code == 403
    assert api["no_grant"].status_code == 403
    assert api["someone_elses"].status_code == 403
    assert api["no_key"].status_code == 401
    assert api["unknown"].status_code == 404
    assert api["bad_decision"].status_code == 409
    assert api["worklist"].status_code == 200
    assert api["worklist"].content[:2] == b"PK"  # an XLSX (zip)
    assert api["worklist_other"].status_code == 403
    granted = [e for e in api["audit"] if e.get("action") == "review" and e.get("status") == 202]
    assert granted and granted[-1]["subject"] == loop["others"][2]
    assert (granted[-1]["agency"], granted[-1]["scope"]) == ("越秀区民政局", DISTRICT)
    refused = [e for e in api["audit"] if e.get("action") == "review" and e["status"] == 403]
    assert len(refused) == 3
