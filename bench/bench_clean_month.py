"""The clean stage of a next month: what carrying a snapshot saves, and where the rest goes.

    .venv/bin/python bench/bench_clean_month.py --persons 100000

Generates two months, ingests and cleans the first, ingests the next, then:

1. prints the clean stage of the first month and of the next (``pipeline.clean`` feed by
   feed, as the DAGs do): seconds (wall and CPU), rows cleaned, rows/s, and next / first
   (issue 17: clean >= 250 k rows/s; the next month <= 40 % of the first);
2. times the hukou snapshot of the next month cleaned whole against carried from the
   previous snapshot plus the rest cleaned (``clean.carry``), the same rows either way;
3. with ``--profile``, cleans the next month under cProfile instead and prints the
   functions that took its time (the ``read_audit`` line counts the ledger's reads).

The carry comparison runs after the next month's stage, on a copy of the lake (so the
stage's figures are not warmed by it). No raw floor: the stage reads bronze and writes
silver, and ``bench_ingest.py`` measures the floor of reading the delivered files.
"""

from __future__ import annotations

import argparse
import cProfile
import logging
import os
import pstats
import shutil
import sys
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from bench_pipeline import feed_order

sys.path.append(str(Path(__file__).resolve().parents[1]))  # tests.support
from tests.support.landing_months import bring_back, hold_back_last_month


def _timed(label: str, fn):
    started = time.perf_counter()
    out = fn()
    print(f"{label:<40}{time.perf_counter() - started:>8.2f} s", flush=True)
    return out


def carry_vs_whole(settings, now: datetime) -> None:
    from civlake.clean import carry, lake_io
    from civlake.clean.divisions import load_division_map
    from civlake.clean.frame import clean_delivery
    from civlake.contracts import get_contract
    from civlake.lake import DELTA_RS as io

    feed = "hukou_population"
    audit = sorted(
        (a for a in lake_io.read_audit(settings.lake, io=io)
         if a["feed_id"] == feed and a["mode"] == "full" and a["status"] == "loaded"),
        key=lambda a: a["produced_at"],
    )  # fmt: skip
    previous, pending = audit[-2]["delivery_id"], audit[-1]["delivery_id"]
    contract = get_contract(feed)
    divmap = load_division_map(settings.lake, today=now.date(), io=io)
    bronze = lake_io.read_rows(lake_io.bronze_path(settings.lake, feed), [pending], io=io)
    print(f"hukou snapshot {pending}: {len(bronze):,} rows; previous {previous}")
    _timed("clean whole", lambda: clean_delivery(contract, bronze, divmap=divmap, now=now))
    silver = lake_io.silver_path(settings.lake, feed)
    prior = _timed("read previous silver", lambda: lake_io.read_rows(silver, [previous], io=io))
    split = _timed("carry", lambda: carry.carry(contract, bronze, prior, divmap))
    print(f"  carried {len(split.silver):,}, to clean {len(split.rest):,}")
    _timed("clean the rest", lambda: clean_delivery(contract, split.rest, divmap=divmap,
                                                    now=now))  # fmt: skip


def clean_stage(settings, feeds: list[str], now: datetime, label: str) -> tuple[float, int]:
    """Run the clean stage feed by feed; print and return (wall seconds, rows cleaned)."""
    from civlake import pipeline

    started, cpu, rows, carried = time.perf_counter(), time.process_time(), 0, 0
    for f in feeds:
        for d in pipeline.clean(settings, f, now=now)["cleaned"]:
            rows += d["rows_silver"] + d["rows_quarantined"]
            carried += d.get("rows_carried", 0)
    wall, cpu = time.perf_counter() - started, time.process_time() - cpu
    print(f"clean stage, {label:<11}{wall:>8.1f} s ({cpu:.1f} s CPU) {rows:>11,} rows "
          f"({carried:,} carried) {rows / wall:>10,.0f} rows/s", flush=True)  # fmt: skip
    return wall, rows


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--persons", type=int, default=100_000)
    ap.add_argument("--profile", action="store_true", help="profile the next month's stage")
    args = ap.parse_args()

    from civlake import pipeline
    from civlake.generate import generate
    from civlake.settings import load_settings

    logging.disable(logging.WARNING)
    work = Path(tempfile.mkdtemp(prefix="civlake-clean-month-"))
    settings = load_settings(env={"CIVLAKE_HOME": str(work)})
    generate(settings.landing, persons=args.persons, months=2, seed=7)
    hold_back_last_month(settings.landing, work / "later")
    feeds = feed_order()
    now = datetime.now(UTC)
    print(f"city: {args.persons:,} persons x 2 months; load {os.getloadavg()[0]:.1f}")
    for f in feeds:
        pipeline.ingest(settings, f, now=now)
    first, _ = clean_stage(settings, feeds, now, "first month")
    bring_back(work / "later", settings.landing)
    later = now + timedelta(days=31)
    for f in feeds:
        pipeline.ingest(settings, f, now=later)
    shutil.copytree(settings.lake, work / "lake-before-next")
    if args.profile:
        profile = cProfile.Profile()
        profile.enable()
    nxt, _ = clean_stage(settings, feeds, later, "next month")
    if args.profile:
        profile.disable()
    print(f"next / first: {nxt / first:.0%} (target 40 %); load {os.getloadavg()[0]:.1f}\n")
    if args.profile:
        pstats.Stats(profile, stream=sys.stdout).sort_stats("cumulative").print_stats(30)
    copy = load_settings(env={"CIVLAKE_HOME": str(work), "CIVLAKE_LAKE": str(
        work / "lake-before-next")})  # fmt: skip
    carry_vs_whole(copy, later)
    print(f"work dir: {work}")


if __name__ == "__main__":
    main()
