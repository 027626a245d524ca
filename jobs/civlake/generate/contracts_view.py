"""What the generator needs from the feed contracts (read through `civlake.contracts`)."""

from __future__ import annotations

from functools import cache

from civlake.contracts import get_contract, load_enums


@cache
def column_kinds(feed: str) -> dict[str, tuple[str, bool, str | None]]:
    return {c.name: (c.kind, c.required, c.enum) for c in get_contract(feed).columns}


@cache
def headers(feed: str) -> list[str]:
    return [c.header for c in get_contract(feed).columns]


@cache
def names(feed: str) -> list[str]:
    return [c.name for c in get_contract(feed).columns]


@cache
def enum_synonyms(enum: str) -> dict[str, list[str]]:
    return load_enums()[enum]


def roles(feed: str) -> list[str]:
    return [p.role for p in get_contract(feed).persons]
