"""The clean gate on hand-made bronze deliveries: every reason code, the ledger
invariant, obsolete division codes, supersession, crash repair and the rerun no-op."""

from __future__ import annotations

from datetime import UTC, date, datetime
from decimal import Decimal
from pathlib import Path

import pyarrow as pa
import pytest

from civlake import lake
from civlake.clean import CleanGateError, check_invariants, clean_pending
from civlake.clean.frame import clean_delivery
from civlake.contracts import get_contract
from civlake.settings import Settings, load_settings
from tests.support.bronze import (
    AUDIT_SCHEMA,
    audit_row,
    bronze_rows,
    deliver,
    id18,
    set_audit_status,
    uscc18,
)

pytestmark = pytest.mark.integration
NOW = datetime(2026, 11, 2, 8, 0, tzinfo=UTC)
GOOD_ID = id18("440106", "19800101", "123")
OLD_ID = id18("440106", "19450315", "231")  # its 15-digit form: drop "19" and the check char
LEGACY = OLD_ID[:6] + OLD_ID[8:17]
ORG = uscc18("51440100MJ0000001")

DIVISIONS = [
    # code, name, level, valid_to, successor
    ("440100000000", "广州市", "2", None, None),
    ("440106000000", "天河区", "3", None, None),
    ("440106001000", "五山街道", "4", None, None),
    ("440104000000", "越秀区", "3", None, None),
    ("440102000000", "东山区", "3", "2005-04-28", "440104000000"),
    ("440199000000", "旧区甲", "3", "2000-01-01", "440188000000"),
    ("440188000000", "旧区乙", "3", "2010-01-01", "440106000000"),
    ("440177000000", "撤销无继承", "3", "2010-01-01", None),
]


def divisions_rows() -> list[dict]:
    return [
        {"division_code": c, "name": n, "level": lv, "parent_code": "440100", "valid_to": to,
         "successor_code": s, "valid_from": "1990-01-01"}
        for c, n, lv, to, s in DIVISIONS
    ]  # fmt: skip


def assistance(**over: str | None) -> dict:
    row = {
        "family_no": "F001", "division_code": "440106", "assistance_type": "低保（城市）",
        "head_id_number": GOOD_ID.lower()[:-1] + "x" if GOOD_ID.endswith("X") else f"'{GOOD_ID}",
        "head_name": "張 偉", "member_id_number": LEGACY, "member_name": "李娜（已故）",
        "relation_to_head": "配偶", "household_size": "3", "covered_persons": "2",
        "monthly_amount": "￥1,120.00", "approved_on": "2026年1月5日", "status": "保障中",
    }  # fmt: skip
    row.update(over)
    return row


@pytest.fixture
def settings(tmp_path: Path) -> Settings:
    return load_settings(lake=tmp_path / "lake", env={"CIVLAKE_HOME": str(tmp_path)})


def _silver(s: Settings, feed: str) -> list[dict]:
    t = lake.read_arrow(lake.table_path(s.lake, "silver", feed))
    return (
        []
        if t is None
        else sorted(t.to_pylist(), key=lambda r: (r["_delivery_id"], r["_source_row"]))
    )


def _quarantine(s: Settings) -> dict[tuple[str, str, int], dict]:
    t = lake.read_arrow(lake.table_path(s.lake, "quarantine"))
    rows = [] if t is None else t.to_pylist()
    return {(r["feed_id"], r["_delivery_id"], r["_source_row"]): r for r in rows}


def _audit(s: Settings) -> dict[tuple[str, str], dict]:
    t = lake.read_arrow(lake.table_path(s.lake, "ingest_audit"))
    return {(r["feed_id"], r["delivery_id"]): r for r in t.to_pylist()}


