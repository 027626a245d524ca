"""lake.overwrite_ordered: a stream of batches becomes one commit that readers see in the
stream's order, and a stream that fails part way leaves the table as it was."""

from __future__ import annotations

import pyarrow as pa
import pytest
from deltalake import DeltaTable

from civlake import lake

pytestmark = pytest.mark.integration
SCHEMA = pa.schema([("n", pa.int64()), ("tag", pa.string()), ("feeds", pa.list_(pa.string()))])


def _batch(start: int, rows: int) -> pa.RecordBatch:
    n = list(range(start, start + rows))
    return pa.record_batch(
        [pa.array(n), pa.array([None if i % 4 == 0 else f"t{i}" for i in n]),
         pa.array([["a", "b"]] * rows, pa.list_(pa.string()))],
        schema=SCHEMA,
    )  # fmt: skip


def _stream(batches) -> pa.RecordBatchReader:
    return pa.RecordBatchReader.from_batches(SCHEMA, batches)


def test_stream_order_kept_in_one_commit(tmp_path):
    # GIVEN 40 batches in descending blocks (an order no writer would pick by itself)
    blocks = [_batch(start, 500) for start in range(19_500, -1, -500)]
    path = tmp_path / "core" / "t"
    # WHEN they are written, then overwritten by a shorter stream
    assert lake.overwrite_ordered(path, _stream(iter(blocks)), row_group_rows=300) == 20_000
    first = lake.read_arrow(path)
    assert lake.overwrite_ordered(path, _stream(iter(blocks[:2])), row_group_rows=300) == 1_000
    # THEN readers see the stream's order, each write is one version, and the log's
    # statistics count the rows and nulls
    expected = [n for b in blocks for n in b.column(0).to_pylist()]
    assert first.column("n").to_pylist() == expected
    assert first.schema == SCHEMA
    assert lake.read_arrow(path).column("n").to_pylist() == expected[:1_000]
    table = DeltaTable(str(path))
    assert table.version() == 1
    adds = pa.table(table.get_add_actions(flatten=True)).to_pylist()
    assert [(a["num_records"], a["null_count.tag"]) for a in adds] == [(1_000, 250)]


def test_failed_stream_leaves_the_old_version(tmp_path):
    # GIVEN a table at version 0
    path = tmp_path / "t"
    lake.overwrite_ordered(path, _stream(iter([_batch(0, 10)])), row_group_rows=300)

    def failing():
        yield _batch(100, 10)
        raise RuntimeError("resolver failed half way")

    # WHEN a stream fails after its first batch
    with pytest.raises(RuntimeError, match="half way"):
        lake.overwrite_ordered(path, _stream(failing()), row_group_rows=300)
    # THEN the table is still version 0 with its rows
    assert DeltaTable(str(path)).version() == 0
    assert lake.read_arrow(path).column("n").to_pylist() == list(range(10))


def test_several_streams_one_file_each_and_none_for_an_empty_one(tmp_path):
    path = tmp_path / "t"
    # WHEN three streams are written, the middle one without rows
    streams = [_stream(iter([_batch(0, 5)])), _stream(iter([])), _stream(iter([_batch(5, 3)]))]
    assert lake.overwrite_ordered(path, streams, row_group_rows=300) == 8
    # THEN one version holds them, in two files (the streams with rows)
    assert sorted(lake.read_arrow(path).column("n").to_pylist()) == list(range(8))
    table = DeltaTable(str(path))
    adds = pa.table(table.get_add_actions(flatten=True)).to_pylist()
    assert table.version() == 0 and sorted(a["num_records"] for a in adds) == [3, 5]
    # AND streams without any row still write the table (one file of none)
    assert (
        lake.overwrite_ordered(path, [_stream(iter([])), _stream(iter([]))], row_group_rows=300)
        == 0
    )
    assert lake.read_arrow(path).num_rows == 0 and DeltaTable(str(path)).version() == 1
