"""The request audit log: one record per line whatever a client sends, a keyed chain whose
every kind of tampering is found and named, one unbroken chain from several processes."""

from __future__ import annotations

import hashlib
import hmac
import json
import multiprocessing
import stat
import tempfile
import threading
from pathlib import Path

import pytest
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from civlake.resolve.keys import load_secret
from civlake.serve.audit import (
    FIELD_LIMIT,
    SECRET_ENV,
    AuditLog,
    clean_record,
    load_audit_secret,
    read_audit,
    verify_chain,
)
from civlake.serve.audit_verify import verify

SECRET = b"audit-test-secret"
# Everything str.splitlines splits on, NUL, ESC, a bidi override, a BOM, lone surrogates.
HOSTILE = ["\n", "\r", "\r\n", "\x0b", "\x0c", "\x1c", "\x1d", "\x1e", "\x85", "\u2028",
           "\u2029", "\x00", "\x1b[2J", "\u202e", "\ufeff", "\ud800", "\udfff", '"', "\\", "}\n{"]  # fmt: skip
# What serve/guard.py records for each request: every one of them can carry client text.
FIELDS = ["at", "method", "path", "query", "client", "status", "outcome", "agency", "key_id",
          "action", "dataset", "version", "question", "subject", "rows", "purpose", "reason"]  # fmt: skip

hostile_text = st.one_of(
    st.lists(st.one_of(st.sampled_from(HOSTILE), st.characters(exclude_categories=[]))).map(
        "".join
    ),
    st.builds(
        lambda c, n: c * n,
        st.sampled_from([*HOSTILE, "低保", "a"]),
        st.sampled_from([FIELD_LIMIT, FIELD_LIMIT + 1, 1_000_000]),
    ),
)
hostile_value = st.one_of(
    hostile_text, st.binary(max_size=64), st.none(), st.integers(), st.just(2**2000)
)
records = st.lists(st.fixed_dictionaries({}, optional={f: hostile_value for f in FIELDS}),
                   min_size=1, max_size=4)  # fmt: skip


def _log(tmp: Path, n: int = 10) -> Path:
    path = tmp / "state" / "audit.jsonl"
    log = AuditLog(path, secret=SECRET)
    for i in range(n):
        log.write({"at": f"2026-11-01T02:00:{i:02d}+00:00", "agency": "市医保局", "rows": i,
                   "purpose": f"医保核验 {i}", "status": 200})  # fmt: skip
    return path


def _lines(path: Path) -> list[bytes]:
    return path.read_bytes().split(b"\n")[:-1]


def _put(path: Path, lines: list[bytes]) -> None:
    path.write_bytes(b"".join(line + b"\n" for line in lines))


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(batch=records)
@example(batch=[{"at": "\ud800\udfff"}])  # a surrogate pair JSON would read back as one
def test_any_text_in_any_field_leaves_a_log_that_verifies_record_by_record(batch) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "audit.jsonl"
        log = AuditLog(path, secret=SECRET)
        for record in batch:
            log.write(record)
        # THEN one line per record, split on \n only, each read back as it was written
        assert path.read_bytes().count(b"\n") == len(batch)
        assert verify(path, SECRET).ok
        read = read_audit(path)
        assert [{k: v for k, v in r.items() if k not in ("seq", "mac")} for r in read] == [
            clean_record(r) for r in batch
        ]
        assert [r["seq"] for r in read] == list(range(1, len(batch) + 1))


def test_long_fields_are_cut_with_their_length_kept_and_odd_bytes_kept_escaped(tmp_path) -> None:
    path = tmp_path / "audit.jsonl"
    AuditLog(path, secret=SECRET).write(
        {"purpose": "\u2028" * 1_000_000, "query": b"\xff\xfeok", "subject": "x\ud800"}
    )
    (entry,) = read_audit(path)
    assert entry["truncated"] == {"purpose": 1_000_000}
    assert entry["purpose"].startswith("\u2028" * FIELD_LIMIT) and len(entry["purpose"]) < 1100
    assert entry["query"] == "\udcff\udcfeok" and entry["subject"] == "x\ud800"
    assert path.stat().st_size < 10_000
    assert b"\xe2\x80\xa8" not in path.read_bytes()  # U+2028 never raw on disk


