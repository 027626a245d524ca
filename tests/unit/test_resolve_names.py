"""names.normalize_name converts with OpenCC only what OpenCC can change."""

from __future__ import annotations

import pyarrow as pa
from hypothesis import given, settings
from hypothesis import strategies as st

from civlake.hanzi import simplified
from civlake.resolve import names

# Simplified and traditional characters, a phrase OpenCC rewrites only as a whole
# (沈默 -> 沉默), remarks, spaces and middle dots.
ALPHABET = list("张伟王秀英刘国华欧阳明沈默阿依古丽買提張偉劉國華歐陽發髮() （）【】 \u3000·•.．")


def _reference(name: str | None) -> str | None:
    """normalize_name as it was: every text through OpenCC."""
    if name is None:
        return None
    text = names._SPACES.sub("", names._REMARK.sub("", name)).translate(names._DOTS)
    return simplified(text) if text else None


@given(st.one_of(st.none(), st.text(alphabet=ALPHABET, max_size=8)))
def test_normalize_name_equals_converting_every_name(name):
    assert names.normalize_name.__wrapped__(name) == _reference(name)


def test_traditional_names_and_phrases_are_converted():
    assert names.normalize_name.__wrapped__("劉國華") == "刘国华"
    assert names.normalize_name.__wrapped__("沈默") == simplified("沈默") != "沈默"
    assert names._needs_simplifying() is not None  # the fast path is taken


# Every kind of space Python's \s takes (RE2's \s takes only ASCII ones), line breaks a
# remark cannot span, and characters outside the names' script.
SPACES = [c for c in map(chr, range(0x3001)) if c.isspace()]
WIDE = ALPHABET + SPACES + list("\n\r\x1c\x85\u2028[]x1.é\u0301")


@settings(max_examples=300)
@given(st.lists(st.one_of(st.none(), st.text(alphabet=WIDE, max_size=12)), max_size=30))
def test_normalize_names_equals_normalize_name_per_value(values):
    # GIVEN a column of names; WHEN normalised in Arrow, THEN each equals the Python form
    column = pa.array(values, pa.string())
    assert names.normalize_names(column).to_pylist() == [
        names.normalize_name.__wrapped__(v) for v in values
    ]
