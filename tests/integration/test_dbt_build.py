"""dbt build on a tiny hand-made city: real Delta tables in a temporary lake, a real
DuckDB warehouse, the real project through ``civlake.transform.run_dbt``.

The city is small enough to know every expected number by reading the rows below;
each test recomputes what it asserts from those rows' meaning, not from a snapshot.
"""

from __future__ import annotations

import hashlib
import json
import re
from datetime import UTC, date, datetime
from decimal import Decimal
from pathlib import Path

import duckdb
import pyarrow as pa
import pytest

from civlake import lake, tables
from civlake.contracts import load_contracts
from civlake.identifiers import id_check_char
from civlake.settings import REPO_ROOT, load_settings
from civlake.transform import DbtBuildError, generate_docs, run_dbt, source_freshness

pytestmark = pytest.mark.integration


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


@pytest.fixture(scope="module")
def built(tmp_path_factory):
    root = tmp_path_factory.mktemp("city")
    settings = load_settings(lake=root / "lake", warehouse=root / "warehouse.duckdb",
                             env={"CIVLAKE_HOME": str(root)})  # fmt: skip
    city = build_city()
    city.write(settings.lake)
    result = run_dbt(settings)
    return settings, result, city


@pytest.fixture
def con(built):
    # Per test, so a test that runs dbt again (docs) finds the warehouse free.
    connection = duckdb.connect(str(built[0].warehouse), read_only=True)
    yield connection
    connection.close()


def q(con, sql: str) -> list[tuple]:
    return con.sql(sql).fetchall()


def test_build_succeeds_and_reports_absent_tables(built):
    _, result, _ = built
    assert result["success"]
    names = {r["name"] for r in result["results"] if r["resource_type"] == "model"}
    assert {"dim_person", "dim_division", "mart_low_income", "mart_data_governance"} <= names
    # GIVEN a lake without the organisation gate, quarantine and expectation results
    # THEN the build still succeeds and says which tables it read as empty.
    assert {"core/organizations", "quarantine", "expectation_results"} <= set(
        result["absent_tables"]
    )
    assert "silver/divisions" not in result["absent_tables"]


def test_marts_readable_outside_dbt(built, con):
    marts = [
        t
        for (t,) in q(
            con, "select table_name from information_schema.tables where table_schema = 'mart'"
        )
    ]
    assert len(marts) >= 9
    for table in marts:
        con.sql(f'select * from mart."{table}"').fetchall()


def test_dim_division_scd2_and_successors(built, con):
    versions = q(
        con,
        """select division_name, is_current, valid_to from core.dim_division
                         where division_code = '440106001000' order by valid_from""",
    )
    # The 2020 rename closes the old version at the new one's start.
    assert versions == [("石牌镇", False, date(2020, 1, 1)), ("石牌街道", True, None)]
    (row,) = q(
        con,
        """select current_division_code, district_code, is_current
                       from core.dim_division where division_code = '440102001000'""",
    )
    assert row == ("440104001000", "440104000000", False)
    (dongshan,) = q(
        con,
        "select current_division_code from core.dim_division where division_code = '440102000000'",
    )
    assert dongshan == ("440104000000",)


def test_payment_latest_line_and_profile(built, con):
    assert q(
        con, "select payment_status, is_paid from core.fct_payment where payment_id = 'P2'"
    ) == [("returned", False)]
    (profile,) = q(
        con,
        """select is_dibao, is_tekun, is_child_in_difficulty, is_elderly_80, programmes_received
                           from core.person_profile where person_key = 'pk_head'""",
    )
    # Latest paid month is 2026-02, where only CJHL (to another person) was paid.
    assert profile == (True, False, False, False, [])
    (dis,) = q(
        con,
        "select is_tekun, is_disabled, disability_grade, programmes_received from core.person_profile where person_key = 'pk_dis'",
    )
    assert dis == (True, True, "一级", ["CJHL"])
    assert q(
        con,
        "select is_elderly_80, receives_elderly_allowance from core.person_profile where person_key = 'pk_old2'",
    ) == [(True, True)]
    assert q(
        con, "select is_child_in_difficulty from core.person_profile where person_key = 'pk_kid'"
    ) == [(True,)]


