"""What the gate returns and raises: per-expectation outcomes, GateResult, GateFailed."""

from __future__ import annotations

import datetime as dt
import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any


@dataclass(frozen=True)
class Outcome:
    """One expectation evaluated on one batch: a row of ``<lake>/expectation_results``."""

    run_id: str
    suite: str
    feed_id: str
    expectation: str
    expectation_type: str
    column: str | None
    severity: str
    origin: str
    description: str
    success: bool
    element_count: int | None
    unexpected_count: int | None
    examples: list[dict[str, Any]]
    observed: Any
    error: str | None
    at: dt.datetime
    # The deliveries this outcome covers: the ones the run validated (results.py).
    deliveries: tuple[str, ...] = ()

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> Outcome:
        at = d["at"]
        return cls(
            **{
                **d,
                "at": dt.datetime.fromisoformat(at) if isinstance(at, str) else at,
                "deliveries": tuple(d.get("deliveries", ())),
            }
        )

    def details(self) -> str:
        return json.dumps(
            {
                "description": self.description,
                "origin": self.origin,
                "element_count": self.element_count,
                "observed": self.observed,
                "examples": self.examples,
                "error": self.error,
                "deliveries": list(self.deliveries),
            },
            ensure_ascii=False,
            default=str,
        )

    def explain(self, max_examples: int = 5) -> str:
        """One paragraph for a person: feed, expectation, why, example rows."""
        head = f"[{self.feed_id}] {self.suite}: {self.expectation} failed — {self.description}"
        if self.error:
            return f"{head}. The check could not run: {self.error}"
        parts = [head]
        if self.unexpected_count is not None:
            parts.append(f"{self.unexpected_count} of {self.element_count} rows break it")
        elif self.observed is not None:
            parts.append(f"observed {self.observed}")
        if self.examples:
            rows = "; ".join(_fmt_row(r) for r in self.examples[:max_examples])
            parts.append(f"example rows: {rows}")
        return ". ".join(parts)


def _fmt_row(row: dict[str, Any]) -> str:
    return ", ".join(f"{k}={v}" for k, v in row.items())


@dataclass
class GateResult:
    run_id: str
    outcomes: list[Outcome] = field(default_factory=list)
    feeds_checked: list[str] = field(default_factory=list)
    feeds_skipped: dict[str, str] = field(default_factory=dict)  # feed -> why
    results_table: Path | None = None
    data_docs: Path | None = None

    @property
    def critical_failures(self) -> list[Outcome]:
        return [o for o in self.outcomes if o.severity == "critical" and not o.success]

    @property
    def warnings(self) -> list[Outcome]:
        return [o for o in self.outcomes if o.severity == "warning" and not o.success]

    @property
    def ok(self) -> bool:
        return not self.critical_failures

    success = ok  # the name the ingest DAG reads

    def summary(self) -> str:
        passed = sum(o.success for o in self.outcomes)
        return (
            f"silver gate {self.run_id}: {len(self.feeds_checked)} feeds, "
            f"{passed}/{len(self.outcomes)} expectations passed, "
            f"{len(self.critical_failures)} critical failures, {len(self.warnings)} warnings"
        )


class GateFailed(RuntimeError):
    """A critical silver expectation failed: the build must stop until it is fixed."""

    def __init__(self, result: GateResult) -> None:
        self.result = result
        lines = [result.summary() + "."]
        lines += [f"- {o.explain()}" for o in result.critical_failures]
        lines.append(
            "Fix the clean gate or the upstream delivery named above, then rerun; "
            f"all results are in {result.results_table}"
            + (f" and the report {result.data_docs}" if result.data_docs else "")
            + "."
        )
        super().__init__("\n".join(lines))
