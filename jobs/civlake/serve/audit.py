"""Append-only audit log of every request: ``<home>/state/audit.jsonl``.

One JSON line per request, refused ones included: who (agency or anonymous), what
(path, action, dataset, question), when, how many rows left the building, purpose,
the status and why it was refused. Each line carries the sha256 of the previous line,
so deleting or editing a line breaks the chain and ``verify_chain`` finds where.
The file is only ever opened for append.
"""

from __future__ import annotations

import hashlib
import json
import threading
from pathlib import Path

GENESIS = "0" * 64


class AuditLog:
    def __init__(self, path: Path) -> None:
        self.path = path
        self._lock = threading.Lock()
        self._prev = _last_hash(path)

    def write(self, record: dict) -> None:
        with self._lock:
            line = json.dumps(record | {"prev": self._prev}, ensure_ascii=False, sort_keys=True)
            self.path.parent.mkdir(parents=True, exist_ok=True)
            with self.path.open("a", encoding="utf-8") as fh:
                fh.write(line + "\n")
                fh.flush()
            self._prev = hashlib.sha256(line.encode()).hexdigest()


def read_audit(path: Path) -> list[dict]:
    if not path.is_file():
        return []
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines() if line]


def verify_chain(path: Path) -> int | None:
    """1-based number of the first line whose ``prev`` does not match; None when intact."""
    prev = GENESIS
    for n, line in enumerate(path.read_text(encoding="utf-8").splitlines(), start=1):
        if json.loads(line).get("prev") != prev:
            return n
        prev = hashlib.sha256(line.encode()).hexdigest()
    return None


def _last_hash(path: Path) -> str:
    if not path.is_file() or path.stat().st_size == 0:
        return GENESIS
    with path.open("rb") as fh:
        fh.seek(max(0, path.stat().st_size - 65536))
        last = fh.read().rstrip(b"\n").rsplit(b"\n", 1)[-1]
    return hashlib.sha256(last).hexdigest()
