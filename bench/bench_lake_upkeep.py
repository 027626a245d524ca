"""What the ingest ledger costs to read as small commits pile up, and after upkeep.

    .venv/bin/python bench/bench_lake_upkeep.py --ledger <home>/lake/ingest_audit --appends 950

Copies the ledger (never changes it), appends ``--appends`` commits of two of its rows
each, as the ingest and clean tasks of daily runs do (one small file per commit), and
reads the whole table back (``lake.read_arrow``, as the stages read it) at a few points
on the way; then checkpoints the log alone and reads it, and then, after one more
append, runs ``lake_upkeep.keep_small`` (compaction and a checkpoint) and reads it again. Prints seconds per
read (best of three) and the table's live files.
"""

from __future__ import annotations

import argparse
import shutil
import tempfile
import time
from pathlib import Path

from deltalake import DeltaTable

from civlake import lake
from civlake.lake_upkeep import keep_small


def _read_seconds(path: Path) -> tuple[float, int]:
    best, rows = float("inf"), 0
    for _ in range(3):
        start = time.perf_counter()
        rows = lake.read_arrow(path).num_rows
        best = min(best, time.perf_counter() - start)
    return best, rows


def _report(label: str, path: Path) -> None:
    seconds, rows = _read_seconds(path)
    files = len(DeltaTable(str(path)).file_uris())
    print(f"{label:<34}{seconds:>10.3f}{rows:>10,}{files:>8,}", flush=True)


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--ledger", type=Path, required=True, help="an ingest_audit Delta table")
    ap.add_argument("--appends", type=int, default=950)
    args = ap.parse_args()
    work = Path(tempfile.mkdtemp(prefix="civlake-upkeep-")) / "ingest_audit"
    shutil.copytree(args.ledger, work)
    rows = lake.read_arrow(work).slice(0, 2)
    print(f"{'ledger':<34}{'read s':>10}{'rows':>10}{'files':>8}")
    _report("as copied", work)
    marks = {args.appends // 4, args.appends // 2, args.appends}
    start = time.perf_counter()
    for i in range(1, args.appends + 1):
        lake.append(work, rows)
        if i in marks:
            _report(f"+{i} appends", work)
    print(f"({args.appends} appends took {time.perf_counter() - start:.1f} s)")
    DeltaTable(str(work)).create_checkpoint()
    _report("checkpoint only", work)
    lake.append(work, rows)  # one commit after the checkpoint, for keep_small to see
    start = time.perf_counter()
    done = keep_small(work, commits_between=1)
    print(f"(keep_small took {time.perf_counter() - start:.2f} s: {done})")
    _report("compacted and checkpointed", work)
    shutil.rmtree(work.parent)


if __name__ == "__main__":
    main()
