"""What incremental person resolution buys on a next month (issue 17).

    .venv/bin/python bench/bench_incremental.py --persons 1000000 --work /tmp/inc1m
    .venv/bin/python bench/bench_resolve_incremental.py --home /tmp/inc1m

Takes the home ``bench_incremental.py`` leaves (two months landed, cleaned and resolved;
the xref's last commit is the next month's append) and resolves the next month twice on
copies of its core tables, each in its own process (peak RSS is its own), over the same
silver (linked, not copied):

* ``incremental``: the xref as the first month left it (Delta restore of the version
  before the append) and the resolver's state: earlier references kept, only the new
  ones scored with the saved model, the new ones appended;
* ``everything``: the same, without the state: every reference resolved again, the model
  retrained, both tables rewritten (what every run did before).

Prints seconds, CPU seconds (every thread: steadier than seconds on a shared machine),
peak RSS and the statistics of each, how many references the two give different persons
(kept references cannot move in the first; in the second a retrained model may move
some), and each one's pairwise clustering scores against the generator's truth
(``<home>/landing_truth/records.parquet``, ``civlake.resolve.evaluate``): overall, and on
pairs touching a reference the model decides. ``--steps`` adds the resolver's seconds per
step; ``--keep DIR`` leaves the two homes there to compare their tables.
"""

from __future__ import annotations

import argparse
import multiprocessing as mp
import resource
import shutil
import sys
import tempfile
from datetime import UTC, datetime
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _common import measure

LINEAGE = ["feed_id", "_delivery_id", "_source_file", "_source_row", "role"]


def _copy(home: Path, into: Path, *, keep_state: bool) -> None:
    (into / "lake").mkdir(parents=True)
    (into / "lake" / "silver").symlink_to(home / "lake" / "silver")
    shutil.copytree(home / "lake" / "core", into / "lake" / "core")
    shutil.copytree(home / "state", into / "state", ignore=shutil.ignore_patterns("duckdb_tmp"))
    shutil.copytree(home / ".secrets", into / ".secrets")
    if not keep_state:
        (into / "state" / "resolve_persons.json").unlink()
    from deltalake import DeltaTable

    xref = DeltaTable(str(into / "lake" / "core" / "person_source_xref"))
    xref.restore(xref.version() - 1)


def _resolve(home: str, out, steps: bool) -> None:
    import logging

    from civlake.resolve import resolve_persons

    if steps:  # the resolver's step timings (INFO) on stderr
        logging.basicConfig(format="  %(message)s")
        logging.getLogger("civlake.resolve.persons").setLevel(logging.INFO)
    from civlake.settings import load_settings

    settings = load_settings(env={"CIVLAKE_HOME": home})
    res: dict = {}
    before = resource.getrusage(resource.RUSAGE_SELF)
    with measure(res):
        stats = resolve_persons(settings, now=datetime.now(UTC))
    after = resource.getrusage(resource.RUSAGE_SELF)
    # CPU seconds (every thread): steadier than wall time on a shared machine.
    res["cpu"] = after.ru_utime + after.ru_stime - before.ru_utime - before.ru_stime
    out.put({**res, "stats": stats})


def _keys(home: Path) -> dict:
    from civlake import lake

    xref = lake.arrow_table(
        lake.open_table(home / "lake" / "core" / "person_source_xref"),
        columns=[*LINEAGE, "person_key"],
    )
    return dict(zip(zip(*(xref[c].to_pylist() for c in LINEAGE), strict=True),
                    xref["person_key"].to_pylist(), strict=True))  # fmt: skip


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--home", type=Path, required=True, help="a home bench_incremental left")
    ap.add_argument("--steps", action="store_true", help="log each resolution step's seconds")
    ap.add_argument("--keep", type=Path, help="leave the two homes here (compare_resolve.py)")
    args = ap.parse_args()
    if args.keep:
        args.keep.mkdir(parents=True)
    work = args.keep or Path(tempfile.mkdtemp(prefix="civlake-resolve-inc-"))
    ctx = mp.get_context("spawn")
    homes = {}
    print(f"{'variant':<14}{'seconds':>10}{'CPU s':>8}{'peak RSS MiB':>14}  statistics", flush=True)
    for variant in ("incremental", "everything"):
        homes[variant] = work / variant
        _copy(args.home, homes[variant], keep_state=variant == "incremental")
        out = ctx.Queue()
        proc = ctx.Process(target=_resolve, args=(str(homes[variant]), out, args.steps))
        proc.start()
        res = out.get()
        proc.join()
        stats = {k: v for k, v in res["stats"].items() if k not in ("match_methods", "seconds")}
        print(f"{variant:<14}{res['seconds']:>10.1f}{res['cpu']:>8.1f}{res['peak_rss_mib']:>14,.0f}  {stats}",
              flush=True)  # fmt: skip
    kept, redone = _keys(homes["incremental"]), _keys(homes["everything"])
    moved = sum(1 for ref, key in kept.items() if redone.get(ref) != key)
    print(f"references: {len(kept):,} incremental, {len(redone):,} everything; "
          f"{moved:,} with another person in the two")  # fmt: skip
    truth = args.home / "landing_truth" / "records.parquet"
    if truth.exists():
        from civlake.resolve import evaluate_clustering

        for variant, home in homes.items():
            scores = evaluate_clustering(home / "lake" / "core" / "person_source_xref", truth)
            for subset in ("overall", "invalid_or_missing_id"):
                s = scores[subset]
                print(f"{variant:<14}{subset:<22}P {s['precision']:.6f}  R {s['recall']:.6f}  "
                      f"F1 {s['f1']:.6f}  ({s['true_positive_pairs']:,} of "
                      f"{s['true_pairs']:,} true pairs, {s['predicted_pairs']:,} predicted)")  # fmt: skip
    if not args.keep:
        shutil.rmtree(work)


if __name__ == "__main__":
    main()
