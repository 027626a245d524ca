"""CKAN Action API subset: package_list, package_show, package_search, organization_list
(and the DataStore's datastore_search and datastore_info, in ``datastore.py``).

Package search runs in memory over the catalog (a few dozen entries), so no request value
reaches a query engine: ``q`` and ``fq`` are parsed by ``ckan_query`` (Solr syntax as
CKAN clients send it) and anything outside the grammar or the fields of
``ckan_search`` is a Validation Error (409), as CKAN answers a query Solr refuses.
"""

from __future__ import annotations

from collections import Counter
from functools import partial

from civlake.serve import ckan_search as search
from civlake.serve import datastore
from civlake.serve.ckan_query import evaluate
from civlake.serve.directory import Directory
from civlake.serve.errors import ApiError

MAX_ROWS = 1000


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
    """Search: Solr-style ``q`` and ``fq``, ``sort``, ``rows``/``start``, ``facet.field``."""
    rows = _int(params, "rows", 10, 0, MAX_ROWS)
    start = _int(params, "start", 0, 0, 100_000)
    query = search.query(params, "q")
    filters = search.query(params, "fq", bare_words=False)
    sort = str(params.get("sort") or search.DEFAULT_SORT)
    order = search.sort_keys(sort)
    facet_fields = search.facet_fields(params.get("facet.field"))
    limit = _int(params, "facet.limit", 50, -1, 1000)
    mincount = _int(params, "facet.mincount", 1, 0, 100_000)
    packages = [directory.package(ds, base_url) for ds in directory.catalog.values()]
    hits = [
        p
        for p in packages
        if evaluate(query, partial(search.matches, p))
        and evaluate(filters, partial(search.matches, p))
    ]
    scores = {p["name"]: search.score(query, p) for p in hits}
    hits.sort(key=lambda p: p["name"])
    for field, descending in reversed(order):  # stable sorts, last key first
        key = (
            (lambda p: scores[p["name"]]) if field == "score" else partial(search.sort_value, field)
        )
        hits.sort(key=key, reverse=descending)
    facets = {field: search.facet(hits, field, limit, mincount) for field in facet_fields}
    return {
        "count": len(hits),
        "results": hits[start : start + rows],
        "sort": sort,
        "facets": {
            field: {i["name"]: i["count"] for i in f["items"]} for field, f in facets.items()
        },
        "search_facets": facets,
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
    **datastore.ACTIONS,
}


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
