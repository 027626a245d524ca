"""The compare gate (比对核查) end to end on a tiny hand-written city.

GIVEN silver rows, the dedupe gate's xref and golden persons written as real Delta
tables (civlake.lake), WHEN the entitlement and verify models are built with the
project's real ``dbt build`` (civlake.transform.run_dbt), THEN every rule finds its
hand-written positive case, with the exact amount, and none of its near misses.
One build serves all rules: each scenario has its own persons (keys like ``P_DEAD``).
"""

from __future__ import annotations

import json
from collections import defaultdict
from datetime import date, datetime
from decimal import Decimal
from pathlib import Path

import duckdb
import pyarrow as pa
import pytest

from civlake import lake
from civlake.identifiers import id_check_char
from civlake.settings import load_settings
from civlake.tables import schema as schema_for
from civlake.transform import run_dbt
from civlake.transform.rules import load_rules, rule_codes

pytestmark = pytest.mark.integration

M1, M2, M3, M4 = "2026-08", "2026-09", "2026-10", "2026-11"
SELECT = "+findings +mart_verification +finding_status"  # finding_status: what worklists list

# (match_method, match_probability, match_detail) of an xref row
Match = tuple[str, float | None, str | None]
EXACT: Match = ("id_exact", 1.0, None)
NORMALIZED: Match = ("id_normalized", 1.0, None)
PROBABLE: Match = ("probabilistic", 0.9981, "身份证号与已知号码仅差一位；姓名一致")


def citizen_id(birth: date, seq: int, *, male: bool, area: str = "440106") -> str:
    """A valid GB 11643 number: sex digit odd for men, even for women."""
    body = f"{area}{birth:%Y%m%d}{seq % 100:02d}{(seq % 5) * 2 + (1 if male else 0)}"
    return body + id_check_char(body)


