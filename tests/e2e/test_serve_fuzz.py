"""Bad input, tried by machines, against ``civlake serve`` on a real loopback port.

Schemathesis generates requests from the OpenAPI document FastAPI builds for the app
(every route, valid and invalid data, with and without an agency key) and holds the
answers to it: no 5xx, every status and content type documented, schema-valid data
not refused as malformed. Hypothesis then sends hostile text (line and paragraph
separators, NUL, 1 MB strings, invalid UTF-8, lone surrogates) into every field that
reaches the audit log, down to raw bytes on the socket. After each, the log reads
back one record per request and its chain verifies.

Rate limits are raised for this module (they have their own tests): a throttled
address's refusals are audited as one aggregate line, which would make the count of
lines differ from the count of requests by design.
"""

from __future__ import annotations

import socket
import warnings
from urllib.parse import quote, urlsplit

import pytest
import requests
import schemathesis
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from schemathesis import GenerationMode

from civlake.agency import create_agency
from civlake.publish import publish_all
from civlake.serve.app import create_app
from civlake.serve.audit import log_path, read_audit, verify_chain
from civlake.settings import load_settings
from tests.e2e.test_serve_agency import ALL_VERIFY, NOW, _auth
from tests.support.sample_warehouse import build_sample_warehouse
from tests.support.server import serve_in_background

pytestmark = pytest.mark.e2e
# Failed authentications are throttled per address (CIVLAKE_RATE_AUTH_FAIL_*).
RAISED = {"CIVLAKE_RATE_AUTH_FAIL_PER_MINUTE": "1000000", "CIVLAKE_RATE_AUTH_FAIL_BURST": "1000000"}
UNLIMITED = {"key_rate_per_minute": 10**6, "key_burst": 10**6,
             "public_rate_per_minute": 10**6, "public_burst": 10**6}  # fmt: skip
OPERATIONS = [
    "GET /api/3/action/{name}", "POST /api/3/action/{name}", "GET /api/action/{name}",
    "POST /api/action/{name}", "GET /catalog.jsonld", "GET /", "GET /dataset/{name}",
    "GET /download/{name}/{version}/{filename}", "GET /api/v1/datasets/{name}/changes",
    "POST /api/v1/verify", "POST /api/v1/findings/{finding_id}/review",
    "GET /api/v1/worklists/{district}", "GET /dashboard", "GET /api/v1/dashboard/{panel}",
]  # fmt: skip
# Deterministic and bounded: 14 operations x 2 modes x 20 examples, per caller, is
# about 550 requests (some 30 s on 2 cores).
FUZZ = settings(
    max_examples=20,
    derandomize=True,
    database=None,
    deadline=None,
    suppress_health_check=list(HealthCheck),
)
HOSTILE = settings(
    max_examples=20, derandomize=True, database=None, deadline=None,
    suppress_health_check=list(HealthCheck),
)  # fmt: skip
SEPARATORS = ["\u2028", "\u2029", "\x85", "\r", "\n", "\x0b", "\x0c", "\x1c", "\x1e", "\x00"]


@pytest.fixture(scope="module")
def lake(tmp_path_factory):
    home = tmp_path_factory.mktemp("fuzz")
    cfg = load_settings(env={"CIVLAKE_HOME": str(home), **RAISED})
    written = build_sample_warehouse(cfg.warehouse)
    publish_all(cfg, now=NOW)
    key = create_agency(
        cfg, "模糊测试部门", ["assistance_recipients_current", *ALL_VERIFY], "2030-12-31"
    )
    app = create_app(cfg, **UNLIMITED)
    with serve_in_background(app) as base:
        yield app, cfg, base, key, written


def _records(cfg) -> int:
    return len(read_audit(log_path(cfg)))


def _lines(cfg) -> int:
    # Cheap per-example count; test_the_log_reads_back_one_record_per_line (last in
    # this module) checks that lines and records agree, and that the chain verifies.
    path = log_path(cfg)
    return path.read_bytes().count(b"\n") if path.is_file() else 0


# --- schemathesis ----------------------------------------------------------------------


