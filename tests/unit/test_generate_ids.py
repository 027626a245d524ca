"""Check characters of citizen IDs and USCCs, and the dirt variants that must normalise back."""

from __future__ import annotations

import numpy as np
import pytest

from civlake.generate.dirt import _amount, _date, _id, excel_serial
from civlake.generate.ids import id_check_chars, make_uscc
from civlake.generate.names import traditional
from civlake.identifiers import (
    id_check_char,
    is_valid_id,
    is_valid_uscc,
    to_15,
    upgrade_15,
)


def test_known_valid_citizen_ids():
    # GB 11643's published example and a check character of X.
    assert is_valid_id("11010519491231002X")
    assert id_check_char("11010519491231002") == "X"
    assert not is_valid_id("110105194912310021")


def test_vectorised_check_chars_match_scalar():
    bodies = ["44010619800101123", "11010519491231002", "44011820261031999"]
    digits = np.array([[int(c) for c in b] for b in bodies])
    assert list(id_check_chars(digits)) == [id_check_char(b) for b in bodies]


def test_15_digit_round_trip():
    full = "440106" + "19800101" + "123"
    full += id_check_char(full)
    assert len(to_15(full)) == 15
    assert upgrade_15(to_15(full)) == full


def test_uscc_check_char():
    assert is_valid_uscc("91350100M000100Y43")  # GB 32100 published example
    code = make_uscc("1", "440106", "12345678")
    assert code.startswith("51440106") and is_valid_uscc(code)


@pytest.mark.parametrize(
    "kind", ["id_fullwidth", "id_spaces", "id_hyphens", "id_apostrophe", "id_lowercase_x"]
)
def test_id_dirt_normalises_back(kind):
    value = "11010519491231002X"
    dirty = _id(value, kind, np.random.default_rng(0))
    assert dirty != value
    fw = str.maketrans("０１２３４５６７８９", "0123456789")
    clean = dirty.translate(fw).replace(" ", "").replace("-", "").lstrip("'").upper()
    assert clean == value


def test_id_breaking_dirt_breaks():
    value = "11010519491231002X"
    rng = np.random.default_rng(1)
    assert not is_valid_id(_id(value, "id_typo", rng))
    assert _id(value, "id_bad_birthdate", rng)[10:12] == "13"


def test_date_and_amount_variants():
    assert _date("2026-03-05", "date_chinese") == "2026年3月5日"
    assert _date("2026-03-05", "date_slash") == "2026/3/5"
    assert excel_serial("2026-03-05") == 46086
    assert _amount("1120.00", "amount_thousands") == "1,120.00"
    assert _amount("1120.00", "amount_fullwidth") == "１１２０.００"


def test_traditional_variant_round_trips():
    import opencc

    trad = traditional("刘国华")
    assert trad == "劉國華"
    assert opencc.OpenCC("t2s").convert(trad) == "刘国华"
    assert traditional("王丽") in (None, "王麗")
