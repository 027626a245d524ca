"""Property: the vectorised blank-to-null of the CSV fast path (readers.blank_to_null)
nulls exactly the values the per-value rule (readers._blank_to_none: str.strip() == "")
nulls, on any text, including every character str.isspace() holds, at any array offset
and with nulls already present."""

from __future__ import annotations

import sys
from unittest import mock

import pyarrow as pa
from hypothesis import given, settings
from hypothesis import strategies as st

from civlake.ingest import readers
from civlake.ingest.readers import _blank_to_none, blank_to_null

SPACES = [chr(c) for c in range(sys.maxunicode + 1) if chr(c).isspace()]
# characters sharing a first UTF-8 byte with a space (C2, E1, E2, E3) but not spaces
NEAR_SPACES = list("\x80\xa1\xb7\u1681\u2010\u2030\u3001\u3002\u30a2\u3400")
text = st.one_of(
    st.text(),
    st.text(alphabet=st.sampled_from(SPACES), max_size=4),
    st.text(alphabet=st.sampled_from([*SPACES, *NEAR_SPACES, "a", "张"]), max_size=5),
)
values = st.lists(st.one_of(text, st.none()), max_size=40)


def test_every_space_character_is_blank_and_known():
    # the lead-byte table must cover every space Python knows (29 in Unicode 15)
    assert len(SPACES) >= 29
    with mock.patch.object(readers, "_FEW", 0):  # the vectorised path, however short
        assert blank_to_null(pa.array(SPACES)).null_count == len(SPACES)
        assert blank_to_null(pa.array(["".join(SPACES), " x ", "\u3000张"])).to_pylist() == [
            None, " x ", "\u3000张",
        ]  # fmt: skip


@settings(max_examples=300, deadline=None)
@given(values=values, start=st.integers(0, 5), few=st.sampled_from([0, readers._FEW]))
def test_vectorised_equals_the_per_value_rule(values, start, few):
    # few=0: every array takes the vectorised path; else the short ones go value by value
    array = pa.array(values, pa.string()).slice(min(start, len(values)))
    expected = [_blank_to_none(v) for v in array.to_pylist()]
    with mock.patch.object(readers, "_FEW", few):
        out = blank_to_null(array)
    out.validate(full=True)
    assert out.type == pa.string()
    assert out.to_pylist() == expected
    assert out.null_count == expected.count(None)


def test_no_blank_returns_the_array_itself():
    array = pa.array(["张伟", "a", "1"] * readers._FEW)
    assert blank_to_null(array) is array
