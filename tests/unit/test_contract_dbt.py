"""dbt files generated from the feed contracts (civlake.transform.contract_dbt)."""

from __future__ import annotations

import re
import shutil

import yaml

from civlake.contracts import load_contracts
from civlake.settings import REPO_ROOT
from civlake.tables import silver_schema
from civlake.transform.contract_dbt import render_all, write_all

STAGING_SILVER = REPO_ROOT / "dbt/models/staging/silver"


def test_committed_generated_dbt_files_are_current(tmp_path):
    # The generated dbt files are reviewed in pull requests; they must match the contracts.
    written = write_all(tmp_path)
    assert written
    for path in written:
        rel = path.relative_to(tmp_path)
        committed = REPO_ROOT / rel
        assert committed.is_file(), (
            f"{rel} is missing: run `python -m civlake.transform.contract_dbt`"
        )
        assert committed.read_text("utf-8") == path.read_text("utf-8"), (
            f"{rel} is stale: run `python -m civlake.transform.contract_dbt`"
        )


def test_generated_files_say_they_are_generated():
    for rel, text in render_all().items():
        assert "GENERATED from schemas/*.yaml" in text.splitlines()[0], rel


def test_every_feed_has_a_staging_model_that_selects_its_silver_columns():
    feeds = sorted(load_contracts())
    models = sorted(p.stem.removeprefix("stg_") for p in STAGING_SILVER.glob("stg_*.sql"))
    assert models == feeds
    for feed in feeds:
        sql = (STAGING_SILVER / f"stg_{feed}.sql").read_text("utf-8")
        assert f"source('silver', '{feed}')" in sql
        assert re.search(rf"silver_columns\('{feed}'", sql), feed
        # incremental on DuckDB: only changed deliveries, each row with its lake file
        assert f"silver_changes('{feed}')" in sql and "staged_lake_file()" in sql, feed


def test_sources_list_each_feeds_silver_columns_in_lake_order():
    contracts = load_contracts()
    sources = yaml.safe_load(
        render_all()[STAGING_SILVER.relative_to(REPO_ROOT) / "_silver__sources.yml"]
    )
    (silver,) = sources["sources"]
    tables = {t["name"]: t for t in silver["tables"]}
    assert sorted(tables) == sorted(contracts)
    for feed, table in tables.items():
        assert [c["name"] for c in table["columns"]] == silver_schema(contracts[feed]).names
        assert all(c["description"] for c in table["columns"])
        assert table["meta"]["lake_table"] == f"silver/{feed}"


def test_a_new_contract_reaches_every_generated_file(tmp_path):
    # GIVEN the real contracts plus a 14th feed
    schemas = tmp_path / "schemas"
    shutil.copytree(REPO_ROOT / "schemas", schemas)
    text = (schemas / "volunteer_service.yaml").read_text("utf-8")
    new = text.replace("feed_id: volunteer_service", "feed_id: street_help")
    new = new.replace("cadence: weekly", "cadence: daily")
    (schemas / "street_help.yaml").write_text(new, encoding="utf-8")
    # WHEN the dbt files are rendered from them
    files = render_all(schemas)
    # THEN the feed is a source table, a staging model and a cadence row
    sources = yaml.safe_load(files[STAGING_SILVER.relative_to(REPO_ROOT) / "_silver__sources.yml"])
    table = {t["name"]: t for t in sources["sources"][0]["tables"]}["street_help"]
    assert table["config"]["freshness"]["warn_after"] == {"count": 36, "period": "hour"}
    models = yaml.safe_load(files[STAGING_SILVER.relative_to(REPO_ROOT) / "_silver__models.yml"])
    assert "stg_street_help" in {m["name"] for m in models["models"]}
    cadence = next(text for rel, text in files.items() if rel.suffix == ".sql")
    assert "('street_help', '志愿服务记录', 'daily', 'incremental', false)" in cadence