def _city(s: Settings) -> None:
    """GIVEN a divisions release and one delivery of five feeds, each with dirt."""
    deliver(s.lake, "divisions", divisions_rows(), delivery_id="20260101-440100-001", period="2026")
    deliver(s.lake, "assistance_recipients", [
        assistance(),                                                  # 1 clean after repair
        assistance(member_id_number=GOOD_ID[:-1] + ("0" if GOOD_ID[-1] != "0" else "1")),  # 2 bad check char: kept
        assistance(division_code="440102"),                            # 3 obsolete -> successor
        assistance(division_code="440199000"),                         # 4 chain of two
        assistance(division_code="440177", approved_on="2026-02-30", monthly_amount="一千元",
                   assistance_type="医保", member_name=" ", member_id_number=""),  # 5 many reasons
        {"_malformed": "F9,440106,低保,,,,,"},                          # 6 malformed
        assistance(member_id_number="4.40106199001011e+17"),           # 7 sci: kept (家庭编号)
        assistance(family_no=None),                                    # 8 required blank
    ], delivery_id="20261101-440106-001", source_unit="440106")  # fmt: skip
    deliver(s.lake, "benefit_payments", [
        {"payment_id": "P1", "pay_month": "202610", "program_code": "DB", "id_number": GOOD_ID,
         "name": "张伟", "amount": 1120, "status": "success", "paid_at": "2026-10-15 10:00:00"},
        {"payment_id": "P2", "pay_month": "2026-10", "program_code": "GL", "id_number": None,
         "name": "王芳", "amount": "300.0", "status": "success"},      # no ID, nothing else
    ], delivery_id="20261101-440100-001", mode="incremental")  # fmt: skip
    deliver(s.lake, "social_organizations", [
        {"uscc": ORG.lower(), "name": "广州市助老协会", "org_type": "社会团体", "status": "正常",
         "registrar": "440100", "abnormal_list": "否", "is_charity": "true"},
        {"uscc": ORG[:-1] + ("0" if ORG[-1] != "0" else "1"), "name": "坏码协会",
         "org_type": "基金会", "status": "正常"},
    ], delivery_id="20261101-440100-002", period="2026-W44")  # fmt: skip
    deliver(s.lake, "charity_donations", [
        {"donation_no": "D1", "org_uscc": ORG[:-1] + ("0" if ORG[-1] != "0" else "1"),
         "donor_type": "自然人", "amount": "100元", "donated_at": "2026-10-31T20:00:00+08:00",
         "receipt_issued": "是"},
    ], delivery_id="20261101-440100-003", mode="incremental")  # fmt: skip
    deliver(s.lake, "child_welfare", [
        {"child_id_number": None, "child_name": "小明", "birth_date": "46027", "sex": "男",
         "child_category": "孤儿", "placement": "机构养育", "guardian_id_number": None,
         "guardian_name": "赵六", "division_code": "440106001", "monthly_allowance": "2500",
         "status": "正常"},
    ], delivery_id="20261101-440106-002", source_unit="440106", source_file="儿童.xlsx")  # fmt: skip


def test_gate_cleans_every_feed_and_lists_every_reason(settings: Settings) -> None:
    _city(settings)
    # WHEN the gate runs
    summary = clean_pending(settings, now=NOW)
    # THEN the ledger balances for every delivery
    assert check_invariants(settings) == []
    audit = _audit(settings)
    assert len(summary["cleaned"]) == len(audit) == 6
    for a in audit.values():
        assert a["rows_silver"] + a["rows_quarantined"] == a["rows_bronze"] == a["rows_declared"]
        assert a["cleaned_at"] == NOW and a["clean_seconds"] >= 0
    q = _quarantine(settings)
    ar = "assistance_recipients", "20261101-440106-001"
    assert q[(*ar, 5)]["reasons"] == [
        "REQUIRED_MISSING", "DATE_INVALID", "AMOUNT_INVALID", "ENUM_INVALID", "DIVISION_UNKNOWN",
        "ID_UNUSABLE",
    ]  # fmt: skip
    detail = q[(*ar, 5)]["detail"]
    for needle in (
        "approved_on",
        '"2026-02-30"',
        "monthly_amount",
        '"一千元"',
        '"医保"',
        '"440177"',
    ):
        assert needle in detail
    assert q[(*ar, 6)]["reasons"] == ["ROW_MALFORMED"]
    assert q[(*ar, 8)]["reasons"] == ["REQUIRED_MISSING"] and "family_no" in q[(*ar, 8)]["detail"]
    assert q[("benefit_payments", "20261101-440100-001", 2)]["reasons"] == ["ID_UNUSABLE"]
    assert q[("social_organizations", "20261101-440100-002", 2)]["reasons"] == ["USCC_INVALID"]
    assert '"坏码协会"' in q[("social_organizations", "20261101-440100-002", 2)]["raw"]
    assert {r for v in q.values() for r in v["reasons"]} == {
        "REQUIRED_MISSING", "DATE_INVALID", "AMOUNT_INVALID", "ENUM_INVALID", "DIVISION_UNKNOWN",
        "USCC_INVALID", "ID_UNUSABLE", "ROW_MALFORMED",
    }  # fmt: skip