@pytest.mark.parametrize("with_key", [False, True], ids=["anonymous", "agency-key"])
def test_schemathesis_finds_nothing_and_every_request_is_audited(lake, with_key) -> None:
    app, cfg, base, key, _ = lake
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # a duplicate operation id is a schema bug too
        schema = schemathesis.openapi.from_dict(app.openapi())
    headers = _auth(key) if with_key else {}
    session = requests.Session()
    sent: list[int] = []
    session.hooks["response"].append(lambda resp, *a, **k: sent.append(resp.status_code))
    failures: list[str] = []
    before = _records(cfg)
    operations = [result.ok() for result in schema.get_all_operations()]
    # A new route joins this list on purpose, so it is fuzzed knowingly (the Delta Sharing
    # routes are outside the OpenAPI document; tests/e2e/test_delta_sharing.py covers them).
    assert sorted(op.label for op in operations) == sorted(OPERATIONS)
    for op in operations:
        has_input = bool(list(op.iter_parameters())) or bool(op.body)
        modes = (GenerationMode.POSITIVE, GenerationMode.NEGATIVE)
        for mode in modes if has_input else modes[:1]:
            failures += _fuzz(op, mode, base.rstrip("/"), session, headers)
    assert not failures, "\n\n".join(failures[:5])
    assert all(code < 500 for code in sent)
    # every request, refused ones included, is one record; and the chain holds
    assert _records(cfg) - before == len(sent) > 200
    assert verify_chain(log_path(cfg)) is None


def _fuzz(op, mode, base_url: str, session, headers: dict) -> list[str]:
    """Run one operation's cases; the failures as text (every case runs, none stops it)."""
    failures: list[str] = []

    @given(case=op.as_strategy(generation_mode=mode))
    @FUZZ
    def run(case) -> None:
        try:
            case.call_and_validate(base_url=base_url, session=session, headers=headers)
        except (AssertionError, BaseExceptionGroup) as exc:
            failures.append(f"{op.label} [{mode.value}]: {str(exc)[:800]}")

    run()
    return failures


# --- hostile text into every audited field ----------------------------------------------

hostile_text = st.lists(
    st.one_of(st.sampled_from(SEPARATORS), st.text(max_size=4)), min_size=1, max_size=8
).map("".join)


def _raw(base: str, request: bytes) -> tuple[int, bytes]:
    """Send bytes as they are (no client library normalises or refuses them)."""
    url = urlsplit(base)
    with socket.create_connection((url.hostname, url.port), timeout=10) as sock:
        sock.sendall(request)
        data = b""
        while chunk := sock.recv(65536):
            data += chunk
    head, _, body = data.partition(b"\r\n\r\n")
    return int(head.split(b" ", 2)[1]), body


def _assert_audited(cfg, before: int, status: int, body: bytes) -> None:
    assert status < 500, body[:300]
    if status == 400 and body.startswith(b"Invalid HTTP request"):
        # uvicorn's own parser refused the bytes (a CR, LF or NUL inside a header or the
        # request line): the request never reached the app, so there is nothing to audit.
        assert _lines(cfg) == before
    else:
        assert _lines(cfg) == before + 1
        # and that line is one line for every reader (str.splitlines splits on U+2028,
        # U+2029, U+0085, \x0b, \x0c, \x1c-\x1e as well as on \n and \r)
        last = log_path(cfg).read_bytes().rstrip(b"\n").rsplit(b"\n", 1)[-1]
        assert len(last.decode("utf-8").splitlines()) == 1, last[:300]


@pytest.mark.parametrize("field", ["purpose", "question", "id_number"])
@given(text=hostile_text)
@HOSTILE
def test_hostile_text_in_verify_body(lake, field, text) -> None:
    _, cfg, base, key, written = lake
    body = {"question": "is_alive", "id_number": written["persons"][0]["id_number"],
            "purpose": "资格核验"} | {field: text}  # fmt: skip
    before = _lines(cfg)
    resp = requests.post(f"{base}api/v1/verify", json=body, headers=_auth(key), timeout=10)
    assert resp.status_code in (200, 409), resp.text
    _assert_audited(cfg, before, resp.status_code, resp.content)
    if resp.status_code == 200 and field == "purpose":
        assert read_audit(log_path(cfg))[-1]["purpose"] == text.strip()


