"""The whole pipeline, stage by stage: wall time, rows/s and peak memory per stage.

    .venv/bin/python bench/bench_pipeline.py --persons 1000000 --months 1
    # a city generated once and kept (--landing), run under a memory watchdog
    .venv/bin/python bench/bench_pipeline.py --persons 10000000 --landing /data/city10m \
        --watchdog-mib 20000

Runs the same stage functions the DAGs call (``civlake.pipeline``), in process and in
order, on a freshly generated city, without Airflow's per-task overhead (which
``civlake run`` adds: about 3 s per DAG on this machine). Prints one line per stage.
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
from datetime import UTC, datetime
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _common import measure, start_watchdog


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--persons", type=int, default=100_000)
    ap.add_argument("--months", type=int, default=1)
    ap.add_argument("--through", default="publish")
    ap.add_argument(
        "--start", default="ingest",
        help="first stage to run (the stages before it ran earlier into --home)",
    )  # fmt: skip
    ap.add_argument("--home", type=Path, default=None, help="CIVLAKE_HOME (default: a temp dir)")
    ap.add_argument(
        "--landing", type=Path, default=None,
        help="landing folder to generate into, or to reuse when it already holds a city",
    )  # fmt: skip
    ap.add_argument("--watchdog-mib", type=float, default=None,
                    help="stop the run (exit 3) when its RSS passes this")  # fmt: skip
    args = ap.parse_args()
    if args.watchdog_mib:
        start_watchdog(args.watchdog_mib)

    from civlake.generate import generate
    from civlake.settings import load_settings

    work = args.home or Path(tempfile.mkdtemp(prefix="civlake-pipeline-"))
    env = {"CIVLAKE_HOME": str(work)}
    if args.landing is not None:
        env["CIVLAKE_LANDING"] = str(args.landing)
    # The DuckDB limit and the key secret from this shell, nothing else (a CIVLAKE_LAKE set
    # for real work is never written to by a benchmark).
    env |= {k: os.environ[k] for k in ("CIVLAKE_MEMORY_LIMIT", "CIVLAKE_PERSON_KEY_SECRET")
            if k in os.environ}  # fmt: skip
    settings = load_settings(env=env)
    now = datetime.now(UTC)
    feeds = feed_order()
    print(f"{'stage':<14}{'seconds':>10}{'rows':>12}{'rows/s':>12}{'peak RSS MiB':>14}")

    def report(stage: str, res: dict, n: int | None = None) -> None:
        rate = f"{n / res['seconds']:,.0f}" if n else "-"
        print(f"{stage:<14}{res['seconds']:>10.1f}{(n or 0):>12,}{rate:>12}{res['peak_rss_mib']:>14,.0f}",
              flush=True)  # fmt: skip

    res: dict = {}
    if args.landing is not None and any(args.landing.glob("*/*/manifest.json")):
        print(f"landing {args.landing} already holds a city: not generated again", flush=True)
    else:
        with measure(res):
            summary = generate(settings.landing, persons=args.persons, months=args.months, seed=7)
        report("generate", res, summary.get("rows"))

    stages = run_stages(settings, feeds, now=now, start=args.start, through=args.through)
    for stage, res, n in stages:
        report(stage, res, n)
        if "dbt_nodes" in res:
            print(f"{'':<14}dbt: {res['dbt_nodes']}", flush=True)
        if "tree_peak_pss_mib" in res:
            print(f"{'':<14}with its worker processes: peak PSS "
                  f"{res['tree_peak_pss_mib']:,.0f} MiB", flush=True)  # fmt: skip
    print(f"work dir: {work}")


def run_stages(
    settings,
    feeds: list[str],
    *,
    now: datetime,
    start: str = "ingest",
    through: str = "publish",
    run_id="bench",
):
    """Run the pipeline's stages in order, yielding (stage, measurement, rows or None).

    Ingest counts the rows it wrote to bronze; expectations and resolve are given the
    same count (they read what ingest brought); the dbt stages count no rows.
    """
    from civlake import pipeline

    def ingest_all() -> int:
        """Rows this run brought to bronze (the ledger's loaded rows, after minus before)."""
        before = _bronze_rows(settings, feeds)
        for f in feeds:
            pipeline.ingest(settings, f, now=now)
        return _bronze_rows(settings, feeds) - before

    stages = [
        ("ingest", ingest_all),
        ("clean", lambda: sum(pipeline.clean(settings, f, now=now)["rows_silver"] for f in feeds)),
        (
            "expectations",
            lambda: [pipeline.expectations(settings, f, run_id=run_id) for f in feeds],
        ),
        ("resolve", lambda: pipeline.resolve(settings, now=now)),
        ("verify", lambda: pipeline.verify(settings, now=now)),
        ("build", lambda: pipeline.build(settings, now=now)),
        ("publish", lambda: pipeline.publish(settings, now=now)),
    ]
    # Expectations and resolve count the rows ingest brought (the ledger's, when ingest
    # ran in an earlier process).
    ingested = 0 if start == "ingest" else _bronze_rows(settings, feeds)
    names = [name for name, _ in stages]
    for stage, fn in stages[names.index(start) :]:
        res: dict = {}
        # A stage's worker processes (civlake.forks): the tree's peak PSS while they ran.
        with measure(res, workers=True):
            out = fn()
        n = out if isinstance(out, int) else None
        if stage == "ingest":
            ingested = out
        if stage in ("expectations", "resolve"):
            n = ingested
        if isinstance(out, dict) and "dbt" in out:
            res["dbt_nodes"] = dbt_nodes(out["dbt"]["results"])
        yield stage, res, n
        if stage == through:
            break


def dbt_nodes(results: list[dict]) -> str:
    """Where a dbt stage's time went: nodes and seconds per kind, and the slowest nodes
    (the rest of the stage's wall time is dbt's own: start, parse, graph, catalog)."""
    kinds: dict[str, list[float]] = {}
    for r in results:
        kinds.setdefault(r["resource_type"], []).append(r["execution_time"])
    slowest = sorted(results, key=lambda r: -r["execution_time"])[:5]
    return "; ".join(
        [f"{len(t)} {kind}s {sum(t):.1f} s" for kind, t in sorted(kinds.items())]
        + ["slowest " + ", ".join(f"{r['name']} {r['execution_time']:.1f}" for r in slowest)]
    )


def _bronze_rows(settings, feeds: list[str]) -> int:
    from civlake.ingest.audit import read_audit
    from civlake.lake import DELTA_RS

    # One read of the whole ledger: a filtered read per feed cost the ingest figure ~1 s.
    wanted = set(feeds)
    return sum(
        r["rows_bronze"] or 0
        for r in read_audit(settings.lake, io=DELTA_RS)
        if r["feed_id"] in wanted
    )


def feed_order() -> list[str]:
    """The feeds in the order ``civlake run`` takes them (divisions, hukou, the rest)."""
    from civlake.contracts import load_contracts
    from civlake.orchestrate import FIRST_FEEDS

    return [*FIRST_FEEDS, *(f for f in sorted(load_contracts()) if f not in FIRST_FEEDS)]


if __name__ == "__main__":
    main()
