"""One lake, two writers: tables written by delta-rs are read, appended to, merged into
and deleted from by delta-spark, and the other way round, with every column type civlake
writes, the change data feed, and the real tables the embedded ingest + clean write.

Protocols and table features each side writes are printed in the assertion messages
(run with ``-rA -s`` to see them on success too).
"""

from __future__ import annotations

import json
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, date, datetime
from decimal import Decimal
from pathlib import Path

import pyarrow as pa
import pytest
from deltalake import DeltaTable, write_deltalake
from deltalake.exceptions import DeltaProtocolError

from civlake import lake
from civlake import tables as civlake_tables
from civlake.engine.compat import (
    CDF_PROPERTIES,
    LakeCompatError,
    check_protocol,
    read_protocol,
    spark_frame,
)
from civlake.engine.runtime import on_session
from tests.support.parity import compare_tables

pytestmark = [pytest.mark.integration, pytest.mark.spark]

SPARK_ENGINE = "Apache-Spark/"
RS_ENGINE = "delta-rs:"

# Every column type civlake writes to the lake (CONVENTIONS.md), each with nulls.
SCHEMA = pa.schema(
    [
        ("k", pa.int64()),
        ("s", pa.string()),
        ("f", pa.float64()),
        ("b", pa.bool_()),
        ("amount", pa.decimal128(18, 2)),
        ("day", pa.date32()),
        ("at", pa.timestamp("us", tz="UTC")),
        ("naive", pa.timestamp("us")),
        ("reasons", pa.list_(pa.string())),
    ]
)


def row(k: int, s: str | None = "x", **over) -> dict:
    base = {
        "k": k, "s": s, "f": k + 0.25, "b": k % 2 == 0, "amount": Decimal(f"{k}.05"),
        "day": date(2026, 1, k % 28 + 1), "at": datetime(2026, 3, 1, 8, 0, k, 123456, tzinfo=UTC),
        "naive": datetime(2026, 3, 1, 16, 0, k, 654321), "reasons": [f"R{k}", "中文"],
    }  # fmt: skip
    base.update(over)
    return base


NULL_ROW = {name: None for name in SCHEMA.names} | {"k": 0}


def arrow(rows: list[dict]) -> pa.Table:
    return pa.Table.from_pylist(rows, schema=SCHEMA)


def spark_read(spark, path: Path) -> pa.Table:
    return spark.read.format("delta").load(str(path)).toArrow()


def rs_read(path: Path) -> pa.Table:
    return DeltaTable(str(path)).to_pyarrow_table()


def column_types(table: pa.Table) -> dict[str, str]:
    """Column types as the engines hand them over (list item names folded)."""
    out = {}
    for field in table.schema:
        t = field.type
        out[field.name] = str(pa.list_(t.value_type) if pa.types.is_list(t) else t)
    return out


def by_key(table: pa.Table) -> list[dict]:
    return sorted(table.to_pylist(), key=lambda r: r["k"])


def assert_same(spark_t: pa.Table, rs_t: pa.Table, expected: list[dict], protocol) -> None:
    """Spark and delta-rs read the same types and rows, and the rows are the expected ones."""
    assert column_types(spark_t) == column_types(rs_t) == column_types(arrow([])), protocol
    assert by_key(spark_t) == by_key(rs_t), f"Spark and delta-rs read different rows; {protocol}"
    assert by_key(rs_t) == sorted(expected, key=lambda r: r["k"]), protocol


def spark_merge(spark, path: Path, source: pa.Table) -> None:
    """MERGE on k: update every column of matches, insert the rest (delta-spark)."""
    from delta.tables import DeltaTable as SparkDeltaTable

    (
        SparkDeltaTable.forPath(spark, str(path)).alias("t")
        .merge(spark_frame(spark, source).alias("s"), "t.k = s.k")
        .whenMatchedUpdateAll().whenNotMatchedInsertAll().execute()
    )  # fmt: skip


def rs_merge(path: Path, source: pa.Table) -> None:
    """The same MERGE through delta-rs."""
    (
        DeltaTable(str(path))
        .merge(source, predicate="t.k = s.k", source_alias="s", target_alias="t")
        .when_matched_update_all().when_not_matched_insert_all().execute()
    )  # fmt: skip


def commit_actions(path: Path) -> dict[int, set[str]]:
    """Per commit version: the kinds of actions it holds (add, remove, cdc, ...)."""
    out = {}
    for commit in sorted((path / "_delta_log").glob("*.json")):
        kinds = {next(iter(json.loads(line))) for line in commit.read_text().splitlines()}
        out[int(commit.stem)] = kinds
    return out