def test_assistance_spells(built, con):
    rows = q(
        con,
        """select month, spell_start_month, spell_end_month, is_head
                     from core.fct_assistance_membership where person_key = 'pk_kid' order by month""",
    )
    assert rows == [
        ("2026-01", "2026-01", "2026-02", False),
        ("2026-02", "2026-01", "2026-02", False),
    ]


def test_death_date_priority(built, con):
    assert q(
        con, "select death_date, death_date_source, is_cremated, district_code from core.fct_death"
    ) == [(date(2026, 2, 10), "death_certificates", True, "440106000000")]


def test_low_income_mart(built, con):
    rows = q(
        con,
        """select division_name, assistance_type, households, persons, amount,
                            persons_age_0_17, disabled_persons
                     from mart.mart_low_income where month = '2026-02' order by division_code""",
    )
    assert rows == [("越秀区", "特困", 1, 1, Decimal("1700.00"), 0, 1),
                    ("天河区", "低保", 1, 2, Decimal("2200.00"), 1, 0)]  # fmt: skip


def test_elderly_children_and_other_marts(built, con):
    (row,) = q(
        con,
        """select population_80_plus, allowance_recipients, allowance_coverage_rate
                       from mart.mart_elderly_children where division_code = '440104000000' and month = '2026-02'""",
    )
    assert row == (1, 1, 1.0)
    (tianhe,) = q(
        con,
        """select population_80_plus, allowance_coverage_rate, children_in_difficulty
                          from mart.mart_elderly_children where division_code = '440106000000' and month = '2026-02'""",
    )
    assert tianhe == (1, 0.0, 1)
    (marriage,) = q(
        con,
        "select marriages, median_age_marriage_male, median_age_marriage_female from mart.mart_marriage",
    )
    assert marriage == (1, 35, 33)
    assert q(con, "select deaths, cremations from mart.mart_deaths") == [(1, 1)]
    assert q(
        con,
        "select sum(organizations), sum(organizations_passed), sum(organizations_inspected) from mart.mart_social_organizations",
    ) == [(2, 1, 2)]
    assert q(con, "select donations, amount, amount_anonymous from mart.mart_charity") == [
        (2, Decimal("150.00"), Decimal("50.00"))
    ]
    assert q(con, "select hours, active_volunteers from mart.mart_volunteers") == [
        (Decimal("3.50"), 1)
    ]


def test_governance_mart(built, con):
    _, _, city = built
    rows = dict(
        ((feed, unit, month), rest)
        for feed, unit, month, *rest in q(
            con,
            """
            select feed_id, division_code, month, deliveries_expected, periods_received,
                   deliveries_rejected, rows_declared, quarantine_rate
            from mart.mart_data_governance""",
        )
    )
    # Monthly rosters: one expected and one received each month.
    assert rows[("assistance_recipients", "440106000000", "2026-02")][:2] == [1, 1]
    # Daily death certificates: February has 28 days; one arrived.
    assert rows[("death_certificates", "440100000000", "2026-02")][:2] == [28, 1]
    assert rows[("benefit_payments", "440100000000", "2026-02")][2] == 1
    assert rows[("volunteer_service", "440100000000", "2026-02")][4] == 1.0
    feeds_delivered = {a["feed_id"] for a in city.audit}
    assert {k[0] for k in rows} == feeds_delivered


def test_feed_cadence_matches_contracts():
    sql = (REPO_ROOT / "dbt/models/intermediate/int_feed_cadence.sql").read_text(encoding="utf-8")
    rows = re.findall(r"\('(\w+)', '[^']*', '(\w+)', '([\w/]+)', (true|false)\)", sql)
    listed = {(feed, cadence, modes, flag == "true") for feed, cadence, modes, flag in rows}
    expected = {
        (c.feed_id, c.cadence, "/".join(c.modes), c.on_demand) for c in load_contracts().values()
    }
    assert listed == expected


# 18-character runs not inside a longer token or a decimal fraction; a run counts as a
# citizen ID only with a right check character and a real birth date, so a long float
# such as 0.007653061224489796 is not a false alarm.
_ID_CANDIDATE = re.compile(r"(?<![0-9A-Za-z.])\d{17}[\dXx](?![0-9A-Za-z])")


