"""Survivorship and death-date order of golden records, on hand-built references."""

from __future__ import annotations

from datetime import UTC, date, datetime

import pandas as pd

from civlake.resolve.golden import build_persons

NOW = datetime(2026, 11, 26, tzinfo=UTC)
ID = "440106193001010012"  # digit 17 '1': male; born 1930-01-01


def ref(feed: str, produced: str, row: int = 1, **values) -> dict:
    base = {
        "feed_id": feed, "_delivery_id": f"{produced[:10].replace('-', '')}-440100-001",
        "_source_file": "f.csv", "_source_row": row, "role": "person", "person_key": "k1",
        "canon_id": ID, "name_norm": None, "sex": None, "birth_date": None, "division": None,
        "produced_at": f"{produced}T02:00:00+08:00", "death_date": None,
        "person_status": None, "status_changed_on": None,
    }  # fmt: skip
    return base | values


def persons(*rows: dict) -> dict:
    table = build_persons(pd.DataFrame(rows), now=NOW).to_pylist()
    return {r["person_key"]: r for r in table}


def test_hukou_wins_identity_and_latest_hukou_delivery_wins():
    p = persons(
        ref("elderly_allowance", "2026-03-01", name_norm="张卫", sex="2",
            birth_date=date(1931, 1, 1), division="440106000000"),
        ref("elderly_allowance", "2026-04-01", name_norm="张卫", sex="2"),
        ref("hukou_population", "2026-01-01", name_norm="张伟旧", person_status="正常"),
        ref("hukou_population", "2026-02-01", name_norm="张伟", sex="1",
            birth_date=date(1930, 1, 1), division="440106011001", person_status="正常"),
    )["k1"]  # fmt: skip
    assert (p["name"], p["sex"], p["birth_date"]) == ("张伟", "1", date(1930, 1, 1))
    assert p["hukou_division_code"] == "440106011001"
    assert p["in_hukou"] and p["hukou_status"] == "正常" and p["is_alive"]
    assert p["source_feeds"] == ["elderly_allowance", "hukou_population"]
    assert (p["first_seen"], p["last_seen"]) == (date(2026, 1, 1), date(2026, 4, 1))


def test_without_hukou_sex_and_birth_come_from_the_id_and_name_is_most_frequent():
    p = persons(
        ref("elderly_allowance", "2026-01-01", name_norm="李娜", sex="2"),
        ref("elderly_allowance", "2026-02-01", name_norm="李娜", sex="2"),
        ref("disability_certs", "2026-03-01", name_norm="李那", sex="2"),
    )["k1"]
    assert p["name"] == "李娜"
    assert p["sex"] == "1"  # the ID's digit 17 beats what the feeds claim
    assert p["birth_date"] == date(1930, 1, 1)
    assert not p["in_hukou"] and p["hukou_status"] is None


def test_without_valid_id_most_frequent_then_most_recent_value_survives():
    p = persons(
        ref("volunteer_service", "2026-01-01", canon_id=None, name_norm="王芳", sex="2",
            birth_date=date(1980, 5, 1)),
        ref("volunteer_service", "2026-02-01", canon_id=None, name_norm="王芳芳", sex="2",
            birth_date=date(1980, 5, 2)),
    )["k1"]  # fmt: skip
    assert p["id_number"] is None
    assert p["name"] == "王芳芳" and p["birth_date"] == date(1980, 5, 2)  # tie -> most recent
    assert p["sex"] == "2"


def test_death_date_certificate_then_cremation_then_hukou():
    hukou_dead = ref("hukou_population", "2026-05-01", person_status="死亡",
                     status_changed_on=date(2026, 4, 20))  # fmt: skip
    cremation = ref("cremation_records", "2026-04-12", death_date=date(2026, 4, 11))
    certificate = ref("death_certificates", "2026-04-11", death_date=date(2026, 4, 10))
    cases = [
        ((hukou_dead, cremation, certificate), date(2026, 4, 10), "death_certificates"),
        ((hukou_dead, cremation), date(2026, 4, 11), "cremation_records"),
        ((hukou_dead,), date(2026, 4, 20), "hukou_population"),
    ]
    for rows, expected_date, source in cases:
        p = persons(*rows)["k1"]
        assert (p["death_date"], p["death_date_source"]) == (expected_date, source)
        assert p["is_alive"] is False


def test_a_death_certificate_alone_marks_a_hukou_living_person_dead():
    p = persons(
        ref("hukou_population", "2026-05-01", person_status="正常"),
        ref("death_certificates", "2026-05-03", death_date=date(2026, 5, 2)),
    )["k1"]
    assert p["is_alive"] is False and p["hukou_status"] == "正常"
