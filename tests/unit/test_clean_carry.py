"""Carrying a full snapshot's unchanged rows equals cleaning them again (clean/carry.py).

The oracle is ``clean_delivery`` on the whole later delivery: carried rows plus the rest
cleaned must give exactly its silver and quarantine, including the two rows whose output
changes between months although their delivered values do not (a division code that
became obsolete, a birth date only the later ``produced_at`` makes plausible).
"""

from __future__ import annotations

from datetime import UTC, datetime

import pyarrow as pa
from hypothesis import given, settings
from hypothesis import strategies as st

from civlake.clean.carry import carry, predecessors
from civlake.clean.frame import clean_delivery
from civlake.contracts import get_contract
from civlake.identifiers import id_check_char
from tests.support.bronze import audit_row, bronze_rows

FEED = "hukou_population"
NOW = datetime(2026, 12, 2, 8, 0, tzinfo=UTC)
P_AT, D_AT = "2026-11-01T02:00:00+08:00", "2026-12-01T02:00:00+08:00"
BEFORE = pa.table({"code": ["440106000000", "440103000000"],
                   "current": ["440106000000", "440103000000"]})  # fmt: skip
# 440103 (荔湾) merged into 440106 between the months.
AFTER = pa.table({"code": ["440106000000", "440103000000"],
                  "current": ["440106000000", "440106000000"]})  # fmt: skip
ORDER = [("_source_file", "ascending"), ("_source_row", "ascending")]


def _id(area: str, birth: str, seq: str) -> str:
    body = f"{area}{birth}{seq}"
    return body + id_check_char(body)


def _person(i: int, *, area="440106", birth="19600101", status="正常") -> dict:
    return {
        "id_number": _id(area, birth, f"{i % 1000:03d}"), "name": f"张{'伟芳明'[i % 3]}{i}",
        "sex": "1" if i % 2 else "2", "birth_date": f"{birth[:4]}-{birth[4:6]}-{birth[6:]}",
        "hukou_division_code": area, "person_status": status, "household_no": f"H{i}",
    }  # fmt: skip


def _split_clean(contract, d, previous, divmap):
    split = carry(contract, d, previous, divmap)
    rest = clean_delivery(contract, split.rest, divmap=divmap, now=NOW)
    return split, pa.concat_tables([split.silver, rest.silver]).sort_by(ORDER), rest.quarantine


def test_unchanged_rows_are_carried_and_the_result_equals_cleaning_all():
    contract = get_contract(FEED)
    people = [_person(i) for i in range(30)]
    people.append(_person(30, area="440103"))  # its division becomes obsolete
    people.append(_person(31, birth="20261115"))  # born after P was produced
    people.append({**_person(32), "birth_date": "not a date"})  # quarantined in both
    p = bronze_rows(FEED, people, delivery_id="20261101-440100-001", produced_at=P_AT)
    previous = clean_delivery(contract, p, divmap=BEFORE, now=NOW).silver
    changed = [dict(r) for r in people]
    changed[5]["person_status"] = "死亡"  # a new value: cleaned again
    d = bronze_rows(FEED, changed, delivery_id="20261201-440100-001", produced_at=D_AT,
                    period="2026-11")  # fmt: skip
    whole = clean_delivery(contract, d, divmap=AFTER, now=NOW)
    split, silver, quarantine = _split_clean(contract, d, previous, AFTER)
    assert silver.to_pylist() == whole.silver.sort_by(ORDER).to_pylist()
    assert quarantine.to_pylist() == whole.quarantine.to_pylist()
    carried_rows = set(split.silver["_source_row"].to_pylist())
    # rows 6 (changed), 31 (obsolete division), 32 (ID invalid in P), 33 (quarantined)
    assert carried_rows == set(range(1, 31)) - {6}
    assert set(split.silver["_delivery_id"].to_pylist()) == {"20261201-440100-001"}


def test_nothing_is_carried_from_a_delivery_produced_later():
    contract = get_contract(FEED)
    people = [_person(i) for i in range(5)]
    p = bronze_rows(FEED, people, delivery_id="20261201-440100-001", produced_at=D_AT)
    previous = clean_delivery(contract, p, divmap=BEFORE, now=NOW).silver
    d = bronze_rows(FEED, people, delivery_id="20261101-440100-001", produced_at=P_AT)
    assert len(carry(contract, d, previous, BEFORE).silver) == 0


def test_predecessor_is_the_same_units_latest_cleaned_full_delivery():
    def row(did, unit, at, *, cleaned=True, status="loaded", mode="full"):
        r = audit_row(FEED, did, 3, source_unit=unit, produced_at=at, status=status, mode=mode)
        r["rows_silver"] = 3 if cleaned else None
        return r

    audit = [
        row("a", "440100", "2026-10-01T02:00:00+08:00"),
        row("b", "440100", P_AT),
        row("c", "440106", P_AT),
        row("x", "440100", "2026-11-15T02:00:00+08:00", status="superseded"),
        row("y", "440100", "2026-11-20T02:00:00+08:00", mode="incremental"),
        row("d", "440100", D_AT, cleaned=False),
        row("e", "440106", D_AT, cleaned=False, mode="incremental"),
    ]
    pending = [r for r in audit if r["rows_silver"] is None]
    assert predecessors(audit, pending) == {"d": "b"}


@settings(max_examples=25, deadline=None)
@given(
    edits=st.lists(st.tuples(st.integers(0, 11), st.sampled_from(
        ["name", "hukou_division_code", "birth_date", "person_status", "id_number"])),
        max_size=6),
    values=st.lists(st.sampled_from(
        ["", " ", "張偉", "440103", "440199", "1990-02-30", "19900101", "死亡", "已迁出",
         "440106196001010011", "44010619600101001x", "４４０１０６"]), min_size=6, max_size=6),
    divmap=st.sampled_from([BEFORE, AFTER]),
)  # fmt: skip
def test_any_edit_between_months_gives_what_cleaning_all_gives(edits, values, divmap):
    contract = get_contract(FEED)
    people = [_person(i, area="440103" if i % 4 == 0 else "440106") for i in range(12)]
    p = bronze_rows(FEED, people, delivery_id="20261101-440100-001", produced_at=P_AT)
    previous = clean_delivery(contract, p, divmap=BEFORE, now=NOW).silver
    changed = [dict(r) for r in people]
    for (row, field), value in zip(edits, values, strict=False):
        changed[row][field] = value
    d = bronze_rows(FEED, changed, delivery_id="20261201-440100-001", produced_at=D_AT)
    whole = clean_delivery(contract, d, divmap=divmap, now=NOW)
    _, silver, quarantine = _split_clean(contract, d, previous, divmap)
    assert silver.to_pylist() == whole.silver.sort_by(ORDER).to_pylist()
    assert quarantine.to_pylist() == whole.quarantine.to_pylist()
