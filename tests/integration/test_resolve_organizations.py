"""resolve_organizations on real Delta silver tables."""

from __future__ import annotations

import random

import pyarrow as pa
import pytest

from civlake import lake, tables
from civlake.resolve import organizations, resolve_organizations
from civlake.settings import load_settings
from tests.support.synthetic import org_code, org_reference

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


def _random_silver(lake_dir, rng: random.Random) -> None:
    """A registry of 40 and references of every kind: registry codes valid and
    normalised, codes outside it, invalid codes with a registry name, one-typo codes,
    unknown codes and names, nothing at all; lineage with nulls and repeats."""

    registry = [org_code(rng) for _ in range(40)]
    names = {c: f"组织{i}" for i, c in enumerate(registry)}
    outside = [org_code(rng) for _ in range(15)]

    def lineage(i: int) -> dict:
        return {"_delivery_id": rng.choice(["20260101-440100-001", "20260201-440100-001", None]),
                "_source_file": "f.csv", "_source_row": rng.choice([i, rng.randint(0, 30)]),
                "_produced_at": rng.choice(["2026-01-01T02:00:00+08:00", None])}  # fmt: skip

    def ref(i: int, named: bool) -> dict:
        uscc, status, name = org_reference(rng, registry, names, outside)
        row = {"org_uscc": uscc, "org_uscc_status": status, **lineage(i)}
        return {**row, "org_name": name} if named else row

    silver = lambda feed: lake.table_path(lake_dir, "silver", feed)  # noqa: E731
    lake.append(silver("social_organizations"), pa.Table.from_pylist(
        [{"uscc": c, "uscc_status": "valid", "name": names[c], "status": rng.choice(["正常", "注销"]),
          **lineage(i)} for i, c in enumerate(registry * 2)]))  # fmt: skip
    for _ in range(2):  # two files per table: batches cross them
        lake.append(silver("charity_donations"), pa.Table.from_pylist([ref(i, True) for i in range(400)]))  # fmt: skip
        lake.append(silver("volunteer_service"), pa.Table.from_pylist([ref(i, False) for i in range(300)]))  # fmt: skip


@pytest.mark.parametrize("seed", [1, 2])
def test_streamed_equals_the_whole_frame(tmp_path, monkeypatch, seed):
    # GIVEN references of every kind, read in batches smaller than a file
    settings = load_settings(env={"CIVLAKE_HOME": str(tmp_path)})
    _random_silver(settings.lake, random.Random(seed))
    monkeypatch.setattr(organizations, "BATCH_ROWS", 97)
    # WHEN the embedded engine resolves them a batch at a time
    stats = resolve_organizations(settings)
    # THEN it writes what the whole-frame functions (the Spark path's) make, in order
    latest = organizations._latest_registry(settings.lake, lake.DELTA_RS)
    by_uscc = set(latest.column("uscc").to_pylist())
    by_name: dict[str, str] = {}
    for uscc, name in zip(latest["uscc"].to_pylist(), latest["name"].to_pylist(), strict=True):
        by_name.setdefault(organizations.normalize_org_name(name) or "", uscc)
    refs = organizations._resolve_refs(settings.lake, by_uscc, by_name, lake.DELTA_RS)
    outside = organizations._outside(refs, by_uscc)
    assert outside.num_rows > 5 and None in outside.column("name").to_pylist()
    schema = tables.schema(tables.ORGANIZATIONS)
    expected_orgs = (
        pa.concat_tables([schema.empty_table(), latest, outside], promote_options="default")
        .select(schema.names)
        .sort_by("org_key")
    )
    read = lambda name: lake.read_arrow(tables.path(settings.lake, name))  # noqa: E731
    assert read(tables.ORGANIZATIONS).to_pylist() == expected_orgs.to_pylist()
    xref = read(tables.ORG_SOURCE_XREF)
    assert xref.schema == tables.schema(tables.ORG_SOURCE_XREF)
    assert xref.to_pylist() == refs[xref.column_names].to_dict("records")
    assert stats["references"] == len(refs)
    assert stats["match_methods"] == refs["match_method"].value_counts().to_dict()
