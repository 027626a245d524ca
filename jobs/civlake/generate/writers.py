"""Write a delivery folder: data files first, `manifest.json` last (the protocol's commit).

Output is byte-identical for the same content: fixed workbook timestamps, sorted keys
where order is free, no wall-clock anywhere.
"""

from __future__ import annotations

import codecs
import csv
import hashlib
import io
import json
from datetime import datetime
from pathlib import Path

from civlake.generate.contracts_view import column_kinds, headers, names
from civlake.generate.delivery import Delivery, FileSpec
from civlake.generate.dirt import excel_serial
from civlake.generate.noise import ERROR_FORMULAS
from civlake.generate.table import Table
from civlake.osutil import sha256_file

_XLSX_CREATED = datetime(2026, 11, 1, 2, 0, 0)
_CODEC = {"UTF-8": "utf-8", "UTF-8-SIG": "utf-8-sig", "GB18030": "gb18030", None: "utf-8"}


def _columns(feed: str, drop: str | None = None) -> tuple[list[str], list[str]]:
    cols, heads = names(feed), headers(feed)
    if drop:
        keep = [i for i, c in enumerate(cols) if c != drop]
        cols, heads = [cols[i] for i in keep], [heads[i] for i in keep]
    return cols, heads


class CsvStream:
    """A CSV file written table by table, encoded incrementally and hashed as it goes."""

    def __init__(
        self, path: Path, feed: str, encoding: str | None, drop: str | None = None
    ) -> None:
        self.cols, heads = _columns(feed, drop)
        self._fh = path.open("wb")
        self._encoder = codecs.getincrementalencoder(_CODEC[encoding])()
        self._digest = hashlib.sha256()
        self._emit([heads], {})

    def _emit(self, rows, malformed: dict[int, str]) -> None:
        buf = io.StringIO()
        w = csv.writer(buf, lineterminator="\r\n")
        for i, row in enumerate(rows):
            if i in malformed:
                buf.write(malformed[i] + "\r\n")
            else:
                w.writerow(row)
            if i % 50_000 == 49_999:  # bounded buffers for the million-row hukou file
                self._put(buf.getvalue())
                buf = io.StringIO()
                w = csv.writer(buf, lineterminator="\r\n")
        self._put(buf.getvalue())

    def _put(self, text: str, final: bool = False) -> None:
        chunk = self._encoder.encode(text, final=final)
        self._fh.write(chunk)
        self._digest.update(chunk)

    def write(self, t: Table) -> None:
        self._emit(zip(*[t.cols[c] for c in self.cols], strict=True), t.malformed)

    def close(self) -> str:
        self._put("", final=True)
        self._fh.close()
        return self._digest.hexdigest()


def _write_csv(spec: FileSpec, path: Path) -> None:
    stream = CsvStream(path, spec.table.feed, spec.encoding, spec.drop_header)
    stream.write(spec.table)
    stream.close()


def _jsonl_bytes(spec: FileSpec) -> bytes:
    t = spec.table
    kinds = column_kinds(t.feed)
    cols, _ = _columns(spec.table.feed, spec.drop_header)
    lines = []
    for i in range(t.n):
        if i in t.malformed:
            lines.append(t.malformed[i])
            continue
        rec: dict[str, object] = {}
        for c in cols:
            v = str(t.cols[c][i])
            kind = kinds[c][0]
            if v == "":
                rec[c] = None
            elif kind == "bool" and v in ("true", "false"):
                rec[c] = v == "true"
            elif kind == "integer" and v.isdigit():
                rec[c] = int(v)
            elif t.cell.get((i, c)) == "number" and v.replace(".", "", 1).isdigit():
                rec[c] = float(v) if "." in v else int(v)
            else:
                rec[c] = v
        lines.append(json.dumps(rec, ensure_ascii=False))
    return ("\n".join(lines) + "\n").encode("utf-8") if lines else b""


