"""One expectation's results on several chunks, combined as if GX had seen one batch.

Every expectation in use is row-level, or (natural-key uniqueness) confined to one chunk by
the chunking (chunks.py), so a batch's result is a sum over its chunks: element, missing
and unexpected counts add up, and success is recomputed from the sums the way GX does
(``success ratio = (non-missing - unexpected) / non-missing >= mostly``, success when
nothing is non-missing; ``mostly`` 1 without one). Examples are the first
``MAX_EXAMPLES`` failing rows in lineage order over all chunks: each chunk is validated in
lineage order, so its own first failing rows include every one of the overall first that
it holds. The result is therefore the same for one chunk or many, and for either engine's
chunking (tests/integration/test_expectations_gate.py, test_chunked_results_equal_one_batch
and the Spark test after it).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from civlake.expectations.specs import ExpectationSpec

MAX_EXAMPLES = 10


@dataclass(frozen=True)
class Part:
    """One expectation on one chunk, as GX reported it."""

    success: bool
    element_count: int | None
    unexpected_count: int | None
    missing_count: int | None
    examples: list[dict[str, Any]]
    observed: Any
    error: str | None


def _order_key(example: dict[str, Any], order: Sequence[str]) -> tuple:
    # None last; one position always holds one column, so values there share a type.
    return tuple((0, example[c]) if example.get(c) is not None else (1, 0) for c in order)


def combine(spec: ExpectationSpec, parts: Sequence[Part], *, order: Sequence[str]) -> Part:
    """The result of ``spec`` over the union of the chunks that gave ``parts``."""
    if len(parts) == 1:
        return parts[0]  # GX's own verdict (the property test compares the sums with it)
    error = next((p.error for p in parts if p.error), None)
    examples = sorted((e for p in parts for e in p.examples), key=lambda e: _order_key(e, order))
    examples = examples[:MAX_EXAMPLES]
    observed = next((p.observed for p in parts if p.observed is not None), None)

    def total(name: str) -> int | None:
        values = [getattr(p, name) for p in parts]
        return None if any(v is None for v in values) else sum(values)

    elements, unexpected, missing = (
        total("element_count"),
        total("unexpected_count"),
        total("missing_count"),
    )
    if error is not None:
        success = False
    elif unexpected is None:
        success = all(p.success for p in parts)  # table-level (a column exists)
    else:
        considered = (elements or 0) - (missing or 0)
        mostly = float(spec.kwargs.get("mostly", 1.0))
        success = considered <= 0 or (considered - unexpected) / considered >= mostly
    return Part(
        success=success,
        element_count=elements,
        unexpected_count=unexpected,
        missing_count=missing,
        examples=examples,
        observed=observed,
        error=error,
    )
