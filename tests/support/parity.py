"""Compare two engines' outputs table by table; any difference is reported as a diff.

Used by the parity tests and ``bench/bench_engines.py``: the same city through the
embedded and the Spark engine must give identical tables (OUTPUTS.md contracts, issue 10).

Every value must be equal, with one exception: floating-point columns (Splink's match
probabilities) may differ in the last bits, because the JVM's and DuckDB's ``log``/``exp``
round differently (1,000,000 persons: 0.994889571199426 vs 0.9948895711994256). Floats are
equal when within ``FLOAT_RTOL`` of each other, relatively; decimals (amounts), integers,
strings and timestamps are compared exactly.
"""

from __future__ import annotations

import math
from decimal import Decimal

import pyarrow as pa
import pyarrow.compute as pc

# Relative tolerance for float columns: last-bit differences of two math libraries, not
# results. A probability that differs in the 12th digit is a different result.
FLOAT_RTOL = 1e-12


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


def _sorted(table: pa.Table, key: list[str] | None) -> pa.Table:
    """Rows in a total order: by ``key``, then by every other sortable column."""
    sortable = [
        c for c in table.column_names
        if not pa.types.is_nested(table[c].type) and not pa.types.is_binary(table[c].type)
    ]  # fmt: skip
    order = list(key or []) + [c for c in sortable if c not in (key or [])]
    if not order or not len(table):
        return table
    return table.take(pc.sort_indices(table, [(c, "ascending") for c in order]))


def _sort_key(row: dict, key: list[str]) -> tuple:
    def part(v):
        if v is None:
            return (0, "")
        if isinstance(v, (int, float, Decimal)):
            return (1, float(v), str(v))
        return (2, str(v))

    return tuple(part(row[k]) for k in key) if key else tuple(part(v) for v in row.values())


def _equal_within_tolerance(a: pa.Table, b: pa.Table) -> bool:
    """Same rows in the same order, float columns within ``FLOAT_RTOL``, the rest exact."""
    for name in a.column_names:
        x, y = a[name], b[name]
        if not pa.types.is_floating(x.type):
            if not x.equals(y):
                return False
            continue
        if not pc.all(pc.equal(pc.is_null(x), pc.is_null(y))).as_py():
            return False
        scale = pc.max_element_wise(pc.abs(x), pc.abs(y))
        close = pc.less_equal(pc.abs(pc.subtract(x, y)), pc.multiply(scale, FLOAT_RTOL))
        if not pc.all(pc.or_kleene(close, pc.is_null(x))).as_py():
            return False
    return True


def _same_value(x, y) -> bool:
    if isinstance(x, float) and isinstance(y, float):
        if math.isnan(x) or math.isnan(y):
            return math.isnan(x) and math.isnan(y)
        return abs(x - y) <= FLOAT_RTOL * max(abs(x), abs(y))
    return x == y


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
    the engines does not matter; column sets, row counts and every value do (floats
    within ``FLOAT_RTOL``).
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
    else:
        sa, sb = _sorted(a, key), _sorted(b, key)
        if sa.equals(sb) or _equal_within_tolerance(sa, sb):
            return []  # the common case, vectorised; the row diff below is for failures
    ra = sorted(a.to_pylist(), key=lambda r: _sort_key(r, key or []))
    rb = sorted(b.to_pylist(), key=lambda r: _sort_key(r, key or []))
    for i, (x, y) in enumerate(zip(ra, rb, strict=False)):
        if x != y:
            diff = {k: (x[k], y[k]) for k in x if not _same_value(x[k], y[k])}
            if not diff:
                continue
            out.append(f"{name} row {i}: {diff}")
            if len(out) >= max_lines:
                out.append(f"{name}: ... (more differences not shown)")
                break
    return out