class City:
    def __init__(self) -> None:
        self.tables: dict[str, list[dict]] = defaultdict(list)
        self._rows: dict[tuple[str, str], int] = defaultdict(int)
        self._seq = 0
        self.names: dict[str, str] = {}

    # -- persons ------------------------------------------------------------------
    def person(
        self,
        key: str,
        name: str,
        birth: date,
        *,
        male: bool = True,
        hukou: bool = True,
        hukou_status: str = "正常",
        status_changed_on: date | None = None,
        death_date: date | None = None,
        district: str = "440106",
    ) -> str:
        self._seq += 1
        self.names[key] = name
        id_number = citizen_id(birth, self._seq, male=male, area=district)
        sex = "1" if male else "2"
        division = f"{district}001001"
        self.tables["core/persons"].append(
            {
                "person_key": key,
                "id_number": id_number,
                "name": name,
                "sex": sex,
                "birth_date": birth,
                "hukou_division_code": division if hukou else None,
                "is_alive": death_date is None,
                "death_date": death_date,
                "in_hukou": hukou,
                "hukou_status": hukou_status if hukou else None,
            }
        )
        if hukou:
            self.row(
                "hukou_population",
                "20261001-440100-001",
                "2026-10",
                "440100",
                {
                    "id_number": id_number,
                    "name": name,
                    "sex": sex,
                    "birth_date": birth,
                    "hukou_division_code": division,
                    "person_status": hukou_status,
                    "status_changed_on": status_changed_on,
                },
                roles={"person": key},
            )
        return key

    # -- silver rows --------------------------------------------------------------
    def row(
        self,
        feed: str,
        delivery: str,
        period: str,
        unit: str,
        values: dict,
        *,
        roles: dict[str, str | None],
        produced_at: str | None = None,
        mode: str = "full",
        match: dict[str, Match] | None = None,
    ) -> None:
        """One silver row and its xref rows; ``match`` ties a role other than by exact ID."""
        self._rows[(feed, delivery)] += 1
        source_row = self._rows[(feed, delivery)]
        file = f"{delivery}.dat"
        lineage = {
            "_delivery_id": delivery,
            "_source_file": file,
            "_source_row": source_row,
            "_source_unit": unit,
            "_period": period,
            "_mode": mode,
            "_produced_at": produced_at
            or f"{delivery[:4]}-{delivery[4:6]}-{delivery[6:8]}T02:00:00+08:00",
            "_ingested_at": datetime(2026, 11, 1),
            "_row_hash": f"{feed}{delivery}{source_row}",
        }
        self.tables[f"silver/{feed}"].append({**values, **lineage})
        for role, key in roles.items():
            if key is None:
                continue
            method, probability, detail = (match or {}).get(role, EXACT)
            self.tables["core/person_source_xref"].append(
                {
                    "feed_id": feed,
                    "_delivery_id": delivery,
                    "_source_file": file,
                    "_source_row": source_row,
                    "role": role,
                    "person_key": key,
                    "match_method": method,
                    "match_probability": probability,
                    "match_detail": detail,
                    "id_number": values.get("id_number"),
                }
            )

    def payment(
        self,
        key: str,
        payment_id: str,
        month: str,
        program: str,
        amount: str,
        status: str = "success",
        *,
        delivery: str | None = None,
        match: Match | None = None,
        id_number: str | None = None,
    ) -> None:
        delivery = delivery or f"{month.replace('-', '')}28-440100-001"
        self.row(
            "benefit_payments",
            delivery,
            month,
            "440100",
            {
                "payment_id": payment_id,
                "pay_month": month,
                "program_code": program,
                "amount": Decimal(amount),
                "status": status,
                "payer_division": "440106000000",
                "id_number": id_number,
                "id_number_status": "invalid" if id_number else None,
            },
            roles={"payee": key},
            mode="incremental",
            match={"payee": match} if match else None,
        )

    def assistance(
        self,
        member: str,
        head: str,
        family: str,
        month: str,
        kind: str,
        amount: str,
        *,
        district: str = "440106",
        status: str = "在保",
        produced_at: str | None = None,
        seq: int = 1,
        match: Match | None = None,
    ) -> None:
        delivery = f"{month.replace('-', '')}01-{district}-{seq:03d}"
        self.row(
            "assistance_recipients",
            delivery,
            month,
            district,
            {
                "family_no": family,
                "division_code": f"{district}001001",
                "assistance_type": kind,
                "member_name": self.names.get(member),
                "head_name": self.names.get(head),
                "relation_to_head": "本人" if member == head else "子女",
                "monthly_amount": Decimal(amount),
                "status": status,
            },
            roles={"member": member, "head": head},
            produced_at=produced_at,
            match={"member": match} if match else None,
        )

    def elderly(
        self,
        key: str,
        month: str,
        tier: str,
        standard: str,
        status: str = "正常",
        *,
        match: Match | None = None,
        **values,
    ) -> None:
        self.row(
            "elderly_allowance",
            f"{month.replace('-', '')}02-440100-001",
            month,
            "440100",
            {
                "tier": tier,
                "monthly_standard": Decimal(standard),
                "status": status,
                "hukou_division_code": "440106001001",
                **values,
            },
            roles={"person": key},
            match={"person": match} if match else None,
        )

    def disability(
        self,
        key: str,
        month: str,
        grade: str,
        *,
        status: str = "有效",
        valid_until: date | None = None,
        match: Match | None = None,
        **values,
    ) -> None:
        self.row(
            "disability_certs",
            f"{month.replace('-', '')}03-440100-001",
            month,
            "440100",
            {
                "disability_grade": grade,
                "disability_category": "肢体",
                "cert_status": status,
                "valid_until": valid_until,
                "hukou_division_code": "440106001001",
                **values,
            },
            roles={"person": key},
            match={"person": match} if match else None,
        )

    def child(
        self,
        key: str,
        guardian: str | None,
        month: str,
        category: str,
        placement: str,
        status: str = "在册",
        *,
        guardian_match: Match | None = None,
    ) -> None:
        self.row(
            "child_welfare",
            f"{month.replace('-', '')}04-440106-001",
            month,
            "440106",
            {
                "child_category": category,
                "placement": placement,
                "status": status,
                "division_code": "440106001001",
            },
            roles={"child": key, "guardian": guardian},
            match={"guardian": guardian_match} if guardian_match else None,
        )

    def marriage(
        self,
        male: str,
        female: str,
        cert_no: str,
        kind: str,
        on: date,
        *,
        male_match: Match | None = None,
    ) -> None:
        self.row(
            "marriage_registrations",
            f"{on:%Y%m%d}-440106-001",
            f"{on:%Y-%m-%d}",
            "440106",
            {
                "cert_no": cert_no,
                "business_type": kind,
                "registered_on": on,
                "male_name": self.names.get(male),
                "female_name": self.names.get(female),
            },
            roles={"male": male, "female": female},
            mode="incremental",
            match={"male": male_match} if male_match else None,
        )

    # -- write --------------------------------------------------------------------
    def write(self, lake_dir: Path) -> None:
        """Append the rows added since the last write (one Delta commit per table)."""
        for table, rows in self.tables.items():
            schema = schema_for(table)
            full = [{f.name: r.get(f.name) for f in schema} for r in rows]
            if full:
                lake.append(lake_dir / table, pa.Table.from_pylist(full, schema=schema))
        self.tables.clear()


