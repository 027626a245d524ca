"""dbt build on a tiny hand-made city: real Delta tables in a temporary lake, a real
DuckDB warehouse, the real project through ``civlake.transform.run_dbt``.

The city (tests/support/small_city.py) is small enough to know every expected number
by reading its rows; each test recomputes what it asserts from those rows' meaning, not
from a snapshot.
"""

from __future__ import annotations

import json
import re
from datetime import date, datetime
from decimal import Decimal

import duckdb
import pyarrow as pa
import pytest
import yaml

from civlake import lake
from civlake.contracts import load_contracts
from civlake.settings import REPO_ROOT, load_settings
from civlake.transform import (
    DbtBuildError,
    dbt_work_dir,
    generate_docs,
    run_dbt,
    source_freshness,
)
from tests.support.small_city import PEOPLE, build_city, citizen_id

pytestmark = pytest.mark.integration


@pytest.fixture(scope="module")
def built(tmp_path_factory):
    root = tmp_path_factory.mktemp("city")
    settings = load_settings(lake=root / "lake", warehouse=root / "warehouse.duckdb",
                             env={"CIVLAKE_HOME": str(root)})  # fmt: skip
    city = build_city()
    city.write(settings.lake)
    result = run_dbt(settings)
    return settings, result, city


@pytest.fixture
def con(built):
    # Per test, so a test that runs dbt again (docs) finds the warehouse free.
    connection = duckdb.connect(str(built[0].warehouse), read_only=True)
    yield connection
    connection.close()


def q(con, sql: str) -> list[tuple]:
    return con.sql(sql).fetchall()


def _project_unit_tests() -> set[str]:
    """Every unit test the project defines (its ``_*unit_tests.yml`` files)."""
    found = set()
    for path in (REPO_ROOT / "dbt" / "models").rglob("_*unit_tests.yml"):
        found |= {t["name"] for t in yaml.safe_load(path.read_text("utf-8"))["unit_tests"]}
    return found


def test_build_succeeds_and_reports_absent_tables(built):
    _, result, _ = built
    assert result["success"]
    names = {r["name"] for r in result["results"] if r["resource_type"] == "model"}
    assert {"dim_person", "dim_division", "mart_low_income", "mart_data_governance"} <= names
    # The pipeline's builds leave the unit tests out; this build (the suite's) runs and
    # passes every one of them.
    unit = {r["name"]: r["status"] for r in result["results"] if r["resource_type"] == "unit_test"}
    assert set(unit) == _project_unit_tests() and len(unit) >= 9
    assert set(unit.values()) == {"pass"}
    # GIVEN a lake without the organisation gate, quarantine and expectation results
    # THEN the build still succeeds and says which tables it read as empty.
    assert {"core/organizations", "quarantine", "expectation_results"} <= set(
        result["absent_tables"]
    )
    assert "silver/divisions" not in result["absent_tables"]


def test_marts_readable_outside_dbt(built, con):
    marts = [
        t
        for (t,) in q(
            con, "select table_name from information_schema.tables where table_schema = 'mart'"
        )
    ]
    assert len(marts) >= 9
    for table in marts:
        con.sql(f'select * from mart."{table}"').fetchall()


def test_dim_division_scd2_and_successors(built, con):
    versions = q(
        con,
        """select division_name, is_current, valid_to from core.dim_division
                         where division_code = '440106001000' order by valid_from""",
    )
    # The 2020 rename closes the old version at the new one's start.
    assert versions == [("石牌镇", False, date(2020, 1, 1)), ("石牌街道", True, None)]
    (row,) = q(
        con,
        """select current_division_code, district_code, is_current
                       from core.dim_division where division_code = '440102001000'""",
    )
    assert row == ("440104001000", "440104000000", False)
    (dongshan,) = q(
        con,
        "select current_division_code from core.dim_division where division_code = '440102000000'",
    )
    assert dongshan == ("440104000000",)


