"""JSONL: the byte reader (msgspec, a column at a time) gives the text reader's batches.

``readers.read_jsonl`` reads a UTF-8 file with LF or CRLF line ends through
``_read_jsonl_bytes`` and any other through ``_read_jsonl_text``, the line-at-a-time
reader bronze was first written with. Rows, values, ``_extra``, ``_malformed``,
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
                                 "not_an_object", "malformed"]))  # fmt: skip
    if kind == "record":
        return json.dumps(draw(records), ensure_ascii=draw(st.booleans()))
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


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    body=st.lists(lines(), max_size=12),
    ending=st.sampled_from(["\n", "\r\n"]),
    bom=st.booleans(),
    final_newline=st.booleans(),
    batch_rows=st.integers(1, 5),
    block=st.integers(1, 64),
)
def test_the_byte_reader_gives_the_text_readers_batches(body, ending, bom, final_newline,
                                                        batch_rows, block):  # fmt: skip
    text = ending.join(body) + (ending if final_newline and body else "")
    data = (b"\xef\xbb\xbf" if bom else b"") + text.encode("utf-8")
    with (
        tempfile.TemporaryDirectory() as tmp,
        mock.patch.object(readers, "BATCH_ROWS", batch_rows),
        mock.patch.object(readers, "JSONL_BLOCK", block),  # blocks of a few lines, or one
    ):
        path = Path(tmp) / "f.jsonl"
        path.write_bytes(data)
        assert not readers._lone_carriage_return(path)
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


@pytest.mark.parametrize(
    ("data", "lone"),
    [(b'{"a": 1}\r{"a": 2}', True), (b'{"a": 1}\r\n{"a": 2}\r\n', False),
     (b'{"a": 1}\r', True), (b"", False)],
)  # fmt: skip
def test_a_lone_carriage_return_sends_the_file_to_the_text_reader(tmp_path, data, lone):
    # universal newlines split a line at a lone CR; a binary read would not
    path = tmp_path / "f.jsonl"
    path.write_bytes(data)
    assert readers._lone_carriage_return(path) is lone
    if lone:
        rows = _read(readers.read_jsonl, path, "utf-8")
        assert rows == _read(readers._read_jsonl_text, path, "utf-8")


def test_a_cr_at_a_scan_chunk_boundary_is_not_lone(tmp_path):
    path = tmp_path / "f.jsonl"
    path.write_bytes(b'{"a": 1}\r\n' * 3)
    with mock.patch.object(readers, "SCAN_CHUNK", 9):  # each chunk ends in its \r
        assert not readers._lone_carriage_return(path)
