"""Check characters of citizen IDs (GB 11643-1999) and USCCs (GB 32100-2015).

Vectorised for the bulk population (numpy digit matrices) and scalar for planted cases.
"""

from __future__ import annotations

import numpy as np

_ID_WEIGHTS = np.array([7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2], dtype=np.int64)
_ID_CHECK = "10X98765432"
USCC_ALPHABET = "0123456789ABCDEFGHJKLMNPQRTUWXY"
_USCC_WEIGHTS = (1, 3, 9, 27, 19, 26, 16, 17, 20, 29, 25, 13, 8, 24, 10, 30, 28)
_ORG_WEIGHTS = (3, 7, 9, 10, 5, 8, 4, 2)
_ORG_ALPHABET = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ"


def id_check_char(body17: str) -> str:
    total = sum(int(c) * int(w) for c, w in zip(body17, _ID_WEIGHTS, strict=True))
    return _ID_CHECK[total % 11]


def id_check_chars(digits: np.ndarray) -> np.ndarray:
    """Check chars for an (n, 17) int matrix of ID body digits."""
    idx = (digits.astype(np.int64) @ _ID_WEIGHTS) % 11
    return np.array(list(_ID_CHECK))[idx]


def is_valid_id(value: str) -> bool:
    return (
        len(value) == 18
        and value[:17].isdigit()
        and value[17] in "0123456789X"
        and id_check_char(value[:17]) == value[17]
    )


def upgrade_15(value: str) -> str:
    body = value[:6] + "19" + value[6:15]
    return body + id_check_char(body)


def to_15(id18: str) -> str:
    """The legacy 15-digit form of an ID of someone born in the 1900s."""
    return id18[:6] + id18[8:17]


def uscc_check_char(body17: str) -> str:
    total = sum(USCC_ALPHABET.index(c) * w for c, w in zip(body17, _USCC_WEIGHTS, strict=True))
    return USCC_ALPHABET[(31 - total % 31) % 31]


def is_valid_uscc(value: str) -> bool:
    return (
        len(value) == 18
        and all(c in USCC_ALPHABET for c in value)
        and uscc_check_char(value[:17]) == value[17]
    )


def org_code(body8: str) -> str:
    """GB 11714 organisation code: 8 chars + check (embedded in USCC chars 9-17)."""
    total = sum(_ORG_ALPHABET.index(c) * w for c, w in zip(body8, _ORG_WEIGHTS, strict=True))
    check = 11 - total % 11
    return body8 + ("X" if check == 10 else "0" if check == 11 else str(check))


def make_uscc(kind_digit: str, region6: str, body8: str) -> str:
    """民政-registered organisation: registering authority 5, kind 1/2/3."""
    body = "5" + kind_digit + region6 + org_code(body8)
    return body + uscc_check_char(body)
