"""Person references read from silver: roles per contract, comparison forms."""

from __future__ import annotations

from datetime import date

import pyarrow as pa

from civlake import lake
from civlake.lake import DELTA_RS
from civlake.resolve.references import read_references
from tests.support.synthetic import make_id

LINEAGE = {"_source_file": "f.csv", "_produced_at": "2026-02-01T02:00:00+08:00",
           "_delivery_id": "20260201-440100-001"}  # fmt: skip


def test_one_reference_per_role_with_folded_names_and_id_birth_dates(tmp_path):
    import random

    groom = make_id(random.Random(1), date(1990, 1, 2), male=True)
    lake.append(
        lake.table_path(tmp_path, "silver", "marriage_registrations"),
        pa.Table.from_pylist([{
            "male_id_number": groom, "male_id_number_status": "valid", "male_name": "張 偉",
            "male_birth_date": None, "female_id_number": None,
            "female_id_number_status": "missing", "female_name": "艾力·买买提",
            "female_birth_date": date(1992, 3, 4), "_source_row": 1, **LINEAGE}]),
    )  # fmt: skip
    lake.append(
        lake.table_path(tmp_path, "silver", "child_welfare"),
        pa.Table.from_pylist([{
            "child_id_number": None, "child_id_number_status": "missing", "child_name": "王小",
            "birth_date": date(2015, 1, 1), "guardian_id_number": None,
            "guardian_id_number_status": "missing", "guardian_name": None,
            "division_code": "440106011001", "_source_row": 1, **LINEAGE}]),
    )  # fmt: skip
    refs = read_references(tmp_path, io=DELTA_RS).set_index(["feed_id", "role"])
    assert len(refs) == 3  # the guardian names nobody: no reference
    male = refs.loc[("marriage_registrations", "male")]
    assert male["name_norm"] == "张伟" and male["name_pinyin"] == "zhangwei"
    assert male["birth_date"] == date(1990, 1, 2)  # from the ID's digits
    female = refs.loc[("marriage_registrations", "female")]
    assert female["id_status"] == "missing" and female["birth_date"] == date(1992, 3, 4)
    child = refs.loc[("child_welfare", "child")]
    assert child["division"] == "440106011001"


def test_stable_keys_are_scoped_by_feed_and_missing_status_is_derived(tmp_path):
    lake.append(
        lake.table_path(tmp_path, "silver", "volunteer_service"),
        pa.Table.from_pylist([
            {"id_number": "440106199001011235", "name": "李娜", "volunteer_no": "V1",
             "_source_row": 1, **LINEAGE},
        ]),
    )  # fmt: skip
    (ref,) = read_references(tmp_path, io=DELTA_RS).to_dict("records")
    assert ref["stable_key"] == "volunteer_service:V1"
    assert ref["id_status"] in ("valid", "invalid")  # derived from the check character
