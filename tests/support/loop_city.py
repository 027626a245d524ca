"""A tiny city taken through dbt twice, a month apart, for the 免申即享 loop and the
dashboard: February lists the unclaimed entitlements, March's payments close some.

Round 1 is tests/support/small_city.py's city (January and February): 陈老伯 (86, not in
the 高龄津贴 register) is a GL_UNCLAIMED candidate and 王志强 (特困, 一级残疾, paid 护理补贴
only) a CJSH_UNCLAIMED one; and two improper payments are going out (PAY_NO_BASIS): 低保金
to 周文斌 (no household) in January and February, 特困供养金 to 吴丽娟 in February. Round 2
delivers March, ingested after round 1's run: 陈老伯 is registered and paid, 王志强's 生活
补贴 stays unpaid; 周文斌's payment stops and the bank returns his February one, 吴丽娟's
goes on; 越秀区 returns its worklist with 王志强's candidate found 属实, 天河区 with
周文斌's finding found 属实 (finding_reviews deliveries).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from pathlib import Path

import duckdb
import pyarrow as pa

from civlake import lake, tables
from civlake.contracts import load_contracts
from civlake.settings import Settings, load_settings
from civlake.transform import run_dbt
from tests.support.small_city import PEOPLE, City, _person, build_city

# March's GL payment lands a few days after the run that detects the candidate, so
# "days from detection to first payment" is a real, positive number.
PAID_AFTER_DETECTION = timedelta(days=3, hours=2)


@dataclass
class LoopCity:
    settings: Settings
    rounds: list[City]
    findings: list[list[dict]]  # verify.findings after each round


def build_loop_city(root: Path) -> LoopCity:
    settings = load_settings(
        lake=root / "lake", warehouse=root / "warehouse.duckdb", env={"CIVLAKE_HOME": str(root)}
    )
    first = build_city()
    improper_payments(first)
    first.write(settings.lake)
    run_dbt(settings)
    findings = [read_rows(settings.warehouse, "select * from verify.findings")]

    paid_at = max(r["first_detected_at"] for r in findings[0]) + PAID_AFTER_DETECTION
    cjsh = next(f["finding_id"] for f in findings[0] if f["rule_code"] == "CJSH_UNCLAIMED")
    stop = next(
        f["finding_id"] for f in findings[0]
        if f["rule_code"] == "PAY_NO_BASIS" and f["person_key"] == "pk_m"
    )  # fmt: skip
    second = march(paid_at.astimezone(UTC), confirmed={"440104": cjsh, "440106": stop})
    for rows in (*second.rows.values(), second.audit):  # March arrives after round 1's run
        for row in rows:
            row["_ingested_at" if "_ingested_at" in row else "ingested_at"] = paid_at
    write_delivered(second, settings.lake)
    run_dbt(settings)
    findings.append(read_rows(settings.warehouse, "select * from verify.findings"))
    return LoopCity(settings, [first, second], findings)


def improper_payments(city: City) -> None:
    """Payments with nothing due: 低保金 to 周文斌 (in no household) in January and
    February, 特困供养金 to 吴丽娟 in February."""
    payments = [
        ("P20", "2026-01", "DB", "1000.00", "pk_m", "440106001000"),
        ("P21", "2026-02", "DB", "1000.00", "pk_m", "440106001000"),
        ("P22", "2026-02", "TK", "1200.00", "pk_f", "440104001000"),
    ]
    city.add("benefit_payments", "2026-02", "440100", [
        {"payment_id": pid, "pay_month": month, "program_code": prog, "amount": Decimal(amount),
         "status": "success", "payer_division": division, **_person(key)}
        for pid, month, prog, amount, key, division in payments
    ], mode="incremental", persons=[{"payee": p[4]} for p in payments], delivery_seq="003")  # fmt: skip


def march(paid_at: datetime, *, confirmed: dict[str, str]) -> City:
    city = City()
    d = date.fromisoformat
    month = "2026-03"
    city.add("hukou_population", month, "440100", [
        _person(k, hukou_division_code=PEOPLE[k][4],
                person_status="死亡" if k == "pk_dead" else "正常",
                status_changed_on=d("2026-02-11") if k == "pk_dead" else None)
        for k in PEOPLE
    ], persons=[{"person": k} for k in PEOPLE])  # fmt: skip
    city.add("assistance_recipients", month, "440106", [
        {"family_no": "TH001", "division_code": "440106001000", "assistance_type": "低保",
         "member_name": PEOPLE[k][1], "monthly_amount": Decimal("2200.00"), "status": "在保"}
        for k in ("pk_head", "pk_kid")
    ], persons=[{"member": k, "head": "pk_head"} for k in ("pk_head", "pk_kid")])  # fmt: skip
    city.add("assistance_recipients", month, "440104", [
        {"family_no": "YX001", "division_code": "440104001000", "assistance_type": "特困",
         "member_name": PEOPLE["pk_dis"][1], "monthly_amount": Decimal("1700.00"), "status": "在保"}
    ], persons=[{"member": "pk_dis", "head": "pk_dis"}])  # fmt: skip
    # 陈老伯 is now in the register (80-89岁) next to 黄婆婆.
    city.add("elderly_allowance", month, "440100", [
        _person("pk_old2", hukou_division_code="440104001000", tier="90-99岁",
                monthly_standard=Decimal("300.00"), status="正常"),
        _person("pk_old", hukou_division_code="440106001000", tier="80-89岁",
                monthly_standard=Decimal("100.00"), status="正常"),
    ], persons=[{"person": "pk_old2"}, {"person": "pk_old"}])  # fmt: skip
    city.add("disability_certs", month, "440100", [
        _person("pk_dis", cert_no=PEOPLE["pk_dis"][0] + "41", disability_category="肢体",
                disability_grade="一级", cert_status="有效", hukou_division_code="440104001000",
                valid_until=d("2030-01-01"))
    ], persons=[{"person": "pk_dis"}])  # fmt: skip
    city.add("child_welfare", month, "440106", [
        {"child_id_number": PEOPLE["pk_kid"][0], "child_name": PEOPLE["pk_kid"][1],
         "birth_date": d("2015-08-08"), "child_category": "困境儿童", "placement": "社会散居",
         "division_code": "440106001000", "status": "在册"}
    ], persons=[{"child": "pk_kid"}])  # fmt: skip
    # March pays 陈老伯's 高龄津贴 (closing his candidate), 黄婆婆's and 王志强's 护理补贴
    # and 吴丽娟's 特困供养金 again; 王志强's 生活补贴 is still not paid, 周文斌's 低保金
    # has stopped and the bank sends his February one back (P21 resent as returned).
    payments = [
        ("P10", month, "GL", "100.00", "pk_old", "440106001000", "success"),
        ("P11", month, "GL", "300.00", "pk_old2", "440104001000", "success"),
        ("P12", month, "CJHL", "300.00", "pk_dis", "440104001000", "success"),
        ("P13", month, "DB", "2200.00", "pk_head", "440106001000", "success"),
        ("P23", month, "TK", "1200.00", "pk_f", "440104001000", "success"),
        ("P21", "2026-02", "DB", "1000.00", "pk_m", "440106001000", "returned"),
    ]
    city.add("benefit_payments", month, "440100", [
        {"payment_id": pid, "pay_month": pay_month, "program_code": prog,
         "amount": Decimal(amount), "status": status, "payer_division": division,
         "paid_at": paid_at, **_person(key)}
        for pid, pay_month, prog, amount, key, division, status in payments
    ], mode="incremental", persons=[{"payee": p[4]} for p in payments])  # fmt: skip
    notes = {"440104": "经入户核实，符合困难残疾人生活补贴条件", "440106": "无低保资格，已停发"}
    for district, finding_id in confirmed.items():
        city.add("finding_reviews", "2026-03", district, [
            {"finding_id": finding_id, "district_code": f"{district}000000", "decision": "属实",
             "note": notes[district], "reviewer": "张社工", "reviewed_on": d("2026-03-10")}
        ], mode="incremental")  # fmt: skip
    return city


def write_delivered(city: City, root: Path) -> None:
    """Append a later round's deliveries (silver, xref, audit); the persons stay."""
    contracts = load_contracts()
    for feed, rows in city.rows.items():
        schema = tables.silver_schema(contracts[feed])
        full = [{name: row.get(name) for name in schema.names} for row in rows]
        lake.append(lake.table_path(root, "silver", feed), pa.Table.from_pylist(full, schema))
    for path, rows, name in (
        (root / "core" / "person_source_xref", city.xref, tables.PERSON_SOURCE_XREF),
        (root / "ingest_audit", city.audit, tables.INGEST_AUDIT),
    ):
        schema = tables.schema(name)
        full = [{n: row.get(n) for n in schema.names} for row in rows]
        lake.append(path, pa.Table.from_pylist(full, schema))


def read_rows(warehouse: Path, sql: str, params: list | None = None) -> list[dict]:
    con = duckdb.connect(str(warehouse), read_only=True)
    try:
        cur = con.execute(sql, params or [])
        columns = [c[0] for c in cur.description]
        return [dict(zip(columns, row, strict=True)) for row in cur.fetchall()]
    finally:
        con.close()
