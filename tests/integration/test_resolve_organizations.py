"""resolve_organizations on real Delta silver tables."""

from __future__ import annotations

import pyarrow as pa
import pytest

from civlake import lake
from civlake.resolve import resolve_organizations
from civlake.settings import load_settings

pytestmark = pytest.mark.integration
USCC_A = "51440100MJ0000001A"
USCC_B = "51440100MJ0000002B"


def _lineage(delivery: str, row: int) -> dict:
    return {"_delivery_id": delivery, "_source_file": "f.csv", "_source_row": row,
            "_produced_at": f"{delivery[:4]}-{delivery[4:6]}-{delivery[6:8]}T02:00:00+08:00"}  # fmt: skip


def test_registry_latest_wins_and_bad_codes_resolve_by_name_or_one_typo(tmp_path):
    settings = load_settings(env={"CIVLAKE_HOME": str(tmp_path)})
    silver = lambda feed: lake.table_path(settings.lake, "silver", feed)  # noqa: E731
    lake.append(silver("social_organizations"), pa.Table.from_pylist([
        {"uscc": USCC_A, "uscc_status": "valid", "name": "广州市助老协会", "status": "正常",
         **_lineage("20260101-440100-001", 1)},
        {"uscc": USCC_A, "uscc_status": "valid", "name": "广州市助老协会", "status": "注销",
         **_lineage("20260201-440100-001", 1)},
        {"uscc": USCC_B, "uscc_status": "valid", "name": "广州市慈善会", "status": "正常",
         **_lineage("20260201-440100-001", 2)},
    ]))  # fmt: skip
    lake.append(silver("charity_donations"), pa.Table.from_pylist([
        {"org_uscc": USCC_B, "org_uscc_status": "valid", "org_name": "广州市慈善会",
         **_lineage("20260205-440100-001", 1)},
        {"org_uscc": "51440100MJ000000ZZ", "org_uscc_status": "invalid",
         "org_name": "广州市 慈善会", **_lineage("20260205-440100-001", 2)},
        {"org_uscc": "91440101XXXXXXXXX1", "org_uscc_status": "invalid",
         "org_name": "某某公益基金", **_lineage("20260205-440100-001", 3)},
    ]))  # fmt: skip
    typo = USCC_A[:10] + USCC_A[11] + USCC_A[10] + USCC_A[12:]  # two digits swapped
    lake.append(silver("volunteer_service"), pa.Table.from_pylist([
        {"org_uscc": typo, "org_uscc_status": "invalid", **_lineage("20260206-440100-001", 1)},
        {"org_uscc": None, "org_uscc_status": "missing", **_lineage("20260206-440100-001", 2)},
    ]))  # fmt: skip

    stats = resolve_organizations(settings)

    orgs = {o["org_key"]: o for o in lake.read_arrow(
        lake.table_path(settings.lake, "core", "organizations")).to_pylist()}  # fmt: skip
    assert orgs[USCC_A]["status"] == "注销" and orgs[USCC_A]["in_registry"]
    outside = [o for o in orgs.values() if not o["in_registry"]]
    assert [o["name"] for o in outside] == ["某某公益基金"]
    xref = lake.read_arrow(lake.table_path(settings.lake, "core", "org_source_xref")).to_pylist()
    by_row = {(x["feed_id"], x["_source_row"]): x for x in xref}
    assert by_row[("charity_donations", 1)]["match_method"] == "uscc_exact"
    assert by_row[("charity_donations", 2)]["org_uscc"] == USCC_B
    assert by_row[("charity_donations", 2)]["match_method"] == "name_exact"
    assert by_row[("charity_donations", 3)]["match_method"] == "new_org"
    assert by_row[("volunteer_service", 1)]["org_uscc"] == USCC_A
    assert ("volunteer_service", 2) not in by_row  # names no organisation
    assert stats["organizations"] == 3 and stats["references"] == 4


def test_empty_lake_writes_typed_empty_tables(tmp_path):
    settings = load_settings(env={"CIVLAKE_HOME": str(tmp_path)})
    assert resolve_organizations(settings)["organizations"] == 0
    orgs = lake.read_arrow(lake.table_path(settings.lake, "core", "organizations"))
    assert orgs.num_rows == 0 and orgs.schema.field("uscc").type == pa.string()
