"""The DCAT-AP catalog of the open datasets, ``GET /catalog.jsonld``."""

from __future__ import annotations

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse

from civlake.serve import dcat
from civlake.serve.context import Serve
from civlake.serve.errors import responses

router = APIRouter()

LD = {200: {"content": {"application/ld+json": {"schema": {"type": "object"}}}}}


@router.get("/catalog.jsonld", responses=responses() | LD)
def catalog_jsonld(request: Request, serve: Serve) -> JSONResponse:
    serve.public(request)
    body = dcat.build_catalog(serve.directory, str(request.base_url))
    return JSONResponse(body, media_type="application/ld+json")
