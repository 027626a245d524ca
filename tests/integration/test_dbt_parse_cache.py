"""dbt's parsed project shared across homes (civlake.transform.parse_cache): a new home's
first dbt command starts from the parse another home saved, and still builds from its
own lake."""

from __future__ import annotations

import duckdb
import pytest

from civlake.settings import load_settings
from civlake.transform import dbt_work_dir, run_dbt
from tests.support.small_city import build_city

pytestmark = pytest.mark.integration

# What dbt logs before it parses everything: no usable saved parse, or an unreadable one.
FULL_PARSE = ("Unable to do partial parsing", "Failed to load parsed file")
SELECT = "stg_divisions dim_division"


def _home(root, cache):
    return load_settings(env={"CIVLAKE_HOME": str(root), "CIVLAKE_DBT_PARSE_CACHE": str(cache)})


def _parsed_everything(settings) -> bool:
    log = (dbt_work_dir(settings) / "logs" / "dbt.log").read_text(encoding="utf-8")
    return any(line in log for line in FULL_PARSE)


def _divisions(settings) -> int:
    with duckdb.connect(str(settings.warehouse), read_only=True) as con:
        return con.sql("select count(*) from core.dim_division").fetchone()[0]


def test_a_new_home_starts_from_the_parse_another_home_saved(tmp_path):
    cache = tmp_path / "parse-cache"
    # GIVEN a home whose lake holds no divisions, built first: dbt parses everything
    first = _home(tmp_path / "first", cache)
    run_dbt(first, select=SELECT)
    assert _parsed_everything(first)
    assert _divisions(first) == 0
    assert (cache / "default.msgpack").is_file()
    # WHEN another home, elsewhere, with its own lake and warehouse, runs its first command
    second = _home(tmp_path / "elsewhere" / "second", cache)
    build_city().write(second.lake)
    run_dbt(second, select=SELECT)
    # THEN dbt reused the saved parse, and the models read this home's lake
    assert not _parsed_everything(second)
    assert _divisions(second) > 0


def test_a_damaged_cache_costs_a_full_parse_and_is_replaced(tmp_path):
    cache = tmp_path / "parse-cache"
    cache.mkdir()
    (cache / "default.msgpack").write_bytes(b"not a parsed project")
    # GIVEN a damaged cache WHEN a new home runs dbt
    settings = _home(tmp_path / "home", cache)
    build_city().write(settings.lake)
    run_dbt(settings, select=SELECT)
    # THEN dbt parsed everything, built, and saved a parse a next home can use
    assert _parsed_everything(settings)
    assert _divisions(settings) > 0
    saved = (cache / "default.msgpack").read_bytes()
    assert saved != b"not a parsed project"
    assert saved == (dbt_work_dir(settings) / "target" / "partial_parse.msgpack").read_bytes()
