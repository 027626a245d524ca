"""Chinese identifiers: citizen IDs (GB 11643-1999) and USCCs (GB 32100-2015).

The one place for their check characters. Scalar checks are python-stdnum's
(``stdnum.cn.ric``, ``stdnum.cn.uscc``); the weight tables are kept here for the
vectorised checks that cannot call Python per value (the clean gate's SQL macros, the
generator's numpy matrices), and tests/unit/test_identifiers.py holds both to the same
answers.

Validity here is format and check character only. ``stdnum``'s ``validate`` also
demands a birthplace in its own division table and, for USCCs, eight leading digits;
the clean gate owns those rules (dates, divisions) and 民政 USCCs may start with a
letter (registering authority A, N or Y), so neither is used.
"""

from __future__ import annotations

from datetime import date

from stdnum.cn import ric, uscc

CITIZEN_ID_WEIGHTS = (7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2)
CITIZEN_ID_CHECK = "10X98765432"  # by the weighted sum modulo 11
USCC_ALPHABET = "0123456789ABCDEFGHJKLMNPQRTUWXY"  # 31 symbols: no I, O, S, V, Z
USCC_WEIGHTS = (1, 3, 9, 27, 19, 26, 16, 17, 20, 29, 25, 13, 8, 24, 10, 30, 28)
# Birth dates before this are typos, not people (the clean gate's bound as well).
EARLIEST_BIRTH = date(1890, 1, 1)


def id_check_char(body17: str) -> str:
    """The check character of the 17-digit body of a citizen ID (ValueError otherwise)."""
    if len(body17) != 17 or not body17.isdecimal():
        raise ValueError(f"not a 17-digit citizen ID body: {body17!r}")
    # stdnum takes the whole number and ignores its last character.
    return ric.calc_check_digit(body17 + "0")


def is_valid_id(value: str | None) -> bool:
    """18 characters, 17 digits and the right check character."""
    return (
        value is not None
        and len(value) == 18
        and value[:17].isdecimal()
        and id_check_char(value[:17]) == value[17]
    )


def upgrade_15(value: str) -> str:
    """The 18-character ID of a legacy 15-digit one (all issued to people born 19xx)."""
    body = value[:6] + "19" + value[6:15]
    return body + id_check_char(body)


def to_15(id18: str) -> str:
    """The legacy 15-digit form of an ID of someone born in the 1900s."""
    return id18[:6] + id18[8:17]


def birth_from_id(id_number: str | None) -> date | None:
    """Birth date in ID chars 7-14 when it is a real date (also for typo'd IDs)."""
    if not id_number or len(id_number) != 18 or not id_number[6:14].isdigit():
        return None
    try:
        born = date(int(id_number[6:10]), int(id_number[10:12]), int(id_number[12:14]))
    except ValueError:
        return None
    return born if born >= EARLIEST_BIRTH else None


def uscc_check_char(body17: str) -> str:
    """The check character of the first 17 characters of a USCC."""
    return uscc.calc_check_digit(body17)


def is_valid_uscc(value: str | None) -> bool:
    """18 characters of the USCC alphabet and the right check character."""
    return (
        value is not None
        and len(value) == 18
        and all(c in USCC_ALPHABET for c in value)
        and uscc_check_char(value[:17]) == value[17]
    )
