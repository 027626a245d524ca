"""The Parquet files behind a shared table version, and its change feed.

A snapshot of version N is the published ``<dataset>.parquet`` itself; for a
district-scoped grant it is that file filtered to the grant's divisions
(``publish.scope``). The change file of version N holds the rows that version N
changed against version N-1 (for the first version: every row, as inserts), in the
change-data-feed shape stock clients read: the table's columns plus ``_change_type``
(``insert``, ``update_preimage``, ``update_postimage``, ``delete``); the client adds
``_commit_version`` and ``_commit_timestamp`` from the file's action.

Derived files are written once, atomically, under
``<state>/sharing/<dataset>/v<N>-<content hash>/<scope>/``: a published version never
changes, and the content hash in the folder name keeps a rebuilt publish folder from
ever meeting an old cache.
"""

from __future__ import annotations

import os
import tempfile
from dataclasses import dataclass
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq

from civlake.publish import versions
from civlake.publish.catalog import Dataset
from civlake.publish.scope import Scopes, read_scoped, scope_label

CHANGE_TYPE = "_change_type"


@dataclass(frozen=True)
class SharedFile:
    path: Path
    rows: int
    size: int
    file_id: str  # the same file keeps its id across requests (clients cache on it)


class SharedFiles:
    def __init__(self, publish: Path, cache: Path) -> None:
        self.publish = publish
        self.cache = cache

    def snapshot(self, ds: Dataset, version: int, scopes: Scopes) -> SharedFile:
        manifest = versions.read_manifest(self.publish, ds.name, version)
        if scopes is None:
            path = versions.version_dir(self.publish, ds.name, version) / f"{ds.name}.parquet"
            sha = manifest["files"]["parquet"]["sha256"]
            return SharedFile(path, manifest["rows"], path.stat().st_size, sha[:32])
        return self._derived(ds, version, scopes, "data", manifest)

    def changes(self, ds: Dataset, version: int, scopes: Scopes) -> SharedFile:
        manifest = versions.read_manifest(self.publish, ds.name, version)
        return self._derived(ds, version, scopes, "cdf", manifest)

    def schema(self, ds: Dataset, version: int) -> pa.Schema:
        path = versions.version_dir(self.publish, ds.name, version) / f"{ds.name}.parquet"
        return pq.read_schema(path)

    def _derived(
        self, ds: Dataset, version: int, scopes: Scopes, kind: str, manifest: dict
    ) -> SharedFile:
        folder = (
            self.cache / ds.name / f"v{version}-{manifest['content_sha256'][:16]}"
            / scope_label(scopes)
        )  # fmt: skip
        path = folder / f"{kind}.parquet"
        if not path.is_file():
            current = read_scoped(self.publish, ds, version, scopes)
            if kind == "data":
                table = current
            else:
                previous = manifest.get("previous_version")
                old = read_scoped(self.publish, ds, previous, scopes) if previous else None
                table = change_feed(old, current, ds.key)
            _write_atomically(table, path)
        rows = pq.read_metadata(path).num_rows
        file_id = f"{manifest['content_sha256'][:16]}-{kind}-{scope_label(scopes)}"
        return SharedFile(path, rows, path.stat().st_size, file_id)


def change_feed(old: pa.Table | None, new: pa.Table, key: tuple[str, ...]) -> pa.Table:
    """Rows of ``new`` that differ from ``old`` by ``key``, as change-data-feed rows.

    A changed row comes twice (its old values as ``update_preimage``, its new ones as
    ``update_postimage``); a removed one once with its last values (``delete``).
    """
    diff = versions.diff_tables(old, new, key)
    before = {}
    if old is not None:
        before = {tuple(r[k] for k in key): r for r in old.select(new.column_names).cast(new.schema).to_pylist()}  # fmt: skip
    out: list[dict] = []
    for row in diff.to_pylist():
        change = row.pop(versions.CHANGE_COLUMN)
        old_row = before.get(tuple(row[k] for k in key))
        if change == "added":
            out.append(row | {CHANGE_TYPE: "insert"})
        elif change == "changed":
            out.append(old_row | {CHANGE_TYPE: "update_preimage"})
            out.append(row | {CHANGE_TYPE: "update_postimage"})
        else:
            out.append(old_row | {CHANGE_TYPE: "delete"})
    return pa.Table.from_pylist(out, schema=new.schema.append(pa.field(CHANGE_TYPE, pa.string())))


def _write_atomically(table: pa.Table, path: Path) -> None:
    # Two requests may derive the same file at once: each writes its own temporary file
    # and the rename makes one of the (identical) results the file, never half of one.
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.")
    os.close(fd)
    try:
        pq.write_table(table, tmp, compression="zstd")
        os.replace(tmp, path)
    finally:
        if os.path.exists(tmp):
            os.unlink(tmp)
