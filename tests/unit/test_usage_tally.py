"""Usage figures from audit lines: what counts, and the running tally reads only new bytes."""

from __future__ import annotations

import json
from datetime import UTC, date, datetime
from pathlib import Path

import pyarrow as pa

from civlake.publish.usage import UsageTally, kind_of, usage_table


def _line(dataset: str, at: str, *, status: int = 200, **extra) -> bytes:
    record = {"at": at, "status": status, "dataset": dataset, **extra}
    return json.dumps(record).encode() + b"\n"


def test_what_counts_as_a_download_or_a_query() -> None:
    base = {"status": 200, "dataset": "marriage_statistics", "at": "2026-11-01T00:00:00+00:00"}
    dl = base | {"action": "download"}
    assert (
        kind_of(dl | {"path": "/download/marriage_statistics/v1/marriage_statistics.csv"})
        == "download"
    )
    assert (
        kind_of(dl | {"path": "/download/deaths_registry/v2/changes_deaths_registry.parquet"})
        == "download"
    )
    assert kind_of(dl | {"path": "/download/marriage_statistics/v1/datapackage.json"}) is None
    assert kind_of(dl | {"path": "/download/marriage_statistics/v1/SHA256SUMS"}) is None
    assert kind_of(base | {"action": "datastore_search"}) == "query"
    assert kind_of(base | {"action": "changes"}) == "query"
    assert kind_of(base | {"action": "datastore_info"}) is None
    assert kind_of(base | {"action": "package_show"}) is None
    share = base | {"action": "sharing_file", "path": "/delta-sharing/files/tok", "method": "GET"}
    assert kind_of(share | {"rows": 12}) == "query"  # the first whole fetch notes its rows
    assert kind_of(share | {"rows": 0}) is None  # a range request or a repeat of the file
    assert kind_of(share | {"rows": 12, "method": "HEAD"}) is None
    assert kind_of(base | {"usage": "query", "path": "/anything"}) == "query"
    assert kind_of(base | {"action": "datastore_search", "status": 409}) is None  # refused
    assert kind_of(base | {"action": "datastore_search", "dataset": None}) is None


def test_tally_reads_appended_lines_once_and_starts_over_on_a_new_file(tmp_path: Path) -> None:
    log = tmp_path / "audit.jsonl"
    tally = UsageTally(log, today=lambda: date(2026, 11, 20))
    assert tally.summary("d") == {"total": 0, "recent": 0, "downloads": 0, "queries": 0}
    log.write_bytes(
        _line("d", "2026-10-01T08:00:00+00:00", action="changes")
        + _line("d", "2026-11-10T08:00:00+00:00", action="datastore_search")
        + _line("e", "2026-11-10T08:00:00+00:00", action="datastore_search")
    )
    assert tally.summary("d") == {"total": 2, "recent": 1, "downloads": 0, "queries": 2}
    # a line being written (no newline yet) waits for its end
    torn = _line("d", "2026-11-19T08:00:00+00:00", action="download", path="/download/d/v1/d.csv")
    with log.open("ab") as fh:
        fh.write(torn[:20])
    assert tally.summary("d")["total"] == 2
    with log.open("ab") as fh:
        fh.write(torn[20:])
    assert tally.summary("d") == {"total": 3, "recent": 2, "downloads": 1, "queries": 2}
    # a replaced (rotated) log is counted from its start
    log.unlink()
    log.write_bytes(_line("d", "2026-11-19T08:00:00+00:00", action="changes"))
    assert tally.summary("d") == {"total": 1, "recent": 1, "downloads": 0, "queries": 1}


def test_usage_table_has_complete_months_only_with_zeros(tmp_path: Path) -> None:
    log = tmp_path / "audit.jsonl"
    log.write_bytes(
        _line("d", "2026-08-31T23:00:00+00:00", action="changes")
        + _line("d", "2026-10-02T00:00:00+00:00", action="changes")
        + _line("e", "2026-11-02T00:00:00+00:00", action="changes")  # the current month
    )
    schema = pa.schema([("month", pa.string()), ("dataset", pa.string()),
                        ("dataset_title", pa.string()), ("downloads", pa.int64()),
                        ("queries", pa.int64())])  # fmt: skip
    table = usage_table(log, {"d": "D", "e": "E"}, schema, now=datetime(2026, 11, 5, tzinfo=UTC))
    rows = [(r["month"], r["dataset"], r["queries"]) for r in table.to_pylist()]
    assert rows == [("2026-08", "d", 1), ("2026-08", "e", 0), ("2026-09", "d", 0),
                    ("2026-09", "e", 0), ("2026-10", "d", 1), ("2026-10", "e", 0)]  # fmt: skip
