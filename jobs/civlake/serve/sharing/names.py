"""Names and ids of shares, schemas and tables, as the Delta Sharing protocol wants them.

A share name is derived from the agency name, so nothing new is stored: the pinyin of
the name (readable in a client's table list, ASCII so it survives every URL and shell)
and 8 hex digits of its sha256 (two agencies whose names read alike keep apart, and a
different pinyin rendering in a later pypinyin would still leave the agency's share its
own). Protocol names are case-insensitive and exclude ``.``, ``/`` and spaces.
"""

from __future__ import annotations

import hashlib
import re
import uuid
from functools import cache

SCHEMA = "civlake"
# A fixed namespace so that a share's and a table's ids are the same on every server
# process and restart (the protocol asks ids to stay immutable).
_NAMESPACE = uuid.UUID("6f1d3c1e-5a0b-4f8e-9a43-0c1d2e3f4a5b")
_NOT_ASCII_WORD = re.compile(r"[^a-z0-9]+")


@cache
def share_name(agency: str) -> str:
    """``广州市医疗保障局`` -> ``guangzhoushiyiliaobaozhangju_<8 hex>``."""
    from pypinyin import lazy_pinyin  # ~0.3 s to import its dictionaries: only when asked

    spelled = _NOT_ASCII_WORD.sub("", "".join(lazy_pinyin(agency)).lower())[:48] or "agency"
    return f"{spelled}_{hashlib.sha256(agency.encode()).hexdigest()[:8]}"


def same_name(asked: str, name: str) -> bool:
    return asked.casefold() == name.casefold()


def object_id(*parts: str) -> str:
    """A stable UUID for a share (``share``) or a table (``share``, ``table``)."""
    return str(uuid.uuid5(_NAMESPACE, "/".join(parts)))
