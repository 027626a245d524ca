"""One settings object: every variable documented, checked, and read nowhere else."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from civlake.settings import REPO_ROOT, Limits, load_settings, variable_names

ASSIGNMENT = re.compile(r"^#?\s*([A-Z][A-Z0-9_]*)=", re.MULTILINE)


def test_env_example_lists_every_settings_variable_and_nothing_else():
    documented = ASSIGNMENT.findall((REPO_ROOT / ".env.example").read_text(encoding="utf-8"))
    assert len(documented) == len(set(documented)), "a variable is documented twice"
    assert sorted(documented) == sorted(variable_names())


def test_every_variable_is_read_by_load_settings(tmp_path):
    # GIVEN a value for every variable that differs from its default
    env = {
        "CIVLAKE_HOME": str(tmp_path), "CIVLAKE_LANDING": str(tmp_path / "in"),
        "CIVLAKE_LAKE": str(tmp_path / "l"), "CIVLAKE_WAREHOUSE": str(tmp_path / "w.duckdb"),
        "CIVLAKE_PUBLISH": str(tmp_path / "p"), "CIVLAKE_ENGINE": "spark",
        "CIVLAKE_SPARK_MASTER": "spark://head:7077", "CIVLAKE_SPARK_JARS": str(tmp_path / "j"),
        "CIVLAKE_DBT_PARSE_CACHE": str(tmp_path / "dp"),
        "CIVLAKE_SPARK_DRIVER_MEMORY": "1g", "CIVLAKE_SPARK_MAX_RESULT_SIZE": "512m",
        "CIVLAKE_SPARK_SHUFFLE_PARTITIONS": "8", "CIVLAKE_SPARK_LOG_LEVEL": "warn",
        "CIVLAKE_SPARK_EXECUTOR_MEMORY": "2g", "CIVLAKE_SPARK_EXECUTOR_CORES": "1",
        "CIVLAKE_SPARK_CORES_MAX": "2", "CIVLAKE_SPARK_EXECUTOR_TIMEOUT": "60",
        "CIVLAKE_MEMORY_LIMIT": "3GB", "CIVLAKE_EXPECTATIONS_BATCH_ROWS": "1000",
        "CIVLAKE_EXPECTATIONS_WORKERS": "3", "CIVLAKE_RESOLVE_THRESHOLD": "0.9", "CIVLAKE_PERSON_KEY_SECRET": "pk",
        "CIVLAKE_AUDIT_SECRET": "au", "CIVLAKE_AUDIT_CHECKPOINTS": str(tmp_path / "c.jsonl"),
        "CIVLAKE_EXCHANGE_URL": "https://exchange.example", "CIVLAKE_EXCHANGE_TOKEN": "tk",
        "AIRFLOW_CONN_CIVLAKE_EXCHANGE": "http://:pw@x", "CIVLAKE_EXCHANGE_FAULTS": "{}",
        "CIVLAKE_SHARING_SECRET": "ss", "CIVLAKE_PUBLIC_URL": "https://data.example",
    } | {Limits.variable(name): "7" for name in Limits.__dataclass_fields__}  # fmt: skip
    assert set(env) == set(variable_names())
    # WHEN settings are made from them THEN each lands in its field
    s = load_settings(env=env)
    assert (s.home, s.landing, s.lake) == (tmp_path, tmp_path / "in", tmp_path / "l")
    assert (s.warehouse, s.publish) == (tmp_path / "w.duckdb", tmp_path / "p")
    assert s.dbt_parse_cache == tmp_path / "dp"
    assert (s.engine, s.spark_master, s.spark_jars) == (
        "spark",
        "spark://head:7077",
        tmp_path / "j",
    )
    assert (s.spark_driver_memory, s.spark_max_result_size) == ("1g", "512m")
    assert (s.spark_shuffle_partitions, s.spark_log_level) == (8, "WARN")
    assert (s.spark_executor_memory, s.spark_executor_cores, s.spark_cores_max) == ("2g", 1, 2)
    assert s.spark_executor_timeout == 60
    assert s.resolve_threshold == 0.9 and s.memory_limit == "3GB"
    assert s.expectations_batch_rows == 1000 and s.expectations_workers == 3
    assert (s.person_key_secret, s.audit_secret, s.exchange_token) == ("pk", "au", "tk")
    assert s.audit_checkpoints == tmp_path / "c.jsonl"
    assert (s.sharing_secret, s.public_url) == ("ss", "https://data.example")
    assert (s.exchange_url, s.exchange_connection, s.exchange_faults) == (
        "https://exchange.example", "http://:pw@x", "{}",
    )  # fmt: skip
    assert set(vars(s.limits).values()) == {7}


def test_defaults_without_any_variable(tmp_path):
    s = load_settings(env={"CIVLAKE_HOME": str(tmp_path)})
    assert s.landing == tmp_path / "landing" and s.worklists_dir == tmp_path / "worklists"
    assert s.spark_shuffle_partitions is None and s.spark_log_level == "ERROR"
    assert s.spark_executor_memory is s.spark_executor_cores is s.spark_cores_max is None
    assert s.spark_executor_timeout == 300 and s.expectations_batch_rows == 250_000
    assert s.expectations_workers is None  # one per core (expectations/parallel.py)
    assert s.person_key_secret is s.audit_secret is s.exchange_token is None
    assert s.exchange_url is None and s.limits == Limits()


@pytest.mark.parametrize(
    ("name", "value", "allowed"),
    [
        ("CIVLAKE_SPARK_MASTER", "spark//head", "spark://host:7077"),
        ("CIVLAKE_SPARK_DRIVER_MEMORY", "lots", "memory size"),
        ("CIVLAKE_SPARK_SHUFFLE_PARTITIONS", "0", "positive integer"),
        ("CIVLAKE_SPARK_EXECUTOR_MEMORY", "1 GiB", "memory size"),
        ("CIVLAKE_SPARK_CORES_MAX", "all", "positive integer"),
        ("CIVLAKE_EXPECTATIONS_BATCH_ROWS", "0", "positive number of rows"),
        ("CIVLAKE_SPARK_EXECUTOR_TIMEOUT", "0", "seconds"),
        ("CIVLAKE_SPARK_LOG_LEVEL", "LOUD", "WARN"),
        ("CIVLAKE_RESOLVE_THRESHOLD", "1.5", "[0.5, 1)"),
        ("CIVLAKE_EXCHANGE_URL", "exchange.example", "http"),
        ("CIVLAKE_RATE_KEY_BURST", "-3", "positive integer"),
    ],
)
def test_a_bad_value_names_the_variable_the_value_and_what_is_allowed(name, value, allowed):
    with pytest.raises(ValueError) as info:
        load_settings(env={name: value})
    message = str(info.value)
    assert name in message and repr(value) in message and allowed in message


def test_secrets_never_show_in_the_settings_repr(tmp_path):
    s = load_settings(env={"CIVLAKE_HOME": str(tmp_path), "CIVLAKE_PERSON_KEY_SECRET": "pk-123",
                           "CIVLAKE_AUDIT_SECRET": "au-456", "CIVLAKE_EXCHANGE_TOKEN": "tk-789",
                           "AIRFLOW_CONN_CIVLAKE_EXCHANGE": "http://:pw-000@x"})  # fmt: skip
    assert not any(secret in repr(s) for secret in ("pk-123", "au-456", "tk-789", "pw-000"))


def test_no_module_but_settings_reads_a_civlake_variable():
    # os.environ["CIVLAKE_X"], os.environ.get("CIVLAKE_X"), getenv("CIVLAKE_X"), env.get(...);
    # setting one for a child process (env["CIVLAKE_X"] = ...) is not a read.
    read = re.compile(
        r"""(environ|getenv|env)\s*(\.get)?\s*[\[(]\s*f?["']CIVLAKE_\w*["']\s*(?!\]\s*=[^=])"""
    )
    offenders = [
        str(path.relative_to(REPO_ROOT))
        for path in sorted((REPO_ROOT / "jobs").rglob("*.py"))
        if path.name != "settings.py" and read.search(path.read_text(encoding="utf-8"))
    ]
    assert offenders == []


def test_the_audit_secret_of_a_log_comes_through_the_settings(tmp_path, monkeypatch):
    from civlake.serve.audit import secret_for

    monkeypatch.setenv("CIVLAKE_AUDIT_SECRET", "from-the-environment")
    assert secret_for(Path(tmp_path) / "state" / "audit.jsonl") == b"from-the-environment"


@pytest.mark.parametrize("stem", ["warehouse", "广州_1m", "_w", "city-a", "1m", "select", "a b"])
def test_a_warehouse_is_accepted_exactly_when_dbt_duckdb_can_name_it(tmp_path, stem):
    # GIVEN a warehouse file name, and what DuckDB does with the SQL dbt-duckdb writes for
    # it (the file's stem as the database name, unquoted)
    import duckdb

    path = tmp_path / f"{stem}.duckdb"
    try:
        with duckdb.connect(str(path)) as con:
            con.execute(f"create table {stem}.main.t (x int)")
        dbt_can = True
    except duckdb.Error:
        dbt_can = False
    # WHEN settings are made with it THEN it is refused exactly when dbt could not run,
    # with a name that would work
    if dbt_can:
        assert load_settings(env={"CIVLAKE_WAREHOUSE": str(path)}).warehouse == path
    else:
        with pytest.raises(ValueError, match=r"rename it, e\.g\. ") as err:
            load_settings(env={"CIVLAKE_WAREHOUSE": str(path)})
        fixed = str(err.value).rsplit("e.g. ", 1)[1]
        with duckdb.connect(str(tmp_path / fixed)) as con:
            con.execute(f"create table {fixed.removesuffix('.duckdb')}.main.t (x int)")
