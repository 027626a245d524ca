"""CKAN search as Solr would answer it, over packages in memory: which fields a query
may name, how a parsed ``q``/``fq`` (``ckan_query``) matches and scores a package, and
how hits are sorted and faceted. ``ckan.package_search`` puts these together.
"""

from __future__ import annotations

import json
from collections import Counter
from datetime import datetime

from civlake.serve.ckan_query import (
    Leaf,
    Node,
    QueryError,
    Range,
    Term,
    leaves,
    parse,
    positive_leaves,
)
from civlake.serve.errors import ApiError

# Fields as CKAN's Solr schema types them: string fields match a whole value exactly
# (case matters: res_format:CSV), text fields match words anywhere, case-folded.
# ``groups`` are our themes (CKAN publishers model themes as groups).
STRING_FIELDS = (
    "name",
    "id",
    "tags",
    "organization",
    "res_format",
    "groups",
    "theme",
    "open_type",
    "share_type",
    "level",
    "update_frequency",
    "license_id",
)
TEXT_FIELDS = ("text", "title", "notes")
RANGE_FIELDS = ("metadata_modified", "metadata_created")
SEARCH_FIELDS = (*STRING_FIELDS, *TEXT_FIELDS, *RANGE_FIELDS)
# CKAN's default qf ("name^4 title^4 tags^2 groups^2 text"): the weight of a bare word
# found in each field, for ``score``.
BOOSTS = {"name": 4, "title": 4, "tags": 2, "groups": 2, "text": 1}
SORT_FIELDS = ("score", "name", "title_string", "metadata_modified", "metadata_created")
DEFAULT_SORT = "score desc, metadata_modified desc"


def literal(text: str) -> str:
    """``text`` as one quoted phrase: what a search box means when it is not a query."""
    return '"' + text.replace("\\", "\\\\").replace('"', '\\"') + '"'


def query(params: dict, key: str, *, bare_words: bool = True) -> Node:
    """``q`` or ``fq`` parsed; a filter must name its fields (``theme:x``, not ``x``)."""
    text = params.get(key)
    if text is None or (isinstance(text, int | float) and not isinstance(text, bool)):
        text = "" if text is None else str(text)  # a JSON body may send q: 2024
    if not isinstance(text, str):
        raise ApiError(409, "Validation Error", f"{key} must be a string", **{key: ["a string"]})
    try:
        node = parse(text, fields=SEARCH_FIELDS, ranges=RANGE_FIELDS)
        for leaf in leaves(node):
            _check_leaf(leaf, bare_words=bare_words)
    except QueryError as err:
        detail = {key: [str(err)]}
        raise ApiError(409, "Validation Error", "Search Query is invalid", **detail) from None
    return node


def _check_leaf(leaf: Leaf, *, bare_words: bool) -> None:
    if isinstance(leaf, Range):
        for bound in (leaf.low, leaf.high):
            if bound is not None and _instant(bound) is None:
                raise QueryError(f"{bound[:40]!r} is not a date (2026-01-31 or …T08:00:00Z)")
    elif leaf.field is None and not bare_words:
        raise QueryError(
            f"{leaf.value[:40]!r} names no field; write field:value "
            f"with a field among {', '.join(SEARCH_FIELDS)}"
        )


def _instant(value: str) -> datetime | None:
    try:
        return datetime.fromisoformat(value).replace(tzinfo=None)
    except ValueError:
        return None


def matches(pkg: dict, leaf: Leaf) -> bool:
    if isinstance(leaf, Range):
        at = _instant(str(pkg[leaf.field]))
        low, high = (_instant(b) if b else None for b in (leaf.low, leaf.high))
        if at is None:
            return False
        if low is not None and (at < low or (at == low and not leaf.include_low)):
            return False
        return high is None or at < high or (at == high and leaf.include_high)
    field = leaf.field or "text"
    if field in TEXT_FIELDS:
        return _in_text(leaf.value, _values(pkg, field), phrase=leaf.phrase)
    return leaf.value in _values(pkg, field)


