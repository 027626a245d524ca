"""Property: the Arrow fast path and the exact row reader read any CSV the same way
(or the fast path declines), so the choice of reader never changes bronze."""

from __future__ import annotations

import csv
import io
from pathlib import Path

import pyarrow as pa
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from civlake.contracts import get_contract
from civlake.ingest.readers import _read_csv_arrow, _read_csv_rows

CONTRACT = get_contract("elderly_allowance")
HEADER = [c.header for c in CONTRACT.columns]
cell = st.text(alphabet=st.sampled_from(list('ab1 ,"\n　张伟·（）x-')), max_size=6)
good_row = st.lists(cell, min_size=len(HEADER), max_size=len(HEADER))
bad_row = st.lists(
    st.text(alphabet="abc12", max_size=3), min_size=1, max_size=len(HEADER) + 2
).filter(lambda r: len(r) != len(HEADER))
line = st.one_of(good_row, bad_row, st.just(None))  # None: a blank line


@settings(
    max_examples=80, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(
    lines=st.lists(line, max_size=8), encoding=st.sampled_from(["utf-8", "utf-8-sig", "gb18030"])
)
def test_fast_path_equals_exact_reader(tmp_path: Path, lines, encoding):
    buf = io.StringIO()
    w = csv.writer(buf, lineterminator="\r\n")
    w.writerow(HEADER)
    for row in lines:
        if row is None:
            buf.write("\r\n")
        else:
            w.writerow(row)
    path = tmp_path / "f.csv"
    path.write_bytes(buf.getvalue().encode(encoding))
    fast = _read_csv_arrow(path, CONTRACT, encoding, "t")
    exact = list(_read_csv_rows(path, CONTRACT, encoding, "t"))
    if fast is None:
        return  # declined: the exact reader is used, nothing to compare
    as_rows = pa.Table.from_batches(fast).to_pylist() if fast else []
    assert as_rows == (pa.Table.from_batches(exact).to_pylist() if exact else [])
