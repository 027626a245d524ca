"""Survivorship and death-date order of golden records, on hand-built references."""

from __future__ import annotations

from datetime import UTC, date, datetime

import pandas as pd
from hypothesis import given, settings
from hypothesis import strategies as st

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


# --- the identity attributes against a plain reading of the rules --------------------

BAD_DATE_ID = "440106193013450011"  # month 13: no birth date from the digits
feed_ref = st.fixed_dictionaries(
    {
        "feed": st.sampled_from(["hukou_population", "elderly_allowance", "volunteer_service"]),
        "produced": st.sampled_from(["2026-01-01", "2026-02-01", "2026-03-01"]),
        "name_norm": st.sampled_from(["张伟", "张卫", None]),
        "sex": st.sampled_from(["1", "2", "0", None]),
        "birth_date": st.sampled_from([date(1930, 1, 1), date(1931, 2, 2), None]),
        "division": st.sampled_from(["440106011001", "440104000000", None]),
    }
)


def _latest(rows: list[dict], column: str):
    """arg_max(column, recency): the most recent row's value, nulls skipped."""
    valued = [r for r in rows if r[column] is not None]
    return max(valued, key=lambda r: r["recency"])[column] if valued else None


def _mode(rows: list[dict], column: str, allowed=None):
    """Most frequent non-null value; ties to the most recent, then the smallest."""
    values = [
        r for r in rows if r[column] is not None and (allowed is None or r[column] in allowed)
    ]
    if not values:
        return None
    stats = {}
    for r in values:
        n, latest = stats.get(r[column], (0, ""))
        stats[r[column]] = (n + 1, max(latest, r["recency"]))
    ordered = sorted(stats, key=str)  # then the smallest value, kept by the stable sort
    return sorted(ordered, key=lambda v: stats[v], reverse=True)[0]


def _expected(rows: list[dict], canon_id: str | None) -> tuple:
    hukou = [r for r in rows if r["feed_id"] == "hukou_population"]
    h = {c: _latest(hukou, c) for c in ("name_norm", "sex", "birth_date", "division")}
    from_id = None
    if canon_id is not None:
        try:
            from_id = datetime.strptime(canon_id[6:14], "%Y%m%d").date()
        except ValueError:
            from_id = None
    if h["sex"] in ("1", "2"):
        sex = h["sex"]
    elif canon_id is not None:
        sex = "1" if int(canon_id[16]) % 2 else "2"
    else:
        sex = _mode(rows, "sex", ("1", "2")) or "0"
    return (
        h["name_norm"] or _mode(rows, "name_norm"),
        sex,
        h["birth_date"] or from_id or _mode(rows, "birth_date"),
        h["division"] or _mode(rows, "division"),
    )


@settings(deadline=None, max_examples=150)
@given(
    st.lists(
        st.tuples(
            st.sampled_from([ID, BAD_DATE_ID, None]), st.lists(feed_ref, min_size=1, max_size=6)
        ),
        min_size=1,
        max_size=4,
    )
)
def test_identity_attributes_follow_hukou_then_the_id_then_the_mode(people):
    # GIVEN persons with hukou rows or none, a usable ID (its date real or not) or none
    rows, expected = [], {}
    for i, (canon_id, refs) in enumerate(people):
        mine = [
            ref(r["feed"], r["produced"], row=len(rows) + j + 1, person_key=f"k{i}",
                canon_id=canon_id, name_norm=r["name_norm"], sex=r["sex"],
                birth_date=r["birth_date"], division=r["division"])
            for j, r in enumerate(refs)
        ]  # fmt: skip
        for r in mine:
            r["recency"] = f"{r['produced_at']}|{r['_delivery_id']}|{r['_source_row']:012d}"
        expected[f"k{i}"] = _expected(mine, canon_id)
        rows += mine
    # WHEN the golden records are built THEN name, sex, birth date and division as the
    # rules read (hukou's latest, else the ID's digits, else the most frequent value)
    got = persons(*[{k: v for k, v in r.items() if k != "recency"} for r in rows])
    assert {
        key: (p["name"], p["sex"], p["birth_date"], p["hukou_division_code"])
        for key, p in got.items()
    } == expected
