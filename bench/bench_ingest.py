"""Ingest throughput: landing -> bronze per feed, against the raw floor (issue 17).

    .venv/bin/python bench/bench_ingest.py --persons 1000000 --months 1 [--landing <dir>]

Generates a city (or reuses --landing), ingests every delivery into a fresh lake, and in
the same process, feed after feed, measures the raw floor on the same files
(``raw_floor``: Arrow CSV with the declared encoding transcoded to UTF-8, calamine for
XLSX, Arrow JSON for JSONL, every column as strings, then a Parquet write). Prints rows,
seconds and rows/s per feed and in total for civlake and the floor, the ratio
civlake/floor (issue 17 asks >= 0.5) by wall time and by CPU time (the process's user +
system seconds, all threads: on a shared machine the steadier of the two; Arrow's CSV
reader uses threads in the floor, not in civlake), peak memory. The floor does none of civlake's work
(sha256 checks, strict decoding checks, header mapping, blank handling, reconciliation,
lineage, row hashes, Delta commits, the ledger). It replaces the earlier pandas
baseline (read_csv / read_excel / read_json, dtype=str): pandas is not the fastest way to
read these files (read_excel was ~5x slower than calamine), so a ratio against it
overstated how close ingest was to the hardware.

Memory of one large delivery (a monthly hukou snapshot), streamed or held whole:

    .venv/bin/python bench/bench_ingest.py --landing <dir> --feeds hukou_population \
        --skip-floor [--stream-rows 100000000]

``peak MiB`` is the process's peak RSS, ``arrow MiB`` the peak of Arrow's memory pool
(both since the process started, so run one feed per process to read them per feed);
``--stream-rows`` above the delivery's rows makes ingest hold it whole, as before
streaming existed.
"""

from __future__ import annotations

import argparse
import codecs
import csv
import json
import sys
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _common import measure


def _floor_file(path: Path, codec: str, names: list[str], out: Path) -> int:
    """One file the fastest honest way with civlake's own tools: read, decode to UTF-8,
    every column as strings, written to Parquet. Returns its rows. ``names``: the feed's
    columns, for a JSONL file Arrow's JSON reader refuses (DuckDB's then reads them)."""
    import pyarrow as pa
    import pyarrow.csv as pacsv
    import pyarrow.json as pajson
    import pyarrow.parquet as pq

    suffix = path.suffix.lower()
    if suffix == ".csv":
        with path.open(encoding=codec, newline="") as fh:  # the header, to type every column
            names = next(csv.reader(fh))
        with pa.OSFile(str(path)) as raw:
            utf8 = codecs.lookup(codec).name in ("utf-8", "utf-8-sig")
            source = raw if utf8 else pa.transcoding_input_stream(raw, codec, "utf-8")
            table = pacsv.read_csv(
                source,
                read_options=pacsv.ReadOptions(column_names=[f"c{i}" for i in range(len(names))],
                                               skip_rows=1),
                # malformed rows (wrong field count) are skipped, not counted
                parse_options=pacsv.ParseOptions(invalid_row_handler=lambda row: "skip"),
                convert_options=pacsv.ConvertOptions(
                    column_types={f"c{i}": pa.string() for i in range(len(names))}
                ),
            )  # fmt: skip
    elif suffix == ".xlsx":
        from python_calamine import CalamineWorkbook

        book = CalamineWorkbook.from_path(str(path))
        rows = book.get_sheet_by_index(0).to_python(skip_empty_area=False)
        # the header: the first row with most of its cells filled (titles come before it)
        at = next(
            i for i, r in enumerate(rows) if sum(c not in (None, "") for c in r) > len(r) // 2
        )
        header = [str(c) for c in rows[at]]
        body = rows[at + 1 :]
        cols = (
            [
                pa.array([None if v in (None, "") else str(v) for v in c], pa.string())
                for c in zip(*body, strict=True)
            ]
            if body
            else [pa.array([], pa.string())] * len(header)
        )
        table = pa.Table.from_arrays(cols, names=[f"{h}#{i}" for i, h in enumerate(header)])
    else:
        try:
            table = pajson.read_json(path)
        except pa.ArrowInvalid:  # a key holding numbers and strings: Arrow refuses
            import duckdb

            cols = {n: "VARCHAR" for n in names}
            table = (
                duckdb.connect()
                .read_json(str(path), format="newline_delimited", columns=cols, ignore_errors=True)
                .to_arrow_table()
            )
        table = pa.table(
            {n: c if pa.types.is_string(c.type) else c.cast(pa.string())
             for n, c in zip(table.column_names, table.columns, strict=True)}
        )  # fmt: skip
    pq.write_table(table, out / f"{path.parent.name}-{path.stem}.parquet")
    return table.num_rows


