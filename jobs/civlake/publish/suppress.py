"""Small-cell suppression (小数抑制) for open aggregates.

Primary rule: a count from 1 to 4 is hidden; 0 is shown (an empty cell says nothing
about a person). Complementary rule: a table's margins (sums along any one dimension,
whether published in the table or elsewhere) must not give a hidden cell back, so in
every line of cells that sums to a margin either no cell is hidden or at least two
are. When a line has exactly one, the smallest other non-zero cell in it is hidden
too (smallest, to lose the least information), and lines are rechecked until nothing
changes: a complement can break a line that was fine before.
Value columns derived from a count (amounts, medians) are hidden with their count:
an amount over two households nearly gives each household's benefit away.
"""

from __future__ import annotations

from dataclasses import dataclass

import pandas as pd

from civlake.publish.catalog import Suppression

SMALL_MIN, SMALL_MAX = 1, 4


@dataclass(frozen=True)
class SuppressionReport:
    primary: int
    complementary: int
    linked: int


def suppress(frame: pd.DataFrame, rule: Suppression) -> tuple[pd.DataFrame, SuppressionReport]:
    """Return a copy with hidden cells set to null, and how many of each kind were hidden."""
    out = frame.copy()
    masks: dict[str, pd.Series] = {}
    primary = 0
    for col in rule.counts:
        values = pd.to_numeric(out[col], errors="coerce")
        masks[col] = values.between(SMALL_MIN, SMALL_MAX).fillna(False).astype(bool)
        primary += int(masks[col].sum())
    before = sum(int(m.sum()) for m in masks.values())
    _complement(out, rule, masks)
    complementary = sum(int(m.sum()) for m in masks.values()) - before
    linked = 0
    for value_col, count_col in rule.linked.items():
        hide = masks[count_col] & out[value_col].notna()
        linked += int(hide.sum())
        out[value_col] = out[value_col].mask(hide)
    for col, mask in masks.items():
        out[col] = out[col].astype("Int64").mask(mask)
    return out, SuppressionReport(primary, complementary, linked)


def _complement(frame: pd.DataFrame, rule: Suppression, masks: dict[str, pd.Series]) -> None:
    values = {c: pd.to_numeric(frame[c], errors="coerce").fillna(0) for c in rule.counts}
    dims = list(rule.dimensions)
    # Lines along one dimension: all rows that agree on every other dimension.
    groupings = [[d for d in dims if d != along] for along in dims]
    changed = True
    while changed:
        changed = False
        for col in rule.counts:
            for keys in groupings:
                groups = (
                    frame.groupby(keys, dropna=False, sort=False).groups
                    if keys
                    else {(): frame.index}
                )
                for idx in groups.values():
                    changed |= _fix_line([(col, i) for i in idx], masks, values)
        # Columns of one row that add up (e.g. male + female = total) form a line too.
        for group in rule.additive:
            for i in frame.index:
                changed |= _fix_line([(c, i) for c in group], masks, values)


def _fix_line(
    cells: list[tuple[str, object]],
    masks: dict[str, pd.Series],
    values: dict[str, pd.Series],
) -> bool:
    if len(cells) < 2:
        return False
    hidden = [cell for cell in cells if masks[cell[0]].at[cell[1]]]
    if len(hidden) != 1:
        return False
    open_cells = [cell for cell in cells if not masks[cell[0]].at[cell[1]]]
    # Prefer a non-zero partner: hiding a zero protects nothing if zeros are guessable.
    nonzero = [c for c in open_cells if values[c[0]].at[c[1]] > 0]
    pool = nonzero or open_cells
    col, i = min(pool, key=lambda c: (values[c[0]].at[c[1]], str(c[1])))
    masks[col].at[i] = True
    return True
