"""Person resolution alone at city scale: seconds, references/s and peak RSS.

    # silver written directly (vectorised), no ingest or clean: minutes, not hours
    python bench/bench_resolve_scale.py build --persons 1000000 --home /tmp/city1m
    # (--ids-only: no volunteers, so every ID is usable and the Splink model never runs)
    # resolve_persons of the tree on PYTHONPATH, in a child under a memory watchdog
    PYTHONPATH=<tree>/jobs python bench/bench_resolve_scale.py run --home /tmp/city1m
    # (--train-known-max N: the model trains on at most N known profiles, default
    # LinkageConfig's 1,000,000; a 1 M city holds ~1.1 M, so 2000000 trains on all)

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
from datetime import UTC, datetime
from pathlib import Path

WATCHDOG_GIB = 20
SECRET = "bench-scale"


def build(home: Path, persons: int, seed: int, *, volunteers: bool = True) -> None:
    sys.path.append(str(Path(__file__).resolve().parents[1]))  # tests.support
    from tests.support.silver_city import build_silver

    refs = build_silver(
        home / "lake", persons=persons, seed=seed, chunk=250_000, volunteers=volunteers,
        progress=lambda done: print(f"built persons {done:,}", flush=True),
    )  # fmt: skip
    print(f"built {refs:,} references", flush=True)


def _child(home: Path, train_known_max: int | None) -> None:
    from civlake.resolve import linkage, resolve_persons
    from civlake.settings import load_settings

    settings = load_settings(env={"CIVLAKE_HOME": str(home), "CIVLAKE_PERSON_KEY_SECRET": SECRET,
                                  **{k: v for k, v in os.environ.items()
                                     if k == "CIVLAKE_MEMORY_LIMIT"}})  # fmt: skip
    config = None
    if train_known_max is not None:  # trees before the cap have no such field
        config = linkage.LinkageConfig(
            threshold=settings.resolve_threshold, train_known_max=train_known_max
        )
    started = time.perf_counter()
    stats = resolve_persons(settings, now=datetime.now(UTC), config=config)
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


def run(home: Path, train_known_max: int | None) -> int:
    """The child resolves; this process kills it past WATCHDOG_GIB of RSS."""
    cap = [] if train_known_max is None else ["--train-known-max", str(train_known_max)]
    proc = subprocess.Popen([sys.executable, __file__, "_child", "--home", str(home), *cap])
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
    parser.add_argument(
        "--train-known-max", type=int, default=None,
        help="LinkageConfig.train_known_max (known profiles the model trains on); "
        "above the city's profiles, training reads every one, as before the cap",
    )  # fmt: skip
    args = parser.parse_args()
    if args.command == "build":
        build(args.home, args.persons, args.seed, volunteers=not args.ids_only)
    elif args.command == "run":
        sys.exit(run(args.home, args.train_known_max))
    else:
        _child(args.home, args.train_known_max)


if __name__ == "__main__":
    main()
