"""Key lifecycle against a real server: revocation, rotation and expiry count from the
next request, also when the change is made by another process while the server runs,
and every refusal names its reason in the body and in the audit line."""

from __future__ import annotations

from contextlib import contextmanager
from datetime import UTC, datetime

import httpx
import pytest

from civlake.agency import create_agency
from civlake.publish import publish_all
from civlake.serve.app import create_app
from civlake.serve.audit import log_path, read_audit
from civlake.settings import load_settings
from tests.support.agency_cli import agency_cli
from tests.support.sample_warehouse import build_sample_warehouse
from tests.support.server import serve_in_background

pytestmark = pytest.mark.e2e
NOW = datetime(2026, 11, 1, 2, 0, tzinfo=UTC)
CHANGES = "/api/v1/datasets/deaths_registry/changes"


@pytest.fixture(scope="module")
def settings(tmp_path_factory):
    home = tmp_path_factory.mktemp("lifecycle")
    settings = load_settings(env={"CIVLAKE_HOME": str(home)})
    build_sample_warehouse(settings.warehouse)
    publish_all(settings, now=NOW)
    return settings


@contextmanager
def _server(settings, clock=lambda: datetime.now(UTC)):
    # One server per test: a handful of refusals each stays under the failed-auth limit.
    app = create_app(settings, public_burst=100_000, clock=clock)
    with serve_in_background(app) as base, httpx.Client(base_url=base, timeout=10) as client:
        yield client


def _get(client: httpx.Client, key: str | None = None, **headers: str) -> httpx.Response:
    if key is not None:
        headers["Authorization"] = f"Bearer {key}"
    return client.get(CHANGES, params={"purpose": "生命周期测试"}, headers=headers)


def _assert_refused(settings, resp: httpx.Response, reason: str, agency: str | None) -> None:
    assert resp.status_code == 401
    error = resp.json()["error"]
    assert resp.json()["success"] is False and error["__type"] == "Authorization Error"
    assert error["reason"] == reason and error["message"].startswith(f"{reason}: ")
    assert "Bearer" in resp.headers["WWW-Authenticate"]
    entry = read_audit(log_path(settings))[-1]
    assert entry["status"] == 401 and entry["outcome"] == "refused"
    assert entry["path"] == CHANGES and entry["reason"] == error["message"]
    assert entry.get("agency") == agency


def test_revocation_counts_from_the_next_request_of_a_running_server(settings) -> None:
    key = create_agency(settings, "撤销局", ["deaths_registry"], None)
    with _server(settings) as client:
        # GIVEN a server that has already served this key
        assert _get(client, key).status_code == 200
        # WHEN another process revokes it
        assert "Revoked" in agency_cli(settings, "revoke", "撤销局")
        # THEN the very next request is refused, saying why, in the body and the audit
        _assert_refused(settings, _get(client, key), "revoked", "撤销局")
        assert 'error="invalid_token"' in _get(client, key).headers["WWW-Authenticate"]


def test_rotation_while_serving_swaps_the_keys(settings) -> None:
    old = create_agency(settings, "轮换服务局", ["deaths_registry"], None)
    with _server(settings) as client:
        assert _get(client, old).status_code == 200
        new = agency_cli(settings, "rotate", "轮换服务局").rstrip("\n").rsplit("\n", 1)[-1]
        assert _get(client, new).status_code == 200
        _assert_refused(settings, _get(client, old), "revoked", "轮换服务局")
        assert _get(client, new).status_code == 200


def test_expiry_counts_from_the_next_request(settings) -> None:
    key = create_agency(settings, "到期局", ["deaths_registry"], "2030-06-30")
    clock = [datetime(2030, 6, 30, 23, 59, tzinfo=UTC)]
    with _server(settings, clock=lambda: clock[0]) as client:
        # GIVEN the last day of the key (valid through its expiry date, UTC)
        assert _get(client, key).status_code == 200
        # WHEN midnight passes, with no change to the register
        clock[0] = datetime(2030, 7, 1, 0, 0, tzinfo=UTC)
        # THEN the key is refused as expired
        resp = _get(client, key)
        _assert_refused(settings, resp, "expired", "到期局")
        assert "2030-06-30" in resp.json()["error"]["message"]


def test_each_refusal_names_its_reason(settings) -> None:
    known = create_agency(settings, "原因服务局", ["deaths_registry"], None)
    unknown = known[:-1] + ("A" if known[-1] != "A" else "B")
    with _server(settings) as client:
        _assert_refused(settings, _get(client), "missing", None)
        _assert_refused(
            settings, _get(client, Authorization="Basic dXNlcjpwdw=="), "malformed", None
        )
        _assert_refused(settings, _get(client, "not-a-key"), "malformed", None)
        _assert_refused(settings, _get(client, unknown), "unknown key", None)
        assert _get(client, known).status_code == 200
