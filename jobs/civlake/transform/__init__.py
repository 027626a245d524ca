"""Build stage: the dbt project (service-object database, theme marts) run from Python."""

from __future__ import annotations

from civlake.transform.runner import (
    DbtBuildError,
    absent_lake_tables,
    dbt_work_dir,
    generate_docs,
    read_model,
    run_dbt,
    source_freshness,
)
from civlake.transform.spark_target import read_spark_models

__all__ = [
    "DbtBuildError",
    "absent_lake_tables",
    "dbt_work_dir",
    "generate_docs",
    "read_model",
    "read_spark_models",
    "run_dbt",
    "source_freshness",
]
