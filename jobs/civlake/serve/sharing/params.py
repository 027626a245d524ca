"""Parameters of Delta Sharing requests: pages, versions, times, the query body.

Every bad value is a 400 in the protocol's error shape, naming the parameter.
"""

from __future__ import annotations

import json

from fastapi import Request

from civlake.publish.catalog import Dataset
from civlake.serve.sharing.errors import SharingError
from civlake.serve.sharing.shares import Sharing, parse_timestamp


def page(items: list[dict], max_results: str | None, page_token: str | None) -> dict:
    if (max_results is not None and not max_results.isdigit()) or (
        page_token and not page_token.isdigit()
    ):
        raise SharingError(400, "maxResults and pageToken must be non-negative integers")
    start = int(page_token) if page_token else 0
    end = len(items) if max_results is None else start + int(max_results)
    out: dict = {"items": items[start:end]}
    if end < len(items):
        out["nextPageToken"] = str(end)
    return out


def as_of(sharing: Sharing, ds: Dataset, version: int | None, timestamp: str | None) -> int | None:
    if version is not None and timestamp:
        raise SharingError(400, "give version or timestamp, not both")
    if timestamp is not None and not isinstance(timestamp, str):
        raise SharingError(400, "timestamp must be a string such as 2026-11-01T00:00:00Z")
    if timestamp:
        return sharing.version_as_of(ds, parse_timestamp(timestamp, "timestamp"))
    if version is not None and version not in sharing.versions(ds):
        raise SharingError(
            400, f"{ds.name} has no version {version}; {known(sharing.versions(ds))}"
        )
    return version


def version_range(versions: list[int], starting: int, ending: int | None) -> tuple[int, int]:
    # Published versions start at 1; a client syncing from scratch asks from 0.
    first, last = max(starting, versions[0]), versions[-1] if ending is None else ending
    if first > versions[-1] or last < first or last > versions[-1]:
        asked = f"{starting}..{'latest' if ending is None else ending}"
        raise SharingError(400, f"versions {asked} are not published; {known(versions)}")
    return first, last


def known(versions: list[int]) -> str:
    return f"published versions are {versions[0]}..{versions[-1]}"


def int_param(value: object, name: str) -> int | None:
    if value is None or value == "":
        return None
    if isinstance(value, bool) or not (
        isinstance(value, int) or (isinstance(value, str) and value.isdigit())
    ):
        raise SharingError(400, f"{name} must be a non-negative integer")
    return int(value)


async def json_body(request: Request) -> dict:
    raw = await request.body()
    if not raw.strip():
        return {}
    try:
        body = json.loads(raw)
    except ValueError:
        raise SharingError(400, "the request body is not JSON") from None
    if not isinstance(body, dict):
        raise SharingError(400, "the request body must be a JSON object")
    return body
