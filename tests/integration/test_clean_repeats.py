"""The gate's carry join (clean/repeats.py) splits each slice as ``carry.carry`` does.

``carry.carry`` joins a delivery with the previous snapshot's silver rows in Arrow, and
``tests/unit/test_clean_carry.py`` checks it against cleaning every row. The gate
instead joins once per run in DuckDB, over the Delta tables, and hands each slice its
range of positions. Here both run on the same random edits between two months
(changed, duplicated and dropped rows, an ID invalid only in P, a division that became
obsolete, a previous snapshot produced later) with D read in random slice sizes: the
carried rows and the rows left to clean must be the same, row for row and in bronze
order.
"""

from __future__ import annotations

from contextlib import ExitStack

import pyarrow as pa
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from civlake import lake
from civlake.clean import lake_io
from civlake.clean.carry import carry
from civlake.clean.frame import clean_delivery
from civlake.clean.repeats import Repeats
from civlake.contracts import get_contract
from civlake.settings import load_settings
from tests.support.bronze import bronze_rows
from tests.unit.test_clean_carry import AFTER, BEFORE, D_AT, FEED, NOW, P_AT, _person

pytestmark = pytest.mark.integration
P_ID, D_ID = "20261101-440100-001", "20261201-440100-001"
FIELDS = ["name", "hukou_division_code", "birth_date", "person_status", "id_number"]
VALUES = ["", "張偉", "440103", "440199", "1990-02-30", "死亡", "440106196001010011",
          "44010619600101001x"]  # fmt: skip


def _lake(home, people, changed, *, p_at, divmap):
    """A lake with P cleaned into silver (next to another delivery's rows) and D in
    bronze; returns (settings, contract, D's bronze rows)."""
    s = load_settings(env={"CIVLAKE_HOME": str(home)})
    contract = get_contract(FEED)
    p = bronze_rows(FEED, people, delivery_id=P_ID, produced_at=p_at)
    other = bronze_rows(FEED, people[:3], delivery_id="20261001-440100-001",
                        produced_at="2026-10-01T02:00:00+08:00")  # fmt: skip
    for rows in (other, p):
        silver = clean_delivery(contract, rows, divmap=BEFORE, now=NOW).silver
        lake.append(lake_io.silver_path(s.lake, FEED), silver)
    d = bronze_rows(FEED, changed, delivery_id=D_ID, produced_at=D_AT)
    lake.append(lake_io.bronze_path(s.lake, FEED), d)
    return s, contract, d


@settings(
    max_examples=12, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(
    edits=st.lists(st.tuples(st.integers(0, 13), st.sampled_from(FIELDS), st.sampled_from(VALUES)),
                   max_size=6),
    duplicate=st.integers(0, 13),
    drop=st.integers(0, 14),
    slice_rows=st.integers(1, 16),
    divmap=st.sampled_from([BEFORE, AFTER]),
    p_later=st.booleans(),
    stored_scrambled=st.booleans(),
)  # fmt: skip
def test_gate_join_splits_each_slice_as_carry_does(
    tmp_path_factory, edits, duplicate, drop, slice_rows, divmap, p_later, stored_scrambled
):
    # GIVEN two months of 14 persons; P holds one row twice, D drops one and edits some
    people = [_person(i, area="440103" if i % 4 == 0 else "440106") for i in range(13)]
    people.append(_person(13, birth="20261115"))  # ID invalid in P: born after P was made
    people.insert(duplicate, dict(people[duplicate]))
    changed = [dict(r) for i, r in enumerate(people) if i != drop]
    for row, field, value in edits:
        changed[row % len(changed)][field] = value
    p_at = "2026-12-15T02:00:00+08:00" if p_later else P_AT
    s, contract, d = _lake(tmp_path_factory.mktemp("lake"), people, changed, p_at=p_at,
                           divmap=divmap)  # fmt: skip
    previous = lake.read_arrow(lake_io.silver_path(s.lake, FEED))
    want = carry(contract, d, previous.filter(pa.compute.equal(previous["_delivery_id"], P_ID)),
                 divmap)  # fmt: skip

    # WHEN the gate's join splits D a slice at a time
    bronze = lake.open_table(lake_io.bronze_path(s.lake, FEED))
    silver = lake.open_table(lake_io.silver_path(s.lake, FEED))
    carried, rest = [], []
    with ExitStack() as stack:
        repeats = Repeats.build(stack, s, contract, bronze, silver, [D_ID], {D_ID: P_ID})
        if stored_scrambled and D_ID in repeats.tables:  # two runs: a repeated row apart
            name = repeats.tables[D_ID]
            repeats.con.execute(
                f"CREATE OR REPLACE TABLE {name} AS SELECT * FROM {name} ORDER BY rowid % 2, pos"
            )
        for piece in lake_io.read_slices(bronze, [D_ID], rows=slice_rows):
            split = repeats.split(D_ID, piece, divmap)
            carried.append(split.silver)
            rest.append(split.rest)

    # THEN the same rows are carried and left to clean, in bronze order
    assert pa.concat_tables(carried).to_pylist() == want.silver.to_pylist()
    assert pa.concat_tables(rest).to_pylist() == want.rest.to_pylist()
    assert (len(want.silver) > 0) != p_later  # nothing from a snapshot produced later
