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
