"""The whole pipeline, stage by stage: wall time, rows/s and peak memory per stage.

    .venv/bin/python bench/bench_pipeline.py --persons 1000000 --months 1

Runs the same stage functions the DAGs call (``civlake.pipeline``), in process and in
order, on a freshly generated city, without Airflow's per-task overhead (which
``civlake run`` adds: about 3 s per DAG on this machine). Prints one line per stage.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
from datetime import UTC, datetime
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _common import measure


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--persons", type=int, default=100_000)
    ap.add_argument("--months", type=int, default=1)
    ap.add_argument("--through", default="publish")
    args = ap.parse_args()

    from civlake import pipeline
    from civlake.contracts import load_contracts
    from civlake.generate import generate
    from civlake.settings import load_settings

    work = Path(tempfile.mkdtemp(prefix="civlake-pipeline-"))
    settings = load_settings(env={"CIVLAKE_HOME": str(work)})
    now = datetime.now(UTC)
    feeds = ["divisions", "hukou_population"]
    feeds += [f for f in sorted(load_contracts()) if f not in feeds]
    rows = {"n": 0}
    print(f"{'stage':<14}{'seconds':>10}{'rows':>12}{'rows/s':>12}{'peak RSS MiB':>14}")

    def report(stage: str, res: dict, n: int | None = None) -> None:
        rate = f"{n / res['seconds']:,.0f}" if n else "-"
        print(f"{stage:<14}{res['seconds']:>10.1f}{(n or 0):>12,}{rate:>12}{res['peak_rss_mib']:>14,.0f}",
              flush=True)  # fmt: skip

    res: dict = {}
    with measure(res):
        summary = generate(settings.landing, persons=args.persons, months=args.months, seed=7)
    report("generate", res, summary.get("rows"))

    stages = [
        ("ingest", lambda: sum(pipeline.ingest(settings, f, now=now).rows_bronze for f in feeds)),
        ("clean", lambda: sum(pipeline.clean(settings, f, now=now)["rows_silver"] for f in feeds)),
        (
            "expectations",
            lambda: [pipeline.expectations(settings, f, run_id="bench") for f in feeds],
        ),
        ("resolve", lambda: pipeline.resolve(settings, now=now)),
        ("verify", lambda: pipeline.verify(settings, now=now)),
        ("build", lambda: pipeline.build(settings, now=now)),
        ("publish", lambda: pipeline.publish(settings, now=now)),
    ]
    for stage, fn in stages:
        res = {}
        with measure(res):
            out = fn()
        n = out if isinstance(out, int) else None
        if stage == "ingest":
            rows["n"] = out
        report(
            stage,
            res,
            n if n is not None else (rows["n"] if stage in ("expectations", "resolve") else None),
        )
        if stage == args.through:
            break
    print(f"work dir: {work}")


if __name__ == "__main__":
    main()