def test_payment_latest_line_and_profile(built, con):
    assert q(
        con, "select payment_status, is_paid from core.fct_payment where payment_id = 'P2'"
    ) == [("returned", False)]
    (profile,) = q(
        con,
        """select is_dibao, is_tekun, is_child_in_difficulty, is_elderly_80, programmes_received
                           from core.person_profile where person_key = 'pk_head'""",
    )
    # Latest paid month is 2026-02, where only CJHL (to another person) was paid.
    assert profile == (True, False, False, False, [])
    (dis,) = q(
        con,
        "select is_tekun, is_disabled, disability_grade, programmes_received from core.person_profile where person_key = 'pk_dis'",
    )
    assert dis == (True, True, "一级", ["CJHL"])
    assert q(
        con,
        "select is_elderly_80, receives_elderly_allowance from core.person_profile where person_key = 'pk_old2'",
    ) == [(True, True)]
    assert q(
        con, "select is_child_in_difficulty from core.person_profile where person_key = 'pk_kid'"
    ) == [(True,)]


def test_assistance_spells(built, con):
    rows = q(
        con,
        """select month, spell_start_month, spell_end_month, is_head
                     from core.fct_assistance_membership where person_key = 'pk_kid' order by month""",
    )
    assert rows == [
        ("2026-01", "2026-01", "2026-02", False),
        ("2026-02", "2026-01", "2026-02", False),
    ]


def test_death_date_priority(built, con):
    assert q(
        con, "select death_date, death_date_source, is_cremated, district_code from core.fct_death"
    ) == [(date(2026, 2, 10), "death_certificates", True, "440106000000")]


def test_low_income_mart(built, con):
    rows = q(
        con,
        """select division_name, assistance_type, households, persons, amount,
                            persons_age_0_17, disabled_persons
                     from mart.mart_low_income where month = '2026-02' order by division_code""",
    )
    assert rows == [("越秀区", "特困", 1, 1, Decimal("1700.00"), 0, 1),
                    ("天河区", "低保", 1, 2, Decimal("2200.00"), 1, 0)]  # fmt: skip


def test_elderly_children_and_other_marts(built, con):
    (row,) = q(
        con,
        """select population_80_plus, allowance_recipients, allowance_coverage_rate
                       from mart.mart_elderly_children where division_code = '440104000000' and month = '2026-02'""",
    )
    assert row == (1, 1, 1.0)
    (tianhe,) = q(
        con,
        """select population_80_plus, allowance_coverage_rate, children_in_difficulty
                          from mart.mart_elderly_children where division_code = '440106000000' and month = '2026-02'""",
    )
    assert tianhe == (1, 0.0, 1)
    (marriage,) = q(
        con,
        "select marriages, median_age_marriage_male, median_age_marriage_female from mart.mart_marriage",
    )
    assert marriage == (1, 35, 33)
    assert q(con, "select deaths, cremations from mart.mart_deaths") == [(1, 1)]
    assert q(
        con,
        "select sum(organizations), sum(organizations_passed), sum(organizations_inspected) from mart.mart_social_organizations",
    ) == [(2, 1, 2)]
    assert q(con, "select donations, amount, amount_anonymous from mart.mart_charity") == [
        (2, Decimal("150.00"), Decimal("50.00"))
    ]
    assert q(con, "select hours, active_volunteers from mart.mart_volunteers") == [
        (Decimal("3.50"), 1)
    ]


def test_governance_mart(built, con):
    _, _, city = built
    rows = dict(
        ((feed, unit, month), rest)
        for feed, unit, month, *rest in q(
            con,
            """
            select feed_id, division_code, month, deliveries_expected, periods_received,
                   deliveries_rejected, rows_declared, quarantine_rate
            from mart.mart_data_governance""",
        )
    )
    # Monthly rosters: one expected and one received each month.
    assert rows[("assistance_recipients", "440106000000", "2026-02")][:2] == [1, 1]
    # Daily death certificates: February has 28 days; one arrived.
    assert rows[("death_certificates", "440100000000", "2026-02")][:2] == [28, 1]
    assert rows[("benefit_payments", "440100000000", "2026-02")][2] == 1
    assert rows[("volunteer_service", "440100000000", "2026-02")][4] == 1.0
    feeds_delivered = {a["feed_id"] for a in city.audit}
    assert {k[0] for k in rows} == feeds_delivered


