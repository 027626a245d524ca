"""Pandas batches for the gate: a chunk of silver rows, ingest_audit rows, divisions sets.

GX runs on pandas here (its SQL path over DuckDB returns no rows): a chunk's Parquet
file, or a lake table through deltalake, comes in as Arrow and goes to pandas.
Int, bool and timestamp columns become object columns of Python values so that GX's
per-value type checks see ``int``/``bool``/``datetime`` (on nullable extension dtypes
GX reports the numpy type and every type expectation fails). String columns stay on
Arrow (pandas' ``string[pyarrow]``, a null is ``pd.NA``): GX asks every column's nulls
once per expectation, a read of the validity bitmap there and a Python-level loop over
an object column (a fifth of the gate at 1 M persons), and its value-set checks run in
Arrow's kernels; the outcomes, examples included, are the same. Its regex checks run in
Arrow too (RE2), through pandas' Arrow-backed ``str`` (``GxSession.validate``).
"""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa

from civlake import tables
from civlake.engine.lake_io import LakeIO
from civlake.expectations.extras import DIVISIONS_ALL, DIVISIONS_CURRENT, AgeRule

_STRINGS = {pa.string(): pd.StringDtype("pyarrow"), pa.large_string(): pd.StringDtype("pyarrow")}


def _to_pandas(table: pa.Table) -> pd.DataFrame:
    as_python = [
        f.name
        for f in table.schema
        if pa.types.is_integer(f.type)
        or pa.types.is_boolean(f.type)
        or pa.types.is_timestamp(f.type)
    ]
    df = table.drop_columns(as_python).to_pandas(types_mapper=_STRINGS.get)
    for name in as_python:
        df[name] = _python_values(table[name])
    return df[table.column_names]


def _python_values(column: pa.ChunkedArray) -> pd.Series:
    """An object Series of the column's Python values (``int``, ``bool``, ``datetime``
    and None), as ``to_pylist`` gives them. Without nulls, an int or bool column goes
    through numpy (``astype(object)`` makes the same Python ints and bools, ~4x faster)."""
    t = column.type
    if column.null_count == 0 and not pa.types.is_timestamp(t):
        return pd.Series(column.to_numpy().astype(object), dtype=object)
    return pd.Series(column.to_pylist(), dtype=object)


def _as_date(value) -> dt.date | None:
    if value is None or value is pd.NA or (isinstance(value, float) and pd.isna(value)):
        return None
    if isinstance(value, dt.datetime):
        return value.date()
    if isinstance(value, dt.date):
        return value
    try:  # `_produced_at` is ISO 8601 text as the manifest gives it
        return dt.date.fromisoformat(str(value)[:10])
    except ValueError:
        return None


def _age(birth: dt.date | None, at: dt.date | None) -> int | None:
    if birth is None or at is None:
        return None
    return at.year - birth.year - ((at.month, at.day) < (birth.month, birth.day))


def _date_parts(values: pd.Series) -> tuple[np.ndarray, np.ndarray]:
    """``_as_date`` of every value, computed once per distinct value: the dates as
    ``year * 10000 + month * 100 + day`` and a mask of the values that have one."""
    codes, uniques = pd.factorize(values, use_na_sentinel=False)
    dates = [_as_date(u) for u in uniques]
    ymd = np.array([d.year * 10000 + d.month * 100 + d.day if d else 0 for d in dates], np.int64)
    has = np.array([d is not None for d in dates], bool)
    return ymd[codes], has[codes]


def add_ages(df: pd.DataFrame, rules: list[AgeRule]) -> pd.DataFrame:
    """Derived ``_age__<birth>`` columns (whole years at the rule's reference date):
    ``_age`` of the two dates, Python ints or None, in whole arrays."""
    for rule in rules:
        if rule.birth not in df.columns or rule.at not in df.columns:
            continue  # the missing column is reported by its own expect_column_to_exist
        birth, has_birth = _date_parts(df[rule.birth])
        at, has_at = _date_parts(df[rule.at])
        # Years between, less one before the birthday (month and day compare as mmdd).
        years = at // 10000 - birth // 10000 - (at % 10000 < birth % 10000)
        known = has_birth & has_at
        ages = np.full(len(df), None, dtype=object)
        ages[known] = years[known].astype(object)
        df[rule.column] = pd.Series(ages, index=df.index, dtype=object)
    return df


