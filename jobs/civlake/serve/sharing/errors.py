"""Refusals in the Delta Sharing error shape: ``{"errorCode": ..., "message": ...}``.

A subclass of the server's ``ApiError``, so the app's one handler renders it (and the
audit line records its message) like every other refusal; only the body differs.
"""

from __future__ import annotations

from civlake.serve.errors import ApiError

# The codes Delta Sharing servers send, by HTTP status.
CODES = {400: "INVALID_PARAMETER_VALUE", 401: "UNAUTHENTICATED", 403: "PERMISSION_DENIED",
         404: "RESOURCE_DOES_NOT_EXIST", 429: "RESOURCE_EXHAUSTED"}  # fmt: skip


class SharingError(ApiError):
    def __init__(self, status: int, message: str) -> None:
        super().__init__(status, CODES.get(status, "INTERNAL_ERROR"), message)

    @classmethod
    def from_api(cls, err: ApiError) -> SharingError:
        """The same refusal (status, message, headers such as Retry-After) in this shape."""
        out = cls(err.status, err.message)
        out.headers.update(err.headers)
        return out

    def body(self, help_url: str | None = None) -> dict:
        return {"errorCode": self.kind, "message": self.message}
