"""Fault injection for the exchange simulator, and the log of what it answered.

Faults fire on a fixed rhythm ("every Nth data request") rather than at random, so a test
that turns every fault on hits each kind a known number of times and cannot flake.
Configured per run: ``CIVLAKE_EXCHANGE_FAULTS`` (JSON, or ``@path`` to a JSON file) when the
server starts, or ``PUT /_control/faults`` while it runs.
"""

from __future__ import annotations

import json
import threading
import time
from dataclasses import asdict, dataclass, fields
from pathlib import Path


@dataclass(frozen=True, kw_only=True)
class FaultConfig:
    rate_limit_every: int = 0  # 429 with Retry-After on every Nth data request
    retry_after: int = 1  # seconds announced in Retry-After
    error_every: int = 0  # 500 / 503 (alternating) on every Nth data request
    slow_every: int = 0  # delay every Nth data request by slow_seconds
    slow_seconds: float = 0.2
    drop_every: int = 0  # records requests: send half the body, then drop the connection
    expire_every: int = 0  # records requests with a cursor: 410 on every Nth of them ...
    expire_max: int = 3  # ... at most this many times, so a restarted pull always finishes

    def __post_init__(self) -> None:
        # every=1 on a failing kind would answer nothing but failures: refuse it loudly.
        for name in ("rate_limit_every", "error_every", "drop_every", "expire_every"):
            value = getattr(self, name)
            if value < 0 or value == 1:
                raise ValueError(f"fault {name}={value}: use 0 (off) or 2 and more")
        if self.retry_after < 0 or self.slow_seconds < 0 or self.expire_max < 0:
            raise ValueError("fault retry_after, slow_seconds and expire_max must be >= 0")

    @classmethod
    def from_dict(cls, raw: dict) -> FaultConfig:
        known = {f.name for f in fields(cls)}
        unknown = sorted(set(raw) - known)
        if unknown:
            raise ValueError(f"unknown fault setting(s) {unknown}; known: {sorted(known)}")
        return cls(**raw)

    @classmethod
    def from_env(cls, value: str | None) -> FaultConfig:
        """Parse ``CIVLAKE_EXCHANGE_FAULTS``: JSON text, ``@file.json``, or empty for none."""
        if not value or not value.strip():
            return cls()
        text = Path(value[1:]).read_text(encoding="utf-8") if value.startswith("@") else value
        try:
            raw = json.loads(text)
        except json.JSONDecodeError as exc:
            raise ValueError(f"CIVLAKE_EXCHANGE_FAULTS is not valid JSON: {exc}") from exc
        if not isinstance(raw, dict):
            raise ValueError("CIVLAKE_EXCHANGE_FAULTS must be a JSON object")
        return cls.from_dict(raw)

    def to_dict(self) -> dict:
        return asdict(self)


@dataclass(frozen=True)
class Decision:
    status: int | None = None  # an error status to answer instead of data
    delay: float = 0.0
    drop: bool = False
    name: str | None = None


class FaultState:
    """Counters deciding which request fails, plus a log of every request answered."""

    def __init__(self, config: FaultConfig | None = None) -> None:
        self._lock = threading.Lock()
        self.configure(config or FaultConfig())

    def configure(self, config: FaultConfig) -> None:
        with self._lock:
            self.config = config
            self.data_requests = 0
            self.cursor_requests = 0
            self.expired = 0
            self.errors = 0
            self.log: list[dict] = []

    def decide(self, *, records: bool, has_cursor: bool) -> Decision:
        with self._lock:
            c = self.config
            self.data_requests += 1
            n = self.data_requests
            if records and has_cursor:
                self.cursor_requests += 1
            delay = c.slow_seconds if c.slow_every and n % c.slow_every == 0 else 0.0
            if c.rate_limit_every and n % c.rate_limit_every == 0:
                return Decision(429, delay, name="rate_limit")
            if c.error_every and n % c.error_every == 0:
                self.errors += 1
                return Decision(500 if self.errors % 2 else 503, delay, name="server_error")
            if (
                records
                and has_cursor
                and c.expire_every
                and self.expired < c.expire_max
                and self.cursor_requests % c.expire_every == 0
            ):
                self.expired += 1
                return Decision(410, delay, name="cursor_expired")
            if records and c.drop_every and n % c.drop_every == 0:
                return Decision(None, delay, drop=True, name="dropped")
            return Decision(None, delay, name="slow" if delay else None)

    def record(self, *, path: str, query: str, status: int, fault: str | None) -> None:
        entry = {"at": time.time(), "path": path, "query": query, "status": status}
        entry["fault"] = fault
        with self._lock:
            self.log.append(entry)

    def requests(self) -> list[dict]:
        with self._lock:
            return list(self.log)
