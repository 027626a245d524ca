"""Property: the Arrow fast path and the exact row reader read any CSV the same way
(or the fast path declines), so the choice of reader never changes bronze; and
``read_csv``, which streams the file a block at a time and may hand over to the exact
reader mid-file, gives exactly the exact reader's rows whatever the block size."""

from __future__ import annotations

import csv
import io
from pathlib import Path

import pyarrow as pa
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from civlake.contracts import get_contract
from civlake.ingest import readers
from civlake.ingest.readers import _NeedsExactReader, _read_csv_arrow, _read_csv_rows, read_csv

CONTRACT = get_contract("elderly_allowance")
HEADER = [c.header for c in CONTRACT.columns]
# whitespace variants: str.strip() removes each (\v, \x1c-\x1f, NEL, NBSP, U+2028, U+3000)
SPACES = list("\t\x0b\x0c\x1c\x1f\x85\xa0\u1680\u2003\u2028\u202f\u3000")
cell = st.text(alphabet=st.sampled_from(list('ab1 ,"\n　张伟·（）x-') + SPACES), max_size=6)
good_row = st.lists(cell, min_size=len(HEADER), max_size=len(HEADER))
bad_row = st.lists(
    st.text(alphabet="abc12", max_size=3), min_size=1, max_size=len(HEADER) + 2
).filter(lambda r: len(r) != len(HEADER))
plain_cell = st.text(alphabet=st.sampled_from(list("ab1 　张伟·（）x-") + SPACES), max_size=6)
plain_row = st.lists(plain_cell, min_size=len(HEADER), max_size=len(HEADER))
line = st.one_of(good_row, bad_row, st.just(None))  # None: a blank line
# files without quotes: malformed rows stay on the Arrow path, placed by line number
plain_line = st.one_of(plain_row, plain_row, bad_row, st.just(None), st.just([""] * 3))
CASES = settings(
    max_examples=80, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)


def _write(path: Path, lines: list, encoding: str) -> None:
    buf = io.StringIO()
    w = csv.writer(buf, lineterminator="\r\n")
    w.writerow(HEADER)
    for row in lines:
        if row is None:
            buf.write("\r\n")
        else:
            w.writerow(row)
    path.write_bytes(buf.getvalue().encode(encoding))


def _rows(batches: list[pa.RecordBatch]) -> list[dict]:
    return pa.Table.from_batches(batches).to_pylist() if batches else []


@CASES
@given(
    lines=st.lists(line, max_size=8), encoding=st.sampled_from(["utf-8", "utf-8-sig", "gb18030"])
)
def test_fast_path_equals_exact_reader(tmp_path: Path, lines, encoding):
    path = tmp_path / "f.csv"
    _write(path, lines, encoding)
    exact = list(_read_csv_rows(path, CONTRACT, encoding, "t"))
    try:
        fast = list(_read_csv_arrow(path, CONTRACT, encoding, "t"))
    except _NeedsExactReader:
        return  # declined: the exact reader is used, nothing to compare
    assert _rows(fast) == _rows(exact)


@CASES
@given(
    lines=st.lists(st.one_of(line, plain_line), max_size=40),
    quotes=st.booleans(),
    encoding=st.sampled_from(["utf-8", "utf-8-sig", "gb18030"]),
    block=st.sampled_from([300, 700, 4096]),
    batch=st.sampled_from([1, 3, 50_000]),
)
def test_streamed_read_equals_exact_reader_whatever_the_block(
    tmp_path: Path, monkeypatch, lines, quotes, encoding, block, batch
):
    # Small blocks: many blocks per file, malformed rows and blank lines across block
    # edges, and hand-overs to the exact reader after rows were given.
    monkeypatch.setattr(readers, "BLOCK_SIZE", block)
    monkeypatch.setattr(readers, "BATCH_ROWS", batch)
    if not quotes:
        lines = [r if r is None else [c.replace('"', "").replace(",", "").replace("\n", "")
                                      for c in r] for r in lines]  # fmt: skip
    path = tmp_path / "f.csv"
    _write(path, lines, encoding)
    streamed = list(read_csv(path, CONTRACT, encoding, "t"))
    assert all(b.num_rows <= batch for b in streamed)
    assert _rows(streamed) == _rows(list(_read_csv_rows(path, CONTRACT, encoding, "t")))


def test_hand_over_to_the_exact_reader_after_rows_were_given(tmp_path: Path, monkeypatch):
    # A quoted field in the file and a malformed row in a later block: the Arrow path has
    # given the rows of the first blocks when it finds it; the exact reader goes on after.
    monkeypatch.setattr(readers, "BLOCK_SIZE", 300)
    good = ['含"引号', "张伟", "男", "1930-01-01", "440106", "90-99岁", "300", "2020-01",
            "正常", "说明\n两行"]  # fmt: skip
    path = tmp_path / "f.csv"
    _write(path, [good] * 60 + [["a", "b"]] + [good] * 5, "gb18030")
    given_rows = 0
    try:
        for batch in _read_csv_arrow(path, CONTRACT, "gb18030", "t"):
            given_rows += batch.num_rows
    except _NeedsExactReader:
        pass
    else:
        raise AssertionError("the Arrow path must decline a malformed row in a quoted file")
    assert 0 < given_rows < 60
    exact = _rows(list(_read_csv_rows(path, CONTRACT, "gb18030", "t")))
    assert _rows(list(read_csv(path, CONTRACT, "gb18030", "t"))) == exact
    assert [r["_source_row"] for r in exact if r["_malformed"]] == [61]
