"""Do two versions of the person resolver write the same tables? Row for row.

    # silver already built in $CIVLAKE_HOME (civlake run --through clean)
    PYTHONPATH=<old tree>/jobs python bench/compare_resolve.py dump --home H --out old/
    PYTHONPATH=<new tree>/jobs python bench/compare_resolve.py dump --home H --out new/
    python bench/compare_resolve.py diff old/ new/

``dump`` runs ``resolve_persons`` on the home's silver with a fixed ``now`` and copies
core/person_source_xref and core/persons, in the order their Delta tables hold them, to
Parquet files beside the run's statistics; ``diff`` compares the two dumps (schema, row
count, then every row in order) and exits 1 on the first difference it reports.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from datetime import UTC, datetime
from pathlib import Path

NOW = datetime(2026, 12, 1, tzinfo=UTC)
TABLES = ("person_source_xref", "persons")


def dump(home: Path, out: Path) -> None:
    import pyarrow.parquet as pq

    import civlake
    from civlake import lake
    from civlake.resolve import resolve_persons
    from civlake.settings import load_settings

    settings = load_settings(env={"CIVLAKE_HOME": str(home), "CIVLAKE_PERSON_KEY_SECRET": "cmp"})
    started = time.perf_counter()
    stats = resolve_persons(settings, now=NOW)
    stats["wall_seconds"] = round(time.perf_counter() - started, 3)
    stats["civlake"] = civlake.__file__
    out.mkdir(parents=True, exist_ok=True)
    for name in TABLES:
        table = lake.read_arrow(lake.table_path(settings.lake, "core", name))
        pq.write_table(table, out / f"{name}.parquet")
    (out / "stats.json").write_text(json.dumps(stats, indent=1, ensure_ascii=False))
    print(json.dumps(stats, ensure_ascii=False))


def diff(a: Path, b: Path) -> int:
    import pyarrow.parquet as pq

    status = 0
    for name in TABLES:
        left, right = pq.read_table(a / f"{name}.parquet"), pq.read_table(b / f"{name}.parquet")
        if left.schema != right.schema:
            print(f"{name}: schemas differ\n{left.schema}\n---\n{right.schema}")
            status = 1
            continue
        if left.num_rows != right.num_rows:
            print(f"{name}: {left.num_rows} rows against {right.num_rows}")
            status = 1
            continue
        if left.equals(right):
            print(f"{name}: {left.num_rows} rows, equal row for row")
            continue
        status = 1
        rows_a, rows_b = left.to_pylist(), right.to_pylist()
        bad = [i for i, (x, y) in enumerate(zip(rows_a, rows_b, strict=True)) if x != y]
        print(f"{name}: {len(bad)} of {left.num_rows} rows differ; first:")
        for i in bad[:5]:
            keys = [k for k in rows_a[i] if rows_a[i][k] != rows_b[i][k]]
            print(
                f"  row {i}: "
                + "; ".join(f"{k}: {rows_a[i][k]!r} / {rows_b[i][k]!r}" for k in keys)
            )
    for side in (a, b):
        print(side, (side / "stats.json").read_text().replace("\n", ""))
    return status


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    sub = parser.add_subparsers(dest="command", required=True)
    d = sub.add_parser("dump")
    d.add_argument("--home", type=Path, required=True)
    d.add_argument("--out", type=Path, required=True)
    c = sub.add_parser("diff")
    c.add_argument("a", type=Path)
    c.add_argument("b", type=Path)
    args = parser.parse_args()
    if args.command == "dump":
        dump(args.home, args.out)
    else:
        sys.exit(diff(args.a, args.b))


if __name__ == "__main__":
    main()
