"""Citizen ID (GB 11643) and USCC (GB 32100) canonicalisers: known answers and properties."""

from __future__ import annotations

from datetime import date

from hypothesis import given, settings
from hypothesis import strategies as st

from civlake.clean import canon
from tests.fixtures.foreign import ids as oracle

PRODUCED = date(2026, 11, 1)
# Independent oracle: the check characters written out longhand from the standards.
check_char = oracle.id_check


def passes_check(idn: str) -> bool:
    return len(idn) == 18 and idn[:17].isdigit() and idn[17] == check_char(idn[:17])


def run(values: list[str | None]) -> list[tuple[str | None, str]]:
    v, s = canon.citizen_id(values, produced_at=PRODUCED)
    return list(zip(v.to_pylist(), s.to_pylist(), strict=True))


def test_known_answers() -> None:
    assert run(["11010519491231002X"]) == [("11010519491231002X", "valid")]
    assert run(["11010519491231002x"]) == [("11010519491231002X", "normalized")]
    # typo in the last digit before the check char breaks it
    assert run(["110105194912310029"]) == [("110105194912310029", "invalid")]


def test_dirt_variants_are_normalized() -> None:
    good = "440106199001011239"
    assert passes_check(good[:17] + check_char(good[:17]))
    good = good[:17] + check_char(good[:17])
    full_width = "".join(chr(ord(c) + 0xFEE0) if c.isdigit() else c for c in good)
    dirty = [
        full_width,
        f"'{good}",
        f"{good[:6]} {good[6:14]} {good[14:]}",
        f"{good[:6]}-{good[6:14]}-{good[14:]}",
        f" {good} ",
    ]
    assert run(dirty) == [(good, "normalized")] * len(dirty)


def test_fifteen_digit_upgrade_inserts_19_and_recomputes_check() -> None:
    [(value, status)] = run(["110105491231002"])
    assert status == "upgraded_15"
    assert value == "11010519491231002X"
    assert passes_check(value)


def test_missing_blank_and_scientific_notation() -> None:
    assert (
        run([None, "", "  ", "　", "4.40106199001011e+17", "4.40106199001011E+17"])
        == [(None, "missing")] * 6
    )


def test_birth_date_must_be_real_and_in_range() -> None:
    def with_birth(b: str) -> str:
        body = "440106" + b + "123"
        return body + check_char(body)

    out = run([with_birth("20260230"), with_birth("18891231"), with_birth("20261102")])
    assert [s for _, s in out] == ["invalid", "invalid", "invalid"]
    assert run([with_birth("18900101"), with_birth("20261101")])[0][1] == "valid"
    assert run([with_birth("20261101")])[0][1] == "valid"


ID_DIRT = st.sampled_from(["", " ", "-", "'", "x", "X", "　", "e+17", "."])
digits = st.text(alphabet="0123456789", min_size=0, max_size=20)


@settings(max_examples=60, deadline=None)
@given(st.lists(st.one_of(st.none(), st.text(max_size=25), digits), max_size=30))
def test_never_raises_and_is_idempotent(values: list[str | None]) -> None:
    first, status = canon.citizen_id(values, produced_at=PRODUCED)
    again, _ = canon.citizen_id(first, produced_at=PRODUCED)
    assert first.to_pylist() == again.to_pylist()
    assert set(status.to_pylist()) <= {"valid", "normalized", "upgraded_15", "invalid", "missing"}


@settings(max_examples=60, deadline=None)
@given(st.lists(st.tuples(digits, ID_DIRT, digits), max_size=30))
def test_everything_called_valid_passes_the_check(parts: list[tuple[str, str, str]]) -> None:
    values = [a + d + b for a, d, b in parts]
    for value, status in run(values):
        if status in {"valid", "normalized", "upgraded_15"}:
            assert passes_check(value)
            assert date(1890, 1, 1) <= date(int(value[6:10]), int(value[10:12]), int(value[12:14]))


@settings(max_examples=60, deadline=None)
@given(
    st.text(alphabet="0123456789", min_size=6, max_size=6),
    st.dates(min_value=date(1900, 1, 1), max_value=date(1999, 12, 31)),
    st.text(alphabet="0123456789", min_size=3, max_size=3),
)
def test_every_fifteen_digit_upgrade_is_valid(area: str, born: date, seq: str) -> None:
    legacy = area + born.strftime("%y%m%d") + seq
    [(value, status)] = run([legacy])
    assert status == "upgraded_15"
    assert value == area + born.strftime("%Y%m%d") + seq + value[-1]
    assert passes_check(value)


# --- USCC ------------------------------------------------------------------------------
ALPHA = "0123456789ABCDEFGHJKLMNPQRTUWXY"


def uscc_check(first17: str) -> str:
    return oracle.uscc(first17)[-1]


def test_uscc_known_and_dirty() -> None:
    good = "91350100M000100Y43"
    assert uscc_check(good[:17]) == good[17]
    v, s = canon.uscc([good, good.lower(), f" {good[:9]} {good[9:]}", good[:17] + "4", None, ""])
    assert v.to_pylist()[:3] == [good] * 3
    assert s.to_pylist() == ["valid", "normalized", "normalized", "invalid", "missing", "missing"]


@settings(max_examples=60, deadline=None)
@given(st.lists(st.text(alphabet=ALPHA + "iozsv -", min_size=0, max_size=20), max_size=30))
def test_uscc_valid_means_check_passes(values: list[str]) -> None:
    v, s = canon.uscc(values)
    again, _ = canon.uscc(v)
    assert again.to_pylist() == v.to_pylist()
    for value, status in zip(v.to_pylist(), s.to_pylist(), strict=True):
        if status in {"valid", "normalized"}:
            assert len(value) == 18 and uscc_check(value[:17]) == value[17]
