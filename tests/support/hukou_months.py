"""Hukou-like monthly snapshots for the clean gate's tests and benches (clean/runs.py).

Rows with the dirt SOURCE_FEEDS.md section 2 describes (IDs with a text-marker
apostrophe, lower-case x, a wrong check character or none; traditional names, spaces,
bracketed remarks, middle dots; dates in three layouts and impossible ones; an obsolete
and an abolished division code; statuses outside the enum), a next month that repeats
most of them, and a lake with divisions cleaned and the first month in bronze.
"""

from __future__ import annotations

import random
from datetime import UTC, datetime
from pathlib import Path

import pyarrow as pa

from civlake import lake, tables
from civlake.clean import clean_pending
from civlake.settings import Settings, load_settings
from tests.support.bronze import AUDIT_SCHEMA, audit_row, bronze_rows, deliver, id18

FEED = "hukou_population"
NOW = datetime(2026, 11, 2, 8, 0, tzinfo=UTC)
P_ID, P_AT = "20261101-440100-001", "2026-11-01T02:00:00+08:00"
D_ID, D_AT = "20261201-440100-001", "2026-12-01T02:00:00+08:00"
DIVISIONS = [
    # code, valid_to, successor: 440102 became 440104; 440177 was abolished without one
    ("440100000000", None, None), ("440106000000", None, None), ("440104000000", None, None),
    ("440102000000", "2005-04-28", "440104000000"), ("440177000000", "2010-01-01", None),
]  # fmt: skip


def person(rng: random.Random, i: int) -> dict:
    birth = f"{rng.randint(1930, 2020)}{rng.randint(1, 12):02d}{rng.randint(1, 28):02d}"
    area = rng.choice(["440106"] * 17 + ["440104", "440102", "440177"])
    pid = id18(area, birth, f"{i % 1000:03d}")
    dirt = rng.random()
    if dirt < 0.03:
        pid = f"'{pid.lower()}"
    elif dirt < 0.05:
        pid = pid[:-1] + ("0" if pid[-1] != "0" else "1")  # check character wrong: invalid
    elif dirt < 0.06:
        pid = ""
    return {
        "id_number": pid, "name": rng.choice(["張 偉", "李娜", "王芳（已故）", "阿依·木"]) + str(i),
        "sex": rng.choice(["1", "2", "男", "女", "9"]),
        "birth_date": rng.choice([f"{birth[:4]}-{birth[4:6]}-{birth[6:]}", birth,
                                  f"{birth[:4]}年{int(birth[4:6])}月{int(birth[6:])}日"]),
        "hukou_division_code": area, "address": f"天河路{i}号", "household_no": f"H{i // 3}",
        "person_status": rng.choice(["正常"] * 30 + ["已死亡", "迁出", "失踪"]),
        "phone": rng.choice(["", "+86 138 0013 8000", "020-83331234"]),
    }  # fmt: skip


def month_one(n: int, seed: int) -> list[dict]:
    """``n`` persons, 1 % of them with an impossible birth date."""
    rng = random.Random(seed)
    rows = [person(rng, i) for i in range(n)]
    for r in rng.sample(rows, n // 100):
        r["birth_date"] = "1990-02-30"  # quarantined: DATE_INVALID
    return rows


def month_two(rows: list[dict], seed: int) -> list[dict]:
    """Most rows repeated unchanged; some changed, some gone, some new."""
    rng = random.Random(seed)
    out = [dict(r) for r in rows if rng.random() > 0.02]
    for r in rng.sample(out, len(out) // 20):
        r["person_status"] = "已死亡"
    return out + [person(rng, len(rows) + i) for i in range(len(rows) // 50)]


def deliver_files(
    root: Path, rows: list[dict], *, delivery_id: str, at: str, files: int = 2
) -> None:
    """One delivery of one or two data files, appended to bronze in one commit each."""
    cut = len(rows) * 3 // 5 if files == 2 else len(rows)
    for name, part in [("data-1.csv", rows[:cut]), ("data-2.csv", rows[cut:])][:files]:
        lake.append(tables.path(root, tables.bronze(FEED)), bronze_rows(
            FEED, part, delivery_id=delivery_id, produced_at=at, source_file=name))  # fmt: skip
    audit = audit_row(FEED, delivery_id, len(rows), produced_at=at)
    lake.append(tables.path(root, tables.INGEST_AUDIT), pa.Table.from_pylist([audit], AUDIT_SCHEMA))


def snapshot_lake(home: Path, rows: list[dict], *, files: int = 2) -> Settings:
    """A lake under ``home`` with divisions cleaned and ``rows`` as the first month's
    snapshot in bronze, pending."""
    s = load_settings(lake=home / "lake", env={"CIVLAKE_HOME": str(home)})
    divisions = [
        {"division_code": c, "name": f"区{c[4:6]}", "level": "3", "parent_code": "440100",
         "valid_to": to, "successor_code": succ, "valid_from": "1990-01-01"}
        for c, to, succ in DIVISIONS
    ]  # fmt: skip
    deliver(s.lake, "divisions", divisions, delivery_id="20260101-440100-001")
    clean_pending(s, feeds=["divisions"], now=NOW)
    deliver_files(s.lake, rows, delivery_id=P_ID, at=P_AT, files=files)
    return s
