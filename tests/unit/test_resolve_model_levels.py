"""The bounded Damerau-Levenshtein level (civlake.resolve.model.DamerauLevenshteinWithin)
puts exactly the pairs in it that Splink's own level does, on DuckDB: property-tested on
strings a few random edits apart (IDs, dates and text, where the bound sometimes lets a
pair through and sometimes not). The Spark twin is in
tests/integration/test_resolve_spark.py."""

from __future__ import annotations

import duckdb
import pyarrow as pa
import splink.comparison_level_library as cll
from hypothesis import given, settings
from hypothesis import strategies as st
from splink.internals.dialects import SplinkDialect

from civlake.resolve.model import DamerauLevenshteinWithin, comparisons

ALPHABETS = ["0123456789X", "0123456789-", "张王李赵欧阳明红伟"]


@st.composite
def near_pairs(draw) -> tuple[str, str]:
    """(a, b): b is a with 0-6 random substitutions, insertions, deletions and swaps of
    neighbours, so pairs fall on both sides of 1, 2 and their Levenshtein bounds."""
    alphabet = draw(st.sampled_from(ALPHABETS))
    a = draw(st.text(alphabet, min_size=0, max_size=20))
    b = list(a)
    for _ in range(draw(st.integers(0, 6))):
        kind = draw(st.sampled_from(["sub", "ins", "del", "swap"]))
        i = draw(st.integers(0, max(len(b) - 1, 0)))
        if kind == "sub" and b:
            b[i] = draw(st.sampled_from(alphabet))
        elif kind == "ins":
            b.insert(i, draw(st.sampled_from(alphabet)))
        elif kind == "del" and b:
            del b[i]
        elif kind == "swap" and len(b) > 1:
            i = min(i, len(b) - 2)
            b[i], b[i + 1] = b[i + 1], b[i]
    return a, "".join(b)


def _levels_hold(pairs: list[tuple[str, str]], threshold: int) -> tuple[list, list]:
    dialect = SplinkDialect.from_string("duckdb")
    ours = DamerauLevenshteinWithin("v", threshold).create_sql(dialect)
    splinks = cll.DamerauLevenshteinLevel("v", threshold).create_sql(dialect)
    compared = pa.table({"v_l": [a for a, _ in pairs], "v_r": [b for _, b in pairs]})  # noqa: F841
    rows = duckdb.execute(f"select {ours}, {splinks} from compared").fetchall()
    return [r[0] for r in rows], [r[1] for r in rows]


@settings(max_examples=60, deadline=None)
@given(st.lists(near_pairs(), min_size=1, max_size=40), st.sampled_from([1, 2]))
def test_bounded_level_holds_for_the_same_pairs(pairs, threshold):
    ours, splinks = _levels_hold(pairs, threshold)
    assert ours == splinks


def test_the_bound_is_what_lets_pairs_skip_the_exact_distance():
    """The bound itself (Levenshtein <= 2 x Damerau-Levenshtein) on swaps, where the two
    distances differ most: each swap is 1 of Damerau-Levenshtein and 2 of Levenshtein."""
    pairs = [
        ("440106195507070021", "441006195507070021"),  # one swap
        ("440106195507070021", "441006195570070021"),  # two swaps
        ("440106195507070021", "441006195570070012"),  # three: beyond 2
    ]
    got = [duckdb.execute("select levenshtein($a, $b), damerau_levenshtein($a, $b)",
                       {"a": a, "b": b}).fetchone() for a, b in pairs]  # fmt: skip
    assert got == [(2, 1), (4, 2), (6, 3)]
    assert _levels_hold(pairs, 2)[0] == [True, True, False]


def test_the_model_uses_the_bounded_level_for_ids_and_birth_dates():
    dicts = [c.create_comparison_dict("duckdb") for c in comparisons()]
    levels = {
        d["output_column_name"]: [lv["sql_condition"] for lv in d["comparison_levels"]]
        for d in dicts
    }
    for column, n in (("id_number", 2), ("birth_date", 1)):
        bounded = [s for s in levels[column] if "damerau_levenshtein" in s]
        assert len(bounded) == n and all(s.startswith("(case when levenshtein") for s in bounded)
