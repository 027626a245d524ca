"""The clean stage of a next month: what carrying a snapshot saves, and where the rest goes.

    .venv/bin/python bench/bench_clean_month.py --persons 100000

Generates two months, ingests and cleans the first, ingests the next, then:

1. times the hukou snapshot of the next month cleaned whole against carried from the
   previous snapshot plus the rest cleaned (``clean.carry``), the same rows either way;
2. cleans the next month feed by feed (``pipeline.clean``, as the DAGs do) under cProfile
   and prints the stage's seconds (wall and CPU) and the functions that took them (the
   ``read_audit`` line counts the reads of the ``ingest_audit`` ledger).
"""

from __future__ import annotations

import argparse
import cProfile
import logging
import pstats
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


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--persons", type=int, default=100_000)
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
    for f in feeds:
        pipeline.ingest(settings, f, now=now)
        pipeline.clean(settings, f, now=now)
    bring_back(work / "later", settings.landing)
    later = now + timedelta(days=31)
    for f in feeds:
        pipeline.ingest(settings, f, now=later)
    carry_vs_whole(settings, later)
    profile = cProfile.Profile()
    started, cpu = time.perf_counter(), time.process_time()
    profile.enable()
    for f in feeds:
        pipeline.clean(settings, f, now=later)
    profile.disable()
    # CPU seconds of every thread: steadier than wall time on a shared, loaded machine
    print(f"\nclean stage, next month: {time.perf_counter() - started:.1f} s "
          f"({time.process_time() - cpu:.1f} s CPU)")  # fmt: skip
    pstats.Stats(profile, stream=sys.stdout).sort_stats("cumulative").print_stats(30)
    print(f"work dir: {work}")


if __name__ == "__main__":
    main()
