"""The rows a run's full deliveries repeat from their previous snapshots: one join per run.

``carry`` decides which rows of a pending full delivery D are carried from the previous
snapshot P. The gate reads D a slice at a time (``runs``), and it used to read the whole
of P for every slice to find that slice's hashes: twice per month at 1,000,000 persons
(7 of the 22 s the next month's clean stage took), and twenty times at 10,000,000.

Here, before D's first slice, D's row hashes are read once (one column, in the order the
slices will bring them) and joined with P's candidate rows (no ``invalid`` ID, one per
hash) in an in-memory DuckDB database (``engine.duck``: its tables spill to disk beyond
the memory limit), the matches stored in D's row order. Each slice then reads only its own range of
positions back. What is carried is still decided by ``carry.repeated``, which checks
the division map and gives the rows D's lineage, so the result is the one ``carry.carry``
gives for the slice.
"""

from __future__ import annotations

from collections import Counter
from contextlib import ExitStack

import duckdb
import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
from deltalake import DeltaTable

from civlake import lake, tables
from civlake.clean import carry
from civlake.contracts import FeedContract
from civlake.engine import duck
from civlake.settings import Settings

_Q = '"{}"'.format


class Repeats:
    """For each pending delivery with a predecessor: its repeated rows by position."""

    def __init__(self, con: duckdb.DuckDBPyConnection, contract: FeedContract) -> None:
        self.con, self.contract = con, contract
        self.tables: dict[str, str] = {}  # delivery id -> table of its matches
        self.read: Counter = Counter()  # rows of each delivery handed out so far
        self.source, self.params = "prev", {}  # the previous snapshots' rows (``_previous``)
        schema = tables.silver_schema(contract)
        self.values = [f.name for f in schema if f.name not in carry.LINEAGE]

    @classmethod
    def build(
        cls, stack: ExitStack, settings: Settings, contract: FeedContract, bronze: DeltaTable,
        silver: DeltaTable, ids: list[str], previous: dict[str, str],
    ) -> Repeats:  # fmt: skip
        """Join the deliveries ``ids`` (read in this order by ``lake_io.read_slices``) that
        have a predecessor in ``previous`` with it; the database lives as long as
        ``stack``."""
        con = stack.enter_context(
            duck.database(settings, f"clean_carry_{contract.feed_id}", in_memory=True)
        )
        out = cls(con, contract)
        mine = [d for d in ids if d in previous]
        positions = out._hashes(bronze, ids, mine)
        out.source, out.params = _previous(con, silver)
        for i, did in enumerate(mine):
            first = con.execute(
                f"SELECT _produced_at FROM {out.source} WHERE _delivery_id = $p LIMIT 1",
                {"p": previous[did], **out.params},
            ).fetchone()
            d_day, p_day = carry.day(positions.get(did)), carry.day(first and first[0])
            if d_day is None or p_day is None or p_day > d_day:
                continue
            name = out.tables[did] = f"carry_{i}"
            out._join(name, did, previous[did])
        con.execute("DROP TABLE d")
        return out

    def _hashes(self, bronze: DeltaTable, ids: list[str], mine: list[str]) -> dict[str, str]:
        """Table ``d``: each delivery's row hashes with their position in the delivery, in
        ``read_slices``' order (the same scan, one column). Returns D's ``_produced_at``."""
        self.con.execute("CREATE TABLE d (did VARCHAR, pos BIGINT, _row_hash VARCHAR)")
        counts: Counter = Counter()
        produced: dict[str, str] = {}
        wanted = pa.array(mine, pa.string())
        for batch in lake.scan_matching(
            bronze, {"_delivery_id": ids}, columns=["_delivery_id", "_row_hash", "_produced_at"]
        ):
            rows = pa.Table.from_batches([batch])
            rows = rows.filter(pc.is_in(rows["_delivery_id"], value_set=wanted))
            if not len(rows):
                continue
            did_col = rows["_delivery_id"]
            pos = np.empty(len(rows), dtype=np.int64)
            for did in pc.unique(did_col).to_pylist():  # Arrow: numpy sorted the strings
                at = np.flatnonzero(pc.equal(did_col, did).to_numpy(zero_copy_only=False))
                pos[at] = counts[did] + np.arange(len(at))
                counts[did] += len(at)
                produced.setdefault(did, rows["_produced_at"][int(at[0])].as_py())
            chunk = pa.table(
                {"did": rows["_delivery_id"], "pos": pos, "_row_hash": rows["_row_hash"]}
            )
            self.con.register("chunk", chunk)
            self.con.execute("INSERT INTO d SELECT * FROM chunk")
            self.con.unregister("chunk")
        return produced

    def _join(self, name: str, did: str, pid: str) -> None:
        """P's candidate rows (no invalid ID) matched to D's positions, stored in position
        order so that a slice's range reads only the row groups that hold it (DuckDB's
        min/max per row group). A hash P holds twice matches twice (``split`` keeps one:
        identical rows clean identically)."""
        valid = " AND ".join(
            f"coalesce({_Q(f'{c}_status')} <> 'invalid', true)" for c in self.contract.id_columns
        )
        cols = ", ".join(_Q(c) for c in self.values)
        self.con.execute(
            f"CREATE TABLE {name} AS SELECT d.pos, {cols} FROM d JOIN {self.source} v USING (_row_hash)"
            f" WHERE d.did = $d AND v._delivery_id = $p AND {valid or 'true'} ORDER BY d.pos",
            {"p": pid, "d": did, **self.params},
        )

    def split(self, did: str, mine: pa.Table, divmap: pa.Table) -> carry.Carried:
        """D's next slice ``mine`` (its rows in read order) split like ``carry.carry``."""
        start = self.read[did]
        self.read[did] += len(mine)
        name = self.tables.get(did)
        if name is None or not len(mine):
            return carry.Carried(tables.silver_schema(self.contract).empty_table(), mine)
        # The table is stored in position order, and a filtered scan keeps it (DuckDB's
        # preserve_insertion_order): sorting the range again cost ~0.4 s per 500,000
        # hukou rows. Checked, and sorted here if it ever came back out of order.
        found = self.con.execute(
            f"SELECT pos - $start AS __at, * EXCLUDE (pos) FROM {name}"
            " WHERE pos >= $start AND pos < $end",
            {"start": start, "end": start + len(mine)},
        ).to_arrow_table()
        at = found["__at"].to_numpy()
        if len(at) > 1 and (at[1:] < at[:-1]).any():
            order = np.argsort(at, kind="stable")
            found, at = found.take(pa.array(order)), at[order]
        if len(at) > 1 and (at[1:] == at[:-1]).any():  # P held the row twice
            once = np.concatenate([[True], at[1:] != at[:-1]])
            found, at = found.filter(pa.array(once)), at[once]
        return carry.repeated(self.contract, mine, pa.array(at), found, divmap)


def _previous(con: duckdb.DuckDBPyConnection, silver: DeltaTable) -> tuple[str, dict]:
    """(SQL source of the silver table's rows, its parameters): its Parquet files read by
    DuckDB itself when the table is plain Parquet (reader version 1: no deletion vectors
    or column mapping; not partitioned), else delta-rs' Arrow dataset. At 1,000,000
    persons the join took 7.5 s through the dataset and 1.7 s on the files."""
    files = lake.plain_parquet_files(silver)
    if files is not None:
        return "read_parquet($files, union_by_name = true)", {"files": [str(f) for f in files]}
    con.register("prev", lake.arrow_dataset(silver))
    return "prev", {}