def test_silver_values_are_canonical(settings: Settings) -> None:
    _city(settings)
    clean_pending(settings, now=NOW)
    rows = {r["_source_row"]: r for r in _silver(settings, "assistance_recipients")}
    assert sorted(rows) == [1, 2, 3, 4, 7]
    first = rows[1]
    assert (first["head_id_number"], first["head_id_number_status"]) == (GOOD_ID, "normalized")
    assert (first["member_id_number"], first["member_id_number_status"]) == (OLD_ID, "upgraded_15")
    assert (first["head_name"], first["member_name"], first["member_name_note"]) == (
        "张伟",
        "李娜",
        "已故",
    )
    assert first["assistance_type"] == "低保" and first["status"] == "在保"
    assert first["monthly_amount"] == Decimal("1120.00") and first["approved_on"] == date(
        2026, 1, 5
    )
    assert first["household_size"] == 3
    assert rows[2]["member_id_number_status"] == "invalid"  # kept for the dedupe gate
    assert (rows[3]["division_code"], rows[3]["division_code_delivered"]) == (
        "440104000000", "440102000000",
    )  # fmt: skip
    assert (rows[4]["division_code"], rows[4]["division_code_delivered"]) == (
        "440106000000", "440199000000",
    )  # fmt: skip
    assert (rows[7]["member_id_number"], rows[7]["member_id_number_status"]) == (None, "missing")
    [pay] = _silver(settings, "benefit_payments")
    assert pay["pay_month"] == "2026-10" and pay["amount"] == Decimal("1120.00")
    assert pay["paid_at"] == datetime(2026, 10, 15, 2, 0, tzinfo=UTC)
    [org] = _silver(settings, "social_organizations")
    assert (org["uscc"], org["uscc_status"], org["is_charity"]) == (ORG, "normalized", True)
    assert org["registrar"] == "440100000000"
    [don] = _silver(settings, "charity_donations")
    assert don["org_uscc_status"] == "invalid" and don["donor_type"] == "个人"
    [child] = _silver(settings, "child_welfare")
    # the child is kept (name + birth date); the guardian without an ID is dropped
    assert child["birth_date"] == date(2026, 1, 5) and child["child_id_number_status"] == "missing"
    assert child["guardian_name"] is None and child["guardian_id_number_status"] == "missing"
    assert child["status"] == "在册" and child["division_code"] == "440106001000"


def test_rerun_is_a_no_op(settings: Settings) -> None:
    _city(settings)
    clean_pending(settings, now=NOW)
    versions = {
        p: lake.open_table(p).version()
        for p in [settings.lake / "ingest_audit", settings.lake / "quarantine",
                  *(settings.lake / "silver").iterdir()]
    }  # fmt: skip
    again = clean_pending(settings, now=NOW)
    assert again["cleaned"] == [] and again["superseded_removed"] == {}
    assert {p: lake.open_table(p).version() for p in versions} == versions


def test_crash_between_writes_is_repaired(settings: Settings) -> None:
    deliver(settings.lake, "divisions", divisions_rows(), delivery_id="20260101-440100-001")
    rows = [assistance(), assistance(monthly_amount="x")]
    deliver(settings.lake, "assistance_recipients", rows, delivery_id="D1", source_unit="440106")
    # GIVEN a crash after silver and quarantine were written but before the audit update
    clean_pending(settings, feeds=["divisions"], now=NOW)
    from civlake.clean.divisions import load_division_map

    out = clean_delivery(
        get_contract("assistance_recipients"),
        bronze_rows("assistance_recipients", rows, delivery_id="D1"),
        divmap=load_division_map(settings.lake, today=NOW.date(), io=lake.DELTA_RS), now=NOW,
    )  # fmt: skip
    lake.append(settings.lake / "silver" / "assistance_recipients", out.silver)
    lake.append(settings.lake / "quarantine", out.quarantine)
    assert any("not cleaned yet" in v for v in check_invariants(settings))
    # WHEN the gate reruns THEN the half-written delivery is replaced, not doubled
    clean_pending(settings, now=NOW)
    assert check_invariants(settings) == []
    assert len(_silver(settings, "assistance_recipients")) == 1
    assert len(_quarantine(settings)) == 1


