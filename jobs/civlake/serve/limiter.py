"""Rate limits of ``civlake serve``, bounded in memory: token buckets per client
(``ClientLimiter``: agency keys, public addresses) and failed authentications per
address (``AuthThrottle``, which the guard in ``guard.py`` consults).

A client address whose failed authentications (401) exhaust its ``AuthThrottle``
bucket is answered 429 with ``Retry-After`` on the routes that take a key, before the
key is looked at (so a guess that happens to be right tells it nothing). Those
refusals are not written one line each, which is what would let a client flood the
log: each address gets one aggregate line per window saying how many were refused.
Every limiter here is bounded: ``ClientLimiter`` keeps at most ``max_clients``
buckets, least recently seen dropped first, and forgets a client idle ``idle_seconds``.
"""

from __future__ import annotations

import math
import threading
import time
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime

from civlake.serve.errors import ApiError

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


def too_many(message: str, retry_after: int) -> ApiError:
    err = ApiError(429, "Rate Limit Error", message)
    err.headers["Retry-After"] = str(retry_after)
    return err
