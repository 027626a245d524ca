"""XLSX: a sheet read a column at a time gives what the row-at-a-time rules give.

``readers._sheet_batch`` turns a sheet's rows (as calamine returns them) into one reader
batch a column at a time. The reference below is the row-at-a-time reader bronze was
first written with, built from the module's own per-row rules (``_cell_to_str``,
``TOTAL_ROW``, ``_emit``): every value, ``_extra``, ``_source_row`` and the rows left
out (blank, 合计) must be the same."""

from __future__ import annotations

import io
import math
import zipfile
from datetime import date, datetime, time

import pyarrow as pa
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from civlake.contracts import get_contract
from civlake.ingest import readers

CONTRACT = get_contract("child_welfare")
HEADERS = [c.header for c in CONTRACT.columns] + ["备注", "联系人", "备注"]
REQUIRED = [c.header for c in CONTRACT.columns if c.required]

cells = st.one_of(
    st.none(),
    st.sampled_from(["", " ", "\u3000", "合计", " 合 计", "总计：3", "小计", "计划", "合"]),
    st.text(max_size=6),
    st.integers(-(10**16), 10**16),
    st.floats(allow_infinity=False),
    st.booleans(),
    st.dates(),
    st.datetimes(),
    st.times(),
)


def _reference(rows: list[list], header: list[str], positions, rows_before: int) -> list[dict]:
    builder = readers._BatchBuilder(CONTRACT.names)
    row_no = rows_before
    for row in rows:
        values = [readers._cell_to_str(c) for c in row][: len(header)]
        filled = [v for v in values if v is not None]
        if not filled or readers.TOTAL_ROW.match(filled[0]):
            continue
        row_no += 1
        values += [None] * (len(header) - len(values))
        readers._emit(builder, len(CONTRACT.columns), positions, header, values, row_no)
    return pa.Table.from_batches([builder.flush()]).to_pylist()


@settings(max_examples=200, deadline=None)
@given(
    header=st.lists(st.sampled_from(HEADERS), max_size=8).flatmap(
        lambda h: st.permutations([*REQUIRED, *h])
    ),
    body=st.lists(st.lists(cells, max_size=10), max_size=12),
    rows_before=st.integers(0, 5),
)
def test_a_sheet_read_by_column_equals_the_row_rules(header, body, rows_before):
    positions = readers._positions(CONTRACT, readers._map_header(CONTRACT, header, "t"))
    got = readers._sheet_batch(body, header, positions, CONTRACT, rows_before)
    assert pa.Table.from_batches([got]).to_pylist() == _reference(
        body, header, positions, rows_before
    )


def test_a_cell_reads_as_what_a_person_sees():
    cells = [" 张三 ", "\u3000", None, 3.0, 1e15, math.nan, True, date(2026, 1, 2),
             datetime(2026, 1, 2, 3, 4), datetime(2026, 1, 2), time(8, 30)]  # fmt: skip
    assert readers._as_text(cells, readers._cell_to_str).to_pylist() == [
        " 张三 ", None, None, "3", "1e+15", None, "true", "2026-01-02", "2026-01-02T03:04:00",
        "2026-01-02", "08:30:00",
    ]  # fmt: skip


@pytest.mark.parametrize(
    ("xml", "has"),
    [(b'<c r="A1" t="e"><v>#N/A</v></c>', True), (b"<c r='A1' t='e'>", True),
     (b'<c r="A1" t = "e">', True), (b'<x:c r="A1"\tt="e">', True),
     (b'<c r="A1" t="s"><v>0</v></c>', False), (b'<c r="A1" s="e" t="n">', False),
     (b'<c r="A1" at="e">', False), (b"", False)],
)  # fmt: skip
def test_error_cells_are_found_in_a_sheets_xml(xml, has):
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as archive:
        archive.writestr("xl/worksheets/sheet1.xml", b"<sheetData><row>" + xml + b"</row>")
    with zipfile.ZipFile(buf) as archive:
        assert readers._has_error_cells(archive, "xl/worksheets/sheet1.xml") is has
