"""The tiny hand-made city of tests/integration/test_dbt_build (January and February
2026): eight people, two districts, one household of each kind, a death, a marriage, a
returned payment. Silver rows and the xref rows the dedupe gate would write, so dbt can
run on it without the gates; also round 1 of tests/support/loop_city.py.
"""

from __future__ import annotations

import hashlib
from datetime import UTC, date, datetime
from decimal import Decimal
from pathlib import Path

import pyarrow as pa

from civlake import lake, tables
from civlake.contracts import load_contracts
from civlake.identifiers import id_check_char


def citizen_id(area: str, birth: str, seq: str) -> str:
    body = f"{area}{birth.replace('-', '')}{seq}"
    return body + id_check_char(body)


# person_key -> (id, name, sex, birth, hukou division)
PEOPLE = {
    "pk_old": (citizen_id("440106", "1940-03-01", "123"), "陈老伯", "1", "1940-03-01", "440106001000"),
    "pk_old2": (citizen_id("440104", "1935-06-15", "222"), "黄婆婆", "2", "1935-06-15", "440104001000"),
    "pk_head": (citizen_id("440106", "1970-05-05", "331"), "李建国", "1", "1970-05-05", "440106001000"),
    "pk_kid": (citizen_id("440106", "2015-08-08", "442"), "李小红", "2", "2015-08-08", "440106001000"),
    "pk_dis": (citizen_id("440104", "1980-01-20", "551"), "王志强", "1", "1980-01-20", "440104001000"),
    "pk_dead": (citizen_id("440106", "1950-02-02", "661"), "赵永福", "1", "1950-02-02", "440106001000"),
    "pk_m": (citizen_id("440106", "1990-04-04", "771"), "周文斌", "1", "1990-04-04", "440106001000"),
    "pk_f": (citizen_id("440104", "1992-09-09", "882"), "吴丽娟", "2", "1992-09-09", "440104001000"),
}  # fmt: skip
INGESTED = datetime(2026, 3, 2, 1, 0, tzinfo=UTC)


class City:
    """Collects silver rows per feed and the xref rows the dedupe gate would write."""

    def __init__(self) -> None:
        self.rows: dict[str, list[dict]] = {}
        self.xref: list[dict] = []
        self.audit: list[dict] = []

    def add(self, feed: str, period: str, unit: str, rows: list[dict], *, mode: str = "full",
            persons: list[dict[str, str]] | None = None, produced: str = "T02:00:00+08:00",
            status: str = "loaded", delivery_seq: str = "001") -> str:  # fmt: skip
        day = period.replace("-W", "").replace("-", "")[:8].ljust(8, "1")
        delivery = f"{day}-{unit}-{delivery_seq}"
        # Daily periods are produced that day, months on the 28th, years and weeks
        # (only one of each here) on a fixed day inside the fixture's February.
        day_of = {10: period, 7: f"{period}-28"}.get(len(period) if "W" not in period else 0)
        produced_at = f"{day_of or '2026-02-07'}{produced}"
        for i, row in enumerate(rows, start=1):
            row |= {
                "_delivery_id": delivery, "_source_file": f"{feed}.csv", "_source_row": i,
                "_source_unit": unit, "_period": period, "_mode": mode,
                "_produced_at": produced_at, "_ingested_at": INGESTED,
                "_row_hash": hashlib.sha256(repr(sorted(row.items())).encode()).hexdigest(),
            }  # fmt: skip
            for role, key in ((persons or [])[i - 1] if persons else {}).items():
                self.xref.append(
                    {"feed_id": feed, "_delivery_id": delivery, "_source_file": f"{feed}.csv",
                     "_source_row": i, "role": role, "person_key": key,
                     "match_method": "id_exact", "match_probability": 1.0,
                     "id_number": PEOPLE[key][0]}
                )  # fmt: skip
        if status == "loaded":
            self.rows.setdefault(feed, []).extend(rows)
        self.audit.append(
            {"feed_id": feed, "delivery_id": delivery, "source_unit": unit, "period": period,
             "mode": mode, "produced_at": produced_at, "status": status,
             "rows_declared": len(rows), "rows_bronze": len(rows),
             "rows_silver": len(rows) - 1 if feed == "volunteer_service" else len(rows),
             "rows_quarantined": 1 if feed == "volunteer_service" else 0,
             "ingested_at": INGESTED}
        )  # fmt: skip
        return delivery

    def write(self, root: Path) -> None:
        for feed, rows in self.rows.items():
            schema = tables.silver_schema(load_contracts()[feed])
            full = [{name: row.get(name) for name in schema.names} for row in rows]
            lake.append(lake.table_path(root, "silver", feed), pa.Table.from_pylist(full, schema))
        _write(
            root / "core" / "person_source_xref",
            self.xref,
            tables.schema(tables.PERSON_SOURCE_XREF),
        )
        _write(root / "ingest_audit", self.audit, tables.schema(tables.INGEST_AUDIT))
        persons = [
            {"person_key": k, "id_number": v[0], "name": v[1], "sex": v[2],
             "birth_date": date.fromisoformat(v[3]), "hukou_division_code": v[4],
             "is_alive": k != "pk_dead", "death_date": date(2026, 2, 10) if k == "pk_dead" else None,
             "death_date_source": "death_certificates" if k == "pk_dead" else None,
             "source_feeds": ["hukou_population"], "first_seen": INGESTED, "last_seen": INGESTED,
             "in_hukou": True, "hukou_status": "死亡" if k == "pk_dead" else "正常"}
            for k, v in PEOPLE.items()
        ]  # fmt: skip
        _write(root / "core" / "persons", persons, tables.schema(tables.PERSONS))


