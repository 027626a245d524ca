"""The clean gate splits a cleaned slice into its deliveries' rows once: each
delivery's rows in the slice's order, whether they come as one run (bronze order, a
zero-copy slice) or scattered (filtered)."""

from __future__ import annotations

import pyarrow as pa
import pyarrow.compute as pc
from hypothesis import given, settings
from hypothesis import strategies as st

from civlake.clean import runs


def _table(ids: list[str], chunk: int) -> pa.Table:
    n = len(ids)
    whole = pa.table({"_delivery_id": pa.array(ids, pa.string()),
                      "row": pa.array(range(n), pa.int64())})  # fmt: skip
    return pa.Table.from_batches(whole.to_batches(max_chunksize=chunk), schema=whole.schema)


@settings(max_examples=300, deadline=None)
@given(
    runs_=st.lists(st.tuples(st.sampled_from("abcde"), st.integers(1, 30)), max_size=12),
    chunk=st.integers(1, 40),
)
def test_each_delivery_gets_its_rows_in_order(runs_, chunk):
    ids = [did for did, n in runs_ for _ in range(n)]
    table = _table(ids, chunk)
    split = runs._by_delivery(table)
    assert set(split) == set(ids)
    for did, rows in split.items():
        expected = table.filter(pc.equal(table["_delivery_id"], did))
        assert rows.to_pydict() == expected.to_pydict()
        assert rows.schema == table.schema
    assert sum(len(t) for t in split.values()) == len(table)


def test_a_delivery_in_one_run_is_a_slice_of_the_table():
    table = _table(["d1"] * 3 + ["d2"] * 4, chunk=5)
    split = runs._by_delivery(table)
    assert split["d2"]["row"].to_pylist() == [3, 4, 5, 6]
    assert runs._by_delivery(table.slice(0, 0)) == {}
