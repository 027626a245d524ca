"""A delivered file's content before it is written: canonical values, who each row is
about, and what dirt and quarantine reasons each row carries (for the ground truth)."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date

import numpy as np


@dataclass
class Table:
    feed: str
    columns: list[str]  # contract column names, in contract order
    cols: dict[str, np.ndarray]  # name -> object array of strings ("" = blank)
    persons: dict[str, np.ndarray] = field(default_factory=dict)  # role -> person index (-1 none)
    dirt: dict[int, list[str]] = field(default_factory=dict)
    reasons: dict[int, list[str]] = field(default_factory=dict)
    malformed: dict[int, str] = field(default_factory=dict)  # row -> raw line / JSONL text
    cell: dict[tuple[int, str], str] = field(default_factory=dict)  # xlsx/jsonl cell type
    protect: set[int] = field(default_factory=set)  # rows whose values must stay as given
    id_break_ok: set[str] = field(default_factory=set)  # ID columns that may be typo'd/blank
    # ID columns that may carry an invalid ID (corrupt.py) though never a blank one: roles
    # whose row has little else, where an invalid ID is still kept (SOURCE_FEEDS.md s. 2).
    id_corrupt_ok: set[str] = field(default_factory=set)
    touched: set[tuple[int, str]] = field(default_factory=set)  # (row, column) already dirtied

    @property
    def n(self) -> int:
        return len(next(iter(self.cols.values()))) if self.cols else 0

    @classmethod
    def from_rows(cls, feed: str, columns: list[str], rows: list[dict[str, str]],
                  roles: dict[str, list[int]] | None = None) -> Table:  # fmt: skip
        cols = {c: np.array([r.get(c, "") for r in rows] or [], dtype=object) for c in columns}
        persons = {k: np.array(v, dtype=np.int64) for k, v in (roles or {}).items()}
        return cls(feed, columns, cols, persons)

    def append(self, row: dict[str, str], roles: dict[str, int] | None = None) -> int:
        """Add one row (noise rows at render time); returns its index."""
        i = self.n
        for c in self.columns:
            self.cols[c] = np.append(self.cols[c], np.array([row.get(c, "")], dtype=object))
        for role in self.persons:
            self.persons[role] = np.append(self.persons[role], (roles or {}).get(role, -1))
        return i

    def add_dirt(self, i: int, kind: str) -> None:
        self.dirt.setdefault(i, []).append(kind)


def iso(d: date | None) -> str:
    return d.isoformat() if d else ""
