"""A DuckDB database for one streaming job: on disk under the state folder, with a memory
limit and a spill directory, so the job's memory is set by DuckDB's limit and its batches,
not by the size of the city.

``CIVLAKE_MEMORY_LIMIT`` (``Settings.memory_limit``) sets the limit; by default 40 % of
this machine's RAM, leaving room for the Python side (Arrow batches, the Splink model).
"""

from __future__ import annotations

import os
import shutil
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from datetime import datetime
from pathlib import Path

import duckdb
import pyarrow as pa

from civlake.settings import Settings

DEFAULT_SHARE = 0.4


def default_memory_limit() -> str:
    """40 % of physical RAM, in MiB (DuckDB's own default, 80 %, leaves Python no room)."""
    total = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES")
    return f"{max(256, int(total * DEFAULT_SHARE) >> 20)}MiB"


# How far a streamed result (``execute(...)`` read as Arrow, a reader or a frame) may run
# ahead of its reader. With DuckDB's default (about 1 MB) such a query's last pipeline
# ran on about one thread; with 32 MB it runs on all of them (two cores: 2.8 -> 1.7 s on a
# string-distance projection of 500,000 rows), and the buffer stays small.
STREAM_BUFFER = "32MB"


def connect(database: str = ":memory:", **config) -> duckdb.DuckDBPyConnection:
    """``duckdb.connect`` with the settings every civlake job connection takes (a
    session setting: a ``cursor()`` of it has DuckDB's default)."""
    con = duckdb.connect(database, config=config)
    con.execute(f"SET streaming_buffer_size = '{STREAM_BUFFER}'")
    return con


def cores() -> int:
    """The cores this process may run on (its CPU affinity, which a container's cpuset
    narrows; os.cpu_count() would count the host's)."""
    return len(os.sched_getaffinity(0))


@contextmanager
def database(
    settings: Settings, name: str, *, in_memory: bool = False
) -> Iterator[duckdb.DuckDBPyConnection]:
    """A fresh database file ``<state>/<name>.duckdb`` (removed afterwards) whose
    operators spill to ``<state>/duckdb_tmp/<name>`` beyond the memory limit.
    ``in_memory``: no database file; tables spill to the same folder beyond the limit
    (for scratch tables read back once: writing them to a file costs their compression,
    1.5 s of the clean gate's 5 s join at 1,000,000 persons)."""
    state = settings.state_dir
    state.mkdir(parents=True, exist_ok=True)
    db_file = state / f"{name}.duckdb"
    spill = state / "duckdb_tmp" / name
    for stale in (db_file, db_file.with_name(db_file.name + ".wal")):
        stale.unlink(missing_ok=True)
    spill.mkdir(parents=True, exist_ok=True)
    con = connect(
        ":memory:" if in_memory else str(db_file),
        memory_limit=settings.memory_limit or default_memory_limit(),
        temp_directory=str(spill),
    )
    try:
        yield con
    finally:
        con.close()
        for leftover in (db_file, db_file.with_name(db_file.name + ".wal")):
            leftover.unlink(missing_ok=True)
        shutil.rmtree(spill, ignore_errors=True)


def load_delta(con: duckdb.DuckDBPyConnection) -> None:
    """Load DuckDB's Delta extension (``delta_scan``) from the ``duckdb-extension-delta``
    package: DuckDB cannot download it offline, and the package ships it for the DuckDB
    version pinned with it."""
    import duckdb_extension_delta

    root = Path(duckdb_extension_delta.__file__).parent / "extensions"
    binary = root / f"v{duckdb.__version__}" / "delta.duckdb_extension"
    if not binary.is_file():
        shipped = sorted(p.name for p in root.iterdir()) if root.is_dir() else []
        raise RuntimeError(
            f"DuckDB's Delta extension for DuckDB {duckdb.__version__} is not at {binary} "
            f"(the duckdb-extension-delta package ships {shipped or 'none'}): install the "
            "duckdb-extension-delta version pinned with duckdb in pyproject.toml"
        )
    con.execute(f"load '{binary}'")


_UNITS = {"bytes": 1, "KiB": 1 << 10, "MiB": 1 << 20, "GiB": 1 << 30, "TiB": 1 << 40}


def memory_limit_bytes(con: duckdb.DuckDBPyConnection) -> int:
    """The connection's memory limit in bytes (DuckDB spells it ``'953.6 MiB'``)."""
    value, unit = con.execute("select current_setting('memory_limit')").fetchone()[0].split()
    return int(float(value) * _UNITS[unit])


def slice_rows(con: duckdb.DuckDBPyConnection, *, bytes_per_row: int, least: int = 2_048) -> int:
    """How many rows one slice of a city-wide sort or group-by may take under the limit."""
    return max(least, memory_limit_bytes(con) // bytes_per_row)


def sliced(
    con: duckdb.DuckDBPyConnection,
    queries: Iterable[tuple[str, dict]],
    *,
    now: datetime,
    schema: pa.Schema,
    batch_rows: int,
) -> pa.RecordBatchReader:
    """The results of ``queries`` (SQL, parameters), one after the other, as one stream of
    ``stamped`` batches: a query runs when the one before is read to the end."""

    def batches():
        for sql, params in queries:
            yield from stamped(con.execute(sql, params).to_arrow_reader(batch_rows), now, schema)

    return pa.RecordBatchReader.from_batches(schema, batches())


def stamped(reader: pa.RecordBatchReader, now: datetime, schema: pa.Schema) -> pa.RecordBatchReader:
    """``reader``'s batches with a ``resolved_at`` column of ``now`` appended, cast to
    ``schema`` (the lake table's)."""
    stamp = pa.scalar(now, pa.timestamp("us", tz="UTC"))

    def batches():
        for batch in reader:
            yield batch.append_column("resolved_at", pa.repeat(stamp, batch.num_rows)).cast(schema)

    return pa.RecordBatchReader.from_batches(schema, batches())
