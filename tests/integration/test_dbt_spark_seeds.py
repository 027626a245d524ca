"""dbt-spark seeds are replaced, not appended to, when the build runs again.

Our Spark tables live at fixed locations; dbt-spark's own seed macros re-create the table
over the old Delta data and insert again, so every rerun doubled ``policy_standards`` and
with it every entitlement. ``dbt/macros/spark_engine.sql`` overrides them.
"""

from __future__ import annotations

import csv

import pytest

from civlake.settings import REPO_ROOT, load_settings
from civlake.transform import read_model, run_dbt

pytestmark = [pytest.mark.integration, pytest.mark.spark]
SEEDS = ("policy_standards", "verify_rules")


def _csv_rows(name: str) -> int:
    with open(REPO_ROOT / "dbt" / "seeds" / f"{name}.csv", encoding="utf-8") as f:
        return sum(1 for _ in csv.DictReader(f))


def test_a_second_build_leaves_each_seed_with_its_csv_rows(spark, tmp_path):
    settings = load_settings(env={"CIVLAKE_HOME": str(tmp_path / "data")}, engine="spark")
    for _ in range(2):
        run_dbt(settings, select=" ".join(SEEDS))
    for name in SEEDS:
        schema = "core" if name == "policy_standards" else "verify"
        assert read_model(settings, schema, name).num_rows == _csv_rows(name), name
