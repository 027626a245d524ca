"""The publish job: warehouse ``publish.*`` models -> versioned files under ``<publish>``.

For each catalog entry: read its model (the usage figures: the audit log, through
publish/usage.py), check the table against the entry (an open dataset with a column the
catalog does not list, or any person-level column, is refused: the catalog is what was
reviewed), suppress small cells, and write a new
version only if the content differs from the latest one. Nothing is written when
the quality gates failed: stale-but-correct beats fresh-but-wrong for open data.
"""

from __future__ import annotations

import hashlib
import json
import logging
import shutil
from datetime import UTC, datetime
from pathlib import Path

import duckdb
import pyarrow as pa

from civlake.publish import files, usage, versions
from civlake.publish.catalog import Dataset, is_person_column, load_catalog
from civlake.publish.suppress import suppress
from civlake.settings import Settings

log = logging.getLogger(__name__)


class PublishError(RuntimeError):
    """A dataset cannot be published as catalogued; the message says what to fix."""


def publish_all(
    settings: Settings,
    *,
    now: datetime,
    gates_ok: bool = True,
    catalog_dir: Path | None = None,
) -> dict:
    """Publish every catalogued dataset; return what happened per dataset.

    Result: ``status`` (ok | partial | skipped), ``published`` {name: {version, rows,
    path}}, ``unchanged`` {name: version}, ``missing`` {name: message} (model not built),
    ``errors`` {name: message}.
    """
    result: dict = {"status": "ok", "published": {}, "unchanged": {}, "missing": {}, "errors": {}}
    if not gates_ok:
        result["status"] = "skipped"
        result["reason"] = (
            "quality gates failed: nothing published; fix the gate failures and rerun"
        )
        log.warning(result["reason"])
        return result
    catalog = load_catalog(catalog_dir or settings.catalog_dir)
    stamp = _utc(now)
    if not settings.warehouse.is_file():
        result["status"] = "partial"
        msg = f"warehouse {settings.warehouse} does not exist: run `civlake run --through build` first"
        result["missing"] = dict.fromkeys(catalog, msg)
        return result
    con = duckdb.connect(str(settings.warehouse), read_only=True)
    try:
        existing = _publish_tables(con)
        for name, ds in catalog.items():
            if ds.origin == "audit_log":
                titles = {n: d.title for n, d in catalog.items()}
                table = usage.usage_table(
                    settings.audit_log, titles, files.arrow_schema(ds), now=stamp
                )
            elif ds.table not in existing:
                result["missing"][name] = (
                    f"{ds.model} is not in warehouse {settings.warehouse}: build dbt models "
                    f"in dbt/models/publish (catalog/{name}.yaml names it)"
                )
                continue
            try:
                if ds.origin == "warehouse":
                    table = read_model(con, ds)
                outcome = publish_dataset(settings.publish, ds, table, now=stamp)
            except PublishError as exc:
                result["errors"][name] = str(exc)
                log.error("%s", exc)
                continue
            if outcome["published"]:
                result["published"][name] = {k: outcome[k] for k in ("version", "rows", "path")}
            else:
                result["unchanged"][name] = outcome["version"]
    finally:
        con.close()
    if result["errors"] or result["missing"]:
        result["status"] = "partial"
    return result


def _publish_tables(con: duckdb.DuckDBPyConnection) -> set[str]:
    rows = con.execute(
        "select table_name from information_schema.tables where table_schema = 'publish'"
    ).fetchall()
    return {r[0] for r in rows}


def read_model(con: duckdb.DuckDBPyConnection, ds: Dataset) -> pa.Table:
    """Read ``publish.<model>`` and cast it to the catalog's schema, refusing surprises."""
    # The table name comes from a validated catalog entry (snake_case), never from a request.
    table = con.execute(f'select * from "publish"."{ds.table}"').to_arrow_table()
    actual = table.column_names
    person = [c for c in actual if is_person_column(c)]
    if ds.is_open and person:
        raise PublishError(
            f"{ds.model} has person-level columns {person} but {ds.name} is 无条件开放: "
            "remove them from the model; open datasets are aggregates only"
        )
    extra = [c for c in actual if c not in ds.field_names]
    lacking = [c for c in ds.field_names if c not in actual]
    if extra or lacking:
        raise PublishError(
            f"{ds.model} does not match catalog/{ds.name}.yaml: "
            f"columns not in the catalog {extra}, catalogued but absent {lacking}; "
            "change the model or the catalog entry (and have the entry reviewed)"
        )
    try:
        return table.select(list(ds.field_names)).cast(files.arrow_schema(ds))
    except (pa.ArrowInvalid, pa.ArrowNotImplementedError) as exc:
        raise PublishError(
            f"{ds.model}: a column does not convert to the catalogued type ({exc}); "
            f"fix the model's types or catalog/{ds.name}.yaml"
        ) from exc


