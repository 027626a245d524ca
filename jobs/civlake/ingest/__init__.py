"""Ingestion: landing deliveries (and exchange-platform snapshots) -> bronze + ingest_audit."""

from civlake.ingest.landing import (
    FeedSummary,
    discover,
    ingest_feed,
    ingest_landing,
)
from civlake.ingest.manifest import DeliveryRejected, read_manifest

__all__ = [
    "DeliveryRejected",
    "FeedSummary",
    "discover",
    "ingest_feed",
    "ingest_landing",
    "read_manifest",
]
