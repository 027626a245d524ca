"""A small synthetic silver lake with known truth, for tests and the benchmark.

Not the city generator (``civlake.generate``): this writes silver tables directly, with
the person-reference dirt the resolver must survive (IDs with a mistyped or transposed
digit, missing IDs, traditional-script names, spaced names), so the resolver can be
tested without the ingest and clean gates.
"""

from __future__ import annotations

import random
from datetime import date, timedelta
from pathlib import Path

import pyarrow as pa

from civlake import lake
from civlake.hanzi import traditional
from civlake.identifiers import id_check_char, is_valid_id

SURNAMES = "王李张刘陈杨黄赵吴周徐孙马朱胡郭何高林罗郑梁谢宋唐许韩冯邓曹彭曾萧田董潘袁蔡蒋余于杜叶程魏苏吕丁沈"
GIVEN = "伟芳娜秀英敏静丽强磊军洋勇艳杰娟涛明超秀兰霞平刚桂英华建国志红玲鹏辉飞鑫龙凤爱东海云"
DISTRICTS = ("440103", "440104", "440105", "440106", "440111", "440112", "440113", "440114")


def make_id(rng: random.Random, born: date, male: bool) -> str:
    seq = rng.randrange(0, 100) * 10 + (rng.choice((1, 3, 5, 7, 9) if male else (0, 2, 4, 6, 8)))
    body = f"{rng.choice(DISTRICTS)}{born:%Y%m%d}{seq:03d}"
    return body + id_check_char(body)


def typo_id(rng: random.Random, id_number: str) -> str:
    """One digit changed, two adjacent digits swapped, or an impossible birth month
    (13), such that the ID is invalid."""
    while True:
        chars = list(id_number)
        i = rng.randrange(0, 16)
        roll = rng.random()
        if roll < 0.2:
            chars[10:12] = ["1", "3"]
        elif roll < 0.6:
            chars[i] = str((int(chars[i]) + rng.randrange(1, 10)) % 10)
        else:
            chars[i], chars[i + 1] = chars[i + 1], chars[i]
        bad = "".join(chars)
        if bad != id_number and not is_valid_id(bad):
            return bad


def _people(rng: random.Random, n: int) -> list[dict]:
    people, seen = [], set()
    for uid in range(n):
        born = date(1930, 1, 1) + timedelta(days=rng.randrange(0, 32000))
        male = rng.random() < 0.5
        id_number = make_id(rng, born, male)
        while id_number in seen:
            id_number = make_id(rng, born, male)
        seen.add(id_number)
        name = rng.choice(SURNAMES) + "".join(rng.choice(GIVEN) for _ in range(rng.choice((1, 2))))
        division = rng.choice(DISTRICTS) + f"{rng.randrange(1, 20):03d}{rng.randrange(1, 30):03d}"
        people.append({"uid": f"P{uid:06d}", "id": id_number, "name": name, "born": born,
                       "sex": "1" if male else "2", "division": division,
                       "in_hukou": rng.random() < 0.93, "dead": rng.random() < 0.05})  # fmt: skip
    return people


def _dirty_ref(rng: random.Random, p: dict, t2s_inverse, *, can_miss: bool = True) -> dict:
    """ID as a business system sends it (status as the clean gate would set it). A
    missing ID only where the row has a birth date or stable key: elsewhere the clean
    gate quarantines the row (ID_UNUSABLE), so silver never holds it."""
    roll = rng.random()
    if not can_miss and 0.08 <= roll < 0.12:
        roll = 0.5
    if roll < 0.08:
        id_number, status = typo_id(rng, p["id"]), "invalid"
    elif roll < 0.12:
        id_number, status = None, "missing"
    elif roll < 0.15:
        id_number, status = p["id"], "normalized"
    else:
        id_number, status = p["id"], "valid"
    name = p["name"]
    if rng.random() < 0.1:
        name = t2s_inverse(name)
    elif rng.random() < 0.05:
        name = " ".join(name)
    return {"id": id_number, "status": status, "name": name}