def prepare(ds: Dataset, table: pa.Table) -> tuple[pa.Table, dict]:
    """Suppress (open aggregates) and sort into a canonical order; return table + report."""
    report = {"primary": 0, "complementary": 0, "linked": 0}
    if ds.suppression is not None:
        frame, rep = suppress(table.to_pandas(), ds.suppression)
        table = pa.Table.from_pandas(frame, schema=files.arrow_schema(ds), preserve_index=False)
        report = {"primary": rep.primary, "complementary": rep.complementary, "linked": rep.linked}
    order = list(ds.key) or list(ds.field_names)
    table = table.sort_by([(c, "ascending") for c in order])
    return table, report


def content_hash(ds: Dataset, table: pa.Table) -> str:
    digest = hashlib.sha256(json.dumps(files.table_schema(ds), ensure_ascii=False).encode())
    digest.update(files.csv_bytes(table))
    return digest.hexdigest()


def publish_dataset(publish: Path, ds: Dataset, table: pa.Table, *, now: datetime) -> dict:
    """Write ``<publish>/<name>/v<N>/`` unless the content equals the latest version."""
    table, report = prepare(ds, table)
    digest = content_hash(ds, table)
    previous = versions.latest_version(publish, ds.name)
    if (
        previous is not None
        and versions.read_manifest(publish, ds.name, previous)["content_sha256"] == digest
    ):
        return {"published": False, "version": previous}
    version = (previous or 0) + 1
    final = versions.version_dir(publish, ds.name, version)
    tmp = final.with_name(f".v{version}.partial")
    shutil.rmtree(tmp, ignore_errors=True)
    tmp.mkdir(parents=True)
    facts = files.write_version_files(ds, table, tmp)
    old = versions.read_table(publish, ds.name, previous) if previous else None
    change_summary = None
    if ds.is_person_level:
        changes = versions.diff_tables(old, table, ds.key)
        files.write_version_files(ds, changes, tmp, prefix="changes_")
        change_summary = versions.change_counts(changes)
    created = now.isoformat().replace("+00:00", "Z")
    files.write_datapackage(ds, tmp, facts, version=version, created=created)
    manifest = {
        "dataset": ds.name,
        "identifier": ds.identifier,
        "version": version,
        "previous_version": previous,
        "published_at": created,
        "rows": table.num_rows,
        "content_sha256": digest,
        "files": facts,
        "suppression": report,
        "changes_since_previous": change_summary,
        "temporal": _temporal(table),
    }
    (tmp / "version.json").write_text(json.dumps(manifest, ensure_ascii=False, indent=2), "utf-8")
    files.write_checksums(tmp)
    tmp.rename(final)
    _append_changelog(publish, ds, manifest, old_rows=old.num_rows if old is not None else None)
    return {"published": True, "version": version, "rows": table.num_rows, "path": str(final)}


def _temporal(table: pa.Table) -> dict | None:
    """The months a table covers, for dct:temporal; None when it has no month column."""
    if "month" not in table.column_names or table.num_rows == 0:
        return None
    months = [m for m in table["month"].to_pylist() if m]
    return {"start": min(months), "end": max(months)} if months else None


def _append_changelog(publish: Path, ds: Dataset, manifest: dict, *, old_rows: int | None) -> None:
    lines = [f"## v{manifest['version']} — {manifest['published_at']}", ""]
    lines.append(
        f"* 行数 {manifest['rows']}（上一版本 {old_rows if old_rows is not None else '无'}）"
    )
    sup = manifest["suppression"]
    if ds.suppression is not None:
        lines.append(
            f"* 小数抑制：主抑制 {sup['primary']} 格，互补抑制 {sup['complementary']} 格，"
            f"关联值 {sup['linked']} 格"
        )
    if manifest["changes_since_previous"] is not None:
        c = manifest["changes_since_previous"]
        lines.append(f"* 变更：新增 {c['added']}，变更 {c['changed']}，删除 {c['removed']}")
    lines.append(f"* 内容 sha256 {manifest['content_sha256']}")
    with (versions.dataset_dir(publish, ds.name) / "CHANGELOG.md").open(
        "a", encoding="utf-8"
    ) as fh:
        fh.write("\n".join(lines) + "\n\n")


def _utc(now: datetime) -> datetime:
    if now.tzinfo is None:
        raise ValueError("publish_all(now=...) needs a timezone-aware datetime (UTC)")
    return now.astimezone(UTC).replace(microsecond=0)
