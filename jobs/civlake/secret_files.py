"""Secrets kept in files: from the settings (the environment) or generated on first run.

The person-key secret (``civlake.resolve.keys``) and the audit secret
(``civlake.serve.audit``) are kept the same way, by this one function.
"""

from __future__ import annotations

import os
import secrets
import tempfile
from pathlib import Path


class SecretError(RuntimeError):
    """A secret (person key, audit) is unusable (empty file, wrong permissions)."""


def load_named_secret(
    secrets_dir: Path,
    *,
    value: str | None,
    env_var: str,
    file_name: str,
    if_lost: str,
) -> bytes:
    """``value`` (the settings' copy of ``env_var``), else the secret in
    ``<secrets_dir>/<file_name>``, else a new one generated there (mode 0600).
    ``if_lost`` says what regenerating it breaks; ``env_var`` is named in errors."""
    if value := (value or "").strip():
        return value.encode("utf-8")
    path = secrets_dir / file_name
    if path.exists():
        value = path.read_text(encoding="utf-8").strip()
        if not value:
            raise SecretError(
                f"{path} is empty: delete it to generate a new secret ({if_lost}) "
                f"or restore it from backup, or set {env_var}"
            )
        return value.encode("utf-8")
    secrets_dir.mkdir(parents=True, exist_ok=True)
    os.chmod(secrets_dir, 0o700)
    value = secrets.token_hex(32)
    # Written whole to a private temporary file, then linked into place: link() fails if
    # the name exists, so two processes racing on a first run (several server workers)
    # end up with one secret, and neither ever reads a created-but-still-empty file.
    fd, tmp = tempfile.mkstemp(dir=secrets_dir, prefix=f".{file_name}.")
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as fh:
            fh.write(value + "\n")
        os.chmod(tmp, 0o600)
        try:
            os.link(tmp, path)
        except FileExistsError:
            return load_named_secret(
                secrets_dir, value=None, env_var=env_var, file_name=file_name, if_lost=if_lost
            )
    finally:
        os.unlink(tmp)
    return value.encode("utf-8")
