"""Append-only, tamper-evident audit log of every request: ``<home>/state/audit.jsonl``.

One JSON object per ``\\n``-terminated line, refused requests included: who (agency or
anonymous), what (path, action, dataset, question), when, how many rows left, purpose,
status and why it was refused. Whatever a client sends, a line stays one line: control
characters, line and paragraph separators (U+2028, U+2029, U+0085 ...), invisible
format characters and lone surrogates are written as ``\\uXXXX`` escapes, bytes that are
not UTF-8 are kept as escaped surrogates, and a string longer than FIELD_LIMIT is cut
(its original length kept under ``truncated``). Readers split on ``\\n`` only.

Keyed chain: line n carries ``seq`` = n and ``mac`` = HMAC-SHA256 under the audit secret
of the previous line's mac, a newline and the canonical JSON of line n without its mac
(line 1 chains from GENESIS). Without the secret nobody can edit, insert, delete or
reorder lines, or rebuild the chain, without ``verify`` naming the first bad line. The
server holds the secret, so whoever takes over its account could still rewrite the file
or cut its tail: checkpoints taken under another account (``civlake audit checkpoint``,
serve/audit_cli.py) pin the head and catch that too.

Several server processes (``uvicorn --workers N``) share the file: a write takes an
exclusive ``flock`` on it, reads the last line's seq and mac, and appends under the lock,
so the chain never forks. The file is only ever opened for append.
"""

from __future__ import annotations

import fcntl
import hashlib
import hmac
import json
import math
import os
import re
import threading
from collections.abc import Iterator
from pathlib import Path

from civlake.secret_files import load_named_secret
from civlake.settings import Settings, load_settings

GENESIS = "0" * 64
SECRET_ENV = "CIVLAKE_AUDIT_SECRET"
SECRET_FILE = "audit.secret"
# A purpose is at most 200 characters when accepted; 1,000 keeps every honest value
# whole and bounds a line at a few tens of KB whatever a client sends.
FIELD_LIMIT = 1000
TRUNCATED_MARK = "…[truncated]"
_OWN_KEYS = ("seq", "mac", "truncated", "prev")
# Everything str.splitlines splits on, other C0/C1 controls, invisible format characters
# (bidi overrides could disguise a line on a reviewer's screen) and lone surrogates.
_SURROGATE_PAIR = re.compile("[\ud800-\udbff][\udc00-\udfff]")
_UNSAFE = re.compile(
    "[\x00-\x1f\x7f-\x9f\u00ad\u061c\u180e\u200b-\u200f\u2028-\u202e\u2060-\u206f"
    "\ufeff\ufff9-\ufffb\ud800-\udfff]"
)


def escape_unsafe(text: str) -> str:
    """``text`` with every unsafe character as a ``\\uXXXX`` escape (valid inside JSON)."""
    return _UNSAFE.sub(lambda m: f"\\u{ord(m.group()):04x}", text)


def load_audit_secret(settings: Settings, *, create: bool = True) -> bytes:
    """The audit secret, kept like the person-key secret (``settings.audit_secret``, from
    the environment, else a 0600 file made on first use). ``create=False`` for verifiers:
    a new secret could only fail the log."""
    path = settings.secrets_dir / SECRET_FILE
    if not create and not (settings.audit_secret or "").strip() and not path.is_file():
        raise ValueError(
            f"no audit secret: set {SECRET_ENV} or give this account read access to {path}"
        )
    return load_named_secret(
        settings.secrets_dir, value=settings.audit_secret, env_var=SECRET_ENV,
        file_name=SECRET_FILE, if_lost="the existing audit log will no longer verify",
    )  # fmt: skip


def log_path(settings: Settings) -> Path:
    """Where the server writes and the ``civlake audit`` commands read."""
    return settings.audit_log


def secret_for(path: Path, *, create: bool = True) -> bytes:
    """The secret of a log kept where the server keeps it (``<home>/state/audit.jsonl``)."""
    return load_audit_secret(load_settings(home=path.parent.parent), create=create)


def encode_line(entry: dict) -> bytes:
    """The line as written: readable UTF-8 (Chinese stays Chinese), one line whatever."""
    return escape_unsafe(json.dumps(entry, ensure_ascii=False, sort_keys=True)).encode() + b"\n"


def chain_mac(secret: bytes, prev: str, entry: dict) -> str:
    body = {k: v for k, v in entry.items() if k != "mac"}
    canonical = json.dumps(body, ensure_ascii=True, sort_keys=True, separators=(",", ":"))
    message = prev.encode("ascii") + b"\n" + canonical.encode("ascii")
    return hmac.new(secret, message, hashlib.sha256).hexdigest()


def clean_record(record: dict) -> dict:
    """JSON-safe copy of a record: long strings cut, odd types made text."""
    truncated: dict[str, int] = {}
    entry = {
        str(k)[:100]: _clean(v, truncated, str(k)[:100], 0)
        for k, v in record.items()
        if k not in _OWN_KEYS
    }
    if truncated:
        entry["truncated"] = truncated
    return entry


