"""CKAN DataStore on published tabular resources: ``datastore_search`` and ``datastore_info``.

Rows come from the Parquet file of the resource's published version, read with DuckDB.
Only open (无条件开放) datasets are searchable: their files are already suppressed and
public, so a query gives nothing a download does not. Person-level (有条件开放)
resources are refused (403) to everyone, keyed or not: agencies pull them through the
grant-checked routes, which scope and audit them per grant.

The SQL never holds request text: a field, filter or sort name is looked up in the
catalog's schema and the *catalog's* name is quoted into the statement (snake_case,
validated at load); every value (filter values, search text, limit, offset and the
file's path) is a bound parameter. One in-memory DuckDB database is shared and each
request takes a cursor of it (15 µs; DuckDB connections are not thread-safe, cursors are).
The request's parameters are read and checked in ``datastore_params.py``.
"""

from __future__ import annotations

import csv
import io
import json
import math
import re
import threading
from datetime import date, datetime
from decimal import Decimal
from urllib.parse import urlencode

import duckdb

from civlake.publish.catalog import Dataset
from civlake.publish.versions import list_versions, read_manifest, version_dir
from civlake.serve import datastore_params as checked
from civlake.serve.datastore_params import ROW_ID
from civlake.serve.directory import Directory, datastore_resource
from civlake.serve.errors import ApiError

DEFAULT_LIMIT = 100
MAX_LIMIT = 32000  # CKAN's ckan.datastore.search.rows_max default
MAX_OFFSET = 10_000_000
RECORDS_FORMATS = ("objects", "lists", "csv", "tsv")
# Frictionless field types (the catalog's) -> the PostgreSQL type names CKAN reports.
CKAN_TYPES = {
    "string": "text", "integer": "int", "number": "numeric", "boolean": "bool",
    "date": "date", "datetime": "timestamp", "year": "int", "yearmonth": "text",
}  # fmt: skip
SEARCH_KEYS = {"resource_id", "id", "filters", "q", "fields", "sort", "limit", "offset",
               "include_total", "total", "records_format", "plain", "language", "distinct"}  # fmt: skip
_RESOURCE = re.compile(
    r"^(?P<identifier>.+)-v(?P<version>[1-9][0-9]{0,8})-(?P<fmt>csv|json|parquet)$"
)

_db_lock = threading.Lock()
_db: list[duckdb.DuckDBPyConnection] = []


def _cursor() -> duckdb.DuckDBPyConnection:
    with _db_lock:
        if not _db:
            _db.append(duckdb.connect(":memory:", config={"threads": 2}))
        return _db[0].cursor()


def resolve(directory: Directory, params: dict) -> tuple[Dataset, int, str]:
    """The dataset and version a ``resource_id`` names; 404 unknown, 403 not searchable."""
    rid = params.get("resource_id", params.get("id"))
    if not isinstance(rid, str) or not rid or len(rid) > 200:
        raise checked.invalid("resource_id", "Missing value")
    m = _RESOURCE.match(rid)
    ds = directory.find(m["identifier"]) if m else None
    if (
        m is None
        or ds is None
        or int(m["version"]) not in list_versions(directory.publish, ds.name)
    ):
        raise ApiError(404, "Not Found Error", f'Resource "{rid[:80]}" was not found.')
    if not datastore_resource(ds):
        raise ApiError(
            403, "Authorization Error",
            f"{ds.name} is {ds.open_type}: its rows are not searchable in the DataStore; "
            f"agencies with a grant pull it from /api/v1/datasets/{ds.name}/changes",
        )  # fmt: skip
    return ds, int(m["version"]), rid


def dataset_of(directory: Directory, params: dict) -> str | None:
    """The dataset a request's resource names, for its audit line (None if it names none)."""
    rid = params.get("resource_id", params.get("id"))
    m = _RESOURCE.match(rid) if isinstance(rid, str) and len(rid) <= 200 else None
    ds = directory.find(m["identifier"]) if m else None
    return ds.name if ds else None


def datastore_info(directory: Directory, params: dict, base_url: str) -> dict:
    """A DataStore resource's fields (CKAN type names) and row count."""
    ds, version, rid = resolve(directory, params)
    rows = read_manifest(directory.publish, ds.name, version)["rows"]
    return {
        "meta": {"id": rid, "count": rows, "table_type": "BASE TABLE", "aliases": []},
        "fields": [_field(f, with_info=True) for f in ds.fields],
    }


