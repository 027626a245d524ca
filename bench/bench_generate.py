"""Benchmark `civlake generate`: rows/s and peak memory for a city of --persons.

    .venv/bin/python bench/bench_generate.py --persons 1000000 --months 3 --out /tmp/bench_city

Prints one line per stage (as reported by the generator's progress callback) and a summary.
"""

from __future__ import annotations

import argparse
import json
import resource
import shutil
import tempfile
import time
from pathlib import Path

from civlake.generate import generate


def _peak_mib() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # KiB on Linux


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--persons", type=int, default=100_000)
    ap.add_argument("--months", type=int, default=3)
    ap.add_argument("--seed", type=int, default=42)
    ap.add_argument(
        "--out", type=Path, default=None, help="landing root (default: a temp dir, removed after)"
    )
    args = ap.parse_args()
    tmp = None
    out = args.out
    if out is None:
        tmp = Path(tempfile.mkdtemp(prefix="civlake-bench-"))
        out = tmp / "landing"
    t0 = time.perf_counter()
    last = {"stage": "", "t": t0}

    def progress(stage: str, n: int) -> None:
        now = time.perf_counter()
        if (stage != last["stage"] and not stage.startswith("deliver")) or now - last["t"] > 5:
            print(
                f"{now - t0:8.1f}s  {stage:<32} n={n:>12,}  peak={_peak_mib():8.0f} MiB", flush=True
            )
            last.update(stage=stage, t=now)

    summary = generate(
        out, persons=args.persons, months=args.months, seed=args.seed, progress=progress
    )
    elapsed = time.perf_counter() - t0
    rows = summary["rows"]
    print(json.dumps({
        "persons": args.persons, "months": args.months, "seconds": round(elapsed, 1), "rows": rows,
        "rows_per_s": round(rows / elapsed), "persons_per_s": round(args.persons / elapsed),
        "peak_mib": round(_peak_mib()), "deliveries": summary["deliveries"], "findings": summary["findings"],
    }, ensure_ascii=False, indent=2))  # fmt: skip
    if tmp is not None:
        shutil.rmtree(tmp, ignore_errors=True)
        shutil.rmtree(Path(str(out) + "_truth"), ignore_errors=True)


if __name__ == "__main__":
    main()
