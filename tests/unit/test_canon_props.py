"""Properties of every canonicaliser: total on arbitrary text, and idempotent."""

from __future__ import annotations

from collections.abc import Callable

import pyarrow as pa
from hypothesis import given, settings
from hypothesis import strategies as st

from civlake.clean import canon

DIRT = "0123456789０１２３年月日-/.:T+Z元￥¥,，．　 ()（）·•張偉李娜已故xXeE"
texts = st.lists(
    st.one_of(st.none(), st.text(max_size=20), st.text(alphabet=DIRT, max_size=20)), max_size=25
)
PROPS = settings(max_examples=40, deadline=None)


def _as_text(arr: pa.Array) -> list[str | None]:
    """Re-deliver a canonical column as strings, the way a later delivery would."""
    return [None if v is None else str(v) for v in arr.to_pylist()]


def _idempotent(fn: Callable[[list[str | None]], pa.Array], values: list[str | None]) -> None:
    first = fn(values)
    assert len(first) == len(values)
    assert fn(_as_text(first)).to_pylist() == first.to_pylist()


@PROPS
@given(texts)
def test_dates(values: list[str | None]) -> None:
    _idempotent(canon.date_, values)


@PROPS
@given(texts)
def test_months(values: list[str | None]) -> None:
    _idempotent(canon.month, values)


@PROPS
@given(texts)
def test_amounts(values: list[str | None]) -> None:
    _idempotent(canon.amount, values)


@PROPS
@given(texts)
def test_integers(values: list[str | None]) -> None:
    _idempotent(canon.integer, values)


@PROPS
@given(texts)
def test_division_codes(values: list[str | None]) -> None:
    _idempotent(canon.division_code, values)


@PROPS
@given(texts)
def test_sex_phone_enum_bool(values: list[str | None]) -> None:
    _idempotent(canon.sex, values)
    _idempotent(canon.phone, values)
    _idempotent(lambda v: canon.enum(v, "assistance_type"), values)
    assert len(canon.boolean(values)) == len(values)


@PROPS
@given(texts)
def test_timestamps_total(values: list[str | None]) -> None:
    out = canon.timestamp(values)
    assert len(out) == len(values)
    iso = [None if v is None else v.isoformat() for v in out.to_pylist()]
    assert canon.timestamp(iso).to_pylist() == out.to_pylist()


@PROPS
@given(texts)
def test_names(values: list[str | None]) -> None:
    value, note = canon.name(values)
    assert len(note) == len(values)
    again, again_note = canon.name(value.to_pylist())
    assert again.to_pylist() == value.to_pylist()
    assert again_note.to_pylist() == [None] * len(values)


ID_LIKE = st.one_of(
    st.text(alphabet="0123456789Xx", min_size=17, max_size=19),
    st.text(alphabet="0123456789Xx#E.+' ０１", min_size=0, max_size=20),
    st.none(),
)


@PROPS
@given(st.lists(ID_LIKE, max_size=25))
def test_id_missing_fast_path_equals_the_three_checks(values: list[str | None]) -> None:
    # cl_id_miss answers "false" for an 18-character digits-and-X value without running
    # the blank, Excel-number and error-value checks: it must agree with them everywhere
    con = canon.connection()
    ids = pa.table({"s": pa.array(values, pa.string())})
    con.register("ids", ids)
    got = con.execute(
        "SELECT cl_id_miss(s) AS fast,"
        " cl_blank(s) IS NULL OR cl_id_sci(s) OR cl_xlerr(s) IS NOT NULL AS checks FROM ids"
    ).to_arrow_table()
    con.unregister("ids")
    assert got["fast"].to_pylist() == got["checks"].to_pylist()


PHONE_LIKE = st.one_of(
    st.from_regex(r"1[0-9]{10}", fullmatch=True),
    st.text(alphabet="0123456789+-() ＋１３　#", min_size=0, max_size=16),
    st.none(),
)


@PROPS
@given(st.lists(PHONE_LIKE, max_size=25))
def test_phone_fast_path_equals_the_full_canonicaliser(values: list[str | None]) -> None:
    # cl_phone returns a value that is already an 11-digit mobile as it is, without
    # folding, stripping and prefix rules: it must agree with them (cl_phone_any) everywhere
    con = canon.connection()
    con.register("phones", pa.table({"s": pa.array(values, pa.string())}))
    got = con.execute("SELECT cl_phone(s) AS fast, cl_phone_any(s) AS full FROM phones")
    got = got.to_arrow_table()
    con.unregister("phones")
    assert got["fast"].to_pylist() == got["full"].to_pylist()
