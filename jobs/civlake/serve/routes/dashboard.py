"""The bureau dashboard (一屏统揽): the page ``/dashboard``, one JSON endpoint per panel
(``/api/v1/dashboard/<panel>?district=<code>``) and the vendored assets under
``/static/`` (ECharts and the page script; nothing is loaded from outside).

Public like the catalog page: every number is a small-cell-suppressed aggregate.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

from fastapi import APIRouter, Query, Request
from fastapi.responses import FileResponse, HTMLResponse, JSONResponse
from starlette.concurrency import run_in_threadpool

from civlake.serve import dashboard, dashboard_page
from civlake.serve.context import Serve, note
from civlake.serve.dashboard_panels import PANELS
from civlake.serve.errors import ApiError, responses

router = APIRouter()
STATIC = Path(__file__).resolve().parent.parent / "static"
ASSETS = {"echarts.min.js": "text/javascript", "dashboard.js": "text/javascript"}
DistrictCode = Annotated[str | None, Query(pattern=r"^\d{12}$")]


@router.get("/dashboard", response_class=HTMLResponse)
def dashboard_home(request: Request, serve: Serve) -> HTMLResponse:
    serve.public(request)
    # Without marts the page still loads, and each panel says what is missing.
    districts = dashboard.districts(serve.settings.warehouse)
    return HTMLResponse(dashboard_page.render(PANELS, districts))


@router.get("/api/v1/dashboard/{panel}", responses=responses(404, 409))
async def dashboard_panel(
    panel: str, request: Request, serve: Serve, district: DistrictCode = None
) -> JSONResponse:
    serve.public(request)
    note(request, dataset=f"dashboard:{panel}")
    body = await run_in_threadpool(
        dashboard.panel, serve.settings.warehouse, panel, district=district
    )
    return JSONResponse(body)


@router.get("/static/{name}", include_in_schema=False)
def static_asset(name: str, request: Request, serve: Serve) -> FileResponse:
    serve.public(request)
    if name not in ASSETS:
        raise ApiError(404, "Not Found Error", f"no static file {name!r}")
    return FileResponse(
        STATIC / name,
        media_type=ASSETS[name],
        headers={"Cache-Control": "public, max-age=86400"},
    )
