"""A large delivery goes to bronze as it is parsed: the same rows, the same audit, the
same rejections as the whole-table path, and memory set by the batch, not the file.

The streamed path is forced here with small thresholds (``landing.STREAM_ROWS``, Arrow's
``readers.BLOCK_SIZE``, ``readers.BATCH_ROWS``, ``lake.AppendFiles.FILE_ROWS``), so a
60,000-row delivery crosses many blocks, batches and Parquet files."""

from __future__ import annotations

import csv
import io
import json
import os
import re
import subprocess
import sys
import textwrap
from pathlib import Path

import pyarrow.compute as pc
import pyarrow.parquet as pq
import pytest

from civlake import lake
from civlake.ingest import bronze, ingest_landing, landing, readers
from civlake.settings import load_settings
from tests.deliveries import headers, write_delivery

pytestmark = pytest.mark.integration

ORDER = [("_delivery_id", "ascending"), ("_source_file", "ascending"),
         ("_source_row", "ascending")]  # fmt: skip
NAMES = ["王芳", "欧阳 娜娜", "李娜（已故）", "　张伟", "𠮷䶮"]


def _hukou_rows(n: int, *, quoted: bool, start: int = 0) -> list[list[str]]:
    """Hukou rows with the dirt registers have; with ``quoted``, addresses holding
    commas, quotes and line breaks (CSV quoting), blank cells and rows of blank cells."""
    rows = []
    for i in range(start, start + n):
        address = f"天河路{i}号"
        if quoted and i % 7 == 0:
            address = [f"天河路{i}号,302房", f'"金穗"小区{i}栋', f"两行\n地址{i}"][i % 3]
        row = [f"44010619{i:010d}", NAMES[i % 5], "" if i % 11 else "张某", str(1 + i % 2),
               "01", f"19{50 + i % 50}-01-{1 + i % 28:02d}", "440106", address,
               f"H{i // 4:07d}", "户主" if i % 4 == 0 else "子", "正常", "", f"138{i:08d}" if i % 13 else " "]  # fmt: skip
        rows.append(row)
        if i % 997 == 0:
            rows.append([""] * len(row))  # Excel's ",,,," rows: not data rows
    return rows


def _csv(header: list[str], rows: list[list[str]], encoding: str, extra: bytes = b"") -> bytes:
    buf = io.StringIO()
    w = csv.writer(buf, lineterminator="\r\n")
    w.writerow(header)
    w.writerows(rows)
    return buf.getvalue().encode(encoding) + extra


def _data_rows(rows: list[list[str]]) -> int:
    return sum(1 for r in rows if any(c.strip() for c in r))


def _city(landing_dir: Path) -> None:
    """A small daily hukou delivery, a large monthly one of two files (quoted dirt; plain
    with malformed rows and blank lines), and a large GB18030 cremation delivery."""
    hk = headers("hukou_population")
    small = _hukou_rows(3, quoted=True, start=900_000)
    write_delivery(landing_dir, "hukou_population", "20261101-440100-001",
                   {"daily.csv": _csv(hk, small, "utf-8-sig")}, rows={"daily.csv": 3},
                   mode="incremental", period="2026-11-01", encoding="UTF-8-SIG",
                   produced_at="2026-11-01T01:00:00+08:00")  # fmt: skip
    quoted = _hukou_rows(40_000, quoted=True)
    plain = _hukou_rows(20_000, quoted=False, start=40_000)
    for at in (5, 7_000, 12_345, 19_998):
        plain.insert(at, ["只有", "三个", "字段"])  # malformed: kept in _malformed
    body = _csv(hk, plain, "utf-8-sig").replace(b"\r\n", b"\r\n\r\n", 3)  # blank lines
    write_delivery(landing_dir, "hukou_population", "20261102-440100-001",
                   {"h1.csv": _csv(hk, quoted, "utf-8-sig"), "h2.csv": body},
                   rows={"h1.csv": _data_rows(quoted), "h2.csv": _data_rows(plain)},
                   encoding="UTF-8-SIG", produced_at="2026-11-02T02:00:00+08:00")  # fmt: skip
    cr = headers("cremation_records")
    cremations = [[f"HH{i}", f"44010619{i:010d}", NAMES[i % 5] + "镕", "1", "2026-10-01",
                   "2026-10-03", "银河园,东区" if i % 5 == 0 else "银河园", "440106"]
                  for i in range(8_000)]  # fmt: skip
    write_delivery(landing_dir, "cremation_records", "20261101-440106-001",
                   {"c.csv": _csv(cr, cremations, "gb18030")}, rows={"c.csv": 8_000},
                   period="2026-11-01", encoding="GB18030")  # fmt: skip


