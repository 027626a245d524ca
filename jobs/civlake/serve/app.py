"""``civlake serve``: the open-data directory, agency pulls and the verification service.

Routes (OUTPUTS.md section 5, stable): CKAN actions at ``/api/3/action/<a>`` and
``/api/action/<a>``; DCAT at ``/catalog.jsonld``; the web page at ``/``; downloads at
``/download/<dataset>/v<N>/<file>``; ``GET /api/v1/datasets/<name>/changes``;
``POST /api/v1/verify``. Public routes serve only published (suppressed) files;
only the grant-checked routes read person-level files or restricted tables.

Each concern's routes are a router in ``serve/routes/``; this module assembles them
with what they share (``serve/context.py``), the error envelope and the guard.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import replace
from datetime import UTC, datetime
from pathlib import Path

from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException as StarletteHTTPException

from civlake.publish.usage import UsageTally
from civlake.serve.audit import AuditLog, log_path
from civlake.serve.context import ServeContext, note
from civlake.serve.directory import Directory
from civlake.serve.errors import ApiError
from civlake.serve.guard import Guard
from civlake.serve.limiter import AuthThrottle, ClientLimiter
from civlake.serve.routes import ROUTERS
from civlake.serve.security import Agencies
from civlake.settings import Settings


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
    overrides = {"key_per_minute": key_rate_per_minute, "key_burst": key_burst,
                 "public_per_minute": public_rate_per_minute, "public_burst": public_burst}  # fmt: skip
    limits = replace(settings.limits, **{k: v for k, v in overrides.items() if v is not None})
    bound = {"max_clients": limits.max_clients, "idle_seconds": limits.idle_seconds}
    serve = ServeContext(
        settings=settings,
        directory=Directory.load(
            settings.publish,
            catalog_dir,
            usage=UsageTally(log_path(settings), today=lambda: clock().date()),
        ),
        agencies=Agencies(settings),
        clock=clock,
        per_key=ClientLimiter(limits.key_per_minute, limits.key_burst, **bound),
        per_client=ClientLimiter(limits.public_per_minute, limits.public_burst, **bound),
    )
    throttle = AuthThrottle(
        limits.auth_fail_per_minute, limits.auth_fail_burst, clock=clock, **bound
    )
    app = FastAPI(title="civlake 数据开放目录", docs_url=None, redoc_url=None, openapi_url=None)
    app.state.serve = serve
    app.add_exception_handler(ApiError, _api_error)
    app.add_exception_handler(StarletteHTTPException, _http_error)
    for router in ROUTERS:
        app.include_router(router)
    # Outermost of our middleware: refusals before routing are audited like the rest.
    app.add_middleware(
        Guard, audit=AuditLog(log_path(settings)), max_body=max_body, max_url=4096,
        clock=clock, throttle=throttle,
    )  # fmt: skip
    return app


async def _api_error(request: Request, err: ApiError) -> JSONResponse:
    note(request, reason=err.message)
    help_url = None
    if "/action/" in request.url.path:
        name = request.url.path.rsplit("/", 1)[-1]
        help_url = f"{request.base_url}api/3/action/help_show?name={name}"
    return JSONResponse(err.body(help_url), status_code=err.status, headers=err.headers)


async def _http_error(request: Request, exc: StarletteHTTPException) -> JSONResponse:
    kind = "Not Found Error" if exc.status_code == 404 else "Bad Request"
    err = ApiError(exc.status_code, kind, str(exc.detail))
    note(request, reason=err.message)
    return JSONResponse(err.body(), status_code=exc.status_code)