def build(lake_dir: Path, *, persons: int = 400, months: int = 3, seed: int = 7) -> pa.Table:
    """Write silver tables for ``persons`` people over ``months`` monthly deliveries;
    returns truth records in the generator's layout (feed_id, delivery_id,
    source_file, source_row, role, person_uid)."""
    rng = random.Random(seed)
    people = _people(rng, persons)
    truth: list[dict] = []
    tables: dict[str, list[dict]] = {}
    counters: dict[tuple[str, str], int] = {}

    def emit(feed: str, delivery: str, role: str, person: dict, row: dict) -> None:
        rows = tables.setdefault(feed, [])
        rownum = counters[feed, delivery] = counters.get((feed, delivery), 0) + 1
        lineage = {"_delivery_id": delivery, "_source_file": f"{feed}.csv",
                   "_source_row": rownum, "_produced_at": f"{delivery[:4]}-{delivery[4:6]}-"
                   f"{delivery[6:8]}T02:00:00+08:00"}  # fmt: skip
        rows.append({**row, **lineage})
        truth.append({"feed_id": feed, "delivery_id": delivery, "source_file": f"{feed}.csv",
                      "source_row": rownum, "role": role, "person_uid": person["uid"]})  # fmt: skip

    for m in range(1, months + 1):
        delivery = f"2026{m:02d}01-440100-001"
        for p in people:
            if p["in_hukou"]:
                dead = p["dead"] and m == months
                emit("hukou_population", delivery, "person", p, {
                    "id_number": p["id"], "id_number_status": "valid", "name": p["name"],
                    "sex": p["sex"], "birth_date": p["born"], "hukou_division_code": p["division"],
                    "person_status": "死亡" if dead else "正常",
                    "status_changed_on": date(2026, m, 20) if dead else None,
                    "phone": f"13{int(p['id'][-9:-1]):09d}"})  # fmt: skip
            if p["born"] < date(1946, 1, 1):
                d = _dirty_ref(rng, p, traditional)
                emit("elderly_allowance", delivery, "person", p, {
                    "id_number": d["id"], "id_number_status": d["status"], "name": d["name"],
                    "sex": p["sex"], "birth_date": p["born"],
                    "hukou_division_code": p["division"]})  # fmt: skip
            if int(p["id"][-4:-1]) % 7 == 0:
                # A volunteer known by 志愿者编号 and name alone, in every record, is
                # beyond any resolver: the first month always carries the ID.
                d = _dirty_ref(rng, p, traditional, can_miss=m > 1)
                emit("volunteer_service", delivery, "volunteer", p, {
                    "id_number": d["id"], "id_number_status": d["status"], "name": d["name"],
                    "volunteer_no": f"V{p['uid']}"})  # fmt: skip
    for p in people:
        if p["dead"]:
            d = _dirty_ref(rng, p, traditional, can_miss=False)
            emit("death_certificates", f"2026{months:02d}18-440100-001", "deceased", p, {
                "id_number": d["id"], "id_number_status": d["status"], "name": d["name"],
                "sex": p["sex"], "death_date": date(2026, months, 15)})  # fmt: skip
            if rng.random() < 0.7:
                d = _dirty_ref(rng, p, traditional, can_miss=False)
                emit("cremation_records", f"2026{months:02d}19-440106-001", "deceased", p, {
                    "id_number": d["id"], "id_number_status": d["status"], "name": d["name"],
                    "sex": p["sex"], "death_date": date(2026, months, 16)})  # fmt: skip
    for feed, rows in tables.items():
        lake.append(lake.table_path(lake_dir, "silver", feed), pa.Table.from_pylist(rows))
    return pa.Table.from_pylist(truth)


# --- organisations ---------------------------------------------------------------------


def org_code(rng: random.Random) -> str:
    """A random 18-character code in the USCC alphabet (valid or not by chance)."""
    return "5144" + "".join(rng.choice("0123456789ABCDEFGHJKLMNPQRTUWXY") for _ in range(14))


def org_reference(
    rng: random.Random, registry: list[str], names: dict[str, str], outside: list[str]
) -> tuple[str | None, str | None, str | None]:
    """(org_uscc, org_uscc_status, org_name) of one reference of a random kind: a registry
    code valid or normalised, a code outside the registry, an invalid code with a registry
    name or one typo away, an unknown code or name, or nothing at all."""
    c, k = rng.choice(registry), rng.random()
    return (
        (c, "valid", names[c]) if k < 0.3 else (c, "normalized", None) if k < 0.4
        else (rng.choice(outside), "valid", rng.choice([None, "外部甲", "外部乙"])) if k < 0.5
        else ("X" + c[1:], "invalid", names[c]) if k < 0.6
        else (c[:10] + c[11] + c[10] + c[12:], "invalid", None) if k < 0.7
        else (org_code(rng), "invalid", rng.choice([None, "新组织甲", " 新组织 甲 "])) if k < 0.8
        else (None, None, rng.choice([None, "新组织丙", names[c]])) if k < 0.9
        else (None, "missing", None)
    )  # fmt: skip
