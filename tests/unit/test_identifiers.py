"""civlake.identifiers: stdnum's check characters against the standards written out by hand
(tests/fixtures/foreign/ids.py) and against the weight tables the vectorised checks use."""

from __future__ import annotations

from datetime import date

import numpy as np
from hypothesis import given
from hypothesis import strategies as st

from civlake.generate.ids import id_check_chars
from civlake.identifiers import (
    CITIZEN_ID_CHECK,
    CITIZEN_ID_WEIGHTS,
    USCC_ALPHABET,
    USCC_WEIGHTS,
    birth_from_id,
    id_check_char,
    is_valid_id,
    is_valid_uscc,
    to_15,
    upgrade_15,
    uscc_check_char,
)
from tests.fixtures.foreign import ids as oracle

BODIES = st.text("0123456789", min_size=17, max_size=17)
USCC_BODIES = st.text(USCC_ALPHABET, min_size=17, max_size=17)
# Near misses as well as noise: wrong lengths, letters, full-width and non-decimal digits.
ID_LIKE = st.one_of(
    st.text(max_size=20),
    st.text("0123456789Xx１２٣²", min_size=16, max_size=19),
    BODIES.map(lambda b: b + oracle.id_check(b)),
)


def test_published_examples():
    assert is_valid_id("11010519491231002X") and id_check_char("11010519491231002") == "X"
    assert not is_valid_id("110105194912310021") and not is_valid_id(None)
    assert is_valid_uscc("91350100M000100Y43") and not is_valid_uscc("91350100M000100Y44")


@given(BODIES)
def test_id_check_char_is_gb_11643(body):
    weighted = sum(int(d) * w for d, w in zip(body, CITIZEN_ID_WEIGHTS, strict=True))
    assert id_check_char(body) == oracle.id_check(body) == CITIZEN_ID_CHECK[weighted % 11]


@given(st.lists(BODIES, min_size=1, max_size=20))
def test_vectorised_check_chars_agree(bodies):
    digits = np.array([[int(c) for c in b] for b in bodies])
    assert list(id_check_chars(digits)) == [id_check_char(b) for b in bodies]


@given(ID_LIKE)
def test_is_valid_id_is_format_and_check_only(value):
    expected = len(value) == 18 and value[:17].isdecimal() and oracle.is_valid(value)
    assert is_valid_id(value) == expected


@given(st.text("0123456789", min_size=15, max_size=15))
def test_15_digit_upgrade_round_trips(legacy):
    full = upgrade_15(legacy)
    assert is_valid_id(full) and full[6:8] == "19" and to_15(full) == legacy


@given(
    st.dates(date(1890, 1, 1), date(2026, 12, 31)), st.text("0123456789", min_size=3, max_size=3)
)
def test_birth_date_from_id(born, seq):
    assert birth_from_id(oracle.citizen_id("440106", f"{born:%Y%m%d}", seq)) == born


def test_birth_date_from_typo_and_impossible_ids():
    assert birth_from_id("44010619501301123X") is None  # month 13
    assert birth_from_id("440106188912311230") is None  # before 1890: a typo
    assert birth_from_id("440106195012311230") == date(1950, 12, 31)  # check char not read
    assert birth_from_id("4401061950") is None and birth_from_id(None) is None


@given(USCC_BODIES)
def test_uscc_check_char_is_gb_32100(body):
    weighted = sum(USCC_ALPHABET.index(c) * w for c, w in zip(body, USCC_WEIGHTS, strict=True))
    assert uscc_check_char(body) == oracle.uscc(body)[-1] == USCC_ALPHABET[-weighted % 31]


@given(st.one_of(st.text(max_size=19), st.text(USCC_ALPHABET + "IOa -", min_size=17, max_size=19)))
def test_is_valid_uscc(value):
    expected = (
        len(value) == 18
        and all(c in USCC_ALPHABET for c in value)
        and oracle.uscc(value[:17]) == value
    )
    assert is_valid_uscc(value) == expected