def test_feed_cadence_matches_contracts():
    sql = (REPO_ROOT / "dbt/models/intermediate/int_feed_cadence.sql").read_text(encoding="utf-8")
    rows = re.findall(r"\('(\w+)', '[^']*', '(\w+)', '([\w/]+)', (true|false)\)", sql)
    listed = {(feed, cadence, modes, flag == "true") for feed, cadence, modes, flag in rows}
    expected = {
        (c.feed_id, c.cadence, "/".join(c.modes), c.on_demand) for c in load_contracts().values()
    }
    assert listed == expected


# 18-character runs not inside a longer token or a decimal fraction; a run counts as a
# citizen ID only with a right check character and a real birth date, so a long float
# such as 0.007653061224489796 is not a false alarm.
_ID_CANDIDATE = re.compile(r"(?<![0-9A-Za-z.])\d{17}[\dXx](?![0-9A-Za-z])")


def looks_like_citizen_id(text: str) -> bool:
    for cand in _ID_CANDIDATE.findall(text):
        body, check = cand[:17], cand[17].upper()
        if citizen_id(body[:6], body[6:14], body[14:17])[-1] != check:
            continue
        try:
            datetime.strptime(body[6:14], "%Y%m%d")
        except ValueError:
            continue
        return True
    return False


_FORBIDDEN_COLUMNS = re.compile(r"(^|_)(id_number|name|person_key|cert_no|volunteer_no|phone)($|_)")


def test_marts_hold_no_id_or_person_name(built, con):
    settings, _, _ = built
    names = set()
    for feed in load_contracts().values():
        for col in feed.columns:
            if col.kind == "name":
                path = lake.table_path(settings.lake, "silver", feed.feed_id)
                table = lake.read_arrow(path, columns=[col.name])
                if table is not None:
                    names |= {v for v in table.column(0).to_pylist() if v}
    assert names, "the city must have person names for this test to mean anything"
    marts = [
        t
        for (t,) in q(
            con, "select table_name from information_schema.tables where table_schema = 'mart'"
        )
    ]
    for table in marts:
        rel = con.sql(f'select * from mart."{table}"')
        for column in rel.columns:
            # Names of divisions, organisations, projects and feeds are not personal;
            # their values are still scanned below.
            if column not in ("division_name", "org_name", "project_name", "feed_title"):
                assert not _FORBIDDEN_COLUMNS.search(column), (
                    f"mart.{table}.{column} looks personal"
                )
        for row in rel.fetchall():
            for value in row:
                text = json.dumps(value, default=str, ensure_ascii=False)
                assert not looks_like_citizen_id(text), f"mart.{table} holds an ID: {text}"
                assert not any(n in text for n in names), (
                    f"mart.{table} holds a person name: {text}"
                )


def test_id_detector_sees_ids_not_fractions():
    assert looks_like_citizen_id(json.dumps({"x": PEOPLE["pk_old"][0]}))
    assert not looks_like_citizen_id(json.dumps(0.007653061224489796))
    real = PEOPLE["pk_old"][0]
    wrong_check = real[:17] + ("0" if real[-1] != "0" else "1")
    assert not looks_like_citizen_id(wrong_check)


