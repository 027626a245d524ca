"""The verification service's route, ``POST /api/v1/verify``: a yes/no about one person
for an agency holding the grant ``verify:<question>``; the audit line names the question,
the purpose and the subject only in part.
"""

from __future__ import annotations

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse
from starlette.concurrency import run_in_threadpool

from civlake.publish.catalog import VERIFY_QUESTIONS
from civlake.serve import inputs, verification
from civlake.serve.context import Serve, note
from civlake.serve.errors import ApiError, responses
from civlake.serve.security import require_grant

router = APIRouter()


@router.post(
    "/api/v1/verify",
    responses=responses(401, 403, 409) | inputs.VERIFY_ANSWER,
    openapi_extra=inputs.VERIFY_BODY,
)
async def verify_person(request: Request, serve: Serve) -> JSONResponse:
    note(request, action="verify")
    agency = serve.agency_for(request)
    body = await inputs.json_object(request)
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
    require_grant(agency, f"verify:{question}", serve.clock().date())
    id_number = verification.normalise_id(str(body.get("id_number") or ""))
    # The audit names the subject only partly: enough to investigate, not a copy of the ID.
    note(request, subject=f"{id_number[:6]}********{id_number[-4:]}")
    # DuckDB blocks: in the thread pool, so one question does not stall every other route.
    warehouse = serve.settings.warehouse
    yes = await run_in_threadpool(verification.answer, warehouse, question, id_number)
    return JSONResponse({"answer": yes})