@pytest.mark.parametrize(
    "url",
    ["dataset/{}", "download/{}/v1/x.csv", "api/v1/datasets/{}/changes",
     "api/3/action/package_show?id={}", "api/3/action/package_search?q={}",
     "api/v1/datasets/deaths_registry/changes?purpose={}", "?q={}"],
)  # fmt: skip
@given(text=hostile_text)
@HOSTILE
def test_hostile_text_in_paths_and_query_strings(lake, url, text) -> None:
    _, cfg, base, key, _ = lake
    before = _lines(cfg)
    target = "/" + url.format(quote(text, safe=""))
    status, body = _raw(base, _request("GET", target, {"Authorization": f"Bearer {key}"}))
    assert (200 <= status < 500 and status != 400) or b"path traversal" in body
    _assert_audited(cfg, before, status, body)


@pytest.mark.parametrize("header", ["User-Agent", "Authorization", "X-Forwarded-For"])
@given(raw=st.lists(st.one_of(st.sampled_from([s.encode() for s in SEPARATORS]),
                              st.sampled_from([b"\x85", b"\xff", b"\xc3", b"\xed\xa0\x80"]),
                              st.binary(max_size=4)), min_size=1, max_size=8).map(b"".join))  # fmt: skip
@HOSTILE
def test_hostile_bytes_in_headers(lake, header, raw) -> None:
    _, cfg, base, _, _ = lake
    before = _lines(cfg)
    value = b"Bearer " + raw if header == "Authorization" else raw
    request = _request("GET", "/api/v1/datasets/deaths_registry/changes", {header: value})
    status, body = _raw(base, request)
    _assert_audited(cfg, before, status, body)


def test_raw_bytes_in_the_query_string_are_audited_readably(lake) -> None:
    _, cfg, base, _, _ = lake
    for raw in (b"\x85", b"\xe2\x80\xa8", b"\xe2\x80\xa9", b"\xff\xfe", b"%85%E2%80%A8%00"):
        before = _lines(cfg)
        status, body = _raw(base, _request("GET", b"/api/3/action/package_list?x=" + raw))
        _assert_audited(cfg, before, status, body)


@pytest.mark.parametrize(
    ("where", "size", "expected"),
    [("purpose", 1 << 20, {413}), ("query", 5000, {414}), ("path", 5000, {414}),
     # a 1 MB request line is refused by uvicorn's parser (400) before the app: not audited
     ("query", 1 << 20, {400, 414}), ("path", 1 << 20, {400, 414})],
)  # fmt: skip
def test_long_strings_are_refused_and_audited(lake, where, size, expected) -> None:
    _, cfg, base, key, _ = lake
    big = "\u2028" * 10 + "x" * size
    before = _lines(cfg)
    if where == "purpose":
        resp = requests.post(f"{base}api/v1/verify", headers=_auth(key), timeout=30,
                             json={"question": "is_alive", "id_number": "1", "purpose": big})  # fmt: skip
    elif where == "query":
        resp = requests.get(f"{base}api/3/action/package_search", params={"q": big}, timeout=30)
    else:
        resp = requests.get(f"{base}dataset/{quote(big)}", timeout=30)
    assert resp.status_code in expected
    _assert_audited(cfg, before, resp.status_code, resp.content)


def test_one_megabyte_header_never_reaches_a_5xx(lake) -> None:
    _, cfg, base, _, _ = lake
    before = _lines(cfg)
    status, _ = _raw(base, _request("GET", "/", {"User-Agent": b"\xe2\x80\xa8" * (1 << 18)}))
    assert status < 500
    assert _lines(cfg) - before in (0, 1)  # refused by the HTTP parser or audited once
    assert verify_chain(log_path(cfg)) is None


