"""Reading a ``datastore_search`` request: every name checked against the resource's
schema, every value kept for binding.

Each reader takes the raw parameter (a JSON value from a POST body, or a string from a
GET query, which may itself be JSON as CKAN clients send ``filters``) and the resource's
field types, and returns SQL fragments built only from catalog names plus the values
to bind in order. Anything else is CKAN's 409 Validation Error, naming the parameter.
"""

from __future__ import annotations

import json
import re

from civlake.serve.errors import ApiError

ROW_ID = "_id"  # CKAN's row number, 1-based, in the published file's order
_SORT_TERM = re.compile(r'^\s*"?([^"\s]+)"?(?:\s+(asc|desc))?\s*$', re.IGNORECASE)


def quote(name: str) -> str:
    # Only names taken from the catalog reach here (see known); they are snake_case.
    return f'"{name}"'


def known(name: object, types: dict[str, str], key: str) -> str:
    """The catalog's own spelling of a field the request names; 409 naming it if none."""
    if isinstance(name, str):
        for own in types:
            if own == name:
                return own
    shown = str(name)[:60]
    raise ApiError(409, "Validation Error", f'{key}: field "{shown}" not in resource',
                   **{key: [f'field "{shown}" not in resource']})  # fmt: skip


def decoded(value, key: str):
    if isinstance(value, str) and value.strip()[:1] in ("{", "["):
        try:
            return json.loads(value)
        except ValueError:
            raise invalid(key, "Invalid JSON") from None
    return value


def fields(raw, types: dict[str, str]) -> list[str]:
    raw = decoded(raw, "fields")
    if raw in (None, "", []):
        return list(types)
    names = raw.split(",") if isinstance(raw, str) else raw
    if not isinstance(names, list) or len(names) > len(types) * 2:
        raise invalid("fields", "a list of field names, or one comma-separated string")
    out = [known(n.strip() if isinstance(n, str) else n, types, "fields") for n in names]
    return list(dict.fromkeys(out))


def filters(raw, types: dict[str, str]) -> tuple[list[str], list]:
    raw = decoded(raw, "filters")
    if raw in (None, "", {}):
        return [], []
    if not isinstance(raw, dict) or len(raw) > len(types):
        raise invalid("filters", "a JSON object of field: value (or list of values)")
    where: list[str] = []
    values: list = []
    for name, value in raw.items():
        col = quote(known(name, types, "filters"))
        wanted = value if isinstance(value, list) else [value]
        if not wanted or len(wanted) > 1000 or not all(_scalar(v) for v in wanted):
            raise invalid("filters", f"{str(name)[:60]}: a value or a non-empty list of values")
        where.append(f"cast({col} as varchar) in ({', '.join('?' * len(wanted))})")
        values += [_text(v) for v in wanted]
    return where, values


def full_text(raw, types: dict[str, str]) -> tuple[list[str], list]:
    raw = decoded(raw, "q")
    if raw in (None, "", {}):
        return [], []
    # Full text as a plain query: every word must appear (case-insensitively) in the row,
    # or in the named field for {"field": "text"}.
    if isinstance(raw, str):
        terms = [(None, w) for w in raw.split()]
    elif isinstance(raw, dict) and len(raw) <= len(types):
        terms = [(known(k, types, "q"), w) for k, v in raw.items() if _scalar(v)
                 for w in _text(v).split()]  # fmt: skip
    else:
        raise invalid("q", "a text, or a JSON object of field: text")
    if len(terms) > 50 or any(len(w) > 200 for _, w in terms):
        raise invalid("q", "at most 50 words of 200 characters")
    columns = [n for n in types if n != ROW_ID]
    where: list[str] = []
    values: list = []
    for field, word in terms:
        cols = [field] if field else columns
        where.append(
            "(" + " or ".join(
                f"contains(lower(cast({quote(c)} as varchar)), lower(?))" for c in cols
            ) + ")"
        )  # fmt: skip
        values += [word] * len(cols)
    return where, values


def sort(raw, types: dict[str, str]) -> list[tuple[str, str]]:
    raw = decoded(raw, "sort")
    parts = raw if isinstance(raw, list) else str(raw or "").split(",")
    order: list[tuple[str, str]] = []
    for part in parts:
        if not isinstance(part, str) or not part.strip():
            continue
        m = _SORT_TERM.match(part)
        if m is None:
            raise invalid("sort", f'cannot sort by "{part.strip()[:60]}"')
        order.append((known(m[1], types, "sort"), (m[2] or "asc").lower()))
    if len(order) > len(types):
        raise invalid("sort", "too many sort fields")
    if ROW_ID not in (n for n, _ in order):
        order.append((ROW_ID, "asc"))  # a total order, so pages never overlap
    return order


def _scalar(value) -> bool:
    return isinstance(value, str | int | float | bool) and len(str(value)) <= 200


def _text(value) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


def integer(params: dict, key: str, default: int, hi: int) -> int:
    value = params.get(key)
    if value in (None, ""):
        return default
    try:
        n = int(value)
    except (TypeError, ValueError):
        raise invalid(key, "Invalid integer") from None
    if not 0 <= n <= hi:
        raise invalid(key, f"must be between 0 and {hi}")
    return n


def flag(value) -> bool:
    return value is True or str(value).lower() in ("true", "1", "yes", "on")


def invalid(key: str, why: str) -> ApiError:
    return ApiError(409, "Validation Error", f"{key}: {why}", **{key: [why]})