def raw_floor(landing: Path, feed: str, out: Path) -> int:
    """The raw floor of issue 17: every data file of every delivery read with Arrow
    (CSV, transcoding a declared non-UTF-8 encoding as civlake must), calamine (XLSX) or
    Arrow's JSON reader (JSONL), all columns as strings, written to Parquet. No hash check,
    no header mapping, no row hash, no Delta commit, no ledger. Files a reader refuses
    (the faulty deliveries) are skipped and not counted."""
    from civlake.contracts import load_contracts
    from civlake.ingest.manifest import python_codec

    contract = load_contracts()[feed]
    default = contract.encodings[0]  # a CSV without a declared encoding
    rows = 0
    out = out / feed
    out.mkdir(parents=True, exist_ok=True)
    for manifest in sorted((landing / feed).glob("*/manifest.json")):
        try:
            m = json.loads(manifest.read_text(encoding="utf-8-sig"))
        except (ValueError, UnicodeDecodeError):
            continue
        for f in m.get("files", []):
            path = manifest.parent / f["name"]
            try:
                codec = python_codec(f.get("encoding") or default, path.suffix.lower().lstrip("."))
                rows += _floor_file(path, codec, contract.names, out)
            except Exception:
                continue
    return rows


def warm_up(landing: Path, feeds: list[str], scratch: Path, now: datetime) -> None:
    """Both sides once over a small delivery of each file format, untimed, into a
    scratch lake: imports and first-call set-up (Arrow's CSV, JSON and Parquet modules,
    calamine, msgspec, polars, deltalake) are then paid by neither timed side. Without
    it the first feed of a format paid them on civlake's side, and the floor, which
    runs after civlake on each feed, found them done. Each is the format's smallest
    delivery of at least ``bronze.GIL_FREE_ROWS`` declared rows (else its smallest), so
    that the row hashes' larger-table path is warmed too."""
    import shutil

    from civlake.ingest import ingest_landing
    from civlake.ingest.bronze import GIL_FREE_ROWS
    from civlake.settings import load_settings

    smallest: dict[str, tuple[bool, int, Path]] = {}
    for feed in feeds:
        for manifest in (landing / feed).glob("*/manifest.json"):
            try:
                declared = json.loads(manifest.read_text(encoding="utf-8-sig"))["files"]
                rows = sum(int(f.get("rows") or 0) for f in declared)
            except (ValueError, KeyError, TypeError):
                continue
            files = [f for f in manifest.parent.iterdir() if f.name != "manifest.json"]
            size = sum(f.stat().st_size for f in files)
            for kind in {f.suffix.lower() for f in files}:
                key = (rows < GIL_FREE_ROWS, size, manifest.parent)
                if kind not in smallest or key[:2] < smallest[kind][:2]:
                    smallest[kind] = key
    for *_, delivery in smallest.values():
        feed = delivery.parent.name
        shutil.copytree(delivery, scratch / "landing" / feed / delivery.name)
    settings = load_settings(
        landing=scratch / "landing", env={"CIVLAKE_HOME": str(scratch / "data")}
    )
    warmed = sorted({d.parent.name for *_, d in smallest.values()})
    ingest_landing(settings, now=now, feeds=warmed)
    for feed in warmed:
        raw_floor(scratch / "landing", feed, scratch / "floor")
    print(f"warmed up both sides on {', '.join(sorted(smallest))} ({len(smallest)} deliveries)")


