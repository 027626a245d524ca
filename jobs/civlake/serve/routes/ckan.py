"""CKAN Action API: ``/api/3/action/<name>`` and ``/api/action/<name>``, GET and POST.

A repeated query parameter is a list, as CKAN reads a GET
(``facet.field=a&facet.field=b``); a POST adds its JSON or form body to the query.
"""

from __future__ import annotations

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse
from starlette.concurrency import run_in_threadpool

from civlake.serve import ckan, datastore, inputs
from civlake.serve.context import Serve, note
from civlake.serve.errors import ApiError, responses

router = APIRouter()


async def action(name: inputs.ActionName, request: Request, serve: Serve) -> JSONResponse:
    serve.public(request)
    note(request, action=name)
    help_url = f"{request.base_url}api/3/action/help_show?name={name}"
    handler = ckan.ACTIONS.get(name)
    if handler is None:
        raise ApiError(400, "Bad Request", f"Bad request - Action name not known: {name[:60]}")
    query = request.query_params
    params = {k: vs[0] if len(vs) == 1 else vs for k in query for vs in [query.getlist(k)]}
    if request.method == "POST":
        params |= await _body_params(request)
    if name == "package_show":
        note(request, dataset=str(params.get("id"))[:100])
    elif name in datastore.ACTIONS:
        note(request, dataset=datastore.dataset_of(serve.directory, params))
    if name in datastore.ACTIONS:  # reads a Parquet file: off the event loop
        result = await run_in_threadpool(handler, serve.directory, params, str(request.base_url))
    else:
        result = handler(serve.directory, params, str(request.base_url))
    if name == "datastore_search":
        note(request, rows=datastore.row_count(result))  # a query, counted as usage
    return JSONResponse({"help": help_url, "success": True, "result": result})


for prefix in ("/api/3/action", "/api/action"):
    for method in ("GET", "POST"):
        router.add_api_route(f"{prefix}/{{name}}", action, methods=[method],
                             operation_id=f"ckan_{prefix.split('/')[2]}_{method.lower()}",
                             responses=responses(403, 404, 409))  # fmt: skip


async def _body_params(request: Request) -> dict:
    ctype = request.headers.get("content-type", "")
    raw = await request.body()
    if not raw:
        return {}
    if "application/json" in ctype or raw.lstrip().startswith(b"{"):
        return await inputs.json_object(request)
    form = await request.form()
    return {k: v for k, v in form.items() if isinstance(v, str)}
