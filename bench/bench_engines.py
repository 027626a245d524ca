"""Both engines on the same city, stage by stage, then a parity check of their outputs.

    .venv/bin/python bench/bench_engines.py --persons 1000000 --months 1

Generates one city, runs the stage functions the DAGs call (``civlake.pipeline``) on the
embedded engine into one home and on Spark (``--master``, default ``local[*]``) into
another, from the same landing folder, and prints wall time and peak memory per stage for
each (peak memory of the process tree: Spark's JVM is a child process, and with
``--cluster`` so are the cluster's daemons and executors), the Spark/DuckDB
time ratio, and whether every output table is identical (``tests.support.parity``).
``--engines spark`` runs one engine only (to find the largest city it finishes).

``--cluster`` runs the Spark side on a standalone cluster it starts on loopback from the
pyspark distribution (``tests.support.spark_cluster``: a master and two workers, separate
JVMs, one core and ``--worker-memory`` each), with the driver capped as issue 17 asks
(``spark.driver.memory=1g``, ``spark.driver.maxResultSize=64m``) and one application for
all stages. It also prints the peak RSS of the driver JVM and of the largest executor.
"""

from __future__ import annotations

import argparse
import logging
import os
import secrets
import sys
import tempfile
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.append(str(Path(__file__).resolve().parents[1]))  # tests.support
from _common import measure

STAGES = ("ingest", "clean", "expectations", "resolve", "verify", "build", "publish")


def run_engine(engine: str, landing: Path, home: Path, master: str, now: datetime) -> dict:
    from civlake import pipeline
    from civlake.contracts import load_contracts
    from civlake.settings import load_settings

    # The shared secret (main) and Spark's tuning knobs from this shell; nothing else, so
    # a CIVLAKE_LAKE set for real work is never written to by a benchmark.
    passed = {k: v for k, v in os.environ.items()
              if k.startswith("CIVLAKE_SPARK_") or k == "CIVLAKE_PERSON_KEY_SECRET"}  # fmt: skip
    settings = load_settings(
        env={**passed, "CIVLAKE_HOME": str(home), "CIVLAKE_LANDING": str(landing)},
        engine=engine, spark_master=master,
    )  # fmt: skip
    feeds = ["divisions", "hukou_population"]
    feeds += [f for f in sorted(load_contracts()) if f not in feeds]
    spark = None
    timings: dict[str, dict] = {}
    if engine == "spark":
        from civlake.engine.spark import get_spark

        res: dict = {}
        with measure(res, tree=True):
            spark = get_spark(settings)
        timings["session"] = res
    calls = {
        "ingest": lambda: [pipeline.ingest(settings, f, now=now, spark=spark) for f in feeds],
        "clean": lambda: [pipeline.clean(settings, f, now=now, spark=spark) for f in feeds],
        "expectations": lambda: [
            pipeline.expectations(settings, f, run_id="bench", spark=spark) for f in feeds
        ],
        "resolve": lambda: pipeline.resolve(settings, now=now, spark=spark),
        "verify": lambda: pipeline.verify(settings, now=now, spark=spark),
        "build": lambda: pipeline.build(settings, now=now, spark=spark),
        "publish": lambda: pipeline.publish(settings, now=now, spark=spark),
    }
    for stage in STAGES:
        res = {}
        with measure(res, tree=True):
            calls[stage]()
        timings[stage] = res
        print(
            f"{engine:<8}{stage:<14}{res['seconds']:>10.1f}{res['peak_rss_mib']:>14,.0f}",
            flush=True,
        )
    return {"settings": settings, "timings": timings}


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--persons", type=int, default=100_000)
    ap.add_argument("--months", type=int, default=1)
    ap.add_argument("--master", default="local[*]")
    ap.add_argument("--engines", default="duckdb,spark")
    ap.add_argument("--cluster", action="store_true", help="Spark on a standalone cluster")
    ap.add_argument("--worker-memory", default="6g", help="memory of each cluster worker")
    args = ap.parse_args()
    if args.cluster:
        with cluster_for(args) as master:
            args.master = master
            run_all(args)
    else:
        run_all(args)


