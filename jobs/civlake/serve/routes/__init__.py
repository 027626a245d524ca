"""The routes of ``civlake serve``, one ``APIRouter`` per concern (OUTPUTS.md section 5).

``ROUTERS`` is the order ``create_app`` includes them in, which is the order of the
paths in the OpenAPI document.
"""

from __future__ import annotations

from civlake.serve.routes import (
    agency,
    ckan,
    dashboard,
    dcat,
    findings,
    pages,
    sharing,
    verification,
)

ROUTERS = (
    ckan.router,
    dcat.router,
    pages.router,
    agency.router,
    verification.router,
    findings.router,
    dashboard.router,
    sharing.router,
)
