"""HTTP to the exchange platform: auth, Retry-After, bounded backoff with jitter.

* 429: sleep exactly the announced ``Retry-After`` (the platform's quota window), then retry;
  the total time spent waiting on 429s is bounded too, so a stuck quota fails the task.
* 5xx, connection errors, timeouts and truncated bodies: exponential backoff with full
  jitter (AWS architecture blog: spreads retries of parallel pullers), bounded in attempts
  and total sleep, then ``ExchangeUnavailable``.
* 401/403: ``ExchangeAuthError`` at once: retrying a bad token only locks the account.
* 404: ``ExchangeNotFound``; 410: ``CursorExpired`` (the caller restarts the snapshot).
"""

from __future__ import annotations

import email.utils
import random
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime

import httpx


class ExchangeError(RuntimeError):
    """A pull could not go on; the message names feed, request and what to do."""


class ExchangeAuthError(ExchangeError):
    pass


class ExchangeUnavailable(ExchangeError):
    pass


class ExchangeNotFound(ExchangeError):
    pass


class CursorExpired(ExchangeError):
    pass


@dataclass(frozen=True, kw_only=True)
class RetryPolicy:
    max_attempts: int = 8  # per request, for 5xx and connection errors
    base_delay: float = 0.5
    max_delay: float = 30.0
    max_backoff_total: float = 120.0  # seconds of 5xx backoff per request before giving up
    max_rate_limit_wait: float = 600.0  # seconds of Retry-After waits per request
    timeout: float = 60.0


@dataclass
class Stats:
    requests: int = 0
    retries: int = 0
    rate_limited: int = 0
    waited_seconds: float = 0.0
    faults: dict[str, int] = field(default_factory=dict)

    def count(self, kind: str) -> None:
        self.faults[kind] = self.faults.get(kind, 0) + 1


def retry_after_seconds(value: str | None, now: datetime | None = None) -> float | None:
    """Retry-After as seconds: delta-seconds or an HTTP-date (RFC 9110 section 10.2.3)."""
    if value is None or not value.strip():
        return None
    value = value.strip()
    if value.isdigit():
        return float(value)
    try:
        when = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    return max(0.0, (when - (now or datetime.now(UTC))).total_seconds())


class ExchangeClient:
    def __init__(
        self,
        base_url: str,
        token: str,
        *,
        policy: RetryPolicy | None = None,
        sleep: Callable[[float], None] = time.sleep,
        rng: random.Random | None = None,
    ) -> None:
        self.policy = policy or RetryPolicy()
        self.stats = Stats()
        self._sleep = sleep
        self._rng = rng or random.Random()
        self._http = httpx.Client(
            base_url=base_url.rstrip("/"),
            headers={"Authorization": f"Bearer {token}", "Accept": "application/json"},
            timeout=self.policy.timeout,
        )

    def close(self) -> None:
        self._http.close()

    def __enter__(self) -> ExchangeClient:
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    def _wait(self, seconds: float) -> None:
        self.stats.waited_seconds += seconds
        self._sleep(seconds)

    def get_json(self, path: str, params: dict, *, what: str) -> dict:
        """GET with the retry rules above; ``what`` names feed and snapshot for messages."""
        p = self.policy
        attempts, backoff_total, rate_wait = 0, 0.0, 0.0
        last = ""
        while True:
            self.stats.requests += 1
            try:
                resp = self._http.get(path, params={k: v for k, v in params.items() if v})
                status = resp.status_code
                body = resp.json() if status == 200 else None
            except (httpx.TransportError, ValueError) as exc:
                # ValueError: a body cut short (truncated JSON) after a dropped connection.
                status, body, last = None, None, f"{type(exc).__name__}: {exc}"
                self.stats.count("connection")
            if status == 200 and isinstance(body, dict):
                return body
            if status in (401, 403):
                raise ExchangeAuthError(
                    f"{what}: the exchange platform refused the token (HTTP {status}). "
                    "Set CIVLAKE_EXCHANGE_TOKEN (or the password of the Airflow connection "
                    "'civlake_exchange') to a valid token for this platform; nothing was loaded."
                )
            if status == 404:
                raise ExchangeNotFound(f"{what}: not found on the exchange platform (HTTP 404)")
            if status == 410:
                self.stats.count("cursor_expired")
                raise CursorExpired(f"{what}: cursor expired (HTTP 410)")
            if status == 429:
                self.stats.rate_limited += 1
                self.stats.count("rate_limited")
                delay = retry_after_seconds(resp.headers.get("Retry-After"))
                if delay is None:
                    delay = p.base_delay  # no usable header: the gentlest backoff step
                if rate_wait + delay > p.max_rate_limit_wait:
                    raise ExchangeUnavailable(
                        f"{what}: still rate limited after waiting {rate_wait:.0f}s "
                        "(HTTP 429); the platform quota is exhausted, run the pull later."
                    )
                rate_wait += delay
                self._wait(delay)
                continue
            if status is not None:
                if status < 500:
                    raise ExchangeError(
                        f"{what}: unexpected HTTP {status} from the exchange platform: "
                        f"{resp.text[:300]}"
                    )
                last = f"HTTP {status}"
                self.stats.count(f"http_{status}")
            attempts += 1
            delay = self._rng.uniform(0, min(p.max_delay, p.base_delay * 2 ** (attempts - 1)))
            if attempts >= p.max_attempts or backoff_total + delay > p.max_backoff_total:
                raise ExchangeUnavailable(
                    f"{what}: exchange platform unavailable after {attempts} attempts "
                    f"({backoff_total:.1f}s of backoff); last error: {last}. Check "
                    "CIVLAKE_EXCHANGE_URL and the platform's status, then rerun: the pull "
                    "resumes from its last committed page."
                )
            self.stats.retries += 1
            backoff_total += delay
            self._wait(delay)
