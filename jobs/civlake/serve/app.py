"""``civlake serve``: the open-data directory, agency pulls and the verification service.

Routes (OUTPUTS.md section 5, stable): CKAN actions at ``/api/3/action/<a>`` and
``/api/action/<a>``; DCAT at ``/catalog.jsonld``; the web page at ``/``; downloads at
``/download/<dataset>/v<N>/<file>``; ``GET /api/v1/datasets/<name>/changes``;
``POST /api/v1/verify``. Public routes serve only published (suppressed) files;
only the grant-checked routes read person-level files or restricted tables.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import replace
from datetime import UTC, datetime
from pathlib import Path

from fastapi import FastAPI, Request
from fastapi.responses import FileResponse, HTMLResponse, JSONResponse
from starlette.concurrency import run_in_threadpool
from starlette.exceptions import HTTPException as StarletteHTTPException

from civlake.publish.catalog import VERIFY_QUESTIONS
from civlake.publish.versions import diff_tables, latest_version, read_table, version_dir
from civlake.serve import ckan, ckan_search, dcat, inputs, verification, web
from civlake.serve.audit import AuditLog
from civlake.serve.directory import Directory
from civlake.serve.errors import ApiError, responses
from civlake.serve.guard import Guard
from civlake.serve.limiter import AuthThrottle, ClientLimiter
from civlake.serve.security import Agencies, require_agency, require_grant
from civlake.settings import Settings

MEDIA = {".csv": "text/csv; charset=utf-8", ".json": "application/json",
         ".parquet": "application/vnd.apache.parquet", "": "text/plain; charset=utf-8"}  # fmt: skip


def audit_path(settings: Settings) -> Path:
    return settings.state_dir / "audit.jsonl"


def create_app(
    settings: Settings,
    *,
    catalog_dir: Path | None = None,
    key_rate_per_minute: int | None = None,  # None: settings.limits (CIVLAKE_RATE_*)
    key_burst: int | None = None,
    public_rate_per_minute: int | None = None,
    public_burst: int | None = None,
    max_body: int = 16 * 1024,
    clock: Callable[[], datetime] = lambda: datetime.now(UTC),
) -> FastAPI:
    """The ASGI app; run it with uvicorn on loopback (``civlake serve``)."""
    directory = Directory.load(settings.publish, catalog_dir)
    agencies = Agencies(settings)
    overrides = {"key_per_minute": key_rate_per_minute, "key_burst": key_burst,
                 "public_per_minute": public_rate_per_minute, "public_burst": public_burst}  # fmt: skip
    limits = replace(settings.limits, **{k: v for k, v in overrides.items() if v is not None})
    bound = {"max_clients": limits.max_clients, "idle_seconds": limits.idle_seconds}
    per_key = ClientLimiter(limits.key_per_minute, limits.key_burst, **bound)
    per_client = ClientLimiter(limits.public_per_minute, limits.public_burst, **bound)
    throttle = AuthThrottle(
        limits.auth_fail_per_minute, limits.auth_fail_burst, clock=clock, **bound
    )
    app = FastAPI(title="civlake 数据开放目录", docs_url=None, redoc_url=None, openapi_url=None)

    def note(request: Request, **values) -> None:
        request.state.audit.update({k: v for k, v in values.items() if v is not None})

    def public(request: Request) -> None:
        per_client.take(f"ip:{request.client.host if request.client else '?'}")

    def agency_for(request: Request, grant: str | None = None):
        agency = require_agency(
            agencies, request.headers.get("authorization"), clock().date(),
            audit=request.state.audit,
        )  # fmt: skip
        note(request, agency=agency.name, key_id=agency.key_id)
        per_key.take(f"key:{agency.key_id}")
        if grant is not None:
            require_grant(agency, grant, clock().date())
        return agency

    @app.exception_handler(ApiError)
    async def api_error(request: Request, err: ApiError) -> JSONResponse:
        note(request, reason=err.message)
        help_url = None
        if "/action/" in request.url.path:
            help_url = f"{request.base_url}api/3/action/help_show?name={request.url.path.rsplit('/', 1)[-1]}"
        return JSONResponse(err.body(help_url), status_code=err.status, headers=err.headers)

    @app.exception_handler(StarletteHTTPException)
    async def http_error(request: Request, exc: StarletteHTTPException) -> JSONResponse:
        kind = "Not Found Error" if exc.status_code == 404 else "Bad Request"
        err = ApiError(exc.status_code, kind, str(exc.detail))
        note(request, reason=err.message)
        return JSONResponse(err.body(), status_code=exc.status_code)

    # --- CKAN Action API -------------------------------------------------------------
    async def action(name: inputs.ActionName, request: Request) -> JSONResponse:
        public(request)
        note(request, action=name)
        help_url = f"{request.base_url}api/3/action/help_show?name={name}"
        handler = ckan.ACTIONS.get(name)
        if handler is None:
            raise ApiError(400, "Bad Request", f"Bad request - Action name not known: {name[:60]}")
        # A repeated parameter is a list, as CKAN reads a GET (facet.field=a&facet.field=b).
        query = request.query_params
        params = {k: vs[0] if len(vs) == 1 else vs for k in query for vs in [query.getlist(k)]}
        if request.method == "POST":
            params |= await _body_params(request)
        if name == "package_show":
            note(request, dataset=str(params.get("id"))[:100])
        result = handler(directory, params, str(request.base_url))
        return JSONResponse({"help": help_url, "success": True, "result": result})

    for prefix in ("/api/3/action", "/api/action"):
        for method in ("GET", "POST"):
            app.add_api_route(f"{prefix}/{{name}}", action, methods=[method],
                              operation_id=f"ckan_{prefix.split('/')[2]}_{method.lower()}",
                              responses=responses(404, 409))  # fmt: skip

    # --- DCAT and web page ----------------------------------------------------------
    ld = {200: {"content": {"application/ld+json": {"schema": {"type": "object"}}}}}

    @app.get("/catalog.jsonld", responses=responses() | ld)
    def catalog_jsonld(request: Request) -> JSONResponse:
        public(request)
        body = dcat.build_catalog(directory, str(request.base_url))
        return JSONResponse(body, media_type="application/ld+json")

    @app.get("/", response_class=HTMLResponse, responses=responses(409))
    def index(request: Request, q: str = "", theme: str = "", open_type: str = "") -> HTMLResponse:
        public(request)
        fq = " ".join(f'{k}:"{v}"' for k, v in (("theme", theme), ("open_type", open_type)) if v)
        params = {"q": q[:200], "fq": fq, "rows": 1000}
        try:
            result = ckan.package_search(directory, params, str(request.base_url))
        except ApiError:  # the search box is not a query language: look for the text as typed
            params["q"] = ckan_search.literal(q[:200])
            result = ckan.package_search(directory, params, str(request.base_url))
        themes = sorted({ds.theme for ds in directory.catalog.values()})
        html = web.index_page(
            result["results"], q=q, theme=theme, open_type=open_type, themes=themes
        )
        return HTMLResponse(html)

    @app.get("/dataset/{name}", response_class=HTMLResponse, responses=responses(html=(404,)))
    def dataset_page(name: inputs.DatasetName, request: Request) -> HTMLResponse:
        public(request)
        ds = directory.find(name)
        if ds is None:
            return HTMLResponse(web.not_found_page(f"没有名为 {name} 的数据集"), status_code=404)
        note(request, dataset=ds.name)
        return HTMLResponse(web.dataset_page(directory.package(ds, str(request.base_url))))

    # --- downloads ------------------------------------------------------------------
    files = {200: {"content": {t: {} for t in {*MEDIA.values(), "application/octet-stream"}}}}

    @app.get("/download/{name}/{version}/{filename}", responses=responses(401, 403, 404) | files)
    def download(
        name: inputs.DatasetName,
        version: inputs.VersionName,
        filename: inputs.FileName,
        request: Request,
    ) -> FileResponse:
        ds = directory.find(name)
        if ds is None or not version.startswith("v") or not version[1:].isdigit():
            raise ApiError(404, "Not Found Error", "no such dataset version")
        number = int(version[1:])
        note(request, dataset=ds.name, version=number, action="download")
        if ds.is_open:
            public(request)
        else:
            agency_for(request, ds.name)
        if filename not in directory.download_names(ds, number):
            raise ApiError(
                404, "Not Found Error", f"{ds.name} v{number} has no file {filename[:80]}"
            )
        path = version_dir(settings.publish, ds.name, number) / filename
        if filename.startswith(f"{ds.name}."):
            manifest = json.loads((path.parent / "version.json").read_text("utf-8"))
            note(request, rows=manifest["rows"])
        media = MEDIA.get(path.suffix, "application/octet-stream")
        return FileResponse(path, media_type=media, filename=filename)

    # --- agency API -----------------------------------------------------------------
    @app.get("/api/v1/datasets/{name}/changes", responses=responses(401, 403, 404, 409))
    def changes(
        name: inputs.DatasetName,
        request: Request,
        since_version: str = "0",
        purpose: str = "",
    ) -> JSONResponse:
        note(request, action="changes", purpose=purpose[:200] or None)
        agency = agency_for(request)
        ds = directory.find(name)
        if ds is None:
            raise ApiError(404, "Not Found Error", f"no dataset {name[:80]}")
        note(request, dataset=ds.name)
        require_grant(agency, ds.name, clock().date())
        if not ds.is_person_level:
            raise ApiError(
                409,
                "Validation Error",
                f"{ds.name} is not a shared person-level dataset; download it instead",
            )
        latest = latest_version(settings.publish, ds.name)
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
        old = read_table(settings.publish, ds.name, since) if since else None
        diff = diff_tables(old, read_table(settings.publish, ds.name, latest), ds.key)
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

    @app.post(
        "/api/v1/verify",
        responses=responses(401, 403, 409) | inputs.VERIFY_ANSWER,
        openapi_extra=inputs.VERIFY_BODY,
    )
    async def verify_person(request: Request) -> JSONResponse:
        note(request, action="verify")
        agency = agency_for(request)
        body = await _json_object(request)
        unknown = set(body) - {"question", "id_number", "purpose"}
        if unknown:
            raise ApiError(
                409,
                "Validation Error",
                "unexpected fields",
                **{k: ["not allowed"] for k in sorted(unknown)[:5]},
            )
        question, purpose = body.get("question"), body.get("purpose")
        if question not in VERIFY_QUESTIONS:
            raise ApiError(
                409,
                "Validation Error",
                "unknown question",
                question=[f"one of {', '.join(VERIFY_QUESTIONS)}"],
            )
        if not isinstance(purpose, str) or not purpose.strip() or len(purpose) > 200:
            raise ApiError(
                409,
                "Validation Error",
                "purpose is required",
                purpose=["say why you ask (at most 200 characters)"],
            )
        note(request, question=question, purpose=purpose.strip())
        require_grant(agency, f"verify:{question}", clock().date())
        id_number = verification.normalise_id(str(body.get("id_number") or ""))
        # The audit names the subject only partly: enough to investigate, not a copy of the ID.
        note(request, subject=f"{id_number[:6]}********{id_number[-4:]}")
        # DuckDB blocks: in the thread pool, so one question does not stall every other route.
        yes = await run_in_threadpool(verification.answer, settings.warehouse, question, id_number)
        return JSONResponse({"answer": yes})

    # Outermost of our middleware: refusals before routing are audited like the rest.
    app.add_middleware(
        Guard, audit=AuditLog(audit_path(settings)), max_body=max_body, max_url=4096,
        clock=clock, throttle=throttle,
    )  # fmt: skip
    return app


async def _body_params(request: Request) -> dict:
    ctype = request.headers.get("content-type", "")
    raw = await request.body()
    if not raw:
        return {}
    if "application/json" in ctype or raw.lstrip().startswith(b"{"):
        return await _json_object(request)
    form = await request.form()
    return {k: v for k, v in form.items() if isinstance(v, str)}


async def _json_object(request: Request) -> dict:
    return await inputs.json_object(request)


def _plain(value: object) -> object:
    return value.isoformat() if hasattr(value, "isoformat") else value
