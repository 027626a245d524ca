"""Execution engines: the embedded default (DuckDB + delta-rs) and Apache Spark.

Job logic is written once; this package holds only the edges that differ per engine
(the Spark session and its Delta jars). ``docs/adr/0004-spark-engine.md`` says why.
"""

from __future__ import annotations
