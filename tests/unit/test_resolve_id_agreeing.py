"""id_link._agreeing as joins decides each pair as the per-person sets of names did."""

from __future__ import annotations

import pandas as pd
from hypothesis import given, settings
from hypothesis import strategies as st

from civlake.identifiers import birth_from_id
from civlake.resolve.id_link import _agreeing

NAMES = st.one_of(st.none(), st.sampled_from(["张伟", "张玮", "李娜"]))
PINYIN = st.one_of(st.none(), st.sampled_from(["zhangwei", "lina"]))
BIRTHS = st.one_of(st.none(), st.sampled_from(["1980-01-01", "1944-06-06", "2001-12-31"]))
# valid birth digits (two dates above, one not among them) and impossible ones (month 13)
IDS = st.sampled_from(["440104198001011234", "440104194406061234", "440104199005051234",
                       "440104198013011234"])  # fmt: skip


def _sets(pairs: pd.DataFrame, left: pd.DataFrame, right: pd.DataFrame) -> list[bool]:
    """The decision written with a set of names, pinyins and birth dates per person."""

    def per_person(frame, column):
        return {
            ref: set(group[column].dropna().astype(str))
            for ref, group in frame.groupby("person_ref")
        }

    names, pinyins = per_person(right, "name_norm"), per_person(right, "name_pinyin")
    mine = {c: per_person(left, c) for c in ("name_norm", "name_pinyin", "birth_date")}
    out = []
    for entity, candidate, candidate_id in pairs[["person_ref", "match", "candidate_id"]].values:
        name = bool(mine["name_norm"][entity] & names[candidate]) or bool(
            mine["name_pinyin"][entity] & pinyins[candidate]
        )
        born = birth_from_id(candidate_id)
        births = mine["birth_date"][entity]
        out.append(name and (not births or (born is not None and str(born) in births)))
    return out


def _profiles(prefix: str, rows: list) -> pd.DataFrame:
    return pd.DataFrame(
        [
            {"person_ref": f"{prefix}{r}", "name_norm": n, "name_pinyin": p, "birth_date": b}
            for r, n, p, b in rows
        ],
        columns=["person_ref", "name_norm", "name_pinyin", "birth_date"],
    )


@settings(max_examples=200, deadline=None)
@given(
    left=st.lists(st.tuples(st.integers(0, 2), NAMES, PINYIN, BIRTHS), min_size=1, max_size=8),
    right=st.lists(st.tuples(st.integers(0, 2), NAMES, PINYIN, BIRTHS), min_size=1, max_size=8),
    picks=st.lists(st.tuples(st.integers(0, 99), st.integers(0, 99), IDS), max_size=10),
)
def test_joins_decide_as_sets(left, right, picks):
    left_frame, right_frame = _profiles("new:", left), _profiles("id:", right)
    entities = sorted(left_frame["person_ref"].unique())
    persons = sorted(right_frame["person_ref"].unique())
    pairs = pd.DataFrame(
        [(entities[a % len(entities)], persons[b % len(persons)], i) for a, b, i in picks],
        columns=["person_ref", "match", "candidate_id"],
        index=[10 * n + 3 for n in range(len(picks))],  # not a range index
    )
    got = _agreeing(pairs, left_frame, right_frame)
    assert list(got.index) == list(pairs.index)
    assert got.tolist() == _sets(pairs, left_frame, right_frame)
