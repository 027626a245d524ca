"""The guard's limiters on a fake clock: bounded memory, idle expiry, failed-auth windows."""

from __future__ import annotations

import sys
from datetime import UTC, datetime, timedelta

import pytest

from civlake.serve.errors import ApiError
from civlake.serve.guard import _aggregate
from civlake.serve.limiter import AGGREGATE_SECONDS, AuthThrottle, ClientLimiter


class FakeClock:
    def __init__(self) -> None:
        self.at = datetime(2026, 11, 1, 8, 0, tzinfo=UTC)

    def __call__(self) -> datetime:
        return self.at

    def seconds(self) -> float:
        return self.at.timestamp()

    def advance(self, seconds: float) -> None:
        self.at += timedelta(seconds=seconds)


def test_take_allows_the_burst_then_429_with_retry_after() -> None:
    clock = FakeClock()
    limiter = ClientLimiter(60, 3, now=clock.seconds)
    for _ in range(3):
        limiter.take("a")
    with pytest.raises(ApiError) as err:
        limiter.take("a")
    assert err.value.status == 429 and err.value.headers["Retry-After"] == "1"
    limiter.take("b")  # per client
    clock.advance(1)
    limiter.take("a")  # one token a second at 60/min


def test_distinct_address_flood_stays_within_the_bound() -> None:
    # GIVEN a limiter that remembers at most 1,000 clients
    clock = FakeClock()
    limiter = ClientLimiter(600, 120, max_clients=1000, now=clock.seconds)
    for i in range(1000):
        limiter.take(f"ip:192.168.{i >> 8}.{i & 255}")
    full = sys.getsizeof(limiter._buckets)
    # WHEN 100,000 distinct addresses each send a request
    for i in range(100_000):
        limiter.take(f"ip:10.{i >> 16}.{(i >> 8) & 255}.{i & 255}")
        if i % 1000 == 0:
            clock.advance(0.01)
    # THEN it holds 1,000 buckets, the most recent ones, and its table stays the size of
    # a table of 1,000 (a hash table's slack comes and goes; 100,000 would be ~100 times it)
    assert len(limiter) == 1000
    assert "ip:10.1.134.159" in limiter._buckets  # the last address (99,999)
    assert "ip:10.0.0.0" not in limiter._buckets
    assert sys.getsizeof(limiter._buckets) < 3 * full


def test_recently_seen_clients_survive_eviction_and_the_idle_are_forgotten() -> None:
    clock = FakeClock()
    limiter = ClientLimiter(60, 2, max_clients=3, idle_seconds=300, now=clock.seconds)
    for who in ("a", "b", "c"):
        limiter.take(who)
    limiter.take("a")  # a is now the most recently seen
    limiter.take("d")  # evicts b, the least recently seen
    assert list(limiter._buckets) == ["c", "a", "d"]
    # a's bucket was kept, not reset: it is empty and still refused
    with pytest.raises(ApiError):
        limiter.take("a")
    clock.advance(301)
    limiter.take("e")
    assert list(limiter._buckets) == ["e"]  # the idle were forgotten


def test_idle_expiry_is_never_shorter_than_a_refill() -> None:
    # forgetting a client before its bucket refills would hand it a fresh burst early
    limiter = ClientLimiter(1, 30, idle_seconds=5)
    assert limiter.idle == 30 * 60


def throttle(clock: FakeClock, **kw) -> AuthThrottle:
    return AuthThrottle(10, 10, clock=clock, **kw)


def test_throttle_refuses_only_after_the_burst_of_failures() -> None:
    clock = FakeClock()
    t = throttle(clock)
    assert t.refuse("1.2.3.4", "GET", "/api/v1/x") is None  # unknown address: not remembered
    assert len(t) == 0
    for _ in range(10):
        assert t.refuse("1.2.3.4", "GET", "/api/v1/x") is None
        t.failed("1.2.3.4")
    assert t.refuse("1.2.3.4", "GET", "/api/v1/x") == 6  # 10 a minute: a token in 6 s
    assert t.refuse("5.6.7.8", "GET", "/api/v1/x") is None  # others unaffected
    clock.advance(6)
    assert t.refuse("1.2.3.4", "GET", "/api/v1/x") is None  # one more try, not a new burst
    t.failed("1.2.3.4")
    assert t.refuse("1.2.3.4", "GET", "/api/v1/x") is not None


def test_refusals_are_aggregated_one_record_per_client_per_window() -> None:
    clock = FakeClock()
    t = throttle(clock)
    for _ in range(10):
        t.failed("1.1.1.1")
    allowed = 0
    for _ in range(500):  # 25 s of flooding with bad keys
        if t.refuse("1.1.1.1", "POST", "/api/v1/verify") is None:
            allowed += 1  # a token refilled: this one reaches the app and fails again
            t.failed("1.1.1.1")
        clock.advance(0.05)
    assert allowed == 4  # 10 a minute: one every 6 s
    for _ in range(10):
        t.failed("2.2.2.2")
    assert t.refuse("2.2.2.2", "GET", "/api/v1/datasets/x/changes") == 6
    assert t.closed() == []  # the window is still open
    clock.advance(AGGREGATE_SECONDS - 25)
    (who, episode), = t.closed()  # fmt: skip
    assert who == "1.1.1.1" and episode.refused == 496
    record = _aggregate(who, episode, clock())
    assert record["status"] == 429 and record["outcome"] == "refused"
    assert record["client"] == "1.1.1.1" and record["refused"] == 496
    assert record["path"] == "/api/v1/verify" and "496 requests refused" in record["reason"]
    assert record["at"] < record["until"]
    assert t.closed() == []  # each window once
    # the other address's window closes at shutdown at the latest
    assert [(w, e.refused) for w, e in t.closed(everything=True)] == [("2.2.2.2", 1)]


def test_an_evicted_address_keeps_its_count() -> None:
    clock = FakeClock()
    t = throttle(clock, max_clients=2)
    for _ in range(10):
        t.failed("1.1.1.1")
    t.refuse("1.1.1.1", "GET", "/api/v1/x")
    t.failed("2.2.2.2")
    t.failed("3.3.3.3")  # evicts 1.1.1.1
    assert [(w, e.refused) for w, e in t.closed()] == [("1.1.1.1", 1)]


def test_throttle_memory_is_bounded_under_a_flood_of_failing_addresses() -> None:
    clock = FakeClock()
    t = AuthThrottle(10, 1, clock=clock, max_clients=500)
    written = 0
    for i in range(100_000):  # each address fails once, then is refused once
        who = f"10.{i >> 16}.{(i >> 8) & 255}.{i & 255}"
        t.failed(who)
        t.refuse(who, "GET", "/api/v1/x")
        written += len(t.closed())  # the guard writes closed windows before each request
        if i % 997 == 0:
            assert len(t) <= 500 and len(t._episodes) <= 500
    # no count was lost on the way: evicted windows were handed over for writing
    assert written + len(t.closed(everything=True)) == 100_000