def datastore_search(directory: Directory, params: dict, base_url: str) -> dict:
    """Rows of a DataStore resource: filters, q, fields, sort, limit/offset, records_format."""
    unknown = sorted(set(params) - SEARCH_KEYS)
    if unknown:
        raise ApiError(409, "Validation Error", f"unknown parameter {unknown[0][:60]}",
                       **{k[:60]: ["The input field is not expected"] for k in unknown[:5]})  # fmt: skip
    ds, version, rid = resolve(directory, params)
    types = {ROW_ID: "integer"} | {f.name: f.type for f in ds.fields}
    fields = checked.fields(params.get("fields"), types)
    where, values = checked.filters(params.get("filters"), types)
    more_where, more_values = checked.full_text(params.get("q"), types)
    where, values = where + more_where, values + more_values
    order = checked.sort(params.get("sort"), types)
    # CKAN caps a larger limit silently and echoes the one applied; clients page by it.
    limit = min(checked.integer(params, "limit", DEFAULT_LIMIT, 2**63 - 1), MAX_LIMIT)
    offset = checked.integer(params, "offset", 0, MAX_OFFSET)
    records_format = params.get("records_format") or "objects"
    if records_format not in RECORDS_FORMATS:
        raise checked.invalid("records_format", f"must be one of {', '.join(RECORDS_FORMATS)}")
    with_total = checked.flag(params.get("include_total", params.get("total", True)))
    # distinct=false is what clients send by default; true is refused, not ignored.
    if checked.flag(params.get("distinct", False)):
        raise checked.invalid("distinct", "distinct rows are not supported here")

    path = str(version_dir(directory.publish, ds.name, version) / f"{ds.name}.parquet")
    source = (
        f"(select *, file_row_number + 1 as {ROW_ID} from read_parquet(?, file_row_number = true))"
    )
    condition = " and ".join(where) or "true"
    select = ", ".join(checked.quote(f) for f in fields)
    ordering = ", ".join(f"{checked.quote(n)} {d} nulls last" for n, d in order)
    cur = _cursor()
    try:
        rows = cur.execute(
            f"select {select} from {source} where {condition} order by {ordering} limit ? offset ?",
            [path, *values, limit, offset],
        ).fetchall()
        total = (
            cur.execute(
                f"select count(*) from {source} where {condition}", [path, *values]
            ).fetchone()[0]
            if with_total
            else None
        )
    finally:
        cur.close()
    result: dict = {
        "include_total": with_total,
        "resource_id": rid,
        "fields": [_field(_field_of(ds, n)) for n in fields],
        "records_format": records_format,
        "records": _records(rows, fields, records_format),
        "limit": limit,
        "_links": _links(params, limit, offset),
    }
    for key in ("filters", "q", "sort"):
        if params.get(key) not in (None, ""):
            result[key] = params[key]
    if offset:
        result["offset"] = offset
    if with_total:
        result |= {"total": total, "total_was_estimated": False}
    return result


def row_count(result: dict) -> int:
    records = result.get("records")
    if isinstance(records, str):
        return records.count("\n")
    return len(records or ())


ACTIONS = {"datastore_search": datastore_search, "datastore_info": datastore_info}


def _field_of(ds: Dataset, name: str):
    return next((f for f in ds.fields if f.name == name), None)


def _field(f, *, with_info: bool = True) -> dict:
    if f is None:
        return {"id": ROW_ID, "type": "int"}
    out = {"id": f.name, "type": CKAN_TYPES[f.type]}
    if with_info:
        out["info"] = {"label": f.title, "notes": f.description}
    return out


def _records(rows: list[tuple], fields: list[str], fmt: str):
    plain = [[_plain(v) for v in row] for row in rows]
    if fmt == "objects":
        return [dict(zip(fields, row, strict=True)) for row in plain]
    if fmt == "lists":
        return plain
    out = io.StringIO()
    writer = csv.writer(out, delimiter="\t" if fmt == "tsv" else ",", lineterminator="\n")
    writer.writerows([["" if v is None else v for v in row] for row in plain])
    return out.getvalue()


def _links(params: dict, limit: int, offset: int) -> dict:
    kept = {k: v if isinstance(v, str) else json.dumps(v, ensure_ascii=False)
            for k, v in params.items() if k != "offset" and v is not None}  # fmt: skip
    start = "/api/3/action/datastore_search?" + urlencode(kept)
    return {"start": start, "next": start + "&" + urlencode({"offset": offset + limit})}


def _plain(value):
    if isinstance(value, datetime | date):
        return value.isoformat()
    if isinstance(value, Decimal):
        return float(value)
    if isinstance(value, float) and not math.isfinite(value):
        return None
    return value
