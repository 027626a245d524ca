"""Every dirt variant of SOURCE_FEEDS.md section 2 is reachable, and dirt never touches
protected rows (planted mismatches, quarantine rows)."""

from __future__ import annotations

from datetime import date

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st

from civlake.generate.build import build_world
from civlake.generate.corrupt import KINDS, corrupt, corrupt_id, is_invalid
from civlake.generate.dirt import _choices, apply, dirty
from civlake.generate.render import render_all
from civlake.generate.table import Table
from tests.fixtures.foreign import ids as oracle

EXPECTED = {
    "id_lowercase_x", "id_fullwidth", "id_spaces", "id_hyphens", "id_apostrophe", "id_15digit",
    "id_typo", "id_bad_birthdate", "id_blank", "id_sci", "name_spaces", "name_traditional",
    "name_remark", "date_compact", "date_slash", "date_dot", "date_chinese", "date_blank",
    "date_excel_serial", "month_compact", "month_chinese", "amount_thousands", "amount_yuan",
    "amount_yen", "amount_one_decimal", "amount_fullwidth", "division_6", "division_9",
    "division_obsolete", "sex_word", "sex_letter", "sex_unknown", "phone_plus86", "phone_spaces",
    "phone_dashes", "phone_landline_compact", "phone_landline_paren", "uscc_lower", "uscc_spaces",
    "uscc_badcheck", "enum_synonym", "enum_space", "enum_fullwidth_space", "enum_qualifier",
}  # fmt: skip


def test_every_dirt_kind_is_reachable():
    world = build_world(400, 2, 3)
    seen: set[str] = set()
    rng = np.random.default_rng(0)
    for d in render_all(world):
        for table, fmt in _tables(d):
            for _ in range(12 if table.n < 200 else 1):
                dirty(table, 1.0, rng, fmt, world.tree.obsolete_for)
            seen |= {k for kinds in table.dirt.values() for k in kinds}
    assert seen >= EXPECTED - {"id_lowercase_x"} or seen >= EXPECTED, sorted(EXPECTED - seen)


def test_minority_dot_variants():
    t = Table("hukou_population", ["name"], {"name": np.array(["阿不都·热合曼"], dtype=object)})
    assert apply(t, "name_dot_variant", "name", 0, np.random.default_rng(1), {})
    assert t.cols["name"][0] in ("阿不都•热合曼", "阿不都.热合曼", "阿不都．热合曼")
    assert t.dirt[0] == ["name_dot_variant"]


def test_protected_rows_stay_clean():
    world = build_world(400, 2, 4)
    for d in render_all(world):
        for table, fmt in _tables(d):
            before = {c: v.copy() for c, v in table.cols.items()}
            dirty(table, 1.0, np.random.default_rng(2), fmt, world.tree.obsolete_for)
            for i in table.protect:
                assert all(before[c][i] == table.cols[c][i] for c in before)


def _tables(d):
    if d.chunks is not None:
        return [(t, "csv") for t in d.chunks()]
    return [(spec.table, spec.fmt) for spec in d.files]


def test_only_all_digit_ids_become_numeric_excel_cells():
    # An ID ending in the check character X cannot be a number in Excel: the XLSX writer
    # crashed on one at 10,000,000 persons ('35010220191005821X').
    table = Table("assistance_recipients", ["member_id_number"], {
        "member_id_number": np.array(["35010220191005821X", "440106195001011234"], dtype=object)
    })  # fmt: skip
    table.id_break_ok.add("member_id_number")
    x_id, digits = (
        _choices(table, "member_id_number", "citizen_id", v, "xlsx", True)
        for v in table.cols["member_id_number"]
    )
    assert "id_sci" not in x_id and "id_blank" in x_id
    assert "id_sci" in digits


# --- corrupted citizen IDs (civlake.generate.corrupt) --------------------------------------
# Checked against GB 11643 as written out in tests/fixtures/foreign/ids.py, not the
# generator's own checker: the product's copy only serves as a second opinion.
_FW_BACK = str.maketrans("０１２３４５６７８９", "0123456789")
_gb11643_check = oracle.id_check


def _normalise(value: str) -> str:
    text = value.translate(_FW_BACK).replace(" ", "").replace("-", "").lstrip("'").upper()
    if len(text) == 15 and text.isdigit():
        body = text[:6] + "19" + text[6:]
        return body + _gb11643_check(body)
    return text


