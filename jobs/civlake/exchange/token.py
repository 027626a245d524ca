"""The exchange token: from the environment or an Airflow connection, never from argv.

Both arrive through the settings (``CIVLAKE_EXCHANGE_TOKEN``, and the connection in its
environment form ``AIRFLOW_CONN_CIVLAKE_EXCHANGE``, URI or JSON, as Airflow's secrets
backend writes it) so that jobs never import Airflow.
"""

from __future__ import annotations

import json
from urllib.parse import unquote, urlsplit

from civlake.settings import EXCHANGE_CONNECTION_ENV, Settings

TOKEN_ENV = "CIVLAKE_EXCHANGE_TOKEN"
CONN_ID = "civlake_exchange"
CONN_ENV = EXCHANGE_CONNECTION_ENV


def resolve_token(settings: Settings) -> str | None:
    """``CIVLAKE_EXCHANGE_TOKEN``, else the password of connection ``civlake_exchange``."""
    if token := (settings.exchange_token or "").strip():
        return token
    raw = (settings.exchange_connection or "").strip()
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