def _write(path: Path, rows: list[dict], schema: pa.Schema) -> None:
    full = [{name: row.get(name) for name in schema.names} for row in rows]
    lake.append(path, pa.Table.from_pylist(full, schema))


def _div(code, name, level, parent, valid_from=None, valid_to=None, successor=None):
    return {"division_code": code, "name": name, "level": level, "parent_code": parent,
            "valid_from": valid_from, "valid_to": valid_to, "successor_code": successor}  # fmt: skip


def _person(key: str, **extra) -> dict:
    pid, name, sex, birth, _division = PEOPLE[key]
    return {"id_number": pid, "id_number_status": "valid", "name": name, "sex": sex,
            "birth_date": date.fromisoformat(birth), **extra}  # fmt: skip


def build_city() -> City:
    city = City()
    d = date.fromisoformat
    city.add("divisions", "2026", "440100", [
        _div("440100000000", "广州市", "2", None),
        _div("440103000000", "荔湾区", "3", "440100000000"),
        _div("440104000000", "越秀区", "3", "440100000000"),
        _div("440106000000", "天河区", "3", "440100000000"),
        # 东山区 was merged into 越秀区 in 2005; its street moved with it.
        _div("440102000000", "东山区", "3", "440100000000", d("1990-01-01"), d("2005-04-28"), "440104000000"),
        _div("440102001000", "农林街道", "4", "440102000000", d("1990-01-01"), d("2005-04-28"), "440104001000"),
        _div("440104001000", "农林街道", "4", "440104000000", d("2005-04-28")),
        # Renamed in 2020: a second version of the same code.
        _div("440106001000", "石牌镇", "4", "440106000000", d("2000-01-01")),
        _div("440106001000", "石牌街道", "4", "440106000000", d("2020-01-01")),
    ])  # fmt: skip
    for month in ("2026-01", "2026-02"):
        hukou = [_person(k, hukou_division_code=PEOPLE[k][4],
                         person_status="死亡" if k == "pk_dead" and month == "2026-02" else "正常",
                         status_changed_on=d("2026-02-11") if k == "pk_dead" and month == "2026-02" else None)
                 for k in PEOPLE]  # fmt: skip
        city.add(
            "hukou_population", month, "440100", hukou, persons=[{"person": k} for k in PEOPLE]
        )
        # 天河: one 低保 household (head + child); 越秀: one 特困 household (disabled man).
        city.add("assistance_recipients", month, "440106", [
            {"family_no": "TH001", "division_code": "440106001000", "assistance_type": "低保",
             "member_name": PEOPLE[k][1], "monthly_amount": Decimal("2200.00"), "status": "在保"}
            for k in ("pk_head", "pk_kid")
        ], persons=[{"member": k, "head": "pk_head"} for k in ("pk_head", "pk_kid")])  # fmt: skip
        city.add("assistance_recipients", month, "440104", [
            {"family_no": "YX001", "division_code": "440104001000", "assistance_type": "特困",
             "member_name": PEOPLE["pk_dis"][1], "monthly_amount": Decimal("1700.00"), "status": "在保"}
        ], persons=[{"member": "pk_dis", "head": "pk_dis"}])  # fmt: skip
        city.add("elderly_allowance", month, "440100", [
            _person("pk_old2", hukou_division_code="440104001000", tier="90-99岁",
                    monthly_standard=Decimal("300.00"), status="正常")
        ], persons=[{"person": "pk_old2"}])  # fmt: skip
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
    # Payments: the February DB line is resent as returned, and supersedes the success.
    city.add("benefit_payments", "2026-01", "440100", [
        {"payment_id": "P1", "pay_month": "2026-01", "program_code": "DB", "amount": Decimal("2200.00"),
         "status": "success", "payer_division": "440106001000", **_person("pk_head")},
        {"payment_id": "P2", "pay_month": "2026-02", "program_code": "DB", "amount": Decimal("2200.00"),
         "status": "success", "payer_division": "440106001000", **_person("pk_head")},
        {"payment_id": "P3", "pay_month": "2026-02", "program_code": "CJHL", "amount": Decimal("300.00"),
         "status": "success", "payer_division": "440104001000", **_person("pk_dis")},
    ], mode="incremental", persons=[{"payee": "pk_head"}, {"payee": "pk_head"}, {"payee": "pk_dis"}])  # fmt: skip
    city.add("benefit_payments", "2026-02", "440100", [
        {"payment_id": "P2", "pay_month": "2026-02", "program_code": "DB", "amount": Decimal("2200.00"),
         "status": "returned", "payer_division": "440106001000", **_person("pk_head")},
    ], mode="incremental", persons=[{"payee": "pk_head"}])  # fmt: skip
    # A death: certificate on the 10th, cremation record says the 9th: the certificate wins.
    city.add("death_certificates", "2026-02-10", "440100", [
        {"cert_no": "DC1", "death_date": d("2026-02-10"), "death_place_type": "hospital",
         **_person("pk_dead")}], mode="incremental", persons=[{"deceased": "pk_dead"}])  # fmt: skip
    city.add("cremation_records", "2026-02-12", "440106", [
        {"cremation_no": "CR1", "death_date": d("2026-02-09"), "cremated_on": d("2026-02-12"),
         "handling_division_code": "440106000000", **_person("pk_dead")}],
        mode="incremental", persons=[{"deceased": "pk_dead"}])  # fmt: skip
    city.add("marriage_registrations", "2026-02-14", "440106", [
        {"cert_no": "J440106-2026-000001", "business_type": "结婚登记", "registered_on": d("2026-02-14"),
         "registrar_code": "440106", "male_id_number": PEOPLE["pk_m"][0], "male_name": PEOPLE["pk_m"][1],
         "female_id_number": PEOPLE["pk_f"][0], "female_name": PEOPLE["pk_f"][1]}],
        mode="incremental", persons=[{"male": "pk_m", "female": "pk_f"}])  # fmt: skip
    city.add("social_organizations", "2026-W05", "440100", [
        {"uscc": "51440100MJ0000001X", "name": "广州市助老协会", "org_type": "社会团体",
         "registrar": "440106000000", "status": "正常", "last_inspection_result": "合格",
         "abnormal_list": False, "is_charity": True},
        {"uscc": "52440100MJ0000002Y", "name": "天河康复中心", "org_type": "民办非企业单位",
         "registrar": "440106000000", "status": "正常", "last_inspection_result": "不合格",
         "abnormal_list": True, "is_charity": False},
    ])  # fmt: skip
    city.add("charity_donations", "2026-02-03", "440100", [
        {"donation_no": f"D{i}", "org_uscc": "51440100MJ0000001X", "org_uscc_status": "valid",
         "org_name": "广州市助老协会", "project_no": "XM1", "project_name": "敬老餐桌",
         "donor_type": t, "donor_name": n, "amount": Decimal(a),
         "donated_at": datetime(2026, 2, 3, 3, 0, tzinfo=UTC)}
        for i, (t, n, a) in enumerate([("个人", PEOPLE["pk_m"][1], "100.00"), ("匿名", None, "50.00")])
    ], mode="incremental")  # fmt: skip
    city.add("volunteer_service", "2026-W06", "440100", [
        {"record_no": "V1", "volunteer_no": "VOL1", "id_number": PEOPLE["pk_f"][0],
         "name": PEOPLE["pk_f"][1], "org_uscc": "51440100MJ0000001X", "org_uscc_status": "valid",
         "service_category": "助老", "service_date": d("2026-02-05"), "hours": Decimal("3.50"),
         "service_division_code": "440106001000"}
    ], mode="incremental", persons=[{"volunteer": "pk_f"}])  # fmt: skip
    # A rejected delivery counts as received nowhere but in deliveries_rejected.
    city.add("benefit_payments", "2026-02", "440100", [{}], mode="incremental",
             status="rejected", delivery_seq="009")  # fmt: skip
    return city