def _in_text(value: str, texts: list[str], *, phrase: bool) -> bool:
    # Chinese has no spaces between words: a phrase matches its words run together or
    # spaced, as Solr's CJK tokenizer would ("低保 对象" finds "低保对象").
    if phrase:
        needle = "".join(value.split()).casefold()
        return any(needle in "".join(t.split()).casefold() for t in texts)
    return any(value.casefold() in t.casefold() for t in texts)


def score(query: Node, pkg: dict) -> int:
    score = 0
    for leaf in positive_leaves(query):
        if isinstance(leaf, Term) and leaf.field is None:
            score += sum(
                weight
                for field, weight in BOOSTS.items()
                if _in_text(leaf.value, _values(pkg, field), phrase=leaf.phrase)
            )
        elif matches(pkg, leaf):
            score += 1
    return score


def _values(pkg: dict, field: str) -> list[str]:
    match field:
        case "tags":
            return [t["name"] for t in pkg["tags"]]
        case "organization":
            return [pkg["organization"]["name"]]
        case "res_format":
            return sorted({r["format"] for r in pkg["resources"]})
        case "groups":
            return [pkg["theme"]]
        case "text":
            return [
                pkg["name"], pkg["title"], pkg["notes"], pkg["theme"],
                pkg["organization"]["title"], *(t["name"] for t in pkg["tags"]),
                *(f["title"] for f in pkg["fields"]),
            ]  # fmt: skip
        case _:
            return [str(pkg[field])]


def _display_names(hits: list[dict], field: str) -> dict[str, str]:
    if field == "organization":
        return {p["organization"]["name"]: p["organization"]["title"] for p in hits}
    return {}


def sort_keys(sort: str) -> list[tuple[str, bool]]:
    keys = []
    for clause in sort.split(","):
        parts = clause.split()
        if len(parts) != 2 or parts[0] not in SORT_FIELDS or parts[1] not in ("asc", "desc"):
            raise ApiError(
                409,
                "Validation Error",
                "unsupported sort",
                sort=[
                    f"comma-separated 'field asc|desc' with fields {', '.join(SORT_FIELDS)}; "
                    f"e.g. {DEFAULT_SORT!r}"
                ],
            )
        keys.append((parts[0], parts[1] == "desc"))
    return keys


def facet(hits: list[dict], field: str, limit: int, mincount: int) -> dict:
    """CKAN's ``search_facets`` entry: values by count (then name), ``facet.limit`` -1 = all."""
    counts = Counter(v for p in hits for v in set(_values(p, field)))
    items = sorted(
        ((k, n) for k, n in counts.items() if n >= mincount), key=lambda kv: (-kv[1], kv[0])
    )
    titles = _display_names(hits, field)
    return {
        "title": field,
        "items": [
            {"name": k, "display_name": titles.get(k, k), "count": n}
            for k, n in (items if limit < 0 else items[:limit])
        ],
    }


def sort_value(field: str, pkg: dict) -> str:
    return pkg["title"] if field == "title_string" else pkg[field]


def facet_fields(raw) -> list[str]:
    if raw in (None, ""):
        return []
    if isinstance(raw, str):
        try:
            raw = json.loads(raw)
        except json.JSONDecodeError:
            raw = [raw]  # a bare field name, as some clients send
    if not isinstance(raw, list) or not all(isinstance(f, str) for f in raw) or len(raw) > 20:
        raise ApiError(
            409,
            "Validation Error",
            "facet.field must be a JSON list of field names",
            **{"facet.field": ['e.g. ["theme", "tags"]']},
        )
    unknown = [f for f in raw if f not in STRING_FIELDS]
    if unknown:
        raise ApiError(
            409,
            "Validation Error",
            "facet field not supported",
            **{
                "facet.field": [
                    f"unknown field {unknown[0][:60]!r}; use {', '.join(STRING_FIELDS)}"
                ]
            },
        )
    return raw
