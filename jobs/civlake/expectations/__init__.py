"""Great Expectations suites as the silver quality gate.

Public API: ``run_silver_gate(settings, *, feeds=None, run_id, at=None) -> GateResult``
(raises ``GateFailed`` on a failed critical expectation), ``silver_specs(feed_id)`` and
``export_suites()``. GX itself is imported only inside the runner (its import costs ~3 s,
too much for Airflow's DAG parsing and for the CLI's start-up).
"""

from __future__ import annotations

from civlake.expectations.outcome import GateFailed, GateResult, Outcome
from civlake.expectations.results import results_path
from civlake.expectations.runner import run_silver_gate
from civlake.expectations.suites import export_suites, silver_specs

__all__ = [
    "GateFailed",
    "GateResult",
    "Outcome",
    "export_suites",
    "results_path",
    "run_silver_gate",
    "silver_specs",
]
