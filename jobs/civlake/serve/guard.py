"""ASGI guard in front of every route: refuse traversal and oversized requests, throttle
addresses that keep failing authentication, and write one audit line per request
whatever its outcome.

It sits outside the framework so that even requests refused before routing (a
``..`` in the path, a 10 MB body) are answered in the same envelope and audited.
The body is read here, up to the limit, and replayed to the app; reading it
chunk by chunk means a client that lies about Content-Length cannot get past it.
Throttled addresses (``limiter.AuthThrottle``) are refused before their key is looked
at, and audited as one aggregate line per address and window.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from datetime import datetime

from civlake.serve.audit import AuditLog
from civlake.serve.errors import ApiError
from civlake.serve.limiter import AuthThrottle, Episode, too_many

# Routes where a request carries an agency key (conditional downloads take one too).
KEYED_PREFIXES = ("/api/v1/", "/download/", "/delta-sharing/")


class Guard:
    def __init__(
        self, app, *, audit: AuditLog, max_body: int, max_url: int,
        clock: Callable[[], datetime], throttle: AuthThrottle | None = None,
    ) -> None:  # fmt: skip
        self.app = app
        self.audit = audit
        self.max_body = max_body
        self.max_url = max_url
        self.clock = clock
        self.throttle = throttle

    def write_aggregates(self, *, everything: bool = False) -> None:
        if self.throttle is not None:
            for who, episode in self.throttle.closed(everything=everything):
                self.audit.write(_aggregate(who, episode, self.clock()))

    async def __call__(self, scope, receive, send) -> None:
        if scope["type"] == "lifespan":

            async def on_shutdown():
                message = await receive()
                if message["type"] == "lifespan.shutdown":
                    self.write_aggregates(everything=True)
                return message

            await self.app(scope, on_shutdown, send)
            return
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        self.write_aggregates()
        state = scope.setdefault("state", {})
        info: dict = state.setdefault("audit", {})
        started = self.clock()
        status = {"code": 500, "audited": False}
        client = (scope.get("client") or ("?", 0))[0]
        if self.throttle is not None and scope["path"].startswith(KEYED_PREFIXES):
            wait = self.throttle.refuse(client, scope.get("method", ""), scope["path"])
            if wait is not None:
                # Counted in the address's aggregate line instead of a line of its own.
                message = "too many failed authentications from this address; retry later"
                await _send_error(send, too_many(message, wait))
                return

        def write_audit() -> None:
            if not status["audited"]:
                status["audited"] = True
                self.audit.write(_record(scope, info, status["code"], started))

        async def send_wrapper(message) -> None:
            if message["type"] == "http.response.start":
                status["code"] = message["status"]
                if message["status"] == 401 and self.throttle is not None:
                    self.throttle.failed(client)
            elif message["type"] == "http.response.body" and not message.get("more_body"):
                # Audit before the response completes: a client never holds data (or a
                # refusal) that the log does not show yet.
                write_audit()
            await send(message)

        try:
            refusal = self._check_request(scope)
            body = b""
            if refusal is None:
                body, refusal = await self._read_body(receive)
            if refusal is not None:
                info.setdefault("reason", refusal.message)
                await _send_error(send_wrapper, refusal)
                return
            replayed = False

            async def replay():
                nonlocal replayed
                if not replayed:
                    replayed = True
                    return {"type": "http.request", "body": body, "more_body": False}
                return await receive()

            await self.app(scope, replay, send_wrapper)
        finally:
            write_audit()

    def _check_request(self, scope) -> ApiError | None:
        path: str = scope["path"]
        raw = scope.get("raw_path") or path.encode()
        query: bytes = scope.get("query_string", b"")
        if len(raw) + len(query) > self.max_url:
            return ApiError(
                414, "Validation Error", f"request URL longer than {self.max_url} bytes"
            )
        lowered = raw.lower()
        if (
            ".." in path.split("/")
            or "\\" in path
            or "\x00" in path
            or b"%2e%2e" in lowered
            or b"%00" in lowered
            or b"%5c" in lowered
        ):
            return ApiError(400, "Validation Error", "path traversal refused")
        for name, value in scope.get("headers", []):
            if name == b"content-length":
                try:
                    if int(value) > self.max_body:
                        return _too_large(self.max_body)
                except ValueError:
                    return ApiError(400, "Validation Error", "Content-Length is not a number")
        return None

    async def _read_body(self, receive) -> tuple[bytes, ApiError | None]:
        chunks: list[bytes] = []
        size = 0
        while True:
            message = await receive()
            if message["type"] == "http.disconnect":
                return b"", ApiError(400, "Validation Error", "client disconnected")
            chunk = message.get("body", b"")
            size += len(chunk)
            if size > self.max_body:
                return b"", _too_large(self.max_body)
            chunks.append(chunk)
            if not message.get("more_body", False):
                return b"".join(chunks), None


def _too_large(limit: int) -> ApiError:
    return ApiError(413, "Validation Error", f"request body larger than {limit} bytes refused")


async def _send_error(send, err: ApiError) -> None:
    payload = json.dumps(err.body(), ensure_ascii=False).encode()
    headers = [
        (b"content-type", b"application/json"),
        (b"content-length", str(len(payload)).encode()),
        *((k.lower().encode(), v.encode()) for k, v in err.headers.items()),
    ]
    await send({"type": "http.response.start", "status": err.status, "headers": headers})
    await send({"type": "http.response.body", "body": payload})


def _record(scope, info: dict, status: int, started: datetime) -> dict:
    client = scope.get("client") or ("", 0)
    query = scope.get("query_string", b"").decode("latin-1")
    return {
        "at": started.isoformat(),
        "method": scope.get("method"),
        "path": scope.get("path", "")[:500],
        "query": query[:500],
        "client": client[0],
        "status": status,
        "outcome": "allowed" if status < 400 else "refused",
        "agency": info.get("agency"),
        "key_id": info.get("key_id"),
        "action": info.get("action"),
        "dataset": info.get("dataset"),
        "version": info.get("version"),
        "question": info.get("question"),
        "subject": info.get("subject"),
        "rows": info.get("rows", 0),
        "purpose": info.get("purpose"),
        "reason": info.get("reason"),
        # Rows a person-level pull covered: "all", or the division prefixes of a
        # district-scoped grant ("440106"); None when no person-level rows were asked.
        "scope": info.get("scope"),
    }


def _aggregate(who: str, episode: Episode, until: datetime) -> dict:
    """One line for all the refusals of a throttled address in one window."""
    n = episode.refused
    scope = {"method": episode.method, "path": episode.path, "client": (who, 0)}
    reason = f"failed authentication throttled: {n} request{'s' * (n != 1)} refused"
    return _record(scope, {"action": "throttled", "reason": reason}, 429, episode.started_at) | {
        "refused": n,
        "until": until.isoformat(),
    }
