"""A tiny, deterministic warehouse with every ``publish.*`` model and the restricted
``core`` tables the verification service reads.

For tests and benchmarks of the publish job and ``civlake serve`` without running
the whole pipeline: the shapes follow the catalog entries, the values are synthetic.
Small counts (1-4) are frequent on purpose, so suppression is always exercised.
"""

from __future__ import annotations

import random
from datetime import date, timedelta
from pathlib import Path

import duckdb
import pyarrow as pa

from civlake.identifiers import id_check_char
from civlake.publish.catalog import Dataset, load_catalog
from civlake.publish.files import arrow_schema

DISTRICTS = {
    "440103000000": "荔湾区", "440104000000": "越秀区", "440105000000": "海珠区",
    "440106000000": "天河区", "440111000000": "白云区", "440112000000": "黄埔区",
    "440113000000": "番禺区", "440114000000": "花都区", "440115000000": "南沙区",
    "440117000000": "从化区", "440118000000": "增城区",
}  # fmt: skip


def citizen_id(area: str, born: date, seq: int) -> str:
    body = f"{area}{born:%Y%m%d}{seq:03d}"
    return body + id_check_char(body)


def build_sample_warehouse(
    path: Path,
    *,
    months: tuple[str, ...] = ("2026-08", "2026-09", "2026-10"),
    seed: int = 7,
    catalog: dict[str, Dataset] | None = None,
) -> dict[str, list[dict]]:
    """Create/replace ``path`` and return the person-level rows written (for assertions)."""
    rng = random.Random(seed)
    catalog = catalog or load_catalog()
    persons = _persons(rng)
    rows = {
        "civil_divisions": [
            {"division_code": c, "division_name": n, "division_level": 3,
             "parent_code": "440100000000", "urban_rural_code": None,
             "valid_from": date(2020, 1, 1)}
            for c, n in DISTRICTS.items()
        ],
        "assistance_statistics": _grid(rng, months, "assistance_type", ["低保", "特困", "低保边缘"],
                                       lambda r: {"households": (h := r.randint(0, 30)),
                                                  "persons": h + r.randint(0, 20),
                                                  "amount_yuan": h * 1120.0}),
        "elderly_allowance_statistics": _grid(rng, months, "tier", ["80-89岁", "90-99岁", "100岁以上"],
                                              lambda r: {"recipients": (n := r.randint(0, 40)),
                                                         "amount_yuan": n * 100.0}),
        "marriage_statistics": _grid(rng, months, "business_type", ["结婚登记", "离婚登记"],
                                     lambda r: {"registrations": r.randint(0, 25),
                                                "median_age_male": 30.5, "median_age_female": 28.0}),
        "deaths_cremations_statistics": _grid(rng, months, None, None,
                                              lambda r: {"deaths": r.randint(0, 12),
                                                         "cremations": r.randint(0, 12)}),
        "volunteer_service_statistics": _grid(rng, months, "service_category", ["助老", "社区"],
                                              lambda r: {"active_volunteers": r.randint(0, 9),
                                                         "service_records": (s := r.randint(0, 30)),
                                                         "service_hours": s * 2.5}),
        "disability_subsidy_statistics": [
            row | {"program_name": {"CJSH": "困难残疾人生活补贴", "CJHL": "重度残疾人护理补贴"}[row["program_code"]]}
            for row in _grid(rng, months, "program_code", ["CJSH", "CJHL"],
                             lambda r: _counted(r, "recipients", 15, "amount_yuan", 200.0))
        ],
        "child_welfare_statistics": _grid(rng, months, "child_category", ["孤儿", "困境儿童"],
                                          lambda r: {"children": (n := r.randint(0, 8)),
                                                     "amount_yuan": n * 1900.0}),
        "charity_donation_statistics": [
            {"month": m, "org_uscc": f"51440100MJ000{i:04d}X", "org_name": f"广州市慈善组织{i}",
             "donations": rng.randint(0, 20), "amount_yuan": rng.randint(100, 9000) * 1.0}
            for m in months for i in range(4)
        ],
        "social_organization_registry": [
            {"uscc": f"51440100MJ000{i:04d}X", "org_name": f"广州市慈善组织{i}",
             "org_type": "社会团体", "registrar_division_code": "440100000000",
             "founded_on": date(2015, 1, 1) + timedelta(days=97 * i), "status": "正常",
             "status_date": date(2015, 1, 1), "last_inspection_year": 2025,
             "last_inspection_result": "合格", "abnormal_list": False, "is_charity": i % 2 == 0}
            for i in range(6)
        ],
        "social_organization_statistics": [
            {"division_code": c, "division_name": n, "org_type": t, "status": "正常",
             "organizations": (k := rng.randint(0, 30)), "inspection_pass_rate": 0.9 if k else None}
            for c, n in DISTRICTS.items() for t in ("社会团体", "民办非企业单位", "基金会")
        ],
        "assistance_recipients_current": [
            {"id_number": p["id_number"], "name": p["name"], "assistance_type": p["assistance"],
             "division_code": p["division"], "household_id": f"H{i:05d}",
             "since_month": months[0], "as_of_month": months[-1]}
            for i, p in enumerate(persons) if p["assistance"]
        ],
        "deaths_registry": [
            {"id_number": p["id_number"], "name": p["name"], "death_date": p["death_date"],
             "death_date_source": "death_certificates", "hukou_division_code": p["division"]}
            for p in persons if p["death_date"]
        ],
        "proactive_entitlement_candidates": [
            {"finding_id": f"f{i:031d}", "id_number": p["id_number"], "name": p["name"],
             "rule_code": f"{prog}_UNCLAIMED", "program_code": prog, "program_name": title,
             "division_code": p["division"], "list_month": months[-1],
             "first_listed_month": months[i % len(months)], "amount_due": amount}
            for i, p in enumerate(persons) if i % 4 == 1
            for prog, title, amount in [(("GL", "高龄津贴", 100.0), ("CJHL", "重度残疾人护理补贴", 200.0),
                                         ("CJSH", "困难残疾人生活补贴", 150.0))[i % 3]]
        ],
    }  # fmt: skip
    path.unlink(missing_ok=True)
    con = duckdb.connect(str(path))
    try:
        con.execute("create schema publish")
        for name, data in rows.items():
            write_table(con, "publish", catalog[name].table, data, arrow_schema(catalog[name]))
        _write_core(con, persons)
    finally:
        con.close()
    return {
        "persons": persons,
        **{k: rows[k] for k in ("assistance_recipients_current", "deaths_registry")},
    }


