"""Rows of a person-level dataset that a district-scoped grant covers (数据属地回流).

``scopes`` is what ``Agency.row_scopes(dataset)`` returns: None for every row, else
division code prefixes (``("440106",)`` = 天河区 and its streets); an empty tuple
covers no row. A row is in scope when its division column (the catalog's
``division_field``) starts with one of the prefixes; a row without a division is in no
district's scope. Every route that hands out rows (the civlake changes and download
routes, Delta Sharing) filters through here, so they cannot disagree.

For callers that stream: ``scope_mask`` for one record batch, ``filter_batches`` for an
iterator of them, and ``scope_expression`` as a pyarrow.dataset filter (pushes the
filter into the Parquet scan).
"""

from __future__ import annotations

import tempfile
from collections.abc import Iterable, Iterator, Sequence
from pathlib import Path

import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.dataset as pads
import pyarrow.parquet as pq

from civlake.publish import files, versions
from civlake.publish.catalog import Dataset

Scopes = str | Sequence[str] | None


class ScopeError(ValueError):
    """Rows cannot be scoped as asked (the dataset names no division column)."""


def _prefixes(ds: Dataset, scopes: Scopes) -> tuple[str, ...] | None:
    if scopes is None:
        return None
    prefixes = (scopes,) if isinstance(scopes, str) else tuple(scopes)
    if not ds.division_field:
        raise ScopeError(
            f"{ds.name} cannot be filtered by division: catalog/{ds.name}.yaml names no "
            "division_field"
        )
    return prefixes


def scope_mask(batch: pa.Table | pa.RecordBatch, ds: Dataset, scopes: Scopes) -> pa.Array:
    """A boolean array: which rows of ``batch`` are in scope (nulls are False)."""
    prefixes = _prefixes(ds, scopes)
    if prefixes is None:
        return pa.array([True] * batch.num_rows, pa.bool_())
    column = batch.column(ds.division_field)
    mask = pa.array([False] * batch.num_rows, pa.bool_())
    for prefix in prefixes:
        mask = pc.or_(mask, pc.fill_null(pc.starts_with(column, pattern=prefix), False))
    return mask


def filter_rows(table: pa.Table, ds: Dataset, scopes: Scopes) -> pa.Table:
    """The rows of ``table`` in ``scopes`` (all of them when ``scopes`` is None)."""
    if _prefixes(ds, scopes) is None:
        return table
    return table.filter(scope_mask(table, ds, scopes))


def filter_batches(
    batches: Iterable[pa.RecordBatch], ds: Dataset, scopes: Scopes
) -> Iterator[pa.RecordBatch]:
    """``filter_rows`` one record batch at a time (empty batches are skipped)."""
    for batch in batches:
        kept = (
            batch if _prefixes(ds, scopes) is None else batch.filter(scope_mask(batch, ds, scopes))
        )
        if kept.num_rows:
            yield kept


def scope_expression(ds: Dataset, scopes: Scopes) -> pc.Expression | None:
    """A pyarrow.dataset filter for ``scopes`` (None = no filter; no prefix = no row)."""
    prefixes = _prefixes(ds, scopes)
    if prefixes is None:
        return None
    expression = pc.scalar(False)
    for prefix in prefixes:
        expression = expression | pc.starts_with(pc.field(ds.division_field), pattern=prefix)
    return expression


def read_scoped(publish: Path, ds: Dataset, version: int, scopes: Scopes) -> pa.Table:
    """A published version's rows in ``scopes``, read through the filter."""
    path = versions.version_dir(publish, ds.name, version) / f"{ds.name}.parquet"
    expression = scope_expression(ds, scopes)
    if expression is None:
        return pq.read_table(path)
    return pads.dataset(path, format="parquet").to_table(filter=expression)


def scope_label(scopes: Scopes) -> str:
    """How an audit line names a scope: ``all`` or the prefixes joined by ``,``."""
    if scopes is None:
        return "all"
    return ",".join((scopes,) if isinstance(scopes, str) else scopes) or "none"


# Files of a published version that a scoped agency gets rewritten to its rows; any
# other file (version.json, which counts the whole city's rows) is not served to it.
SCOPED_FILES = ("{name}.csv", "{name}.json", "{name}.parquet",
                "changes_{name}.csv", "changes_{name}.json", "changes_{name}.parquet",
                "datapackage.json", "SHA256SUMS")  # fmt: skip


def scoped_file_names(ds: Dataset) -> tuple[str, ...]:
    return tuple(f.format(name=ds.name) for f in SCOPED_FILES)


def scoped_version_file(
    publish: Path, ds: Dataset, version: int, scopes: Scopes, filename: str
) -> tuple[bytes, int]:
    """One file of a published version as the scope sees it, and its data row count.

    Written by the publish writers (``files``) from the scoped rows, so a district's CSV
    is the city's CSV with the other districts' lines left out. The ``changes_`` files
    are the diff of the scoped previous and scoped current version: someone who moved
    out of the district is ``removed`` for it. ``datapackage.json`` and ``SHA256SUMS``
    describe the scoped files.
    """
    if filename not in scoped_file_names(ds):
        raise ScopeError(f"{filename} is not served for a division-scoped grant")
    current = read_scoped(publish, ds, version, scopes)
    if filename.startswith(f"{ds.name}."):
        return _render(current, filename.rsplit(".", 1)[1]), current.num_rows
    manifest = versions.read_manifest(publish, ds.name, version)
    previous = manifest.get("previous_version")
    old = read_scoped(publish, ds, previous, scopes) if previous else None
    changes = versions.diff_tables(old, current, ds.key)
    if filename.startswith("changes_"):
        return _render(changes, filename.rsplit(".", 1)[1]), changes.num_rows
    with tempfile.TemporaryDirectory(prefix="civlake-scoped-") as tmp:
        out = Path(tmp)
        facts = files.write_version_files(ds, current, out)
        files.write_version_files(ds, changes, out, prefix="changes_")
        files.write_datapackage(ds, out, facts, version=version, created=manifest["published_at"])
        files.write_checksums(out)
        return (out / filename).read_bytes(), 0


def _render(table: pa.Table, fmt: str) -> bytes:
    writers = {"csv": files.csv_bytes, "json": files.json_bytes, "parquet": files.parquet_bytes}
    return writers[fmt](table)
