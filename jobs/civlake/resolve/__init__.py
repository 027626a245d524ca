"""The dedupe gate: entity resolution of persons and organisations.

Public entry points (called by the pipeline, the CLI and the DAGs):
``resolve_persons(settings, *, now)``, ``resolve_organizations(settings)`` and
``evaluate_clustering(xref, truth_records)``.
"""

from __future__ import annotations

from civlake.resolve.evaluate import evaluate_clustering
from civlake.resolve.linkage import LinkageConfig
from civlake.resolve.organizations import resolve_organizations
from civlake.resolve.persons import resolve_persons

__all__ = ["LinkageConfig", "evaluate_clustering", "resolve_organizations", "resolve_persons"]
