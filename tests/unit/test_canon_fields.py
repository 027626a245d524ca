"""Every dirt variant of SOURCE_FEEDS.md section 2, field kind by field kind."""

from __future__ import annotations

from datetime import UTC, date, datetime
from decimal import Decimal

import pytest

from civlake.clean import canon


def test_names_spaces_traditional_dots_and_remarks() -> None:
    value, note = canon.name(
        ["张 伟", "張偉", "阿依古丽•买买提", "阿依古丽.买买提", "阿依古丽．买买提", "李娜（已故）",
         "李娜(已故)", "歐陽 鋒（重复）（已故）", None, "  ", "李娜【已故】", "李娜 [重复]〔已故〕"]
    )  # fmt: skip
    assert value.to_pylist() == [
        "张伟", "张伟", "阿依古丽·买买提", "阿依古丽·买买提", "阿依古丽·买买提", "李娜", "李娜",
        "欧阳锋", None, None, "李娜", "李娜",
    ]  # fmt: skip
    remarks = ["已故", "已故", "重复；已故", None, None, "已故", "重复；已故"]
    assert note.to_pylist() == [None] * 5 + remarks


def test_dates_every_variant() -> None:
    got = canon.date_(
        ["2026-01-05", "20260105", "2026/1/5", "2026.1.5", "2026年1月5日", "46027", "", None,
         "2026-01-05 00:00:00", "２０２６-０１-０５"]
    )  # fmt: skip
    expected = date(2026, 1, 5)
    assert got.to_pylist() == [expected] * 6 + [None, None, expected, expected]


def test_excel_date_time_serial_reads_as_its_day() -> None:
    # XLSX date-time cells that arrive as plain numbers carry the time as a fraction.
    got = canon.date_(["43832.5", "43832.999", "43832.0"]).to_pylist()
    assert got == [date(2020, 1, 2)] * 3


@pytest.mark.parametrize(
    "bad", ["2026-02-30", "2026-13-01", "20261340", "昨天", "2026-1", "12/31/2026"]
)
def test_impossible_dates_are_null_but_present(bad: str) -> None:
    assert canon.date_([bad]).to_pylist() == [None]
    assert canon.is_present([bad]).to_pylist() == [True]


def test_timestamps_iso_and_date_variants() -> None:
    got = canon.timestamp(
        ["2026-11-01T02:00:00+08:00", "2026-10-31T18:00:00Z", "2026-11-01 02:00:00",
         "2026/11/1 2:00", "2026年11月1日 02:00:00", "20261101020000", "2026-11-01T02:00:00.000+0800",
         "2026-11-01T25:00:00", "not a time"]
    )  # fmt: skip
    expected = datetime(2026, 10, 31, 18, 0, tzinfo=UTC)
    assert got.to_pylist() == [expected] * 7 + [None, None]
    assert canon.timestamp(["2026-11-01"]).to_pylist() == [datetime(2026, 10, 31, 16, tzinfo=UTC)]


def test_months() -> None:
    got = canon.month(
        ["2026-10", "202610", "2026年10月", "2026年1月", "2026-1", "2026-13", "", "abc"]
    )
    assert got.to_pylist() == [
        "2026-10",
        "2026-10",
        "2026-10",
        "2026-01",
        "2026-01",
        None,
        None,
        None,
    ]


def test_amounts() -> None:
    got = canon.amount(
        ["1,120.00", "1120元", "￥1120", "¥1120", "1120.0", "１１２０", "１,１２０．００ 元", "0.005",
         "", "一千", "1.2.3"]
    )  # fmt: skip
    d = Decimal("1120.00")
    assert got.to_pylist() == [d] * 7 + [Decimal("0.01"), None, None, None]
    assert str(got.type) == "decimal128(18, 2)"


def test_integers() -> None:
    assert canon.integer(["3", " 3 ", "3.0", "１２", "1,000", "3.5", "x", None]).to_pylist() == [
        3, 3, 3, 12, 1000, None, None, None,
    ]  # fmt: skip


def test_division_codes_pad_to_twelve() -> None:
    got = canon.division_code(["440106", "440106001", "440106001001", "440106.0", "44010", "abc"])
    assert got.to_pylist() == [
        "440106000000", "440106001000", "440106001001", "440106000000", None, None,
    ]  # fmt: skip


def test_sex() -> None:
    got = canon.sex(["1", "2", "0", "9", "男", "女", "M", "f", "male", "Female", " 男 ", "x", None])
    assert got.to_pylist() == ["1", "2", "0", "9", "1", "2", "1", "2", "1", "2", "1", None, None]


def test_phones() -> None:
    got = canon.phone(
        ["13800138000", "+86 138 0013 8000", "+86-138-0013-8000", "138-0013-8000", "008613800138000",
         "020-83331234", "020 8333 1234", "02083331234", "0757-12345678", "(020)83331234", None]
    )  # fmt: skip
    assert got.to_pylist() == ["13800138000"] * 5 + ["020-83331234"] * 3 + [
        "0757-12345678", "020-83331234", None,
    ]  # fmt: skip


def test_enums_with_synonyms_spaces_and_qualifiers() -> None:
    got = canon.enum(
        ["低保", "低保（城市）", "低保(农村)", " 低　保 ", "最低生活保障", "城乡低保", "五保", "特困人员",
         "低边", "低保边缘家庭", "医保", None, "低保【城市】", "特困[农村]"], "assistance_type"
    )  # fmt: skip
    assert got.to_pylist() == (
        ["低保"] * 6 + ["特困", "特困", "低保边缘", "低保边缘", None, None, "低保", "特困"]
    )
    grades = canon.enum(
        ["一级", "1级", "1", "Ⅰ级", "壹级", "四级", "4", "五级"], "disability_grade"
    )
    assert grades.to_pylist() == ["一级"] * 5 + ["四级", "四级", None]
    tiers = canon.enum(["80～89岁", "80至89岁", "百岁以上", "100岁及以上"], "elderly_tier")
    assert tiers.to_pylist() == ["80-89岁", "80-89岁", "100岁以上", "100岁以上"]


def test_bools() -> None:
    got = canon.boolean(["是", "否", "true", "false", "True", "1", "0", "maybe", None])
    assert got.to_pylist() == [True, False, True, False, True, True, False, None, None]


def test_unknown_enum_name_is_a_clear_error() -> None:
    with pytest.raises(KeyError, match="unknown enum"):
        canon.enum(["x"], "no_such_enum")


def test_negative_amounts_are_unreadable() -> None:
    # A negative 元 amount is impossible in these feeds: AMOUNT_INVALID, never silver
    # (a critical expectation on silver would otherwise stop the whole run).
    assert canon.amount(["-100", "-1,120.00元", "+5"]).to_pylist() == [None, None, Decimal("5.00")]
