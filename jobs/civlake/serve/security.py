"""Who is asking, may they, and how often: API keys, grants, expiry, rate limits.

Grants are checked per dataset (and per verification question as ``verify:<q>``).
A key that does not authenticate is 401 naming the reason (missing, malformed,
unknown key, revoked, expired: ``civlake.agency.keys``) in the body and so in the
audit line; a valid key without the grant is 403, as OUTPUTS.md section 5 fixes.
Revocation and expiry are checked on every request against the register as it is now
(``Register`` notices other processes' commits). Rate limits are token buckets per key (per
client address for anonymous requests) kept in memory: one server process, and a
restart forgives everyone, which is acceptable for a limit against runaway clients.
"""

from __future__ import annotations

import math
import threading
import time
from dataclasses import dataclass, field
from datetime import date

from civlake.agency.keys import KeyRefused, check_active, check_key
from civlake.agency.store import Agency, Register
from civlake.serve.errors import ApiError


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


# The register as the server sees it (``agency create/revoke/rotate`` while serving).
Agencies = Register


def bearer(header: str | None) -> str | None:
    if not header:
        return None
    scheme, _, token = header.partition(" ")
    return token.strip() if scheme.lower() == "bearer" and token.strip() else None


def require_agency(
    agencies: Register, header: str | None, today: date, *, audit: dict | None = None
) -> Agency:
    """The agency whose key ``header`` carries, valid on ``today``; else 401 with the reason.

    For a revoked or expired key the holder is known: it goes into ``audit`` (the
    request's audit record) so reviewers see who still uses an old key.
    """
    try:
        token = bearer(header)
        if token is None and header and header.strip():
            raise KeyRefused("malformed", "send the key as Authorization: Bearer <key>")
        return check_key(agencies.current(), token, today)
    except KeyRefused as refused:
        if refused.agency is not None and audit is not None:
            audit.update(agency=refused.agency.name, key_id=refused.agency.key_id)
        raise _unauthorised(refused) from None


def require_grant(agency: Agency, grant: str, today: date) -> None:
    try:
        check_active(agency, today)  # again: a request may outlive a key's last day
    except KeyRefused as refused:
        raise _unauthorised(refused) from None
    if not agency.has_grant(grant):
        raise ApiError(
            403,
            "Authorization Error",
            f"{agency.name} has no grant for {grant}; request one from the data team",
        )


def _unauthorised(refused: KeyRefused) -> ApiError:
    err = ApiError(401, "Authorization Error", refused.message, reason=refused.reason)
    challenge = 'Bearer realm="civlake"'
    if refused.reason != "missing":  # RFC 6750 section 3.1: no error code without a key
        challenge += f', error="invalid_token", error_description="{refused.reason}"'
    err.headers["WWW-Authenticate"] = challenge
    return err
