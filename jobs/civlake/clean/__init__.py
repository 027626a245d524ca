"""The clean gate: bronze -> silver (typed, canonical) + quarantine (with reasons).

``canon`` holds the column canonicalisers (vectorised DuckDB macros from
``sql_macros``), ``gate.clean_pending`` runs them over every pending delivery.
"""

from __future__ import annotations
