"""Delta Sharing's pure parts: share names, signed file URLs, the change feed, schemas."""

from __future__ import annotations

import json
import re
from datetime import UTC, date, datetime, timedelta

import pyarrow as pa
import pytest

from civlake.publish.catalog import load_catalog
from civlake.serve.sharing.actions import schema_string
from civlake.serve.sharing.files import change_feed
from civlake.serve.sharing.names import same_name, share_name
from civlake.serve.sharing.signing import FileGrant, TokenRefused, sign, verify

SECRET = b"k" * 32
NOW = datetime(2026, 11, 1, 2, 0, tzinfo=UTC)


def test_share_names_are_stable_url_safe_and_apart() -> None:
    name = share_name("广州市医疗保障局")
    assert re.fullmatch(r"guangzhoushiyiliaobaozhangju_[0-9a-f]{8}", name)
    assert share_name("广州市医疗保障局") == name  # derived, never stored
    # names that read the same in pinyin (市 / 式) stay two shares
    assert share_name("广州式医疗保障局") != name
    assert same_name(name.upper(), name)  # the protocol's names are case-insensitive


def _grant(**change) -> FileGrant:
    base = dict(key_id="0123456789ab", dataset="deaths_registry", version=2, kind="data",
                scope="all", expires=int((NOW + timedelta(minutes=15)).timestamp()), nonce="n1")  # fmt: skip
    return FileGrant(**(base | change))


def test_a_signed_url_carries_its_grant_until_it_expires() -> None:
    grant = _grant()
    token = sign(grant, SECRET)
    assert re.fullmatch(r"[A-Za-z0-9_\-]+\.[A-Za-z0-9_\-]+", token)  # a URL path segment
    assert verify(token, SECRET, NOW) == grant
    with pytest.raises(TokenRefused, match=r"^expired"):
        verify(token, SECRET, NOW + timedelta(minutes=16))


def test_any_change_to_a_signed_url_is_refused() -> None:
    token = sign(_grant(), SECRET)
    payload, mac = token.split(".")
    other = sign(_grant(dataset="assistance_recipients_current"), SECRET).split(".")[0]
    for bad in (f"{other}.{mac}", f"{payload}.{mac[:-1]}", f"{payload}x.{mac}", "", "."):
        with pytest.raises(TokenRefused, match=r"^tampered"):
            verify(bad, SECRET, NOW)
    with pytest.raises(TokenRefused, match=r"^tampered"):
        verify(token, b"another secret", NOW)


def test_only_the_servers_own_spelling_of_a_signature_is_taken() -> None:
    # Unpadded base64 of 32 bytes leaves 2 bits of the last character unused: the other
    # spellings decode to the same MAC, and are refused all the same (one URL per grant).
    payload, mac = sign(_grant(), SECRET).split(".")
    alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_"
    for last in alphabet.replace(mac[-1], ""):
        with pytest.raises(TokenRefused, match=r"^tampered"):
            verify(f"{payload}.{mac[:-1]}{last}", SECRET, NOW)
    for middle in alphabet.replace(mac[5], ""):
        with pytest.raises(TokenRefused, match=r"^tampered"):
            verify(f"{payload}.{mac[:5]}{middle}{mac[6:]}", SECRET, NOW)


def test_change_feed_has_pre_and_post_images_and_whole_deleted_rows() -> None:
    schema = pa.schema([("id_number", pa.string()), ("kind", pa.string()), ("since", pa.date32())])
    old = pa.Table.from_pylist([
        {"id_number": "a", "kind": "低保", "since": date(2026, 1, 1)},
        {"id_number": "b", "kind": "特困", "since": date(2026, 2, 1)},
        {"id_number": "c", "kind": "低保", "since": date(2026, 3, 1)},
    ], schema=schema)  # fmt: skip
    new = pa.Table.from_pylist([
        {"id_number": "a", "kind": "低保", "since": date(2026, 1, 1)},
        {"id_number": "b", "kind": "低保", "since": date(2026, 2, 1)},
        {"id_number": "d", "kind": "特困", "since": date(2026, 4, 1)},
    ], schema=schema)  # fmt: skip
    rows = change_feed(old, new, ("id_number",)).to_pylist()
    assert sorted((r["id_number"], r["kind"], r["_change_type"]) for r in rows) == [
        ("b", "低保", "update_postimage"), ("b", "特困", "update_preimage"),
        ("c", "低保", "delete"), ("d", "特困", "insert"),
    ]  # fmt: skip
    deleted = next(r for r in rows if r["_change_type"] == "delete")
    assert deleted["since"] == date(2026, 3, 1)  # the whole last row, not just its key
    first = change_feed(None, new, ("id_number",))
    assert first.column("_change_type").to_pylist() == ["insert"] * 3


def test_schema_string_is_the_protocols_struct_with_chinese_titles() -> None:
    ds = load_catalog()["deaths_registry"]
    schema = pa.schema([(f.name, pa.string()) for f in ds.fields[:2]]).append(
        pa.field("at", pa.timestamp("us"))
    )
    parsed = json.loads(schema_string(ds, schema))
    assert parsed["type"] == "struct"
    assert [(f["name"], f["type"]) for f in parsed["fields"]] == [
        (ds.fields[0].name, "string"), (ds.fields[1].name, "string"), ("at", "timestamp"),
    ]  # fmt: skip
    assert parsed["fields"][0]["metadata"] == {"comment": ds.fields[0].title}
    with pytest.raises(ValueError, match="no Delta Sharing type"):
        schema_string(ds, pa.schema([("x", pa.list_(pa.int64()))]))
