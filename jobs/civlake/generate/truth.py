"""Ground truth beside the landing root (`<out>_truth/`): deliveries, records, persons,
findings, near misses and planted cases, as Parquet."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq

from civlake.generate.contracts_view import roles
from civlake.generate.delivery import Delivery
from civlake.generate.oracle import FIELDS
from civlake.generate.table import Table
from civlake.generate.world import World

RECORD_SCHEMA = pa.schema([
    ("feed_id", pa.string()), ("delivery_id", pa.string()), ("source_file", pa.string()),
    ("source_row", pa.int64()), ("role", pa.string()), ("person_uid", pa.string()),
    ("expected", pa.string()), ("reasons", pa.list_(pa.string())), ("dirt", pa.list_(pa.string())),
])  # fmt: skip


class RecordSink:
    """records.parquet written as deliveries go (three million hukou records need not sit in
    memory); buffered into row groups of ~250k rows."""

    def __init__(self, path: Path) -> None:
        self._writer = pq.ParquetWriter(path, RECORD_SCHEMA, compression="zstd")
        self._buffer: list[pa.Table] = []
        self._buffered = 0
        self.rows = 0

    def add(self, table: pa.Table) -> None:
        self._buffer.append(table)
        self._buffered += table.num_rows
        self.rows += table.num_rows
        if self._buffered >= 250_000:
            self._flush()

    def _flush(self) -> None:
        if self._buffer:
            self._writer.write_table(pa.concat_tables(self._buffer))
        self._buffer, self._buffered = [], 0

    def close(self) -> None:
        self._flush()
        self._writer.close()


def file_records(d: Delivery, name: str, t: Table, uids: np.ndarray, offset: int = 0) -> pa.Table:
    """One record per data row and person role (rows without any person: role null);
    `offset` = data rows of the same file already recorded (chunked files)."""
    n = t.n
    feed_roles = [r for r in roles(d.feed) if r in t.persons]
    row_parts, role_parts, who_parts = [], [], []
    has_any = np.zeros(n, bool)
    for k, role in enumerate(feed_roles):
        idx = t.persons[role]
        rows = np.flatnonzero(idx >= 0)
        has_any[rows] = True
        row_parts.append(rows)
        role_parts.append(np.full(len(rows), k, np.int64))
        who_parts.append(idx[rows])
    bare = np.flatnonzero(~has_any)
    row_parts.append(bare)
    role_parts.append(np.full(len(bare), -1, np.int64))
    who_parts.append(np.full(len(bare), -1, np.int64))
    rows, role_k, who = (np.concatenate(x) for x in (row_parts, role_parts, who_parts))
    order = np.lexsort((role_k, rows))
    rows, role_k, who = rows[order], role_k[order], who[order]
    role_names = np.array([*feed_roles, None], dtype=object)
    person = np.where(who >= 0, uids[np.maximum(who, 0)].astype(object), None)
    reasons, has_reason = _sparse_lists(rows, t.reasons)
    dirt, _ = _sparse_lists(rows, t.dirt)
    m = len(rows)
    return pa.table({
        "feed_id": pa.array([d.feed] * m, pa.string()),
        "delivery_id": pa.array([d.delivery_id] * m, pa.string()),
        "source_file": pa.array([name] * m, pa.string()),
        "source_row": pa.array(rows + 1 + offset, pa.int64()),
        "role": pa.array(role_names[role_k], pa.string()),
        "person_uid": pa.array(person, pa.string()),
        "expected": pa.array(np.where(has_reason, "quarantine", "silver"), pa.string()),
        "reasons": reasons,
        "dirt": dirt,
    }, schema=RECORD_SCHEMA)  # fmt: skip


def _sparse_lists(rows: np.ndarray, values: dict[int, list[str]]) -> tuple[pa.Array, np.ndarray]:
    """A list<string> column for sorted row positions from a sparse row -> list map
    (a million hukou records carry dirt on ~3% of rows: no per-record Python list)."""
    lengths = np.zeros(len(rows), np.int64)
    at: dict[int, list[str]] = {}
    for i, vals in values.items():
        lo, hi = np.searchsorted(rows, [i, i + 1])
        for pos in range(int(lo), int(hi)):
            lengths[pos] = len(vals)
            at[pos] = vals
    offsets = np.concatenate([[0], np.cumsum(lengths)]).astype(np.int32)
    flat = [v for pos in sorted(at) for v in at[pos]]
    arr = pa.ListArray.from_arrays(pa.array(offsets, pa.int32()), pa.array(flat, pa.string()))
    return arr, lengths > 0


def delivery_rows(deliveries: list[Delivery]) -> pa.Table:
    rows = []
    for d in deliveries:
        declared = None if d.fault in ("manifest", "pending") else sum(f.table.n for f in d.files)
        if d.fault == "rows" and declared is not None:
            declared += 1
        rows.append({
            "feed_id": d.feed, "delivery_id": d.delivery_id, "source_unit": d.unit, "period": d.period,
            "mode": d.mode, "produced_at": d.produced_at, "expected_status": d.expected,
            "expected_reason": d.reason, "rows_declared": declared,
        })  # fmt: skip
    return pa.Table.from_pylist(rows, schema=pa.schema([
        ("feed_id", pa.string()), ("delivery_id", pa.string()), ("source_unit", pa.string()),
        ("period", pa.string()), ("mode", pa.string()), ("produced_at", pa.string()),
        ("expected_status", pa.string()), ("expected_reason", pa.string()), ("rows_declared", pa.int64()),
    ]))  # fmt: skip


def persons_table(world: World) -> pa.Table:
    p = world.pop
    n = len(p)
    death = np.full(n, np.datetime64("NaT"), "datetime64[D]")
    source = np.full(n, None, dtype=object)
    for idx, d in world.deaths.items():
        death[idx] = np.datetime64(d.date)
        source[idx] = (
            "death_certificates"
            if d.cert
            else ("cremation_records" if d.cremation_date else "hukou_population")
        )
    status = np.array(p.status, dtype=object)
    for idx in list(world.deaths) + list(world.hukou_changes):
        status[idx] = world.hukou_status(idx, world.tl.latest)
    noise = np.zeros(n, bool)
    noise[world.noise] = True
    return pa.table({
        "person_uid": pa.array(p.uid, pa.string()),
        "id_number": pa.array(p.id_number, pa.string()),
        "name": pa.array(p.name.astype(str), pa.string()),
        "sex": pa.array(p.sex, pa.string()),
        "birth_date": pa.array(p.birth.astype("datetime64[D]")),
        "hukou_division_code": pa.array(np.where(p.in_hukou, p.division, None), pa.string()),
        "in_hukou": pa.array(p.in_hukou),
        "hukou_status": pa.array(np.where(p.in_hukou, status, None), pa.string()),
        "death_date": pa.array(death, mask=np.isnat(death)),
        "death_date_source": pa.array(source, pa.string()),
        "is_noise": pa.array(noise),
    })  # fmt: skip


def findings_table(findings: list[dict]) -> pa.Table:
    schema = pa.schema(
        [(f, pa.decimal128(18, 2) if f == "amount_at_risk" else pa.string()) for f in FIELDS]
    )
    return pa.Table.from_pylist(findings, schema=schema)


def cases_table(world: World, cases: list[tuple[str, int | None, str]]) -> pa.Table:
    rows = []
    for rule, idx, note in cases:
        org = rule == "ORG_INACTIVE_DONATION"
        rows.append({
            "rule_code": rule,
            "id_number": None if org or idx is None else str(world.pop.id_number[idx]),
            "org_uscc": world.orgs[idx].uscc if org and idx is not None else None,
            "note": note,
        })  # fmt: skip
    return pa.Table.from_pylist(rows, schema=pa.schema([
        ("rule_code", pa.string()), ("id_number", pa.string()), ("org_uscc", pa.string()), ("note", pa.string())
    ]))  # fmt: skip


def namesakes_table(world: World) -> pa.Table:
    uid, pairs = world.pop.uid, world.namesakes
    return pa.table({
        "person_uid": pa.array(uid[pairs[:, 0]].astype(str), pa.string()),
        "namesake_uid": pa.array(uid[pairs[:, 1]].astype(str), pa.string()),
    })  # fmt: skip


def write_table(table: pa.Table, path: Path) -> None:
    pq.write_table(table, path, compression="zstd")
