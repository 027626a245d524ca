"""The clean gate's split of a cleaned slice into its deliveries' rows.

    .venv/bin/python bench/bench_clean_split.py

A slice of bronze holds the rows of several deliveries (a month of a small feed: ~50; a
backfill of a year of daily deliveries: thousands). The gate hands each delivery its
silver and quarantined rows. Baseline: a filter of the slice per delivery (the gate
until session 41, ``runs._rows_of``); civlake: one split into runs (``runs._by_delivery``).
Same slice, same Arrow engine; prints seconds for each and checks they give the same rows.
"""

from __future__ import annotations

import time

import pyarrow as pa

from civlake.clean import runs

CASES = ((50_000, 50), (500_000, 50), (500_000, 2_000))


def main() -> None:
    for rows, deliveries in CASES:
        ids = [
            f"2026{i:06d}-440103-001" for i in range(deliveries) for _ in range(rows // deliveries)
        ]
        table = pa.table(
            {"_delivery_id": ids, "n": range(len(ids)), "s": [str(i) for i in range(len(ids))]}
        )
        started = time.perf_counter()
        each = {did: runs._rows_of(table, did) for did in dict.fromkeys(ids)}
        filtered = time.perf_counter() - started
        started = time.perf_counter()
        split = runs._by_delivery(table)
        once = time.perf_counter() - started
        assert each.keys() == split.keys() and all(each[k].equals(split[k]) for k in each)
        print(f"{len(ids):>9,} rows, {deliveries:>5,} deliveries: a filter per delivery "
              f"{filtered:7.3f} s, one split {once:7.4f} s ({filtered / once:,.0f}x)")  # fmt: skip


if __name__ == "__main__":
    main()
