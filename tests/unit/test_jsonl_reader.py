"""JSONL: the byte reader (msgspec, a column at a time) gives the text reader's batches.

``readers.read_jsonl`` reads a UTF-8 file through ``_read_jsonl_bytes`` and any other
through ``_read_jsonl_text``, the line-at-a-time reader bronze was first written with. Rows, values, ``_extra``, ``_malformed``,
``_source_row`` and the errors must not depend on which one read the file."""

from __future__ import annotations

import json
import tempfile
from pathlib import Path
from unittest import mock

import pyarrow as pa
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from civlake.contracts import get_contract
from civlake.ingest import readers
from civlake.ingest.manifest import DeliveryRejected

CONTRACT = get_contract("benefit_payments")
KEYS = [*CONTRACT.names, "备注", "extra_flag"]
BLANKS = ["", " ", "\u3000", "\t \u00a0", "\x1c"]

scalars = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(min_value=-(10**30), max_value=10**30),
    st.floats(allow_nan=False, allow_infinity=False),
    st.sampled_from(BLANKS),
    st.text(st.characters(exclude_categories=["Cs"]), max_size=12),
)
values = st.one_of(
    scalars,
    st.lists(scalars, max_size=3),
    st.dictionaries(st.text(max_size=3), scalars, max_size=2),
)
records = st.dictionaries(st.sampled_from(KEYS), values, max_size=len(KEYS))
# numbers as senders write them: json.dumps would normalise these
raw_numbers = st.sampled_from(["1.50", "1E5", "-0", "1e400", "-1e-400", "123456789012345678901"])


@st.composite
def lines(draw) -> str:
    kind = draw(st.sampled_from(["record", "record", "record", "raw_number", "blank",
                                 "not_an_object", "malformed", "two_values"]))  # fmt: skip
    if kind == "record":
        return json.dumps(draw(records), ensure_ascii=draw(st.booleans()))
    if kind == "two_values":  # one line to text mode, unless a lone CR splits it
        apart = draw(st.sampled_from(["", " ", "\t", "\r", " \r "]))
        return json.dumps(draw(records)) + apart + json.dumps(draw(st.one_of(records, scalars)))
    if kind == "raw_number":
        return f'{{"{draw(st.sampled_from(CONTRACT.names))}": {draw(raw_numbers)}}}'
    if kind == "blank":
        return draw(st.sampled_from(BLANKS))
    if kind == "not_an_object":
        return json.dumps(draw(st.one_of(scalars, st.lists(scalars, max_size=2))))
    text = st.text(st.characters(exclude_categories=["Cs"], exclude_characters="\r\n\x0b\x0c"
                                 "\x1c\x1d\x1e\x85\u2028\u2029"), max_size=20)  # fmt: skip
    return draw(text)


def _read(reader, path: Path, *args):
    try:
        batches = list(reader(path, CONTRACT, *args, "feed/d1/f.jsonl"))
    except DeliveryRejected as exc:
        return ("rejected", exc.reason, exc.detail)
    return pa.Table.from_batches(batches).to_pylist() if batches else []


@settings(max_examples=500, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    # each line's own end: LF, CRLF or a lone CR (universal newlines split at all three)
    body=st.lists(st.tuples(lines(), st.sampled_from(["\n", "\n", "\r\n", "\r"])), max_size=12),
    bom=st.booleans(),
    final_newline=st.booleans(),
    batch_rows=st.integers(1, 5),
    block=st.one_of(st.integers(1, 64), st.just(1 << 20)),  # a few lines, or all of them
    alone=st.integers(1, 4),  # a block that does not decode is halved down to this
)
def test_the_byte_reader_gives_the_text_readers_batches(body, bom, final_newline, batch_rows,
                                                        block, alone):  # fmt: skip
    text = "".join(line + end for line, end in body)
    if body and not final_newline:
        text = text.removesuffix(body[-1][1])
    data = (b"\xef\xbb\xbf" if bom else b"") + text.encode("utf-8")
    with (
        tempfile.TemporaryDirectory() as tmp,
        mock.patch.object(readers, "BATCH_ROWS", batch_rows),
        mock.patch.object(readers, "JSONL_BLOCK", block),
        mock.patch.object(readers, "_JSONL_LINES_ALONE", alone),
    ):
        path = Path(tmp) / "f.jsonl"
        path.write_bytes(data)
        expected = _read(readers._read_jsonl_text, path, "utf-8")
        assert _read(readers._read_jsonl_bytes, path) == expected


@pytest.mark.parametrize(
    ("data", "row"),
    [(b'{"payment_id": "a"}\n{"payment_id": "\xff"}\n', 2),
     (b'{"payment_id": "a"}\n\n \n\xed\xa0\x80\n', 2)],
)  # fmt: skip
def test_bad_utf8_is_rejected_naming_the_data_row(tmp_path, data, row):
    path = tmp_path / "f.jsonl"
    path.write_bytes(data)
    with pytest.raises(DeliveryRejected) as caught:
        list(readers.read_jsonl(path, CONTRACT, "utf-8", "benefit_payments/d1/f.jsonl"))
    assert caught.value.reason == "ENCODING_ERROR"
    assert f"benefit_payments/d1/f.jsonl: bytes invalid in utf-8 at data row {row}" in (
        caught.value.detail
    )


A = b'{"payment_id": "a", "pay_month": "2026-01", "program_code": "DB", "amount": 1, "status": "x"}'
B = A.replace(b'"a"', b'"b"')


@pytest.mark.parametrize(
    ("data", "rows"),
    [
        (A + b"\r" + B, ["a", "b"]),
        (A + b"\r", ["a"]),
        (A + b"\r\n\r" + B + b"\r\n", ["a", "b"]),
        (A + b" " + B + b"\n\n" + A + b"\n", [None, "a"]),
    ],
)
def test_a_line_is_what_text_mode_reads_as_one(tmp_path, data, rows):
    # universal newlines end a line at a lone CR too; two values on one line are one
    # malformed row, even with a blank line in the same block
    path = tmp_path / "f.jsonl"
    path.write_bytes(data)
    got = _read(readers.read_jsonl, path, "utf-8")
    assert [r["payment_id"] for r in got] == rows
    assert [r["_malformed"] is not None for r in got] == [r is None for r in rows]
    assert got == _read(readers._read_jsonl_text, path, "utf-8")