def test_superseded_delivery_leaves_silver(settings: Settings) -> None:
    deliver(settings.lake, "divisions", divisions_rows(), delivery_id="20260101-440100-001")
    deliver(settings.lake, "assistance_recipients", [assistance(), assistance(family_no="F2")],
            delivery_id="20261101-440106-001", source_unit="440106")  # fmt: skip
    clean_pending(settings, now=NOW)
    # GIVEN a resubmission replaced the first delivery
    deliver(settings.lake, "assistance_recipients", [assistance(family_no="F3")],
            delivery_id="20261102-440106-001", source_unit="440106",
            produced_at="2026-11-02T02:00:00+08:00")  # fmt: skip
    set_audit_status(settings.lake, "assistance_recipients", "20261101-440106-001", "superseded")
    summary = clean_pending(settings, now=NOW)
    assert summary["superseded_removed"] == {"assistance_recipients": 2}
    assert [r["family_no"] for r in _silver(settings, "assistance_recipients")] == ["F3"]
    assert check_invariants(settings) == []
    # and the old rows are still in the Delta history
    dt = lake.open_table(settings.lake / "silver" / "assistance_recipients")
    dt.load_as_version(dt.version() - 2)
    assert dt.to_pyarrow_table().num_rows == 2


def test_no_divisions_data_is_said_clearly(settings: Settings) -> None:
    deliver(settings.lake, "assistance_recipients", [assistance()], delivery_id="D1")
    deliver(settings.lake, "charity_donations", [
        {"donation_no": "D1", "org_uscc": ORG, "donor_type": "企业", "amount": "5",
         "donated_at": "2026-10-31"}], delivery_id="D2")  # fmt: skip
    with pytest.raises(CleanGateError, match="no divisions data") as err:
        clean_pending(settings, now=NOW)
    assert "assistance_recipients/D1" in str(err.value)
    # the feeds that need no division codes were still cleaned
    assert [d["feed_id"] for d in err.value.summary["cleaned"]] == ["charity_donations"]
    assert _audit(settings)[("assistance_recipients", "D1")]["rows_silver"] is None


def test_bronze_not_matching_the_audit_fails_loudly(settings: Settings) -> None:
    deliver(settings.lake, "charity_donations", [
        {"donation_no": "D1", "org_uscc": ORG, "donor_type": "企业", "amount": "5",
         "donated_at": "2026-10-31"}], delivery_id="D2")  # fmt: skip
    lake.append(settings.lake / "bronze" / "charity_donations",
                bronze_rows("charity_donations", [{"donation_no": "X"}], delivery_id="D2"))  # fmt: skip
    with pytest.raises(
        CleanGateError, match=r"charity_donations/D2: .*bronze.charity_donations holds 2"
    ):
        clean_pending(settings, now=NOW)
    assert any(
        "rows_bronze=1 but bronze.charity_donations holds 2" in v
        for v in check_invariants(settings)
    )


def test_divisions_loaded_but_filtered_out_is_named(settings: Settings) -> None:
    deliver(settings.lake, "divisions", divisions_rows(), delivery_id="20260101-440100-001")
    deliver(settings.lake, "assistance_recipients", [assistance()], delivery_id="D1")
    with pytest.raises(CleanGateError, match="20260101-440100-001 are loaded but not cleaned"):
        clean_pending(settings, feeds=["assistance_recipients"], now=NOW)
    # the same call after divisions were cleaned goes through
    clean_pending(settings, feeds=["divisions"], now=NOW)
    assert clean_pending(settings, feeds=["assistance_recipients"], now=NOW)["rows_silver"] == 1


