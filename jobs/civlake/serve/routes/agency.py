"""Agency pulls: published files (``/download/...``; a key and grant unless the dataset
is open) and the changes of a shared person-level dataset since a version.
"""

from __future__ import annotations

import json

from fastapi import APIRouter, Request
from fastapi.responses import FileResponse, JSONResponse

from civlake.publish.versions import diff_tables, latest_version, read_table, version_dir
from civlake.serve import inputs
from civlake.serve.context import Serve, note
from civlake.serve.errors import ApiError, responses
from civlake.serve.security import require_grant

router = APIRouter()

MEDIA = {".csv": "text/csv; charset=utf-8", ".json": "application/json",
         ".parquet": "application/vnd.apache.parquet", "": "text/plain; charset=utf-8"}  # fmt: skip
FILES = {200: {"content": {t: {} for t in {*MEDIA.values(), "application/octet-stream"}}}}


@router.get("/download/{name}/{version}/{filename}", responses=responses(401, 403, 404) | FILES)
def download(
    name: inputs.DatasetName,
    version: inputs.VersionName,
    filename: inputs.FileName,
    request: Request,
    serve: Serve,
) -> FileResponse:
    directory = serve.directory
    ds = directory.find(name)
    if ds is None or not version.startswith("v") or not version[1:].isdigit():
        raise ApiError(404, "Not Found Error", "no such dataset version")
    number = int(version[1:])
    note(request, dataset=ds.name, version=number, action="download")
    if ds.is_open:
        serve.public(request)
    else:
        serve.agency_for(request, ds.name)
    if filename not in directory.download_names(ds, number):
        raise ApiError(404, "Not Found Error", f"{ds.name} v{number} has no file {filename[:80]}")
    path = version_dir(serve.settings.publish, ds.name, number) / filename
    if filename.startswith(f"{ds.name}."):
        manifest = json.loads((path.parent / "version.json").read_text("utf-8"))
        note(request, rows=manifest["rows"])
    media = MEDIA.get(path.suffix, "application/octet-stream")
    return FileResponse(path, media_type=media, filename=filename)


@router.get("/api/v1/datasets/{name}/changes", responses=responses(401, 403, 404, 409))
def changes(
    name: inputs.DatasetName,
    request: Request,
    serve: Serve,
    since_version: str = "0",
    purpose: str = "",
) -> JSONResponse:
    note(request, action="changes", purpose=purpose[:200] or None)
    agency = serve.agency_for(request)
    ds = serve.directory.find(name)
    if ds is None:
        raise ApiError(404, "Not Found Error", f"no dataset {name[:80]}")
    note(request, dataset=ds.name)
    require_grant(agency, ds.name, serve.clock().date())
    if not ds.is_person_level:
        raise ApiError(
            409,
            "Validation Error",
            f"{ds.name} is not a shared person-level dataset; download it instead",
        )
    publish = serve.settings.publish
    latest = latest_version(publish, ds.name)
    if not since_version.isdigit():
        raise ApiError(
            409,
            "Validation Error",
            "since_version must be a version number (0 = all)",
            since_version=["Invalid integer"],
        )
    since = int(since_version)
    if latest is None:
        raise ApiError(404, "Not Found Error", f"{ds.name} has not been published yet")
    if since > latest:
        raise ApiError(
            409,
            "Validation Error",
            f"since_version {since} is newer than the latest version {latest}",
            since_version=[f"at most {latest}"],
        )
    old = read_table(publish, ds.name, since) if since else None
    diff = diff_tables(old, read_table(publish, ds.name, latest), ds.key)
    rows = [{k: _plain(v) for k, v in r.items()} for r in diff.to_pylist()]
    note(request, version=latest, rows=len(rows))
    return JSONResponse(
        {
            "dataset": ds.name,
            "since_version": since,
            "version": latest,
            "count": len(rows),
            "changes": rows,
        }
    )


def _plain(value: object) -> object:
    return value.isoformat() if hasattr(value, "isoformat") else value
