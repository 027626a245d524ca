"""What staging silver costs as the lake grows by a monthly snapshot (issue 17).

    .venv/bin/python bench/bench_staging.py --home <a home after its first month> --months 6

Silver keeps every delivered row, so each month's ``full`` hukou snapshot adds a city's
worth of rows. The silver staging models copy into the warehouse only the rows of lake
files they have not staged (``dbt/macros/lake_staging.sql``); the baseline is the same model built
with ``--full-refresh``, which copies all of silver as every build did before, with the
same reader (DuckDB's ``delta_scan``), the same columns and the same thread setting.

The home is copied, never changed. Each simulated month appends the home's largest
hukou snapshot to silver again under a new delivery id (same rows, new Parquet files,
one Delta commit, as the clean gate writes a month), then builds
``stg_hukou_population`` both ways on two warehouses of the same lake, and prints
seconds and rows per month.
"""

from __future__ import annotations

import argparse
import logging
import shutil
import tempfile
import time
from pathlib import Path

import duckdb
import pyarrow as pa
import pyarrow.compute as pc

MODEL = "stg_hukou_population"


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--home", type=Path, required=True, help="a civlake home after a month")
    ap.add_argument("--months", type=int, default=6)
    ap.add_argument("--work", type=Path, help="folder for the copy (default: a temp folder)")
    args = ap.parse_args()
    logging.disable(logging.WARNING)

    from civlake import lake, tables
    from civlake.settings import load_settings
    from civlake.transform import run_dbt

    work = args.work or Path(tempfile.mkdtemp(prefix="bench-staging-"))
    home = work / "home"
    shutil.rmtree(home, ignore_errors=True)
    shutil.copytree(args.home / "lake", home / "lake")
    shutil.copy(args.home / "warehouse.duckdb", home / "warehouse.duckdb")
    shutil.copy(args.home / "warehouse.duckdb", home / "full.duckdb")
    base = {"CIVLAKE_HOME": str(home)}
    incremental = load_settings(env=base)
    full = load_settings(warehouse=home / "full.duckdb", env=base)
    silver = tables.path(incremental.lake, tables.silver("hukou_population"))

    snapshot = _largest_snapshot(lake, silver)
    print(f"home {args.home}: hukou snapshot of {len(snapshot):,} rows re-delivered each month")
    # Both warehouses start from the home's staging as this tree builds it (the first
    # build of a warehouse from before _lake_file copies all once).
    _build(run_dbt, incremental, False)
    _build(run_dbt, full, True)
    print("seconds: the model's node (the whole dbt invocation in brackets)")
    print(f"{'month':>5} {'silver rows':>12} {'incremental':>16} {'full copy':>16} {'ratio':>6}")
    for month in range(2, args.months + 1):
        delivery = f"bench-month-{month:02d}"
        ids = pa.array([delivery] * len(snapshot), pa.string())
        at = snapshot.column_names.index("_delivery_id")
        lake.append(silver, snapshot.set_column(at, "_delivery_id", ids))
        rows = _rows(silver)
        inc = _build(run_dbt, incremental, False)
        ful = _build(run_dbt, full, True)
        assert _staged(incremental) == _staged(full) == rows, "staging differs from silver"
        print(
            f"{month:>5} {rows:>12,} {inc[1]:>7.2f} ({inc[0]:>5.2f}) {ful[1]:>7.2f} ({ful[0]:>5.2f})"
            f" {inc[1] / ful[1]:>6.2f}",
            flush=True,
        )
    print(f"work dir: {work}")


def _largest_snapshot(lake, silver: Path) -> pa.Table:
    table = lake.read_arrow(silver)
    full = table.filter(pc.equal(table["_mode"], "full"))
    counts = full.group_by("_delivery_id").aggregate([("_delivery_id", "count")])
    biggest = counts.sort_by([("_delivery_id_count", "descending")])["_delivery_id"][0]
    return full.filter(pc.equal(full["_delivery_id"], biggest))


def _build(run_dbt, settings, full_refresh: bool) -> tuple[float, float]:
    """(seconds of the dbt invocation, seconds of the model's own node)."""
    started = time.perf_counter()
    out = run_dbt(settings, select=MODEL, full_refresh=full_refresh, resource_types=("model",))
    (node,) = [r for r in out["results"] if r["name"] == MODEL]
    return time.perf_counter() - started, node["execution_time"]


def _rows(silver: Path) -> int:
    from civlake.engine.duck import load_delta

    with duckdb.connect() as con:
        load_delta(con)
        return con.execute(f"select count(*) from delta_scan('{silver}')").fetchone()[0]


def _staged(settings) -> int:
    with duckdb.connect(str(settings.warehouse), read_only=True) as con:
        return con.execute(f"select count(*) from staging.{MODEL}").fetchone()[0]


if __name__ == "__main__":
    main()
