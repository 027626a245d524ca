"""The vectorised macros agree with the independent row-at-a-time reference (tests/support/scalar.py)."""

from __future__ import annotations

from datetime import date

from hypothesis import given, settings
from hypothesis import strategies as st

from civlake.clean import canon
from civlake.contracts import load_enums
from tests.support import scalar

PRODUCED = date(2026, 11, 1)
PARTS = st.sampled_from(
    ["4401", "0619", "900101", "123", "x", "X", "-", " ", "'", "　", "４", "e+17", ".", "1", "0",
     "2026", "年", "月", "日", "/", "元", "￥", ",", "（", "）", "(", ")", "已故", "張", "偉", "·",
     "•", "．", "+86", "138", "020", "低保", "城市", "五保", "男", "F", "1,120.00", "45000"]
)  # fmt: skip
values = st.lists(st.one_of(st.none(), st.lists(PARTS, max_size=8).map("".join)), max_size=30)
PROPS = settings(max_examples=50, deadline=None)


@PROPS
@given(values)
def test_ids_and_uscc(vs: list[str | None]) -> None:
    v, s = canon.citizen_id(vs, produced_at=PRODUCED)
    assert list(zip(v.to_pylist(), s.to_pylist(), strict=True)) == [
        scalar.citizen_id(x, PRODUCED) for x in vs
    ]
    u, us = canon.uscc(vs)
    assert list(zip(u.to_pylist(), us.to_pylist(), strict=True)) == [scalar.uscc(x) for x in vs]


@PROPS
@given(values)
def test_text_kinds(vs: list[str | None]) -> None:
    n, note = canon.name(vs)
    assert list(zip(n.to_pylist(), note.to_pylist(), strict=True)) == [scalar.name(x) for x in vs]
    assert canon.phone(vs).to_pylist() == [scalar.phone(x) for x in vs]
    assert canon.sex(vs).to_pylist() == [scalar.sex(x) for x in vs]
    enums = load_enums()["assistance_type"]
    assert canon.enum(vs, "assistance_type").to_pylist() == [scalar.enum(x, enums) for x in vs]


@PROPS
@given(values)
def test_numeric_and_temporal_kinds(vs: list[str | None]) -> None:
    assert canon.date_(vs).to_pylist() == [scalar.date_(x) for x in vs]
    assert canon.month(vs).to_pylist() == [scalar.month(x) for x in vs]
    assert canon.amount(vs).to_pylist() == [scalar.amount(x) for x in vs]
    assert canon.division_code(vs).to_pylist() == [scalar.division_code(x) for x in vs]
