"""``known.DuckKnown`` on Spark: the known persons' profiles stay on the executors.

``SparkKnown`` keeps the profiles of every reference with a usable ID as a cached Spark
DataFrame (``known``, one row per distinct profile, ``first`` its first reference's
``ord``) and answers ``persons.link_unresolved``'s questions as ``DuckKnown`` does, with
the same selections, so Splink sees the same frames on both engines:

* ``candidates(left)``: the known profiles sharing a blocking rule's key with a left
  profile (the left keys go to the executors, a semi-join per rule), and every profile
  of the persons whose ID is one edit from a left ID (the ~200 neighbours of each left
  ID are spelled out on the driver by ``id_edits``, then semi-joined on the executors);
* ``training(config)``: every profile up to ``LinkageConfig.train_known_max``, else the
  persons with the smallest md5 (DuckDB's ``md5_number_upper``, computed in Spark SQL);
* ``name_frequencies``: counts over the whole city, looked up for the names in play.

What reaches the driver: the candidates of one part of the left (``score_entities``
entities), the capped training sample and the name counts of the names in play;
``collect`` brings each in batches that stay under ``spark.driver.maxResultSize``.
"""

from __future__ import annotations

import itertools
from collections.abc import Iterator

import pandas as pd
import pyarrow as pa

from civlake.engine.compat import spark_frame
from civlake.resolve import id_edits, id_link, linkage
from civlake.resolve.known import _KEY_SQL, SOURCE, name_shares, names_in_play, rule_columns
from civlake.resolve.reference_sql import RESOLVABLE_SQL
from civlake.resolve.spark_refs import spark_sql

# What one collected row may cost, serialized (a profile is ~150 bytes; a reference
# ~300): a batch is a quarter of maxResultSize at this size.
ROW_BYTES = 1_024

# DuckDB's md5_number_upper: the first 8 bytes of the MD5 digest, little-endian.
_MD5_UPPER = (
    "cast(conv(concat("
    + ", ".join(f"substr(md5(k.person_ref), {i}, 2)" for i in range(15, 0, -2))
    + "), 16, 10) as decimal(20, 0))"
)


def max_result_bytes(spark) -> int:
    """``spark.driver.maxResultSize`` in bytes (0: no limit)."""
    size = spark.sparkContext.getConf().get("spark.driver.maxResultSize", "1g")
    jvm = spark.sparkContext._jvm
    return int(jvm.org.apache.spark.network.util.JavaUtils.byteStringAsBytes(size))


