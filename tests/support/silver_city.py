"""A large city's person-bearing silver, written directly and vectorised (seconds for
100,000s of persons; tests/support/synthetic.build goes through the generator and is
meant for hundreds).

silver.hukou_population: one row per person, a valid ID (so resolution needs no model),
a month's snapshot; silver.elderly_allowance: the over-80s again, a month later, so most
golden records merge two feeds and the latest delivery has to win.
"""

from __future__ import annotations

from datetime import date, timedelta
from pathlib import Path

import numpy as np
import pyarrow as pa

from civlake import lake, tables
from civlake.identifiers import id_check_char

SURNAMES = (
    "王李张刘陈杨黄赵吴周徐孙马朱胡郭何林高罗郑梁谢宋唐许韩冯邓曹彭曾肖田董袁潘蔡蒋余于杜叶程"
)
GIVEN = "伟芳娜敏静丽强磊军洋勇艳杰娟涛明超秀霞平刚桂英华玉兰萍红建国志文斌海波辉鹏飞燕"
CHUNK = 100_000


def _lineage(feed: str, delivery: str, produced: str, rows: np.ndarray) -> dict:
    n = len(rows)
    return {
        "_delivery_id": pa.array([delivery] * n),
        "_source_file": pa.array([f"{feed}.csv"] * n),
        "_source_row": pa.array(rows + 1, pa.int64()),
        "_produced_at": pa.array([produced] * n),
    }


def build_silver(
    lake_dir: Path, *, persons: int, seed: int = 11, chunk: int = CHUNK,
    volunteers: bool = False, progress=None,
) -> int:  # fmt: skip
    """Writes the silver tables; returns how many person references they hold.

    ``volunteers``: also silver.volunteer_service for 4 % of persons, a quarter of them
    with a mistyped (invalid) ID and a tenth with none, so about 1.4 % of the references
    need the Splink model (the share the generator's dirt gives)."""
    rng = np.random.default_rng(seed)
    refs = 0
    for start in range(0, persons, chunk):
        n = min(chunk, persons - start)
        uid = np.arange(start, start + n)
        born = [date(1930, 1, 1) + timedelta(days=int(d)) for d in rng.integers(0, 33_000, n)]
        sex = rng.integers(1, 3, n)
        area = [f"4401{a:02d}" for a in rng.integers(3, 18, n)]
        # the person's number in the sequence digits (odd for men), so IDs are distinct
        seq = (uid % 500) * 2 + (sex == 1)
        bodies = [f"{a}{b:%Y%m%d}{s:03d}" for a, b, s in zip(area, born, seq, strict=True)]
        ids = [f"{b[:14]}{(int(b[14:17]) + 2 * (u // 500)) % 1000:03d}"
               for b, u in zip(bodies, uid, strict=True)]  # fmt: skip
        ids = [b + id_check_char(b) for b in ids]
        names = [
            SURNAMES[a] + GIVEN[b] + (GIVEN[c] if c % 3 else "")
            for a, b, c in zip(rng.integers(0, len(SURNAMES), n), rng.integers(0, len(GIVEN), n),
                               rng.integers(0, len(GIVEN), n), strict=True)
        ]  # fmt: skip
        division = [f"{a}{t:03d}{v:03d}" for a, t, v in
                    zip(area, rng.integers(1, 20, n), rng.integers(1, 30, n), strict=True)]  # fmt: skip
        hukou = pa.table({
            "id_number": ids, "id_number_status": ["valid"] * n, "name": names,
            "sex": [str(s) for s in sex], "birth_date": pa.array(born, pa.date32()),
            "hukou_division_code": division, "person_status": ["正常"] * n,
            "status_changed_on": pa.nulls(n, pa.date32()), "phone": [f"13{u:09d}" for u in uid],
            **_lineage("hukou_population", "20261101-440100-001", "2026-11-01T02:00:00+08:00",
                       uid),
        })  # fmt: skip
        lake.append(tables.path(lake_dir, tables.silver("hukou_population")), hukou)
        old = np.array([b < date(1946, 1, 1) for b in born])
        elderly = hukou.filter(pa.array(old)).select(
            ["id_number", "id_number_status", "name", "sex", "birth_date", "hukou_division_code"]
        )
        for column, values in _lineage(
            "elderly_allowance",
            "20261201-440100-001",
            "2026-12-01T02:00:00+08:00",
            np.flatnonzero(old) + start,
        ).items():
            elderly = elderly.append_column(column, values)
        lake.append(tables.path(lake_dir, tables.silver("elderly_allowance")), elderly)
        refs += n + elderly.num_rows
        if volunteers:
            refs += _volunteers(lake_dir, rng, uid, ids, names)
        if progress:
            progress(start + n)
    return refs


def _volunteers(lake_dir: Path, rng, uid: np.ndarray, ids: list, names: list) -> int:
    picked = np.flatnonzero(rng.random(len(uid)) < 0.04)
    kind = rng.random(len(picked))
    v_ids, v_status = [], []
    for i, k in zip(picked, kind, strict=True):
        if k < 0.25:  # one digit mistyped: the check character no longer agrees
            v_ids.append(ids[i][:10] + str((int(ids[i][10]) + 1) % 10) + ids[i][11:])
            v_status.append("invalid")
        elif k < 0.35:
            v_ids.append(None)
            v_status.append(None)
        else:
            v_ids.append(ids[i])
            v_status.append("valid")
    table = pa.table({
        "volunteer_no": [f"V{uid[i]}" for i in picked], "id_number": v_ids,
        "id_number_status": v_status, "name": [names[i] for i in picked],
        **_lineage("volunteer_service", "20261101-440100-001", "2026-11-01T02:00:00+08:00",
                   uid[picked]),
    })  # fmt: skip
    lake.append(tables.path(lake_dir, tables.silver("volunteer_service")), table)
    return len(picked)