def build_city() -> City:
    c = City()
    p = c.person

    # DEATH_PAID: paid for the month after death; the month of death itself is due.
    p("P_DEAD", "王死", date(1960, 1, 1), death_date=date(2026, 9, 15))
    p("P_DEAD_OK", "李终", date(1960, 2, 1), death_date=date(2026, 10, 5))
    for m in (M1, M2, M3):
        c.disability("P_DEAD", m, "一级")
        c.disability("P_DEAD_OK", m, "一级")
        if m != M3:
            c.payment("P_DEAD", f"PD-{m}", m, "CJHL", "300")
        c.payment("P_DEAD_OK", f"PO-{m}", m, "CJHL", "300")
    # ... the payment after death carries an ID one digit off: tied by the model
    c.payment(
        "P_DEAD", f"PD-{M3}", M3, "CJHL", "300", match=PROBABLE, id_number="44010619600101123"
    )
    # returned payment after death is not money at risk; a resent payment_id whose
    # latest line is "returned" supersedes its earlier "success" line.
    p("P_RET", "赵退", date(1960, 3, 1), death_date=date(2026, 8, 20))
    c.payment("P_RET", "PR-1", M2, "CJHL", "300", "returned")
    c.payment("P_RET", "PR-2", M3, "CJHL", "300", "success", delivery="20261028-440100-001")
    c.payment("P_RET", "PR-2", M3, "CJHL", "300", "returned", delivery="20261030-440100-001")

    # GL: turning 80 in September -> due from October; a September payment has no basis.
    p("P_GL80", "钱八十", date(1946, 9, 10))
    c.elderly("P_GL80", M3, "80-89岁", "100")
    c.payment("P_GL80", "G80-2", M2, "GL", "100")
    c.payment("P_GL80", "G80-3", M3, "GL", "100")
    # GL_UNCLAIMED: 86, in hukou, not in the register; near miss: moved out (迁出).
    p("P_GLU", "孙高龄", date(1940, 1, 1))
    p(
        "P_GLOUT",
        "周迁出",
        date(1940, 1, 1),
        hukou_status="迁出",
        status_changed_on=date(2026, 5, 1),
    )
    # GL_TIER_WRONG: 91 registered as 80-89 for three months; near miss: 90th birthday
    # on 1 September -> 90-99 from September, registered so.
    p("P_GLT", "吴九十", date(1935, 6, 15))
    p("P_GL90", "郑整九十", date(1936, 9, 1))
    # ... and a 78-year-old in the register has no tier at all: the whole standard.
    p("P_GLYOUNG", "冯七十八", date(1948, 1, 1))
    c.elderly("P_GLYOUNG", M3, "80-89岁", "100")
    for m in (M1, M2, M3):
        c.elderly("P_GLT", m, "80-89岁", "100", match=NORMALIZED if m == M2 else None)
        c.elderly("P_GL90", m, *(("80-89岁", "100") if m == M1 else ("90-99岁", "300")))

    # CJHL_UNCLAIMED: 二级, nothing paid in the latest month; near misses: paid, expired
    # certificate (valid until before the 1st of the month), grade 三级.
    p("P_CJHL", "冯护理", date(1970, 1, 1))
    p("P_CJHL_PAID", "陈已发", date(1970, 1, 2))
    p("P_CJHL_EXP", "褚过期", date(1970, 1, 3))
    p("P_CJHL3", "卫三级", date(1970, 1, 4))
    c.disability("P_CJHL", M3, "二级", match=("id_upgraded", 1.0, None))
    c.disability("P_CJHL_PAID", M3, "一级")
    c.payment("P_CJHL_PAID", "CH-1", M3, "CJHL", "300")
    c.disability("P_CJHL_EXP", M3, "一级", valid_until=date(2026, 9, 30))
    c.disability("P_CJHL3", M3, "三级")

    # CJSH_UNCLAIMED: disabled member of an active 低保 household; near miss: member of a
    # 低保边缘 household. Household heads are paid once per household.
    p("P_HEAD1", "蒋户主", date(1965, 1, 1))
    p("P_CJSH", "沈困难", date(1990, 1, 1))
    p("P_HEAD2", "韩边缘", date(1965, 2, 1))
    p("P_CJSH_EDGE", "杨边缘", date(1990, 2, 1))
    c.assistance("P_HEAD1", "P_HEAD1", "F1", M3, "低保", "1500")
    c.assistance("P_CJSH", "P_HEAD1", "F1", M3, "低保", "1500")
    c.assistance("P_HEAD2", "P_HEAD2", "F2", M3, "低保边缘", "800")
    c.assistance("P_CJSH_EDGE", "P_HEAD2", "F2", M3, "低保边缘", "800")
    c.disability("P_CJSH", M3, "三级")
    c.disability("P_CJSH_EDGE", M3, "三级")
    c.payment("P_HEAD1", "DB-1", M3, "DB", "1500")  # exact: no finding
    c.payment(
        "P_HEAD2",
        "DBBY-1",
        M3,
        "DBBY",
        "1000",
        match=("probabilistic", 0.9312, "姓名一致；出生日期一致"),
    )  # PAY_AMOUNT_WRONG +200

    # DUP_ASSIST: 低保 in 天河 and 特困 in 越秀 in September and October; near miss: moved
    # household between months. Superseded delivery: 荔湾's first October delivery lists
    # P_SUP twice, its resubmission once.
    p("P_DUP", "朱重复", date(1980, 1, 1))
    p("P_MOVE", "秦搬家", date(1980, 1, 2))
    p("P_SUP", "尤更正", date(1980, 1, 3))
    for m in (M2, M3):
        c.assistance("P_DUP", "P_DUP", "F3", m, "低保", "900")
        c.assistance("P_DUP", "P_DUP", "F4", m, "特困", "1200", district="440104", match=NORMALIZED)
    c.assistance("P_MOVE", "P_MOVE", "F5", M1, "低保", "900")
    c.assistance("P_MOVE", "P_MOVE", "F6", M2, "低保", "900", district="440104")
    early, late = "2026-10-01T02:00:00+08:00", "2026-10-03T02:00:00+08:00"
    c.assistance(
        "P_SUP", "P_SUP", "F7", M3, "低保", "900", district="440103", produced_at=early, seq=1
    )
    c.assistance(
        "P_SUP", "P_SUP", "F8", M3, "特困", "900", district="440103", produced_at=early, seq=1
    )
    c.assistance(
        "P_SUP", "P_SUP", "F7", M3, "低保", "900", district="440103", produced_at=late, seq=2
    )

    # ID_MISMATCH: hukou 许明 male 1950-01-01; the elderly register says 许鸣, born
    # 1950-01-02, sex 9 (unspecified: never a contradiction); disability says female.
    p("P_IDM", "许明", date(1950, 1, 1))
    c.elderly(
        "P_IDM",
        M3,
        "80-89岁",
        "100",
        status="终止",
        name="许鸣",
        birth_date=date(1950, 1, 2),
        sex="9",
        match=("probabilistic", 0.9123, "无有效身份证号；姓名相差一字；出生日期相差一天"),
    )
    c.disability("P_IDM", M3, "四级", name="许明", sex="2")

    # NOT_IN_HUKOU: paid recipient without any hukou record; near miss: a volunteer only.
    p("P_NOHK", "何外地", date(1975, 1, 1), hukou=False)
    c.disability("P_NOHK", M3, "一级")
    c.payment("P_NOHK", "NH-1", M3, "CJHL", "300", match=("new_person", None, None))
    p("P_NOHK2", "吕志愿", date(1975, 1, 2), hukou=False)
    c.row(
        "volunteer_service",
        "20261005-440100-001",
        "2026-W40",
        "440100",
        {"record_no": "V1", "volunteer_no": "V1", "name": "吕志愿"},
        roles={"volunteer": "P_NOHK2"},
        mode="incremental",
    )

    # GUARDIAN_DECEASED: guardian died in August; near miss: guardian died during the
    # latest month. P_CH2's SW (机构养育 2500) is underpaid by 600.
    p("P_CH1", "施孤儿", date(2015, 1, 1))
    p("P_G1", "张监护", date(1970, 5, 1), death_date=date(2026, 8, 10))
    p("P_CH2", "孔事实", date(2016, 1, 1))
    p("P_G2", "曹监护", date(1970, 6, 1), death_date=date(2026, 10, 3))
    c.child(
        "P_CH1",
        "P_G1",
        M3,
        "孤儿",
        "社会散居",
        guardian_match=("probabilistic", 0.9876, "监护人身份证号缺失；姓名、出生日期一致"),
    )
    c.child("P_CH2", "P_G2", M3, "事实无人抚养儿童", "机构养育")
    c.payment("P_CH1", "GE-1", M3, "GE", "1900")
    c.payment("P_CH2", "SW-1", M3, "SW", "1900")

    # MARRIED_TWICE: married since 2020 (a 补领 in 2022 is no new marriage), marries
    # again; near misses: divorced first; first wife died first.
    for k, n, b, male in [
        ("P_M1", "严一", date(1990, 1, 1), True),
        ("P_F1", "华一", date(1991, 1, 1), False),
        ("P_F2", "金二", date(1992, 1, 1), False),
        ("P_M2", "魏二", date(1985, 1, 1), True),
        ("P_F3", "陶三", date(1986, 1, 1), False),
        ("P_F4", "姜四", date(1987, 1, 1), False),
        ("P_M3", "戚三", date(1980, 1, 1), True),
        ("P_F6", "邹六", date(1982, 1, 1), False),
    ]:
        p(k, n, b, male=male)
    p("P_F5", "谢五", date(1981, 1, 1), male=False, death_date=date(2019, 3, 1))
    c.marriage("P_M1", "P_F1", "J2020-001", "结婚登记", date(2020, 1, 6))
    c.marriage("P_M1", "P_F1", "BJ2022-001", "补领结婚证", date(2022, 3, 1))
    c.marriage("P_M1", "P_F2", "J2026-001", "结婚登记", date(2026, 9, 1), male_match=NORMALIZED)
    c.marriage("P_M2", "P_F3", "J2015-001", "结婚登记", date(2015, 5, 1))
    c.marriage("P_M2", "P_F3", "L2018-001", "离婚登记", date(2018, 5, 1))
    c.marriage("P_M2", "P_F4", "J2026-002", "结婚登记", date(2026, 9, 2))
    c.marriage("P_M3", "P_F5", "J2010-001", "结婚登记", date(2010, 1, 1))
    c.marriage("P_M3", "P_F6", "J2026-003", "结婚登记", date(2026, 9, 3))

    # ORG_INACTIVE_DONATION: A deregistered on 10 September (a donation before is fine;
    # an October one by name with an invalid USCC still counts); B on the abnormal list;
    # C in good standing.
    orgs = [
        ("ORG-A", "甲慈善会", "注销", date(2026, 9, 10), False),
        ("ORG-B", "乙基金会", "正常", None, True),
        ("ORG-C", "丙志愿协会", "正常", None, False),
    ]
    for uscc, name, status, on, abnormal in orgs:
        c.row(
            "social_organizations",
            "20260831-440100-001",
            "2026-W36",
            "440100",
            {
                "uscc": uscc,
                "uscc_status": "valid",
                "name": name,
                "org_type": "基金会",
                "status": status,
                "status_date": on,
                "abnormal_list": abnormal,
                "registrar": "440106000000",
            },
            roles={},
        )
    for no, uscc, status, name, at, amount in [
        ("D1", "ORG-A", "valid", "甲慈善会", datetime(2026, 9, 5, 2), "50"),
        ("D2", "ORG-A", "valid", "甲慈善会", datetime(2026, 9, 20, 2), "80"),
        ("D3", "ORG-A-BAD", "invalid", "甲慈善会", datetime(2026, 10, 2, 2), "20"),
        ("D4", "ORG-B", "valid", "乙基金会", datetime(2026, 9, 3, 2), "100"),
        ("D5", "ORG-C", "valid", "丙志愿协会", datetime(2026, 9, 3, 2), "70"),
    ]:
        c.row(
            "charity_donations",
            f"{at:%Y%m%d}-440100-001",
            f"{at:%Y-%m-%d}",
            "440100",
            {
                "donation_no": no,
                "org_uscc": uscc,
                "org_uscc_status": status,
                "org_name": name,
                "donor_type": "个人",
                "amount": Decimal(amount),
                "donated_at": at,
            },
            roles={},
            mode="incremental",
        )
    return c