def collect(df, order: str, *, row_bytes: int = ROW_BYTES) -> pd.DataFrame:
    """``df`` in pandas, sorted by the integer column ``order`` (unique), collected a
    range of ``order`` at a time so that no one result exceeds a quarter of
    ``spark.driver.maxResultSize``."""
    spark = df.sparkSession
    limit = max_result_bytes(spark)
    df = df.persist()
    try:
        rows = df.count()
        batch = max(1, limit // 4 // row_bytes) if limit else rows or 1
        if rows <= batch:
            parts = [df.orderBy(order).toArrow()]
        else:
            probs = [i / -(-rows // batch) for i in range(1, -(-rows // batch))]
            cuts = sorted(set(df.approxQuantile(order, probs, 1 / (4 * -(-rows // batch)))))
            bounds = [None, *cuts, None]
            parts = []
            for lo, hi in itertools.pairwise(bounds):
                part = df
                if lo is not None:
                    part = part.where(f"`{order}` >= {int(lo)}")
                if hi is not None:
                    part = part.where(f"`{order}` < {int(hi)}")
                parts.append(part.orderBy(order).toArrow())
        table = pa.concat_tables(parts) if parts else None
        return table.to_pandas(date_as_object=True)
    finally:
        df.unpersist()


class SparkKnown:
    """The known profiles of ``refs`` (the references ``spark_refs.load`` wrote)."""

    def __init__(self, spark, refs):
        self.spark = spark
        self.known = spark_sql_df(
            spark,
            refs,
            f"""
            select 'id:' || id_number as person_ref, {", ".join(SOURCE)}, min(ord) as first
            from __refs__ where id_status in ({RESOLVABLE_SQL})
            group by {", ".join(["'id:' || id_number", *SOURCE])}
            """,
        ).persist()
        row = self.known.selectExpr("count(*)", "count(distinct person_ref)").first()
        self.rows, self.persons = int(row[0]), int(row[1])
        # One vote per person and name (linkage.name_frequencies), over the whole city.
        self.known_names = (
            self.known.where("name_norm <> ''")
            .select("person_ref", "name_norm")
            .distinct()
            .groupBy("name_norm")
            .count()
            .withColumnRenamed("count", "n")
            .persist()
        )
        named = self.known_names.selectExpr("coalesce(sum(n), 0)").first()[0]
        self.named = int(named)

    def close(self) -> None:
        self.known.unpersist()
        self.known_names.unpersist()

    def _profiles(self, rows) -> pd.DataFrame:
        """``linkage.profiles`` of the known ``rows`` (a selection of ``known``), in
        first-reference order (as ``drop_duplicates`` over the references keeps them)."""
        frame = collect(rows.select("person_ref", *SOURCE, "first"), "first")
        return linkage.profiles(frame, frame["person_ref"])

    def parts(self, left: pd.DataFrame, config: linkage.LinkageConfig) -> Iterator[pd.DataFrame]:
        """As ``DuckKnown.parts``: ``config.score_entities`` entities at a time."""
        entities = left["person_ref"].unique()
        for start in range(0, len(entities), config.score_entities):
            yield left[left["person_ref"].isin(entities[start : start + config.score_entities])]

    def candidates(self, left: pd.DataFrame) -> pd.DataFrame:
        """As ``DuckKnown.candidates``: a semi-join per blocking rule, and the persons
        whose ID is one edit from a left ID."""
        from pyspark.sql import functions as F

        keys = sorted({c for columns in rule_columns() for c in columns})
        schema = pa.schema([(k, pa.string()) for k in keys])
        left_keys = spark_frame(
            self.spark, pa.Table.from_pandas(left[keys].astype(object), schema=schema,
                                             preserve_index=False)
        ).alias("l")  # fmt: skip
        known = self.known.alias("k")
        hits = [
            known.join(
                left_keys,
                F.expr(" and ".join(f"l.{c} = {spark_sql(_KEY_SQL[c])}" for c in columns)),
                "left_semi",
            ).select("first")
            for columns in rule_columns()
        ]
        neighbours = self._edit_candidates(left)
        if neighbours is not None:
            hits.append(
                known.join(neighbours, F.col("k.id_number") == F.col("candidate_id"), "left_semi")
                .select("first")
            )  # fmt: skip
        chosen = hits[0]
        for hit in hits[1:]:
            chosen = chosen.union(hit)
        return self._profiles(self.known.join(chosen.distinct(), "first", "left_semi"))

    def _edit_candidates(self, left: pd.DataFrame):
        """The IDs one edit from a left ID (a DataFrame of ``candidate_id``), or None."""
        ids = id_link.typed_ids(left)
        neighbours = id_edits.neighbour_ids(ids)
        if not neighbours:
            return None
        table = pa.table({"candidate_id": pa.array(neighbours, pa.string())})
        return spark_frame(self.spark, table)

    def training(self, config: linkage.LinkageConfig) -> pd.DataFrame:
        """As ``DuckKnown.training``: every profile up to ``config.train_known_max``,
        else the persons below the (max + 1)-th smallest md5, each with every profile."""
        if self.rows <= config.train_known_max:
            return self._profiles(self.known)
        hashed = self.known.alias("k").selectExpr("*", f"{_MD5_UPPER} as h")
        cutoff = (
            hashed.select("h").orderBy("h").limit(config.train_known_max + 1)
            .selectExpr("max(h)").first()[0]
        )  # fmt: skip
        return self._profiles(hashed.where(hashed.h < cutoff).drop("h"))

    def name_frequencies(self, left: pd.DataFrame, *frames: pd.DataFrame) -> pd.DataFrame:
        """As ``DuckKnown.name_frequencies``: whole-city shares of the names in play."""
        own, wanted = names_in_play(left, *frames)
        city = self.known_names.join(spark_frame(self.spark, wanted), "name_norm", "left_semi")
        return name_shares(own, city.toPandas(), self.named)


def spark_sql_df(spark, df, duckdb_sql: str):
    """``duckdb_sql`` (reading the relation ``__refs__``) run on ``df`` in Spark SQL."""
    view = "civlake_resolve_refs"
    df.createOrReplaceTempView(view)
    try:
        # The plan binds the view's data when built; dropping the name after is safe.
        return spark.sql(spark_sql(duckdb_sql.replace("__refs__", view)))
    finally:
        spark.catalog.dropTempView(view)
