"""Contract-driven canonicalisation of single deliveries (no lake): feeds whose rules
the gate tests do not reach - derived IDs, required IDs, two subjects per row."""

from __future__ import annotations

from datetime import UTC, datetime

import pyarrow as pa
from hypothesis import given, settings
from hypothesis import strategies as st

from civlake.clean.frame import clean_delivery
from civlake.contracts import get_contract
from tests.support.bronze import bronze_rows, id18

NOW = datetime(2026, 11, 2, tzinfo=UTC)
DIVMAP = pa.table({"code": ["440106000000"], "current": ["440106000000"]})
ID = id18("440106", "19500101", "123")


def _run(feed: str, rows: list[dict]):
    out = clean_delivery(
        get_contract(feed), bronze_rows(feed, rows, delivery_id="d1"), divmap=DIVMAP, now=NOW
    )
    assert len(out.silver) + len(out.quarantine) == len(rows)
    silver = {r["_source_row"]: r for r in out.silver.to_pylist()}
    quarantine = {r["_source_row"]: r for r in out.quarantine.to_pylist()}
    return silver, quarantine


def test_disability_cert_carries_the_derived_id() -> None:
    silver, quarantine = _run("disability_certs", [
        {"cert_no": ID + "42", "name": "周杰", "disability_category": "肢体", "disability_grade": "Ⅱ级",
         "cert_status": "正常", "hukou_division_code": "440106"},
        {"cert_no": (ID + "42").lower().replace("x", "x") + " ", "name": "周杰", "disability_category": "肢体",
         "disability_grade": "2", "cert_status": "有效"},
        {"cert_no": ID[:6] + ID[8:17] + "11", "name": "孙丽", "disability_category": "视力",
         "disability_grade": "一级", "cert_status": "有效"},
        {"cert_no": "", "name": "无证", "disability_category": "视力", "disability_grade": "一级",
         "cert_status": "有效"},
    ])  # fmt: skip
    assert (silver[1]["id_number"], silver[1]["id_number_status"]) == (ID, "valid")
    assert silver[1]["disability_grade"] == "二级" and silver[1]["cert_status"] == "有效"
    assert (silver[2]["id_number"], silver[2]["id_number_status"]) == (ID, "normalized")
    assert (silver[3]["id_number"], silver[3]["id_number_status"]) == (ID, "upgraded_15")
    assert quarantine[4]["reasons"] == ["REQUIRED_MISSING", "ID_UNUSABLE"]


def test_hukou_requires_a_usable_id() -> None:
    silver, quarantine = _run("hukou_population", [
        {"id_number": ID, "name": "吴敏", "birth_date": "1950-01-01", "person_status": "正常",
         "sex": "女", "phone": "+86 138 0013 8000"},
        {"id_number": "4.40106195001011e+17", "name": "吴敏", "birth_date": "1950-01-01",
         "person_status": "已死亡"},
    ])  # fmt: skip
    assert silver[1]["sex"] == "2" and silver[1]["phone"] == "13800138000"
    # unrecoverable number: missing; the person still has name + birth date, so only required
    assert quarantine[2]["reasons"] == ["REQUIRED_MISSING"]
    assert "id_number" in quarantine[2]["detail"]


def test_marriage_has_two_subjects() -> None:
    silver, quarantine = _run("marriage_registrations", [
        {"cert_no": "J1", "business_type": "结婚", "registered_on": "2026-10-01",
         "male_id_number": ID, "male_name": "郑强", "female_id_number": None, "female_name": "冯丽",
         "female_birth_date": "1990-05-06"},
        {"cert_no": "J2", "business_type": "结婚登记", "registered_on": "2026-10-01",
         "male_id_number": ID, "male_name": "郑强", "female_id_number": None, "female_name": "冯丽"},
    ])  # fmt: skip
    assert silver[1]["business_type"] == "结婚登记"
    assert silver[1]["female_id_number_status"] == "missing"
    assert quarantine[2]["reasons"] == ["ID_UNUSABLE"] and "female" in quarantine[2]["detail"]


def test_volunteer_number_is_a_stable_key() -> None:
    silver, quarantine = _run("volunteer_service", [
        {"record_no": "R1", "volunteer_no": "V1", "id_number": None, "name": "陈晨",
         "service_date": "2026-10-01", "hours": "2.5", "service_division_code": "440106"},
        {"record_no": "R2", "volunteer_no": "V2", "id_number": None, "name": None,
         "service_date": "2026-10-01", "hours": "2", "org_uscc": "bad"},
    ])  # fmt: skip
    assert (
        str(silver[1]["hours"]) == "2.50" and silver[1]["service_division_code"] == "440106000000"
    )
    assert quarantine[2]["reasons"] == ["ID_UNUSABLE"]


def test_empty_delivery() -> None:
    silver, quarantine = _run("divisions", [])
    assert silver == {} and quarantine == {}


HUKOU_POOL = [
    {"id_number": ID, "name": "吴敏", "birth_date": "1950-01-01", "person_status": "正常",
     "sex": "女", "phone": "+86 138 0013 8000", "hukou_division_code": "440106"},
    {"id_number": ID.lower(), "name": "陳 明", "birth_date": "1950年1月1日", "person_status": "已死亡",
     "sex": "F"},
    {"id_number": "4.40106195001011e+17", "name": "吴敏", "birth_date": "1950-01-01",
     "person_status": "正常"},
    {"id_number": ID[:6] + ID[8:17], "name": "阿不都•热合曼", "birth_date": "19500101",
     "person_status": "迁出", "hukou_division_code": "440199"},
    {"id_number": "", "name": "", "birth_date": "1950-13-01", "person_status": "?"},
    {"_malformed": "a,b,c,d,e,f,g,h,i,j,k,l,m"},
]  # fmt: skip


@settings(deadline=None, max_examples=40)
@given(st.lists(st.sampled_from(range(len(HUKOU_POOL))), min_size=1, max_size=25), st.data())
def test_a_delivery_cleaned_in_slices_equals_it_cleaned_whole(picks, data):
    # Large deliveries are cleaned in slices to bound memory; that is only sound because
    # every output value of a row reads that row alone.
    bronze = bronze_rows("hukou_population", [HUKOU_POOL[i] for i in picks], delivery_id="d1")
    size = data.draw(st.integers(1, len(picks)))
    contract = get_contract("hukou_population")
    whole = clean_delivery(contract, bronze, divmap=DIVMAP, now=NOW)
    sliced = clean_delivery(contract, bronze, divmap=DIVMAP, now=NOW, slice_rows=size)
    assert sliced.silver.equals(whole.silver)
    assert sliced.quarantine.equals(whole.quarantine)
    assert len(whole.silver) + len(whole.quarantine) == len(picks)
