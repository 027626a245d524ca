"""The expectations gate on a generated city's first and second month (issue 17).

    .venv/bin/python bench/bench_expectations.py --persons 100000 [--batch-rows 20000]

Generates a city of two months, lands and cleans the first month (everything produced
before the last production month, ``tests.support.landing_months``), times the
gate over every feed, then lands and cleans the second month and times the gate again,
then once more with nothing new. The gate validates only pending deliveries in chunks of
``CIVLAKE_EXPECTATIONS_BATCH_ROWS`` rows, so month 2 costs what month 2 brought and the
peak memory is set by the chunk, not by the lake; the whole-table gate it replaced is
gone, so month 2 is compared with month 1. Prints rows validated, seconds, the process's
CPU seconds, rows/s and its peak RSS (absolute and growth during the gate, sampled every
20 ms).

    .venv/bin/python bench/bench_expectations.py --home /tmp/exp-home

times one gate over the pending deliveries of an existing city instead (nothing is
generated, landed or cleaned). The gate records its results in that lake, so a second
run finds nothing new: delete ``<home>/lake/expectation_results`` (a copy's, never a lake
you keep) to validate every delivery again.
"""

from __future__ import annotations

import argparse
import logging
import os
import sys
import tempfile
from datetime import UTC, datetime, timedelta
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _common import measure
from bench_pipeline import feed_order

sys.path.append(str(Path(__file__).resolve().parents[1]))  # tests.support
from tests.support.landing_months import bring_back, hold_back_last_month


def pending_rows(settings, feeds: list[str]) -> int:
    """Silver rows of the deliveries the next gate will validate."""
    from civlake import tables
    from civlake.expectations.chunks import delivery_rows
    from civlake.expectations.results import validated_deliveries
    from civlake.lake import DELTA_RS as io

    total = 0
    for feed in feeds:
        rows = delivery_rows(tables.path(settings.lake, tables.silver(feed)), io=io)
        done = validated_deliveries(settings.lake, feed, exclude_run="", io=io)
        total += sum(n for d, n in rows.items() if d not in done)
    return total


def land_and_clean(settings, feeds: list[str], now: datetime) -> None:
    from civlake import pipeline

    for feed in feeds:
        pipeline.ingest(settings, feed, now=now)
    for feed in feeds:
        pipeline.clean(settings, feed, now=now)


def gate(settings, feeds: list[str], run_id: str) -> tuple[dict, int, str]:
    from civlake.expectations import GateFailed, run_silver_gate

    rows = pending_rows(settings, feeds)
    res: dict = {}
    verdict = "passed"
    cpu = os.times()
    with measure(res):
        try:
            result = run_silver_gate(settings, feeds=feeds, run_id=run_id)
        except GateFailed as failed:
            result, verdict = failed.result, "critical failure"
    # CPU seconds of this process (DuckDB's threads included): on a shared machine they
    # move less with the others' load than the wall time does.
    res["cpu_seconds"] = sum(b - a for a, b in zip(cpu[:2], os.times()[:2], strict=True))
    checked = len(result.feeds_checked)
    return res, rows, f"{verdict}, {checked} feeds checked, {len(result.outcomes)} outcomes"


def report(name: str, res: dict, rows: int, verdict: str) -> None:
    rate = rows / res["seconds"] if rows else 0
    print(
        f"{name:<14}{rows:>11,}{res['seconds']:>9.1f}{res['cpu_seconds']:>8.1f}{rate:>9,.0f}"
        f"{res['peak_rss_mib']:>10,.0f}{res['rss_growth_mib']:>8,.0f}  {verdict}",
        flush=True,
    )


HEADER = f"{'run':<14}{'rows':>11}{'seconds':>9}{'cpu s':>8}{'rows/s':>9}{'peak MiB':>10}{'growth':>8}  result"


def gate_existing(home: Path, batch_rows: int | None) -> None:
    """One gate over every pending delivery of the city at ``home``."""
    import civlake
    from civlake.settings import load_settings

    env = {"CIVLAKE_HOME": str(home)}
    if batch_rows:
        env["CIVLAKE_EXPECTATIONS_BATCH_ROWS"] = str(batch_rows)
    settings = load_settings(env=env)
    feeds = feed_order()
    print(f"city at {home}; civlake from {Path(civlake.__file__).parent}")
    print(f"batch rows: {settings.expectations_batch_rows:,}")
    print(HEADER)
    report("pending", *gate(settings, feeds, "bench"))


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--persons", type=int, default=100_000)
    ap.add_argument("--work", type=Path, help="folder for the city (default: a new temp folder)")
    ap.add_argument(
        "--batch-rows", type=int, help="CIVLAKE_EXPECTATIONS_BATCH_ROWS (default: its default)"
    )
    ap.add_argument(
        "--home",
        type=Path,
        help="CIVLAKE_HOME of an existing city: time one gate over its pending deliveries",
    )
    args = ap.parse_args()

    from civlake.generate import generate
    from civlake.settings import load_settings

    logging.disable(logging.WARNING)  # the gate's warnings would bury the table
    if args.home:
        gate_existing(args.home, args.batch_rows)
        return
    work = args.work or Path(tempfile.mkdtemp(prefix="civlake-expectations-"))
    env = {"CIVLAKE_HOME": str(work)}
    if args.batch_rows:
        env["CIVLAKE_EXPECTATIONS_BATCH_ROWS"] = str(args.batch_rows)
    settings = load_settings(env=env)
    generate(settings.landing, persons=args.persons, months=2, seed=7)
    later = work / "landing-later"
    kept, moved = hold_back_last_month(settings.landing, later)
    feeds = feed_order()
    now = datetime(2026, 11, 2, tzinfo=UTC)
    print(f"city: {args.persons:,} persons x 2 months; {kept} + {moved} deliveries; {work}")
    print(f"batch rows: {settings.expectations_batch_rows:,}")
    print(HEADER)
    land_and_clean(settings, feeds, now)
    report("month 1", *gate(settings, feeds, "month-1"))
    bring_back(later, settings.landing)
    land_and_clean(settings, feeds, now + timedelta(days=31))
    report("month 2", *gate(settings, feeds, "month-2"))
    report("nothing new", *gate(settings, feeds, "rerun"))


if __name__ == "__main__":
    main()
