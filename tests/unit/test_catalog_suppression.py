"""Small-cell suppression: no 1-4 shown, zeros shown, no line with a single hidden cell."""

from __future__ import annotations

import itertools

import pandas as pd
from hypothesis import given, settings
from hypothesis import strategies as st

from civlake.publish.catalog import Suppression
from civlake.publish.suppress import suppress

RULE = Suppression(
    counts=("persons",), dimensions=("district", "category"), linked={"amount": "persons"}
)


def _frame(values: list[int]) -> pd.DataFrame:
    cells = list(itertools.product(["A", "B", "C"], ["x", "y", "z"]))
    return pd.DataFrame(
        {
            "district": [d for d, _ in cells],
            "category": [c for _, c in cells],
            "persons": values,
            "amount": [v * 100.0 for v in values],
        }
    )


def _assert_safe(original: pd.DataFrame, out: pd.DataFrame) -> None:
    hidden = out["persons"].isna()
    # every original 1-4 is hidden; zeros are never hidden as primaries
    assert hidden[original["persons"].between(1, 4)].all()
    shown = out.loc[~hidden, "persons"]
    assert not shown.between(1, 4).any()
    # the same cells hide their derived amount
    assert out.loc[hidden, "amount"].isna().all()
    # margins cannot give back a hidden cell: 0 or >= 2 hidden per row and per column
    for dim in ("district", "category"):
        per_line = hidden.groupby(out[dim]).sum()
        assert not (per_line == 1).any(), (dim, per_line.to_dict())


def test_single_small_cell_gets_complement() -> None:
    original = _frame([3, 10, 20, 30, 40, 50, 60, 70, 80])
    out, report = suppress(original, RULE)
    _assert_safe(original, out)
    assert report.primary == 1 and report.complementary >= 3
    assert out["persons"].notna().sum() + report.primary + report.complementary == 9


def test_zero_is_shown_and_nothing_hidden_without_small_cells() -> None:
    original = _frame([0, 10, 20, 30, 0, 50, 60, 70, 0])
    out, report = suppress(original, RULE)
    assert report.primary == report.complementary == 0
    assert out["persons"].tolist() == original["persons"].tolist()


@settings(max_examples=60, deadline=None)
@given(st.lists(st.integers(min_value=0, max_value=12), min_size=9, max_size=9))
def test_any_table_is_protected(values: list[int]) -> None:
    original = _frame(values)
    out, _ = suppress(original, RULE)
    _assert_safe(original, out)
