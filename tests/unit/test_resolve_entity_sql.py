"""The incremental resolver's entity key in SQL is ``linkage.entity_refs``' collapse key."""

from __future__ import annotations

from datetime import date

import duckdb
import pandas as pd
from hypothesis import given, settings
from hypothesis import strategies as st

from civlake.resolve import linkage
from civlake.resolve.incremental import ENTITY_SQL

_text = st.one_of(st.none(), st.just(""), st.text("张伟李1X |:", min_size=1, max_size=4))
_row = st.fixed_dictionaries(
    {
        "feed_id": st.sampled_from(["hukou_population", "benefit_payments"]),
        "_delivery_id": st.just("20260201-440100-001"),
        "_source_file": st.just("f.csv"),
        "_source_row": st.integers(1, 9),
        "role": st.just("recipient"),
        "id_status": st.sampled_from(["invalid", "missing"]),
        "id_number": _text,
        "name_norm": _text,
        "stable_key": _text,
        "birth_date": st.one_of(st.none(), st.dates(date(1900, 1, 1), date(2026, 12, 31))),
    }
)


@settings(max_examples=300, deadline=None)
@given(st.lists(_row, min_size=1, max_size=20))
def test_entity_sql_is_the_python_collapse_key(rows):
    frame = pd.DataFrame(rows)
    python = linkage.entity_refs(frame)
    # entity_refs keys a reference nothing else can share by its lineage ('row:'): SQL
    # leaves those null, since no other reference can carry them.
    expected = [None if k.startswith("row:") else k for k in python]
    con = duckdb.connect()
    con.register("refs", frame)
    got = [r[0] for r in con.execute(f"select {ENTITY_SQL} from refs").fetchall()]
    assert got == expected