def _gb11643_valid(value: str) -> bool:
    if len(value) != 18 or not value[:17].isdigit() or value[17] not in "0123456789X":
        return False
    if _gb11643_check(value[:17]) != value[17]:
        return False
    try:
        born = date(int(value[6:10]), int(value[10:12]), int(value[12:14]))
    except ValueError:
        return False
    return date(1890, 1, 1) <= born <= date(2026, 11, 30)


def _one_edit(a: str, b: str) -> bool:
    """One substitution or one swap of two adjacent characters."""
    if len(a) != len(b) or a == b:
        return False
    diff = [i for i in range(len(a)) if a[i] != b[i]]
    if len(diff) == 1:
        return True
    i, j = diff[0], diff[-1]
    return len(diff) == 2 and j == i + 1 and a[i] == b[j] and a[j] == b[i]


@st.composite
def _true_ids(draw) -> str:
    area = draw(st.sampled_from(["440106", "440114", "430102", "110105", "350102"]))
    born = draw(st.dates(min_value=date(1920, 1, 1), max_value=date(2026, 10, 31)))
    body = f"{area}{born:%Y%m%d}{draw(st.integers(0, 999)):03d}"
    return body + _gb11643_check(body)


@settings(max_examples=400, deadline=None)
@given(true_id=_true_ids(), seed=st.integers(0, 2**32 - 1), kind=st.sampled_from(KINDS))
def test_each_corruption_is_invalid_and_one_edit_from_the_truth(true_id, seed, kind):
    assert _gb11643_valid(true_id)
    new = corrupt_id(true_id, kind, np.random.default_rng(seed))
    if new is None:  # a 15-digit number exists only for births in the 1900s
        assert kind == "id_15_date" and true_id[6:8] != "19"
        return
    clean = _normalise(new)
    assert not _gb11643_valid(clean), (true_id, kind, new)
    assert is_invalid(clean)  # the generator's own checker agrees
    if kind == "id_15_date":
        assert len(new) == 15 and _one_edit(new, true_id[:6] + true_id[8:17])
        assert _one_edit(clean[:17], true_id[:17])  # after the upgrade (check recomputed)
    else:
        assert _one_edit(clean, true_id), (true_id, kind, new)
    first = next(i for i in range(18) if clean[i] != true_id[i])
    if kind in ("id_date_impossible", "id_date_wrong", "id_15_date"):
        assert first in range(6, 14)
    if kind == "id_digit_typo":
        assert first in (*range(6), 14, 15, 16)
    if kind == "id_check_wrong":
        assert first == 17


@settings(max_examples=200, deadline=None)
@given(true_id=_true_ids(), seed=st.integers(0, 2**32 - 1))
def test_drawn_corruptions_with_repairable_dirt_stay_invalid(true_id, seed):
    """What `corrupt` writes: a kind, sometimes plus full-width/spaces/hyphens/apostrophe."""
    t = Table("benefit_payments", ["id_number"], {"id_number": np.array([true_id], dtype=object)})
    t.id_corrupt_ok = {"id_number"}
    corrupt(t, 1.0, np.random.default_rng(seed), "jsonl")
    value = str(t.cols["id_number"][0])
    clean = _normalise(value)
    assert not _gb11643_valid(clean), (true_id, value)
    if "id_15_date" in t.dirt[0]:
        assert _one_edit(clean[:17], true_id[:17])
    else:
        assert _one_edit(clean, true_id), (true_id, value)
    assert t.dirt[0][0] in KINDS and t.touched == {(0, "id_number")}


def test_impossible_birth_dates_are_impossible():
    rng = np.random.default_rng(5)
    seen = set()
    for _ in range(400):
        new = corrupt_id("440106198512300017", "id_date_impossible", rng)
        ymd = new[6:14]
        y, m = int(ymd[:4]), int(ymd[4:6])
        seen.add("year" if y < 1890 or y > 2026 else "month" if not 1 <= m <= 12 else "day")
        assert y < 1890 or y > 2026 or not _gb11643_valid(new[:17] + _gb11643_check(new[:17]))
    assert seen == {"year", "month", "day"}


