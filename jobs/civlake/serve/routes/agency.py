"""Agency pulls: published files (``/download/...``; a key and grant unless the dataset
is open) and the changes of a shared person-level dataset since a version.

An agency whose grant is scoped to a division (``deaths_registry@440106``: 数据属地回流)
gets the same routes with only that division's rows (``civlake.publish.scope``):
downloads are the published files rewritten to its rows, in the same formats; changes
are the diff of its rows in the old version and in the new one, so a person who moved
out of the district, or whose record left the dataset, is ``removed`` for it and one who
moved in is ``added``: the district's copy stays exactly its residents. Every such pull's
audit line records the scope.
"""

from __future__ import annotations

import json

from fastapi import APIRouter, Request
from fastapi.responses import FileResponse, JSONResponse, Response

from civlake.publish.catalog import Dataset
from civlake.publish.scope import read_scoped, scope_label, scoped_file_names, scoped_version_file
from civlake.publish.versions import diff_tables, latest_version, version_dir
from civlake.serve import inputs
from civlake.serve.context import Serve, ServeContext, note
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
) -> Response:
    directory = serve.directory
    ds = directory.find(name)
    if ds is None or not version.startswith("v") or not version[1:].isdigit():
        raise ApiError(404, "Not Found Error", "no such dataset version")
    number = int(version[1:])
    note(request, dataset=ds.name, version=number, action="download")
    scopes = None
    if ds.is_open:
        serve.public(request)
    else:
        agency = serve.agency_for(request, ds.name)
        if ds.is_person_level:
            scopes = agency.row_scopes(ds.name)
            note(request, scope=scope_label(scopes))
    if filename not in directory.download_names(ds, number):
        raise ApiError(404, "Not Found Error", f"{ds.name} v{number} has no file {filename[:80]}")
    path = version_dir(serve.settings.publish, ds.name, number) / filename
    media = MEDIA.get(path.suffix, "application/octet-stream")
    if scopes is not None:
        return _scoped_download(request, serve, ds, number, filename, scopes, media)
    if filename.startswith(f"{ds.name}."):
        manifest = json.loads((path.parent / "version.json").read_text("utf-8"))
        note(request, rows=manifest["rows"])
    return FileResponse(path, media_type=media, filename=filename)


def _scoped_download(
    request: Request, serve: ServeContext, ds: Dataset, number: int, filename: str,
    scopes: tuple[str, ...], media: str,
) -> Response:  # fmt: skip
    if filename not in scoped_file_names(ds):
        raise ApiError(
            403,
            "Authorization Error",
            f"{filename[:80]} describes every district's rows and your grant covers "
            f"{scope_label(scopes)} only; download datapackage.json or the data files, or "
            f"pull /api/v1/datasets/{ds.name}/changes",
        )
    content, rows = scoped_version_file(serve.settings.publish, ds, number, scopes, filename)
    note(request, rows=rows)
    # As FileResponse names the published file; inputs.FileName keeps it ASCII, unquoted.
    disposition = f'attachment; filename="{filename}"'
    return Response(content, media_type=media, headers={"content-disposition": disposition})


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
    scopes = agency.row_scopes(ds.name) if ds.is_person_level else None
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
    note(request, scope=scope_label(scopes))
    # Both versions filtered before the diff: see the module doc for what a district sees.
    old = read_scoped(publish, ds, since, scopes) if since else None
    diff = diff_tables(old, read_scoped(publish, ds, latest, scopes), ds.key)
    rows = [{k: _plain(v) for k, v in r.items()} for r in diff.to_pylist()]
    note(request, version=latest, rows=len(rows))
    return JSONResponse(
        {
            "dataset": ds.name,
            "since_version": since,
            "version": latest,
            "scope": scope_label(scopes),
            "count": len(rows),
            "changes": rows,
        }
    )


def _plain(value: object) -> object:
    return value.isoformat() if hasattr(value, "isoformat") else value
