"""Agencies that pull conditional datasets and ask verification questions."""

from __future__ import annotations

from civlake.agency.store import (
    Agency,
    AgencyError,
    authenticate,
    create_agency,
    load_agencies,
)

__all__ = ["Agency", "AgencyError", "authenticate", "create_agency", "load_agencies"]