def test_an_intact_log_verifies_and_verify_chain_says_none(tmp_path, monkeypatch) -> None:
    monkeypatch.setenv(SECRET_ENV, SECRET.decode())
    path = _log(tmp_path)
    verdict = verify(path, SECRET)
    assert verdict.ok and verdict.lines == verdict.seq == 10
    assert verify_chain(path) is None


@pytest.mark.parametrize(
    ("tamper", "line", "kind"),
    [
        ("edit", 4, "edited"),
        ("delete", 4, "deleted"),
        ("delete_first", 1, "deleted"),
        ("insert_forged", 4, "inserted"),
        ("insert_copy", 7, "inserted"),
        ("insert_foreign", 4, "inserted"),
        ("swap", 4, "reordered"),
        ("rekey", 1, "edited"),
        ("respace", 4, "edited"),
        ("garbage", 4, "unparseable"),
        ("torn_tail", 10, "unparseable"),
    ],
)
def test_each_kind_of_tampering_is_named_at_its_line(tmp_path, tamper, line, kind) -> None:
    path = _log(tmp_path)
    lines = _lines(path)
    if tamper == "edit":
        obj = json.loads(lines[3])
        obj["rows"] = 0
        lines[3] = json.dumps(obj, ensure_ascii=False, sort_keys=True).encode()
    elif tamper == "delete":
        del lines[3]
    elif tamper == "delete_first":
        del lines[0]
    elif tamper == "insert_forged":
        forged = json.loads(lines[3]) | {"purpose": "伪造"}
        lines.insert(3, json.dumps(forged, ensure_ascii=False, sort_keys=True).encode())
    elif tamper == "insert_copy":
        lines.insert(6, lines[1])
    elif tamper == "insert_foreign":
        lines.insert(3, b'{"agency": "x", "status": 200}')
    elif tamper == "swap":
        lines[3], lines[4] = lines[4], lines[3]
    elif tamper == "rekey":
        lines = _rebuilt(lines, b"not-the-secret")
    elif tamper == "respace":
        lines[3] = lines[3].replace(b", ", b",  ", 1)
    elif tamper == "garbage":
        lines[3] = lines[3][:40]
    _put(path, lines)
    if tamper == "torn_tail":
        path.write_bytes(path.read_bytes()[:-5])
    verdict = verify(path, SECRET)
    assert (verdict.bad_line, verdict.kind) == (line, kind), verdict.reason
    assert f"line {line}: {kind}" in verdict.summary(path)


def _rebuilt(lines: list[bytes], key: bytes) -> list[bytes]:
    """Every mac recomputed under ``key``: what someone who can write the file could do."""
    from civlake.serve.audit import GENESIS, chain_mac, encode_line

    prev, out = GENESIS, []
    for raw in lines:
        obj = json.loads(raw)
        obj["mac"] = prev = chain_mac(key, prev, obj)
        out.append(encode_line(obj).rstrip(b"\n"))
    return out


def _checkpoint(path: Path) -> dict:
    v = verify(path, SECRET)
    return {
        "at": "t",
        "log": str(path),
        "lines": v.lines,
        "seq": v.seq,
        "mac": v.mac,
        "size": v.size,
    }


def test_a_cut_tail_is_found_against_the_latest_checkpoint(tmp_path) -> None:
    path = _log(tmp_path)
    cp = _checkpoint(path)
    _put(path, _lines(path)[:7])
    assert verify(path, SECRET).ok  # without a checkpoint a clean cut cannot be seen...
    verdict = verify(path, SECRET, checkpoints=[cp])
    assert (verdict.bad_line, verdict.kind) == (8, "truncated")  # ...with one it can
    path.unlink()
    assert verify(path, SECRET, checkpoints=[cp]).kind == "truncated"


def test_a_chain_rebuilt_with_the_secret_is_found_against_a_checkpoint(tmp_path) -> None:
    path = _log(tmp_path)
    cp = _checkpoint(path)
    lines = _lines(path)
    obj = json.loads(lines[2]) | {"rows": 0}
    lines[2] = json.dumps(obj).encode()
    _put(path, _rebuilt(lines, SECRET))
    assert verify(path, SECRET).ok
    verdict = verify(path, SECRET, checkpoints=[cp])
    assert (verdict.bad_line, verdict.kind) == (10, "rewritten")