# Wall-clock columns: when or how long something ran (and Airflow's run id), not what it
# produced. Every other column must be equal.
CLOCK_COLUMNS = (
    "ingested_at", "cleaned_at", "ingest_seconds", "clean_seconds", "_ingested_at", "run_id",
    "at", "resolved_at", "last_ingested_at", "feed_last_ingested_at", "first_detected_at",
    "max_ingest_lag_hours",  # produced_at -> ingested_at: the run's wall clock again
    "valid_from", "valid_to",  # verify.finding_status: the run that began/ended a spell
    # mart_proactive_entitlement: days from first_detected_at (the run's clock) to payment
    "days_to_first_payment", "days_to_first_payment_sum", "avg_days_to_first_payment",
)  # fmt: skip
LINEAGE_KEY = ["_delivery_id", "_source_file", "_source_row"]
# Warehouse schemas built by the models (the lake_* schemas are the sources themselves).
MODEL_SCHEMAS = ("core", "verify", "mart", "publish")


def _lake_tables(lake_root) -> dict[str, object]:
    from pathlib import Path

    root = Path(lake_root)
    found = {}
    for log in sorted(root.glob("**/_delta_log")):
        found[str(log.parent.relative_to(root))] = log.parent
    return found


def _read_delta(path) -> pa.Table:
    from civlake import lake

    return lake.arrow_table(lake.open_table(path))


def _key_for(name: str, table: pa.Table) -> list[str] | None:
    if name == "ingest_audit":
        return ["feed_id", "delivery_id"]
    if all(k in table.column_names for k in LINEAGE_KEY):
        return (["feed_id"] if "feed_id" in table.column_names else []) + LINEAGE_KEY
    return None


def compare_lakes(left_root, right_root) -> list[str]:
    """Every Delta table of two lakes, row for row (wall-clock columns ignored)."""
    left, right = _lake_tables(left_root), _lake_tables(right_root)
    out = [f"lake table {n}: only on one engine" for n in sorted(set(left) ^ set(right))]
    for name in sorted(set(left) & set(right)):
        a, b = _read_delta(left[name]), _read_delta(right[name])
        out += compare_tables(name, a, b, key=_key_for(name, a), ignore=CLOCK_COLUMNS)
    return out


def warehouse_tables(path) -> dict[str, pa.Table]:
    """The models of a DuckDB warehouse file, by ``schema.table``: tables, and the views a
    model is on DuckDB (core.person_source_xref; the Spark engine builds it as a table)."""
    import duckdb

    con = duckdb.connect(str(path), read_only=True)
    try:
        names = con.execute(
            "SELECT table_schema, table_name FROM information_schema.tables"
            " WHERE table_schema IN ({}) AND table_type IN ('BASE TABLE', 'VIEW')".format(
                ", ".join(f"'{s}'" for s in MODEL_SCHEMAS)
            )
        ).fetchall()
        return {
            f"{s}.{t}": con.execute(f'SELECT * FROM "{s}"."{t}"').to_arrow_table() for s, t in names
        }
    finally:
        con.close()


def compare_warehouses(left: dict[str, pa.Table], right: dict[str, pa.Table]) -> list[str]:
    out = [f"model {n}: built on one engine only" for n in sorted(set(left) ^ set(right))]
    for name in sorted(set(left) & set(right)):
        out += compare_tables(name, left[name], right[name], ignore=CLOCK_COLUMNS)
    return out


def compare_engines(embedded, spark) -> list[str]:
    """All outputs of two runs (settings of each): lake tables, then model tables."""
    out = compare_lakes(embedded.lake, spark.lake)
    right = _spark_models(spark)
    out += compare_warehouses(warehouse_tables(embedded.warehouse), right)
    return out


def _spark_models(settings) -> dict[str, pa.Table]:
    """The Spark engine's model tables (its serving copy when no native reader exists)."""
    try:
        from civlake.transform import read_spark_models
    except ImportError:
        return warehouse_tables(settings.warehouse)
    return read_spark_models(settings, MODEL_SCHEMAS)
