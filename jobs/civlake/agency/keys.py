"""API keys: their format, their hash, and why a presented key is refused.

A key is ``clk_<key id>_<secret>``: 12 hex characters of public id, so the server finds
the row without comparing against every hash, and 256 random bits of secret. Only the
sha256 of the whole key is stored: with 256-bit random keys there is no dictionary to
try, so a fast hash is as safe as a slow one and lookups stay cheap on every request.

A refusal names one reason from a closed set, so the HTTP body, the audit line and a
reviewer's query use the same words. The message starts with that reason
(``"expired: the key … expired on 2026-01-01; …"``) because the message is what the
audit line records.
"""

from __future__ import annotations

import hashlib
import hmac
import re
import secrets
from collections.abc import Mapping
from datetime import date
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from civlake.agency.store import Agency

KEY_PREFIX = "clk"
_KEY = re.compile(r"^clk_([0-9a-f]{12})_([A-Za-z0-9_\-]{43})$")
REASONS = ("missing", "malformed", "unknown key", "revoked", "expired")


class KeyRefused(Exception):
    """A presented key does not authenticate; ``reason`` is one of ``REASONS``."""

    def __init__(self, reason: str, explanation: str, agency: Agency | None = None) -> None:
        super().__init__(f"{reason}: {explanation}")
        self.reason = reason
        self.message = f"{reason}: {explanation}"
        # Set for revoked and expired keys: whoever still uses one is worth knowing.
        self.agency = agency


def new_key() -> tuple[str, str, str]:
    """A fresh ``(key_id, key, sha256 of key)``."""
    key_id = secrets.token_hex(6)
    key = f"{KEY_PREFIX}_{key_id}_{secrets.token_urlsafe(32)}"
    return key_id, key, key_digest(key)


def key_digest(key: str) -> str:
    return hashlib.sha256(key.encode()).hexdigest()


def check_key(agencies: Mapping[str, Agency], key: str | None, today: date) -> Agency:
    """The agency key matching ``key`` if it is valid on ``today``; else ``KeyRefused``."""
    if not key:
        raise KeyRefused("missing", "no API key; send Authorization: Bearer <key>")
    m = _KEY.match(key)
    if not m:
        raise KeyRefused("malformed", "not a civlake API key (clk_<key id>_<secret>, as issued)")
    agency = agencies.get(m.group(1))
    # Constant-time on the hash comparison; an unknown id costs a hash too.
    digest = key_digest(key)
    if agency is None or not hmac.compare_digest(agency.key_sha256, digest):
        raise KeyRefused("unknown key", "API key not recognised; ask the data team for a new key")
    check_active(agency, today)
    return agency


def check_active(agency: Agency, today: date) -> None:
    """Refuse a known key that was revoked or is past its expiry date (inclusive, UTC)."""
    if agency.revoked_at is not None:
        raise KeyRefused(
            "revoked",
            f"the key {agency.key_id} of {agency.name} was revoked on "
            f"{agency.revoked_at[:10]}; ask the data team for a new key",
            agency,
        )
    if agency.is_expired(today):
        raise KeyRefused(
            "expired",
            f"the key {agency.key_id} of {agency.name} expired on {agency.expires}; "
            "ask the data team to rotate it",
            agency,
        )