# GX reports the first failing rows it meets as examples, so a batch's row order is part
# of the result: the file order of a Delta table depends on the engine that wrote it
# (delta-rs and delta-spark lay out and list files differently), lineage order does not.
SILVER_ORDER = ("_delivery_id", "_source_file", "_source_row")
AUDIT_ORDER = ("feed_id", "delivery_id")


def in_lineage_order(table: pa.Table, columns: tuple[str, ...]) -> pa.Table:
    keys = [(c, "ascending") for c in columns if c in table.column_names]
    return table.sort_by(keys) if keys and len(table) else table


def chunk_frame(table: pa.Table, rules: list[AgeRule]) -> pd.DataFrame:
    """One chunk of silver rows (chunks.py) as GX's pandas batch, in lineage order."""
    table = in_lineage_order(table, SILVER_ORDER)
    # One consolidated block layout before GX: GX copies the frame per metric, and a frame
    # of many single-column blocks is re-consolidated on every copy (~60 % of the run).
    return add_ages(_to_pandas(table), rules).copy()


def read_ledger(lake_root: Path, *, io: LakeIO) -> pa.Table | None:
    """The ingest ledger (``ingest_audit``) as Arrow, read once per gate run and given to
    ``cleaned_rows`` and ``audit_frame`` for every feed (None: no ledger yet)."""
    return io.read_arrow(tables.path(lake_root, tables.INGEST_AUDIT))


def audit_frame(
    ledger: pa.Table | None, feed_id: str, deliveries: list[str] | None = None
) -> pd.DataFrame:
    """Loaded deliveries of the feed (of ``deliveries`` only, if given) in ``ledger``
    (``read_ledger``) with ``quarantine_rate`` = quarantined / declared."""
    cols = ["delivery_id", "source_unit", "period", "rows_declared", "rows_quarantined"]
    if ledger is None:
        return pd.DataFrame({c: [] for c in [*cols, "quarantine_rate"]})
    if missing := {"feed_id", "status", *cols} - set(ledger.column_names):
        raise ValueError(
            f"ingest_audit lacks column(s) {sorted(missing)}; "
            "the quarantine-rate expectation needs the layout of docs/CONVENTIONS.md"
        )
    df = in_lineage_order(ledger, AUDIT_ORDER).to_pandas()
    df = df[(df["feed_id"] == feed_id) & (df["status"] == "loaded")]
    if deliveries is not None:
        df = df[df["delivery_id"].isin(deliveries)]
    # Rows not yet cleaned (rows_quarantined null) or empty deliveries have no rate.
    df = df[df["rows_quarantined"].notna() & (df["rows_declared"].fillna(0) > 0)]
    df = df[cols].reset_index(drop=True)
    rate = df["rows_quarantined"].astype(float) / df["rows_declared"].astype(float)
    df["quarantine_rate"] = rate.round(6)
    return df


def cleaned_rows(ledger: pa.Table | None, feed_id: str) -> dict[str, int]:
    """Rows the clean gate put into silver per loaded delivery of the feed (the ledger's
    ``rows_silver``; deliveries not yet cleaned, or a ledger without that column, give
    nothing)."""
    if ledger is None or not {"feed_id", "status", "rows_silver"} <= set(ledger.column_names):
        return {}
    rows = ledger.select(["feed_id", "delivery_id", "status", "rows_silver"]).to_pylist()
    return {
        r["delivery_id"]: r["rows_silver"]
        for r in rows
        if r["feed_id"] == feed_id and r["status"] == "loaded" and r["rows_silver"] is not None
    }


def division_sets(lake_root: Path, *, io: LakeIO) -> dict[str, set[str]] | None:
    """All and current division codes of silver.divisions; None when it is not built."""
    table = io.read_arrow(
        tables.path(lake_root, tables.silver("divisions")), columns=["division_code", "valid_to"]
    )
    if table is None:
        return None
    codes = table["division_code"].to_pylist()
    valid_to = table["valid_to"].to_pylist()
    return {
        DIVISIONS_ALL: {c for c in codes if c},
        DIVISIONS_CURRENT: {c for c, v in zip(codes, valid_to, strict=True) if c and v is None},
    }