def write_table(con, schema: str, table: str, rows: list[dict], arrow: pa.Schema) -> None:
    data = pa.Table.from_pylist(rows, schema=arrow)  # noqa: F841 (read by DuckDB by name)
    con.execute(f'create or replace table "{schema}"."{table}" as select * from data')


def _counted(rng, col: str, hi: int, value_col: str, unit: float) -> dict:
    n = rng.randint(0, hi)
    return {col: n, value_col: n * unit}


def _grid(rng, months, dim, values, measures) -> list[dict]:
    out = []
    for m in months:
        for code, name in DISTRICTS.items():
            for v in values or [None]:
                row = {"month": m, "division_code": code, "division_name": name}
                if dim:
                    row[dim] = v
                out.append(row | measures(rng))
    return out


def _persons(rng: random.Random) -> list[dict]:
    persons = []
    for i in range(60):
        born = date(1940, 1, 1) + timedelta(days=rng.randint(0, 25000))
        code = list(DISTRICTS)[i % len(DISTRICTS)]
        persons.append({
            "person_key": f"pk{i:04d}",
            "id_number": citizen_id(code[:6], born, 100 + i),
            "name": f"测试{i:02d}",
            "birth_date": born,
            "division": code,
            "assistance": ("低保", "特困", None, None, None)[i % 5],
            "death_date": date(2026, 9, 1 + i % 28) if i % 7 == 3 else None,
            "is_married": i % 3 == 0,
        })  # fmt: skip
    return persons


def _write_core(con, persons: list[dict]) -> None:
    con.execute("create schema if not exists core")
    dim = [
        {"person_key": p["person_key"], "id_number": p["id_number"], "name": p["name"],
         "birth_date": p["birth_date"], "hukou_division_code": p["division"],
         "is_alive": p["death_date"] is None, "death_date": p["death_date"]}
        for p in persons
    ]  # fmt: skip
    profile = [
        {"person_key": p["person_key"], "is_dibao": p["assistance"] == "低保",
         "is_tekun": p["assistance"] == "特困", "is_married": p["is_married"]}
        for p in persons
    ]  # fmt: skip
    write_table(con, "core", "dim_person", dim, pa.Table.from_pylist(dim).schema)
    write_table(con, "core", "person_profile", profile, pa.Table.from_pylist(profile).schema)
