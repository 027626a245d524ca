"""Request bodies before a handler reads them: size (413) and well-formed JSON (400)."""

from __future__ import annotations

import asyncio
import warnings

import httpx
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from civlake.serve.app import create_app
from civlake.serve.audit import log_path, read_audit
from civlake.serve.inputs import MalformedBody, parse_json

URL = "http://civlake.test/api/3/action/package_search"


@pytest.mark.parametrize(
    ("raw", "why"),
    [(b"\xff\xfe{}", "not UTF-8"), (b'{"a": "\xc3"}', "not UTF-8"),
     (b'{"a": "\\ud800"}', "lone surrogate"), (b'["\\udc00x"]', "lone surrogate"),
     (b'{"a": 1', "Expecting"), (b"{'a': 1}", "Expecting property name"),
     (b"[" * 100_000, "nested too deeply"), (b"\x00", "Expecting value")],
)  # fmt: skip
def test_bodies_that_are_not_json_text_are_400(raw, why) -> None:
    with pytest.raises(MalformedBody, match=why) as caught:
        parse_json(raw)
    assert caught.value.status == 400
    assert caught.value.body()["error"]["__type"] == "Bad Request"


def test_well_formed_bodies_parse() -> None:
    assert parse_json(b"") == {}
    assert parse_json(b'\xef\xbb\xbf{"q": "\\u2028\\u0000\xe4\xbd\xa0"}') == {"q": "\u2028\x00你"}
    assert parse_json(b'"\\ud83d\\ude00"') == "\U0001f600"  # a surrogate pair is one character


@given(st.binary(max_size=64))
@settings(max_examples=300, derandomize=True, database=None)
def test_any_bytes_parse_or_are_malformed(raw) -> None:
    try:
        parse_json(raw)
    except MalformedBody as exc:
        assert exc.status == 400


@pytest.fixture
def app(settings):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return create_app(settings)


def _post(app, content, headers=None) -> httpx.Response:
    async def go() -> httpx.Response:
        transport = httpx.ASGITransport(app=app, client=("127.0.0.1", 1234))
        async with httpx.AsyncClient(transport=transport) as client:
            return await client.post(URL, content=content, headers=headers or {})

    return asyncio.run(go())


def test_malformed_json_is_400_in_ckans_envelope_and_audited(app, settings) -> None:
    resp = _post(app, b'{"rows": ', {"Content-Type": "application/json"})
    assert resp.status_code == 400
    body = resp.json()
    assert body["success"] is False and body["error"]["__type"] == "Bad Request"
    assert body["error"]["message"].startswith("Bad request - JSON Error: ")
    assert body["help"].endswith("help_show?name=package_search")
    entry = read_audit(log_path(settings))[-1]
    assert entry["status"] == 400 and "JSON Error" in entry["reason"]
    # a well-formed body of the wrong shape stays a validation error (CKAN's 409)
    assert _post(app, b"[1]", {"Content-Type": "application/json"}).status_code == 409


def test_oversized_bodies_are_413_before_parsing(app, settings) -> None:
    limit = 16 * 1024
    ok = b'{"rows": 1' + b" " * (limit - 20) + b"}"
    assert _post(app, ok, {"Content-Type": "application/json"}).status_code == 200
    # declared too large: refused on the header alone
    big = b"{" + b" " * limit + b"}"
    assert _post(app, big, {"Content-Type": "application/json"}).status_code == 413

    # chunked (no Content-Length): counted as it arrives, cut off past the limit
    async def chunks():
        yield b'{"rows": 1'
        for _ in range(64):
            yield b" " * 1024
        yield b"}"

    resp = _post(app, chunks(), {"Content-Type": "application/json"})
    assert resp.status_code == 413 and resp.json()["error"]["__type"] == "Validation Error"
    assert [e["status"] for e in read_audit(log_path(settings))[-3:]] == [200, 413, 413]