def test_delta_rs_table_is_read_appended_merged_and_deleted_by_spark(spark, tmp_path):
    path = tmp_path / "silver" / "t"
    first = [row(1), row(2, s="两"), row(3), NULL_ROW]
    lake.append(path, arrow(first))  # delta-rs, exactly as the embedded engine writes
    created = check_protocol(path)
    assert created.engines == (created.engines[0],) and created.engines[0].startswith(RS_ENGINE)
    assert created.reader_features == {"timestampNtz"}, created
    assert (created.min_reader, created.min_writer) == (3, 7), created
    assert_same(spark_read(spark, path), rs_read(path), first, created)

    on_spark = on_session(spark).lake  # civlake's Spark lake I/O (DeltaSpark)
    on_spark.append(path, arrow([row(4)]))
    spark_merge(spark, path, arrow([row(2, s="更新", f=None), row(5, s="new")]))
    assert on_spark.delete_where(path, "k = 3 or s is null") == 2

    expected = [row(1), row(2, s="更新", f=None), row(4), row(5, s="new")]
    after = check_protocol(path)  # delta-rs still accepts every feature Spark left there
    assert [e.split("/")[0] for e in after.engines[1:]] == ["Apache-Spark"] * 3, after
    assert after.reader_features == created.reader_features, after
    assert_same(spark_read(spark, path), rs_read(path), expected, f"{created} -> {after}")
    # and delta-rs can keep writing after Spark
    lake.append(path, arrow([row(6)]))
    assert_same(spark_read(spark, path), rs_read(path), [*expected, row(6)], read_protocol(path))


def test_spark_table_is_read_appended_merged_and_deleted_by_delta_rs(spark, tmp_path):
    path = tmp_path / "silver" / "t"
    first = [row(1), row(2, s="两"), row(3), NULL_ROW]
    on_spark = on_session(spark).lake
    on_spark.overwrite(path, arrow(first))  # Spark creates the table
    created = check_protocol(path)
    assert created.engines[0].startswith(SPARK_ENGINE), created
    # Spark puts the legacy writer features on the list once it needs writer v7.
    assert created.reader_features == {"timestampNtz"}, created
    assert created.writer_features == {"timestampNtz", "appendOnly", "invariants"}, created
    assert_same(spark_read(spark, path), rs_read(path), first, created)

    lake.append(path, arrow([row(4)]))  # delta-rs from here on
    rs_merge(path, arrow([row(2, s="更新", f=None), row(5, s="new")]))
    assert lake.delete_where(path, "k = 3 or s is null") == 2

    expected = [row(1), row(2, s="更新", f=None), row(4), row(5, s="new")]
    after = check_protocol(path)
    assert [e.split(":")[0] for e in after.engines[1:]] == ["delta-rs"] * 3, after
    assert after.writer_features == created.writer_features, after
    assert_same(spark_read(spark, path), rs_read(path), expected, f"{created} -> {after}")
    on_spark.append(path, arrow([row(6)]))  # and Spark keeps writing after delta-rs
    assert_same(spark_read(spark, path), rs_read(path), [*expected, row(6)], read_protocol(path))


def test_spark_append_keeps_naive_timestamps_naive(spark, tmp_path):
    """Arrow -> Spark without an explicit schema turns timestamp_ntz into timestamp (LTZ):
    the append to a delta-rs table then fails; spark_frame keeps the type."""
    path = tmp_path / "t"
    write_deltalake(str(path), arrow([row(1)]))
    inferred = spark.createDataFrame(arrow([row(2)])).schema["naive"].dataType.typeName()
    kept = spark_frame(spark, arrow([row(2)])).schema["naive"].dataType.typeName()
    assert (inferred, kept) == ("timestamp", "timestamp_ntz")


# ---------------------------------------------------------------- change data feed


def spark_cdf(spark, path: Path) -> list[tuple]:
    df = spark.read.format("delta").option("readChangeFeed", "true").option("startingVersion", 0)
    t = df.load(str(path)).select("_commit_version", "_change_type", "k", "s").toArrow()
    return sorted(tuple(r.values()) for r in t.to_pylist())


def rs_cdf(path: Path) -> list[tuple]:
    t = pa.table(DeltaTable(str(path)).load_cdf(starting_version=0).read_all())
    t = t.select(["_commit_version", "_change_type", "k", "s"])
    return sorted(tuple(r.values()) for r in t.to_pylist())


