"""Exchange-platform channel: pull API feeds into bronze; simulate the platform for tests."""

from civlake.exchange.accounting import PullSummary, merge_into
from civlake.exchange.client import (
    CursorExpired,
    ExchangeAuthError,
    ExchangeError,
    ExchangeNotFound,
    ExchangeUnavailable,
    RetryPolicy,
)
from civlake.exchange.puller import pull_api_feeds
from civlake.exchange.token import resolve_token

__all__ = [
    "CursorExpired",
    "ExchangeAuthError",
    "ExchangeError",
    "ExchangeNotFound",
    "ExchangeUnavailable",
    "PullSummary",
    "RetryPolicy",
    "merge_into",
    "pull_api_feeds",
    "resolve_token",
]