def test_a_log_from_before_keyed_chaining_is_named_not_crashed_on(tmp_path) -> None:
    path = tmp_path / "audit.jsonl"
    prev, lines = "0" * 64, []
    for i in range(3):
        line = json.dumps({"status": 200, "rows": i, "prev": prev}, sort_keys=True)
        prev = hashlib.sha256(line.encode()).hexdigest()
        lines.append(line.encode())
    _put(path, lines)
    verdict = verify(path, SECRET)
    assert (verdict.bad_line, verdict.kind) == (1, "legacy")
    assert "predate keyed chaining" in verdict.reason
    # A server started on it continues with a keyed chain from seq 1.
    AuditLog(path, secret=SECRET).write({"status": 200})
    assert read_audit(path)[-1]["seq"] == 1 and verify(path, SECRET).kind == "legacy"


def test_the_writer_continues_the_chain_after_a_torn_line(tmp_path) -> None:
    path = _log(tmp_path, 3)
    with path.open("ab") as fh:
        fh.write(b'{"half a li')
    AuditLog(path, secret=SECRET).write({"status": 200})
    verdict = verify(path, SECRET)
    assert (verdict.bad_line, verdict.kind) == (4, "unparseable")
    assert json.loads(_lines(path)[4])["seq"] == 4


def _append_many(path: str, who: int, count: int) -> None:
    log = AuditLog(Path(path), secret=SECRET)

    def run(part: int) -> None:
        for i in range(count // 2):
            log.write({"client": f"{who}", "rows": part * 10_000 + i, "purpose": "\u2028并发"})

    threads = [threading.Thread(target=run, args=(p,)) for p in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()


def test_several_processes_append_one_unbroken_chain(tmp_path) -> None:
    # GIVEN a log with a first line, and writers that all opened it before the others wrote
    path = _log(tmp_path, 1)
    ctx = multiprocessing.get_context("fork")
    procs = [ctx.Process(target=_append_many, args=(str(path), w, 300)) for w in range(3)]
    for p in procs:
        p.start()
    for p in procs:
        p.join(timeout=120)
        assert p.exitcode == 0
    # THEN every line is there, once, in one chain
    verdict = verify(path, SECRET)
    assert verdict.ok, verdict.reason
    read = read_audit(path)
    assert len(read) == 901 and [r["seq"] for r in read] == list(range(1, 902))
    got = sorted((r["client"], r["rows"]) for r in read[1:])
    assert got == sorted(
        (str(w), p * 10_000 + i) for w in range(3) for p in range(2) for i in range(150)
    )


def test_audit_secret_is_generated_once_private_and_apart_from_the_person_key(tmp_path) -> None:
    from civlake.settings import load_settings

    secrets_dir = tmp_path / ".secrets"
    settings = load_settings(env={"CIVLAKE_HOME": str(tmp_path)})
    first = load_audit_secret(settings)
    assert stat.S_IMODE((secrets_dir / "audit.secret").stat().st_mode) == 0o600
    assert load_audit_secret(settings) == first
    assert load_secret(settings) != first
    from_env = load_settings(env={"CIVLAKE_HOME": str(tmp_path), SECRET_ENV: "from-env"})
    assert load_audit_secret(from_env) == b"from-env"
    assert hmac.compare_digest(first, load_audit_secret(settings))


def test_checkpoints_pin_the_head_of_their_own_log_only(tmp_path) -> None:
    from datetime import UTC, datetime

    from civlake.serve.audit import log_path
    from civlake.serve.audit_cli import checkpoint, read_checkpoints, verify_log
    from civlake.settings import load_settings

    settings = load_settings(env={"CIVLAKE_HOME": str(tmp_path), SECRET_ENV: SECRET.decode()})
    now = datetime(2026, 11, 1, tzinfo=UTC)
    assert checkpoint(settings, now=now)[1] is None  # nothing audited yet: no head to pin
    log = AuditLog(log_path(settings), secret=SECRET)
    for i in range(3):
        log.write({"rows": i})
    _, entry = checkpoint(settings, now=now)
    assert entry is not None and (entry["seq"], entry["lines"]) == (3, 3)
    with settings.audit_checkpoints.open("a") as fh:  # another log's checkpoint: not ours
        fh.write(json.dumps(entry | {"log": "/elsewhere/audit.jsonl", "seq": 99}) + "\n")
    assert [cp["seq"] for cp in read_checkpoints(settings.audit_checkpoints, log.path)] == [3]
    assert verify_log(settings)[1].ok
    with settings.audit_checkpoints.open("a") as fh:
        fh.write('{"at": "t"}\n')
    with pytest.raises(ValueError, match="line 3 is not a checkpoint"):
        verify_log(settings)
