"""The clean gate on one large hukou snapshot: memory and time by slice size.

    .venv/bin/python bench/bench_clean_slices.py --rows 1000000 --slices 100000,500000

Builds a lake with a first-month snapshot of ``--rows`` hukou-like rows
(tests/support/hukou_months.py), cleans it in a fresh process per slice size
(``runs.SLICE_ROWS``; a slice larger than the delivery is the whole delivery at once),
then adds the next month's snapshot (most rows repeated: carried) and cleans that the
same way. Prints seconds, peak RSS (VmHWM) and Arrow's peak allocation of each process.
"""

from __future__ import annotations

import argparse
import json
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.append(str(ROOT))  # tests.support

_CLEAN = """
import json, re, sys, time
from datetime import datetime
from pathlib import Path
import pyarrow as pa
from civlake.clean import clean_pending, runs
from civlake.settings import load_settings
home, runs.SLICE_ROWS = sys.argv[1], int(sys.argv[2])
s = load_settings(lake=home + "/lake", env={"CIVLAKE_HOME": home})
started = time.perf_counter()
done = clean_pending(s, now=datetime.fromisoformat(sys.argv[3]))
# VmHWM, not ru_maxrss: Linux keeps ru_maxrss across exec, so it would report the parent's
# RSS at the fork (the bench holds a million rows)
hwm = re.search(r"VmHWM:\\s+(\\d+) kB", Path("/proc/self/status").read_text())
print(json.dumps({"seconds": time.perf_counter() - started,
                  "rows": sum(d["rows_bronze"] for d in done["cleaned"]),
                  "carried": sum(d["rows_carried"] for d in done["cleaned"]),
                  "rss": int(hwm.group(1)) * 1024,
                  "arrow": pa.default_memory_pool().max_memory()}))
"""


def _clean(home: Path, slice_rows: int, now: str) -> dict:
    out = subprocess.run(
        [sys.executable, "-c", _CLEAN, str(home), str(slice_rows), now],
        capture_output=True, text=True, check=True, cwd=ROOT,
    )  # fmt: skip
    return json.loads(out.stdout.strip().splitlines()[-1])


def _report(month: str, slice_rows: int, r: dict) -> None:
    print(f"{month:<8}{slice_rows:>10,}{r['rows']:>11,}{r['carried']:>11,}{r['seconds']:>9.1f}"
          f"{r['rss'] / 2**20:>10,.0f}{r['arrow'] / 2**20:>10,.0f}", flush=True)  # fmt: skip


def main() -> None:
    from datetime import timedelta

    from tests.support.hukou_months import (
        D_AT,
        D_ID,
        NOW,
        deliver_files,
        month_one,
        month_two,
        snapshot_lake,
    )  # fmt: skip

    ap = argparse.ArgumentParser()
    ap.add_argument("--rows", type=int, default=1_000_000)
    ap.add_argument("--slices", default="100000,500000,2000000")
    args = ap.parse_args()
    slices = [int(s) for s in args.slices.split(",")]
    work = Path(tempfile.mkdtemp(prefix="civlake-clean-slices-"))
    rows = month_one(args.rows, seed=6)
    snapshot_lake(work / "first", rows, files=2)
    later = month_two(rows, seed=4)
    del rows
    print(f"{'month':<8}{'slice':>10}{'rows':>11}{'carried':>11}{'s':>9}{'RSS MiB':>10}"
          f"{'Arrow MiB':>10}")  # fmt: skip
    for n in slices:
        shutil.rmtree(work / "run", ignore_errors=True)
        shutil.copytree(work / "first", work / "run")
        _report("first", n, _clean(work / "run", n, NOW.isoformat()))
    # the next month starts from the first month cleaned (the last run's lake)
    deliver_files(work / "run" / "lake", later, delivery_id=D_ID, at=D_AT)
    shutil.move(work / "run", work / "second")
    for n in slices:
        shutil.rmtree(work / "run", ignore_errors=True)
        shutil.copytree(work / "second", work / "run")
        _report("next", n, _clean(work / "run", n, (NOW + timedelta(days=31)).isoformat()))
    print(f"work dir: {work}")


if __name__ == "__main__":
    main()
