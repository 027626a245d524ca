"""Chinese script conversion with OpenCC: one converter per direction and process.

OpenCC loads its dictionaries when a converter is made (~0.1 s), so each is made once.
"""

from __future__ import annotations

import re
from functools import cache


@cache
def _converter(config: str):
    import opencc

    return opencc.OpenCC(config)


def simplified(text: str) -> str:
    """Traditional characters as simplified ones (劉國華 -> 刘国华)."""
    return _converter("t2s").convert(text)


def traditional(text: str) -> str:
    """Simplified characters as traditional ones (刘国华 -> 劉國華)."""
    return _converter("s2t").convert(text)


@cache
def t2s_pattern() -> str | None:
    """A regex (RE2 and Python) that finds every text ``simplified`` can change.

    OpenCC rewrites only substrings that are keys of its dictionaries, so a text holding
    no key converts to itself. The pattern is a class of the one-character keys plus
    the longer keys made only of other characters (3 of 277 phrases: 沈默 -> 沉默); the
    clean gate filters names with it in Arrow instead of a Python call per name (a
    100,000-person hukou month: 2.4 s of 8.1 s). Read from the converter's loaded
    dictionaries, a private attribute of opencc-python: None if that is not there."""
    keys: set[str] = set()

    def walk(node: object) -> bool:
        if isinstance(node, list):
            return all(walk(n) for n in node)
        if isinstance(node, tuple) and len(node) == 3 and isinstance(node[2], dict):
            keys.update(node[2])
            return True
        return False

    if not walk(getattr(_converter("t2s"), "_dict_chain_data", None)) or not keys:
        return None
    singles = {k for k in keys if len(k) == 1}
    longer = sorted(k for k in keys if len(k) > 1 and not set(k) & singles)
    chars = "[" + "".join(re.escape(c) for c in sorted(singles)) + "]"
    return "|".join([chars, *(re.escape(k) for k in longer)])
