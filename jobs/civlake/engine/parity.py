"""Compare two engines' outputs table by table; any difference is reported as a diff.

Used by the parity tests and ``bench/engines.py``: the same city through the embedded and
the Spark engine must give identical tables (OUTPUTS.md contracts, issue 10).
"""

from __future__ import annotations

from decimal import Decimal

import pyarrow as pa


def normalise(table: pa.Table, *, ignore: tuple[str, ...] = ()) -> pa.Table:
    """Comparable form: columns by name, timestamps as UTC microseconds, large types folded.

    Engines may differ in physical types that carry the same values (``large_string`` vs
    ``string``, a UTC zone vs none on a naive-UTC column); values must not differ.
    """
    cols, names = [], []
    for name in sorted(c for c in table.column_names if c not in ignore):
        col = table[name]
        typ = col.type
        if pa.types.is_timestamp(typ):
            col = col.cast(pa.timestamp("us", tz=typ.tz)).cast(pa.int64())
        elif pa.types.is_large_string(typ):
            col = col.cast(pa.string())
        elif pa.types.is_large_list(typ):
            col = col.cast(pa.list_(typ.value_type))
        cols.append(col)
        names.append(name)
    return pa.table(dict(zip(names, cols, strict=True)))


def _sort_key(row: dict, key: list[str]) -> tuple:
    def part(v):
        if v is None:
            return (0, "")
        if isinstance(v, (int, float, Decimal)):
            return (1, float(v), str(v))
        return (2, str(v))

    return tuple(part(row[k]) for k in key) if key else tuple(part(v) for v in row.values())


def compare_tables(
    name: str,
    left: pa.Table | None,
    right: pa.Table | None,
    *,
    key: list[str] | None = None,
    ignore: tuple[str, ...] = (),
    max_lines: int = 20,
) -> list[str]:
    """Differences between two tables as readable lines ([] when identical).

    Rows are matched after sorting by ``key`` (all columns when None), so row order from
    the engines does not matter; column sets, row counts and every value do.
    """
    if left is None or right is None:
        return [] if left is right else [f"{name}: present on one engine only"]
    a, b = normalise(left, ignore=ignore), normalise(right, ignore=ignore)
    if a.column_names != b.column_names:
        only_a = sorted(set(a.column_names) - set(b.column_names))
        only_b = sorted(set(b.column_names) - set(a.column_names))
        return [f"{name}: columns differ: left only {only_a}, right only {only_b}"]
    out = []
    if len(a) != len(b):
        out.append(f"{name}: {len(a)} rows vs {len(b)} rows")
    ra = sorted(a.to_pylist(), key=lambda r: _sort_key(r, key or []))
    rb = sorted(b.to_pylist(), key=lambda r: _sort_key(r, key or []))
    for i, (x, y) in enumerate(zip(ra, rb, strict=False)):
        if x != y:
            diff = {k: (x[k], y[k]) for k in x if x[k] != y[k]}
            out.append(f"{name} row {i}: {diff}")
            if len(out) >= max_lines:
                out.append(f"{name}: ... (more differences not shown)")
                break
    return out
