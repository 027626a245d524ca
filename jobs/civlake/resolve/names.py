"""Name helpers shared by the resolver: comparison forms, not display forms."""

from __future__ import annotations

import re
import sys
from functools import cache

import pyarrow as pa
import pyarrow.compute as pc

from civlake.hanzi import simplified, t2s_pattern

_DOT_CHARS = ("•", ".", "．", "・", "‧")
_DOTS = str.maketrans(dict.fromkeys(_DOT_CHARS, "·"))
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


@cache
def _spaces_re2() -> str:
    """``_SPACES`` for RE2: Python's ``\\s`` in a str pattern is every character
    ``str.isspace`` takes, RE2's only ASCII whitespace, so the class lists them."""
    spaces = [c for c in map(chr, range(sys.maxunicode + 1)) if c.isspace()] + ["\u3000"]
    return "[" + "".join(f"\\x{{{ord(c):x}}}" for c in spaces) + "]+"


def normalize_names(names: pa.Array) -> pa.Array:
    """``normalize_name`` of every value, in Arrow's kernels (RE2): the remark and the
    spaces go and the dots become one, then OpenCC sees only the values ``t2s_pattern``
    finds something to change in (a Python call per value cost ~1 s per 227,000 distinct
    names). tests/unit/test_resolve_names.py checks it against ``normalize_name``."""
    text = pc.replace_substring_regex(names.cast(pa.string()), _REMARK.pattern, "")
    text = pc.replace_substring_regex(text, _spaces_re2(), "")
    text = pc.replace_substring_regex(text, "[" + "".join(_DOT_CHARS) + "]", "·")
    text = pc.if_else(pc.equal(text, ""), pa.scalar(None, pa.string()), text)
    pattern = t2s_pattern()
    needs = pc.is_valid(text) if pattern is None else pc.match_substring_regex(text, pattern)
    needs = pc.fill_null(needs, False)
    if not pc.any(needs).as_py():
        return text
    converted = [simplified(v) for v in text.filter(needs).to_pylist()]
    return pc.replace_with_mask(text, needs, pa.array(converted, pa.string()))