@pytest.mark.parametrize(
    ("body", "why"),
    [(b'{"question": "is_alive", "purpose": "\xff\xfe"}', "not UTF-8"),
     (b'{"question": "is_alive", "id_number": "1", "purpose": "\\ud800"}', "lone surrogate"),
     (b'{"question": "is_alive", "purpose": "x\\udfff"}', "lone surrogate"),
     (b'{"question": "is_alive",', "Expecting"),
     (b"\x00", "Expecting value")],
)  # fmt: skip
def test_undecodable_bodies_are_400_in_the_envelope_and_audited(lake, body, why) -> None:
    _, cfg, base, key, _ = lake
    before = _lines(cfg)
    for url in ("api/v1/verify", "api/3/action/package_search"):
        resp = requests.post(f"{base}{url}", data=body, timeout=10,
                             headers=_auth(key) | {"Content-Type": "application/json"})  # fmt: skip
        assert resp.status_code == 400, resp.text
        error = resp.json()["error"]
        assert error["__type"] == "Bad Request" and why in error["message"]
        assert "JSON Error" in read_audit(log_path(cfg))[-1]["reason"]
    assert _lines(cfg) == before + 2
    assert verify_chain(log_path(cfg)) is None


def _request(method: str, target: str | bytes, headers: dict | None = None) -> bytes:
    lines = [f"{method} ".encode() + (target if isinstance(target, bytes) else target.encode())
             + b" HTTP/1.1", b"Host: 127.0.0.1", b"Connection: close"]  # fmt: skip
    for name, value in (headers or {}).items():
        lines.append(
            name.encode() + b": " + (value if isinstance(value, bytes) else value.encode())
        )
    return b"\r\n".join(lines) + b"\r\n\r\n"


def test_path_tricks_on_downloads_never_leave_the_publish_folder(lake) -> None:
    _, cfg, base, key, _ = lake
    secret = cfg.home / "outside.txt"
    secret.write_text("SECRET-OUTSIDE-PUBLISH", "utf-8")
    vdir = next((cfg.publish / "civil_divisions").rglob("version.json")).parent
    (vdir / "escape.csv").symlink_to(secret)
    (vdir / "agencies.json").symlink_to(cfg.state_dir / "agencies.json")
    prefix = f"/download/{vdir.parent.name}/{vdir.name}"
    assert prefix.startswith("/download/civil_divisions/v")
    tricks = [
        f"{prefix}/escape.csv", f"{prefix}/agencies.json",
        f"{prefix}/../../../outside.txt", f"{prefix}/%2e%2e/%2e%2e/%2e%2e/outside.txt",
        f"{prefix}/%2E%2E%2F%2E%2E%2F%2E%2E%2Foutside.txt", f"{prefix}/..%2f..%2f..%2foutside.txt",
        f"{prefix}/..%5c..%5coutside.txt", f"{prefix}/{quote(str(secret), safe='')}",
        f"/download/civil_divisions/{quote(str(vdir), safe='')}/version.json",
        f"/download//{secret}", f"{prefix}/version.json%00.csv", f"{prefix}/%00",
        "/download/%2e%2e/v1/outside.txt", "/download/..%2fstate/v1/agencies.json",
        f"{prefix}/%252e%252e%252foutside.txt", f"{prefix}/.%2e/.%2e/.%2e/outside.txt",
    ]  # fmt: skip
    for target in tricks:
        for headers in ({}, {"Authorization": f"Bearer {key}"}):
            before = _lines(cfg)
            status, body = _raw(base, _request("GET", target, headers))
            assert status in (400, 404), (target, status)
            assert b"SECRET" not in body and b"key_sha256" not in body and b"key_hash" not in body
            _assert_audited(cfg, before, status, body)
    # the real files of the same version still download
    assert _raw(base, _request("GET", f"{prefix}/version.json"))[0] == 200


def test_the_log_reads_back_one_record_per_line(lake) -> None:
    # Last in the module: after all of the above, the audit log still reads back one
    # record per line (so one per audited request) and its chain verifies.
    _, cfg, _, _, _ = lake
    assert _records(cfg) == _lines(cfg) > 500
    assert verify_chain(log_path(cfg)) is None
