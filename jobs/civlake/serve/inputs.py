"""What a request must look like before a handler reads it: size, then well-formed JSON.

The size limit is enforced by the guard (``guard.py``) before routing: Content-Length
is checked first, and the body is counted chunk by chunk, so a chunked upload or a
client that lies about its length is cut off at ``create_app(max_body=...)`` bytes
(16 KiB: a verification body is about 200 bytes, a CKAN search body under 1 KiB) with
a 413 and never parsed. This module is the second step: a body that is not JSON text is the
client's mistake (400, CKAN's ``Bad request - JSON Error``), and a well-formed body
of the wrong shape is a validation error (409), as CKAN answers both.

"Well-formed" is RFC 8259 read as I-JSON (RFC 7493): UTF-8 only, and no lone
surrogate (``"\\ud800"``) — Python's decoder accepts one, but no UTF-8 encoder (the
audit log's included) can write it back, so it would fail far from the client.
"""

from __future__ import annotations

import json
from typing import Annotated, Any

from fastapi import Path, Request

from civlake.publish.catalog import VERIFY_QUESTIONS
from civlake.serve.ckan import ACTIONS
from civlake.serve.errors import ApiError


class MalformedBody(ApiError):
    """The body is not JSON text: 400 in CKAN's envelope."""

    def __init__(self, why: str) -> None:
        super().__init__(400, "Bad Request", f"Bad request - JSON Error: {why}")


def parse_json(raw: bytes) -> object:
    """Decode a request body as I-JSON; ``MalformedBody`` when it is not."""
    try:
        text = raw.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise MalformedBody(f"body is not UTF-8 (byte {exc.start})") from None
    try:
        value = json.loads(text or "{}")
    except json.JSONDecodeError as exc:
        raise MalformedBody(f"{exc.msg} (line {exc.lineno} column {exc.colno})") from None
    except RecursionError:
        raise MalformedBody("nested too deeply") from None
    try:
        json.dumps(value, ensure_ascii=False).encode("utf-8")
    except UnicodeEncodeError:
        raise MalformedBody("a string holds a lone surrogate (\\ud800-\\udfff)") from None
    return value


async def json_object(request: Request) -> dict:
    """The body as a JSON object: 400 when it is not JSON, 409 when not an object."""
    value = parse_json(await request.body())
    if not isinstance(value, dict):
        raise ApiError(409, "Validation Error", "request body must be a JSON object")
    return value


def _documented(**schema: object) -> Any:
    # Documented, not enforced: FastAPI would answer 422 outside our envelope; a value
    # of another shape is simply not found (404), or refused by the guard (400).
    return Path(json_schema_extra=schema)


# Path parameters as the routes accept them: a CKAN action; a dataset's name or
# identifier (信息资源代码, e.g. 440100-MZ-GX-0101); a published version (v1, v2, ...);
# a file of it (no separator, not starting with a dot).
ActionName = Annotated[str, _documented(enum=sorted(ACTIONS))]
DatasetName = Annotated[str, _documented(pattern=r"^[A-Za-z0-9_-]{1,100}$")]
VersionName = Annotated[str, _documented(pattern=r"^v[0-9]{1,9}$")]
FileName = Annotated[str, _documented(pattern=r"^[A-Za-z0-9_-][A-Za-z0-9_.-]{0,199}$")]

VERIFY_BODY = {
    "requestBody": {
        "required": True,
        "content": {
            "application/json": {
                "schema": {
                    "type": "object",
                    "required": ["question", "id_number", "purpose"],
                    "additionalProperties": False,
                    "properties": {
                        "question": {"enum": list(VERIFY_QUESTIONS)},
                        "id_number": {"type": "string", "maxLength": 64},
                        "purpose": {"type": "string", "minLength": 1, "maxLength": 200},
                    },
                }
            }
        },
    }
}
VERIFY_ANSWER = {
    200: {
        "description": "The answer, and nothing else about the person",
        "content": {
            "application/json": {
                "schema": {
                    "type": "object",
                    "required": ["answer"],
                    "additionalProperties": False,
                    "properties": {"answer": {"type": "boolean"}},
                }
            }
        },
    }
}
