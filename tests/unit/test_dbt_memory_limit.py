"""dbt's warehouse connection runs under the lake jobs' DuckDB memory limit and spills to
the state folder (issue 17: a city-sized model spills instead of growing past it)."""

from civlake.settings import load_settings
from civlake.transform import runner


def test_dbt_connection_has_the_memory_limit_and_spill_folder(tmp_path):
    settings = load_settings(env={"CIVLAKE_HOME": str(tmp_path), "CIVLAKE_MEMORY_LIMIT": "300MB"})
    sql = "select current_setting('memory_limit') as m, current_setting('temp_directory') as t"
    res = runner._invoke(settings, ["show", "--inline", sql])
    assert res.success, res.exception
    limit, spill = res.result.results[0].agate_table.rows[0]
    # DuckDB reports 300 MB as 286.1 MiB
    assert limit == "286.1 MiB"
    assert spill == str(settings.state_dir / "duckdb_tmp" / "dbt")