@contextmanager
def cluster_for(args):
    """A two-worker standalone cluster, the driver capped; yields the master URL."""
    from tests.support.spark_cluster import PeakRss, spark_cluster

    worker_mib = _mib(args.worker_memory)
    caps = {
        "CIVLAKE_SPARK_DRIVER_MEMORY": "1g", "CIVLAKE_SPARK_MAX_RESULT_SIZE": "64m",
        "CIVLAKE_SPARK_EXECUTOR_CORES": "1", "CIVLAKE_SPARK_CORES_MAX": "2",
        # room in the worker for each executor's Python workers and off-heap memory
        "CIVLAKE_SPARK_EXECUTOR_MEMORY": f"{int(worker_mib * 0.6)}m",
    }  # fmt: skip
    os.environ.update(caps)
    root = Path(tempfile.mkdtemp(prefix="civlake-cluster-"))
    with spark_cluster(root, workers=2, cores=1, memory=args.worker_memory,
                       short_lived=False) as cluster, \
            PeakRss() as rss:  # fmt: skip
        print(f"cluster {cluster.master_url}: 2 workers x 1 core, {args.worker_memory}; "
              + ", ".join(f"{k}={v}" for k, v in caps.items()), flush=True)  # fmt: skip
        try:
            yield cluster.master_url
        finally:  # also when the run or the parity check failed
            state = cluster.state()
            apps = len(state.get("activeapps", []) + state.get("completedapps", []))
            print(f"cluster: {apps} application(s); peak RSS MiB: driver JVM "
                  f"{rss.peak_mib('driver-jvm'):,.0f}, largest executor "
                  f"{rss.peak_mib('executor-jvm'):,.0f}", flush=True)  # fmt: skip


def _mib(size: str) -> int:
    units = {"k": 1 / 1024, "m": 1, "g": 1024, "t": 1024 * 1024}
    return int(float(size[:-1]) * units[size[-1].lower()])


def run_all(args) -> None:
    from civlake.generate import generate

    # The gate's warnings and GX's temp-folder notices would bury the table.
    logging.disable(logging.WARNING)
    # person_key is an HMAC: both homes must use one secret or every key differs.
    os.environ.setdefault("CIVLAKE_PERSON_KEY_SECRET", secrets.token_hex(32))
    work = Path(tempfile.mkdtemp(prefix="civlake-engines-"))
    landing = work / "landing"
    res: dict = {}
    with measure(res):
        summary = generate(landing, persons=args.persons, months=args.months, seed=7)
    print(f"generated {summary.get('rows', 0):,} rows in {res['seconds']:.0f}s: {landing}")
    now = datetime.now(UTC)
    print(f"{'engine':<8}{'stage':<14}{'seconds':>10}{'peak MiB':>14}")
    runs = {e: run_engine(e, landing, work / e, args.master, now) for e in args.engines.split(",")}
    if set(runs) == {"duckdb", "spark"}:
        d, s = runs["duckdb"]["timings"], runs["spark"]["timings"]
        print(f"\n{'stage':<14}{'duckdb s':>10}{'spark s':>10}{'spark/duckdb':>14}")
        for stage in STAGES:
            ratio = s[stage]["seconds"] / max(d[stage]["seconds"], 1e-9)
            print(
                f"{stage:<14}{d[stage]['seconds']:>10.1f}{s[stage]['seconds']:>10.1f}{ratio:>13.1f}x"
            )
        total_d = sum(d[x]["seconds"] for x in STAGES)
        total_s = sum(s[x]["seconds"] for x in STAGES)
        print(f"{'total':<14}{total_d:>10.1f}{total_s:>10.1f}{total_s / total_d:>13.1f}x")
        from tests.support.parity import compare_engines

        diffs = compare_engines(runs["duckdb"]["settings"], runs["spark"]["settings"])
        print(f"\nparity: {'identical' if not diffs else f'{len(diffs)} differences'}")
        for line in diffs[:40]:
            print("  " + line)
    print(f"work dir: {work}")


if __name__ == "__main__":
    main()
