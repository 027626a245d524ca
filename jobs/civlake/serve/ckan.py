"""CKAN Action API subset: package_list, package_show, package_search, organization_list.

Search runs in memory over the catalog (a few dozen entries), so no request value ever
reaches a query language: ``fq`` is parsed into (field, value) pairs by a strict
grammar, and anything outside it is a Validation Error (409), as CKAN answers.
"""

from __future__ import annotations

import json
import re
from collections import Counter

from civlake.serve.directory import Directory
from civlake.serve.errors import ApiError

FQ_FIELDS = (
    "theme",
    "tags",
    "organization",
    "open_type",
    "share_type",
    "res_format",
    "name",
    "level",
    "update_frequency",
)
MAX_ROWS = 1000
_FQ_TERM = re.compile(r'\s*([+-]?)([a-z_]+):(?:"((?:[^"\\]|\\.){1,200})"|([^\s"():]{1,200}))\s*')
SORTS = {
    "name asc",
    "name desc",
    "metadata_modified desc",
    "metadata_modified asc",
    "score desc, metadata_modified desc",
}


def package_list(directory: Directory, params: dict, base_url: str) -> list[str]:
    """Names of all datasets in the directory (``limit``/``offset`` paging)."""
    names = list(directory.catalog)
    return _page(names, params)


def package_show(directory: Directory, params: dict, base_url: str) -> dict:
    """One dataset by name or 信息资源代码 (``id``), with resources of its latest version."""
    ident = _required(params, "id")
    ds = directory.find(ident)
    if ds is None:
        raise ApiError(404, "Not Found Error", "Not found", id=ident)
    return directory.package(ds, base_url)


def organization_list(directory: Directory, params: dict, base_url: str) -> list:
    """Publishers (提供方); ``all_fields=true`` gives titles and dataset counts."""
    counts = Counter(ds.publisher_id for ds in directory.catalog.values())
    orgs = {ds.publisher_id: ds.publisher for ds in directory.catalog.values()}
    names = sorted(orgs)
    if _bool(params.get("all_fields")):
        return [
            {
                "id": n,
                "name": n,
                "title": orgs[n],
                "display_name": orgs[n],
                "package_count": counts[n],
                "type": "organization",
                "is_organization": True,
                "state": "active",
            }
            for n in names
        ]
    return names


def package_search(directory: Directory, params: dict, base_url: str) -> dict:
    """Search: ``q`` words, Solr-style ``fq``, ``rows``/``start``, ``sort``, ``facet.field``."""
    rows = _int(params, "rows", 10, 0, MAX_ROWS)
    start = _int(params, "start", 0, 0, 100_000)
    q = str(params.get("q") or "").strip()
    if len(q) > 200:
        raise ApiError(409, "Validation Error", "q is too long", q=["at most 200 characters"])
    filters = parse_fq(str(params.get("fq") or ""))
    sort = str(params.get("sort") or "score desc, metadata_modified desc")
    if sort not in SORTS:
        raise ApiError(
            409, "Validation Error", "unsupported sort", sort=[f"one of {sorted(SORTS)}"]
        )
    packages = [directory.package(ds, base_url) for ds in directory.catalog.values()]
    hits = [p for p in packages if _matches_q(p, q) and _matches_fq(p, filters)]
    if sort.startswith("name"):
        hits.sort(key=lambda p: p["name"], reverse=sort.endswith("desc"))
    elif sort.startswith("metadata_modified"):
        hits.sort(key=lambda p: p["metadata_modified"], reverse=sort.endswith("desc"))
    facet_fields = _facet_fields(params.get("facet.field"))
    limit = _int(params, "facet.limit", 50, -1, 1000)
    search_facets, facets = {}, {}
    for field in facet_fields:
        counts = Counter(v for p in hits for v in _values(p, field))
        items = sorted(counts.items(), key=lambda kv: (-kv[1], kv[0]))
        if limit >= 0:
            items = items[:limit]
        facets[field] = dict(items)
        search_facets[field] = {
            "title": field,
            "items": [{"name": k, "display_name": k, "count": n} for k, n in items],
        }
    return {
        "count": len(hits),
        "results": hits[start : start + rows],
        "sort": sort,
        "facets": facets,
        "search_facets": search_facets,
    }