def _ratio(rows: float, seconds: float, frows: float, fseconds: float) -> float:
    """civlake's rows/s over the floor's (nan when either has no rows or no time)."""
    if not (rows and seconds and frows and fseconds) or fseconds != fseconds:
        return float("nan")
    return (rows / seconds) / (frows / fseconds)


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--persons", type=int, default=100_000)
    ap.add_argument("--months", type=int, default=1)
    ap.add_argument("--landing", type=Path)
    ap.add_argument("--skip-floor", action="store_true")
    ap.add_argument("--feeds", help="comma-separated feeds to ingest (default: all)")
    ap.add_argument(
        "--cold", action="store_true",
        help="no warm-up: each side's first file of a format also pays its imports",
    )  # fmt: skip
    ap.add_argument(
        "--stream-rows", type=int, help="stream deliveries above this many rows (default: ingest's)"
    )
    args = ap.parse_args()

    import pyarrow as pa

    from civlake.contracts import load_contracts
    from civlake.ingest import ingest_landing
    from civlake.ingest import landing as ingest_landing_mod
    from civlake.settings import load_settings

    if args.stream_rows is not None:
        ingest_landing_mod.STREAM_ROWS = args.stream_rows
        ingest_landing_mod.STREAM_BYTES = 1 << 62  # rows alone decide

    work = Path(tempfile.mkdtemp(prefix="civlake-bench-"))
    landing = args.landing
    if landing is None:
        from civlake.generate import generate

        landing = work / "landing"
        gen: dict = {}
        with measure(gen):
            generate(landing, persons=args.persons, months=args.months, seed=7)
        print(
            f"generated {args.persons:,} persons x {args.months} month(s) in {gen['seconds']:.1f}s"
        )
    settings = load_settings(landing=landing, env={"CIVLAKE_HOME": str(work / "data")})
    now = datetime.now(UTC)
    feeds = args.feeds.split(",") if args.feeds else sorted(load_contracts())
    # Both sides read from the page cache: every file once, untimed, first.
    for feed in feeds:
        for path in (landing / feed).rglob("*"):
            if path.is_file():
                path.read_bytes()
    if not args.cold:
        warm_up(landing, feeds, work / "warm-up", now)
    print(
        f"{'feed':<24}{'rows':>11}{'civlake s':>10}{'rows/s':>10}{'floor rows':>11}"
        f"{'floor s':>9}{'rows/s':>10}{'ratio':>7}{'cpu s':>7}{'floor cpu':>10}{'ratio':>7}"
        f"{'peak MiB':>9}{'arrow MiB':>10}"
    )
    nan = float("nan")
    total = {"rows": 0.0, "s": 0.0, "frows": 0.0, "fs": 0.0, "cpu": 0.0, "fcpu": 0.0}
    for feed in feeds:
        res: dict = {}
        cpu = time.process_time()
        with measure(res):
            summary = ingest_landing(settings, now=now, feeds=[feed])[feed]
        cpu = time.process_time() - cpu
        floor: dict = {"seconds": nan}
        frows, fcpu = 0, nan
        if not args.skip_floor:
            fcpu = time.process_time()
            with measure(floor):
                frows = raw_floor(landing, feed, work / "floor")
            fcpu = time.process_time() - fcpu
        rows = summary.rows_bronze
        rate = rows / res["seconds"] if res["seconds"] else nan
        frate = frows / floor["seconds"] if frows and floor["seconds"] else nan
        total["rows"] += rows
        total["s"] += res["seconds"]
        total["frows"] += frows
        total["fs"] += floor["seconds"]
        total["cpu"] += cpu
        total["fcpu"] += fcpu
        arrow = pa.default_memory_pool().max_memory() / 2**20
        print(
            f"{feed:<24}{rows:>11,}{res['seconds']:>10.2f}{rate:>10,.0f}{frows:>11,}"
            f"{floor['seconds']:>9.2f}{frate:>10,.0f}{rate / frate:>7.2f}"
            f"{cpu:>7.2f}{fcpu:>10.2f}{_ratio(rows, cpu, frows, fcpu):>7.2f}"
            f"{res['peak_rss_mib']:>9,.0f}{arrow:>10,.0f}"
        )
    rate = total["rows"] / total["s"]
    frate = total["frows"] / total["fs"] if total["fs"] == total["fs"] else nan
    print(
        f"{'TOTAL':<24}{total['rows']:>11,.0f}{total['s']:>10.2f}{rate:>10,.0f}"
        f"{total['frows']:>11,.0f}{total['fs']:>9.2f}{frate:>10,.0f}{rate / frate:>7.2f}"
        f"{total['cpu']:>7.2f}{total['fcpu']:>10.2f}"
        f"{_ratio(total['rows'], total['cpu'], total['frows'], total['fcpu']):>7.2f}"
    )
    print(f"work dir: {work}")


if __name__ == "__main__":
    main()