@pytest.fixture(scope="module")
def built(tmp_path_factory):
    root = tmp_path_factory.mktemp("verify_city")
    settings = load_settings(
        lake=root / "lake", warehouse=root / "warehouse.duckdb", env={"CIVLAKE_HOME": str(root)}
    )
    build_city().write(settings.lake)
    run_dbt(settings, select=SELECT)
    return settings


def query(settings, sql: str) -> list[dict]:
    con = duckdb.connect(str(settings.warehouse))
    try:
        cur = con.execute(sql)
        cols = [d[0] for d in cur.description]
        return [dict(zip(cols, r, strict=True)) for r in cur.fetchall()]
    finally:
        con.close()


@pytest.fixture(scope="module")
def findings(built) -> dict[str, list[dict]]:
    out: dict[str, list[dict]] = defaultdict(list)
    for f in query(built, "select * from verify.findings"):
        out[f["rule_code"]].append(f)
    return out


def keys(findings, rule: str) -> set[str | None]:
    return {f["person_key"] or f["org_uscc"] for f in findings[rule]}


def one(findings, rule: str, key: str) -> dict:
    [f] = [f for f in findings[rule] if key in (f["person_key"], f["org_uscc"])]
    return f


def test_death_paid_after_month_of_death_only(findings):
    assert keys(findings, "DEATH_PAID") == {"P_DEAD"}
    f = one(findings, "DEATH_PAID", "P_DEAD")
    assert (f["program_code"], f["period_start"], f["amount_at_risk"]) == ("CJHL", M3, 300)
    assert f["severity"] == "high" and f["recommended_action"] == "停发并追回"
    evidence = json.loads(f["evidence"])
    [row] = evidence["payments"]
    assert row["feed"] == "benefit_payments" and row["values"]["payment_id"] == f"PD-{M3}"
    assert row["delivery"] and row["file"] and row["row"] >= 1


