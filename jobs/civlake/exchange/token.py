"""The exchange token: from the environment or an Airflow connection, never from argv.

Airflow connections are read from their environment form (``AIRFLOW_CONN_CIVLAKE_EXCHANGE``,
URI or JSON, as Airflow's secrets backend writes it) so that jobs never import Airflow.
"""

from __future__ import annotations

import json
import os
from urllib.parse import unquote, urlsplit

TOKEN_ENV = "CIVLAKE_EXCHANGE_TOKEN"
CONN_ID = "civlake_exchange"
CONN_ENV = f"AIRFLOW_CONN_{CONN_ID.upper()}"


def resolve_token(env: dict[str, str] | None = None) -> str | None:
    """``CIVLAKE_EXCHANGE_TOKEN``, else the password of connection ``civlake_exchange``."""
    env = dict(os.environ) if env is None else env
    if token := (env.get(TOKEN_ENV) or "").strip():
        return token
    raw = (env.get(CONN_ENV) or "").strip()
    if not raw:
        return None
    if raw.startswith("{"):
        try:
            conn = json.loads(raw)
        except json.JSONDecodeError as exc:
            raise ValueError(f"{CONN_ENV} is neither a connection URI nor valid JSON") from exc
        return (conn.get("password") or "").strip() or None
    password = urlsplit(raw).password
    return unquote(password) if password else None
