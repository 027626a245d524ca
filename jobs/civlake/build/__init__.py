"""Build stage: the dbt project (service-object database, theme marts) run from Python."""

from __future__ import annotations

from civlake.build.runner import DbtBuildError, absent_lake_tables, generate_docs, run_dbt

__all__ = ["DbtBuildError", "absent_lake_tables", "generate_docs", "run_dbt"]
