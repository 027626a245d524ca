"""Caseworkers' routes (核查反馈): a decision on one finding, by a key granted
``review:<district>``; the district's worklist, by a key granted ``worklist:<district>``.

A review is not applied here: it lands as a delivery of ``finding_reviews`` that the next
``civlake run`` applies (civlake.serve.reviews), so the API and a returned worklist take
one path in. 404 for a finding the warehouse never listed, 403 for another district's.
"""

from __future__ import annotations

import re
from typing import Annotated

from fastapi import APIRouter, Path, Request
from fastapi.responses import FileResponse, JSONResponse
from starlette.concurrency import run_in_threadpool

from civlake.serve import inputs, reviews
from civlake.serve.context import Serve, note
from civlake.serve.errors import ApiError, responses

router = APIRouter()
_FIELDS = {"decision", "note", "reviewer"}
FINDING_ID = re.compile(r"[0-9a-f]{32}")
# Documented, not enforced (as civlake.serve.inputs does): another shape is not found.
FindingId = Annotated[str, Path(json_schema_extra={"pattern": r"^[0-9a-f]{32}$"})]
District = Annotated[str, Path(json_schema_extra={"pattern": r"^[0-9]{6}([0-9]{6})?$"})]
REVIEW_BODY = {"requestBody": {"required": True, "content": {"application/json": {"schema": {
    "type": "object", "required": ["decision"], "additionalProperties": False,
    "properties": {
        "decision": {"enum": list(reviews.DECISIONS)},
        "note": {"type": "string", "maxLength": 500},
        "reviewer": {"type": "string", "maxLength": 50},
    },
}}}}}  # fmt: skip
XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
_WORKBOOK = {200: {"description": "The district's worklist (XLSX).",
                   "content": {XLSX: {"schema": {"type": "string", "format": "binary"}}}}}  # fmt: skip


@router.post(
    "/api/v1/findings/{finding_id}/review",
    status_code=202,
    responses=responses(401, 403, 404, 409),
    openapi_extra=REVIEW_BODY,
)
async def review_finding(finding_id: FindingId, request: Request, serve: Serve) -> JSONResponse:
    # The audit line's fields (serve.guard): the finding is the subject, the feed the
    # dataset, the district the scope, the decision the purpose of the request.
    note(request, action="review", dataset=reviews.FEED, subject=finding_id[:64])
    agency = serve.agency_for(request)
    body = await inputs.json_object(request)
    if unknown := set(body) - _FIELDS:
        raise ApiError(
            409, "Validation Error", "unexpected fields",
            **{k: ["not allowed"] for k in sorted(unknown)[:5]},
        )  # fmt: skip
    warehouse = serve.settings.warehouse
    district = None
    if FINDING_ID.fullmatch(finding_id):  # the 32 hex digits civlake gives (verify.findings)
        district = await run_in_threadpool(reviews.finding_district, warehouse, finding_id)
    if district is None:
        raise ApiError(404, "Not Found Error", f"no finding {finding_id!r}")
    serve.agency_for(request, f"review:{district[:6]}")  # 403 for another district's
    decision, text = body.get("decision"), body.get("note")
    if decision not in reviews.DECISIONS:
        raise ApiError(
            409, "Validation Error", "decision must be one of the 核查结论 values",
            decision=[" / ".join(reviews.DECISIONS)],
        )  # fmt: skip
    if text is not None and (not isinstance(text, str) or len(text) > 500):
        raise ApiError(409, "Validation Error", "note is text", note=["at most 500 characters"])
    reviewer = body.get("reviewer") or agency.name
    if not isinstance(reviewer, str) or len(reviewer) > 50:
        raise ApiError(409, "Validation Error", "reviewer is a name", reviewer=["at most 50"])
    delivery = await run_in_threadpool(
        lambda: reviews.write_review(
            serve.settings, finding_id=finding_id, district=district, decision=decision,
            note=text, reviewer=reviewer, agency=agency.name, now=serve.clock(),
        )
    )  # fmt: skip
    note(request, purpose=f"核查结论 {decision}", scope=district[:6], rows=1)
    return JSONResponse(
        {"finding_id": finding_id, "decision": decision, "delivery_id": delivery,
         "feed": reviews.FEED, "applied": "by the next civlake run"},
        status_code=202,
    )  # fmt: skip


@router.get(
    "/api/v1/worklists/{district}",
    response_class=FileResponse,
    responses=responses(401, 403, 404) | _WORKBOOK,
)
async def district_worklist(district: District, request: Request, serve: Serve) -> FileResponse:
    note(request, action="worklist", dataset="worklists", scope=district[:12])
    serve.agency_for(request, f"worklist:{district}")
    path = reviews.worklist_file(serve.settings, district)
    if path is None:
        raise ApiError(404, "Not Found Error", f"no worklist for district {district}")
    return FileResponse(
        path,
        media_type=XLSX,
        filename=path.name,
    )