def test_corrupt_marks_dirt_keeps_protected_rows_and_certificate_suffix():
    rng = np.random.default_rng(9)
    ids = [f"4401061980010{i % 10}00{i % 10}" for i in range(400)]
    from civlake.identifiers import id_check_char

    ids = [v[:17] + id_check_char(v[:17]) for v in ids]
    t = Table(
        "disability_certs",
        ["cert_no"],
        {"cert_no": np.array([v + "42" for v in ids], dtype=object)},
    )
    t.id_corrupt_ok = {"cert_no"}
    t.protect = {0, 1, 2}
    corrupt(t, 0.5, rng, "csv")
    broken = [i for i, kinds in t.dirt.items() if set(kinds) & set(KINDS)]
    assert len(broken) > 100 and not {0, 1, 2} & set(t.dirt)
    assert "id_15_date" not in {k for kinds in t.dirt.values() for k in kinds}
    apostrophes = [i for i, kinds in t.dirt.items() if kinds == ["cert_apostrophe"]]
    assert apostrophes
    for i in apostrophes:
        assert t.cols["cert_no"][i] == "'" + ids[i] + "42"
    for i in broken:
        text = _normalise(str(t.cols["cert_no"][i]))
        assert len(text) == 20 and text[18:] == "42", t.cols["cert_no"][i]
        assert not _gb11643_valid(text[:18]) and _one_edit(text[:18], ids[i])
    combined = [i for i in broken if len(t.dirt[i]) == 2]
    assert combined and len(combined) < len(broken)


def test_corrupt_leaves_columns_that_may_not_break():
    t = Table("marriage_registrations", ["male_id_number"],
              {"male_id_number": np.array(["11010519491231002X"] * 50, dtype=object)})  # fmt: skip
    corrupt(t, 1.0, np.random.default_rng(1), "csv")
    assert not t.dirt


def test_rendered_roles_that_may_carry_an_invalid_id():
    world = build_world(400, 1, 3)
    cols = {}
    for d in render_all(world):
        for table, _fmt in _tables(d):
            if table.id_corrupt_ok | table.id_break_ok:
                cols[table.feed] = table.id_corrupt_ok | table.id_break_ok
    assert cols == {
        "benefit_payments": {"id_number"},
        "volunteer_service": {"id_number"},
        "disability_certs": {"cert_no"},
        "child_welfare": {"child_id_number", "guardian_id_number"},
        "elderly_allowance": {"id_number"},
    }


def test_namesakes_are_distinct_valid_persons_two_edits_apart():
    from civlake.generate.divisions import build_divisions
    from civlake.generate.population import add_namesakes, build_population

    rng = np.random.default_rng(4)
    pop = build_population(rng, 20_000, build_divisions(rng, 20_000))
    pairs = add_namesakes(pop, np.random.default_rng(8))
    assert len(pairs) == 20 and len(set(pairs.ravel().tolist())) == 40
    assert len(set(pop.id_number.tolist())) == len(pop)  # still unique
    for a, b in pairs.tolist():
        ia, ib = str(pop.id_number[a]), str(pop.id_number[b])
        assert _gb11643_valid(ia) and _gb11643_valid(ib) and ia != ib
        assert pop.uid[a] != pop.uid[b]
        assert pop.name[a] == pop.name[b] and pop.birth[a] == pop.birth[b]
        assert pop.sex[a] == pop.sex[b] and int(ib[16]) % 2 == (pop.sex[b] == "1")
        assert ia[:14] == ib[:14]  # division prefix and birth date
        diff = [i for i in range(18) if ia[i] != ib[i]]
        assert len(diff) == 2 and diff[0] in (14, 15, 16) and diff[1] == 17
        assert ib[6:14] == str(pop.birth[b]).replace("-", "")


def test_world_namesakes_are_left_alone_by_planted_cases():
    world = build_world(2000, 1, 6)
    p = world.pop
    assert len(world.namesakes) == 2
    for a, b in world.namesakes.tolist():
        assert p.name[a] == p.name[b] and p.birth[a] == p.birth[b]
        assert _gb11643_valid(str(p.id_number[a])) and _gb11643_valid(str(p.id_number[b]))
        assert str(p.id_number[a])[:14] == str(p.id_number[b])[:14]