def _small_thresholds(monkeypatch) -> None:
    monkeypatch.setattr(landing, "STREAM_ROWS", 1_000)
    monkeypatch.setattr(readers, "BLOCK_SIZE", 64 << 10)
    monkeypatch.setattr(readers, "BATCH_ROWS", 1_500)
    monkeypatch.setattr(lake.AppendFiles, "FILE_ROWS", 7_000)


def _bronze(settings, feed: str) -> list[dict]:
    return lake.read_arrow(settings.lake / "bronze" / feed).sort_by(ORDER).to_pylist()


def _audit(settings) -> dict[str, dict]:
    rows = lake.read_arrow(settings.lake / "ingest_audit").to_pylist()
    return {r["delivery_id"]: {k: v for k, v in r.items() if k != "ingest_seconds"} for r in rows}


def _parquet_files(settings, feed: str) -> set[str]:
    return {p.name for p in (settings.lake / "bronze" / feed).glob("*.parquet")}


def _first_delivery(settings, rows: list[list[str]]) -> None:
    """A one-file hukou delivery (UTF-8 with BOM) of ``rows``, produced first."""
    write_delivery(settings.landing, "hukou_population", "20261101-440100-001",
                   {"h.csv": _csv(headers("hukou_population"), rows, "utf-8-sig")},
                   rows={"h.csv": _data_rows(rows)}, encoding="UTF-8-SIG")  # fmt: skip


def test_a_streamed_delivery_equals_the_whole_table_path(settings, now, tmp_path, monkeypatch):
    # GIVEN one landing folder, ingested whole (today's defaults) into one lake
    _city(settings.landing)
    whole = load_settings(landing=settings.landing, env={"CIVLAKE_HOME": str(tmp_path / "w")})
    ingest_landing(whole, now=now)
    # WHEN it is ingested with small blocks, batches and files, large deliveries streamed
    _small_thresholds(monkeypatch)
    ingest_landing(settings, now=now)
    # THEN bronze is the same row for row, and so is the audit ledger
    for feed in ("hukou_population", "cremation_records"):
        streamed = _bronze(settings, feed)
        assert streamed == _bronze(whole, feed), feed
    assert _audit(settings) == _audit(whole)
    statuses = {d: r["status"] for d, r in _audit(settings).items()}
    assert set(statuses.values()) == {"loaded"}, statuses
    hukou = _bronze(settings, "hukou_population")
    assert len(hukou) == 3 + 40_000 + 20_004
    assert sum(r["_malformed"] is not None for r in hukou) == 4
    assert any("\n" in (r["address"] or "") for r in hukou)
    # the daily delivery and the streamed one went into bronze in one commit, as files
    dt = lake.open_table(settings.lake / "bronze" / "hukou_population")
    assert dt.version() == 0 and len(dt.file_uris()) >= 9
    assert _parquet_files(settings, "hukou_population") == {Path(u).name for u in dt.file_uris()}
    # written without dictionary pages (a snapshot's values are mostly distinct)
    encodings = {
        enc
        for u in dt.file_uris()
        for meta in [pq.ParquetFile(u).metadata]
        for g in range(meta.num_row_groups)
        for c in range(meta.num_columns)
        for enc in meta.row_group(g).column(c).encodings
    }
    assert encodings and not {e for e in encodings if "DICTIONARY" in e}, encodings


