"""ASGI guard in front of every route: refuse traversal and oversized requests, throttle
addresses that keep failing authentication, and write one audit line per request
whatever its outcome.

It sits outside the framework so that even requests refused before routing (a
``..`` in the path, a 10 MB body) are answered in the same envelope and audited.
The body is read here, up to the limit, and replayed to the app; reading it
chunk by chunk means a client that lies about Content-Length cannot get past it.

A client address whose failed authentications (401) exhaust its ``AuthThrottle``
bucket is answered 429 with ``Retry-After`` on the routes that take a key, before the
key is looked at (so a guess that happens to be right tells it nothing). Those
refusals are not written one line each, which is what would let a client flood the
log: each address gets one aggregate line per window saying how many were refused.
Every limiter here is bounded: ``ClientLimiter`` keeps at most ``max_clients``
buckets, least recently seen dropped first, and forgets a client idle ``idle_seconds``.
"""

from __future__ import annotations

import json
import math
import threading
import time
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime

from civlake.serve.audit import AuditLog
from civlake.serve.errors import ApiError

# Routes where a request carries an agency key (conditional downloads take one too).
KEYED_PREFIXES = ("/api/v1/", "/download/")
# One aggregate audit line per throttled address per window.
AGGREGATE_SECONDS = 60.0


@dataclass
class Bucket:
    tokens: float
    stamp: float


class ClientLimiter:
    """Token buckets per client (``per_minute``, ``burst``), bounded in memory.

    ``take`` answers 429 with Retry-After. A dropped client comes back with a full
    bucket, which is where it would be anyway once idle for burst / rate seconds; so
    ``idle_seconds`` is never shorter than that.
    """

    def __init__(
        self, per_minute: int, burst: int, *, max_clients: int = 10_000,
        idle_seconds: float = 600, now: Callable[[], float] = time.monotonic,
    ) -> None:  # fmt: skip
        self.rate = per_minute / 60.0
        self.burst = burst
        self.max_clients = max_clients
        self.idle = max(idle_seconds, burst / self.rate)
        self.now = now
        self._buckets: OrderedDict[str, Bucket] = OrderedDict()  # least recently seen first
        self._lock = threading.Lock()

    def __len__(self) -> int:
        return len(self._buckets)

    def take(self, who: str) -> None:
        with self._lock:
            b = self._bucket(who, self.now())
            if b.tokens < 1:
                raise too_many("too many requests; slow down", self._wait(b))
            b.tokens -= 1

    def _find(self, who: str, t: float) -> Bucket | None:
        """The refilled bucket of ``who``, if remembered (the caller holds the lock)."""
        while self._buckets:  # forget the idle, oldest first
            oldest, b = next(iter(self._buckets.items()))
            if t - b.stamp < self.idle:
                break
            self._drop(oldest)
        b = self._buckets.get(who)
        if b is not None:
            self._buckets.move_to_end(who)
            b.tokens = min(self.burst, b.tokens + max(0.0, t - b.stamp) * self.rate)
            b.stamp = t
        return b

    def _bucket(self, who: str, t: float) -> Bucket:
        b = self._find(who, t)
        if b is None:
            b = self._buckets[who] = Bucket(float(self.burst), t)
            while len(self._buckets) > self.max_clients:
                self._drop(next(iter(self._buckets)))
        return b

    def _drop(self, who: str) -> None:
        del self._buckets[who]

    def _wait(self, b: Bucket) -> int:
        return max(1, math.ceil((1 - b.tokens) / self.rate))


@dataclass
class Episode:
    """Refusals of one throttled address within one aggregate window."""

    start: float
    started_at: datetime
    refused: int = 0
    method: str = ""
    path: str = ""


class AuthThrottle(ClientLimiter):
    """Failed authentications per client address; see the module docstring.

    Timed by the audit clock (not the monotonic one): its windows become audit lines.
    """

    def __init__(self, per_minute: int, burst: int, *, clock: Callable[[], datetime],
                 max_clients: int = 10_000, idle_seconds: float = 600) -> None:  # fmt: skip
        super().__init__(per_minute, burst, max_clients=max_clients,
                         idle_seconds=max(idle_seconds, AGGREGATE_SECONDS),
                         now=lambda: clock().timestamp())  # fmt: skip
        self.clock = clock
        self._episodes: OrderedDict[str, Episode] = OrderedDict()  # oldest window first
        self._closed: list[tuple[str, Episode]] = []

    def failed(self, who: str) -> None:
        with self._lock:
            b = self._bucket(who, self.now())
            b.tokens = max(0.0, b.tokens - 1)

    def refuse(self, who: str, method: str, path: str) -> int | None:
        """Seconds to wait when ``who`` is throttled (the refusal counted), else None."""
        with self._lock:
            t = self.now()
            b = self._find(who, t)
            if b is None or b.tokens >= 1:
                return None
            ep = self._episodes.get(who)
            if ep is None:
                ep = self._episodes[who] = Episode(t, self.clock())
            ep.refused += 1
            ep.method, ep.path = method, path[:500]
            return self._wait(b)

    def closed(self, *, everything: bool = False) -> list[tuple[str, Episode]]:
        """Windows over (all, at shutdown), each once: the aggregates to write."""
        with self._lock:
            t = self.now()
            while self._episodes:
                who, ep = next(iter(self._episodes.items()))
                if not everything and t - ep.start < AGGREGATE_SECONDS:
                    break
                self._closed.append((who, self._episodes.pop(who)))
            out, self._closed = self._closed, []
            return out

    def _drop(self, who: str) -> None:
        super()._drop(who)
        if who in self._episodes:  # never lose a count: written with the next batch
            self._closed.append((who, self._episodes.pop(who)))


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


def too_many(message: str, retry_after: int) -> ApiError:
    err = ApiError(429, "Rate Limit Error", message)
    err.headers["Retry-After"] = str(retry_after)
    return err


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
