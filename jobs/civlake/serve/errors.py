"""One error type for every refusal, rendered in CKAN's envelope."""

from __future__ import annotations


class ApiError(Exception):
    def __init__(self, status: int, kind: str, message: str, **detail: object) -> None:
        super().__init__(message)
        self.status = status
        self.kind = kind
        self.message = message
        self.detail = detail
        self.headers: dict[str, str] = {}

    def body(self, help_url: str | None = None) -> dict:
        error = {"__type": self.kind, "message": self.message, **self.detail}
        body: dict = {"success": False, "error": error}
        if help_url is not None:
            body["help"] = help_url
        return body


# The envelope above as JSON Schema, for the OpenAPI document (what clients and the
# fuzzer in tests/e2e/test_serve_fuzz.py hold the server to).
ERROR_SCHEMA: dict = {
    "type": "object",
    "required": ["success", "error"],
    "properties": {
        "success": {"const": False},
        "help": {"type": "string"},
        "error": {
            "type": "object",
            "required": ["__type", "message"],
            "properties": {"__type": {"type": "string"}, "message": {"type": "string"}},
        },
    },
}
WHY = {
    400: "Bad request: unknown action, malformed JSON, a path trick",
    401: "Missing, unknown, revoked or expired API key",
    403: "The key has no grant for this dataset or question",
    404: "No such dataset, version or file",
    409: "Validation Error (CKAN): a parameter or body field is invalid",
    413: "Request body larger than the limit",
    414: "Request URL longer than the limit",
    429: "Rate limited; see Retry-After",
}
# Every route can be refused before routing (guard.py: URL length, path tricks, body
# size) and rate-limited.
GUARDED = (400, 413, 414, 429)


def responses(*codes: int, html: tuple[int, ...] = ()) -> dict[int | str, dict]:
    """OpenAPI ``responses`` for the refusals a route really returns (FastAPI merges them)."""
    out: dict[int | str, dict] = {}
    for code in sorted({*codes, *GUARDED, *html}):
        content: dict = {"application/json": {"schema": ERROR_SCHEMA}}
        if code in html:
            content["text/html"] = {"schema": {"type": "string"}}
        out[code] = {"description": WHY[code], "content": content}
    return out