@pytest.mark.parametrize(
    ("fault", "reason"),
    [("rows", "ROWCOUNT_MISMATCH"), ("sha", "HASH_MISMATCH"), ("byte", "ENCODING_ERROR"),
     # a bad byte in a file whose hash also differs: the hash is the reason (it is checked
     # while the files are parsed, and the parse fails first)
     ("sha+byte", "HASH_MISMATCH")],
)  # fmt: skip
def test_a_rejected_large_delivery_leaves_bronze_unchanged(settings, now, monkeypatch, fault,
                                                            reason):  # fmt: skip
    _small_thresholds(monkeypatch)
    hk = headers("hukou_population")
    first = _hukou_rows(5_000, quoted=True)
    _first_delivery(settings, first)
    ingest_landing(settings, now=now)
    version = lake.open_table(settings.lake / "bronze" / "hukou_population").version()
    before, files = (
        _bronze(settings, "hukou_population"),
        _parquet_files(settings, "hukou_population"),
    )
    # a two-file delivery whose second file fails: the first was parsed and written by then
    rows_a, rows_b = _hukou_rows(6_000, quoted=True), _hukou_rows(6_000, quoted=False)
    body_b = _csv(hk, rows_b, "utf-8-sig")
    kwargs: dict = {"rows": {"a.csv": _data_rows(rows_a), "b.csv": _data_rows(rows_b)}}
    if fault == "rows":
        kwargs["rows"]["b.csv"] += 1
    if "sha" in fault:
        kwargs["sha_override"] = {"b.csv": "0" * 64}
    if "byte" in fault:
        body_b = body_b[:-200] + b"\xff" + body_b[-199:]
    write_delivery(settings.landing, "hukou_population", "20261102-440100-001",
                   {"a.csv": _csv(hk, rows_a, "utf-8-sig"), "b.csv": body_b},
                   encoding="UTF-8-SIG", produced_at="2026-11-02T02:00:00+08:00", **kwargs)  # fmt: skip
    ingest_landing(settings, now=now)
    row = _audit(settings)["20261102-440100-001"]
    assert (row["status"], row["reject_reason"]) == ("rejected", reason), row["reject_detail"]
    assert "b.csv" in row["reject_detail"]
    if fault == "byte":  # the exact reader names the row: one of the last of b.csv
        assert int(re.search(r"near data row (\d+)", row["reject_detail"])[1]) > 5_000
    assert lake.open_table(settings.lake / "bronze" / "hukou_population").version() == version
    assert _bronze(settings, "hukou_population") == before
    assert _parquet_files(settings, "hukou_population") == files  # nothing left behind


def test_a_streamed_delivery_into_a_table_of_an_older_schema(settings, now, monkeypatch):
    # GIVEN a bronze table written before the contract had the 联系电话 (phone) column
    _small_thresholds(monkeypatch)
    hk = headers("hukou_population")
    old = _hukou_rows(2_000, quoted=False)
    _first_delivery(settings, old)
    ingest_landing(settings, now=now)
    path = settings.lake / "bronze" / "hukou_population"
    lake.overwrite(path, lake.read_arrow(path).drop_columns(["phone"]))
    version = lake.open_table(path).version()
    on_disk = _parquet_files(settings, "hukou_population")
    # WHEN two large deliveries are streamed in (the first merges the schema)
    for k, start in ((2, 100_000), (3, 200_000)):
        rows = _hukou_rows(3_000, quoted=True, start=start)
        write_delivery(settings.landing, "hukou_population", f"2026110{k}-440100-001",
                       {"h.csv": _csv(hk, rows, "utf-8-sig")}, rows={"h.csv": _data_rows(rows)},
                       encoding="UTF-8-SIG", produced_at=f"2026-11-0{k}T02:00:00+08:00")  # fmt: skip
        ingest_landing(settings, now=now)
    # THEN each is one more version, old rows have no phone, the new ones have theirs
    dt = lake.open_table(path)
    assert dt.version() == version + 2
    assert "phone" in [f.name for f in dt.schema().fields]
    table = lake.read_arrow(path)
    by_delivery = {
        d: table.filter(pc.equal(table["_delivery_id"], d))
        for d in ("20261101-440100-001", "20261102-440100-001", "20261103-440100-001")
    }
    assert by_delivery["20261101-440100-001"]["phone"].null_count == _data_rows(old)
    for d in ("20261102-440100-001", "20261103-440100-001"):
        assert by_delivery[d].num_rows == 3_000
        assert by_delivery[d]["phone"].null_count == len(range(0, 3_000, 13)), d
    # every file written is in the log: the merge's read-back files were deleted
    assert (
        _parquet_files(settings, "hukou_population") - on_disk
        == {Path(u).name for u in dt.file_uris()} - on_disk
    )