def test_entitlement_month_edges(built):
    rows = query(built, "select * from core.fct_entitlement_month")
    fct = {(r["person_key"], r["program_code"], r["month"]): r for r in rows}
    # payment in the month of death is due; nothing after it
    assert fct[("P_DEAD", "CJHL", M2)]["entitled"]
    assert not fct[("P_DEAD", "CJHL", M3)]["entitled"]
    # turning 80 in September: due from October, tier by age on the 1st
    assert not fct[("P_GL80", "GL", M2)]["entitled"]
    assert fct[("P_GL80", "GL", M3)]["due_amount"] == 100
    assert fct[("P_GL90", "GL", M2)]["due_amount"] == 300
    assert fct[("P_GL90", "GL", M1)]["due_amount"] == 100
    # resent payment_id: its latest line (returned) supersedes the success
    assert fct[("P_RET", "CJHL", M3)]["paid_amount"] == 0
    # once per household, to the head
    assert fct[("P_HEAD1", "DB", M3)]["due_amount"] == 1500
    assert ("P_CJSH", "DB", M3) not in fct
    # placement prices GE/SW
    assert fct[("P_CH2", "SW", M3)]["due_amount"] == 2500
    assert fct[("P_CH1", "GE", M3)]["due_amount"] == 1900
    # moved out of the city: no GL
    assert not any(k[0] == "P_GLOUT" for k in fct)


