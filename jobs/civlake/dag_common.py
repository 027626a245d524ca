"""What both DAG files in ``dags/`` share: the feed list, the Asset URIs, default arguments.

In the package rather than the DAGs folder, so it imports the same way in the DAG
processor, the task runner and the tests. Cheap at parse time: only file names are read;
contracts are parsed inside the tasks.
"""

from __future__ import annotations

from datetime import timedelta

from airflow.sdk import Asset

from civlake.settings import REPO_ROOT

SCHEMAS = REPO_ROOT / "schemas"

DEFAULT_ARGS = {
    "owner": "civlake",
    "retries": 2,
    "retry_delay": timedelta(seconds=30),
    "retry_exponential_backoff": True,
    "max_retry_delay": timedelta(minutes=10),
}

WAREHOUSE = Asset(name="warehouse", uri="civlake://warehouse")


def feed_ids() -> list[str]:
    """Every feed with a contract in ``schemas/`` (files starting with ``_`` are shared parts)."""
    return sorted(p.stem for p in SCHEMAS.glob("*.yaml") if not p.name.startswith("_"))


def bronze_asset(feed_id: str) -> Asset:
    return Asset(name=f"bronze.{feed_id}", uri=f"civlake://lake/bronze/{feed_id}")


def silver_asset(feed_id: str) -> Asset:
    return Asset(name=f"silver.{feed_id}", uri=f"civlake://lake/silver/{feed_id}")