_MEASURE = textwrap.dedent(
    """
    import json, sys
    from datetime import UTC, datetime
    from pathlib import Path
    import pyarrow as pa
    from civlake import lake
    from civlake.ingest import ingest_landing, landing, readers
    from civlake.settings import load_settings

    landing_dir, home, stream_rows = Path(sys.argv[1]), sys.argv[2], int(sys.argv[3])
    landing.STREAM_ROWS = stream_rows
    readers.BATCH_ROWS = 20_000
    readers.BLOCK_SIZE = 128 << 10
    lake.AppendFiles.FILE_ROWS = 100_000
    settings = load_settings(landing=landing_dir, env={"CIVLAKE_HOME": home})
    summary = ingest_landing(settings, now=datetime(2026, 11, 2, tzinfo=UTC),
                             feeds=["hukou_population"])["hukou_population"]
    hwm = next(int(l.split()[1]) for l in open("/proc/self/status") if l.startswith("VmHWM"))
    print(json.dumps({"rows": summary.rows_bronze, "loaded": summary.loaded,
                      "arrow_peak": pa.default_memory_pool().max_memory(), "vmhwm_kib": hwm}))
    """
)


def _measure(landing_dir: Path, home: Path, stream_rows: int) -> dict:
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(sys.path)}
    out = subprocess.run(
        [sys.executable, "-c", _MEASURE, str(landing_dir), str(home), str(stream_rows)],
        check=True, capture_output=True, text=True, env=env, timeout=600,
    )  # fmt: skip
    return json.loads(out.stdout.strip().splitlines()[-1])


def test_streamed_ingest_memory_is_set_by_the_batch_not_the_file(tmp_path, capsys):
    # GIVEN one 300,000-row hukou file (31 MiB), read in 128 KiB blocks (~1,200 rows)
    landing_dir = tmp_path / "landing"
    rows = _hukou_rows(300_000, quoted=True)
    body = _csv(headers("hukou_population"), rows, "utf-8-sig")
    write_delivery(landing_dir, "hukou_population", "20261101-440100-001", {"h.csv": body},
                   rows={"h.csv": _data_rows(rows)}, encoding="UTF-8-SIG")  # fmt: skip
    del rows
    # WHEN it is ingested streamed, and whole, each in a fresh process
    streamed = _measure(landing_dir, tmp_path / "s", 100_000)
    whole = _measure(landing_dir, tmp_path / "w", 10_000_000)
    with capsys.disabled():
        print(f"\nfile {len(body) / 2**20:.0f} MiB; Arrow peak streamed "
              f"{streamed['arrow_peak'] / 2**20:.0f} MiB, whole {whole['arrow_peak'] / 2**20:.0f}"
              f" MiB; VmHWM streamed {streamed['vmhwm_kib'] / 1024:.0f} MiB, whole "
              f"{whole['vmhwm_kib'] / 1024:.0f} MiB")  # fmt: skip
    # THEN both loaded every row; streamed, Arrow never held more than a few batches
    assert streamed["rows"] == whole["rows"] == _data_rows(_hukou_rows(300_000, quoted=True))
    assert streamed["loaded"] == whole["loaded"] == 1
    assert streamed["arrow_peak"] < len(body) / 4
    assert streamed["arrow_peak"] * 4 < whole["arrow_peak"]
    assert streamed["vmhwm_kib"] < whole["vmhwm_kib"]


