"""The clean gate: bronze -> silver (typed, canonical) + quarantine (with reasons).

``canon`` holds the column canonicalisers (vectorised DuckDB macros from
``sql_macros``); ``frame`` applies them to one delivery; ``gate.clean_pending`` runs
every pending delivery and keeps ``ingest_audit`` balanced (``check_invariants``).
"""

from __future__ import annotations

from civlake.clean.gate import CleanGateError, clean_pending
from civlake.clean.invariants import InvariantError, check_invariants

__all__ = ["CleanGateError", "InvariantError", "check_invariants", "clean_pending"]