def test_pay_no_basis_turning_80(findings):
    assert keys(findings, "PAY_NO_BASIS") == {"P_GL80"}
    f = one(findings, "PAY_NO_BASIS", "P_GL80")
    assert (f["period_start"], f["period_end"], f["amount_at_risk"]) == (M2, M2, 100)


def test_pay_amount_wrong_signed(findings):
    assert keys(findings, "PAY_AMOUNT_WRONG") == {"P_HEAD2", "P_CH2"}
    assert one(findings, "PAY_AMOUNT_WRONG", "P_HEAD2")["amount_at_risk"] == 200
    assert one(findings, "PAY_AMOUNT_WRONG", "P_CH2")["amount_at_risk"] == -600


def test_gl_unclaimed(findings):
    assert keys(findings, "GL_UNCLAIMED") == {"P_GLU"}
    f = one(findings, "GL_UNCLAIMED", "P_GLU")
    assert (f["period_start"], f["amount_at_risk"]) == (M3, 100)
    assert f["recommended_action"] == "纳入免申即享名单"


def test_gl_tier_wrong_range(findings):
    assert keys(findings, "GL_TIER_WRONG") == {"P_GLT", "P_GLYOUNG"}
    assert one(findings, "GL_TIER_WRONG", "P_GLYOUNG")["amount_at_risk"] == 100
    f = one(findings, "GL_TIER_WRONG", "P_GLT")
    assert (f["period_start"], f["period_end"], f["amount_at_risk"]) == (M1, M3, -600)