def test_files_written_before_a_crash_are_never_read(settings, now, monkeypatch):
    # GIVEN a run that dies after writing a large delivery's files, before its commit
    _small_thresholds(monkeypatch)
    rows = _hukou_rows(5_000, quoted=True)
    _first_delivery(settings, rows)

    def crash(self):
        raise RuntimeError("killed before the commit")

    with monkeypatch.context() as m:
        m.setattr(lake.AppendFiles, "commit", crash)
        with pytest.raises(RuntimeError, match="killed"):
            ingest_landing(settings, now=now)
    strays = _parquet_files(settings, "hukou_population")
    assert strays and lake.open_table(settings.lake / "bronze" / "hukou_population") is None
    # WHEN the next run loads it
    ingest_landing(settings, now=now)
    # THEN bronze holds its rows once: the files of the crashed run are not in the log
    dt = lake.open_table(settings.lake / "bronze" / "hukou_population")
    assert not strays & {Path(u).name for u in dt.file_uris()}
    bronze_rows = _bronze(settings, "hukou_population")
    assert [r["_source_row"] for r in bronze_rows] == list(range(1, _data_rows(rows) + 1))
    assert _audit(settings)["20261101-440100-001"]["status"] == "loaded"


def test_a_failed_write_in_the_writer_thread_stops_the_delivery(settings, now, monkeypatch):
    # GIVEN a large delivery whose third batch cannot be written (a full disk), written
    # in the worker thread while the next batches are parsed
    _small_thresholds(monkeypatch)
    rows = _hukou_rows(8_000, quoted=False)
    _first_delivery(settings, rows)
    write, calls = lake.AppendFiles.write, []

    def full_disk(self, data):
        calls.append(data.num_rows)
        if len(calls) == 3:
            raise OSError(28, "No space left on device")
        write(self, data)

    monkeypatch.setattr(lake.AppendFiles, "write", full_disk)
    # WHEN it is ingested THEN the error reaches the caller, not a thread's log; no
    # batch after the failed one was written, and no file is left behind
    with pytest.raises(OSError, match="No space left"):
        ingest_landing(settings, now=now)
    assert len(calls) == 3
    assert not _parquet_files(settings, "hukou_population")
    assert lake.open_table(settings.lake / "bronze" / "hukou_population") is None


def test_a_failed_hash_in_a_hashing_thread_stops_the_delivery(settings, now, monkeypatch):
    # GIVEN a large delivery whose fourth batch fails in a hashing thread (out of memory)
    # while the batches before it are written and the next ones parsed
    _small_thresholds(monkeypatch)
    _first_delivery(settings, _hukou_rows(8_000, quoted=False))
    hash_rows, calls = bronze.row_hashes, []

    def no_memory(table, columns):
        calls.append(table.num_rows)
        if len(calls) == 4:
            raise MemoryError("hashing batch 4")
        return hash_rows(table, columns)

    monkeypatch.setattr(bronze, "row_hashes", no_memory)
    # WHEN it is ingested THEN the error reaches the caller; the batches already written
    # are deleted, and bronze has no table
    with pytest.raises(MemoryError, match="hashing batch 4"):
        ingest_landing(settings, now=now)
    assert len(calls) >= 4
    assert not _parquet_files(settings, "hukou_population")
    assert lake.open_table(settings.lake / "bronze" / "hukou_population") is None


def test_a_streamed_file_keeps_min_max_only_of_the_lineage(settings, now, monkeypatch):
    # GIVEN a large delivery streamed to bronze
    _small_thresholds(monkeypatch)
    rows = _hukou_rows(5_000, quoted=False)
    _first_delivery(settings, rows)
    ingest_landing(settings, now=now)
    # THEN its row groups carry min/max of the columns readers select deliveries by,
    # not of the delivered values or the row hash
    files = sorted((settings.lake / "bronze" / "hukou_population").glob("*.parquet"))
    assert files
    meta = pq.ParquetFile(files[0]).metadata
    group = meta.row_group(0)
    stats = {
        group.column(i).path_in_schema: group.column(i).statistics for i in range(meta.num_columns)
    }
    delivery = stats["_delivery_id"]
    assert delivery is not None and delivery.has_min_max
    assert delivery.min == delivery.max == "20261101-440100-001"
    for column in ["id_number", "name", "_row_hash"]:
        assert stats[column] is None or not stats[column].has_min_max, column