def _clean(value, truncated: dict[str, int], key: str, depth: int):
    if isinstance(value, bytes | bytearray):
        # Not UTF-8 from a client: kept byte for byte as escaped surrogates.
        value = bytes(value).decode("utf-8", "surrogateescape")
    if value is None or isinstance(value, bool):
        return value
    if isinstance(value, int):
        return value if value.bit_length() <= 63 else f"<integer of {value.bit_length()} bits>"
    if isinstance(value, float):
        return value if math.isfinite(value) else str(value)
    if isinstance(value, dict) and depth < 3:
        items = list(value.items())[:100]
        return {str(k)[:100]: _clean(v, truncated, f"{key}.{k}"[:100], depth + 1) for k, v in items}
    if isinstance(value, list | tuple) and depth < 3:
        return [_clean(v, truncated, f"{key}[{i}]", depth + 1) for i, v in enumerate(value[:100])]
    text = _paired(value if isinstance(value, str) else repr(value))
    if len(text) > FIELD_LIMIT:
        truncated[key] = len(text)
        return text[:FIELD_LIMIT] + TRUNCATED_MARK
    return text


def _paired(text: str) -> str:
    # A high and a low surrogate side by side (a client can send both) are written as
    # two escapes that JSON reads back as one character: "\\ud800\\udfff" is U+103FF.
    # Joined before writing, so each line reads back as written and its MAC holds.
    return _SURROGATE_PAIR.sub(
        lambda m: chr(0x10000 + ((ord(m[0][0]) - 0xD800) << 10) + ord(m[0][1]) - 0xDC00), text
    )


class AuditLog:
    """The writer; ``secret`` defaults to the one kept beside the log (``secret_for``)."""

    def __init__(self, path: Path, *, secret: bytes | None = None) -> None:
        self.path = path
        self._secret = secret_for(path) if secret is None else secret
        self._lock = threading.Lock()  # flock is per open file; this orders our threads
        self._head: tuple[int, int, str] | None = None  # (file size, seq, mac) we last saw

    def write(self, record: dict) -> dict:
        entry = clean_record(record)
        with self._lock:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            fd = os.open(self.path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o640)
            try:
                fcntl.flock(fd, fcntl.LOCK_EX)
                size = os.fstat(fd).st_size
                if self._head is not None and self._head[0] == size:
                    seq, prev, torn = self._head[1], self._head[2], False
                else:
                    seq, prev, torn = _last_link(self.path, size)
                entry["seq"] = seq + 1
                entry["mac"] = chain_mac(self._secret, prev, entry)
                # A torn last line (a crash mid-write) stays a line of its own for verify
                # to report; ours must not be glued to it.
                data = (b"\n" if torn else b"") + encode_line(entry)
                view = memoryview(data)
                while view:
                    view = view[os.write(fd, view) :]
                self._head = (size + len(data), entry["seq"], entry["mac"])
            finally:
                os.close(fd)  # releases the flock
        return entry


def _last_link(path: Path, size: int) -> tuple[int, str, bool]:
    """(seq, mac) of the last chained line, and whether the file lacks its final newline.

    Reads backwards from the end: one small read when the last line is sound."""
    if size == 0:
        return 0, GENESIS, False
    with path.open("rb") as fh:
        fh.seek(size - 1)
        torn = fh.read(1) != b"\n"
        pos, rest = size, b""
        while pos > 0:
            step = min(65536, pos)
            pos -= step
            fh.seek(pos)
            parts = (fh.read(step) + rest).split(b"\n")
            rest = parts.pop(0) if pos > 0 else b""
            for raw in reversed(parts):
                if (link := _link_of(raw)) is not None:
                    return link[0], link[1], torn
    return 0, GENESIS, torn


def _link_of(raw: bytes) -> tuple[int, str] | None:
    try:
        obj = json.loads(raw)
    except ValueError:
        return None
    if isinstance(obj, dict) and _is_chained(obj):
        return obj["seq"], obj["mac"]
    return None


def _is_chained(obj: dict) -> bool:
    seq, mac = obj.get("seq"), obj.get("mac")
    return type(seq) is int and isinstance(mac, str) and len(mac) == 64


def log_lines(path: Path) -> Iterator[tuple[int, bytes, bool]]:
    """(line number, bytes without the newline, whether it ended in one), split on b"\\n".

    The size is taken under a shared lock, so a line being appended is never half-read."""
    if not path.is_file():
        return
    with path.open("rb") as fh:
        fcntl.flock(fh, fcntl.LOCK_SH)
        remaining = os.fstat(fh.fileno()).st_size
        fcntl.flock(fh, fcntl.LOCK_UN)
        n = 0
        while remaining > 0:
            raw = fh.readline(remaining)
            if not raw:
                return
            remaining -= len(raw)
            n += 1
            yield n, raw.removesuffix(b"\n"), raw.endswith(b"\n")


def parse_line(raw: bytes) -> dict:
    """One line as a record; ValueError when it is not a JSON object in UTF-8."""
    obj = json.loads(raw.decode("utf-8"))
    if not isinstance(obj, dict):
        raise ValueError("not a JSON object")
    return obj


def read_audit(path: Path) -> list[dict]:
    """Every record in order; ValueError naming the first line that is not one."""
    records = []
    for n, raw, _ in log_lines(path):
        if not raw:
            continue
        try:
            records.append(parse_line(raw))
        except ValueError as exc:
            raise ValueError(f"{path} line {n} is not an audit record: {exc}") from exc
    return records


def verify_chain(path: Path) -> int | None:
    """1-based number of the first bad line; None when intact (the chain only:
    ``civlake audit verify`` also checks the checkpoints)."""
    from civlake.serve.audit_verify import verify

    return verify(path, secret_for(path, create=False)).bad_line
