"""Silver staging copies only what changed (dbt/macros/lake_staging.sql), and what it
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


XREF = "stg_person_source_xref person_source_xref"


def _staged_xref(settings) -> list[dict]:
    with duckdb.connect(str(settings.warehouse), read_only=True) as con:
        rel = con.sql(
            "select * exclude (_lake_file) from staging.stg_person_source_xref "
            "order by feed_id, _delivery_id, _source_file, _source_row, role"
        )
        return [dict(zip(rel.columns, row, strict=True)) for row in rel.fetchall()]


def _reader(table: pa.Table) -> pa.RecordBatchReader:
    return pa.RecordBatchReader.from_batches(table.schema, table.to_batches())


def test_the_person_xref_is_staged_by_lake_file_as_the_resolver_changes_it(city):
    settings, root = city
    path = tables.path(settings.lake, tables.PERSON_SOURCE_XREF)
    # GIVEN the xref as the streamed resolver writes it: the provisional references
    # (new_person) in a file of their own, after the others (resolve/persons.py)
    xref = lake.read_arrow(path)
    methods = ["new_person" if i < 3 else m for i, m in enumerate(xref["match_method"].to_pylist())]
    xref = xref.set_column(xref.column_names.index("match_method"), "match_method",
                           pa.array(methods))  # fmt: skip
    provisional = pc.equal(xref["match_method"], "new_person")
    kept, again = xref.filter(pc.invert(provisional)), xref.filter(provisional)
    lake.overwrite_ordered(path, [_reader(kept), _reader(again)], row_group_rows=1000)
    first_files = set(lake.open_table(path).file_uris())
    assert len(first_files) == 2
    run_dbt(settings, select=XREF)
    with duckdb.connect(str(settings.warehouse)) as con:
        con.execute("update staging.stg_person_source_xref set match_detail = 'marked'")
    # WHEN the next run deletes the provisional references and appends its new ones
    # (the same records resolved again, plus a new delivery's) in new files
    lake.delete_where(path, "match_method = 'new_person'")
    assert len(set(lake.open_table(path).file_uris()) & first_files) == 1  # the kept file
    new = kept.slice(0, 2).set_column(
        kept.column_names.index("_delivery_id"), "_delivery_id",
        pa.array(["20260301-440106-001"] * 2),
    )  # fmt: skip
    files = lake.AppendFiles(path, xref.schema)
    for part in (new, again):
        files.next_file()
        files.write(part)
    files.commit()
    run_dbt(settings, select=XREF)
    # THEN staging holds what a full copy of the lake holds ...
    fresh = _settings(root, "fresh.duckdb")
    run_dbt(fresh, select=XREF, full_refresh=True)
    staged = _staged_xref(settings)
    unmarked = [{**r, "match_detail": None} for r in staged]
    assert unmarked == [{**r, "match_detail": None} for r in _staged_xref(fresh)]
    assert len(staged) == kept.num_rows + new.num_rows + again.num_rows
    # ... and only the new files' rows were copied: the kept file's rows still bear the
    # mark, the provisional ones (deleted, then appended again) and the new ones do not
    copied = [r for r in staged if r["match_detail"] != "marked"]
    assert len(copied) == new.num_rows + again.num_rows
    assert {r["match_method"] for r in copied if r["_delivery_id"] != "20260301-440106-001"} == {
        "new_person"
    }
    # AND a build with nothing new copies nothing
    run_dbt(settings, select=XREF)
    assert _staged_xref(settings) == staged
    # AND core.person_source_xref (a view of it on DuckDB) reads from a copy of the
    # warehouse under another name and from the file attached under an alias
    moved = shutil.copy(settings.warehouse, root / "copy.duckdb")
    with duckdb.connect(str(moved), read_only=True) as con:
        assert con.sql("select count(*) from core.person_source_xref").fetchone() == (len(staged),)
    with duckdb.connect() as con:
        con.execute(f"attach '{settings.warehouse}' as elsewhere (read_only)")
        keys = con.sql("select xref_key from elsewhere.core.person_source_xref").fetchall()
    assert sorted(k for (k,) in keys) == sorted(r["xref_key"] for r in staged)
