"""Ingest throughput: landing -> bronze per feed, against a plain pandas baseline.

    .venv/bin/python bench/bench_ingest.py --persons 1000000 --months 1

Generates a city (or reuses --landing), ingests every delivery into a fresh lake, and in
the same process reads the same files with pandas (read_csv / read_excel / read_json,
dtype=str) as the baseline. Prints rows/s per feed and in total, peak memory, and the
ratio civlake/pandas. The baseline does none of civlake's work (hash checks, strict
decoding, lineage, row hashes, Delta commits), so a ratio near 1 means that work is cheap.

Memory of one large delivery (a monthly hukou snapshot), streamed or held whole:

    .venv/bin/python bench/bench_ingest.py --landing <dir> --feeds hukou_population \
        --skip-baseline [--stream-rows 100000000]

``peak MiB`` is the process's peak RSS, ``arrow MiB`` the peak of Arrow's memory pool
(both since the process started, so run one feed per process to read them per feed);
``--stream-rows`` above the delivery's rows makes ingest hold it whole, as before
streaming existed.
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
from datetime import UTC, datetime
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _common import measure


def pandas_baseline(landing: Path, feed: str) -> int:
    import pandas as pd

    rows = 0
    for manifest in sorted((landing / feed).glob("*/manifest.json")):
        try:
            m = json.loads(manifest.read_text(encoding="utf-8"))
        except (ValueError, UnicodeDecodeError):
            continue
        for f in m.get("files", []):
            path = manifest.parent / f["name"]
            try:
                if path.suffix == ".csv":
                    rows += len(pd.read_csv(path, dtype=str, encoding=f.get("encoding") or "utf-8"))
                elif path.suffix == ".xlsx":
                    rows += len(pd.read_excel(path, dtype=str))
                else:
                    rows += len(pd.read_json(path, lines=True, dtype=False))
            except Exception:  # the faulty deliveries: the baseline just skips them
                continue
    return rows


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--persons", type=int, default=100_000)
    ap.add_argument("--months", type=int, default=1)
    ap.add_argument("--landing", type=Path)
    ap.add_argument("--skip-baseline", action="store_true")
    ap.add_argument("--feeds", help="comma-separated feeds to ingest (default: all)")
    ap.add_argument(
        "--stream-rows", type=int, help="stream deliveries above this many rows (default: ingest's)"
    )
    args = ap.parse_args()

    import pyarrow as pa

    from civlake.contracts import load_contracts
    from civlake.ingest import ingest_landing
    from civlake.ingest import landing as ingest_landing_mod
    from civlake.settings import load_settings

    if args.stream_rows is not None:
        ingest_landing_mod.STREAM_ROWS = args.stream_rows
        ingest_landing_mod.STREAM_BYTES = 1 << 62  # rows alone decide

    work = Path(tempfile.mkdtemp(prefix="civlake-bench-"))
    landing = args.landing
    if landing is None:
        from civlake.generate import generate

        landing = work / "landing"
        gen: dict = {}
        with measure(gen):
            generate(landing, persons=args.persons, months=args.months, seed=7)
        print(
            f"generated {args.persons:,} persons x {args.months} month(s) in {gen['seconds']:.1f}s"
        )
    settings = load_settings(landing=landing, env={"CIVLAKE_HOME": str(work / "data")})
    now = datetime.now(UTC)
    print(
        f"{'feed':<24}{'rows':>12}{'civlake rows/s':>16}{'pandas rows/s':>15}{'ratio':>8}"
        f"{'peak MiB':>10}{'arrow MiB':>10}"
    )
    total_rows = total_s = total_p = 0.0
    feeds = args.feeds.split(",") if args.feeds else sorted(load_contracts())
    for feed in feeds:
        res: dict = {}
        with measure(res):
            summary = ingest_landing(settings, now=now, feeds=[feed])[feed]
        base: dict = {"seconds": float("nan")}
        if not args.skip_baseline:
            with measure(base):
                pandas_baseline(landing, feed)
        rows = summary.rows_bronze
        rate = rows / res["seconds"] if res["seconds"] else 0
        prate = (
            rows / base["seconds"]
            if base["seconds"] == base["seconds"] and base["seconds"]
            else float("nan")
        )
        total_rows += rows
        total_s += res["seconds"]
        total_p += base["seconds"] if base["seconds"] == base["seconds"] else 0
        arrow = pa.default_memory_pool().max_memory() / 2**20
        print(
            f"{feed:<24}{rows:>12,.0f}{rate:>16,.0f}{prate:>15,.0f}{rate / prate if prate == prate else float('nan'):>8.2f}{res['peak_rss_mib']:>10,.0f}{arrow:>10,.0f}"
        )
    ratio = (total_rows / total_s) / (total_rows / total_p) if total_p else float("nan")
    print(
        f"{'TOTAL':<24}{total_rows:>12,.0f}{total_rows / total_s:>16,.0f}"
        f"{(total_rows / total_p) if total_p else float('nan'):>15,.0f}{ratio:>8.2f}"
    )
    print(f"work dir: {work}")


if __name__ == "__main__":
    main()
