"""Open-data directory and publish job (OUTPUTS.md section 5)."""

from __future__ import annotations

from civlake.publish.catalog import CatalogError, Dataset, load_catalog
from civlake.publish.job import PublishError, publish_all

__all__ = ["CatalogError", "Dataset", "PublishError", "load_catalog", "publish_all"]