@pytest.mark.parametrize("creator", ["delta-rs", "spark"])
def test_change_data_feed_from_both_writers_reads_the_same_on_both(spark, tmp_path, creator):
    path = tmp_path / "cdf"
    if creator == "delta-rs":
        write_deltalake(str(path), arrow([row(1), row(2)]), configuration=CDF_PROPERTIES)
    else:
        writer = spark_frame(spark, arrow([row(1), row(2)])).write.format("delta")
        writer.option("delta.enableChangeDataFeed", "true").save(str(path))
    created = check_protocol(path)
    assert "changeDataFeed" in created.writer_features, created
    assert created.configuration == CDF_PROPERTIES, created

    write_deltalake(str(path), arrow([row(3)]), mode="append")  # v1 rs append
    rs_merge(path, arrow([row(1, s="rs-upd"), row(4)]))  # v2 rs merge
    DeltaTable(str(path)).delete("k = 2")  # v3 rs delete
    DeltaTable(str(path)).update(updates={"s": "'rs-set'"}, predicate="k = 3")  # v4 rs update
    spark_frame(spark, arrow([row(5)])).write.format("delta").mode("append").save(str(path))  # v5
    spark_merge(spark, path, arrow([row(4, s="sp-upd"), row(6)]))  # v6 spark merge
    spark.sql(f"DELETE FROM delta.`{path}` WHERE k = 5")  # v7 spark delete
    spark.sql(f"UPDATE delta.`{path}` SET s = 'sp-set' WHERE k = 1")  # v8 spark update
    write_deltalake(str(path), arrow([row(9)]), mode="overwrite")  # v9 rs overwrite

    x = "x"
    expected = sorted(
        [
            (0, "insert", 1, x), (0, "insert", 2, x),
            (1, "insert", 3, x),
            (2, "update_preimage", 1, x), (2, "update_postimage", 1, "rs-upd"), (2, "insert", 4, x),
            (3, "delete", 2, x),
            (4, "update_preimage", 3, x), (4, "update_postimage", 3, "rs-set"),
            (5, "insert", 5, x),
            (6, "update_preimage", 4, x), (6, "update_postimage", 4, "sp-upd"), (6, "insert", 6, x),
            (7, "delete", 5, x),
            (8, "update_preimage", 1, "rs-upd"), (8, "update_postimage", 1, "sp-set"),
            # delta-rs writes no cdc file for an overwrite: both readers derive the
            # deletes from its remove actions and the insert from its add.
            (9, "delete", 1, "sp-set"), (9, "delete", 3, "rs-set"), (9, "delete", 4, "sp-upd"),
            (9, "delete", 6, x), (9, "insert", 9, x),
        ]
    )  # fmt: skip
    actions = commit_actions(path)
    with_cdc = sorted(v for v, kinds in actions.items() if "cdc" in kinds)
    info = f"{creator}-created: {read_protocol(path)}; commits with cdc files {with_cdc}"
    assert spark_cdf(spark, path) == expected, info
    assert rs_cdf(path) == expected, info
    # Which writes carry _change_data files: merge, delete and update on both engines
    # (Spark too for a DELETE that drops a whole file, k = 5 here); appends and delta-rs's
    # overwrite write none: readers take their add/remove actions as the feed.
    assert with_cdc == [2, 3, 4, 6, 7, 8], info


def test_deletion_vectors_are_not_shared(spark, tmp_path):
    """Spark writes deletion vectors when a table enables them; delta-rs 1.6 cannot read
    such a table (but would still append to it), so check_protocol refuses it."""
    path = tmp_path / "dv"
    df = spark_frame(spark, arrow([row(1), row(2), row(3)])).repartition(1)
    df.write.format("delta").option("delta.enableDeletionVectors", "true").save(str(path))
    spark.sql(f"DELETE FROM delta.`{path}` WHERE k = 2")
    protocol = read_protocol(path)
    assert "deletionVectors" in protocol.reader_features, protocol
    with pytest.raises(LakeCompatError, match="deletionVectors"):
        check_protocol(path)
    with pytest.raises(DeltaProtocolError, match="deletionVectors"):
        rs_read(path)


# ---------------------------------------------------------------- real civlake tables


def test_spark_reads_every_table_of_an_embedded_ingest_and_clean(spark, tmp_path):
    from civlake.clean import clean_pending
    from civlake.contracts import load_contracts
    from civlake.generate import generate
    from civlake.ingest import ingest_landing
    from civlake.settings import load_settings

    landing = tmp_path / "landing"
    generate(landing, persons=200, months=1, seed=3)
    settings = load_settings(
        landing=landing, lake=tmp_path / "lake", env={"CIVLAKE_HOME": str(tmp_path)}
    )
    now = datetime(2026, 11, 2, 8, 0, tzinfo=UTC)
    ingest_landing(settings, now=now)
    clean_pending(settings, now=now)

    tables = sorted(p.parent for p in settings.lake.glob("**/_delta_log"))
    names = {str(p.relative_to(settings.lake)) for p in tables}
    # a city delivers every feed but the returned worklists: each has bronze and silver
    feeds = set(load_contracts()) - {civlake_tables.REVIEWS_FEED}
    assert names == {"ingest_audit", "quarantine"} | {
        f"{layer}/{f}" for f in feeds for layer in ("bronze", "silver")
    }, names
    # Spark reads the tables concurrently: each read is a few small jobs (log replay,
    # scan), latency- not CPU-bound, and 28 of them in a row cost minutes on 2 cores.
    with ThreadPoolExecutor(4) as pool:
        spark_tables = dict(
            zip(tables, pool.map(lambda p: spark_read(spark, p), tables), strict=True)
        )
    problems = []
    for path in tables:
        name = str(path.relative_to(settings.lake))
        protocol = check_protocol(path)
        rs_t, spark_t = rs_read(path), spark_tables[path]
        if column_types(spark_t) != column_types(rs_t):
            problems.append(f"{name}: types {column_types(spark_t)} vs {column_types(rs_t)}")
        diff = compare_tables(name, spark_t, rs_t, max_lines=3)
        problems += [f"{d} ({protocol})" for d in diff]
    assert not problems, "\n".join(problems)
