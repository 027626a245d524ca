"""One lake, two writers: what keeps delta-rs and delta-spark tables readable by both.

Both engines write the same Delta tables (``civlake.lake``), so a table one engine
created must be read, appended to, merged into and deleted from by the other. This
module holds the few places where that needs care, each found by
``tests/integration/test_lake_compat.py``:

* Arrow -> Spark: ``createDataFrame`` maps a naive Arrow timestamp to Spark's
  ``timestamp`` (with local time zone) unless ``spark.sql.timestampType`` says
  otherwise, so appending to a delta-rs table with a ``timestamp_ntz`` column failed
  with ``DELTA_FAILED_TO_MERGE_FIELDS``. ``spark_frame`` keeps the Arrow types exactly.
* Protocol: each writer upgrades a table to the reader/writer features its columns and
  properties need (``timestampNtz`` for naive timestamps, ``changeDataFeed`` for CDF);
  ``SHARED_*_FEATURES`` are the features both engines were shown to read and write, and
  ``check_protocol`` refuses a table that needs more (e.g. ``deletionVectors``, which
  Spark writes when asked: delta-rs then refuses to read the table yet still appends to it)
  before a job half-runs.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

import pyarrow as pa

# Features a table may carry and still be read and written by delta-rs (deltalake 1.6)
# and delta-spark 4.4. Spark lists the legacy ones (appendOnly, invariants) explicitly
# once a table is on writer version 7; delta-rs accepts them.
SHARED_READER_FEATURES = frozenset({"timestampNtz"})
SHARED_WRITER_FEATURES = frozenset({"timestampNtz", "changeDataFeed", "appendOnly", "invariants"})
CDF_PROPERTIES = {"delta.enableChangeDataFeed": "true"}


class LakeCompatError(RuntimeError):
    """A table carries a Delta feature one of the two engines cannot handle."""


@dataclass(frozen=True)
class Protocol:
    """A Delta table's protocol as the log states it, plus who wrote each commit."""

    min_reader: int
    min_writer: int
    reader_features: frozenset[str]
    writer_features: frozenset[str]
    configuration: dict[str, str]
    engines: tuple[str, ...]  # commitInfo.engineInfo per commit, oldest first

    def __str__(self) -> str:
        return (
            f"reader v{self.min_reader} {sorted(self.reader_features)}, "
            f"writer v{self.min_writer} {sorted(self.writer_features)}, "
            f"config {self.configuration}, engines {list(self.engines)}"
        )


def read_protocol(path: Path) -> Protocol:
    """The table's current protocol and properties, read from ``_delta_log`` JSON commits.

    Read from the log itself (not through either engine's API) so the test sees exactly
    what each writer put there. Tables with checkpoints are read through delta-rs.
    """
    log = Path(path) / "_delta_log"
    protocol: dict = {}
    configuration: dict[str, str] = {}
    engines: list[str] = []
    commits = sorted(log.glob("*.json"))
    if list(log.glob("*.checkpoint*.parquet")):
        return _from_deltalake(path, engines=_engines(commits))
    for commit in commits:
        for line in commit.read_text().splitlines():
            action = json.loads(line)
            if "protocol" in action:
                protocol = action["protocol"]
            elif "metaData" in action:
                configuration = action["metaData"].get("configuration") or {}
            elif "commitInfo" in action:
                engines.append(action["commitInfo"].get("engineInfo", "?"))
    return Protocol(
        min_reader=protocol.get("minReaderVersion", 1),
        min_writer=protocol.get("minWriterVersion", 2),
        reader_features=frozenset(protocol.get("readerFeatures") or ()),
        writer_features=frozenset(protocol.get("writerFeatures") or ()),
        configuration=dict(configuration),
        engines=tuple(engines),
    )


def _engines(commits: list[Path]) -> list[str]:
    out = []
    for commit in commits:
        for line in commit.read_text().splitlines():
            action = json.loads(line)
            if "commitInfo" in action:
                out.append(action["commitInfo"].get("engineInfo", "?"))
    return out


def _from_deltalake(path: Path, *, engines: list[str]) -> Protocol:
    from deltalake import DeltaTable

    dt = DeltaTable(str(path))
    p = dt.protocol()
    return Protocol(
        min_reader=p.min_reader_version,
        min_writer=p.min_writer_version,
        reader_features=frozenset(p.reader_features or ()),
        writer_features=frozenset(p.writer_features or ()),
        configuration=dict(dt.metadata().configuration),
        engines=tuple(engines),
    )


def check_protocol(path: Path) -> Protocol:
    """The table's protocol, or LakeCompatError naming the features one engine lacks."""
    protocol = read_protocol(path)
    extra_r = protocol.reader_features - SHARED_READER_FEATURES
    extra_w = protocol.writer_features - SHARED_WRITER_FEATURES
    if protocol.min_reader > 3 or protocol.min_writer > 7 or extra_r or extra_w:
        raise LakeCompatError(
            f"{path}: Delta features {sorted(extra_r | extra_w)} are not shared by the "
            f"embedded engine (delta-rs) and the Spark engine ({protocol}); disable them "
            "on the writer (e.g. delta.enableDeletionVectors=false) and rewrite the table"
        )
    return protocol


def spark_frame(spark, table: pa.Table):
    """The Arrow table as a Spark DataFrame with the same column types.

    The schema is given explicitly so naive Arrow timestamps stay ``timestamp_ntz`` and
    zoned ones ``timestamp``, whatever ``spark.sql.timestampType`` the session has.
    """
    from pyspark.sql.pandas.types import from_arrow_schema

    return spark.createDataFrame(
        table, schema=from_arrow_schema(table.schema, prefer_timestamp_ntz=True)
    )
