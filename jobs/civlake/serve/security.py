"""Who is asking, may they, and how often: API keys, grants, expiry, rate limits.

Grants are checked per dataset (and per verification question as ``verify:<q>``).
A missing or unknown key is 401, a known key without the grant or past its expiry
403, as OUTPUTS.md section 5 fixes. Rate limits are token buckets per key (per
client address for anonymous requests) kept in memory: one server process, and a
restart forgives everyone, which is acceptable for a limit against runaway clients.
"""

from __future__ import annotations

import math
import threading
import time
from dataclasses import dataclass, field
from datetime import date

from civlake.agency.store import Agency, authenticate, load_agencies, register_path
from civlake.serve.errors import ApiError
from civlake.settings import Settings


@dataclass
class Bucket:
    tokens: float
    stamp: float


@dataclass
class RateLimiter:
    per_minute: int
    burst: int
    _buckets: dict[str, Bucket] = field(default_factory=dict)
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def take(self, who: str) -> None:
        now = time.monotonic()
        rate = self.per_minute / 60.0
        with self._lock:
            b = self._buckets.setdefault(who, Bucket(float(self.burst), now))
            b.tokens = min(self.burst, b.tokens + (now - b.stamp) * rate)
            b.stamp = now
            if b.tokens < 1:
                err = ApiError(429, "Rate Limit Error", "too many requests; slow down")
                err.headers["Retry-After"] = str(max(1, math.ceil((1 - b.tokens) / rate)))
                raise err
            b.tokens -= 1


class Agencies:
    """The agency register, reread when its file changes (``agency create`` while serving)."""

    def __init__(self, settings: Settings) -> None:
        self._path = register_path(settings)
        self._settings = settings
        self._stamp: float | None = None
        self._agencies: dict[str, Agency] = {}
        self._lock = threading.Lock()

    def current(self) -> dict[str, Agency]:
        with self._lock:
            stamp = self._path.stat().st_mtime_ns if self._path.is_file() else None
            if stamp != self._stamp:
                self._agencies = load_agencies(self._settings)
                self._stamp = stamp
            return self._agencies


def bearer(header: str | None) -> str | None:
    if not header:
        return None
    scheme, _, token = header.partition(" ")
    return token.strip() if scheme.lower() == "bearer" and token.strip() else None


def require_agency(agencies: Agencies, header: str | None) -> Agency:
    token = bearer(header)
    if token is None:
        raise _unauthorised("missing API key: send Authorization: Bearer <key>")
    agency = authenticate(agencies.current(), token)
    if agency is None:
        raise _unauthorised("API key not recognised: ask the data team for a new key")
    return agency


def require_grant(agency: Agency, grant: str, today: date) -> None:
    if agency.is_expired(today):
        raise ApiError(
            403,
            "Authorization Error",
            f"the key of {agency.name} expired on {agency.expires}; ask for a renewal",
        )
    if not agency.has_grant(grant):
        raise ApiError(
            403,
            "Authorization Error",
            f"{agency.name} has no grant for {grant}; request one from the data team",
        )


def _unauthorised(message: str) -> ApiError:
    err = ApiError(401, "Authorization Error", message)
    err.headers["WWW-Authenticate"] = 'Bearer realm="civlake"'
    return err
