"""The clean gate's good rows of a slice: the rows without a reason, in order, whether
they are cut out between a few bad rows (zero-copy) or filtered (many)."""

from __future__ import annotations

from unittest import mock

import pyarrow as pa
import pyarrow.compute as pc
from hypothesis import given, settings
from hypothesis import strategies as st

from civlake.clean import frame


@settings(max_examples=300, deadline=None)
@given(flags=st.lists(st.booleans(), max_size=200), few=st.integers(0, 8),
       chunk=st.integers(1, 50))  # fmt: skip
def test_good_rows_are_the_rows_without_a_reason_in_order(flags, few, chunk):
    n = len(flags)
    res = pa.Table.from_batches(
        pa.table(
            {"row": pa.array(range(n), pa.int64()), "v": [f"x{i}" for i in range(n)]}
        ).to_batches(max_chunksize=chunk),
        schema=pa.schema([("row", pa.int64()), ("v", pa.string())]),
    )
    is_bad = pa.chunked_array([pa.array(flags, pa.bool_())], pa.bool_())
    with mock.patch.object(frame, "_FEW_BAD", few):
        good = frame._good_rows(res, is_bad)
    assert good.to_pydict() == res.filter(pc.invert(is_bad)).to_pydict()
    assert good.schema == res.schema
