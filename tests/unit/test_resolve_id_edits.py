"""Candidates one keystroke from a corrupted ID (civlake.resolve.id_edits), property-tested
against IDs and typos built here from GB 11643, not by civlake."""

from __future__ import annotations

from datetime import date, timedelta

import pandas as pd
from hypothesis import assume, given, settings
from hypothesis import strategies as st

from civlake.resolve.id_edits import candidates
from tests.fixtures.foreign.ids import citizen_id, full_width, id_check, is_valid, legacy_15

AREAS = ["440103", "440104", "440106", "440111", "110101"]


@st.composite
def valid_ids(draw) -> str:
    born = date(1900, 1, 1) + timedelta(days=draw(st.integers(0, 45_000)))
    seq = f"{draw(st.integers(0, 999)):03d}"
    return citizen_id(draw(st.sampled_from(AREAS)), born.strftime("%Y%m%d"), seq)


@st.composite
def typos(draw) -> tuple[str, str]:
    """(true ID, the ID as a clerk typed it): one substitution or adjacent swap anywhere,
    dressed in repairable dirt (full-width digits, spaces, lower-case x)."""
    true = draw(valid_ids())
    kind = draw(st.sampled_from(["substitution", "transposition"]))
    if kind == "substitution":
        i = draw(st.integers(0, 17))
        pool = "0123456789X" if i == 17 else "0123456789"
        char = draw(st.sampled_from([c for c in pool if c != true[i]]))
        typed = true[:i] + char + true[i + 1 :]
    else:
        i = draw(st.sampled_from([k for k in range(17) if true[k] != true[k + 1]]))
        typed = true[:i] + true[i + 1] + true[i] + true[i + 2 :]
    dress = draw(st.sampled_from(["", "full_width", "spaces", "lower"]))
    if dress == "full_width":
        typed = full_width(typed)
    elif dress == "spaces":
        typed = f"{typed[:6]} {typed[6:14]} {typed[14:]}"
    elif dress == "lower":
        typed = typed.lower()
    return true, typed


def _found(ids: list[str], known: list[str]) -> dict[str, set[str]]:
    frame = pd.DataFrame({"ref": [str(i) for i in range(len(ids))], "id_number": ids})
    got = candidates(frame, pd.Series(known))
    out: dict[str, set[str]] = {}
    for ref, cand in zip(got["ref"], got["candidate_id"], strict=True):
        out.setdefault(ids[int(ref)], set()).add(cand)
    return out


@settings(max_examples=80, deadline=None)
@given(typos(), st.lists(valid_ids(), max_size=5))
def test_a_single_typo_finds_the_id_it_was_typed_from(pair, others):
    true, typed = pair
    assert not is_valid(typed.upper().replace(" ", ""))  # GB 11643 catches one keystroke
    found = _found([typed], [true, *others])
    assert true in found.get(typed, set())
    # every candidate is a known valid ID
    assert found[typed] <= {true, *others}


@settings(max_examples=30, deadline=None)
@given(valid_ids(), st.integers(0, 14), st.integers(0, 9))
def test_a_legacy_number_with_a_typo_finds_its_18_digit_id(true, i, digit):
    if not true.startswith("19", 6):
        true = true[:6] + "19" + true[8:17]
        true += id_check(true)
    legacy = legacy_15(true)
    assume(legacy[i] != str(digit))
    typed = legacy[:i] + str(digit) + legacy[i + 1 :]
    body = typed[:6] + "19" + typed[6:]
    upgraded = body + id_check(body)  # what the clean gate keeps for an invalid legacy number
    for delivered in {typed, upgraded}:
        assert true in _found([delivered], [true]).get(delivered, set()), delivered


@settings(max_examples=30, deadline=None)
@given(valid_ids(), st.integers(0, 17))
def test_a_dropped_character_finds_the_id(true, i):
    typed = true[:i] + true[i + 1 :]
    assert true in _found([typed], [true]).get(typed, set())


def test_ids_two_keystrokes_away_are_not_candidates():
    true = citizen_id("440106", "19500305", "011")
    typed = true[:7] + "8" + true[8:12] + "9" + true[13:]  # two substitutions
    assert typed != true and not is_valid(typed)
    assert _found([typed], [true]) == {}


def test_edit_names_the_position_never_the_id():
    true = citizen_id("440106", "19440721", "262")
    typed = true[:11] + "0" + true[12:]  # month 07 typed 00
    got = candidates(pd.DataFrame({"ref": ["a"], "id_number": [typed]}), pd.Series([true]))
    assert got["edit"].tolist() == ["第12位不同"]
    assert true not in got["edit"].iloc[0] and typed not in got["edit"].iloc[0]