def test_cjhl_and_cjsh_unclaimed(findings):
    assert keys(findings, "CJHL_UNCLAIMED") == {"P_CJHL"}
    assert one(findings, "CJHL_UNCLAIMED", "P_CJHL")["amount_at_risk"] == 200
    assert keys(findings, "CJSH_UNCLAIMED") == {"P_CJSH"}
    assert one(findings, "CJSH_UNCLAIMED", "P_CJSH")["amount_at_risk"] == 200


def test_dup_assist_ignores_superseded_delivery(findings):
    assert keys(findings, "DUP_ASSIST") == {"P_DUP"}
    f = one(findings, "DUP_ASSIST", "P_DUP")
    assert (f["period_start"], f["period_end"], f["amount_at_risk"]) == (M2, M3, None)


def test_id_mismatch_per_feed_and_attribute(findings):
    got = {(f["person_key"], f["feed_id"], f["attribute"]) for f in findings["ID_MISMATCH"]}
    assert got == {
        ("P_IDM", "elderly_allowance", "name"),
        ("P_IDM", "elderly_allowance", "birth_date"),
        ("P_IDM", "disability_certs", "sex"),
    }
    f = one_of(findings["ID_MISMATCH"], attribute="name")
    evidence = json.loads(f["evidence"])
    assert evidence["hukou"]["value"] == "许明" and evidence["rows"][0]["value"] == "许鸣"


def one_of(rows: list[dict], **match) -> dict:
    [row] = [r for r in rows if all(r[k] == v for k, v in match.items())]
    return row


def test_not_in_hukou(findings):
    assert keys(findings, "NOT_IN_HUKOU") == {"P_NOHK"}
    assert one(findings, "NOT_IN_HUKOU", "P_NOHK")["amount_at_risk"] == 300


def test_guardian_deceased(findings):
    assert keys(findings, "GUARDIAN_DECEASED") == {"P_CH1"}


def test_married_twice(findings):
    got = {(f["person_key"], f["registration_no"]) for f in findings["MARRIED_TWICE"]}
    assert got == {("P_M1", "J2026-001")}


def test_org_inactive_donation(findings):
    got = {
        (f["org_uscc"], f["period_start"]): f["amount_at_risk"]
        for f in findings["ORG_INACTIVE_DONATION"]
    }
    assert got == {("ORG-A", M2): 80, ("ORG-A", M3): 20, ("ORG-B", M2): 100}


def test_every_registered_rule_has_a_case_and_no_other_code_appears(findings):
    # The fixture plants a positive case for every rule of the registry (the seed).
    assert set(findings) == set(rule_codes())


# Rules whose evidence cites source records standing for the finding's person: all but
# the organisation rule (its grain is the organisation).
PERSON_RULES = {rule.code for rule in load_rules() if "org_uscc" not in rule.grain}


def source_records(node) -> list[dict]:
    """Every source record (feed + lineage) anywhere in an evidence tree."""
    if isinstance(node, list):
        return [r for item in node for r in source_records(item)]
    if not isinstance(node, dict):
        return []
    if "feed" in node and "row" in node:
        return [node]
    return [r for value in node.values() for r in source_records(value)]


@pytest.fixture(scope="module")
def xref(built) -> dict[tuple, dict]:
    table = lake.read_arrow(lake.table_path(built.lake, "core", "person_source_xref"))
    return {
        (r["feed_id"], r["_delivery_id"], r["_source_file"], r["_source_row"], r["role"]): r
        for r in table.to_pylist()
    }


def assert_identity(identity: dict | None, record: dict, person_key: str, xref) -> str:
    """The record's identity is its xref row for the person; returns the method."""
    assert identity is not None, record
    row = xref[
        (record["feed"], record["delivery"], record["file"], record["row"], identity["role"])
    ]
    assert row["person_key"] == person_key
    assert identity["method"] == row["match_method"]
    expected = row["match_probability"]
    assert identity["probability"] == (None if expected is None else round(expected, 4))
    assert identity.get("detail") == row["match_detail"]
    return identity["method"]


