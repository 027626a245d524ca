"""Silver staging copies only what changed (dbt/macros/silver_staging.sql), and what it
holds is what a full copy would hold.

The small hand-made city (tests/support/small_city.py) is written to a real lake and
its silver staging models are built by the real project on DuckDB. Then silver changes
the ways the pipeline changes it: a new delivery appended, a delivery removed (crash
repair), a delivery's rows replaced by as many different rows (a re-clean), and a
contract's new column. A second, incremental build must hold exactly what a full
refresh of the same lake holds; and a delivery whose lake files did not change is not
copied again.
"""

from __future__ import annotations

import shutil

import duckdb
import pyarrow as pa
import pyarrow.compute as pc
import pytest

from civlake import lake, tables
from civlake.settings import load_settings
from civlake.transform import run_dbt
from tests.support.small_city import build_city

pytestmark = pytest.mark.integration

SILVER = "path:models/staging/silver"
ORDER = "_delivery_id, _source_file, _source_row"


def _settings(root, warehouse="warehouse.duckdb"):
    return load_settings(
        lake=root / "lake", warehouse=root / warehouse, env={"CIVLAKE_HOME": str(root)}
    )


def _staged(settings, feed: str) -> list[tuple]:
    with duckdb.connect(str(settings.warehouse), read_only=True) as con:
        return con.sql(f"select * from staging.stg_{feed} order by {ORDER}").fetchall()


def _silver(settings, feed: str) -> pa.Table:
    return lake.read_arrow(tables.path(settings.lake, tables.silver(feed)))


def _full_refresh(settings, root) -> object:
    """The same lake built from nothing into a second warehouse."""
    fresh = _settings(root, "fresh.duckdb")
    run_dbt(fresh, select=SILVER, full_refresh=True)
    return fresh


@pytest.fixture
def city(tmp_path):
    settings = _settings(tmp_path)
    build_city().write(settings.lake)
    run_dbt(settings, select=SILVER)
    return settings, tmp_path


def test_incremental_build_equals_a_full_copy_after_every_kind_of_change(city):
    settings, root = city
    path = lambda feed: tables.path(settings.lake, tables.silver(feed))  # noqa: E731
    # GIVEN a staged lake, THEN silver changes:
    # a new delivery of cremation records (its own file) ...
    cremations = _silver(settings, "cremation_records")
    new = cremations.set_column(
        cremations.column_names.index("_delivery_id"), "_delivery_id",
        pa.array(["20260213-440106-001"] * len(cremations)),
    )  # fmt: skip
    lake.append(path("cremation_records"), new)
    # ... one of the two assistance deliveries removed (a crash repair) ...
    assistance = _silver(settings, "assistance_recipients")
    gone, kept = sorted(set(assistance["_delivery_id"].to_pylist()))[:2]
    assert lake.merge_delete(path("assistance_recipients"), {"_delivery_id": gone}) > 0
    # ... a payments delivery re-cleaned into as many rows with another amount ...
    payments = _silver(settings, "benefit_payments")
    redone = sorted(set(payments["_delivery_id"].to_pylist()))[0]
    rows = payments.filter(pc.equal(payments["_delivery_id"], redone))
    rows = rows.set_column(
        rows.column_names.index("amount"),
        "amount",
        pc.add(rows["amount"], 1).cast(rows.schema.field("amount").type),
    )
    lake.merge_delete(path("benefit_payments"), {"_delivery_id": redone})
    lake.append(path("benefit_payments"), rows)
    # ... and a column silver did not have before (older rows read it as NULL)
    division = _silver(settings, "divisions").slice(0, 1)
    division = division.set_column(
        division.column_names.index("_delivery_id"),
        "_delivery_id",
        pa.array(["20260301-440100-001"]),
    ).append_column("renamed_from", pa.array(["旧名"], pa.string()))
    lake.append(path("divisions"), division)
    # WHEN staging is built again, incrementally
    run_dbt(settings, select=SILVER)
    # THEN every silver staging table holds what a full copy of the lake holds
    fresh = _full_refresh(settings, root)
    feeds = sorted(p.name for p in (settings.lake / "silver").iterdir())
    for feed in feeds:
        assert _staged(settings, feed) == _staged(fresh, feed), feed
    with duckdb.connect(str(settings.warehouse), read_only=True) as con:
        staged = {
            r[0]
            for r in con.sql(
                "select _delivery_id from staging.stg_assistance_recipients"
            ).fetchall()
        }
    assert gone not in staged and kept in staged
    assert len(_staged(settings, "cremation_records")) == 2 * len(cremations)


def test_a_delivery_whose_files_did_not_change_is_not_copied_again(city):
    settings, _ = city
    feed = "cremation_records"
    (delivery,) = set(_silver(settings, feed)["_delivery_id"].to_pylist())
    # GIVEN a mark written into the staged rows of the delivery (a copy would undo it)
    with duckdb.connect(str(settings.warehouse)) as con:
        con.execute(f"update staging.stg_{feed} set _source_file = 'marked'")
    # WHEN another delivery arrives in its own file and staging is built again
    later = _silver(settings, feed)
    later = later.set_column(
        later.column_names.index("_delivery_id"), "_delivery_id",
        pa.array(["20260213-440106-001"] * len(later)),
    )  # fmt: skip
    lake.append(tables.path(settings.lake, tables.silver(feed)), later)
    run_dbt(settings, select=SILVER)
    # THEN the first delivery's rows were left as they were, the new one's copied
    rows = _staged(settings, feed)
    with duckdb.connect(str(settings.warehouse), read_only=True) as con:
        files = dict(
            con.sql(
                f"select _delivery_id, any_value(_source_file) from staging.stg_{feed} group by 1"
            ).fetchall()
        )
    assert files == {delivery: "marked", "20260213-440106-001": f"{feed}.csv"}
    assert len(rows) == 2 * len(later)
    # AND a build with nothing new copies nothing: the mark is still there
    run_dbt(settings, select=SILVER)
    assert _staged(settings, feed) == rows


def test_a_home_moved_elsewhere_keeps_its_staged_rows(city, tmp_path):
    settings, _ = city
    feed = "hukou_population"
    with duckdb.connect(str(settings.warehouse)) as con:
        con.execute(f"update staging.stg_{feed} set _source_file = 'marked'")
    # GIVEN the home copied to another folder (every lake file keeps its name)
    moved = tmp_path / "moved"
    shutil.copytree(settings.lake, moved / "lake")
    shutil.copy(settings.warehouse, moved / "warehouse.duckdb")
    there = _settings(moved)
    before = _staged(there, feed)
    # WHEN staging is built there, THEN nothing is copied again (the mark stays)
    run_dbt(there, select=SILVER)
    assert _staged(there, feed) == before
    with duckdb.connect(str(there.warehouse), read_only=True) as con:
        assert con.sql(f"select distinct _source_file from staging.stg_{feed}").fetchall() == [
            ("marked",)
        ]


def test_a_staging_table_from_before_lake_files_is_copied_whole_once(city):
    settings, root = city
    feed = "benefit_payments"
    # GIVEN a staging table as an earlier civlake built it (no _lake_file)
    with duckdb.connect(str(settings.warehouse)) as con:
        con.execute(f"alter table staging.stg_{feed} drop column _lake_file")
    # WHEN staging is built, THEN it holds what a full copy holds
    run_dbt(settings, select=SILVER)
    assert _staged(settings, feed) == _staged(_full_refresh(settings, root), feed)
