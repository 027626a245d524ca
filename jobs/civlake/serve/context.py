"""What every route of ``civlake serve`` shares, built once by ``create_app``.

Routes take it as a FastAPI dependency (``Serve``), so a router module holds no state
of its own; ``note`` adds to the request's audit record, which the guard writes.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Annotated

from fastapi import Depends, Request

from civlake.agency.store import Agency
from civlake.serve.directory import Directory
from civlake.serve.limiter import ClientLimiter
from civlake.serve.security import Agencies, require_agency, require_grant
from civlake.settings import Settings


@dataclass(frozen=True)
class ServeContext:
    settings: Settings
    directory: Directory
    agencies: Agencies
    clock: Callable[[], datetime]
    per_key: ClientLimiter  # requests per agency key
    per_client: ClientLimiter  # requests per address, on the public routes

    def public(self, request: Request) -> None:
        """Count a request against its address (429 when over the public limit)."""
        self.per_client.take(f"ip:{request.client.host if request.client else '?'}")

    def agency_for(self, request: Request, grant: str | None = None) -> Agency:
        """The agency the request's key names (401), counted (429), with ``grant`` (403)."""
        agency = require_agency(
            self.agencies, request.headers.get("authorization"), self.clock().date(),
            audit=request.state.audit,
        )  # fmt: skip
        note(request, agency=agency.name, key_id=agency.key_id)
        self.per_key.take(f"key:{agency.key_id}")
        if grant is not None:
            require_grant(agency, grant, self.clock().date())
        return agency


def note(request: Request, **values) -> None:
    """Add to the request's audit line (``None`` values leave a field as it is)."""
    request.state.audit.update({k: v for k, v in values.items() if v is not None})


async def serve_context(request: Request) -> ServeContext:
    # async: a plain def dependency would cost every request a hop to the thread pool.
    return request.app.state.serve


Serve = Annotated[ServeContext, Depends(serve_context)]
