"""A new home's first dbt command, with and without the checkout's parsed project
(``civlake.transform.parse_cache``).

    .venv/bin/python bench/bench_dbt_parse.py --rounds 3

Each round makes two new homes holding the same small city (tests/support/small_city.py)
and runs the same command in each: ``run_dbt(select="stg_divisions dim_division")``,
the smallest build whose time is mostly dbt's start. One home starts with an empty parse
cache (dbt parses the whole project, as every new home did before), the other with the
cache a previous home saved. The two alternate which goes first. Prints seconds per
command and the median of each, and whether dbt said it parsed everything (its log);
asserts nothing. dbt is imported once before the rounds, so neither side pays its import.
"""

from __future__ import annotations

import argparse
import logging
import statistics
import sys
import tempfile
import time
from pathlib import Path

sys.path.append(str(Path(__file__).resolve().parents[1]))  # tests.support

SELECT = "stg_divisions dim_division"
FULL_PARSE = ("Unable to do partial parsing", "Failed to load parsed file")


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--rounds", type=int, default=3)
    args = ap.parse_args()
    # The small city's absent lake tables (not logging.disable: dbt's file log says how it parsed)
    logging.getLogger("civlake.transform").setLevel(logging.ERROR)
    import dbt.cli.main  # noqa: F401  (imported once, outside the timings)

    from civlake.settings import load_settings
    from civlake.transform import dbt_work_dir, run_dbt
    from tests.support.small_city import build_city

    work = Path(tempfile.mkdtemp(prefix="civlake-dbt-parse-"))
    warm_cache = work / "warm-cache"
    times: dict[str, list[float]] = {"cold": [], "warm": []}

    def first_command(name: str, cache: Path) -> tuple[float, bool]:
        settings = load_settings(
            env={"CIVLAKE_HOME": str(work / name), "CIVLAKE_DBT_PARSE_CACHE": str(cache)}
        )
        build_city().write(settings.lake)
        started = time.perf_counter()
        run_dbt(settings, select=SELECT)
        seconds = time.perf_counter() - started
        log = (dbt_work_dir(settings) / "logs" / "dbt.log").read_text(encoding="utf-8")
        return seconds, any(line in log for line in FULL_PARSE)

    first_command("warm-up", warm_cache)  # fills the warm cache
    print(f"{'round':<7}{'cache':<7}{'seconds':>9}  dbt parsed everything")
    for r in range(args.rounds):
        order = ("cold", "warm") if r % 2 == 0 else ("warm", "cold")
        for kind in order:
            cache = warm_cache if kind == "warm" else work / f"cold-cache-{r}"
            seconds, full = first_command(f"{kind}-{r}", cache)
            times[kind].append(seconds)
            print(f"{r:<7}{kind:<7}{seconds:>9.2f}  {'yes' if full else 'no'}", flush=True)
    cold, warm = statistics.median(times["cold"]), statistics.median(times["warm"])
    print(f"\nmedian: cold {cold:.2f} s, warm {warm:.2f} s, saved {cold - warm:.2f} s "
          f"per new home's first dbt command")  # fmt: skip
    print(f"work dir: {work}")


if __name__ == "__main__":
    main()
