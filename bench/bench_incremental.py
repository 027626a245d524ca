"""What a run costs when little or nothing arrived (issue 17: "a run costs what arrived").

    .venv/bin/python bench/bench_incremental.py --persons 100000

Generates a city of two months, then runs the pipeline's stage functions (as
``bench_pipeline.py`` does, in process, without Airflow) three times on one lake:

1. **first month**: every delivery produced before the last production month lands;
2. **rerun, nothing new**: the same landing again;
3. **next month**: the last production month's deliveries land (the second monthly
   ``full`` snapshots, that month's rosters and payments).

Prints each stage's seconds, rows and peak RSS per run, and the ratios the issue asks
for: rerun / first (target 5 %) and next month / first (target 40 %).
"""

from __future__ import annotations

import argparse
import logging
import sys
import tempfile
from datetime import UTC, datetime, timedelta
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from bench_pipeline import feed_order, run_stages

sys.path.append(str(Path(__file__).resolve().parents[1]))  # tests.support
from tests.support.landing_months import bring_back, hold_back_last_month


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--persons", type=int, default=100_000)
    ap.add_argument("--work", type=Path, help="folder for the city (default: a new temp folder)")
    args = ap.parse_args()

    from civlake.generate import generate
    from civlake.settings import load_settings

    # The gate's warnings and GX's temp-folder notices would bury the table.
    logging.disable(logging.WARNING)
    work = args.work or Path(tempfile.mkdtemp(prefix="civlake-incremental-"))
    settings = load_settings(env={"CIVLAKE_HOME": str(work)})
    summary = generate(settings.landing, persons=args.persons, months=2, seed=7)
    later = work / "landing-later"
    kept, moved = hold_back_last_month(settings.landing, later)
    print(f"city: {args.persons:,} persons x 2 months, {summary.get('rows', 0):,} rows; "
          f"{kept} deliveries in the first month's landing, {moved} in the next month's")  # fmt: skip

    feeds = feed_order()
    now = datetime.now(UTC)
    runs = {}
    for name, at in (("first", now), ("rerun", now + timedelta(hours=1)),
                     ("next", now + timedelta(days=31))):  # fmt: skip
        if name == "next":
            bring_back(later, settings.landing)
        print(
            f"\n{name}: {'stage':<14}{'seconds':>10}{'rows':>12}{'rows/s':>12}{'peak RSS MiB':>14}"
        )
        total = 0.0
        for stage, res, n in run_stages(settings, feeds, now=at, run_id=f"bench_{name}"):
            rate = f"{n / res['seconds']:,.0f}" if n else "-"
            print(f"{'':<{len(name) + 2}}{stage:<14}{res['seconds']:>10.1f}{(n or 0):>12,}"
                  f"{rate:>12}{res['peak_rss_mib']:>14,.0f}", flush=True)  # fmt: skip
            if "dbt_nodes" in res:
                print(f"{'':<{len(name) + 16}}dbt: {res['dbt_nodes']}", flush=True)
            if "tree_peak_pss_mib" in res:
                print(f"{'':<{len(name) + 16}}with its worker processes: peak PSS "
                      f"{res['tree_peak_pss_mib']:,.0f} MiB", flush=True)  # fmt: skip
            runs.setdefault(name, {})[stage] = res["seconds"]
            total += res["seconds"]
        runs[name]["total"] = total
        print(f"{'':<{len(name) + 2}}{'total':<14}{total:>10.1f}")

    print("\nratio to the first month's run (stage seconds):")
    print(f"{'stage':<14}{'rerun/first':>14}{'next/first':>14}")
    for stage in runs["first"]:
        first = runs["first"][stage] or float("nan")
        print(
            f"{stage:<14}{runs['rerun'][stage] / first:>14.1%}{runs['next'][stage] / first:>14.1%}"
        )
    print(f"work dir: {work}")


if __name__ == "__main__":
    main()
