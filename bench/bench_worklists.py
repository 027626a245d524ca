"""District worklists written in one process and side by side in forked processes.

    .venv/bin/python bench/bench_worklists.py --home <CIVLAKE_HOME after a verify stage>

Writes the home's worklists into a temp folder, alternating one worker and two, twice
each, and says whether every cell of the two writes is equal. dbt is imported first so
that the process's heap is the size it has after the verify stage's dbt run.
"""

from __future__ import annotations

import argparse
import tempfile
import time
from pathlib import Path


def _cells(folder: Path) -> dict:
    import openpyxl

    out = {}
    for path in sorted(folder.glob("*.xlsx")):
        book = openpyxl.load_workbook(path, read_only=True)
        out[path.name] = [[list(r) for r in s.iter_rows(values_only=True)] for s in book.worksheets]
        book.close()
    return out


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--home", type=Path, required=True)
    args = ap.parse_args()

    import dbt.cli.main  # noqa: F401  (the verify stage's heap)

    from civlake.settings import load_settings
    from civlake.verify import write_worklists

    settings = load_settings(env={"CIVLAKE_HOME": str(args.home)})
    written = {}
    print(f"{'workers':>8}{'seconds':>9}{'books':>7}")
    with tempfile.TemporaryDirectory() as tmp:
        for workers in (1, 2, 1, 2):
            out = Path(tmp) / str(workers)
            started = time.perf_counter()
            paths = write_worklists(settings, out, workers=workers)
            print(f"{workers:>8}{time.perf_counter() - started:>9.2f}{len(paths):>7}", flush=True)
            written[workers] = out
        print("every cell equal:", _cells(written[1]) == _cells(written[2]))


if __name__ == "__main__":
    main()
