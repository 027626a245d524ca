"""The web pages: the directory with its search box (``/``) and one page per dataset."""

from __future__ import annotations

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse

from civlake.serve import ckan, ckan_search, inputs, web
from civlake.serve.context import Serve, note
from civlake.serve.errors import ApiError, responses

router = APIRouter()


@router.get("/", response_class=HTMLResponse, responses=responses(409))
def index(
    request: Request, serve: Serve, q: str = "", theme: str = "", open_type: str = ""
) -> HTMLResponse:
    serve.public(request)
    directory = serve.directory
    fq = " ".join(f'{k}:"{v}"' for k, v in (("theme", theme), ("open_type", open_type)) if v)
    params = {"q": q[:200], "fq": fq, "rows": 1000}
    try:
        result = ckan.package_search(directory, params, str(request.base_url))
    except ApiError:  # the search box is not a query language: look for the text as typed
        params["q"] = ckan_search.literal(q[:200])
        result = ckan.package_search(directory, params, str(request.base_url))
    themes = sorted({ds.theme for ds in directory.catalog.values()})
    html = web.index_page(result["results"], q=q, theme=theme, open_type=open_type, themes=themes)
    return HTMLResponse(html)


@router.get("/dataset/{name}", response_class=HTMLResponse, responses=responses(html=(404,)))
def dataset_page(name: inputs.DatasetName, request: Request, serve: Serve) -> HTMLResponse:
    serve.public(request)
    ds = serve.directory.find(name)
    if ds is None:
        return HTMLResponse(web.not_found_page(f"没有名为 {name} 的数据集"), status_code=404)
    note(request, dataset=ds.name)
    package = serve.directory.package(ds, str(request.base_url))
    return HTMLResponse(web.dataset_page(package, division_field=ds.division_field))
