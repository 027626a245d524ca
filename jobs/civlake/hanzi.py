"""Chinese script conversion with OpenCC: one converter per direction and process.

OpenCC loads its dictionaries when a converter is made (~0.1 s), so each is made once.
"""

from __future__ import annotations

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
