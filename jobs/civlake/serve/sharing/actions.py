"""The newline-delimited JSON lines of ``metadata``, ``query`` and ``changes`` answers
(the protocol's "parquet" response format, the one every stock client reads).
"""

from __future__ import annotations

import json

import pyarrow as pa
from fastapi.responses import Response

from civlake.publish.catalog import Dataset
from civlake.serve.sharing.files import SharedFile
from civlake.serve.sharing.names import object_id

NDJSON = "application/x-ndjson; charset=utf-8"
_SPARK_TYPES = {
    pa.string(): "string", pa.large_string(): "string", pa.int64(): "long",
    pa.int32(): "integer", pa.int16(): "short", pa.int8(): "byte", pa.float64(): "double",
    pa.float32(): "float", pa.bool_(): "boolean", pa.date32(): "date", pa.binary(): "binary",
}  # fmt: skip


def schema_string(ds: Dataset, schema: pa.Schema) -> str:
    """The table schema as the protocol's (Spark's) JSON struct, column titles as comments."""
    titles = {f.name: f.title for f in ds.fields}
    fields = [
        {"name": f.name, "type": _spark_type(f.type), "nullable": True,
         "metadata": {"comment": titles[f.name]} if f.name in titles else {}}
        for f in schema
    ]  # fmt: skip
    return json.dumps({"type": "struct", "fields": fields}, ensure_ascii=False)


def _spark_type(t: pa.DataType) -> str:
    if pa.types.is_timestamp(t):
        # "timestamp", not "timestamp_ntz": the Python connector 1.4.2 cannot convert the latter.
        return "timestamp"
    if pa.types.is_decimal(t):
        return f"decimal({t.precision},{t.scale})"
    if t not in _SPARK_TYPES:
        raise ValueError(f"no Delta Sharing type for Arrow type {t}")
    return _SPARK_TYPES[t]


def protocol() -> dict:
    return {"protocol": {"minReaderVersion": 1}}


def metadata(share: str, ds: Dataset, schema: pa.Schema, *, version: int | None) -> dict:
    meta = {
        "id": object_id(share, ds.name),
        "name": ds.name,
        "description": ds.title,
        "format": {"provider": "parquet"},
        "schemaString": schema_string(ds, schema),
        "partitionColumns": [],
        # Every version's changes can be read (files.change_feed derives them).
        "configuration": {"enableChangeDataFeed": "true"},
    }
    if version is not None:
        meta["version"] = version
    return {"metaData": meta}


def file_action(
    kind: str, url: str, shared: SharedFile, *, version: int, timestamp_ms: int, expires_ms: int
) -> dict:
    """One ``file`` (snapshot), ``add``/``remove`` (since a version) or ``cdf`` line."""
    action: dict = {
        "url": url,
        "id": shared.file_id,
        "partitionValues": {},
        "size": shared.size,
        "version": version,
        "timestamp": timestamp_ms,
        "expirationTimestamp": expires_ms,
    }
    if kind != "cdf":
        action["stats"] = json.dumps({"numRecords": shared.rows})
    return {kind: action}


def ndjson(lines: list[dict], *, table_version: int, headers: dict | None = None) -> Response:
    body = "".join(json.dumps(line, ensure_ascii=False) + "\n" for line in lines)
    return Response(
        body.encode("utf-8"),
        media_type=NDJSON,
        headers={"Delta-Table-Version": str(table_version), **(headers or {})},
    )
