"""Expectation specs: plain data that the suites are built from.

A spec names a GX 1.x expectation type and its kwargs, the severity, which batch it
runs on (the silver table itself or the feed's ``ingest_audit`` rows) and a sentence for
people. Keeping specs as data (not GX objects) lets the suites be listed, exported as
GX JSON and unit-tested without importing GX, whose import alone takes ~3 s.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Literal

Severity = Literal["critical", "warning"]
BatchKind = Literal["silver", "audit"]
SEVERITIES: tuple[Severity, ...] = ("critical", "warning")

ID_STATUSES = ("valid", "normalized", "upgraded_15", "invalid", "missing")
USCC_STATUSES = ("valid", "normalized", "invalid", "missing")
SEX_CODES = ("0", "1", "2", "9")
LINEAGE = ("_delivery_id", "_source_file", "_source_row")


@dataclass(frozen=True)
class ExpectationSpec:
    type: str  # GX snake_case expectation type, e.g. "expect_column_values_to_not_be_null"
    kwargs: dict[str, Any]
    severity: Severity
    description: str
    batch: BatchKind = "silver"
    origin: Literal["contract", "extra"] = "contract"
    tags: tuple[str, ...] = field(default=())

    @property
    def column(self) -> str | None:
        return self.kwargs.get("column")

    @property
    def label(self) -> str:
        """Stable, readable name: the results table's ``expectation`` column."""
        arg = self.column or ",".join(self.kwargs.get("column_list", ()))
        return f"{self.type}({arg})" if arg else self.type


def suite_name(feed_id: str, severity: Severity) -> str:
    return f"silver.{feed_id}.{severity}"
