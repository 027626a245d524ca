"""Verify the keyed audit chain (serve/audit.py) and its checkpoints; name the first bad line.

Kinds of damage, as ``verify`` names them:

* ``unparseable``: not a UTF-8 JSON object, or a last line without its newline;
* ``edited``: the line's content does not match its mac (or is not byte for byte what
  the writer wrote); a chain rebuilt without the secret fails here at line 1;
* ``inserted``: a line that repeats an earlier seq, carries no seq/mac, or a forged
  line in front of the one that really holds that seq;
* ``deleted``: seq jumps and the missing numbers appear nowhere later;
* ``reordered``: seq jumps and the expected number appears later in the file;
* ``truncated``: fewer lines (or bytes) than a checkpoint recorded;
* ``rewritten``: the line a checkpoint pinned has another mac now: the chain was rebuilt
  by someone holding the secret (the server account) after that checkpoint;
* ``legacy``: lines from before keyed chaining (an unkeyed sha256 ``prev`` chain).

Checkpoints are ``{"at", "log", "lines", "seq", "mac", "size"}`` records (audit_cli.py).
"""

from __future__ import annotations

import hmac
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path

from civlake.serve.audit import GENESIS, chain_mac, encode_line, log_lines, parse_line


@dataclass(frozen=True)
class Verdict:
    lines: int = 0  # complete lines read
    seq: int = 0  # last seq of the chain
    mac: str = GENESIS  # head mac
    size: int = 0  # bytes through the last line read
    legacy: int = 0  # leading lines from before keyed chaining
    bad_line: int | None = None
    kind: str | None = None
    reason: str = ""

    @property
    def ok(self) -> bool:
        return self.bad_line is None

    def summary(self, path: Path) -> str:
        if self.ok:
            return f"{path}: intact, {self.lines} lines, last seq {self.seq}, head {self.mac[:16]}…"
        return f"{path}: line {self.bad_line}: {self.kind}: {self.reason}"


def verify(path: Path, secret: bytes, *, checkpoints: Iterable[dict] = ()) -> Verdict:
    """Walk the chain line by line; stop at the first bad line and say what it is."""
    pinned = {cp["seq"]: cp for cp in checkpoints}
    seen_macs: dict[int, str] = {}
    lines = log_lines(path)
    prev, seq, size, count, legacy = GENESIS, 0, 0, 0, 0

    def bad(n: int, kind: str, reason: str) -> Verdict:
        return Verdict(count, seq, prev, size, legacy, n, kind, reason)

    for n, raw, complete in lines:
        if not complete:
            return bad(n, "unparseable", "last line has no newline (cut mid-line or torn write)")
        try:
            obj = parse_line(raw)
        except ValueError as exc:
            return bad(n, "unparseable", f"not a JSON object in UTF-8 ({exc})")
        got = obj.get("seq")
        if not (type(got) is int and isinstance(obj.get("mac"), str)):
            if "prev" in obj and seq == 0 and legacy == n - 1:
                legacy, count, size = n, n, size + len(raw) + 1
                continue
            return bad(n, "inserted", "a line without seq and mac: not written by the audit log")
        expected = seq + 1
        if got != expected:
            return _out_of_sequence(bad, n, got, expected, lines)
        if not hmac.compare_digest(obj["mac"], chain_mac(secret, prev, obj)):
            follow = next(lines, None)
            if follow is not None and _seq_of(follow[1]) == got:
                why = f"forged line: the next line carries the same seq {got} and its real content"
                return bad(n, "inserted", why)
            why = "content does not match its mac (edited, or the chain rebuilt without the secret)"
            return bad(n, "edited", why)
        if encode_line(obj) != raw + b"\n":
            why = "not byte for byte what the writer wrote (spacing, key order, duplicate keys)"
            return bad(n, "edited", why)
        prev, seq, size, count = obj["mac"], got, size + len(raw) + 1, n
        if got in pinned:
            seen_macs[got] = prev
    for cp in sorted(pinned.values(), key=lambda c: c["seq"]):
        if cp["seq"] > seq or cp.get("size", 0) > size:
            why = (
                f"the log ends at seq {seq} ({size} bytes) but the checkpoint of {cp.get('at')} "
                f"recorded seq {cp['seq']} ({cp.get('size')} bytes): lines were cut from the end"
            )
            return bad(count + 1, "truncated", why)
        if seen_macs.get(cp["seq"]) != cp["mac"]:
            why = (
                f"seq {cp['seq']} has another mac than the checkpoint of {cp.get('at')} "
                "recorded: the chain was rebuilt by someone holding the audit secret"
            )
            return bad(legacy + cp["seq"], "rewritten", why)
    if legacy:
        why = (
            f"lines 1-{legacy} predate keyed chaining (an unkeyed sha256 'prev' chain that anyone "
            "able to write the file can rebuild); move the file aside as an archive and let the "
            "server start a keyed log"
        )
        return bad(1, "legacy", why)
    return Verdict(count, seq, prev, size, legacy)


def _out_of_sequence(bad, n: int, got, expected: int, rest: Iterator) -> Verdict:
    if type(got) is int and got < expected:
        return bad(n, "inserted", f"seq {got} again where {expected} was expected (a copied line)")
    # Looking ahead tells a move from a removal: is the expected seq further down?
    for m, raw, _ in rest:
        if _seq_of(raw) == expected:
            why = f"seq {got} where {expected} was expected; seq {expected} is at line {m}"
            return bad(n, "reordered", why)
    missing = f"{expected}" if got == expected + 1 else f"{expected}-{got - 1}"
    return bad(n, "deleted", f"seq {got} where {expected} was expected: seq {missing} missing")


def _seq_of(raw: bytes) -> int | None:
    try:
        seq = parse_line(raw).get("seq")
    except ValueError:
        return None
    return seq if type(seq) is int else None
