"""Name and ID helpers shared by the resolver: comparison forms, not display forms."""

from __future__ import annotations

import re
from datetime import date
from functools import cache

_DOTS = str.maketrans({"•": "·", ".": "·", "．": "·", "・": "·", "‧": "·"})
_REMARK = re.compile(r"[（(【\[].*?[）)】\]]")
_SPACES = re.compile(r"[\s\u3000]+")


@cache
def _t2s():
    import opencc

    return opencc.OpenCC("t2s")


@cache
def normalize_name(name: str | None) -> str | None:
    """Simplified script, no spaces, canonical middle dot, bracketed remark dropped."""
    if name is None:
        return None
    text = _SPACES.sub("", _REMARK.sub("", str(name))).translate(_DOTS)
    if not text:
        return None
    return _t2s().convert(text)


@cache
def _char_pinyin(char: str) -> str:
    from pypinyin import lazy_pinyin

    return "".join(lazy_pinyin(char))


@cache
def name_pinyin(name: str | None) -> str | None:
    """Toneless pinyin: catches homophone typos (张伟/章伟) the script cannot.

    Character by character (cached): a city has a few thousand distinct name characters
    but hundreds of thousands of names, and pypinyin costs ~140 us a call. Reading a
    polyphone out of context (曾 as ceng) is harmless: both sides read it the same way."""
    if not name:
        return None
    return "".join(_char_pinyin(c) for c in name if c != "·")


def birth_from_id(id_number: str | None) -> date | None:
    """Birth date in ID chars 7-14 when it is a real date (also for typo'd IDs)."""
    if not id_number or len(id_number) != 18 or not id_number[6:14].isdigit():
        return None
    try:
        born = date(int(id_number[6:10]), int(id_number[10:12]), int(id_number[12:14]))
    except ValueError:
        return None
    return born if born.year >= 1890 else None


_WEIGHTS = (7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2)
_CHECK = "10X98765432"


def id_check_ok(id_number: str | None) -> bool:
    """GB 11643 check character (format and check only; the clean gate owns the rest)."""
    if not id_number or len(id_number) != 18 or not id_number[:17].isdigit():
        return False
    total = sum(int(d) * w for d, w in zip(id_number[:17], _WEIGHTS, strict=True))
    return _CHECK[total % 11] == id_number[17]
