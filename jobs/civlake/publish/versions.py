"""Published versions on disk: ``<publish>/<dataset>/v<N>/`` plus ``CHANGELOG.md``.

A version directory is complete or absent: it is written under a hidden temporary
name and renamed into place, so a reader (the serve process) never sees half a
version. ``version.json`` in each holds what readers need without opening data
files: row count, file facts, content hash, change counts.
"""

from __future__ import annotations

import json
import re
from pathlib import Path

import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

_VERSION_DIR = re.compile(r"^v([1-9][0-9]{0,8})$")
CHANGE_COLUMN = "_change"  # added | removed | changed


def dataset_dir(publish: Path, name: str) -> Path:
    return publish / name


def list_versions(publish: Path, name: str) -> list[int]:
    root = dataset_dir(publish, name)
    if not root.is_dir():
        return []
    found = []
    for p in root.iterdir():
        m = _VERSION_DIR.match(p.name)
        if m and (p / "version.json").is_file():
            found.append(int(m.group(1)))
    return sorted(found)


def latest_version(publish: Path, name: str) -> int | None:
    versions = list_versions(publish, name)
    return versions[-1] if versions else None


def version_dir(publish: Path, name: str, version: int) -> Path:
    return dataset_dir(publish, name) / f"v{version}"


def read_manifest(publish: Path, name: str, version: int) -> dict:
    path = version_dir(publish, name, version) / "version.json"
    return json.loads(path.read_text(encoding="utf-8"))


def read_table(publish: Path, name: str, version: int) -> pa.Table:
    return pq.read_table(version_dir(publish, name, version) / f"{name}.parquet")


def diff_tables(old: pa.Table | None, new: pa.Table, key: tuple[str, ...]) -> pa.Table:
    """Rows of ``new`` added or changed since ``old``, and removed keys (other columns null).

    Rows are compared whole, keyed by ``key``; the result has ``new``'s columns plus
    ``_change``. An agency applies it as upsert (added/changed) and delete (removed).
    """
    cols = new.column_names
    if old is None or old.num_rows == 0:
        return _with_change(new, "added")
    old = old.select(cols).cast(new.schema)
    old_rows = {tuple(r[k] for k in key): r for r in old.to_pylist()}
    new_rows = {tuple(r[k] for k in key): r for r in new.to_pylist()}
    out: list[dict] = []
    for k, row in new_rows.items():
        before = old_rows.get(k)
        if before is None:
            out.append(row | {CHANGE_COLUMN: "added"})
        elif before != row:
            out.append(row | {CHANGE_COLUMN: "changed"})
    for k in old_rows.keys() - new_rows.keys():
        out.append(
            {c: None for c in cols} | dict(zip(key, k, strict=True)) | {CHANGE_COLUMN: "removed"}
        )
    schema = new.schema.append(pa.field(CHANGE_COLUMN, pa.string()))
    out.sort(key=lambda r: tuple("" if r[c] is None else str(r[c]) for c in key))
    return pa.Table.from_pylist(out, schema=schema)


def _with_change(table: pa.Table, change: str) -> pa.Table:
    return table.append_column(CHANGE_COLUMN, pa.array([change] * table.num_rows, pa.string()))


def change_counts(changes: pa.Table) -> dict[str, int]:
    counts = pc.value_counts(changes[CHANGE_COLUMN]).to_pylist() if changes.num_rows else []
    base = {"added": 0, "changed": 0, "removed": 0}
    return base | {c["values"]: c["counts"] for c in counts}
