"""A tiny city taken through dbt twice, a month apart, for the 免申即享 loop and the
dashboard: February lists the unclaimed entitlements, March's payments close some.

Round 1 is tests/integration/test_dbt_build.py's city (January and February): 陈老伯
(86, not in the 高龄津贴 register) is a GL_UNCLAIMED candidate and 王志强 (特困, 一级
残疾, paid 护理补贴 only) a CJSH_UNCLAIMED one. Round 2 delivers March: 陈老伯 is
registered and paid, 王志强's 生活补贴 stays unpaid; 越秀区 returns its worklist with
王志强's candidate found 属实 (a finding_reviews delivery).
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
from tests.integration.test_dbt_build import PEOPLE, City, _person, build_city

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
    first.write(settings.lake)
    run_dbt(settings)
    findings = [read_rows(settings.warehouse, "select * from verify.findings")]

    paid_at = max(r["first_detected_at"] for r in findings[0]) + PAID_AFTER_DETECTION
    cjsh = next(f["finding_id"] for f in findings[0] if f["rule_code"] == "CJSH_UNCLAIMED")
    second = march(paid_at.astimezone(UTC), confirmed=cjsh)
    write_delivered(second, settings.lake)
    run_dbt(settings)
    findings.append(read_rows(settings.warehouse, "select * from verify.findings"))
    return LoopCity(settings, [first, second], findings)


def march(paid_at: datetime, *, confirmed: str) -> City:
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
    # March pays 陈老伯's 高龄津贴 (closing his candidate), 黄婆婆's and 王志强's 护理补贴;
    # 王志强's 生活补贴 is still not paid.
    payments = [
        ("P10", "GL", "100.00", "pk_old", "440106001000"),
        ("P11", "GL", "300.00", "pk_old2", "440104001000"),
        ("P12", "CJHL", "300.00", "pk_dis", "440104001000"),
        ("P13", "DB", "2200.00", "pk_head", "440106001000"),
    ]
    city.add("benefit_payments", month, "440100", [
        {"payment_id": pid, "pay_month": month, "program_code": prog, "amount": Decimal(amount),
         "status": "success", "payer_division": division, "paid_at": paid_at, **_person(key)}
        for pid, prog, amount, key, division in payments
    ], mode="incremental", persons=[{"payee": p[3]} for p in payments])  # fmt: skip
    city.add("finding_reviews", "2026-03", "440104", [
        {"finding_id": confirmed, "district_code": "440104000000", "decision": "属实",
         "note": "经入户核实，符合困难残疾人生活补贴条件", "reviewer": "张社工",
         "reviewed_on": d("2026-03-10")}
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
