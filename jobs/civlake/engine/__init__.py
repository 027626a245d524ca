"""Execution engines: the embedded default (DuckDB + delta-rs) and Apache Spark.

Job logic is written once; this package holds only the edges that differ per engine
(the Spark session and its Delta jars). ``docs/adr/0004-spark-engine.md`` says why.
"""

from __future__ import annotations

ENGINES = ("duckdb", "spark")


def check_engine(name: str) -> str:
    """The engine name, from ``--engine`` or ``CIVLAKE_ENGINE``; anything else is refused
    (an unknown name used to run silently on the embedded engine)."""
    if name not in ENGINES:
        raise ValueError(
            f"unknown engine {name!r} (--engine or CIVLAKE_ENGINE); choose one of "
            f"{', '.join(ENGINES)}"
        )
    return name