def test_check_invariants_sees_tables_not_only_the_audit(settings: Settings) -> None:
    deliver(settings.lake, "charity_donations", [
        {"donation_no": "D1", "org_uscc": ORG, "donor_type": "企业", "amount": "5",
         "donated_at": "2026-10-31"}], delivery_id="D2")  # fmt: skip
    clean_pending(settings, now=NOW)
    assert check_invariants(settings) == []
    # GIVEN silver rows written twice behind the gate's back
    path = settings.lake / "silver" / "charity_donations"
    lake.append(path, lake.read_arrow(path))
    assert check_invariants(settings) == [
        "charity_donations/D2: audit says rows_silver=1 but silver.charity_donations holds 2"
    ]


def test_empty_delivery_before_the_feed_has_a_bronze_table(settings: Settings) -> None:
    # An incremental with no changes (0 rows) can be a feed's first delivery: ingestion
    # writes no bronze table for it, and cleaning must still account for it (0 + 0).

    deliver(settings.lake, "divisions", divisions_rows(), delivery_id="20260101-440100-001",
            period="2026")  # fmt: skip
    lake.append(
        lake.table_path(settings.lake, "ingest_audit"),
        pa.Table.from_pylist(
            [audit_row("benefit_payments", "20261001-440100-001", 0, mode="incremental")],
            AUDIT_SCHEMA,
        ),
    )
    clean_pending(settings, now=NOW)
    a = _audit(settings)[("benefit_payments", "20261001-440100-001")]
    assert (a["rows_silver"], a["rows_quarantined"]) == (0, 0)
    deliver(settings.lake, "benefit_payments", [
        {"payment_id": "P1", "pay_month": "2026-10", "program_code": "DB", "id_number": GOOD_ID,
         "name": "张伟", "amount": "1120", "status": "success"},
    ], delivery_id="20261101-440100-001", mode="incremental")  # fmt: skip
    clean_pending(settings, now=NOW)
    assert [r["payment_id"] for r in _silver(settings, "benefit_payments")] == ["P1"]
    check_invariants(settings)


def test_deliveries_of_a_feed_cleaned_together_keep_their_own_counts(settings: Settings) -> None:
    # The gate cleans the pending deliveries of a feed in one call (gate._clean_run);
    # each must still get its own rows, counts and ledger, and one whose bronze does not
    # match its audit row must stay pending without holding the others back.
    def donation(no: str, amount: str) -> dict:
        return {"donation_no": no, "org_uscc": ORG, "donor_type": "企业", "amount": amount,
                "donated_at": "2026-10-31"}  # fmt: skip

    deliver(settings.lake, "charity_donations", [donation("A1", "5"), donation("A2", "一千")],
            delivery_id="DA")  # fmt: skip
    deliver(settings.lake, "charity_donations", [donation("B1", "7")], delivery_id="DB")
    deliver(settings.lake, "charity_donations", [donation("C1", "9")], delivery_id="DC")
    lake.append(settings.lake / "bronze" / "charity_donations",
                bronze_rows("charity_donations", [donation("X", "1")], delivery_id="DB"))  # fmt: skip
    with pytest.raises(CleanGateError, match=r"charity_donations/DB: .* holds 2") as err:
        clean_pending(settings, now=NOW)
    done = {d["delivery_id"]: d for d in err.value.summary["cleaned"]}
    assert sorted(done) == ["DA", "DC"]
    assert (done["DA"]["rows_silver"], done["DA"]["rows_quarantined"]) == (1, 1)
    assert (done["DC"]["rows_silver"], done["DC"]["rows_quarantined"]) == (1, 0)
    assert [(r["_delivery_id"], r["donation_no"]) for r in _silver(settings, "charity_donations")] == [
        ("DA", "A1"), ("DC", "C1"),
    ]  # fmt: skip
    assert list(_quarantine(settings)) == [("charity_donations", "DA", 2)]
    audit = _audit(settings)
    assert audit[("charity_donations", "DB")]["rows_silver"] is None  # still pending
    assert audit[("charity_donations", "DA")]["rows_quarantined"] == 1
    assert check_invariants(settings, deliveries={("charity_donations", "DA"),
                                                  ("charity_donations", "DC")}) == []  # fmt: skip