def looks_like_citizen_id(text: str) -> bool:
    for cand in _ID_CANDIDATE.findall(text):
        body, check = cand[:17], cand[17].upper()
        if citizen_id(body[:6], body[6:14], body[14:17])[-1] != check:
            continue
        try:
            datetime.strptime(body[6:14], "%Y%m%d")
        except ValueError:
            continue
        return True
    return False


_FORBIDDEN_COLUMNS = re.compile(r"(^|_)(id_number|name|person_key|cert_no|volunteer_no|phone)($|_)")


def test_marts_hold_no_id_or_person_name(built, con):
    settings, _, _ = built
    names = set()
    for feed in load_contracts().values():
        for col in feed.columns:
            if col.kind == "name":
                path = lake.table_path(settings.lake, "silver", feed.feed_id)
                table = lake.read_arrow(path, columns=[col.name])
                if table is not None:
                    names |= {v for v in table.column(0).to_pylist() if v}
    assert names, "the city must have person names for this test to mean anything"
    marts = [
        t
        for (t,) in q(
            con, "select table_name from information_schema.tables where table_schema = 'mart'"
        )
    ]
    for table in marts:
        rel = con.sql(f'select * from mart."{table}"')
        for column in rel.columns:
            # Names of divisions, organisations, projects and feeds are not personal;
            # their values are still scanned below.
            if column not in ("division_name", "org_name", "project_name", "feed_title"):
                assert not _FORBIDDEN_COLUMNS.search(column), (
                    f"mart.{table}.{column} looks personal"
                )
        for row in rel.fetchall():
            for value in row:
                text = json.dumps(value, default=str, ensure_ascii=False)
                assert not looks_like_citizen_id(text), f"mart.{table} holds an ID: {text}"
                assert not any(n in text for n in names), (
                    f"mart.{table} holds a person name: {text}"
                )


def test_id_detector_sees_ids_not_fractions():
    assert looks_like_citizen_id(json.dumps({"x": PEOPLE["pk_old"][0]}))
    assert not looks_like_citizen_id(json.dumps(0.007653061224489796))
    real = PEOPLE["pk_old"][0]
    wrong_check = real[:17] + ("0" if real[-1] != "0" else "1")
    assert not looks_like_citizen_id(wrong_check)


def test_failed_model_is_named(tmp_path):
    settings = load_settings(lake=tmp_path / "lake", warehouse=tmp_path / "wh.duckdb",
                             env={"CIVLAKE_HOME": str(tmp_path)})  # fmt: skip
    # GIVEN a silver divisions table written without its lineage columns
    lake.append(lake.table_path(settings.lake, "silver", "divisions"),
                pa.table({"division_code": ["440100000000"], "name": ["广州市"]}))  # fmt: skip
    # WHEN dbt builds staging THEN the error names the model that broke
    with pytest.raises(DbtBuildError, match="stg_divisions"):
        run_dbt(settings, select="stg_divisions")


def test_docs_and_freshness(built):
    settings, _, _ = built
    target = generate_docs(settings)
    catalog = json.loads((target / "catalog.json").read_text(encoding="utf-8"))
    assert (target / "index.html").is_file()
    assert "model.civlake.mart_low_income" in catalog["nodes"]
    statuses = source_freshness(settings)
    # Every silver source with a table has a verdict; the fixture's rows carry a fixed
    # past ingestion time, so the verdict is a staleness level, never a crash.
    assert statuses["silver.divisions"] in ("pass", "warn", "error")
    assert "runtime error" not in statuses.values()


def test_empty_lake_builds_empty_marts(tmp_path):
    # GIVEN a lake where nothing has been ingested yet
    settings = load_settings(
        lake=tmp_path / "lake",
        warehouse=tmp_path / "wh.duckdb",
        env={"CIVLAKE_HOME": str(tmp_path)},
    )
    # WHEN the marts are built THEN they build, empty, and the result names every
    # table that was read as empty.
    result = run_dbt(settings, select="+mart_low_income +mart_data_governance")
    assert {f"silver/{f}" for f in load_contracts()} <= set(result["absent_tables"])
    with duckdb.connect(str(settings.warehouse), read_only=True) as empty:
        for table in ("mart_low_income", "mart_data_governance"):
            assert empty.sql(f"select count(*) from mart.{table}").fetchone() == (0,)