def test_failed_model_is_named(tmp_path):
    settings = load_settings(lake=tmp_path / "lake", warehouse=tmp_path / "wh.duckdb",
                             env={"CIVLAKE_HOME": str(tmp_path)})  # fmt: skip
    # GIVEN a silver divisions table written without its lineage columns
    lake.append(lake.table_path(settings.lake, "silver", "divisions"),
                pa.table({"division_code": ["440100000000"], "name": ["广州市"]}))  # fmt: skip
    # WHEN dbt builds staging THEN the error names the model that broke
    with pytest.raises(DbtBuildError, match="stg_divisions"):
        run_dbt(settings, select="stg_divisions")


def test_compare_gate_leaves_the_manifest_to_the_build(tmp_path):
    settings = load_settings(lake=tmp_path / "lake", warehouse=tmp_path / "wh.duckdb",
                             env={"CIVLAKE_HOME": str(tmp_path)})  # fmt: skip
    build_city().write(settings.lake)
    target = dbt_work_dir(settings) / "target"
    # WHEN a build leaves the manifest to a later one and the unit tests to CI (the
    # pipeline's compare gate), on a model that has a unit test
    run_dbt(settings, select="stg_divisions dim_division", write_manifest=False,
            unit_tests=False)  # fmt: skip
    # THEN its results are recorded where dbt records them, no unit test ran, and no
    # manifest is written
    results = json.loads((target / "run_results.json").read_text(encoding="utf-8"))
    ran = {r["unique_id"] for r in results["results"]}
    assert {"model.civlake.stg_divisions", "model.civlake.dim_division"} <= ran
    assert not {u for u in ran if u.startswith("unit_test.")}
    assert all(r["status"] in ("success", "pass") for r in results["results"])
    assert not (target / "manifest.json").exists()
    # WHEN the next build writes it THEN the docs site has the manifest it reads
    result = run_dbt(settings, select="stg_divisions dim_division")
    manifest = json.loads((target / "manifest.json").read_text(encoding="utf-8"))
    assert "model.civlake.stg_divisions" in manifest["nodes"]
    # and by default the unit test of the selected model runs
    assert ("dim_division_scd2_versions_and_successor_chain", "unit_test") in {
        (r["name"], r["resource_type"]) for r in result["results"]
    }


def test_docs_and_freshness(built):
    settings, _, _ = built
    target = generate_docs(settings)
    catalog = json.loads((target / "catalog.json").read_text(encoding="utf-8"))
    assert (target / "index.html").is_file()
    assert "model.civlake.mart_low_income" in catalog["nodes"]
    # No usage events to dbt Labs, from the build or from the docs page it writes.
    manifest = json.loads((target / "manifest.json").read_text(encoding="utf-8"))
    assert manifest["metadata"]["send_anonymous_usage_stats"] is False
    # On two dbt threads the two city-sized verify models never build side by side:
    # together they ran out of one DuckDB memory limit at 10,000,000 persons.
    unclaimed = manifest["nodes"]["model.civlake.int_verify__unclaimed"]
    assert "model.civlake.int_verify__not_in_hukou" in unclaimed["depends_on"]["nodes"]
    statuses = source_freshness(settings)
    # Every silver source with a table has a verdict; the fixture's rows carry a fixed
    # past ingestion time, so the verdict is a staleness level, never a crash.
    assert statuses["silver.divisions"] in ("pass", "warn", "error")
    assert "runtime error" not in statuses.values()


def test_empty_lake_builds_empty_marts(tmp_path):
    # GIVEN a lake where nothing has been ingested yet
    settings = load_settings(
        lake=tmp_path / "lake",
        warehouse=tmp_path / "wh.duckdb",
        env={"CIVLAKE_HOME": str(tmp_path)},
    )
    # WHEN the marts are built THEN they build, empty, and the result names every
    # table that was read as empty.
    result = run_dbt(settings, select="+mart_low_income +mart_data_governance")
    assert {f"silver/{f}" for f in load_contracts()} <= set(result["absent_tables"])
    with duckdb.connect(str(settings.warehouse), read_only=True) as empty:
        for table in ("mart_low_income", "mart_data_governance"):
            assert empty.sql(f"select count(*) from mart.{table}").fetchone() == (0,)
