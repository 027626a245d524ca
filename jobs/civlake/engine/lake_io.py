"""The lake-I/O interface both engines implement, and the small things both share.

``LakeIO`` names every Delta operation the jobs run on either engine: whole-table reads
and writes and the row-level ones (``read_matching``, ``count_by``, ``merge_delete``,
``merge_update``, ``retry``). Exactly two classes implement it: ``civlake.lake.DeltaRs``
(the embedded engine, delta-rs) and ``civlake.engine.spark_io.DeltaSpark`` (delta-spark).
Neither imports the other; both import this module. Ids are matched as values (an Arrow
filter, a Spark literal, a MERGE source table), never pasted into SQL.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import Any, Protocol, TypeVar, runtime_checkable

import pyarrow as pa

T = TypeVar("T")
# column -> the values a row may hold there (a list) or must hold (one string). Matching
# rows by value, never by SQL pasted from strings: delivery ids come from upstream
# manifests (clean/lake_io.py).
Match = Mapping[str, Sequence[str] | str]
RETRIES = 6


def exists(path: Path) -> bool:
    return (path / "_delta_log").is_dir()


def match_source(match: Match) -> pa.Table:
    """``match`` as a MERGE source table: one row per listed value, constants repeated."""
    lists = [list(v) for v in match.values() if not isinstance(v, str)]
    if len(lists) > 1:
        raise ValueError("merge_delete: at most one column may list several values")
    n = len(sorted(set(lists[0]))) if lists else 1
    return pa.table(
        {
            col: pa.array([want] * n if isinstance(want, str) else sorted(set(want)), pa.string())
            for col, want in match.items()
        }
    )


def nothing_to_match(path: Path, match: Match) -> bool:
    """True when a delete by ``match`` cannot touch a row: no table, or an empty list."""
    return not exists(path) or any(not isinstance(v, str) and not v for v in match.values())


def retry_on(conflicts: tuple[type[BaseException], ...], op: Callable[[], T]) -> T:
    """Run a commit, again after one of ``conflicts`` (a concurrent writer: an ingest
    appending audit rows while the clean gate updates them), with backoff."""
    for attempt in range(RETRIES):
        try:
            return op()
        except conflicts:
            if attempt == RETRIES - 1:
                raise
            time.sleep(0.2 * 2**attempt)
    raise AssertionError("unreachable")


@runtime_checkable
class LakeIO(Protocol):
    """Delta I/O of one engine: Arrow in and out (and, on Spark, DataFrames in)."""

    name: str

    def exists(self, path: Path) -> bool:
        """True when a Delta table is at ``path``."""
        ...

    def read_arrow(
        self, path: Path, *, filter_sql: str | None = None, columns: list[str] | None = None
    ) -> pa.Table | None:
        """The table (rows matching a DuckDB-dialect ``where`` clause); None if absent."""
        ...

    def append(self, path: Path, data: Any, *, schema_mode: str | None = "merge") -> None:
        """Append in one commit; ``schema_mode="merge"`` adds new columns."""
        ...

    def overwrite(self, path: Path, data: Any) -> None:
        """Replace the table's rows and schema in one commit."""
        ...

    def delete_where(self, path: Path, predicate: str) -> int:
        """Delete rows matching a DuckDB-dialect predicate; rows deleted (0: no table)."""
        ...

    def read_matching(
        self, table: Any, match: Match, *, columns: list[str] | None = None
    ) -> pa.Table | None:
        """Rows whose columns hold the values in ``match`` (None: no table)."""
        ...

    def read_distinct(self, path: Path, columns: list[str]) -> pa.Table | None:
        """The distinct combinations of ``columns`` (None: no table)."""
        ...

    def count_by(self, table: Any, column: str, *, match: Match | None = None) -> dict[str, int]:
        """Row count per value of ``column`` (of the rows matching ``match``)."""
        ...

    def merge_delete(self, path: Path, match: Match) -> int:
        """Delete the rows matching ``match`` with one MERGE; no match, no commit."""
        ...

    def merge_update(self, path: Path, source: pa.Table, on: list[str]) -> None:
        """Set every non-key column of ``source`` on the target rows matching it on ``on``."""
        ...

    def retry(self, op: Callable[[], T]) -> T:
        """Run a commit again after a conflict with a concurrent writer."""
        ...


def table_location(table: Any) -> Path:
    """A table argument (a path, or delta-rs's open ``DeltaTable``) as its path."""
    uri = getattr(table, "table_uri", None)
    return Path(uri.removeprefix("file://")) if uri is not None else Path(table)