def test_every_person_record_states_how_it_was_tied(findings, xref):
    # GIVEN person records tied by exact, normalised and upgraded IDs, by the model and as
    # a new person; WHEN the rules cite them; THEN each cited record carries the method,
    # probability and detail the dedupe gate's xref has for it and that person.
    methods: dict[str, set[str]] = defaultdict(set)
    for rule in PERSON_RULES:
        assert findings[rule], rule
        for f in findings[rule]:
            records = source_records(json.loads(f["evidence"]))
            assert records, rule
            for record in records:
                method = assert_identity(record.get("identity"), record, f["person_key"], xref)
                methods[rule].add(method)
                if "role" in record:  # ID_MISMATCH names the role itself
                    assert record["identity"]["role"] == record["role"]
                if "guardian_identity" in record:
                    guardian = record["values"]["guardian_key"]
                    methods[rule].add(
                        assert_identity(record["guardian_identity"], record, guardian, xref)
                    )
    assert "probabilistic" in methods["DEATH_PAID"]
    assert "probabilistic" in methods["PAY_AMOUNT_WRONG"]
    assert "probabilistic" in methods["ID_MISMATCH"] and "id_exact" in methods["ID_MISMATCH"]
    assert "probabilistic" in methods["GUARDIAN_DECEASED"]
    assert "id_normalized" in methods["DUP_ASSIST"] and "id_normalized" in methods["GL_TIER_WRONG"]
    assert "id_normalized" in methods["MARRIED_TWICE"]
    assert "id_upgraded" in methods["CJHL_UNCLAIMED"]
    assert "new_person" in methods["NOT_IN_HUKOU"]


def test_probabilistic_tie_explained_in_evidence(findings):
    # the payment after death was tied by the model, not by its (invalid) ID
    [row] = json.loads(one(findings, "DEATH_PAID", "P_DEAD")["evidence"])["payments"]
    assert row["identity"] == {
        "role": "payee",
        "method": "probabilistic",
        "probability": 0.9981,
        "detail": "身份证号与已知号码仅差一位；姓名一致",
    }
    # GL rests on the hukou record, which the evidence now cites by lineage
    basis = json.loads(one(findings, "GL_UNCLAIMED", "P_GLU")["evidence"])["basis"]
    assert basis["feed"] == "hukou_population" and basis["row"] >= 1
    assert basis["identity"]["method"] == "id_exact"


def test_finding_ids_stable_when_a_month_arrives(built, findings):
    # GIVEN the first build's ids; WHEN November arrives with P_DUP still in two
    # households and the build reruns; THEN the spell keeps its id and first_detected_at
    # and grows to November.
    before = one(findings, "DUP_ASSIST", "P_DUP")
    c = City()
    c.assistance("P_DUP", "P_DUP", "F3", M4, "低保", "900")
    c.assistance("P_DUP", "P_DUP", "F4", M4, "特困", "1200", district="440104")
    c.write(built.lake)
    run_dbt(built, select=SELECT)
    after = {f["finding_id"]: f for f in query(built, "select * from verify.findings")}
    assert before["finding_id"] in after
    grown = after[before["finding_id"]]
    assert grown["period_end"] == M4
    assert grown["first_detected_at"] == before["first_detected_at"]
    marriage = one(findings, "MARRIED_TWICE", "P_M1")
    assert after[marriage["finding_id"]]["first_detected_at"] == marriage["first_detected_at"]


def test_worklists_per_district_masked(built, findings, tmp_path):
    from openpyxl import load_workbook

    from civlake.verify import write_worklists

    paths = write_worklists(built, tmp_path / "worklists")
    assert paths and all(p.suffix == ".xlsx" for p in paths)
    tianhe = [p for p in paths if p.name.startswith("440106_")]
    assert tianhe
    book = load_workbook(tianhe[0], read_only=True)
    assert book.sheetnames[0] == "汇总"
    sheet = book["死亡后仍发放"]
    header, *data = list(sheet.iter_rows(values_only=True))
    assert header[0] == "序号" and "证据说明" in header
    [row] = [r for r in data if r[2] == "王死"]
    dead = one(findings, "DEATH_PAID", "P_DEAD")
    assert row[3] == dead["id_number"][:6] + "********" + dead["id_number"][-4:]
    evidence = row[header.index("证据说明")]
    book.close()  # a read-only book holds its file open until closed
    assert "民政资金发放明细" in evidence and f"PD-{M3}" in evidence
    # no raw ID anywhere in any workbook
    raw_ids = {f["id_number"] for rule in findings.values() for f in rule if f["id_number"]}
    for path in paths:
        each = load_workbook(path, read_only=True)
        for ws in each.worksheets:
            for r in ws.iter_rows(values_only=True):
                assert not raw_ids & {str(v) for v in r if v is not None}
        each.close()
