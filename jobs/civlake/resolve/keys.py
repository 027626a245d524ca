"""Pseudonymous person keys: HMAC-SHA256 of the canonical ID under a city secret.

The secret comes from ``CIVLAKE_PERSON_KEY_SECRET`` or, on first run, is generated into
``<home>/.secrets/person_key.secret`` (mode 0600). Two machines with the same secret
produce the same keys, so marts built anywhere join. The secret is never logged.
"""

from __future__ import annotations

import hashlib
import hmac
import os
import secrets
from pathlib import Path

SECRET_ENV = "CIVLAKE_PERSON_KEY_SECRET"
SECRET_FILE = "person_key.secret"
# 32 hex chars = 128 bits: collision-free at any city size, short enough for humans.
KEY_LENGTH = 32


class SecretError(RuntimeError):
    """The person-key secret is unusable (empty file, wrong permissions)."""


def load_secret(secrets_dir: Path, *, env: dict[str, str] | None = None) -> bytes:
    """Secret from the environment, else from (or newly into) the secret file."""
    env = dict(os.environ) if env is None else env
    if value := env.get(SECRET_ENV, "").strip():
        return value.encode("utf-8")
    path = secrets_dir / SECRET_FILE
    if path.exists():
        value = path.read_text(encoding="utf-8").strip()
        if not value:
            raise SecretError(
                f"{path} is empty: delete it to generate a new secret (all person_key values "
                f"will change) or restore it from backup, or set {SECRET_ENV}"
            )
        return value.encode("utf-8")
    secrets_dir.mkdir(parents=True, exist_ok=True)
    os.chmod(secrets_dir, 0o700)
    value = secrets.token_hex(32)
    # O_EXCL: two tasks racing on a first run must not end up with different secrets.
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:
        return load_secret(secrets_dir, env=env)
    with os.fdopen(fd, "w", encoding="utf-8") as fh:
        fh.write(value + "\n")
    return value.encode("utf-8")


def person_key(secret: bytes, canonical: str) -> str:
    """Keyed hash of a canonical ID (or of a cluster representative, prefixed)."""
    return hmac.new(secret, canonical.encode("utf-8"), hashlib.sha256).hexdigest()[:KEY_LENGTH]
