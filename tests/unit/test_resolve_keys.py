from __future__ import annotations

import stat

import pytest

from civlake.resolve.keys import (
    SECRET_ENV,
    SecretError,
    hmac_pads,
    load_secret,
    person_key,
    person_key_spark_sql,
    person_key_sql,
)
from civlake.settings import load_settings


def _settings(home, **env: str):
    return load_settings(env={"CIVLAKE_HOME": str(home), **env})


def test_secret_generated_once_with_owner_only_permissions(tmp_path):
    settings = _settings(tmp_path)
    first = load_secret(settings)
    path = tmp_path / ".secrets" / "person_key.secret"
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert load_secret(settings) == first  # reused, not regenerated
    assert len(first) >= 32


def test_environment_secret_wins_and_writes_nothing(tmp_path):
    secret = load_secret(_settings(tmp_path, **{SECRET_ENV: "city-secret"}))
    assert secret == b"city-secret"
    assert not (tmp_path / ".secrets").exists()


def test_empty_secret_file_is_an_error_that_says_what_to_do(tmp_path):
    (tmp_path / ".secrets").mkdir()
    (tmp_path / ".secrets" / "person_key.secret").write_text("\n")
    with pytest.raises(SecretError, match=r"delete it|restore it"):
        load_secret(_settings(tmp_path))


def test_person_key_is_keyed_stable_and_hides_the_id():
    id_number = "440106199001011234"
    key = person_key(b"a", id_number)
    assert key == person_key(b"a", id_number)
    assert key != person_key(b"b", id_number)
    assert len(key) == 32 and id_number not in key


@pytest.mark.parametrize("secret", [b"a", b"k" * 64, b"long" * 40, bytes(range(256))[:100]])
def test_person_key_in_duckdb_is_the_python_hmac(secret):
    # The streamed resolver keys persons in DuckDB (keys.person_key_sql); every key must
    # be the one keys.person_key gives, for secrets shorter, as long as and longer than
    # SHA-256's block, and for IDs, collapse keys and non-ASCII text.
    import duckdb

    canonical = ["440106199001011234", "11010519491231002X", "new:born:张伟|1990-01-01",
                 "new:key:hukou:户-0001|欧阳·娜娜", "", "x" * 300]  # fmt: skip
    con = duckdb.connect()
    con.execute("create table pads (ipad blob, opad blob)")
    con.execute("insert into pads values ($1, $2)", list(hmac_pads(secret)))
    con.execute("create table refs (c varchar)")
    con.executemany("insert into refs values (?)", [[c] for c in canonical])
    got = dict(con.execute(f"select c, {person_key_sql('c', 'pads')} from refs, pads").fetchall())
    assert got == {c: person_key(secret, c) for c in canonical}


CANONICAL = ["440106199001011234", "11010519491231002X", "new:born:张伟|1990-01-01",
             "new:key:hukou:户-0001|欧阳·娜娜", "", "x" * 300]  # fmt: skip


@pytest.mark.spark
@pytest.mark.parametrize("secret", [b"a", b"k" * 64, b"long" * 40, bytes(range(256))[:100]])
def test_person_key_in_spark_sql_is_the_python_hmac(secret, spark):
    # The Spark resolver keys persons in Spark SQL (keys.person_key_spark_sql): the same
    # keys as keys.person_key, for short, block-sized and long secrets and non-ASCII text.
    from pyspark.sql.types import BinaryType, StringType, StructField, StructType

    inner, outer = hmac_pads(secret)
    pads = spark.createDataFrame(
        [(inner, outer)],
        StructType([StructField("ipad", BinaryType()), StructField("opad", BinaryType())]),
    ).alias("pads")
    refs = spark.createDataFrame([(c,) for c in CANONICAL],
                                 StructType([StructField("c", StringType())]))  # fmt: skip
    rows = refs.crossJoin(pads).selectExpr("c", f"{person_key_spark_sql('c', 'pads')} as k")
    assert {r["c"]: r["k"] for r in rows.collect()} == {c: person_key(secret, c) for c in CANONICAL}
