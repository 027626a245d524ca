"""Person resolution alone at city scale: seconds, references/s and peak RSS.

    # silver written directly (vectorised), no ingest or clean: minutes, not hours
    python bench/bench_resolve_scale.py build --persons 1000000 --home /tmp/city1m
    # (--ids-only: no volunteers, so every ID is usable and the Splink model never runs)
    # resolve_persons of the tree on PYTHONPATH, in a child under a memory watchdog
    PYTHONPATH=<tree>/jobs python bench/bench_resolve_scale.py run --home /tmp/city1m

bench/bench_resolve.py measures quality against Splink on silver made by the pipeline,
whose setup passes 10 minutes at 100,000 persons here; this one measures how time and
memory grow with the city. The silver: silver.hukou_population, one row per person (valid
IDs, a month's snapshot); silver.elderly_allowance for the over-80s; and
silver.volunteer_service for 4 % of persons, where a quarter of the references carry a
typo'd (invalid) ID and a tenth none, so about 1.4 % of the references go through the
model (the share the generator's dirt gives). ``run`` prints one JSON line: seconds,
references, refs/s, peak MiB (the child's VmHWM), the tree resolved with.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

WATCHDOG_GIB = 20
SECRET = "bench-scale"
SURNAMES = (
    "王李张刘陈杨黄赵吴周徐孙马朱胡郭何林高罗郑梁谢宋唐许韩冯邓曹彭曾肖田董袁潘蔡蒋余于杜叶程"
)
GIVEN = "伟芳娜敏静丽强磊军洋勇艳杰娟涛明超秀霞平刚桂英华玉兰萍红建国志文斌海波辉鹏飞燕"


def _check_char(body17: str) -> str:
    from civlake.identifiers import id_check_char

    return id_check_char(body17)


def build(home: Path, persons: int, seed: int, *, volunteers: bool = True) -> None:
    import numpy as np
    import pyarrow as pa

    from civlake import lake, tables

    rng = np.random.default_rng(seed)
    lake_dir = home / "lake"
    delivery, produced = "20261101-440100-001", "2026-11-01T02:00:00+08:00"
    chunk = 250_000
    for start in range(0, persons, chunk):
        n = min(chunk, persons - start)
        uid = np.arange(start, start + n)
        born = [date(1930, 1, 1) + timedelta(days=int(d)) for d in rng.integers(0, 33_000, n)]
        sex = rng.integers(1, 3, n)
        seq = (uid % 500) * 2 + (sex == 1)  # digit 17 odd for men
        area = [f"4401{a:02d}" for a in rng.integers(3, 18, n)]
        bodies = [f"{a}{b:%Y%m%d}{s % 1000:03d}" for a, b, s in zip(area, born, seq, strict=True)]
        # uid in the sequence digits' place keeps IDs distinct within a birth date
        bodies = [f"{b[:14]}{(int(b[14:17]) + 2 * (u // 500)) % 1000:03d}"
                  for b, u in zip(bodies, uid, strict=True)]  # fmt: skip
        ids = [b + _check_char(b) for b in bodies]
        names = [
            SURNAMES[a] + GIVEN[b] + (GIVEN[c] if c % 3 else "")
            for a, b, c in zip(rng.integers(0, len(SURNAMES), n), rng.integers(0, len(GIVEN), n),
                               rng.integers(0, len(GIVEN), n), strict=True)
        ]  # fmt: skip
        division = [f"{a}{t:03d}{v:03d}" for a, t, v in
                    zip(area, rng.integers(1, 20, n), rng.integers(1, 30, n), strict=True)]  # fmt: skip
        lineage = {
            "_delivery_id": [delivery] * n,
            "_source_file": ["hukou_population.csv"] * n,
            "_source_row": uid + 1,
            "_produced_at": [produced] * n,
        }
        hukou = pa.table({
            "id_number": ids, "id_number_status": ["valid"] * n, "name": names,
            "sex": [str(s) for s in sex], "birth_date": pa.array(born, pa.date32()),
            "hukou_division_code": division, "person_status": ["正常"] * n,
            "status_changed_on": pa.nulls(n, pa.date32()),
            "phone": [f"13{u:09d}" for u in uid], **lineage,
        })  # fmt: skip
        lake.append(tables.path(lake_dir, tables.silver("hukou_population")), hukou)
        old = np.array([b < date(1946, 1, 1) for b in born])
        elderly = hukou.filter(pa.array(old)).select(
            ["id_number", "id_number_status", "name", "sex", "birth_date", "hukou_division_code"]
        )
        m = elderly.num_rows
        elderly = elderly.append_column("_delivery_id", pa.array([delivery] * m))
        elderly = elderly.append_column("_source_file", pa.array(["elderly_allowance.csv"] * m))
        elderly = elderly.append_column("_source_row", pa.array(np.flatnonzero(old) + start + 1))
        elderly = elderly.append_column("_produced_at", pa.array([produced] * m))
        lake.append(tables.path(lake_dir, tables.silver("elderly_allowance")), elderly)
        if not volunteers:
            print(f"built persons {start + n:,}", flush=True)
            continue
        picked = np.flatnonzero(rng.random(n) < 0.04)
        kind = rng.random(len(picked))
        v_ids, v_status = [], []
        for i, k in zip(picked, kind, strict=True):
            if k < 0.25:  # one digit mistyped: the check character no longer agrees
                body = ids[i][:10] + str((int(ids[i][10]) + 1) % 10) + ids[i][11:]
                v_ids.append(body)
                v_status.append("invalid")
            elif k < 0.35:
                v_ids.append(None)
                v_status.append(None)
            else:
                v_ids.append(ids[i])
                v_status.append("valid")
        volunteers = pa.table({
            "volunteer_no": [f"V{uid[i]}" for i in picked], "id_number": v_ids,
            "id_number_status": v_status, "name": [names[i] for i in picked],
            "_delivery_id": [delivery] * len(picked),
            "_source_file": ["volunteer_service.csv"] * len(picked),
            "_source_row": uid[picked] + 1, "_produced_at": [produced] * len(picked),
        })  # fmt: skip
        lake.append(tables.path(lake_dir, tables.silver("volunteer_service")), volunteers)
        print(f"built persons {start + n:,}", flush=True)


def _child(home: Path) -> None:
    from civlake.resolve import resolve_persons
    from civlake.settings import load_settings

    settings = load_settings(env={"CIVLAKE_HOME": str(home), "CIVLAKE_PERSON_KEY_SECRET": SECRET,
                                  **{k: v for k, v in os.environ.items()
                                     if k == "CIVLAKE_MEMORY_LIMIT"}})  # fmt: skip
    started = time.perf_counter()
    stats = resolve_persons(settings, now=datetime.now(UTC))
    seconds = time.perf_counter() - started
    peak = next(
        int(line.split()[1]) / 1024
        for line in Path("/proc/self/status").read_text().splitlines()
        if line.startswith("VmHWM:")
    )
    import civlake

    print(json.dumps({
        "seconds": round(seconds, 1), "references": stats["references"],
        "persons": stats["persons"], "refs_per_s": round(stats["references"] / seconds),
        "peak_mib": round(peak), "match_methods": stats["match_methods"],
        "tree": str(Path(civlake.__file__).parents[2]),
        "memory_limit": getattr(settings, "memory_limit", None),  # main has none
    }, ensure_ascii=False))  # fmt: skip


def run(home: Path) -> int:
    """The child resolves; this process kills it past WATCHDOG_GIB of RSS."""
    proc = subprocess.Popen([sys.executable, __file__, "_child", "--home", str(home)])
    peak = 0
    while proc.poll() is None:
        try:
            status = Path(f"/proc/{proc.pid}/status").read_text()
        except FileNotFoundError:
            break
        rss = next((int(x.split()[1]) for x in status.splitlines() if x.startswith("VmRSS:")), 0)
        peak = max(peak, rss)
        if rss > WATCHDOG_GIB << 20:
            proc.kill()
            print(json.dumps({"killed": f"RSS {rss >> 20} GiB > {WATCHDOG_GIB} GiB"}))
            return 1
        time.sleep(0.5)
    print(json.dumps({"watchdog_peak_mib": peak >> 10}))
    return proc.wait()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("command", choices=["build", "run", "_child"])
    parser.add_argument("--home", type=Path, required=True)
    parser.add_argument("--persons", type=int, default=100_000)
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument(
        "--ids-only", action="store_true",
        help="build without silver.volunteer_service: every ID usable, no Splink model",
    )  # fmt: skip
    args = parser.parse_args()
    if args.command == "build":
        build(args.home, args.persons, args.seed, volunteers=not args.ids_only)
    elif args.command == "run":
        sys.exit(run(args.home))
    else:
        _child(args.home)


if __name__ == "__main__":
    main()
