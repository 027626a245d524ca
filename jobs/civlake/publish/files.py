"""Writers for one published version: CSV (UTF-8 with BOM, so Excel opens Chinese
correctly), JSON, Parquet, a Frictionless ``datapackage.json`` and ``SHA256SUMS``.

Every file is derived from one canonical Arrow table, so the three formats cannot
disagree. The datapackage carries each file's sha256 and size: ``frictionless
validate`` re-checks them, so a truncated copy is caught wherever it ends up.
"""

from __future__ import annotations

import json
from datetime import date, datetime
from decimal import Decimal
from pathlib import Path

import pyarrow as pa
import pyarrow.csv as pacsv
import pyarrow.parquet as pq

from civlake.osutil import sha256_file
from civlake.publish.catalog import Dataset

ARROW_TYPES: dict[str, pa.DataType] = {
    "string": pa.string(),
    "integer": pa.int64(),
    "number": pa.float64(),
    "boolean": pa.bool_(),
    "date": pa.date32(),
    "datetime": pa.timestamp("us"),
    "year": pa.int64(),
    "yearmonth": pa.string(),
}
MEDIA_TYPES = {
    "csv": "text/csv",
    "json": "application/json",
    "parquet": "application/vnd.apache.parquet",
    "datapackage": "application/json",
}
_BOM = "\ufeff".encode()


def arrow_schema(ds: Dataset) -> pa.Schema:
    return pa.schema([pa.field(f.name, ARROW_TYPES[f.type]) for f in ds.fields])


def csv_bytes(table: pa.Table) -> bytes:
    # Booleans as true/false and nulls as empty: what Frictionless and Excel both read.
    sink = pa.BufferOutputStream()
    pacsv.write_csv(table, sink, pacsv.WriteOptions(include_header=True, quoting_style="needed"))
    return _BOM + sink.getvalue().to_pybytes()


def json_bytes(table: pa.Table) -> bytes:
    rows = [{k: _json_value(v) for k, v in row.items()} for row in table.to_pylist()]
    return json.dumps(rows, ensure_ascii=False, indent=None, separators=(",", ":")).encode()


def parquet_bytes(table: pa.Table) -> bytes:
    """The Parquet file ``write_version_files`` writes, in memory (zstd, as published)."""
    sink = pa.BufferOutputStream()
    pq.write_table(table, sink, compression="zstd")
    return sink.getvalue().to_pybytes()


def _json_value(value: object) -> object:
    if isinstance(value, datetime | date):
        return value.isoformat()
    if isinstance(value, Decimal):
        return float(value)
    return value


def write_version_files(ds: Dataset, table: pa.Table, out_dir: Path, *, prefix: str = "") -> dict:
    """Write ``<name>.csv/.json/.parquet`` into ``out_dir``; return file facts by format."""
    stem = f"{prefix}{ds.name}"
    files = {
        "csv": (out_dir / f"{stem}.csv", csv_bytes(table)),
        "json": (out_dir / f"{stem}.json", json_bytes(table)),
    }
    facts: dict[str, dict] = {}
    for fmt, (path, data) in files.items():
        path.write_bytes(data)
        facts[fmt] = _facts(path, fmt)
    parquet_path = out_dir / f"{stem}.parquet"
    pq.write_table(table, parquet_path, compression="zstd")
    facts["parquet"] = _facts(parquet_path, "parquet")
    return facts


def _facts(path: Path, fmt: str) -> dict:
    return {
        "path": path.name,
        "format": fmt,
        "mediatype": MEDIA_TYPES[fmt],
        "bytes": path.stat().st_size,
        "sha256": sha256_file(path),
    }


def table_schema(ds: Dataset) -> dict:
    fields = [
        {"name": f.name, "title": f.title, "type": f.type, "description": f.description}
        for f in ds.fields
    ]
    schema: dict = {"fields": fields, "missingValues": [""]}
    if ds.key:
        schema["primaryKey"] = list(ds.key)
    return schema


def write_datapackage(
    ds: Dataset, out_dir: Path, facts: dict, *, version: int, created: str
) -> dict:
    schema = table_schema(ds)
    resources = []
    for fmt in ("csv", "json", "parquet"):
        f = facts[fmt]
        res = {
            "name": f"{ds.name}-{fmt}",
            "path": f["path"],
            "format": fmt,
            "mediatype": f["mediatype"],
            "bytes": f["bytes"],
            "hash": f"sha256:{f['sha256']}",
        }
        if fmt == "csv":
            res |= {"type": "table", "encoding": "utf-8-sig", "schema": schema}
        elif fmt == "json":
            res |= {"encoding": "utf-8"}
        else:
            # Frictionless has no Parquet reader without extra plugins; as a file resource
            # its size and hash are still validated.
            res["type"] = "file"
        resources.append(res)
    package = {
        "name": ds.name.replace("_", "-"),
        "id": ds.identifier,
        "title": ds.title,
        "description": ds.description,
        "version": f"{version}.0.0",
        "created": created,
        "keywords": list(ds.keywords),
        "licenses": [
            {"name": ds.license["id"], "title": ds.license["title"], "path": ds.license["url"]}
        ],
        "contributors": [{"title": ds.publisher, "role": "publisher"}],
        "resources": resources,
    }
    (out_dir / "datapackage.json").write_text(
        json.dumps(package, ensure_ascii=False, indent=2), encoding="utf-8"
    )
    return package


def write_checksums(out_dir: Path) -> None:
    """``SHA256SUMS`` in ``sha256sum -c`` format, over every other file of the version."""
    lines = [
        f"{sha256_file(p)}  {p.name}"
        for p in sorted(out_dir.iterdir())
        if p.is_file() and p.name != "SHA256SUMS"
    ]
    (out_dir / "SHA256SUMS").write_text("\n".join(lines) + "\n", encoding="utf-8")
