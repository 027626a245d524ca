"""Today's division codes, from ``silver.divisions``, with obsolete codes mapped forward.

Divisions are merged and abolished over the years; a record may carry a code that was
valid at its own date. The map sends every known code to the code valid today by
following 继承代码 (successor) chains, so silver can hold one current code per row.
"""

from __future__ import annotations

from datetime import date
from pathlib import Path

import pyarrow as pa
import pyarrow.compute as pc

from civlake import tables
from civlake.engine.lake_io import LakeIO

DIVMAP_SCHEMA = pa.schema([("code", pa.string()), ("current", pa.string())])
_MAX_CHAIN = 32  # real chains are 1-3 long; a longer one is a loop in the source data


def latest_release(divisions: pa.Table) -> pa.Table:
    """Rows of the newest loaded delivery (yearly ``full``: it is the whole code table)."""
    if len(divisions) == 0:
        return divisions
    keys = divisions.select(["_period", "_produced_at", "_delivery_id"]).to_pylist()
    newest = max(keys, key=lambda k: (k["_period"] or "", k["_produced_at"] or ""))
    return divisions.filter(pc.equal(divisions["_delivery_id"], newest["_delivery_id"]))


def division_map(divisions: pa.Table, *, today: date) -> pa.Table:
    """``code -> current`` for every current code (to itself) and every resolvable
    obsolete one. A chain that ends in a code that is neither is left out (unknown)."""
    rows = latest_release(divisions).select(["division_code", "valid_to", "successor_code"])
    current: set[str] = set()
    successor: dict[str, str] = {}
    for r in rows.to_pylist():
        code = r["division_code"]
        if code is None:
            continue
        if r["valid_to"] is None or r["valid_to"] > today:
            current.add(code)
        elif r["successor_code"]:
            successor[code] = r["successor_code"]
    mapping = {c: c for c in current}
    for code in successor:
        if code in current:
            continue
        seen, nxt = 0, code
        while nxt not in current and nxt in successor and seen < _MAX_CHAIN:
            nxt, seen = successor[nxt], seen + 1
        if nxt in current:
            mapping[code] = nxt
    return pa.table(
        {"code": list(mapping), "current": list(mapping.values())}, schema=DIVMAP_SCHEMA
    )


def load_division_map(lake_root: Path, *, today: date, io: LakeIO) -> pa.Table | None:
    """The map from ``<lake>/silver/divisions``, or None when there is no divisions data."""
    table = io.read_arrow(tables.path(lake_root, tables.silver("divisions")))
    if table is None or len(table) == 0:
        return None
    return division_map(table, today=today)


def current_codes(codes, divmap: pa.Table):
    """Today's code for each delivered 12-digit code (NULL: unknown), order kept."""
    idx = pc.index_in(codes, value_set=divmap["code"].combine_chunks())
    return pc.take(divmap["current"].combine_chunks(), idx)
