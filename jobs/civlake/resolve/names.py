"""Name helpers shared by the resolver: comparison forms, not display forms."""

from __future__ import annotations

import re
from functools import cache

from civlake.hanzi import simplified, t2s_pattern

_DOTS = str.maketrans({"•": "·", ".": "·", "．": "·", "・": "·", "‧": "·"})
_REMARK = re.compile(r"[（(【\[].*?[）)】\]]")
_SPACES = re.compile(r"[\s\u3000]+")


@cache
def normalize_name(name: str | None) -> str | None:
    """Simplified script, no spaces, canonical middle dot, bracketed remark dropped."""
    if name is None:
        return None
    text = _SPACES.sub("", _REMARK.sub("", str(name))).translate(_DOTS)
    if not text:
        return None
    needs = _needs_simplifying()
    return simplified(text) if needs is None or needs(text) else text


@cache
def _needs_simplifying():
    """A search for what OpenCC can change (``hanzi.t2s_pattern``), or None: most names
    are simplified already, and OpenCC is pure Python (at 1,000,000 persons the 227,000
    distinct names took 1.3 CPU s with a conversion each, 0.5 s so)."""
    pattern = t2s_pattern()
    return None if pattern is None else re.compile(pattern).search


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
