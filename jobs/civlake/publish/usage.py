"""Usage figures from the serving audit log: downloads and queries per dataset and day.

What counts (allowed requests only, status below 400, naming a dataset):

* a **download**: a data file of a published version (``/download/...`` CSV, JSON or
  Parquet, the ``changes_`` files included; ``datapackage.json``, ``version.json`` and
  ``SHA256SUMS`` are descriptions, not data);
* a **query**: a DataStore search (``datastore_search``), an agency's pull of changes
  (``changes``), or a Delta Sharing data file (``sharing_file``) fetched whole: clients
  also send HEAD and range requests for one file, and the server notes its rows only on
  the first GET from byte 0, so a file counts once.

A line may say what it is with ``usage`` (``download`` | ``query``); that wins. The
server shows the figures live (``package_show``'s ``tracking_summary``, the catalog
page) from a ``UsageTally``, which reads only what was appended since its last look;
the publish job publishes complete months as the open dataset whose catalog entry says
``origin: audit_log`` (``usage_table``).
"""

from __future__ import annotations

import json
import os
import threading
from collections import Counter
from collections.abc import Callable, Iterable
from datetime import date, datetime, timedelta
from pathlib import Path

import pyarrow as pa

KINDS = ("download", "query")
QUERY_ACTIONS = ("datastore_search", "changes")
DATA_SUFFIXES = (".csv", ".json", ".parquet")
NOT_DATA = ("datapackage.json", "version.json")
RECENT_DAYS = 14  # CKAN's tracking_summary "recent": the last 14 days
# Lines are written with json.dumps' default separators (serve/audit.py encode_line), so a
# usage line holds one of these byte strings. Parsing every line cost 18 µs each (18 s for
# a million on the first look after a start); parsing only these, a log where one line in
# ten is usage takes 3.4 µs a line.
_ACTION = b'"action": "'
_USAGE_ACTIONS = tuple(f'{a}"'.encode() for a in ("download", *QUERY_ACTIONS, "sharing_file"))
CHUNK = 16 * 1024 * 1024  # bytes read per step, so a large log is never held whole


def kind_of(record: dict) -> str | None:
    """``download``, ``query`` or None (not usage) for one audit record."""
    status, dataset = record.get("status"), record.get("dataset")
    if type(status) is not int or status >= 400 or not isinstance(dataset, str) or not dataset:
        return None
    declared = record.get("usage")
    if declared in KINDS:
        return declared
    path = str(record.get("path") or "")
    leaf = path.rsplit("/", 1)[-1]
    action = record.get("action")
    if action == "download":
        return "download" if leaf.endswith(DATA_SUFFIXES) and leaf not in NOT_DATA else None
    if action in QUERY_ACTIONS:
        return "query"
    if action == "sharing_file":
        rows = record.get("rows")
        return "query" if record.get("method") == "GET" and type(rows) is int and rows > 0 else None
    return None


def count_lines(lines: Iterable[bytes], into: Counter) -> None:
    """Add each line's usage to ``into`` keyed (dataset, day, kind); skip what is not usage."""
    for raw in lines:
        if not _maybe_usage(raw):
            continue  # most lines are page views and searches: no JSON parse for them
        try:
            record = json.loads(raw)
        except ValueError:
            continue  # a torn last line; `civlake audit verify` reports it
        if not isinstance(record, dict):
            continue
        kind = kind_of(record)
        at = record.get("at")
        if kind is not None and isinstance(at, str) and len(at) >= 10:
            into[(record["dataset"], at[:10], kind)] += 1


def _maybe_usage(raw: bytes) -> bool:
    at = raw.find(_ACTION)
    return (at >= 0 and raw.startswith(_USAGE_ACTIONS, at + len(_ACTION))) or b'"usage": "' in raw


class UsageTally:
    """Running counts over an append-only log: each look reads only the new bytes.

    The file is identified by device and inode; a shorter or replaced file is counted
    again from its start.
    """

    def __init__(self, path: Path, *, today: Callable[[], date]) -> None:
        self.path = path
        self.today = today
        self.counts: Counter = Counter()
        self._offset = 0
        self._identity: tuple[int, int] | None = None
        self._lock = threading.Lock()

    def refresh(self) -> Counter:
        with self._lock:
            try:
                st = os.stat(self.path)
            except FileNotFoundError:
                self.counts, self._offset, self._identity = Counter(), 0, None
                return self.counts
            identity = (st.st_dev, st.st_ino)
            if identity != self._identity or st.st_size < self._offset:
                self.counts, self._offset, self._identity = Counter(), 0, identity
            if st.st_size > self._offset:
                with self.path.open("rb") as fh:
                    fh.seek(self._offset)
                    while self._offset < st.st_size:
                        data = fh.read(min(CHUNK, st.st_size - self._offset))
                        whole = data[: data.rfind(b"\n") + 1]
                        if not whole:  # a line still being written (or longer than CHUNK) waits
                            break
                        count_lines(whole.splitlines(), self.counts)
                        self._offset += len(whole)
                        fh.seek(self._offset)
            return self.counts

    def summary(self, dataset: str) -> dict:
        """CKAN's ``tracking_summary`` ({total, recent}) and our split by kind."""
        counts = self.refresh()
        since = (self.today() - timedelta(days=RECENT_DAYS - 1)).isoformat()
        mine = [(day, kind, n) for (ds, day, kind), n in counts.items() if ds == dataset]
        return {
            "total": sum(n for _, _, n in mine),
            "recent": sum(n for day, _, n in mine if day >= since),
            "downloads": sum(n for _, k, n in mine if k == "download"),
            "queries": sum(n for _, k, n in mine if k == "query"),
        }


def monthly(path: Path) -> Counter:
    """Counts keyed (dataset, month, kind) over the whole log (the publish job's read)."""
    days: Counter = Counter()
    if path.is_file():
        with path.open("rb") as fh:
            count_lines(fh, days)
    months: Counter = Counter()
    for (ds, day, kind), n in days.items():
        months[(ds, day[:7], kind)] += n
    return months


def usage_table(
    path: Path, titles: dict[str, str], schema: pa.Schema, *, now: datetime
) -> pa.Table:
    """One row per catalogued dataset and complete month (zeros included) up to ``now``.

    The month ``now`` falls in is left out until it is over, so a rerun within a month
    publishes nothing new, and each month is published once, whole.
    """
    counts = monthly(path)
    current = now.strftime("%Y-%m")
    months = sorted({m for (_, m, _) in counts if m < current})
    rows = [
        {
            "month": m,
            "dataset": name,
            "dataset_title": title,
            "downloads": counts[(name, m, "download")],
            "queries": counts[(name, m, "query")],
        }
        for m in _every_month(months)
        for name, title in titles.items()
    ]
    return pa.Table.from_pylist(rows, schema=schema)


def _every_month(months: list[str]) -> list[str]:
    """From the first month with usage to the last, gaps filled (a quiet month is zeros)."""
    if not months:
        return []
    year, month = map(int, months[0].split("-"))
    out = []
    while (m := f"{year:04d}-{month:02d}") <= months[-1]:
        out.append(m)
        year, month = (year + 1, 1) if month == 12 else (year, month + 1)
    return out
