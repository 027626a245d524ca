"""Identifiers for the generated city: check characters in bulk, organisation codes, USCCs.

Scalar checks live in ``civlake.identifiers``; this adds the vectorised form for the
bulk population (numpy digit matrices) and the codes only the generator makes.
"""

from __future__ import annotations

import numpy as np

from civlake.identifiers import CITIZEN_ID_CHECK, CITIZEN_ID_WEIGHTS, uscc_check_char

_ID_WEIGHTS = np.array(CITIZEN_ID_WEIGHTS, dtype=np.int64)
_ORG_WEIGHTS = (3, 7, 9, 10, 5, 8, 4, 2)
_ORG_ALPHABET = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ"


def id_check_chars(digits: np.ndarray) -> np.ndarray:
    """Check chars for an (n, 17) int matrix of ID body digits."""
    idx = (digits.astype(np.int64) @ _ID_WEIGHTS) % 11
    return np.array(list(CITIZEN_ID_CHECK))[idx]


def org_code(body8: str) -> str:
    """GB 11714 organisation code: 8 chars + check (embedded in USCC chars 9-17)."""
    total = sum(_ORG_ALPHABET.index(c) * w for c, w in zip(body8, _ORG_WEIGHTS, strict=True))
    check = 11 - total % 11
    return body8 + ("X" if check == 10 else "0" if check == 11 else str(check))


def make_uscc(kind_digit: str, region6: str, body8: str) -> str:
    """民政-registered organisation: registering authority 5, kind 1/2/3."""
    body = "5" + kind_digit + region6 + org_code(body8)
    return body + uscc_check_char(body)
