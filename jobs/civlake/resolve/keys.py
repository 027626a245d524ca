"""Pseudonymous person keys: HMAC-SHA256 of the canonical ID under a city secret.

The secret comes from ``CIVLAKE_PERSON_KEY_SECRET`` (``Settings.person_key_secret``) or,
on first run, is generated into
``<home>/.secrets/person_key.secret`` (mode 0600). Two machines with the same secret
produce the same keys, so marts built anywhere join. The secret is never logged.
"""

from __future__ import annotations

import hashlib
import hmac

from civlake.secret_files import SecretError, load_named_secret
from civlake.settings import Settings

__all__ = [
    "KEY_LENGTH",
    "SECRET_ENV",
    "SECRET_FILE",
    "SecretError",
    "hmac_pads",
    "load_secret",
    "person_key",
    "person_key_spark_sql",
    "person_key_sql",
    "secret_fingerprint",
]

SECRET_ENV = "CIVLAKE_PERSON_KEY_SECRET"
SECRET_FILE = "person_key.secret"
# 32 hex chars = 128 bits: collision-free at any city size, short enough for humans.
KEY_LENGTH = 32


def load_secret(settings: Settings) -> bytes:
    """Person-key secret from the settings (environment), else from (or newly into) the
    secret file."""
    return load_named_secret(
        settings.secrets_dir, value=settings.person_key_secret, env_var=SECRET_ENV,
        file_name=SECRET_FILE, if_lost="all person_key values will change",
    )  # fmt: skip


def secret_fingerprint(secret: bytes) -> str:
    """A hash that tells secrets apart without revealing one (state files, stage inputs)."""
    return hashlib.sha256(b"civlake-person-key|" + secret).hexdigest()


def person_key(secret: bytes, canonical: str) -> str:
    """Keyed hash of a canonical ID (or of a cluster representative, prefixed)."""
    return hmac.new(secret, canonical.encode("utf-8"), hashlib.sha256).hexdigest()[:KEY_LENGTH]


_BLOCK = 64  # SHA-256's block size (RFC 2104)


def hmac_pads(secret: bytes) -> tuple[bytes, bytes]:
    """(inner, outer): the secret padded to a block and XOR-ed with ipad and opad, so that
    HMAC-SHA256(secret, m) = SHA256(outer || SHA256(inner || m)) (RFC 2104)."""
    key = hashlib.sha256(secret).digest() if len(secret) > _BLOCK else secret
    key = key.ljust(_BLOCK, b"\0")
    return bytes(b ^ 0x36 for b in key), bytes(b ^ 0x5C for b in key)


def person_key_sql(canonical: str, pads: str) -> str:
    """``person_key`` in DuckDB SQL: of the VARCHAR expression ``canonical``, with the
    relation ``pads`` (columns ``ipad``, ``opad``: ``hmac_pads`` as BLOBs) in scope.
    The pads stay data (a table), never query text, which errors may print."""
    return (
        f"left(sha256({pads}.opad || unhex(sha256({pads}.ipad || encode({canonical})))), "
        f"{KEY_LENGTH})"
    )


def person_key_spark_sql(canonical: str, pads: str) -> str:
    """``person_key_sql`` in Spark SQL (``pads``' columns BINARY; a string casts to its
    UTF-8 bytes, Spark's ``sha2`` gives lowercase hex as ``hexdigest`` does)."""
    inner = f"unhex(sha2(concat({pads}.ipad, cast({canonical} as binary)), 256))"
    return f"left(sha2(concat({pads}.opad, {inner}), 256), {KEY_LENGTH})"
