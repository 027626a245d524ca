"""Issue 10's parity test: one generated city through both engines, every output equal.

The same landing folder goes through ``civlake run`` (embedded: DuckDB + delta-rs) and
``civlake run --engine spark --master local[2]`` (pyspark + delta-spark, dbt-spark), both
through the stable command line (OUTPUTS.md section 6), each into its own home. Then:
every lake table (bronze, silver, quarantine, ingest_audit, core xrefs and golden records,
expectation results) row for row, and every model table (core, verify, mart, publish),
compared with ``tests.support.parity``; any difference fails with the diff.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from civlake.settings import load_settings
from tests.support.parity import compare_engines

pytestmark = [pytest.mark.e2e, pytest.mark.spark]
CIVLAKE = str(Path(sys.executable).with_name("civlake"))
# One secret for both homes: person_key is an HMAC, so it must be the same key.
SECRET = "parity-test-secret-not-for-production"


def _civlake(home: Path, *args: str) -> subprocess.CompletedProcess:
    env = {**os.environ, "CIVLAKE_HOME": str(home), "CIVLAKE_PERSON_KEY_SECRET": SECRET}
    return subprocess.run([CIVLAKE, *args], env=env, capture_output=True, text=True, timeout=2400)


@pytest.fixture(scope="module")
def runs(tmp_path_factory):
    root = tmp_path_factory.mktemp("parity")
    landing = root / "landing"
    gen = _civlake(
        root / "gen", "generate", "--out", str(landing), "--persons", "300", "--months", "2",
        "--seed", "23",
    )  # fmt: skip
    assert gen.returncode == 0, gen.stdout[-2000:] + gen.stderr[-4000:]
    homes = {}
    for engine, extra in (("duckdb", []), ("spark", ["--engine", "spark", "--master", "local[2]"])):
        home = root / engine
        run = _civlake(home, "run", "--landing", str(landing), *extra)
        assert run.returncode == 0, f"{engine}:\n" + run.stdout[-4000:] + run.stderr[-6000:]
        homes[engine] = {"home": home, "out": run.stdout}
    return homes


def _settings(home: Path, engine: str):
    return load_settings(env={"CIVLAKE_HOME": str(home)}, engine=engine)


def test_the_spark_run_says_it_ran_on_spark(runs):
    assert "on spark (local[2])" in runs["spark"]["out"]


def test_every_output_of_both_engines_is_identical(runs):
    diffs = compare_engines(
        _settings(runs["duckdb"]["home"], "duckdb"), _settings(runs["spark"]["home"], "spark")
    )
    assert diffs == [], "engines differ:\n" + "\n".join(diffs)


def test_the_spark_lake_was_written_by_spark(runs):
    import json

    silver = runs["spark"]["home"] / "lake" / "silver" / "hukou_population" / "_delta_log"
    engines = {
        json.loads(line)["commitInfo"].get("engineInfo", "")
        for log in sorted(silver.glob("*.json"))
        for line in log.read_text().splitlines()
        if line.startswith('{"commitInfo"')
    }
    assert engines and all("Apache-Spark" in e for e in engines), engines


def test_the_serving_copy_is_what_the_embedded_warehouse_serves(runs):
    # Analysts, publish, the catalog API and the verification service read the DuckDB
    # warehouse whichever engine built it: the Spark build's serving copy must hold the
    # same tables, with the same column types, as the embedded build.
    from tests.support.parity import CLOCK_COLUMNS, compare_tables, warehouse_tables

    embedded = warehouse_tables(_settings(runs["duckdb"]["home"], "duckdb").warehouse)
    served = warehouse_tables(_settings(runs["spark"]["home"], "spark").warehouse)
    assert sorted(served) == sorted(embedded)
    diffs, types = [], []
    for name, table in embedded.items():
        diffs += compare_tables(name, table, served[name], ignore=CLOCK_COLUMNS)
        theirs = {f.name: f.type for f in served[name].schema}
        types += [
            f"{name}.{f.name}: {f.type} vs {theirs.get(f.name)}"
            for f in table.schema
            if f.name not in CLOCK_COLUMNS and theirs.get(f.name) != f.type
        ]
    assert diffs == [], "serving copy differs:\n" + "\n".join(diffs)
    assert types == [], "serving copy column types differ:\n" + "\n".join(types)
