"""API pages <-> bronze rows: the page table, and where an interrupted snapshot stands.

A page is appended to ``bronze.<feed>`` in one Delta commit together with the cursor that
follows it (column ``_api_next_cursor`` on each of the page's rows). The table itself is
therefore the pull's checkpoint: there is no second state store that could disagree with
it after a crash.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

import pyarrow as pa
import pyarrow.compute as pc

from civlake import lake
from civlake.contracts import FeedContract
from civlake.engine.lake_io import LakeIO
from civlake.ingest import bronze
from civlake.ingest.readers import _BatchBuilder, _json_value

CURSOR_COLUMN = "_api_next_cursor"
SOURCE_FILE = "api"
FORMAT = "api"


@dataclass(frozen=True)
class Progress:
    """Committed state of one snapshot in bronze."""

    rows: int  # committed records
    last_position: int  # highest committed _source_row (== rows when pages are contiguous)
    next_cursor: str | None  # cursor after the last committed page; None = snapshot complete

    @property
    def consistent(self) -> bool:
        return self.rows == self.last_position


def page_table(
    records: list,
    contract: FeedContract,
    *,
    first_position: int,
    next_cursor: str | None,
    snapshot: dict,
    ingested_at: datetime,
) -> pa.Table:
    """Bronze rows for one page, laid out exactly like a JSONL file delivery's rows."""
    builder = _BatchBuilder(contract.names)
    index = {name: i for i, name in enumerate(contract.names)}
    for offset, rec in enumerate(records):
        position = first_position + offset
        if not isinstance(rec, dict):
            raw = rec if isinstance(rec, str) else json.dumps(rec, ensure_ascii=False)
            builder.add([None] * len(index), None, raw, position)
            continue
        values: list[str | None] = [None] * len(index)
        extra = {}
        for key, value in rec.items():
            if key in index:
                values[index[key]] = _json_value(value)
            else:
                extra[key] = value
        builder.add(
            values, json.dumps(extra, ensure_ascii=False) if extra else None, None, position
        )
    table = pa.Table.from_batches([builder.flush()])
    table = bronze.with_lineage(
        table,
        contract,
        delivery_id=snapshot["snapshot_id"],
        source_file=SOURCE_FILE,
        source_unit=source_unit(snapshot["snapshot_id"]),
        period=snapshot["period"],
        mode=snapshot["mode"],
        produced_at=snapshot["produced_at"],
        file_format=FORMAT,
        ingested_at=ingested_at,
    )
    cursor = pa.array([next_cursor] * table.num_rows, type=pa.string())
    return table.append_column(CURSOR_COLUMN, cursor)


def source_unit(snapshot_id: str) -> str:
    """``<YYYYMMDD>-<unit>-<seq>``: snapshots are delivered by the city-level platform."""
    parts = snapshot_id.split("-")
    return parts[1] if len(parts) == 3 else "440100"


def committed(
    lake_root: Path, feed_id: str, *, exclude: set[str] | frozenset[str] = frozenset()
) -> dict[str, Progress]:
    """Progress of the API snapshots with rows in bronze, except ``exclude`` (the audited
    ones: reading only unfinished snapshots keeps a rerun cheap however long the history)."""
    dt = lake.open_table(bronze.bronze_path(lake_root, feed_id))
    if dt is None:
        return {}
    names = {f.name for f in dt.schema().fields}
    if CURSOR_COLUMN not in names:
        return {}
    table = lake.arrow_table(
        dt,
        columns=["_delivery_id", "_source_row", CURSOR_COLUMN],
        filters=[("_format", "=", FORMAT)]
        + ([("_delivery_id", "not in", sorted(exclude))] if exclude else []),
    )
    out: dict[str, Progress] = {}
    for sid in table.column("_delivery_id").unique().to_pylist():
        rows = table.filter(pc.equal(table.column("_delivery_id"), sid))
        positions = rows.column("_source_row")
        last = pc.max(positions).as_py()
        at_last = rows.filter(pc.equal(positions, last)).column(CURSOR_COLUMN)[0].as_py()
        out[sid] = Progress(rows=rows.num_rows, last_position=last, next_cursor=at_last)
    return out


def append_page(lake_root: Path, feed_id: str, table: pa.Table, *, io: LakeIO) -> None:
    """One Delta commit: the page's rows and, on them, the cursor to continue from."""
    io.append(bronze.bronze_path(lake_root, feed_id), table)
