"""The directory as served: catalog entries joined with their published versions.

Package dicts follow CKAN's ``package_show`` shape (so ``ckanapi`` and CKAN
harvesters read them unchanged) plus our own keys for the Chinese directory fields.
Nothing here reads data files: counts and hashes come from each ``version.json``.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

from civlake.publish.catalog import Dataset, load_catalog
from civlake.publish.usage import UsageTally
from civlake.publish.versions import list_versions, read_manifest, version_dir

FORMAT_LABEL = {"csv": "CSV", "json": "JSON", "parquet": "Parquet", "datapackage": "JSON"}


@dataclass(frozen=True)
class Directory:
    catalog: dict[str, Dataset]
    publish: Path
    usage: UsageTally | None = None  # downloads and queries from the audit log

    @classmethod
    def load(
        cls, publish: Path, catalog_dir: Path | None = None, *, usage: UsageTally | None = None
    ) -> Directory:
        return cls(catalog=load_catalog(catalog_dir), publish=publish, usage=usage)

    def find(self, id_or_name: str) -> Dataset | None:
        if id_or_name in self.catalog:
            return self.catalog[id_or_name]
        return next((d for d in self.catalog.values() if d.identifier == id_or_name), None)

    def versions(self, ds: Dataset) -> list[dict]:
        return [
            read_manifest(self.publish, ds.name, v) for v in list_versions(self.publish, ds.name)
        ]

    def download_names(self, ds: Dataset, version: int) -> set[str]:
        """Files of a published version that may be downloaded (a whitelist, not a path).

        Regular files only: a symlink (or a file reached through one) could point out of
        the publish folder, at the agency register or the warehouse, and would be served.
        """
        vdir = version_dir(self.publish, ds.name, version)
        if version not in list_versions(self.publish, ds.name):
            return set()
        root = self.publish.resolve()
        return {
            p.name
            for p in vdir.iterdir()
            if p.is_file()
            and not p.is_symlink()
            and not p.name.startswith(".")
            and p.resolve().is_relative_to(root)
        }

    def package(self, ds: Dataset, base_url: str) -> dict:
        versions = self.versions(ds)
        latest = versions[-1] if versions else None
        org = organization(ds)
        resources = _resources(ds, latest, base_url) if latest else []
        usage = self.usage.summary(ds.name) if self.usage else {}
        temporal = (latest or {}).get("temporal") or {}
        modified = latest["published_at"] if latest else f"{ds.modified.isoformat()}T00:00:00"
        extras = {
            "identifier": ds.identifier,
            "theme": ds.theme,
            "open_type": ds.open_type,
            "share_type": ds.share_type,
            "update_frequency": ds.update_frequency,
            "temporal_start": temporal.get("start") or ds.temporal_coverage["start"],
            "temporal_end": temporal.get("end") or ds.temporal_coverage.get("end", ""),
            "spatial": f"{ds.spatial_coverage['name']}（{ds.spatial_coverage['code']}）",
            "issued": ds.issued.isoformat(),
            "modified": modified[:10],
            "level": ds.level,
        }
        return {
            "id": ds.identifier,
            "name": ds.name,
            "title": ds.title,
            "notes": ds.description,
            "type": "dataset",
            "state": "active",
            "private": False,
            "author": ds.publisher,
            "maintainer": ds.publisher,
            "license_id": ds.license["id"],
            "license_title": ds.license["title"],
            "license_url": ds.license["url"],
            "owner_org": org["id"],
            "organization": org,
            "tags": [{"name": k, "display_name": k, "state": "active"} for k in ds.keywords],
            "num_tags": len(ds.keywords),
            "groups": [],
            "metadata_created": f"{ds.issued.isoformat()}T00:00:00",
            "metadata_modified": modified.removesuffix("Z"),
            "version": str(latest["version"]) if latest else None,
            "url": f"{base_url}dataset/{ds.name}",
            "resources": resources,
            "num_resources": len(resources),
            **extras,
            "extras": [{"key": k, "value": str(v)} for k, v in extras.items()],
            "fields": [
                {"name": f.name, "title": f.title, "type": f.type, "description": f.description}
                for f in ds.fields
            ],
            "audience": list(ds.audience),
            "versions": [_version_entry(ds, v, base_url) for v in versions],
            # CKAN's figure (total, and the last 14 days): downloads plus queries.
            "tracking_summary": {k: usage.get(k, 0) for k in ("total", "recent")},
            "usage": {k: usage.get(k, 0) for k in ("downloads", "queries")},
        }


def organization(ds: Dataset) -> dict:
    return {
        "id": ds.publisher_id,
        "name": ds.publisher_id,
        "title": ds.publisher,
        "display_name": ds.publisher,
        "type": "organization",
        "is_organization": True,
        "state": "active",
        "description": "",
        "image_url": "",
    }


def datastore_resource(ds: Dataset) -> bool:
    """Whether a dataset's rows are searchable (``datastore_search``): open ones only."""
    return ds.is_open


def download_url(base_url: str, ds: Dataset, version: int, filename: str) -> str:
    return f"{base_url}download/{ds.name}/v{version}/{filename}"


def _resources(ds: Dataset, manifest: dict, base_url: str) -> list[dict]:
    version = manifest["version"]
    out = []
    for fmt, facts in manifest["files"].items():
        out.append(
            {
                "id": f"{ds.identifier}-v{version}-{fmt}",
                "package_id": ds.identifier,
                "name": f"{ds.title}（{FORMAT_LABEL[fmt]}，第 {version} 版）",
                "format": FORMAT_LABEL[fmt],
                "mimetype": facts["mediatype"],
                "url": download_url(base_url, ds, version, facts["path"]),
                "size": facts["bytes"],
                "hash": f"sha256:{facts['sha256']}",
                "created": manifest["published_at"].removesuffix("Z"),
                "last_modified": manifest["published_at"].removesuffix("Z"),
                "restricted": not ds.is_open,
                "datastore_active": datastore_resource(ds),
                "state": "active",
                "url_type": None,
            }
        )
    out.append(
        {
            "id": f"{ds.identifier}-v{version}-datapackage",
            "package_id": ds.identifier,
            "name": f"{ds.title}（Frictionless 数据包描述，第 {version} 版）",
            "format": "JSON",
            "mimetype": "application/json",
            "url": download_url(base_url, ds, version, "datapackage.json"),
            "created": manifest["published_at"].removesuffix("Z"),
            "restricted": not ds.is_open,
            "datastore_active": False,
            "state": "active",
            "url_type": None,
        }
    )
    return out


def _version_entry(ds: Dataset, manifest: dict, base_url: str) -> dict:
    v = manifest["version"]
    return {
        "version": v,
        "published_at": manifest["published_at"],
        "rows": manifest["rows"],
        "changes_since_previous": manifest.get("changes_since_previous"),
        "downloads": {
            fmt: download_url(base_url, ds, v, f["path"]) for fmt, f in manifest["files"].items()
        }
        | {"datapackage": download_url(base_url, ds, v, "datapackage.json")},
    }


def dumps(obj: object) -> str:
    return json.dumps(obj, ensure_ascii=False)
