"""dbt's warehouse connection runs under the lake jobs' DuckDB memory limit and spills
beside the warehouse (issue 17: a city-sized model spills instead of growing past it)."""

from civlake.settings import load_settings
from civlake.transform import runner

SETTINGS_SQL = "select current_setting('memory_limit') as m, current_setting('temp_directory') as t"
# A sort far larger than 64 MB: it must spill to finish.
SPILLING_SQL = (
    "select count(*) as n from (select i, md5(i::varchar) as h from range(3000000) t(i) order by h)"
)


def _show(settings, sql: str):
    res = runner._invoke(settings, ["show", "--inline", sql])
    assert res.success, res.exception
    return res.result.results[0].agate_table.rows[0]


def test_dbt_connection_has_the_memory_limit_and_spills_beside_the_warehouse(tmp_path):
    settings = load_settings(env={"CIVLAKE_HOME": str(tmp_path), "CIVLAKE_MEMORY_LIMIT": "64MB"})
    limit, spill = _show(settings, SETTINGS_SQL)
    assert limit == "61.0 MiB"  # DuckDB reports 64 MB so
    assert spill == f"{settings.warehouse}.tmp"


def test_a_query_that_spilled_does_not_break_the_next_connection(tmp_path):
    # dbt-duckdb SETs the profile's settings on every cursor it opens; DuckDB refuses to
    # SET temp_directory again once a query spilled there, which failed every model after
    # the first spill (seen on the 10,000,000-person city)
    settings = load_settings(env={"CIVLAKE_HOME": str(tmp_path), "CIVLAKE_MEMORY_LIMIT": "64MB"})
    assert _show(settings, SPILLING_SQL) == (3_000_000,)
    assert _show(settings, SPILLING_SQL) == (3_000_000,)