def help_show(directory: Directory, params: dict, base_url: str) -> str:
    """What an action does (CKAN's ``help`` links point here)."""
    name = _required(params, "name")
    if name not in ACTIONS:
        raise ApiError(404, "Not Found Error", "Action name not known", name=name[:60])
    return ACTIONS[name].__doc__ or name


ACTIONS = {
    "help_show": help_show,
    "package_list": package_list,
    "package_show": package_show,
    "package_search": package_search,
    "organization_list": organization_list,
}


def parse_fq(fq: str) -> list[tuple[bool, str, str]]:
    """``theme:社会救助 +tags:"低保" -organization:x AND …`` -> [(negate, field, value)]."""
    if len(fq) > 1000:
        raise ApiError(409, "Validation Error", "fq is too long", fq=["at most 1000 characters"])
    out: list[tuple[bool, str, str]] = []
    pos = 0
    text = fq.strip()
    while pos < len(text):
        if text.startswith("AND ", pos) or text.startswith("&& ", pos):
            pos = text.index(" ", pos) + 1
            continue
        m = _FQ_TERM.match(text, pos)
        if not m or m.end() == pos:
            raise ApiError(
                409,
                "Validation Error",
                "fq is not understood",
                fq=[
                    f'at character {pos + 1}: expected field:value or field:"value" '
                    f"joined by spaces or AND; fields: {', '.join(FQ_FIELDS)}"
                ],
            )
        sign, field, quoted, bare = m.groups()
        if field not in FQ_FIELDS:
            raise ApiError(
                409,
                "Validation Error",
                "fq field not searchable",
                fq=[f"unknown field {field!r}; use one of {', '.join(FQ_FIELDS)}"],
            )
        value = quoted.replace('\\"', '"') if quoted is not None else bare
        out.append((sign == "-", field, value))
        pos = m.end()
    return out


def _values(pkg: dict, field: str) -> list[str]:
    match field:
        case "tags":
            return [t["name"] for t in pkg["tags"]]
        case "organization":
            return [pkg["organization"]["name"]]
        case "res_format":
            return sorted({r["format"] for r in pkg["resources"]})
        case _ if field in FQ_FIELDS:
            return [str(pkg[field])]
    raise ApiError(
        409,
        "Validation Error",
        "facet field not supported",
        **{"facet.field": [f"unknown field {field!r}; use one of {', '.join(FQ_FIELDS)}"]},
    )


def _matches_fq(pkg: dict, filters: list[tuple[bool, str, str]]) -> bool:
    return all((value in _values(pkg, field)) != negate for negate, field, value in filters)


def _matches_q(pkg: dict, q: str) -> bool:
    if not q or q == "*:*":
        return True
    haystack = " ".join(
        [pkg["name"], pkg["title"], pkg["notes"], pkg["theme"], pkg["organization"]["title"]]
        + [t["name"] for t in pkg["tags"]]
        + [f["title"] for f in pkg["fields"]]
    ).lower()
    return all(term in haystack for term in q.lower().split())


def _facet_fields(raw) -> list[str]:
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
    return raw


def _required(params: dict, key: str) -> str:
    value = params.get(key)
    if not isinstance(value, str) or not value or len(value) > 200:
        raise ApiError(409, "Validation Error", f"{key} is required", **{key: ["Missing value"]})
    return value


def _int(params: dict, key: str, default: int, lo: int, hi: int) -> int:
    value = params.get(key)
    if value in (None, ""):
        return default
    try:
        n = int(value)
    except (TypeError, ValueError):
        raise ApiError(
            409, "Validation Error", f"{key} must be an integer", **{key: ["Invalid integer"]}
        ) from None
    if not lo <= n <= hi:
        raise ApiError(
            409,
            "Validation Error",
            f"{key} out of range",
            **{key: [f"must be between {lo} and {hi}"]},
        )
    return n


def _bool(value) -> bool:
    return value is True or str(value).lower() in ("true", "1", "yes")


def _page(items: list, params: dict) -> list:
    limit = _int(params, "limit", len(items), 0, 100_000)
    offset = _int(params, "offset", 0, 0, 100_000)
    return items[offset : offset + limit]