def _xlsx(spec: FileSpec, path: Path) -> None:
    import xlsxwriter

    t = spec.table
    cols, heads = _columns(spec.table.feed, spec.drop_header)
    wb = xlsxwriter.Workbook(str(path), {"constant_memory": True, "strings_to_numbers": False,
                                         "strings_to_formulas": False, "strings_to_urls": False})  # fmt: skip
    wb.set_properties({"created": _XLSX_CREATED, "author": "civlake generate"})
    ws = wb.add_worksheet("Sheet1")
    bold = wb.add_format({"bold": True, "align": "center"})
    sci = wb.add_format({"num_format": "0.00E+00"})
    boxed = wb.add_format({"border": 1})
    r = 0
    if spec.title:
        ws.merge_range(0, 0, 0, len(cols) - 1, spec.title, bold)
        r = 1
    for c, h in enumerate(heads):
        ws.write_string(r, c, h, bold)
    r += 1
    for i in range(t.n):
        for c, col in enumerate(cols):
            v = str(t.cols[col][i])
            kind = t.cell.get((i, col))
            if kind == "sci":
                ws.write_number(r, c, float(v), sci)
            elif kind == "serial":
                ws.write_number(r, c, excel_serial(v))
            elif kind == "error":  # a formula whose cached value is the error (#DIV/0!)
                ws.write_formula(r, c, ERROR_FORMULAS[v], None, v)
            elif v:
                ws.write_string(r, c, v)
        r += 1
    if spec.total_row:
        # Two empty bordered rows of the template, then the 合计 line.
        for k in (0, 1):
            for c in range(len(cols)):
                ws.write_blank(r + k, c, None, boxed)
        ws.write_string(r + 2, 0, "合计")
        ws.write_string(r + 2, 1, f"{t.n}人")
    wb.close()


def write_files(root: Path, d: Delivery) -> list[dict]:
    folder = root / d.feed / d.delivery_id
    folder.mkdir(parents=True, exist_ok=True)
    entries = []
    for spec in d.files:
        path = folder / spec.name
        if spec.fmt == "xlsx":
            _xlsx(spec, path)
        elif spec.fmt == "csv":
            _write_csv(spec, path)
        else:
            path.write_bytes(_jsonl_bytes(spec))
        if d.fault == "encoding":
            # Bytes that no UTF-8 / GB18030 decoder accepts, inside the second line.
            data = path.read_bytes()
            first = data.index(b"\n") + 1
            path.write_bytes(data[: first + 3] + b"\xff\xfe" + data[first + 3 :])
        entries.append({
            "name": spec.name, "sha256": sha256_file(path), "rows": spec.table.n, "encoding": spec.encoding,
        })  # fmt: skip
    return entries


def write_manifest(root: Path, d: Delivery, entries: list[dict]) -> dict | None:
    """Written last; faults bend it the way a broken upstream would."""
    if d.fault == "pending":
        return None
    files = [dict(e) for e in entries]
    if d.fault == "hash":
        files[0]["sha256"] = hashlib.sha256(b"stale copy").hexdigest()
    if d.fault == "rows":
        files[0]["rows"] += 1
    manifest = {
        "feed": d.feed, "delivery_id": d.delivery_id, "source_unit": d.unit, "source_unit_name": d.unit_name,
        "period": d.period, "mode": d.mode, "produced_at": d.produced_at, "files": files,
    }  # fmt: skip
    text = json.dumps(manifest, ensure_ascii=False, indent=2) + "\n"
    if d.fault == "manifest":
        text = text[: len(text) // 2]  # cut off mid-write: not valid JSON
    (root / d.feed / d.delivery_id / "manifest.json").write_text(text, encoding="utf-8")
    return manifest


def write_delivery(root: Path, d: Delivery) -> list[dict]:
    entries = write_files(root, d)
    write_manifest(root, d, entries)
    return entries
