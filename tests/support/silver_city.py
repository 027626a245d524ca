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


def build_silver(lake_dir: Path, *, persons: int, seed: int = 11) -> int:
    """Writes the two silver tables; returns how many person references they hold."""
    rng = np.random.default_rng(seed)
    refs = 0
    for start in range(0, persons, CHUNK):
        n = min(CHUNK, persons - start)
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
    return refs
