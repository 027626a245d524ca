"""Token resolution (env or Airflow connection, never argv) and Retry-After parsing."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from civlake.exchange.client import retry_after_seconds
from civlake.exchange.faults import FaultConfig
from civlake.exchange.token import resolve_token
from civlake.settings import load_settings


def _token(env: dict[str, str]) -> str | None:
    return resolve_token(load_settings(env=env))


def test_token_precedence_env_then_airflow_connection():
    conn_uri = "http://user:s%40cret@exchange.example:443"
    assert (
        _token({"CIVLAKE_EXCHANGE_TOKEN": " t1 ", "AIRFLOW_CONN_CIVLAKE_EXCHANGE": conn_uri})
        == "t1"
    )
    assert _token({"AIRFLOW_CONN_CIVLAKE_EXCHANGE": conn_uri}) == "s@cret"
    conn_json = '{"conn_type": "http", "host": "x", "password": "t2"}'
    assert _token({"AIRFLOW_CONN_CIVLAKE_EXCHANGE": conn_json}) == "t2"
    assert _token({}) is None


def test_retry_after_forms():
    now = datetime(2026, 11, 2, 8, 0, tzinfo=UTC)
    assert retry_after_seconds("3") == 3.0
    assert retry_after_seconds("Mon, 02 Nov 2026 08:00:05 GMT", now) == 5.0
    assert retry_after_seconds("soon") is None and retry_after_seconds(None) is None


def test_fault_config_rejects_settings_that_never_succeed():
    with pytest.raises(ValueError, match="error_every"):
        FaultConfig(error_every=1)
    with pytest.raises(ValueError, match="unknown fault"):
        FaultConfig.from_env('{"eror_every": 3}')
    assert FaultConfig.from_env('{"drop_every": 4}').drop_every == 4
