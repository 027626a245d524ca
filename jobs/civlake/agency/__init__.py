"""Agencies that pull conditional datasets and ask verification questions."""

from __future__ import annotations

from civlake.agency.keys import REASONS, KeyRefused, check_key
from civlake.agency.store import (
    Agency,
    AgencyError,
    Register,
    create_agency,
    load_agencies,
    revoke,
    rotate_key,
)

__all__ = [
    "REASONS",
    "Agency",
    "AgencyError",
    "KeyRefused",
    "Register",
    "check_key",
    "create_agency",
    "load_agencies",
    "revoke",
    "rotate_key",
]
